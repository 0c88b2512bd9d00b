// What a region's data plane needs to serve requests: who it is, the account's
// region list, its store and its clock, and the state the management API can
// change (online/offline). No Beast, no RocksDB here.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "base/clock.h"
#include "storage/store.h"

namespace regionlab::server {

struct RegionInfo {
  std::string name;          // short Azure name: "uksouth"
  std::string display_name;  // "UK South"
  uint32_t id = 0;           // index in the account's region list; stable
  std::string endpoint;      // "http://127.0.0.1:8081/" once bound
};

// "uksouth" -> "UK South"; an unknown name is returned as given.
std::string DisplayNameFor(const std::string& short_name);

enum class RegionState : int { kOnline = 0, kOffline503 = 1, kOffline403 = 2 };

struct RegionContext {
  RegionInfo self;
  std::vector<RegionInfo> account_regions;  // every region of the account, by id
  std::string account_key;                  // base64 master key
  std::string account_name = "regionlab";
  storage::Store* store = nullptr;          // not owned
  const Clock* clock = nullptr;             // not owned; the region's (possibly skewed) clock
  SkewedClock* clock_control = nullptr;     // not owned; set when the clock can be skewed
  std::atomic<RegionState> state{RegionState::kOnline};
  // Accept x-ms-date values at most this far from the region's clock.
  int64_t max_clock_drift_seconds = 15 * 60;
};

}  // namespace regionlab::server
