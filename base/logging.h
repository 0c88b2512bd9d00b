// Logging setup: spdlog to stderr only (stdout carries machine-readable output).
#pragma once

#include <string_view>

namespace regionlab {

// Installs a stderr logger as spdlog's default. `level` is one of trace, debug,
// info, warn, error, off; unknown values mean info. Call once at start-up.
void InitLogging(std::string_view level);

}  // namespace regionlab
