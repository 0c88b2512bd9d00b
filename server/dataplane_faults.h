// Data-plane faults of one region (PRODUCT.md section 6): rules that make the
// region's Cosmos endpoint answer slowly, answer an error status, reset the
// connection or never answer, for the requests they match — what an
// application's SDK sees when one region misbehaves — and the request log that
// shows what the client did about it.
//
// Rules are tried in order; the first rule whose match fields all equal the
// request's (an absent field matches anything) and whose seeded draw falls
// under its `rate` acts. The draws come from a stream seeded by the account
// seed, the region id and how many times the rules were set, so the same seed
// and the same sequence of requests give the same decisions.
//
// Thread-safety: every method may be called from any thread (the data plane's
// io threads decide and log; the management API sets rules and reads stats).
// Owned by the region's RegionContext; survives a kill/restart of the region.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace regionlab::server {

// What a request is, for matching.
struct RequestClass {
  // "read" (a point read), "write" (create, upsert, replace, patch, delete,
  // stored procedure execution, batch), "query", "feed" (read feeds, change
  // feed, conflicts feed) or "metadata" (the account, databases, containers,
  // partition key ranges, offers, scripts, users: anything but items).
  std::string operation;
  std::string resource_type;  // "docs", "colls", "dbs", "" (GET /), ...
  std::string database, container;
  std::string partition_key;        // the x-ms-documentdb-partitionkey header as sent, or ""
  std::string partition_key_range;  // "0" for item requests (one range), or the header's value
  bool write = false;               // changes something
};

struct DataPlaneRule {
  // Match fields; empty / nullopt: any.
  std::string operation;  // as RequestClass::operation, or "" / "any"
  std::string resource_type;
  std::string database, container;
  std::optional<std::string> partition_key;  // a JSON value, canonical (e.g. "\"acme\"", "5")
  std::string partition_key_range;
  bool writes_only = false;  // only requests that change something
  double rate = 1.0;         // 0..1: the share of matching requests the rule acts on

  // Actions (at least one).
  int64_t delay_ms = 0;   // answer this much later (the request is processed first)
  int64_t jitter_ms = 0;  // uniform in [-jitter, +jitter] around delay_ms
  int status = 0;         // answer this status instead of processing (0: process)
  int sub_status = 0;     // x-ms-substatus of `status`
  int64_t retry_after_ms = -1;  // x-ms-retry-after-ms of `status` (-1: none; 429 defaults to 100)
  bool reset = false;     // close the connection without answering (after reading the request)
  bool hang = false;      // never answer
};

// What to do with one request. rule < 0: nothing.
struct DataPlaneDecision {
  int rule = -1;
  int64_t delay_ms = 0;
  int status = 0;
  int sub_status = 0;
  int64_t retry_after_ms = -1;
  bool reset = false;
  bool hang = false;
};

struct DataPlaneRuleStats {
  DataPlaneRule rule;
  uint64_t matched = 0;   // requests whose fields matched
  uint64_t injected = 0;  // of those, the ones the rule acted on
};

class DataPlaneFaults {
 public:
  // Replaces the rules (an empty list clears them) and restarts the seeded
  // stream; counters start from zero.
  void Set(std::vector<DataPlaneRule> rules, uint64_t seed, uint32_t region_id);
  // The decision for one request, counted.
  DataPlaneDecision Decide(const RequestClass& request);
  std::vector<DataPlaneRuleStats> Stats() const;
  bool empty() const;

 private:
  mutable std::mutex mu_;
  std::vector<DataPlaneRuleStats> rules_;  // guarded by mu_
  uint64_t generation_ = 0;                // guarded by mu_
  std::mt19937_64 rng_;                    // guarded by mu_
};

// One request as the region saw it, for GET /regions/{r}/requests.
struct RequestLogEntry {
  int64_t time_ms = 0;  // the region's clock at arrival
  std::string method, path, operation, resource_type;
  int status = 0;             // 0: no answer (reset or hang)
  int sub_status = 0;
  std::string outcome;        // "answered", "reset", "hang"
  int rule = -1;              // the data-plane rule that acted, or -1
  double ms = 0;              // server-side latency, injected delay included
  std::string client_request_id;  // x-ms-client-request-id
  std::string user_agent;
  std::string partition_key;
};

// A bounded log of the most recent requests (oldest dropped first).
class RequestLog {
 public:
  explicit RequestLog(size_t capacity = 2000) : capacity_(capacity) {}
  void Add(RequestLogEntry entry);
  // The last `n` entries, oldest first.
  std::vector<RequestLogEntry> Last(size_t n) const;
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::deque<RequestLogEntry> entries_;  // guarded by mu_
};

}  // namespace regionlab::server
