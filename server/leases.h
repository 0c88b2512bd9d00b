// First-class fenced leases (PRODUCT.md section 5, docs/leases.md).
//
//   POST /_regionlab/leases/{name}/acquire  {"owner":"w1","ttlMs":10000}
//        -> 200 {"name","owner","token","expiresAtMs","ttlMs"} | 409 {"code","message","owner"} | 503
//   POST /_regionlab/leases/{name}/renew    {"owner":"w1","token":7[,"ttlMs":N]} -> 200 | 409
//   POST /_regionlab/leases/{name}/release  {"owner":"w1","token":7}             -> 204 | 409
//   GET  /_regionlab/leases/{name}          -> 200 {"name","owner","token","expiresAtMs","ttlMs","held"} | 404
//
// Requests are signed like any Cosmos request, with resource type "leases"
// and link "leases/{name}" (LeaseResourceAddress).
//
// One decider. Every lease is decided by its home region (the account's
// first region, id 0, unless LeaseServiceOptions::home_region says
// otherwise). The home region applies acquire/renew/release under the
// store's write lock and persists the lease as a record (RecordKind::kLease,
// storage key keys::Lease(name)) written as an ordinary local write, so it
// replicates to every region and survives restarts: tokens strictly increase
// per lease, across holders and across restarts of the home region. Expiry is
// judged by the home region's clock (RegionContext::clock, skew included).
//
// Other regions forward acquire/renew/release to the home region as
// application messages (Replicator::SendMessage, channel kLeaseChannel: JSON
// {"t":"req","id",...} / {"t":"rep","id","status","body"}) and wait for the
// reply up to forward_timeout (2 s): a region cut off from the home region
// answers 503 rather than grant a lease twice. GET answers from the local
// replica of the lease record (it may lag the home region).
//
// Semantics chosen where the product contract is silent:
//   - acquire by the current holder (same owner, lease not expired and not
//     released) succeeds and keeps the token, extending the expiry: a client
//     that retries an acquire whose reply was lost (503) gets the token it was
//     already granted. After expiry or release every acquire, even by the
//     previous owner, gets a new token (previous + 1).
//   - renew needs the current owner and token and an unexpired lease (409
//     otherwise); it extends the expiry to now + ttlMs (the body's, else the
//     lease's).
//   - release needs the current owner and token; releasing an already
//     released lease with them again is 204 (idempotent); an expired lease
//     whose token is still current can be released.
//
// Fencing. A data-plane write carrying `x-regionlab-fence: {name}:{token}` is
// refused with 412 when this region knows a newer token for the lease (from
// its replica of the lease record, or from a reply it forwarded). At the home
// region the check and the write are atomic with respect to grants (a
// shared/exclusive lock); elsewhere a region knows a newer token only once
// the lease record has replicated to it.
//
// Threading. A lease request runs on the region's worker threads (the
// cluster offloads it: server::IsHeavyRequest), and the home region's reply
// arrives on the replication transport's thread: a forwarding handler blocks
// its worker while it waits, never an HTTP thread's other connections. At
// most max_forward_waiters handlers wait at once (the cluster sets worker
// threads - 1, so one stays free for queries and scripts); beyond that a
// forward is answered 429 (x-ms-retry-after-ms) at once. OnMessage runs on
// the transport's thread and never waits for anything remote.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/cosmos_auth.h"
#include "base/status.h"
#include "server/http_types.h"
#include "server/region_context.h"

namespace regionlab::server {

// The replicator message channel of lease requests and replies.
inline constexpr uint32_t kLeaseChannel = 1;
// The fencing header of data-plane writes: "{name}:{token}".
inline constexpr std::string_view kFenceHeader = "x-regionlab-fence";

struct LeaseServiceOptions {
  // Short name of the region that decides every lease. Empty: the account's
  // first region (id 0). Every region of the account must agree.
  std::string home_region;
  // How long a region waits for the home region's reply. Default: 2 s.
  std::chrono::milliseconds forward_timeout{2000};
  // Most handlers waiting for the home region at once (see "Threading").
  // Default: 1 (two worker threads per region).
  int max_forward_waiters = 1;
  // ttlMs when an acquire gives none, and the largest accepted.
  int64_t default_ttl_ms = 10'000;
  int64_t max_ttl_ms = 86'400'000;
};

class LeaseService {
 public:
  // `region` must outlive the service; its replicator, self and
  // account_regions may be filled in later (they are read per request).
  explicit LeaseService(RegionContext& region, LeaseServiceOptions options = {});
  ~LeaseService();  // CancelForwards()s
  LeaseService(const LeaseService&) = delete;
  LeaseService& operator=(const LeaseService&) = delete;

  // A request on /_regionlab/leases/... that the data plane has already
  // authenticated and let through its online/offline checks. `segments` is
  // the decoded path split on '/'.
  HttpResponse Handle(const HttpRequest& request, const std::vector<std::string>& segments);

  // Replicator::MessageHandler: requests from other regions (when this is the
  // home region) and replies to this region's forwards. Ignores other channels.
  void OnMessage(uint32_t peer, uint32_t channel, std::string payload);

  // Wakes every forward waiting for the home region: they answer 503 at once
  // (a region being killed or stopped). The service stays usable.
  void CancelForwards();

  uint32_t HomeRegionId() const;

  // The newest token this region knows for `name` (0: none).
  uint64_t KnownToken(std::string_view name) const;

  // Held (shared) by a fenced write from its check to its end; grants take it
  // exclusively, so at the home region no grant falls between the check and
  // the write.
  std::shared_lock<std::shared_mutex> HoldForFencedWrite() const {
    return std::shared_lock<std::shared_mutex>(grant_mu_);
  }

  struct Stats {
    uint64_t forwarded = 0;        // forwards sent to the home region
    uint64_t forward_timeouts = 0; // of which no reply came in time
    uint64_t forward_refused = 0;  // 429: too many waiting already
    uint64_t decided = 0;          // acquire/renew/release decided here (home)
  };
  Stats stats() const;

  struct Op;     // leases.cc
  struct Reply;  // leases.cc

 private:
  struct Pending;
  Reply Decide(const Op& op);
  Reply Forward(const Op& op);
  void NoteToken(const std::string& name, uint64_t token);

  RegionContext& region_;
  const LeaseServiceOptions options_;
  mutable std::shared_mutex grant_mu_;

  mutable std::mutex mu_;  // guards what follows
  uint64_t next_id_;
  std::map<uint64_t, std::shared_ptr<Pending>> pending_;
  std::map<std::string, uint64_t, std::less<>> known_tokens_;  // from forwarded replies
  std::atomic<int> waiters_{0};
  std::atomic<uint64_t> forwarded_{0}, forward_timeouts_{0}, forward_refused_{0}, decided_{0};
};

// The signed resource address of a lease route: {"leases", "leases/{name}"}
// for /_regionlab/leases/{name}[/...]; nullopt for any other path.
std::optional<ResourceAddress> LeaseResourceAddress(std::string_view decoded_path);

// The data plane's entry point for /_regionlab/leases/...: 503 when the
// region runs no lease service.
HttpResponse HandleLeaseRequest(RegionContext& region, const HttpRequest& request,
                                const std::vector<std::string>& segments);

// The fence check of one data-plane request. OK (and nothing held) unless
// `is_write` and the request carries x-regionlab-fence (lease routes
// excepted); then 400 for a malformed header, 412 when this region knows a
// newer token, else OK with `hold` keeping grants out until the write ends.
struct LeaseFence {
  Status status;
  std::shared_lock<std::shared_mutex> hold;
};
LeaseFence CheckLeaseFence(const RegionContext& region, const HttpRequest& request, bool is_write);

}  // namespace regionlab::server
