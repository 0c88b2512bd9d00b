// `regionlab splitbrain [--window 1s] [--since-ms T] [--db D] [--container C] [--json]`:
// documents written in two or more regions within the window (GET /splitbrain).
#pragma once

#include "cli/subcommand.h"

namespace regionlab::cli {

Subcommand AddSplitBrainCommand(CLI::App& root);

}  // namespace regionlab::cli
