#include "server/dataplane_faults.h"

#include <algorithm>

#include "base/hash.h"

namespace regionlab::server {
namespace {

bool Matches(const DataPlaneRule& r, const RequestClass& q) {
  if (!r.operation.empty() && r.operation != "any" && r.operation != q.operation) return false;
  if (r.writes_only && !q.write) return false;
  if (!r.resource_type.empty() && r.resource_type != q.resource_type) return false;
  if (!r.database.empty() && r.database != q.database) return false;
  if (!r.container.empty() && r.container != q.container) return false;
  if (r.partition_key && *r.partition_key != q.partition_key) return false;
  if (!r.partition_key_range.empty() && r.partition_key_range != q.partition_key_range) return false;
  return true;
}

}  // namespace

void DataPlaneFaults::Set(std::vector<DataPlaneRule> rules, uint64_t seed, uint32_t region_id) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.clear();
  for (auto& r : rules) rules_.push_back({std::move(r), 0, 0});
  ++generation_;
  // One stream per (seed, region, generation): independent of other regions
  // and of the link shapers' streams.
  std::string key = "dataplane/" + std::to_string(seed) + "/" + std::to_string(region_id) + "/" +
                    std::to_string(generation_);
  rng_.seed(Fnv1a64(key));
}

DataPlaneDecision DataPlaneFaults::Decide(const RequestClass& request) {
  DataPlaneDecision d;
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < rules_.size(); ++i) {
    DataPlaneRuleStats& rs = rules_[i];
    const DataPlaneRule& r = rs.rule;
    if (!Matches(r, request)) continue;
    ++rs.matched;
    if (r.rate < 1.0) {
      const double draw = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
      if (draw >= r.rate) continue;
    }
    ++rs.injected;
    d.rule = static_cast<int>(i);
    d.delay_ms = r.delay_ms;
    if (r.jitter_ms > 0) {
      d.delay_ms += std::uniform_int_distribution<int64_t>(-r.jitter_ms, r.jitter_ms)(rng_);
      d.delay_ms = std::max<int64_t>(0, d.delay_ms);
    }
    d.status = r.status;
    d.sub_status = r.sub_status;
    d.retry_after_ms = r.retry_after_ms;
    if (d.status == 429 && d.retry_after_ms < 0) d.retry_after_ms = 100;
    d.reset = r.reset;
    d.hang = r.hang;
    return d;
  }
  return d;
}

std::vector<DataPlaneRuleStats> DataPlaneFaults::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rules_;
}

bool DataPlaneFaults::empty() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rules_.empty();
}

void RequestLog::Add(RequestLogEntry entry) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.push_back(std::move(entry));
  while (entries_.size() > capacity_) entries_.pop_front();
}

std::vector<RequestLogEntry> RequestLog::Last(size_t n) const {
  std::lock_guard<std::mutex> lock(mu_);
  n = std::min(n, entries_.size());
  return std::vector<RequestLogEntry>(entries_.end() - static_cast<std::ptrdiff_t>(n), entries_.end());
}

}  // namespace regionlab::server
