#include "server/admin_api.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>

#include "replication/replicator.h"
#include "server/digest.h"
#include "server/errors.h"

namespace regionlab::server {
namespace {

using nlohmann::json;
using replication::LinkFaults;
using LinkKey = std::pair<uint32_t, uint32_t>;

HttpResponse Json200(const json& j, int status = 200) {
  HttpResponse r;
  r.status = status;
  r.body = j.dump();
  return r;
}

// ---------------------------------------------------------------- regions

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

// ---------------------------------------------------------------- operations

// One management operation, validated: what a mutating request or a
// scenario step does.
struct Op {
  enum Kind { kPutLink, kDeleteLink, kPartition, kHeal, kOffline, kOnline, kClock, kKill, kRestart };
  Kind kind = kHeal;
  uint32_t from = 0, to = 0;  // links
  LinkFaults faults;          // kPutLink
  std::vector<std::vector<std::string>> groups;  // kPartition
  uint32_t region = 0;        // region ops
  RegionState mode = RegionState::kOffline503;   // kOffline
  int64_t skew_ms = 0;        // kClock
};

const char* KindName(Op::Kind k) {
  switch (k) {
    case Op::kPutLink: return "put";
    case Op::kDeleteLink: return "delete";
    case Op::kPartition: return "partition";
    case Op::kHeal: return "heal";
    case Op::kOffline: return "offline";
    case Op::kOnline: return "online";
    case Op::kClock: return "clock";
    case Op::kKill: return "kill";
    case Op::kRestart: return "restart";
  }
  return "?";
}

Status Bad(std::string m) { return Status::BadRequest(std::move(m)); }

Result<json> ParseObject(const std::string& body, bool empty_ok = true) {
  if (body.empty() && empty_ok) return json::object();
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return Bad("the body is not valid JSON");
  if (!j.is_object()) return Bad("the body must be a JSON object");
  return j;
}

Status OnlyKeys(const json& obj, std::initializer_list<const char*> keys, const std::string& what) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool known = false;
    for (const char* k : keys) known |= it.key() == k;
    if (!known) {
      std::string list;
      for (const char* k : keys) list += std::string(list.empty() ? "" : ", ") + k;
      return Bad(what + ": unknown field \"" + it.key() + "\" (allowed: " + list + ")");
    }
  }
  return Status::Ok();
}

Result<std::string> StringField(const json& obj, const char* key, const std::string& what) {
  if (!obj.contains(key)) return Bad(what + " needs \"" + key + "\"");
  if (!obj[key].is_string()) return Bad(what + ": \"" + key + "\" must be a string");
  return obj[key].get<std::string>();
}

Result<uint32_t> KnownRegion(const AdminContext& admin, const std::string& name) {
  auto id = RegionId(admin, name);
  if (!id) return Bad("unknown region '" + name + "'");
  return *id;
}

// A region this process serves (region operations need one).
Result<uint32_t> LocalRegion(const AdminContext& admin, const std::string& name) {
  auto id = KnownRegion(admin, name);
  if (!id.ok()) return id.status();
  if (!Local(admin, *id)) return Bad("region '" + name + "' is not served by this process");
  return *id;
}

Result<LinkFaults> ParseFaults(const json& obj, const std::string& what) {
  LinkFaults f;
  auto ms = [&](const char* key, int64_t* out, int64_t max) -> Status {
    if (!obj.contains(key)) return Status::Ok();
    const json& v = obj[key];
    if (!v.is_number_integer()) return Bad(what + ": \"" + key + "\" must be a non-negative integer");
    if (v.is_number_unsigned()) {
      if (v.get<uint64_t>() > static_cast<uint64_t>(max)) {
        return Bad(what + ": \"" + key + "\" must be at most " + std::to_string(max));
      }
      *out = static_cast<int64_t>(v.get<uint64_t>());
      return Status::Ok();
    }
    int64_t x = v.get<int64_t>();
    if (x < 0) return Bad(what + ": \"" + key + "\" must not be negative");
    if (x > max) return Bad(what + ": \"" + key + "\" must be at most " + std::to_string(max));
    *out = x;
    return Status::Ok();
  };
  auto rate = [&](const char* key, double* out) -> Status {
    if (!obj.contains(key)) return Status::Ok();
    const json& v = obj[key];
    if (!v.is_number()) return Bad(what + ": \"" + key + "\" must be a number between 0 and 1");
    double x = v.get<double>();
    if (!std::isfinite(x) || x < 0 || x > 1) return Bad(what + ": \"" + key + "\" must be between 0 and 1");
    *out = x;
    return Status::Ok();
  };
  constexpr int64_t kHour = 3'600'000;
  if (Status s = ms("delayMs", &f.delay_ms, kHour); !s.ok()) return s;
  if (Status s = ms("jitterMs", &f.jitter_ms, kHour); !s.ok()) return s;
  if (Status s = ms("bandwidthKBps", &f.bandwidth_kbps, 1'000'000'000); !s.ok()) return s;
  if (Status s = rate("dropRate", &f.drop_rate); !s.ok()) return s;
  if (Status s = rate("duplicateRate", &f.duplicate_rate); !s.ok()) return s;
  if (Status s = rate("reorderRate", &f.reorder_rate); !s.ok()) return s;
  if (obj.contains("partitioned")) {
    if (!obj["partitioned"].is_boolean()) return Bad(what + ": \"partitioned\" must be true or false");
    f.partitioned = obj["partitioned"].get<bool>();
  }
  return f;
}

json FaultsJson(const LinkFaults& f) {
  return {{"delayMs", f.delay_ms},           {"jitterMs", f.jitter_ms},
          {"dropRate", f.drop_rate},         {"duplicateRate", f.duplicate_rate},
          {"reorderRate", f.reorder_rate},   {"bandwidthKBps", f.bandwidth_kbps},
          {"partitioned", f.partitioned}};
}

// from/to of a link operation: known, distinct, and `from` served here
// (faults act on the sending side).
Status ParseLink(const AdminContext& admin, const std::string& from, const std::string& to, Op* op) {
  auto f = KnownRegion(admin, from);
  if (!f.ok()) return f.status();
  auto t = KnownRegion(admin, to);
  if (!t.ok()) return t.status();
  if (*f == *t) return Bad("a link joins two different regions, not '" + from + "' to itself");
  if (!Local(admin, *f)) {
    return Bad("faults act on the sending side: set the faults of " + from + " -> " + to +
               " on the management API of the process serving " + from);
  }
  op->from = *f;
  op->to = *t;
  return Status::Ok();
}

Status ParseLinkFaultsBody(const AdminContext& admin, const json& body, bool with_names, Op* op) {
  const std::string what = with_names ? "put" : "link faults";
  if (with_names) {
    if (Status s = OnlyKeys(body, {"from", "to", "delayMs", "jitterMs", "dropRate", "duplicateRate", "reorderRate",
                                   "bandwidthKBps", "partitioned"},
                            what);
        !s.ok()) {
      return s;
    }
  } else if (Status s = OnlyKeys(body, {"delayMs", "jitterMs", "dropRate", "duplicateRate", "reorderRate",
                                        "bandwidthKBps", "partitioned"},
                                 what);
             !s.ok()) {
    return s;
  }
  auto faults = ParseFaults(body, what);
  if (!faults.ok()) return faults.status();
  op->kind = Op::kPutLink;
  op->faults = *faults;
  return Status::Ok();
}

Status ParsePartition(const AdminContext& admin, const json& body, Op* op) {
  if (Status s = OnlyKeys(body, {"groups"}, "partition"); !s.ok()) return s;
  if (!body.contains("groups") || !body["groups"].is_array()) {
    return Bad("partition needs \"groups\": an array of arrays of region names");
  }
  std::set<std::string> seen;
  for (const json& g : body["groups"]) {
    if (!g.is_array() || g.empty()) return Bad("partition: every group must be a non-empty array of region names");
    std::vector<std::string> group;
    for (const json& n : g) {
      if (!n.is_string()) return Bad("partition: region names must be strings");
      std::string name = n.get<std::string>();
      auto id = KnownRegion(admin, name);
      if (!id.ok()) return id.status();
      if (!seen.insert(name).second) return Bad("partition: region '" + name + "' is in two groups");
      group.push_back(name);
    }
    op->groups.push_back(std::move(group));
  }
  if (op->groups.size() < 2) return Bad("partition needs at least two groups to cut between");
  op->kind = Op::kPartition;
  return Status::Ok();
}

Status ParseOffline(const json& body, Op* op) {
  if (Status s = OnlyKeys(body, {"mode"}, "offline"); !s.ok()) return s;
  std::string mode = "503";
  if (body.contains("mode")) {
    const json& m = body["mode"];
    if (m.is_string()) {
      mode = m.get<std::string>();
    } else if (m.is_number_integer()) {
      mode = m.dump();
    } else {
      return Bad("mode must be \"503\" or \"403\", not " + m.dump());
    }
  }
  if (mode != "503" && mode != "403") return Bad("mode must be \"503\" or \"403\", not " + mode);
  op->kind = Op::kOffline;
  op->mode = mode == "503" ? RegionState::kOffline503 : RegionState::kOffline403;
  return Status::Ok();
}

Status ParseClock(const json& body, const char* key_hint, Op* op) {
  if (!body.contains("skewMs") || !body["skewMs"].is_number_integer()) {
    return Bad(std::string(key_hint) + " needs an integer \"skewMs\"");
  }
  int64_t skew = body["skewMs"].is_number_unsigned() && body["skewMs"].get<uint64_t>() > INT64_MAX
                     ? INT64_MAX
                     : body["skewMs"].get<int64_t>();
  if (skew < -86'400'000 || skew > 86'400'000) return Bad("skewMs must be within one day");
  op->kind = Op::kClock;
  op->skew_ms = skew;
  return Status::Ok();
}

// ---------------------------------------------------------------- applying

LinkFaults Effective(const AdminFaultState& st, const LinkKey& link) {
  LinkFaults f;
  if (auto it = st.links.find(link); it != st.links.end()) f = it->second;
  if (st.cut.count(link)) f.partitioned = true;
  return f;
}

// Hands the links whose faults in force changed to the control (only links
// from a region served here).
void SyncLinks(AdminContext& admin) {
  AdminFaultState& st = admin.faults;
  const auto& all = AccountRegions(admin);
  for (const RegionContext* from : admin.regions) {
    for (const auto& to : all) {
      if (to.id == from->self.id) continue;
      LinkKey key{from->self.id, to.id};
      LinkFaults now = Effective(st, key);
      auto it = st.applied.find(key);
      LinkFaults before = it == st.applied.end() ? LinkFaults{} : it->second;
      if (now == before) continue;
      st.applied[key] = now;
      if (admin.control) admin.control->ApplyLinkFaults(key.first, key.second, now);
      if (!admin.control) spdlog::info("fault: link {} -> {}: {}", from->self.name, to.name, now.Describe());
    }
  }
}

json LinkJson(const AdminContext& admin, const LinkKey& link) {
  return {{"from", RegionName(admin, link.first)},
          {"to", RegionName(admin, link.second)},
          {"faults", FaultsJson(Effective(admin.faults, link))}};
}

json RegionJson(const AdminContext& admin, const RegionContext& r) {
  return {{"name", r.self.name},
          {"state", StateName(admin, r)},
          {"clockSkewMs", r.clock_control ? r.clock_control->skew_ms() : 0}};
}

Status NeedRunning(const AdminContext& admin, uint32_t id, const char* action) {
  if (Running(admin, id)) return Status::Ok();
  return Status::Conflict("region '" + RegionName(admin, id) + "' is killed; " + action +
                          " needs it running (POST /regions/" + RegionName(admin, id) + "/restart)");
}

// Applies a validated operation. Fails only on state (409: the region is
// killed / not killed) or when the control fails; nothing changes then.
Result<json> Apply(AdminContext& admin, const Op& op) {
  AdminFaultState& st = admin.faults;
  switch (op.kind) {
    case Op::kPutLink: {
      LinkKey key{op.from, op.to};
      st.links[key] = op.faults;
      st.cut.erase(key);  // a PUT replaces the link's whole fault set
      SyncLinks(admin);
      return LinkJson(admin, key);
    }
    case Op::kDeleteLink: {
      LinkKey key{op.from, op.to};
      st.links.erase(key);
      st.cut.erase(key);
      SyncLinks(admin);
      return LinkJson(admin, key);
    }
    case Op::kPartition: {
      st.cut.clear();
      std::vector<std::vector<uint32_t>> ids;
      for (const auto& g : op.groups) {
        ids.emplace_back();
        for (const auto& n : g) ids.back().push_back(*RegionId(admin, n));
      }
      json cut = json::array();
      for (size_t i = 0; i < ids.size(); ++i) {
        for (size_t j = 0; j < ids.size(); ++j) {
          if (i == j) continue;
          for (uint32_t a : ids[i]) {
            for (uint32_t b : ids[j]) {
              st.cut.insert({a, b});
              cut.push_back({{"from", RegionName(admin, a)}, {"to", RegionName(admin, b)}});
            }
          }
        }
      }
      st.partition = op.groups;
      SyncLinks(admin);
      spdlog::info("fault: partition {}", json(op.groups).dump());
      return json{{"groups", op.groups}, {"cut", cut}};
    }
    case Op::kHeal: {
      st.links.clear();
      st.cut.clear();
      st.partition.clear();
      SyncLinks(admin);
      json restarted = json::array();
      for (RegionContext* r : admin.regions) {
        if (!Running(admin, r->self.id)) {
          if (Status s = admin.control->Restart(r->self.id); !s.ok()) return s;
          restarted.push_back(r->self.name);
        }
        r->state = RegionState::kOnline;
        if (r->clock_control) r->clock_control->set_skew_ms(0);
      }
      spdlog::info("fault: heal (every link fault and partition removed, every region online, no clock skew)");
      return json{{"healed", true}, {"restarted", restarted}};
    }
    case Op::kOffline:
    case Op::kOnline:
    case Op::kClock: {
      if (Status s = NeedRunning(admin, op.region, KindName(op.kind)); !s.ok()) return s;
      RegionContext* r = Local(admin, op.region);
      if (op.kind == Op::kOffline) {
        r->state = op.mode;
        spdlog::info("fault: region {} offline ({})", r->self.name, op.mode == RegionState::kOffline403 ? 403 : 503);
      } else if (op.kind == Op::kOnline) {
        r->state = RegionState::kOnline;
        spdlog::info("fault: region {} online", r->self.name);
      } else {
        if (!r->clock_control) return Bad("this region's clock cannot be skewed");
        r->clock_control->set_skew_ms(op.skew_ms);
        spdlog::info("fault: region {} clock skew {} ms", r->self.name, op.skew_ms);
      }
      return RegionJson(admin, *r);
    }
    case Op::kKill: {
      if (!admin.control) return Bad("this process cannot kill regions");
      if (!Running(admin, op.region)) {
        return Status::Conflict("region '" + RegionName(admin, op.region) + "' is already killed");
      }
      if (Status s = admin.control->Kill(op.region); !s.ok()) return s;
      return RegionJson(admin, *Local(admin, op.region));
    }
    case Op::kRestart: {
      if (!admin.control) return Bad("this process cannot restart regions");
      if (Running(admin, op.region)) {
        return Status::Conflict("region '" + RegionName(admin, op.region) +
                                "' is running; only a killed region can be restarted");
      }
      if (Status s = admin.control->Restart(op.region); !s.ok()) return s;
      return RegionJson(admin, *Local(admin, op.region));
    }
  }
  return Status::Internal("unknown operation");
}

// ---------------------------------------------------------------- scenarios

struct Step {
  int64_t at_ms = 0;
  Op op;
};

Result<Op> ParseStepAction(const AdminContext& admin, const std::string& action, const json& v,
                           const std::string& where) {
  Op op;
  auto object = [&]() -> Status {
    if (!v.is_object()) return Bad(where + ": \"" + action + "\" must be an object");
    return Status::Ok();
  };
  if (action == "put" || action == "delete") {
    if (Status s = object(); !s.ok()) return s;
    auto from = StringField(v, "from", where + " " + action);
    if (!from.ok()) return from.status();
    auto to = StringField(v, "to", where + " " + action);
    if (!to.ok()) return to.status();
    if (Status s = ParseLink(admin, *from, *to, &op); !s.ok()) return Bad(where + ": " + s.message());
    if (action == "put") {
      if (Status s = ParseLinkFaultsBody(admin, v, true, &op); !s.ok()) return Bad(where + ": " + s.message());
    } else {
      if (Status s = OnlyKeys(v, {"from", "to"}, where + " delete"); !s.ok()) return s;
      op.kind = Op::kDeleteLink;
    }
    return op;
  }
  if (action == "partition") {
    if (Status s = object(); !s.ok()) return s;
    if (Status s = ParsePartition(admin, v, &op); !s.ok()) return Bad(where + ": " + s.message());
    return op;
  }
  if (action == "heal") {
    if (!(v.is_boolean() && v.get<bool>()) && !(v.is_object() && v.empty())) {
      return Bad(where + ": \"heal\" must be true");
    }
    op.kind = Op::kHeal;
    return op;
  }
  if (action == "region") {
    if (Status s = object(); !s.ok()) return s;
    if (Status s = OnlyKeys(v, {"name", "offline", "online"}, where + " region"); !s.ok()) return s;
    auto name = StringField(v, "name", where + " region");
    if (!name.ok()) return name.status();
    auto id = LocalRegion(admin, *name);
    if (!id.ok()) return Bad(where + ": " + id.status().message());
    op.region = *id;
    const bool off = v.contains("offline"), on = v.contains("online");
    if (off == on) return Bad(where + ": \"region\" needs exactly one of \"offline\" and \"online\"");
    if (off) {
      json mode = {{"mode", v["offline"]}};
      if (Status s = ParseOffline(mode, &op); !s.ok()) return Bad(where + ": " + s.message());
    } else {
      if (!(v["online"].is_boolean() && v["online"].get<bool>())) return Bad(where + ": \"online\" must be true");
      op.kind = Op::kOnline;
    }
    return op;
  }
  if (action == "clock") {
    if (Status s = object(); !s.ok()) return s;
    if (Status s = OnlyKeys(v, {"region", "skewMs"}, where + " clock"); !s.ok()) return s;
    auto name = StringField(v, "region", where + " clock");
    if (!name.ok()) return name.status();
    auto id = LocalRegion(admin, *name);
    if (!id.ok()) return Bad(where + ": " + id.status().message());
    op.region = *id;
    if (Status s = ParseClock(v, "clock", &op); !s.ok()) return Bad(where + ": " + s.message());
    return op;
  }
  if (action == "kill" || action == "restart") {
    if (Status s = object(); !s.ok()) return s;
    if (Status s = OnlyKeys(v, {"region"}, where + " " + action); !s.ok()) return s;
    auto name = StringField(v, "region", where + " " + action);
    if (!name.ok()) return name.status();
    auto id = LocalRegion(admin, *name);
    if (!id.ok()) return Bad(where + ": " + id.status().message());
    if (!admin.control) return Bad(where + ": this process cannot " + action + " regions");
    op.region = *id;
    op.kind = action == "kill" ? Op::kKill : Op::kRestart;
    return op;
  }
  return Bad(where + ": unknown action \"" + action +
             "\" (put, delete, partition, heal, region, clock, kill, restart)");
}

Result<std::vector<Step>> ParseScenario(const AdminContext& admin, const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return Bad("the scenario is not valid JSON");
  if (j.is_object() && j.contains("steps")) j = j["steps"];  // {"steps": [...]} is accepted too
  if (!j.is_array()) return Bad("a scenario is a JSON array of steps [{\"atMs\": 0, \"put\": {...}}, ...]");
  std::vector<Step> steps;
  for (size_t i = 0; i < j.size(); ++i) {
    const json& s = j[i];
    const std::string where = "step " + std::to_string(i);
    if (!s.is_object()) return Bad(where + " is not an object");
    if (!s.contains("atMs") || !s["atMs"].is_number_integer() ||
        (!s["atMs"].is_number_unsigned() && s["atMs"].get<int64_t>() < 0)) {
      return Bad(where + " needs \"atMs\": a non-negative integer");
    }
    if (s["atMs"].get<uint64_t>() > 86'400'000ull) return Bad(where + ": atMs must be within one day");
    Step step;
    step.at_ms = s["atMs"].get<int64_t>();
    std::optional<std::string> action;
    for (auto it = s.begin(); it != s.end(); ++it) {
      if (it.key() == "atMs") continue;
      if (action) return Bad(where + " has two actions (\"" + *action + "\" and \"" + it.key() + "\")");
      action = it.key();
    }
    if (!action) return Bad(where + " has no action");
    auto op = ParseStepAction(admin, *action, s[*action], where);
    if (!op.ok()) return op.status();
    step.op = std::move(*op);
    steps.push_back(std::move(step));
  }
  std::stable_sort(steps.begin(), steps.end(), [](const Step& a, const Step& b) { return a.at_ms < b.at_ms; });
  // Kill/restart must make sense along the timeline (from the current state).
  std::set<uint32_t> killed;
  for (const RegionContext* r : admin.regions) {
    if (!Running(admin, r->self.id)) killed.insert(r->self.id);
  }
  for (const Step& s : steps) {
    const std::string where = "the step at " + std::to_string(s.at_ms) + " ms (" + KindName(s.op.kind) + " " +
                              RegionName(admin, s.op.region) + ")";
    switch (s.op.kind) {
      case Op::kKill:
        if (!killed.insert(s.op.region).second) return Bad(where + " kills a region that is already killed then");
        break;
      case Op::kRestart:
        if (!killed.erase(s.op.region)) return Bad(where + " restarts a region that is not killed then");
        break;
      case Op::kOffline:
      case Op::kOnline:
      case Op::kClock:
        if (killed.count(s.op.region)) return Bad(where + " needs a region that is killed then");
        break;
      case Op::kHeal:
        killed.clear();
        break;
      default:
        break;
    }
  }
  return steps;
}

void RunStep(AdminContext* admin, uint64_t generation, std::shared_ptr<const std::vector<Step>> steps,
             size_t index, std::chrono::steady_clock::time_point start);

void ScheduleStep(AdminContext* admin, uint64_t generation, std::shared_ptr<const std::vector<Step>> steps,
                  size_t index, std::chrono::steady_clock::time_point start) {
  auto due = start + std::chrono::milliseconds((*steps)[index].at_ms);
  auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(due - std::chrono::steady_clock::now());
  if (delay.count() < 0) delay = std::chrono::milliseconds(0);
  admin->control->RunAfter(delay, [admin, generation, steps, index, start] {
    RunStep(admin, generation, steps, index, start);
  });
}

void RunStep(AdminContext* admin, uint64_t generation, std::shared_ptr<const std::vector<Step>> steps,
             size_t index, std::chrono::steady_clock::time_point start) {
  std::lock_guard<std::mutex> lock(admin->mu);
  if (admin->scenario.generation != generation) return;  // replaced by a newer scenario
  const Step& s = (*steps)[index];
  auto r = Apply(*admin, s.op);
  if (!r.ok()) {
    std::string e = "step at " + std::to_string(s.at_ms) + " ms (" + KindName(s.op.kind) +
                    "): " + r.status().message();
    spdlog::warn("scenario: {}", e);
    admin->scenario.errors.push_back(e);
  } else {
    spdlog::info("scenario: step {}/{} at {} ms: {}", index + 1, steps->size(), s.at_ms, KindName(s.op.kind));
  }
  admin->scenario.done = index + 1;
  if (index + 1 < steps->size()) ScheduleStep(admin, generation, steps, index + 1, start);
}

// ---------------------------------------------------------------- GET /links, /metrics

json LinkStatsJson(const AdminContext& admin, const RegionContext& from, uint32_t peer) {
  const std::string to_name = RegionName(admin, peer);
  json link = {{"from", from.self.name}, {"to", to_name}};
  const bool running = Running(admin, from.self.id);
  if (!running) {
    link["connected"] = false;
    link["fromState"] = "killed";
  } else if (from.replicator) {
    auto out = from.replicator->Outbound(peer);
    link.update({{"connected", out.connected},
                 {"ownLsn", out.own_lsn},
                 {"sentLsn", out.sent},
                 {"ackedLsn", out.acked},
                 {"queue", out.own_lsn - std::min(out.own_lsn, out.acked)},
                 {"framesSent", out.frames_sent},
                 {"entriesSent", out.entries_sent},
                 {"retransmitted", out.retransmits},
                 {"snapshots", out.snapshots},
                 {"lagMs", out.lag_micros / 1000.0}});
  }
  link["faults"] = FaultsJson(Effective(admin.faults, {from.self.id, peer}));
  replication::LinkShaperStats sh;
  if (admin.control && running) sh = admin.control->LinkStats(from.self.id, peer);
  link.update({{"framesShaped", sh.frames},
               {"framesWritten", sh.written},
               {"framesDropped", sh.dropped},
               {"framesDuplicated", sh.duplicated},
               {"framesReordered", sh.reordered},
               {"framesDelayed", sh.delayed},
               {"framesQueued", sh.queued}});
  const RegionContext* to = Local(admin, peer);
  if (to && !Running(admin, peer)) {
    link["toState"] = "killed";
  } else if (to && to->replicator) {
    auto in = to->replicator->Inbound(from.self.id);
    link["appliedLsn"] = in.applied;
    link["entriesApplied"] = in.entries_applied;
    link["duplicatesSkipped"] = in.duplicates;
    link["gaps"] = in.gaps;
    link["conflicts"] = in.conflicts;
    link["lastApplyLagMs"] = in.last_lag_micros / 1000.0;
    link["applyLagMs"] = {{"p50", in.LagQuantileMicros(0.5) / 1000.0},
                          {"p99", in.LagQuantileMicros(0.99) / 1000.0},
                          {"max", in.max_lag_micros / 1000.0}};
  }
  return link;
}

HttpResponse Links(const AdminContext& admin) {
  json links = json::array();
  const auto& all = AccountRegions(admin);
  for (const RegionContext* from : admin.regions) {
    for (const auto& to : all) {
      if (to.id == from->self.id) continue;
      links.push_back(LinkStatsJson(admin, *from, to.id));
    }
  }
  // Links from regions served by other processes into ours: only the
  // receiving side is known here.
  for (const RegionContext* to : admin.regions) {
    if (!to->replicator) continue;
    for (uint32_t peer : to->replicator->peers()) {
      if (Local(admin, peer)) continue;
      auto in = to->replicator->Inbound(peer);
      links.push_back({{"from", RegionName(admin, peer)},
                       {"to", to->self.name},
                       {"connected", in.connected},
                       {"appliedLsn", in.applied},
                       {"entriesApplied", in.entries_applied},
                       {"duplicatesSkipped", in.duplicates},
                       {"gaps", in.gaps},
                       {"conflicts", in.conflicts},
                       {"lastApplyLagMs", in.last_lag_micros / 1000.0},
                       {"applyLagMs", {{"p50", in.LagQuantileMicros(0.5) / 1000.0},
                                       {"p99", in.LagQuantileMicros(0.99) / 1000.0},
                                       {"max", in.max_lag_micros / 1000.0}}}});
    }
  }
  return Json200({{"links", links}});
}

HttpResponse Metrics(const AdminContext& admin) {
  std::string m;
  m += "# HELP regionlab_requests_total Data-plane requests by kind.\n# TYPE regionlab_requests_total counter\n";
  for (const RegionContext* r : admin.regions) {
    m += "regionlab_requests_total{region=\"" + r->self.name + "\",kind=\"read\"} " + std::to_string(r->metrics.reads.load()) + "\n";
    m += "regionlab_requests_total{region=\"" + r->self.name + "\",kind=\"write\"} " + std::to_string(r->metrics.writes.load()) + "\n";
    m += "regionlab_requests_total{region=\"" + r->self.name + "\",kind=\"error\"} " + std::to_string(r->metrics.errors.load()) + "\n";
  }
  m += "# HELP regionlab_request_duration_seconds Data-plane request latency.\n# TYPE regionlab_request_duration_seconds histogram\n";
  for (const RegionContext* r : admin.regions) {
    uint64_t cumulative = 0;
    for (int i = 0; i < RegionMetrics::kBuckets; ++i) {
      cumulative += r->metrics.latency_buckets[i].load();
      std::string le = i == RegionMetrics::kBuckets - 1 ? "+Inf" : std::to_string(RegionMetrics::kBoundsMicros[i] / 1e6);
      m += "regionlab_request_duration_seconds_bucket{region=\"" + r->self.name + "\",le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
    }
    m += "regionlab_request_duration_seconds_sum{region=\"" + r->self.name + "\"} " + std::to_string(r->metrics.latency_sum_micros.load() / 1e6) + "\n";
    m += "regionlab_request_duration_seconds_count{region=\"" + r->self.name + "\"} " + std::to_string(cumulative) + "\n";
  }
  m += "# HELP regionlab_region_up 1 while the region runs, 0 while it is killed.\n# TYPE regionlab_region_up gauge\n";
  for (const RegionContext* r : admin.regions) {
    m += "regionlab_region_up{region=\"" + r->self.name + "\"} " + (Running(admin, r->self.id) ? "1" : "0") + "\n";
  }
  m += "# HELP regionlab_replication_lag_seconds Age of the oldest write not yet acknowledged on a link.\n# TYPE regionlab_replication_lag_seconds gauge\n";
  std::string sent = "# HELP regionlab_replication_entries_sent_total Log entries shipped on a link.\n# TYPE regionlab_replication_entries_sent_total counter\n";
  std::string retrans = "# HELP regionlab_replication_retransmits_total Resends on a link.\n# TYPE regionlab_replication_retransmits_total counter\n";
  std::string apply_lag = "# HELP regionlab_replication_apply_lag_seconds Origin commit to applied here, per entry.\n# TYPE regionlab_replication_apply_lag_seconds histogram\n";
  std::string conflicts = "# HELP regionlab_conflicts_total Concurrent versions met when applying a link's writes.\n# TYPE regionlab_conflicts_total counter\n";
  for (const RegionContext* r : admin.regions) {
    if (!r->replicator) continue;
    for (uint32_t peer : r->replicator->peers()) {
      auto out = r->replicator->Outbound(peer);
      auto in = r->replicator->Inbound(peer);
      std::string to = RegionName(admin, peer);
      std::string lbl = "{from=\"" + r->self.name + "\",to=\"" + to + "\"}";
      std::string in_lbl = "{from=\"" + to + "\",to=\"" + r->self.name + "\"}";
      m += "regionlab_replication_lag_seconds" + lbl + " " + std::to_string(out.lag_micros / 1e6) + "\n";
      sent += "regionlab_replication_entries_sent_total" + lbl + " " + std::to_string(out.entries_sent) + "\n";
      retrans += "regionlab_replication_retransmits_total" + lbl + " " + std::to_string(out.retransmits) + "\n";
      conflicts += "regionlab_conflicts_total" + in_lbl + " " + std::to_string(in.conflicts) + "\n";
      uint64_t cumulative = 0;
      for (int i = 0; i < replication::kLagBuckets; ++i) {
        cumulative += in.lag_buckets[i];
        std::string le = i == replication::kLagBuckets - 1 ? "+Inf" : std::to_string(replication::kLagBoundsMicros[i] / 1e6);
        apply_lag += "regionlab_replication_apply_lag_seconds_bucket{from=\"" + to + "\",to=\"" + r->self.name +
                     "\",le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
      }
      apply_lag += "regionlab_replication_apply_lag_seconds_count" + in_lbl + " " + std::to_string(cumulative) + "\n";
    }
  }
  // The link shapers (frames from `from` to `to`, both connections) and the
  // faults in force.
  struct Family {
    const char* name;
    const char* type;
    const char* help;
    std::string text;
  };
  Family fam[] = {
      {"regionlab_link_frames_total", "counter", "Replication frames handed to a link (before faults).", ""},
      {"regionlab_link_frames_sent_total", "counter", "Frame copies released to the connection after faults.", ""},
      {"regionlab_link_frames_dropped_total", "counter", "Frames lost by drop or partition faults.", ""},
      {"regionlab_link_frames_duplicated_total", "counter", "Frames sent twice by the duplicate fault.", ""},
      {"regionlab_link_frames_reordered_total", "counter", "Frame copies held back out of order.", ""},
      {"regionlab_link_frames_delayed_total", "counter", "Frame copies held before sending (delay, jitter, bandwidth).", ""},
      {"regionlab_link_frames_queued", "gauge", "Frame copies held by the link shaper now.", ""},
      {"regionlab_link_retransmits_total", "counter", "Resends by the replicator on a link.", ""},
      {"regionlab_link_fault_delay_seconds", "gauge", "Delay fault in force on a link.", ""},
      {"regionlab_link_fault_jitter_seconds", "gauge", "Jitter fault in force on a link.", ""},
      {"regionlab_link_fault_drop_ratio", "gauge", "Drop rate in force on a link.", ""},
      {"regionlab_link_fault_duplicate_ratio", "gauge", "Duplicate rate in force on a link.", ""},
      {"regionlab_link_fault_reorder_ratio", "gauge", "Reorder rate in force on a link.", ""},
      {"regionlab_link_fault_bandwidth_bytes_per_second", "gauge", "Bandwidth limit in force on a link (0: none).", ""},
      {"regionlab_link_partitioned", "gauge", "1 while a link is partitioned.", ""},
  };
  const auto& all = AccountRegions(admin);
  for (const RegionContext* from : admin.regions) {
    for (const auto& to : all) {
      if (to.id == from->self.id) continue;
      std::string lbl = "{from=\"" + from->self.name + "\",to=\"" + to.name + "\"}";
      replication::LinkShaperStats sh;
      if (admin.control && Running(admin, from->self.id)) sh = admin.control->LinkStats(from->self.id, to.id);
      uint64_t retransmits = from->replicator ? from->replicator->Outbound(to.id).retransmits : 0;
      LinkFaults f = Effective(admin.faults, {from->self.id, to.id});
      char buf[64];
      auto num = [&](double v) {
        std::snprintf(buf, sizeof buf, "%g", v);
        return std::string(buf);
      };
      const std::string values[] = {std::to_string(sh.frames),        std::to_string(sh.written),
                                    std::to_string(sh.dropped),       std::to_string(sh.duplicated),
                                    std::to_string(sh.reordered),     std::to_string(sh.delayed),
                                    std::to_string(sh.queued),        std::to_string(retransmits),
                                    num(f.delay_ms / 1000.0),         num(f.jitter_ms / 1000.0),
                                    num(f.drop_rate),                 num(f.duplicate_rate),
                                    num(f.reorder_rate),              std::to_string(f.bandwidth_kbps * 1024),
                                    f.partitioned ? "1" : "0"};
      for (size_t i = 0; i < std::size(fam); ++i) fam[i].text += std::string(fam[i].name) + lbl + " " + values[i] + "\n";
    }
  }
  std::string links;
  for (const Family& f : fam) {
    links += std::string("# HELP ") + f.name + " " + f.help + "\n# TYPE " + f.name + " " + f.type + "\n" + f.text;
  }
  HttpResponse r;
  r.body = m + sent + retrans + conflicts + apply_lag + links;
  r.content_type = "text/plain; version=0.0.4";
  return r;
}

// ---------------------------------------------------------------- routing

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

HttpResponse Dispatch(AdminContext& admin, HttpRequest& request) {
  const std::string& method = request.method;
  const std::vector<std::string> seg = Segments(request.path);
  const std::string first = seg.empty() ? "" : seg[0];

  if (seg.size() == 1 && first == "health" && method == "GET") return Json200({{"status", "ok"}});

  if (first == "regions") {
    if (seg.size() == 1 && method == "GET") {
      json regions = json::array();
      for (const RegionContext* r : admin.regions) {
        regions.push_back({{"name", r->self.name},
                           {"displayName", r->self.display_name},
                           {"endpoint", r->self.endpoint},
                           {"state", StateName(admin, *r)},
                           {"clockSkewMs", r->clock_control ? r->clock_control->skew_ms() : 0}});
      }
      return Json200({{"seed", admin.seed}, {"regions", regions}});
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
    return Fail(Status::NotFound("use GET /regions or POST /regions/{region}/offline|online|clock|kill|restart"));
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

  if (seg.size() == 1 && first == "scenario") {
    if (method == "GET") {
      const ScenarioProgress& p = admin.scenario;
      return Json200({{"steps", p.steps},
                      {"done", p.done},
                      {"running", p.done < p.steps},
                      {"errors", p.errors}});
    }
    if (method != "POST") return Fail(Status::NotFound("use POST /scenario or GET /scenario"));
    if (!admin.control) return Fail(Bad("this process cannot run scenarios"));
    auto steps = ParseScenario(admin, request.body);
    if (!steps.ok()) return Fail(steps.status());
    ScenarioProgress& p = admin.scenario;
    p.generation++;
    p.steps = steps->size();
    p.done = 0;
    p.errors.clear();
    spdlog::info("scenario: {} steps", p.steps);
    if (!steps->empty()) {
      auto shared = std::make_shared<const std::vector<Step>>(std::move(*steps));
      ScheduleStep(&admin, p.generation, shared, 0, std::chrono::steady_clock::now());
    }
    return Json200({{"steps", p.steps}}, 202);
  }

  if (seg.size() == 1 && first == "digest" && method == "GET") {
    json regions = json::array();
    for (const RegionContext* r : admin.regions) {
      if (!r->store) continue;  // killed
      auto digest = ComputeDigest(*r->store);
      if (!digest.ok()) return Fail(digest.status());
      json containers = json::array();
      for (const auto& d : *digest) {
        containers.push_back({{"database", d.database}, {"container", d.container}, {"count", d.count}, {"hash", d.hash}});
      }
      regions.push_back({{"name", r->self.name}, {"containers", containers}});
    }
    return Json200({{"regions", regions}});
  }

  if (seg.size() == 1 && first == "metrics" && method == "GET") return Metrics(admin);

  return Fail(Status::NotFound("no management route for " + request.method + " " + request.path));
}

}  // namespace

HttpResponse HandleAdmin(AdminContext& admin, HttpRequest& request) {
  try {
    std::lock_guard<std::mutex> lock(admin.mu);
    return Dispatch(admin, request);
  } catch (const std::exception& e) {
    spdlog::error("admin {} {} failed: {}", request.method, request.target, e.what());
    return ErrorResponse(Status::Internal(e.what()));
  }
}

}  // namespace regionlab::server
