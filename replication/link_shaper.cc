#include "replication/link_shaper.h"

#include <algorithm>
#include <cstdio>

#include "base/hash.h"

namespace regionlab::replication {

std::string LinkFaults::Describe() const {
  if (!Any()) return "-";
  std::string out;
  auto add = [&](const std::string& s) {
    if (!out.empty()) out += ' ';
    out += s;
  };
  char buf[64];
  if (partitioned) add("partitioned");
  if (delay_ms) add("delay=" + std::to_string(delay_ms) + "ms");
  if (jitter_ms) add("jitter=" + std::to_string(jitter_ms) + "ms");
  auto rate = [&](const char* name, double v) {
    if (v <= 0) return;
    std::snprintf(buf, sizeof buf, "%s=%g", name, v);
    add(buf);
  };
  rate("drop", drop_rate);
  rate("duplicate", duplicate_rate);
  rate("reorder", reorder_rate);
  if (bandwidth_kbps) add("bandwidth=" + std::to_string(bandwidth_kbps) + "KB/s");
  return out;
}

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t LinkStreamSeed(uint64_t seed, std::string_view from, std::string_view to, uint64_t generation) {
  uint64_t h = SplitMix64(seed);
  h = SplitMix64(h ^ Fnv1a64(from));
  h = SplitMix64(h ^ Fnv1a64(to, 0x84222325cbf29ce4ull));
  return SplitMix64(h ^ generation);
}

void LinkShaperCore::Reset(const LinkFaults& faults, uint64_t stream_seed) {
  faults_ = faults;
  rng_ = LinkRng(stream_seed);
}

LinkShaperCore::Decision LinkShaperCore::Decide(int64_t now, size_t bytes) {
  Decision d;
  const LinkFaults& f = faults_;
  if (f.partitioned || (f.drop_rate > 0 && rng_.Unit() < f.drop_rate)) {
    d.dropped = true;
    return d;
  }
  d.copies = (f.duplicate_rate > 0 && rng_.Unit() < f.duplicate_rate) ? 2 : 1;
  for (int c = 0; c < d.copies; ++c) {
    int64_t t = now;
    if (f.bandwidth_kbps > 0) {
      // Serialisation at the link's rate, behind everything sent before.
      const int64_t start = std::max(now, busy_until_);
      const int64_t tx = static_cast<int64_t>((static_cast<long double>(bytes) * 1'000'000) /
                                              (static_cast<long double>(f.bandwidth_kbps) * 1024));
      t = start + tx;
      busy_until_ = t;
    }
    int64_t delay = f.delay_ms * 1000;
    if (f.jitter_ms > 0) delay += rng_.Between(-f.jitter_ms * 1000, f.jitter_ms * 1000);
    t += std::max<int64_t>(0, delay);
    Copy& copy = d.copy[c];
    copy.reordered = f.reorder_rate > 0 && rng_.Unit() < f.reorder_rate;
    if (copy.reordered) {
      t += kReorderHoldMicros + 2 * f.jitter_ms * 1000;
    } else {
      t = std::max(t, fifo_tail_);
      fifo_tail_ = t;
    }
    copy.release_micros = t;
  }
  return d;
}

}  // namespace regionlab::replication
