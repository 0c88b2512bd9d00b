// The fault model of one directed replication link (frames from region A to
// region B), as a pure, deterministic decision procedure.
//
// LinkShaperCore decides, for each frame handed to it, whether the frame is
// lost, duplicated, reordered, and when each copy leaves: it reads no clock
// (the caller passes "now"), owns no thread and draws every random choice from
// its own stream, seeded from (fault seed, from, to, generation). The TCP
// transport (replication/tcp_transport.cc) runs it against the steady clock
// with asio timers; the simulation (tests/support/sim_cluster.cc) runs the
// same code against its fake clock. See docs/chaos.md.
//
// The model, per frame submitted at `now`:
//   1. partitioned: lost.
//   2. lost with probability dropRate.
//   3. duplicated with probability duplicateRate (two copies; each copy goes
//      through the steps below on its own).
//   4. bandwidth (bandwidthKBps > 0, 1 KB = 1024 bytes): the copy queues
//      behind the previous ones; it is on the wire when the link has
//      transmitted every earlier byte at that rate (a token bucket without
//      burst).
//   5. delay ± jitter (uniform, whole microseconds, never below 0) after that.
//   6. with probability reorderRate the copy is held back an extra
//      20 ms + 2 × jitter outside the FIFO order, so that frames sent after it
//      in that window overtake it; otherwise it leaves no earlier than the
//      previous FIFO copy (one TCP connection keeps order).
// Random draws happen only for the faults that are set (a link without
// jitter draws no jitter), in the order drop, duplicate, then per copy jitter
// and reorder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace regionlab::replication {

// The faults in force on one directed link. Everything zero/false: a healthy
// link. Field names follow PUT /links (delayMs, jitterMs, ...).
struct LinkFaults {
  int64_t delay_ms = 0;
  int64_t jitter_ms = 0;
  double drop_rate = 0;       // 0..1
  double duplicate_rate = 0;  // 0..1
  double reorder_rate = 0;    // 0..1
  int64_t bandwidth_kbps = 0; // KB/s (1024 bytes); 0: unlimited
  bool partitioned = false;   // every frame lost

  bool Any() const {
    return delay_ms != 0 || jitter_ms != 0 || drop_rate > 0 || duplicate_rate > 0 || reorder_rate > 0 ||
           bandwidth_kbps != 0 || partitioned;
  }
  bool operator==(const LinkFaults&) const = default;
  // "delay=240ms jitter=10ms drop=0.3 partitioned", or "-" for none.
  std::string Describe() const;
};

// One step of splitmix64 (a bijective 64-bit mix).
uint64_t SplitMix64(uint64_t x);
// The seed of the random stream of the link from -> to after its
// `generation`-th fault change: a hash of all four, so that a change on one
// link never shifts another link's decisions.
uint64_t LinkStreamSeed(uint64_t seed, std::string_view from, std::string_view to, uint64_t generation);

// A small deterministic random stream (splitmix64 sequence). Identical on
// every platform and standard library, unlike std::uniform_*_distribution.
class LinkRng {
 public:
  explicit LinkRng(uint64_t seed = 0) : state_(seed) {}
  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ull;
    return SplitMix64(state_);
  }
  // Uniform in [0, 1).
  double Unit() { return static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0); }
  // Uniform in [lo, hi] (hi >= lo).
  int64_t Between(int64_t lo, int64_t hi) {
    uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
    return lo + static_cast<int64_t>(span == 0 ? Next() : Next() % span);
  }

 private:
  uint64_t state_;
};

// Cumulative counters of one directed link's shaper.
struct LinkShaperStats {
  uint64_t frames = 0;      // frames handed to the link (replication frames; not the handshake)
  uint64_t written = 0;     // copies released to the connection
  uint64_t dropped = 0;     // frames lost (drop, partition)
  uint64_t duplicated = 0;  // frames sent twice
  uint64_t reordered = 0;   // copies held back out of FIFO order
  uint64_t delayed = 0;     // copies held for a while (delay, jitter, bandwidth, FIFO behind one)
  uint64_t queued = 0;      // copies held right now
};

class LinkShaperCore {
 public:
  // Extra hold of a reordered copy: kReorderHoldMicros + 2 × jitter.
  static constexpr int64_t kReorderHoldMicros = 20'000;

  struct Copy {
    int64_t release_micros = 0;  // when it leaves (>= the submit time)
    bool reordered = false;
  };
  struct Decision {
    bool dropped = false;
    int copies = 0;  // 0 (dropped), 1, or 2 (duplicated)
    Copy copy[2];
  };

  LinkShaperCore() = default;
  // Replaces the fault set and re-seeds the random stream. Frames decided
  // before keep their release times; later FIFO copies still leave after
  // them (and after the bandwidth backlog).
  void Reset(const LinkFaults& faults, uint64_t stream_seed);
  const LinkFaults& faults() const { return faults_; }

  // The fate of one frame of `bytes` bytes submitted at `now_micros`
  // (non-decreasing between calls).
  Decision Decide(int64_t now_micros, size_t bytes);

 private:
  LinkFaults faults_;
  LinkRng rng_;
  int64_t fifo_tail_ = INT64_MIN;   // release time of the last FIFO copy
  int64_t busy_until_ = INT64_MIN;  // bandwidth: when every earlier byte is on the wire
};

}  // namespace regionlab::replication
