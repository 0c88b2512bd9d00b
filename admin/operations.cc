// The management operations (PUT/DELETE /links, /partition, /heal, region
// offline/online/clock/kill/restart): parsing and validating a request or a
// scenario step into an Op, and applying it.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>

#include "admin/internal.h"
#include "replication/replicator.h"

namespace regionlab::admin {

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
    case Op::kDataPlane: return "dataplane";
  }
  return "?";
}

Status Bad(std::string m) { return Status::BadRequest(std::move(m)); }

Result<json> ParseObject(const std::string& body, bool empty_ok) {
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
        if (!r->dataplane.empty()) r->dataplane.Set({}, admin.seed, r->self.id);
      }
      spdlog::info("fault: heal (every link fault and partition removed, every region online, no clock skew, no data-plane rule)");
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
    case Op::kDataPlane: {
      RegionContext* r = Local(admin, op.region);
      r->dataplane.Set(op.rules, admin.seed, r->self.id);
      spdlog::info("fault: region {} data-plane rules: {}", r->self.name, op.rules.size());
      return json{{"region", r->self.name}, {"rules", DataPlaneJson(*r)}};
    }
  }
  return Status::Internal("unknown operation");
}

}  // namespace regionlab::admin
