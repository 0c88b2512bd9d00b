// Bucket layout (S = kSubBuckets, k = kSubBucketBits):
//   index i < 2S          holds exactly the value i
//   index i >= 2S         shift = i/S - 1, sub = i - shift*S (in [S, 2S)),
//                         holds [sub << shift, ((sub+1) << shift) - 1]
// so a value v >= 2S with m = floor(log2 v) lands in shift = m - k,
// index = shift*S + (v >> shift).
#include "bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace regionlab::bench {

namespace {
constexpr uint64_t S = LatencyHistogram::kSubBuckets;
constexpr int kBits = LatencyHistogram::kSubBucketBits;
}  // namespace

size_t LatencyHistogram::BucketCount() {
  // The largest shift is kMaxMagnitude - 1 - kBits.
  return static_cast<size_t>((kMaxMagnitude - 1 - kBits) * S + 2 * S);
}

size_t LatencyHistogram::BucketIndex(uint64_t v) {
  if (v > kMaxValue) v = kMaxValue;
  if (v < 2 * S) return static_cast<size_t>(v);
  const int m = std::bit_width(v) - 1;
  const int shift = m - kBits;
  return static_cast<size_t>(shift * S + (v >> shift));
}

uint64_t LatencyHistogram::BucketLow(size_t i) {
  if (i < 2 * S) return i;
  const uint64_t shift = i / S - 1;
  const uint64_t sub = i - shift * S;
  return sub << shift;
}

uint64_t LatencyHistogram::BucketHigh(size_t i) {
  if (i < 2 * S) return i;
  const uint64_t shift = i / S - 1;
  const uint64_t sub = i - shift * S;
  return ((sub + 1) << shift) - 1;
}

LatencyHistogram::LatencyHistogram() : buckets_(BucketCount(), 0) {}

void LatencyHistogram::Record(uint64_t nanos) {
  if (nanos > kMaxValue) nanos = kMaxValue;
  ++buckets_[BucketIndex(nanos)];
  ++count_;
  sum_ += nanos;
  min_ = std::min(min_, nanos);
  max_ = std::max(max_, nanos);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void LatencyHistogram::Clear() { *this = LatencyHistogram(); }

uint64_t LatencyHistogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  if (q >= 1.0) return max_;
  if (q <= 0.0) return min_;
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      const uint64_t mid = BucketLow(i) + (BucketHigh(i) - BucketLow(i)) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

}  // namespace regionlab::bench
