// `regionlab fault ...`: every fault endpoint of the management API from the
// shell (docs/chaos.md). Knows the product only from the outside (HTTP,
// JSON). Beside the wiring, what can be tested without a process: durations,
// request bodies, one request.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "cli/admin_auth.h"
#include "cli/subcommand.h"

namespace regionlab::cli {

// "240ms", "1.5s", "2m", "240" (milliseconds), "+300ms", "-300ms", "0" ->
// milliseconds. Negative values only when `allow_negative`. BadRequest
// otherwise.
Result<int64_t> ParseDurationMs(std::string_view text, bool allow_negative);

// The body of PUT /links/{from}/{to}: only the faults given are sent (a PUT
// replaces the link's whole fault set; absent fields are 0/false).
struct LinkFaultArgs {
  std::optional<std::string> delay;   // a duration
  std::optional<std::string> jitter;  // a duration
  std::optional<double> drop, duplicate, reorder;
  std::optional<int64_t> bandwidth_kbps;
  bool partitioned = false;
};
Result<std::string> LinkFaultsBody(const LinkFaultArgs& args);

// {"groups": [...]} from region names separated by "/" tokens (a token may
// also carry the slash: "uksouth/" or "/westeurope"): "uksouth / westeurope
// eastus" -> [["uksouth"], ["westeurope", "eastus"]].
Result<std::string> PartitionBody(const std::vector<std::string>& tokens);

// Sends one request to the management API at `admin_url` and prints its JSON
// answer (one line) on `out`. A non-2xx answer is an error Status carrying the
// server's message; an unreachable server is Unavailable.
Status AdminRequest(const std::string& admin_url, const std::string& method, const std::string& path,
                    const std::string& body, std::ostream& out, const AdminCredentials& creds = {});

// "/links/uksouth/westeurope" with each name percent-encoded.
std::string AdminPath(std::initializer_list<std::string_view> segments);

// One data-plane fault rule from the shell (`fault dataplane REGION ...`):
// only the fields given are sent; durations as ParseDurationMs.
struct DataPlaneRuleArgs {
  std::optional<std::string> operation, resource_type, database, container;
  std::optional<std::string> partition_key;  // JSON, or a bare word taken as a string
  std::optional<double> rate;
  std::optional<std::string> delay, jitter, retry_after;
  std::optional<int> status, sub_status;
  bool reset = false, hang = false, writes_only = false;
};
// The body of PUT /regions/{r}/dataplane with that one rule.
Result<std::string> DataPlaneRulesBody(const DataPlaneRuleArgs& args);

// `regionlab fault link|heal-link|partition|heal|region|clock|kill|restart|scenario`.
Subcommand AddFaultCommand(CLI::App& root);

// A negative clock skew ("-300ms") is a value, not an option: after `fault
// clock`, such a token is rewritten as "--skew=-300ms" (CLI11 would otherwise
// take it for a short option). Call on argv before parsing.
void RewriteNegativeSkew(std::vector<std::string>& args);

}  // namespace regionlab::cli
