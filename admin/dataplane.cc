// Data-plane faults through the management API (PRODUCT.md section 6):
// PUT/DELETE /regions/{r}/dataplane (rules), GET /regions/{r}/requests (the
// request log), and their JSON in GET /regions and /metrics. Rules act in
// server/dataplane_faults.cc.
#include <cmath>
#include <cstdlib>
#include <string>

#include "admin/internal.h"
#include "base/encoding.h"

namespace regionlab::admin {

using server::DataPlaneRule;
using server::DataPlaneRuleStats;

namespace {

constexpr const char* kOperations[] = {"any", "read", "write", "query", "feed", "metadata"};

Result<DataPlaneRule> ParseRule(const json& r, const std::string& what) {
  if (!r.is_object()) return Bad(what + " must be an object");
  if (Status s = OnlyKeys(r, {"operation", "resourceType", "database", "container", "partitionKey",
                              "partitionKeyRangeId", "writesOnly", "rate", "delayMs", "jitterMs", "status",
                              "subStatus", "retryAfterMs", "reset", "hang"},
                          what);
      !s.ok()) {
    return s;
  }
  DataPlaneRule rule;
  auto str = [&](const char* key, std::string* out) -> Status {
    if (!r.contains(key)) return Status::Ok();
    if (!r[key].is_string()) return Bad(what + ": \"" + key + "\" must be a string");
    *out = r[key].get<std::string>();
    return Status::Ok();
  };
  auto integer = [&](const char* key, int64_t lo, int64_t hi, int64_t* out) -> Status {
    if (!r.contains(key)) return Status::Ok();
    if (!r[key].is_number_integer() || r[key].get<int64_t>() < lo || r[key].get<int64_t>() > hi) {
      return Bad(what + ": \"" + key + "\" must be an integer in [" + std::to_string(lo) + ", " +
                 std::to_string(hi) + "]");
    }
    *out = r[key].get<int64_t>();
    return Status::Ok();
  };
  auto flag = [&](const char* key, bool* out) -> Status {
    if (!r.contains(key)) return Status::Ok();
    if (!r[key].is_boolean()) return Bad(what + ": \"" + key + "\" must be true or false");
    *out = r[key].get<bool>();
    return Status::Ok();
  };
  int64_t status = 0, sub = 0;
  for (Status s : {str("operation", &rule.operation), str("resourceType", &rule.resource_type),
                   str("database", &rule.database), str("container", &rule.container),
                   str("partitionKeyRangeId", &rule.partition_key_range), flag("writesOnly", &rule.writes_only),
                   integer("delayMs", 0, 600'000, &rule.delay_ms), integer("jitterMs", 0, 600'000, &rule.jitter_ms),
                   integer("status", 200, 599, &status), integer("subStatus", 0, 1'000'000, &sub),
                   integer("retryAfterMs", 0, 600'000, &rule.retry_after_ms), flag("reset", &rule.reset),
                   flag("hang", &rule.hang)}) {
    if (!s.ok()) return s;
  }
  rule.status = static_cast<int>(status);
  rule.sub_status = static_cast<int>(sub);
  if (!rule.operation.empty()) {
    bool known = false;
    for (const char* o : kOperations) known = known || rule.operation == o;
    if (!known) {
      return Bad(what + ": \"operation\" must be one of any, read, write, query, feed, metadata (not \"" +
                 rule.operation + "\")");
    }
  }
  if (r.contains("partitionKey")) rule.partition_key = r["partitionKey"].dump();
  if (r.contains("rate")) {
    if (!r["rate"].is_number() || !(r["rate"].get<double>() >= 0.0 && r["rate"].get<double>() <= 1.0)) {
      return Bad(what + ": \"rate\" must be a number in [0, 1]");
    }
    rule.rate = r["rate"].get<double>();
  }
  if (rule.writes_only && !rule.operation.empty() && rule.operation != "any" && rule.operation != "write") {
    return Bad(what + ": \"writesOnly\" contradicts \"operation\": \"" + rule.operation + "\"");
  }
  if (rule.status != 0 && rule.status < 400) return Bad(what + ": \"status\" must be an error status (400-599)");
  if ((rule.sub_status != 0 || r.contains("retryAfterMs")) && rule.status == 0) {
    return Bad(what + ": \"subStatus\" and \"retryAfterMs\" need a \"status\"");
  }
  const int answers = (rule.status != 0) + rule.reset + rule.hang;
  if (answers > 1) return Bad(what + ": give at most one of \"status\", \"reset\" and \"hang\"");
  if (answers == 0 && rule.delay_ms == 0 && rule.jitter_ms == 0) {
    // "Reads work, writes fail": writesOnly alone answers 503.
    if (!rule.writes_only) return Bad(what + " has no action (delayMs, jitterMs, status, reset or hang)");
    rule.status = 503;
  }
  if ((rule.reset || rule.hang) && (rule.delay_ms || rule.jitter_ms)) {
    return Bad(what + ": a delay means nothing with \"reset\" or \"hang\"");
  }
  return rule;
}

}  // namespace

Status ParseDataPlane(const AdminContext& admin, uint32_t region, const json& body, Op* op) {
  if (!body.is_object()) return Bad("the body must be an object {\"rules\": [...]}");
  if (Status s = OnlyKeys(body, {"rules"}, "dataplane"); !s.ok()) return s;
  if (!body.contains("rules") || !body["rules"].is_array()) return Bad("dataplane needs \"rules\": an array");
  if (body["rules"].size() > 64) return Bad("at most 64 data-plane rules");
  op->kind = Op::kDataPlane;
  op->region = region;
  op->rules.clear();
  for (size_t i = 0; i < body["rules"].size(); ++i) {
    auto rule = ParseRule(body["rules"][i], "rule " + std::to_string(i));
    if (!rule.ok()) return rule.status();
    op->rules.push_back(std::move(*rule));
  }
  return Status::Ok();
}

json DataPlaneJson(const RegionContext& r) {
  json rules = json::array();
  for (const DataPlaneRuleStats& s : r.dataplane.Stats()) {
    const DataPlaneRule& x = s.rule;
    json j = json::object();
    if (!x.operation.empty()) j["operation"] = x.operation;
    if (!x.resource_type.empty()) j["resourceType"] = x.resource_type;
    if (!x.database.empty()) j["database"] = x.database;
    if (!x.container.empty()) j["container"] = x.container;
    if (x.partition_key) j["partitionKey"] = json::parse(*x.partition_key, nullptr, false);
    if (!x.partition_key_range.empty()) j["partitionKeyRangeId"] = x.partition_key_range;
    if (x.writes_only) j["writesOnly"] = true;
    j["rate"] = x.rate;
    if (x.delay_ms) j["delayMs"] = x.delay_ms;
    if (x.jitter_ms) j["jitterMs"] = x.jitter_ms;
    if (x.status) {
      j["status"] = x.status;
      j["subStatus"] = x.sub_status;
    }
    if (x.retry_after_ms >= 0) j["retryAfterMs"] = x.retry_after_ms;
    if (x.reset) j["reset"] = true;
    if (x.hang) j["hang"] = true;
    j["matched"] = s.matched;
    j["injected"] = s.injected;
    rules.push_back(std::move(j));
  }
  return rules;
}

HttpResponse RequestsRoute(const AdminContext& admin, const RegionContext& r, const std::string& query) {
  size_t last = 100;
  for (const std::string& kv : SplitList(query, '&')) {
    if (kv.rfind("last=", 0) != 0) continue;
    const std::string v = kv.substr(5);
    char* end = nullptr;
    const long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n < 1 || n > static_cast<long>(r.requests.capacity())) {
      return ErrorResponse(Bad("last must be an integer in [1, " + std::to_string(r.requests.capacity()) + "]"));
    }
    last = static_cast<size_t>(n);
  }
  json out = json::array();
  for (const server::RequestLogEntry& e : r.requests.Last(last)) {
    json j = {{"timeMs", e.time_ms},
              {"method", e.method},
              {"path", e.path},
              {"operation", e.operation},
              {"resourceType", e.resource_type},
              {"status", e.status},
              {"subStatus", e.sub_status},
              {"outcome", e.outcome},
              {"ms", std::round(e.ms * 1000.0) / 1000.0},
              {"clientRequestId", e.client_request_id},
              {"userAgent", e.user_agent}};
    j["rule"] = e.rule >= 0 ? json(e.rule) : json(nullptr);
    if (!e.partition_key.empty()) j["partitionKey"] = e.partition_key;
    out.push_back(std::move(j));
  }
  return Json200({{"region", r.self.name}, {"requests", out}});
}

}  // namespace regionlab::admin
