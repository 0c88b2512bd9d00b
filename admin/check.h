// The history checker behind POST /check and `regionlab check HISTORY.jsonl`:
// classifies every acknowledged write of a client-recorded history in every
// region (admin/check.cc has the rules), so that "no acknowledged write is
// ever lost" is something a test or a soak run can assert.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "server/region_context.h"

namespace regionlab::admin {

struct CheckFinding {
  size_t line = 0;  // in the history
  std::string region, database, container, id, etag;
  std::string outcome;  // "lost" or "pending"
  std::string detail;
};

struct CheckReport {
  uint64_t writes = 0;          // acknowledged writes in the history
  uint64_t regions_checked = 0;
  // Per (write, region): how it is accounted for.
  uint64_t current = 0, superseded = 0, in_conflicts = 0;
  std::vector<CheckFinding> pending;  // not yet applied there: check again later
  std::vector<CheckFinding> lost;     // acknowledged and gone: a bug
  std::vector<std::string> divergent; // "db/container/pk/id" whose current version differs between regions
  // Reads that broke their session's guarantees (read-your-writes, monotonic reads).
  std::vector<std::string> session_violations;
  // Losers recorded more than once in a region's conflicts feed.
  std::vector<std::string> duplicate_conflicts;
  uint64_t reads = 0;  // reads in the history (checked for session guarantees)
  bool ok() const {
    return lost.empty() && pending.empty() && divergent.empty() && session_violations.empty() &&
           duplicate_conflicts.empty();
  }
};

// `history`: JSON lines {"database","container","id","partitionKey","etag"[,"op"][,"session"]}
// for acknowledged writes, and {"op":"read", ..., "session", "version"} for
// reads (version: the x-regionlab-version header of the answer, 404s included).
// 400 for a malformed line. Regions that are down (no store) are skipped.
Result<CheckReport> CheckHistory(const std::vector<server::RegionContext*>& regions, std::string_view history);

}  // namespace regionlab::admin
