// Declarations shared by the files of the management API (admin/*.cc); not
// part of its interface (admin_api.h is). Everything here runs with
// AdminContext::mu held, on the admin listener's threads or on the
// RegionControl's executor (scenario steps).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "admin/admin_api.h"
#include "base/status.h"
#include "replication/link_shaper.h"
#include "server/errors.h"
#include "server/http_types.h"
#include "server/region_context.h"

namespace regionlab::admin {

using nlohmann::json;
using replication::LinkFaults;
using server::HttpRequest;
using server::HttpResponse;
using server::RegionContext;
using server::RegionInfo;
using server::RegionMetrics;
using server::RegionState;
using server::ErrorResponse;
using LinkKey = std::pair<uint32_t, uint32_t>;

// ---- regions.cc: the account's regions and the ones served here
HttpResponse Json200(const json& j, int status = 200);
const std::vector<RegionInfo>& AccountRegions(const AdminContext& admin);
std::optional<uint32_t> RegionId(const AdminContext& admin, const std::string& name);
std::string RegionName(const AdminContext& admin, uint32_t id);
RegionContext* Local(const AdminContext& admin, uint32_t id);  // null: not served here
bool Running(const AdminContext& admin, uint32_t id);
const char* StateName(const AdminContext& admin, const RegionContext& r);
HttpResponse RegionsRoute(const AdminContext& admin);  // GET /regions

// ---- operations.cc: validated management operations
// One management operation, validated: what a mutating request or a
// scenario step does.
struct Op {
  enum Kind { kPutLink, kDeleteLink, kPartition, kHeal, kOffline, kOnline, kClock, kKill, kRestart, kDataPlane };
  Kind kind = kHeal;
  uint32_t from = 0, to = 0;                     // links
  LinkFaults faults;                             // kPutLink
  std::vector<std::vector<std::string>> groups;  // kPartition
  uint32_t region = 0;                           // region ops
  RegionState mode = RegionState::kOffline503;   // kOffline
  int64_t skew_ms = 0;                           // kClock
  std::vector<server::DataPlaneRule> rules;      // kDataPlane (empty: clear)
};

const char* KindName(Op::Kind k);
Status Bad(std::string m);
// The body as a JSON object (an empty body is {} when `empty_ok`).
Result<json> ParseObject(const std::string& body, bool empty_ok = true);
// 400 unless every key of `obj` is one of `keys`.
Status OnlyKeys(const json& obj, std::initializer_list<const char*> keys, const std::string& what);
Result<std::string> StringField(const json& obj, const char* key, const std::string& what);
Result<uint32_t> KnownRegion(const AdminContext& admin, const std::string& name);
// A region this process serves (region operations need one).
Result<uint32_t> LocalRegion(const AdminContext& admin, const std::string& name);
Result<LinkFaults> ParseFaults(const json& obj, const std::string& what);
json FaultsJson(const LinkFaults& f);
// The faults in force on `link` (its own PUT, or a partition's cut).
LinkFaults Effective(const AdminFaultState& st, const LinkKey& link);
Status ParseLink(const AdminContext& admin, const std::string& from, const std::string& to, Op* op);
Status ParseLinkFaultsBody(const AdminContext& admin, const json& body, bool with_names, Op* op);
Status ParsePartition(const AdminContext& admin, const json& body, Op* op);
Status ParseOffline(const json& body, Op* op);
Status ParseClock(const json& body, const char* key_hint, Op* op);
// Applies a validated operation. Fails only on state (409: the region is
// killed / not killed) or when the control fails; nothing changes then.
Result<json> Apply(AdminContext& admin, const Op& op);

// ---- dataplane.cc: data-plane fault rules and the request log
// The body of PUT /regions/{r}/dataplane ({"rules": [...]}) as a kDataPlane op.
Status ParseDataPlane(const AdminContext& admin, uint32_t region, const json& body, Op* op);
json DataPlaneJson(const RegionContext& r);  // the rules in force, with their counters
HttpResponse RequestsRoute(const AdminContext& admin, const RegionContext& r, const std::string& query);

// ---- scenario.cc
HttpResponse ScenarioRoute(AdminContext& admin, const HttpRequest& request);  // GET|POST /scenario

// ---- links.cc
json LinkStatsJson(const AdminContext& admin, const RegionContext& from, uint32_t peer);
HttpResponse Links(const AdminContext& admin);  // GET /links

// ---- metrics.cc
HttpResponse Metrics(AdminContext& admin);  // GET /metrics (updates the split-brain counter)

// ---- splitbrain.cc
HttpResponse SplitBrainRoute(const AdminContext& admin, const std::string& query);  // GET /splitbrain
// Reads what the logs gained since the last call into admin.splitbrain.
void UpdateSplitBrainCounter(AdminContext& admin);

// ---- digest.cc
HttpResponse DigestRoute(const AdminContext& admin);  // GET /digest
HttpResponse CheckRoute(const AdminContext& admin, const HttpRequest& request);  // admin/check.cc

}  // namespace regionlab::admin
