// `regionlab check HISTORY.jsonl [--admin URL] [--wait 30s] [--json]`: checks
// that every acknowledged write a client recorded is accounted for in every
// region (POST /check; admin/check.h has the rules). Exit status 0 when all
// are, 1 when a write is lost, pending after --wait, or regions diverge.
#pragma once

#include "cli/subcommand.h"

namespace regionlab::cli {

Subcommand AddCheckCommand(CLI::App& root);

}  // namespace regionlab::cli
