// SimCluster: several regions in one process, over an in-memory network with
// a fake clock and a seed. Everything that is random (delays, and the fault
// decisions of the network) comes from the seed, so a run is repeatable bit
// for bit: same seed, same delivery order, same final state.
//
// The network is the real fault model: every directed link (frames from
// region A to region B, Entries/Snapshots and A's Resume/Ack replies alike)
// runs a replication::LinkShaperCore, the decision code of the TCP
// transport's shaper, with its own random stream seeded from (seed, A's name,
// B's name, number of fault changes on that link), exactly as `regionlab up`
// seeds its links. The base one-way latency [min_delay_ms, max_delay_ms] is
// the link's delay and jitter on top of the faults. A crash loses whatever
// was in flight from or to the region (its connections died).
//
// Regions are real: in-memory RocksDB stores, the real data plane
// (HandleDataPlane, signed requests), the real Replicator and PolicyHandler.
// Only the network and the clock are simulated.
#pragma once

#include <cstdint>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "conflictfeed/policy_handler.h"
#include "replication/link_shaper.h"
#include "replication/replicator.h"
#include "admin/digest.h"
#include "server/http_types.h"
#include "server/region_context.h"
#include "storage/store.h"
#include "tests/support/fake_clock.h"

namespace regionlab::testing {

// The faults of one directed link: the fields of PUT /links (delay_ms and
// jitter_ms add to the base latency).
using SimLinkFaults = replication::LinkFaults;

struct SimOptions {
  int regions = 2;
  uint64_t seed = 1;
  int64_t min_delay_ms = 1;  // base one-way delay, uniform in [min, max]
  int64_t max_delay_ms = 20;
  replication::ReplicatorOptions replicator;
};

class SimCluster {
 public:
  explicit SimCluster(const SimOptions& options);
  ~SimCluster();

  int size() const { return static_cast<int>(regions_.size()); }
  FakeClock& clock() { return clock_; }
  std::mt19937_64& rng() { return rng_; }

  // A signed data-plane request to region `r`, handled synchronously. Local
  // commits are shipped (Pump) right after.
  server::HttpResponse Request(int r, const std::string& method, const std::string& path,
                               const std::string& body = "",
                               std::vector<std::pair<std::string, std::string>> headers = {});

  // Delivers the next frame in time order (advancing the clock to it).
  // Returns false when nothing is in flight.
  bool Step();
  // Advances the clock by `ms`, delivering frames due and ticking replicators
  // every 50 ms.
  void AdvanceMillis(int64_t ms);
  // Delivers and ticks until no frame is in flight and every link is caught up,
  // or `max_virtual_ms` of virtual time passes. Returns true if quiet.
  bool RunUntilQuiet(int64_t max_virtual_ms = 600'000);

  SimLinkFaults& faults(int from, int to) { return faults_[from][to]; }
  void HealAll();
  // Stops a region (its links go down, frames to it are lost) and restarts it
  // on the same store, as a process restart would.
  void Crash(int r);
  void Restart(int r);
  bool up(int r) const;

  storage::Store& store(int r);
  // Region r's data-plane context (its store, clock, ...).
  server::RegionContext& context(int r);
  // Region r's clock runs `ms` ahead of the cluster's fake clock (behind if
  // negative), for its store's timestamps and its data plane.
  void SetSkewMillis(int r, int64_t ms);
  replication::Replicator& replicator(int r);
  std::vector<admin::ContainerDigest> Digest(int r);
  // One line per delivered or lost frame: the run's history, for
  // determinism checks. A delivered frame: "@<micros> <from>><to>[r] <bytes>
  // <FNV-1a of the payload>" ("r": a reply on the receiver's link).
  const std::vector<std::string>& history() const { return history_; }
  // What the shaper of the link from -> to did so far.
  const replication::LinkShaperStats& link_stats(int from, int to) const { return links_[from][to].stats; }

 private:
  struct Region;
  struct Frame {
    int64_t at;
    uint64_t seq;
    int from, to;
    bool forward;  // on the from->to link (entries) vs a reply on it (acks)
    uint64_t from_epoch, to_epoch;  // the regions' incarnations when it was sent
    std::string payload;
    bool operator>(const Frame& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  // The shaper of one directed link and the faults it was last given.
  struct Link {
    replication::LinkShaperCore core;
    SimLinkFaults applied;
    uint64_t generation = 0;
    replication::LinkShaperStats stats;
  };
  class Transport;

  void Send(int from, int to, bool forward, std::string payload);
  void ResetLink(int from, int to);
  void Deliver(const Frame& f);
  void Connect(int a, int b);
  void TickAll();

  SimOptions options_;
  FakeClock clock_;
  std::mt19937_64 rng_;
  std::vector<std::unique_ptr<Region>> regions_;
  std::vector<std::vector<SimLinkFaults>> faults_;
  std::vector<std::vector<Link>> links_;  // by sender, receiver
  std::vector<std::string> names_;
  std::priority_queue<Frame, std::vector<Frame>, std::greater<Frame>> inflight_;
  uint64_t next_seq_ = 0;
  int64_t last_tick_ = 0;
  std::vector<std::string> history_;
};

}  // namespace regionlab::testing
