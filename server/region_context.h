// What a region's data plane needs to serve requests: who it is, the account's
// region list, its store and its clock, and the state the management API can
// change (online/offline). No Beast, no RocksDB here.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/atomic_ptr.h"
#include "base/clock.h"
#include "server/dataplane_faults.h"
#include "server/signature_cache.h"
#include "storage/store.h"

namespace regionlab::replication {
class Replicator;
}

namespace regionlab::server {

class LeaseService;        // server/leases.h
class ThroughputGovernor;  // server/throughput.h

struct RegionInfo {
  std::string name;          // short Azure name: "uksouth"
  std::string display_name;  // "UK South"
  uint32_t id = 0;           // index in the account's region list; stable
  std::string endpoint;      // "http://127.0.0.1:8081/" once bound
};

// "uksouth" -> "UK South"; an unknown name is returned as given.
std::string DisplayNameFor(const std::string& short_name);

// Request counters and a latency histogram for GET /metrics. Lock-free.
struct RegionMetrics {
  static constexpr int kBuckets = 12;
  // Upper bounds in microseconds of the latency buckets (the last is +Inf).
  static constexpr int64_t kBoundsMicros[kBuckets] = {100,    250,    500,     1000,    2500,    5000,
                                                      10000,  25000,  50000,   100000,  500000,  INT64_MAX};
  std::atomic<uint64_t> reads{0}, writes{0}, errors{0};
  std::atomic<uint64_t> latency_buckets[kBuckets] = {};
  std::atomic<uint64_t> latency_sum_micros{0};

  void Record(bool write, int status, int64_t micros) {
    (write ? writes : reads).fetch_add(1, std::memory_order_relaxed);
    if (status >= 400) errors.fetch_add(1, std::memory_order_relaxed);
    for (int i = 0; i < kBuckets; ++i) {
      if (micros <= kBoundsMicros[i]) {
        latency_buckets[i].fetch_add(1, std::memory_order_relaxed);
        break;
      }
    }
    latency_sum_micros.fetch_add(static_cast<uint64_t>(micros), std::memory_order_relaxed);
  }
};

enum class RegionState : int { kOnline = 0, kOffline503 = 1, kOffline403 = 2 };

struct RegionContext {
  RegionInfo self;
  std::vector<RegionInfo> account_regions;  // every region of the account, by id
  std::string account_key;                  // base64 master key
  std::string account_name = "regionlab";
  // Set and cleared by the cluster on start, kill and restart while the
  // region's threads read them: atomic.
  AtomicPtr<storage::Store> store;          // not owned
  const Clock* clock = nullptr;             // not owned; the region's (possibly skewed) clock
  SkewedClock* clock_control = nullptr;     // not owned; set when the clock can be skewed
  AtomicPtr<replication::Replicator> replicator;  // not owned; null for a lone region
  std::atomic<RegionState> state{RegionState::kOnline};
  RegionMetrics metrics;
  // Accept x-ms-date values at most this far from the region's clock.
  int64_t max_clock_drift_seconds = 15 * 60;
  // Fenced leases (server/leases.h); null: lease routes answer 503. Shared so
  // that this header needs only the declaration.
  std::shared_ptr<LeaseService> leases;
  // The account's default consistency (the account document's
  // userConsistencyPolicy): "Session", "Eventual" or "ConsistentPrefix".
  std::string default_consistency = "Session";
  // Provisioned throughput enforced (`--enforce-throughput`); null: requests
  // are charged but never throttled.
  std::shared_ptr<ThroughputGovernor> throughput;
  // Injected data-plane faults and the recent requests (PRODUCT.md section 6).
  DataPlaneFaults dataplane;
  RequestLog requests;
  // Under --tls: the CA certificate (PEM) served at GET /_explorer/emulator.pem,
  // as the official emulator serves its own. Empty: that path is a 404.
  std::string ca_pem;
  // Master-key signatures verified recently (server/signature_cache.h).
  mutable SignatureCache verified_signatures;
};

// The name of region `id` of the account; an id the account does not have
// gives `unknown_prefix` followed by its number.
std::string RegionName(const RegionContext& region, uint32_t id, std::string_view unknown_prefix = "");

// OK when a request may ask for consistency `requested` (x-ms-consistency-level)
// of an account whose default is `account_default`: a request may only relax
// it, and a multi-write account offers neither Strong nor BoundedStaleness.
// 400 otherwise, with Azure's message. Also validates account defaults.
Status CheckConsistency(std::string_view requested, std::string_view account_default);

}  // namespace regionlab::server
