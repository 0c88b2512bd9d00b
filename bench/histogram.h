// LatencyHistogram: a log-linear (HDR-style) histogram of durations.
//
// Values are nanoseconds. Values below 2*kSubBuckets are counted exactly;
// above that, each power-of-two range [2^m, 2^(m+1)) is split into
// kSubBuckets equal buckets, so a reported percentile is within 1/kSubBuckets
// (0.8%) of the true value. Count, sum, min and max are exact. Values above
// kMaxValue (about 2.4 hours) are clamped to it.
//
// Recording is a few instructions and never allocates. Thread-safety: none;
// give each worker thread its own histogram and Merge() them afterwards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace regionlab::bench {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 7;
  static constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;  // 128
  static constexpr int kMaxMagnitude = 43;                                 // 2^43 ns
  static constexpr uint64_t kMaxValue = (uint64_t{1} << kMaxMagnitude) - 1;

  LatencyHistogram();

  void Record(uint64_t nanos);
  void Merge(const LatencyHistogram& other);
  void Clear();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }

  // The value at quantile q in [0, 1]: the smallest recorded value v such that
  // at least q*count values are <= v, up to the bucket precision (the
  // bucket's midpoint, clamped to [min, max]). Percentile(1) is max(); 0 if
  // empty.
  uint64_t Percentile(double q) const;

  // The bucket holding `nanos`, and the inclusive value range of a bucket.
  // Exposed for tests.
  static size_t BucketIndex(uint64_t nanos);
  static uint64_t BucketLow(size_t index);
  static uint64_t BucketHigh(size_t index);
  static size_t BucketCount();

 private:
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace regionlab::bench
