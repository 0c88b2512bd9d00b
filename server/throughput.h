// ThroughputGovernor: provisioned throughput made real (`--enforce-throughput`).
// One budget per offer (a container's own, or a database's shared by its
// containers): a token bucket that holds at most one second of the offer's
// RU/s and refills continuously at that rate. A request is admitted while the
// bucket is above zero; its charge (x-ms-request-charge) is taken afterwards,
// so the bucket can go below zero, and until it has refilled past zero every
// request on that budget gets 429, sub-status 3200, with x-ms-retry-after-ms
// — the shape Azure answers when a partition's RU/s for the second are spent.
// The retry-after of throttled requests are staggered: each is given the next
// free slot after the bucket refills, one average request's worth of RU
// apart, so that many clients throttled at once come back one by one rather
// than all together (and all throttled again).
//
// Thread-safe. Owned by the region's RegionContext (shared_ptr; null when
// throughput is not enforced).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "base/clock.h"

namespace regionlab::server {

class ThroughputGovernor {
 public:
  // `clock` must outlive the governor.
  explicit ThroughputGovernor(const Clock& clock) : clock_(clock) {}

  // Whether a request on budget `bucket` of `ru_per_second` may run now:
  // nullopt if so, else the milliseconds (>= 1) until it may.
  std::optional<int64_t> Admit(const std::string& bucket, double ru_per_second);
  // Takes a finished request's charge from `bucket`.
  void Charge(const std::string& bucket, double request_units);

  uint64_t throttled() const;

 private:
  struct Bucket {
    double tokens = 0;
    double rate = 0;
    int64_t at_micros = 0;
    double average_charge = 5;   // moving average of the charges taken
    int64_t next_slot_micros = 0;  // when the next throttled request may come back
  };
  // Refills `b` (rate `rate`) up to now. Requires mu_.
  void Refill(Bucket& b, double rate, int64_t now);

  const Clock& clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  uint64_t throttled_ = 0;
};

}  // namespace regionlab::server
