// Routing of the management API: from method and path to the handlers of
// the other files; HandleAdmin serializes requests on AdminContext::mu.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>

#include "admin/internal.h"
#include "base/cosmos_auth.h"
#include "base/encoding.h"
#include "base/json_depth.h"

namespace regionlab::admin {
namespace {

std::vector<std::string> Segments(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

HttpResponse Fail(const Status& s) { return ErrorResponse(s); }

HttpResponse Respond(AdminContext& admin, const Op& op) {
  auto r = Apply(admin, op);
  if (!r.ok()) return Fail(r.status());
  return Json200(*r);
}

// See AdminContext::require_auth.
Status Authenticate(const AdminContext& admin, const HttpRequest& request) {
  const std::string* auth = request.Header("authorization");
  if (!auth || auth->empty()) {
    return Status::Unauthorized(
        "the management API is bound to a non-loopback address: sign the request with the account key "
        "or send Authorization: Bearer <--admin-token>");
  }
  if (auth->rfind("Bearer ", 0) == 0) {
    if (!admin.token.empty() && SignaturesEqual(auth->substr(7), admin.token)) return Status::Ok();
    return Status::Unauthorized("wrong admin token");
  }
  const std::string* date = request.Header("x-ms-date");
  auto when = date ? ParseHttpDate(*date) : std::nullopt;
  if (!when) return Status::Unauthorized("a signed management request needs x-ms-date");
  const Clock& clock = admin.clock ? *admin.clock : SystemClock::Instance();
  if (std::abs(*when - clock.NowSeconds()) > 15 * 60) {
    return Status::Unauthorized("x-ms-date is more than 15 minutes away from the server time");
  }
  auto parsed = ParseAuthorizationHeader(*auth);
  if (!parsed || ToLower(parsed->type) != "master") {
    return Status::Unauthorized("the authorization header is malformed; expected type=master&ver=1.0&sig=...");
  }
  std::string link = request.path.substr(request.path.starts_with("/") ? 1 : 0);
  auto expected = ComputeMasterSignature(admin.key, request.method, "admin", link, *date);
  if (expected && SignaturesEqual(*expected, parsed->signature)) return Status::Ok();
  return Status::Unauthorized("the signature does not match (resource type \"admin\", link \"" + link + "\")");
}

HttpResponse Dispatch(AdminContext& admin, HttpRequest& request) {
  const std::string& method = request.method;
  const std::vector<std::string> seg = Segments(request.path);
  const std::string first = seg.empty() ? "" : seg[0];

  if (seg.size() == 1 && first == "health" && method == "GET") return Json200({{"status", "ok"}});

  if (first == "regions") {
    if (seg.size() == 1 && method == "GET") return RegionsRoute(admin);
    if (seg.size() == 3 && seg[2] == "dataplane" && (method == "PUT" || method == "DELETE")) {
      auto id = LocalRegion(admin, seg[1]);
      if (!id.ok()) return Fail(id.status());
      Op op;
      json body = {{"rules", json::array()}};
      if (method == "PUT") {
        auto parsed = ParseObject(request.body, false);
        if (!parsed.ok()) return Fail(parsed.status());
        body = std::move(*parsed);
      }
      if (Status s = ParseDataPlane(admin, *id, body, &op); !s.ok()) return Fail(s);
      return Respond(admin, op);
    }
    if (seg.size() == 3 && seg[2] == "requests" && method == "GET") {
      auto id = LocalRegion(admin, seg[1]);
      if (!id.ok()) return Fail(id.status());
      return RequestsRoute(admin, *Local(admin, *id), request.query);
    }
    if (seg.size() == 3 && method == "POST") {
      // /regions/{r}/offline | online | clock | kill | restart
      const std::string& name = seg[1];
      const std::string& action = seg[2];
      auto id = LocalRegion(admin, name);
      if (!id.ok()) return Fail(id.status());
      auto body = ParseObject(request.body);
      if (!body.ok()) return Fail(body.status());
      Op op;
      op.region = *id;
      if (action == "offline") {
        if (Status s = ParseOffline(*body, &op); !s.ok()) return Fail(s);
      } else if (action == "online") {
        if (Status s = OnlyKeys(*body, {}, "online"); !s.ok()) return Fail(s);
        op.kind = Op::kOnline;
      } else if (action == "clock") {
        if (Status s = OnlyKeys(*body, {"skewMs"}, "clock"); !s.ok()) return Fail(s);
        if (Status s = ParseClock(*body, "clock", &op); !s.ok()) return Fail(s);
      } else if (action == "kill" || action == "restart") {
        if (Status s = OnlyKeys(*body, {}, action); !s.ok()) return Fail(s);
        op.kind = action == "kill" ? Op::kKill : Op::kRestart;
      } else {
        return Fail(Status::NotFound("unknown region action '" + action +
                                     "' (offline, online, clock, kill, restart)"));
      }
      return Respond(admin, op);
    }
    return Fail(Status::NotFound("use GET /regions, POST /regions/{region}/offline|online|clock|kill|restart, PUT|DELETE "
                                 "/regions/{region}/dataplane or GET /regions/{region}/requests"));
  }

  if (first == "links") {
    if (seg.size() == 1 && method == "GET") return Links(admin);
    if (seg.size() == 3 && (method == "PUT" || method == "DELETE")) {
      Op op;
      if (Status s = ParseLink(admin, seg[1], seg[2], &op); !s.ok()) return Fail(s);
      if (method == "PUT") {
        auto body = ParseObject(request.body);
        if (!body.ok()) return Fail(body.status());
        if (Status s = ParseLinkFaultsBody(admin, *body, false, &op); !s.ok()) return Fail(s);
      } else {
        op.kind = Op::kDeleteLink;
      }
      return Respond(admin, op);
    }
    if (seg.size() == 3 && method == "GET") {
      Op op;
      if (Status s = ParseLink(admin, seg[1], seg[2], &op); !s.ok()) return Fail(s);
      return Json200(LinkStatsJson(admin, *Local(admin, op.from), op.to));
    }
    return Fail(Status::NotFound("use GET /links, or PUT/DELETE /links/{from}/{to}"));
  }

  if (seg.size() == 1 && first == "partition") {
    if (method != "POST") return Fail(Status::NotFound("use POST /partition"));
    auto body = ParseObject(request.body, false);
    if (!body.ok()) return Fail(body.status());
    Op op;
    if (Status s = ParsePartition(admin, *body, &op); !s.ok()) return Fail(s);
    return Respond(admin, op);
  }

  if (seg.size() == 1 && first == "heal") {
    if (method != "POST") return Fail(Status::NotFound("use POST /heal"));
    auto body = ParseObject(request.body);
    if (!body.ok()) return Fail(body.status());
    Op op;
    op.kind = Op::kHeal;
    return Respond(admin, op);
  }

  if (seg.size() == 1 && first == "scenario") return ScenarioRoute(admin, request);

  if (seg.size() == 1 && first == "digest" && method == "GET") return DigestRoute(admin);
  if (seg.size() == 1 && first == "check" && method == "POST") return CheckRoute(admin, request);
  if (seg.size() == 1 && first == "metrics" && method == "GET") return Metrics(admin);
  if (seg.size() == 1 && first == "splitbrain" && method == "GET") return SplitBrainRoute(admin, request.query);

  return Fail(Status::NotFound("no management route for " + request.method + " " + request.path));
}


}  // namespace

HttpResponse HandleAdmin(AdminContext& admin, HttpRequest& request) {
  try {
    if (admin.require_auth) {
      if (Status s = Authenticate(admin, request); !s.ok()) return ErrorResponse(s);
    }
    if (!JsonDepthWithin(request.body)) {
      return ErrorResponse(Bad("the body nests objects or arrays more than " + std::to_string(kMaxJsonDepth) +
                               " levels deep"));
    }
    if (admin.extra_routes) {
      if (auto extra = admin.extra_routes(request)) return std::move(*extra);
    }
    std::lock_guard<std::mutex> lock(admin.mu);
    return Dispatch(admin, request);
  } catch (const std::exception& e) {
    spdlog::error("admin {} {} failed: {}", request.method, request.target, e.what());
    return ErrorResponse(Status::Internal(e.what()));
  }
}

HttpResponse HandleAdminLocal(AdminContext& admin, HttpRequest& request) {
  try {
    std::lock_guard<std::mutex> lock(admin.mu);
    return Dispatch(admin, request);
  } catch (const std::exception& e) {
    return ErrorResponse(Status::Internal(e.what()));
  }
}

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

}  // namespace regionlab::admin
