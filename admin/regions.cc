// The regions of a management API: names, ids, the regions served here, state.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>

#include "admin/internal.h"

namespace regionlab::admin {

HttpResponse Json200(const json& j, int status) {
  HttpResponse r;
  r.status = status;
  r.body = j.dump();
  return r;
}

// Every region of the account, by id (the same list in every local region).
const std::vector<RegionInfo>& AccountRegions(const AdminContext& admin) {
  static const std::vector<RegionInfo> kNone;
  return admin.regions.empty() ? kNone : admin.regions.front()->account_regions;
}

std::optional<uint32_t> RegionId(const AdminContext& admin, const std::string& name) {
  for (const auto& r : AccountRegions(admin)) {
    if (r.name == name) return r.id;
  }
  for (const RegionContext* r : admin.regions) {  // a lone region without an account list
    if (r->self.name == name) return r->self.id;
  }
  return std::nullopt;
}

std::string RegionName(const AdminContext& admin, uint32_t id) {
  const auto& all = AccountRegions(admin);
  if (id < all.size()) return all[id].name;
  for (const RegionContext* r : admin.regions) {
    if (r->self.id == id) return r->self.name;
  }
  return std::to_string(id);
}

RegionContext* Local(const AdminContext& admin, uint32_t id) {
  for (RegionContext* r : admin.regions) {
    if (r->self.id == id) return r;
  }
  return nullptr;
}

bool Running(const AdminContext& admin, uint32_t id) {
  return !admin.control || admin.control->Running(id);
}

const char* StateName(const AdminContext& admin, const RegionContext& r) {
  if (!Running(admin, r.self.id)) return "killed";
  switch (r.state.load()) {
    case RegionState::kOnline: return "online";
    case RegionState::kOffline503: return "offline-503";
    case RegionState::kOffline403: return "offline-403";
  }
  return "unknown";
}

HttpResponse RegionsRoute(const AdminContext& admin) {
  json regions = json::array();
  for (const RegionContext* r : admin.regions) {
    regions.push_back({{"name", r->self.name},
                       {"displayName", r->self.display_name},
                       {"endpoint", r->self.endpoint},
                       {"state", StateName(admin, *r)},
                       {"clockSkewMs", r->clock_control ? r->clock_control->skew_ms() : 0},
                       {"dataplane", DataPlaneJson(*r)}});
  }
  return Json200({{"seed", admin.seed}, {"regions", regions}});
}

}  // namespace regionlab::admin
