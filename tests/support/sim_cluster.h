// SimCluster: several regions in one process, over an in-memory network with
// a fake clock and a seed. Everything that is random (delays, and the fault
// decisions of the network) comes from the seed, so a run is repeatable bit
// for bit: same seed, same delivery order, same final state.
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
#include "replication/replicator.h"
#include "server/digest.h"
#include "server/http_types.h"
#include "server/region_context.h"
#include "storage/store.h"
#include "tests/support/fake_clock.h"

namespace regionlab::testing {

struct SimLinkFaults {
  bool partitioned = false;
  double drop_rate = 0;
  double duplicate_rate = 0;
  double reorder_rate = 0;   // a reordered frame skips ahead of queued ones
  int64_t delay_ms = 0;      // added to the base delay
};

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
  replication::Replicator& replicator(int r);
  std::vector<server::ContainerDigest> Digest(int r);
  // One line per delivered or dropped frame: the run's history, for
  // determinism checks.
  const std::vector<std::string>& history() const { return history_; }

 private:
  struct Region;
  struct Frame {
    int64_t at;
    uint64_t seq;
    int from, to;
    bool forward;  // on the from->to link (entries) vs a reply on it (acks)
    std::string payload;
    bool operator>(const Frame& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  class Transport;

  void Send(int from, int to, bool forward, std::string payload);
  void Deliver(const Frame& f);
  void Connect(int a, int b);
  void TickAll();

  SimOptions options_;
  FakeClock clock_;
  std::mt19937_64 rng_;
  std::vector<std::unique_ptr<Region>> regions_;
  std::vector<std::vector<SimLinkFaults>> faults_;
  std::vector<std::vector<int64_t>> link_tail_;  // last delivery time per link (FIFO)
  std::priority_queue<Frame, std::vector<Frame>, std::greater<Frame>> inflight_;
  uint64_t next_seq_ = 0;
  int64_t last_tick_ = 0;
  std::vector<std::string> history_;
};

}  // namespace regionlab::testing
