// `regionlab up` (every region in this process) and `regionlab serve` (one
// region, its peers in other processes): both start a cluster::Cluster, print
// the ready line on stdout and run until SIGINT/SIGTERM.
#pragma once

#include "cli/subcommand.h"

namespace regionlab::cli {

Subcommand AddUpCommand(CLI::App& root);
Subcommand AddServeCommand(CLI::App& root);

}  // namespace regionlab::cli
