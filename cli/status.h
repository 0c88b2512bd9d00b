// The CLI's view of a running cluster through its management API (HTTP,
// JSON): `regionlab status`. Knows the product only from the outside.
#pragma once

#include <ostream>
#include <string>

#include "base/status.h"
#include "cli/admin_auth.h"
#include "cli/subcommand.h"

namespace regionlab::cli {

// Prints regions (state, clock skew, endpoint) and every replication link
// (connected, queue, lag, applied position, conflicts, faults in force) as a table, or the raw
// JSON of GET /regions and GET /links when `json` is set.
Status PrintStatus(const std::string& admin_url, bool json, std::ostream& out, const AdminCredentials& creds = {});

// `regionlab status [--admin URL] [--json]`.
Subcommand AddStatusCommand(CLI::App& root);

}  // namespace regionlab::cli
