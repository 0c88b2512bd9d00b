// `regionlab frontdoor --listen P --admin-port A --origin NAME=URL[,...] ...`:
// the Front Door emulator in front of an origin group (docs/frontdoor.md);
// prints a ready line and runs until SIGINT/SIGTERM. `regionlab frontdoor
// status` and `regionlab frontdoor report` read a running one's admin routes.
#pragma once

#include "cli/subcommand.h"

namespace regionlab::cli {

Subcommand AddFrontDoorCommand(CLI::App& root);

}  // namespace regionlab::cli
