// POST /scenario and GET /scenario: a timeline of operations run by the
// server on RegionControl::RunAfter; a newer scenario cancels the running one.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>

#include "admin/internal.h"

namespace regionlab::admin {
namespace {

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
  if (action == "dataplane") {
    // {"region": "uksouth", "rules": [...]}; "rules": [] clears them.
    if (Status s = object(); !s.ok()) return s;
    auto name = StringField(v, "region", where + " dataplane");
    if (!name.ok()) return name.status();
    auto id = LocalRegion(admin, *name);
    if (!id.ok()) return Bad(where + ": " + id.status().message());
    json body = v;
    body.erase("region");
    if (Status s = ParseDataPlane(admin, *id, body, &op); !s.ok()) return Bad(where + ": " + s.message());
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
             "\" (put, delete, partition, heal, region, clock, dataplane, kill, restart)");
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

}  // namespace

HttpResponse ScenarioRoute(AdminContext& admin, const HttpRequest& request) {
  if (request.method == "GET") {
    const ScenarioProgress& p = admin.scenario;
    return Json200({{"steps", p.steps}, {"done", p.done}, {"running", p.done < p.steps}, {"errors", p.errors}});
  }
  if (request.method != "POST") return ErrorResponse(Status::NotFound("use POST /scenario or GET /scenario"));
  if (!admin.control) return ErrorResponse(Bad("this process cannot run scenarios"));
  auto steps = ParseScenario(admin, request.body);
  if (!steps.ok()) return ErrorResponse(steps.status());
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

}  // namespace regionlab::admin
