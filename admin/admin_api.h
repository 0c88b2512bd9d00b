// The management API (admin port, PRODUCT.md section 4) as a plain function:
// regions (state, offline/online, clock skew, kill/restart), replication
// links and their faults (PUT/DELETE /links/{from}/{to}, /partition, /heal),
// scenarios (timelines of the above run by the server), /digest, /metrics,
// /health. The fault model is documented in docs/chaos.md.
//
// Every mutating request is validated completely before anything changes: a
// bad request is a 400 {code, message} and leaves everything as it was.
// Requests and scenario steps are serialized by AdminContext::mu.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "replication/link_shaper.h"
#include "server/http_types.h"
#include "server/region_context.h"

namespace regionlab::admin {

using server::HttpRequest;
using server::HttpResponse;
using server::RegionContext;

// What the management API needs from the process that runs the regions.
// Implemented by Cluster; faked by tests. Region arguments are region ids of
// regions served by this process (AdminContext::regions).
class RegionControl {
 public:
  virtual ~RegionControl() = default;
  // Puts `faults` in force on the frames from local region `from` to region
  // `to` (kept across a kill/restart of `from`).
  virtual void ApplyLinkFaults(uint32_t from, uint32_t to, const replication::LinkFaults& faults) = 0;
  // What the shaper of that link did so far (zeros when unknown or killed).
  virtual replication::LinkShaperStats LinkStats(uint32_t from, uint32_t to) const = 0;
  // False while the region is killed.
  virtual bool Running(uint32_t region) const = 0;
  // Hard stop of a running region, as kill -9 of its node would be: its
  // data-plane port stops answering, its replication connections drop, its
  // store closes. RegionContext::store and ::replicator become null.
  virtual Status Kill(uint32_t region) = 0;
  // Reopens a killed region from its data directory (or its in-memory file
  // system) on the same ports; it reconnects and catches up.
  virtual Status Restart(uint32_t region) = 0;
  // Runs `fn` once on the management API's executor after `delay`.
  virtual void RunAfter(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
};

// Fault bookkeeping of the management API (links are (from id, to id)).
struct AdminFaultState {
  std::map<std::pair<uint32_t, uint32_t>, replication::LinkFaults> links;    // set by PUT /links
  std::set<std::pair<uint32_t, uint32_t>> cut;                                // cut by /partition
  std::vector<std::vector<std::string>> partition;                            // the last /partition's groups
  std::map<std::pair<uint32_t, uint32_t>, replication::LinkFaults> applied;  // last handed to control
};

struct ScenarioProgress {
  uint64_t generation = 0;  // bumped by every POST /scenario (cancels the previous one)
  size_t steps = 0;
  size_t done = 0;
  std::vector<std::string> errors;  // steps that failed when they ran (e.g. 409)
};

// The running count of split-brain writes per container for /metrics:
// the log is read incrementally from `cursor`, each document keeps its last
// few writes, and a write counts once when another region wrote the same
// document within one second of it (admin/splitbrain.cc).
struct SplitBrainCounter {
  struct RecentWrite {
    uint32_t region = 0;
    int64_t time_ms = 0;
    uint64_t origin_lsn = 0;
    bool counted = false;
  };
  std::map<const void*, uint64_t> cursor;  // per store: the next lsn to read
  std::map<std::string, std::vector<RecentWrite>> recent;  // document -> its last writes
  std::map<std::pair<std::string, std::string>, uint64_t> writes;  // (database, container) -> count
};

struct AdminContext {
  uint64_t seed = 0;
  std::vector<RegionContext*> regions;  // the regions this process serves; not owned
  // Not owned. Null (unit tests of single regions): link faults are only
  // bookkept, kill/restart/scenario answer 400.
  RegionControl* control = nullptr;

  // Authentication (docs/security.md). When `require_auth` (the listener is
  // bound to a non-loopback address), every request must carry either
  // `Authorization: Bearer <token>` (when `token` is set) or the account
  // key's master signature over verb, resource type "admin", the path
  // without its leading slash and x-ms-date; anything else is a 401.
  bool require_auth = false;
  std::string key;    // account master key (base64)
  std::string token;  // --admin-token; empty: bearer tokens are not accepted
  const Clock* clock = nullptr;  // for x-ms-date; null: the system clock

  std::mutex mu;              // serializes every request and scenario step
  AdminFaultState faults;     // guarded by mu
  ScenarioProgress scenario;  // guarded by mu
  SplitBrainCounter splitbrain;  // guarded by mu

  // Routes served besides the built-in ones (the front door embedded by
  // `up --config`), tried first, after authentication; nullopt: not theirs.
  // Called without `mu`, on the admin thread. Default: none.
  std::function<std::optional<HttpResponse>(HttpRequest&)> extra_routes;
};

HttpResponse HandleAdmin(AdminContext& admin, HttpRequest& request);
// The same for a request made inside the process (the console's sampler):
// no authentication, no extra routes.
HttpResponse HandleAdminLocal(AdminContext& admin, HttpRequest& request);

// True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost.
bool IsLoopbackHost(const std::string& host);

}  // namespace regionlab::admin
