// A Clock that only moves when the test says so.
#pragma once

#include <atomic>

#include "base/clock.h"

namespace regionlab::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_micros = 1'700'000'000'000'000) : now_(start_micros) {}
  int64_t NowMicros() const override { return now_.load(); }
  void AdvanceMicros(int64_t d) { now_.fetch_add(d); }
  void AdvanceMillis(int64_t d) { now_.fetch_add(d * 1000); }
  void SetMicros(int64_t t) { now_.store(t); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace regionlab::testing
