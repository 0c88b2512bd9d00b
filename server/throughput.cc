#include "server/throughput.h"

#include <algorithm>
#include <cmath>

namespace regionlab::server {

void ThroughputGovernor::Refill(Bucket& b, double rate, int64_t now) {
  if (b.rate == 0) {  // a new bucket: a full second of budget
    b.tokens = b.rate = rate;
    b.at_micros = now;
    return;
  }
  // Refilled at the rate in force until now; a changed offer applies from now.
  const double elapsed_s = static_cast<double>(std::max<int64_t>(0, now - b.at_micros)) / 1e6;
  b.tokens = std::min(rate, b.tokens + b.rate * elapsed_s);
  b.rate = rate;
  b.at_micros = now;
}

std::optional<int64_t> ThroughputGovernor::Admit(const std::string& bucket, double ru_per_second) {
  if (ru_per_second <= 0) return std::nullopt;
  const int64_t now = clock_.NowMicros();
  std::lock_guard<std::mutex> lock(mu_);
  Bucket& b = buckets_[bucket];
  Refill(b, ru_per_second, now);
  if (b.tokens > 0) return std::nullopt;
  ++throttled_;
  const int64_t refilled = now + static_cast<int64_t>(std::ceil((-b.tokens + 1e-6) / ru_per_second * 1e6));
  const int64_t slot = std::max(refilled, b.next_slot_micros);
  b.next_slot_micros = slot + static_cast<int64_t>(b.average_charge / ru_per_second * 1e6);
  return std::max<int64_t>(1, (slot - now + 999) / 1000);
}

void ThroughputGovernor::Charge(const std::string& bucket, double request_units) {
  const int64_t now = clock_.NowMicros();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = buckets_.find(bucket);
  if (it == buckets_.end()) return;
  Bucket& b = it->second;
  Refill(b, b.rate, now);
  b.tokens -= request_units;
  b.average_charge = 0.9 * b.average_charge + 0.1 * request_units;
}

uint64_t ThroughputGovernor::throttled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return throttled_;
}

}  // namespace regionlab::server
