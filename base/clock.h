// Clock: where time comes from. Nothing in regionlab reads the wall clock
// directly; it asks a Clock, so tests drive time with a fake one and the chaos
// layer can skew a region's clock.
//
// Implementations must be thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

namespace regionlab {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in microseconds since the Unix epoch.
  virtual int64_t NowMicros() const = 0;
  int64_t NowMillis() const { return NowMicros() / 1000; }
  int64_t NowSeconds() const { return NowMicros() / 1000000; }
};

// The real wall clock. Stateless; one shared instance is fine.
class SystemClock final : public Clock {
 public:
  int64_t NowMicros() const override;
  static const SystemClock& Instance();
};

// Another clock shifted by a skew that can change at any time (a region's
// clock under the "clock" fault). Does not own `base`.
class SkewedClock final : public Clock {
 public:
  explicit SkewedClock(const Clock& base) : base_(base) {}
  int64_t NowMicros() const override {
    return base_.NowMicros() + skew_ms_.load(std::memory_order_relaxed) * 1000;
  }
  void set_skew_ms(int64_t ms) { skew_ms_.store(ms, std::memory_order_relaxed); }
  int64_t skew_ms() const { return skew_ms_.load(std::memory_order_relaxed); }

 private:
  const Clock& base_;
  std::atomic<int64_t> skew_ms_{0};
};

// Monotonic microseconds for measuring durations (never for timestamps).
int64_t MonotonicMicros();

}  // namespace regionlab
