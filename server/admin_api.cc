#include "server/admin_api.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "server/errors.h"

namespace regionlab::server {
namespace {

using nlohmann::json;

const char* StateName(RegionState s) {
  switch (s) {
    case RegionState::kOnline: return "online";
    case RegionState::kOffline503: return "offline-503";
    case RegionState::kOffline403: return "offline-403";
  }
  return "unknown";
}

HttpResponse Json200(const json& j) {
  HttpResponse r;
  r.body = j.dump();
  return r;
}

}  // namespace

HttpResponse HandleAdmin(AdminContext& admin, HttpRequest& request) {
  try {
    std::string path = request.path;
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    if (path == "/health" && request.method == "GET") {
      return Json200({{"status", "ok"}});
    }
    if (path == "/regions" && request.method == "GET") {
      json regions = json::array();
      for (const RegionContext* r : admin.regions) {
        int64_t skew = r->clock_control ? r->clock_control->skew_ms() : 0;
        regions.push_back({{"name", r->self.name},
                           {"displayName", r->self.display_name},
                           {"endpoint", r->self.endpoint},
                           {"state", StateName(r->state.load())},
                           {"clockSkewMs", skew}});
      }
      return Json200({{"seed", admin.seed}, {"regions", regions}});
    }
    return ErrorResponse(Status::NotFound("no management route for " + request.method + " " + request.path));
  } catch (const std::exception& e) {
    spdlog::error("admin {} {} failed: {}", request.method, request.target, e.what());
    return ErrorResponse(Status::Internal(e.what()));
  }
}

}  // namespace regionlab::server
