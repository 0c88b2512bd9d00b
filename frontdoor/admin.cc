#include "frontdoor/admin.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <sstream>

#include "base/encoding.h"

namespace regionlab::frontdoor {
namespace {

using json = nlohmann::json;

std::string IsoTime(int64_t wall_us) {
  std::time_t secs = static_cast<std::time_t>(wall_us / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03dZ", static_cast<int>((wall_us / 1000) % 1000));
  return std::string(buf) + ms;
}

json SettingsJson(const Settings& s) {
  return {{"sampleSize", s.sample_size},
          {"successfulSamplesRequired", s.successful_samples_required},
          {"probeIntervalMs", s.probe_interval_ms},
          {"probeTimeoutMs", s.EffectiveProbeTimeoutMs()},
          {"probePath", s.probe_path},
          {"probeMethod", s.probe_method},
          {"additionalLatencyMs", s.additional_latency_ms},
          {"pops", s.pops},
          {"timeScale", s.time_scale},
          {"originTimeoutMs", s.origin_timeout_ms},
          {"newOriginHealthy", s.new_origin_healthy}};
}

json PromiseJson(const ModelSnapshot& snap) {
  const FailoverPromise& p = snap.promise;
  const double scale = snap.settings.time_scale;
  return {{"failuresNeeded", p.failures_needed},
          {"bestCaseFdMs", p.best_case_ms},
          {"worstCaseFdMs", p.worst_case_ms},
          {"popSpreadFdMs", p.pop_spread_ms},
          {"bestCaseWallMs", static_cast<double>(p.best_case_ms) / scale},
          {"worstCaseWallMs", static_cast<double>(p.worst_case_ms) / scale},
          {"formula",
           "worst case = (sampleSize - successfulSamplesRequired + 1) x probeInterval + probeTimeout = " +
               std::to_string(p.failures_needed) + " x " + std::to_string(snap.settings.probe_interval_ms) +
               " ms + " + std::to_string(snap.settings.EffectiveProbeTimeoutMs()) + " ms"}};
}

json MomentJson(const Moment& m, const ModelSnapshot& snap) {
  return {{"wallMs", m.wall_us / 1000}, {"wallTime", IsoTime(m.wall_us)}, {"fdMs", m.fd_us / 1000}};
}

json FailoverBody(const Failover& f, const ModelSnapshot& snap) {
  const Moment& t0 = f.first_failed_probe;
  json timeline = json::array();
  auto entry = [&](const char* what, int pop, const Moment& m) {
    json e = MomentJson(m, snap);
    e["event"] = what;
    if (pop >= 0) e["pop"] = pop;
    e["afterFirstFailureFdMs"] = (m.fd_us - t0.fd_us) / 1000;
    e["afterFirstFailureWallMs"] = (m.wall_us - t0.wall_us) / 1000;
    return e;
  };
  timeline.push_back(entry("firstFailedProbe", f.first_failed_pop, t0));
  for (const auto& m : f.marked) timeline.push_back(entry("popMarkedUnhealthy", m.pop, m.at));
  if (f.first_request_to_new) {
    json e = entry("firstRequestToNew", f.first_request_to_new_pop, *f.first_request_to_new);
    e["origin"] = f.new_origin;
    timeline.push_back(e);
  }
  if (f.last_request_to_old) timeline.push_back(entry("lastRequestToOld", f.last_request_to_old_pop,
                                                      *f.last_request_to_old));
  if (f.recovered) timeline.push_back(entry("recovered", -1, *f.recovered));
  std::stable_sort(timeline.begin(), timeline.end(),
                   [](const json& a, const json& b) { return a["wallMs"].get<int64_t>() < b["wallMs"].get<int64_t>(); });
  json durations = json::object();
  auto dur = [&](const char* key, const Moment& m) {
    durations[std::string(key) + "FdMs"] = (m.fd_us - t0.fd_us) / 1000;
    durations[std::string(key) + "WallMs"] = (m.wall_us - t0.wall_us) / 1000;
  };
  if (!f.marked.empty()) {
    dur("firstPopUnhealthy", f.marked.front().at);
    dur("allPopsUnhealthy", f.marked.back().at);
  }
  if (f.last_request_to_old) dur("lastRequestToOld", *f.last_request_to_old);
  if (f.first_request_to_new) dur("firstRequestToNew", *f.first_request_to_new);
  const bool complete = static_cast<int>(f.marked.size()) >= f.pops_total;
  json out = {{"origin", f.origin},
              {"newOrigin", f.new_origin.empty() ? json(nullptr) : json(f.new_origin)},
              {"complete", complete},
              {"popsMarked", f.marked.size()},
              {"pops", f.pops_total},
              {"recovered", f.recovered.has_value()},
              {"timeline", timeline},
              {"durations", durations},
              {"requestsToOld", f.requests_to_old},
              {"failedRequestsToOld", f.failed_requests_to_old}};
  if (!f.marked.empty()) {
    const int64_t detection_ms = (f.marked.back().at.fd_us - t0.fd_us) / 1000;
    out["withinPromise"] = detection_ms <= snap.promise.worst_case_ms;
  }
  return out;
}

json ErrorJson(std::string_view code, std::string_view message) {
  return {{"code", code}, {"message", message}};
}

AdminReply Error(int status, std::string_view code, std::string_view message) {
  return {status, "application/json", ErrorJson(code, message).dump()};
}

std::string QueryParam(std::string_view query, std::string_view key) {
  for (const auto& part : SplitList(query, '&')) {
    const size_t eq = part.find('=');
    if (part.substr(0, eq) == key) return eq == std::string::npos ? "" : PercentDecode(part.substr(eq + 1));
  }
  return "";
}

std::optional<uint64_t> ParseU64(const std::string& s) {
  uint64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

json EventJson(const Event& e) {
  json j = {{"seq", e.seq}, {"type", EventTypeName(e.type)}, {"wallMs", e.wall_us / 1000},
            {"wallTime", IsoTime(e.wall_us)}, {"fdMs", e.fd_us / 1000}};
  if (e.pop >= 0) j["pop"] = e.pop;
  switch (e.type) {
    case Event::Type::kProbe:
      j["origin"] = e.origin;
      j["ok"] = e.ok;
      j["status"] = e.http_status;
      j["latencyMs"] = static_cast<double>(e.latency_us) / 1000.0;
      if (!e.detail.empty()) j["error"] = e.detail;
      break;
    case Event::Type::kHealth:
      j["origin"] = e.origin;
      j["healthy"] = e.healthy;
      j["window"] = e.window;
      break;
    case Event::Type::kRouting:
      j["from"] = e.from;
      j["to"] = e.to;
      j["mode"] = e.mode;
      break;
    case Event::Type::kOrigin:
      j["origin"] = e.origin;
      j["change"] = e.detail;
      break;
  }
  return j;
}

AdminReply Events(HealthModel& model, std::string_view query) {
  uint64_t since = 0;
  size_t limit = 1000;
  const std::string s = QueryParam(query, "since"), l = QueryParam(query, "limit"), t = QueryParam(query, "type");
  if (!s.empty()) {
    auto v = ParseU64(s);
    if (!v) return Error(400, "BadRequest", "since must be an event sequence number");
    since = *v;
  }
  if (!l.empty()) {
    auto v = ParseU64(l);
    if (!v || *v == 0 || *v > 20'000) return Error(400, "BadRequest", "limit must be from 1 to 20000");
    limit = static_cast<size_t>(*v);
  }
  std::vector<std::string> types = SplitList(t, ',');
  for (const auto& ty : types) {
    if (ty != "probe" && ty != "health" && ty != "routing" && ty != "origin") {
      return Error(400, "BadRequest", "type must be probe, health, routing or origin");
    }
  }
  json events = json::array();
  uint64_t cursor = since;
  // Filtering may need several pages of the log to fill `limit`.
  while (events.size() < limit) {
    auto page = model.Events(cursor, 1000);
    if (page.empty()) break;
    for (const Event& e : page) {
      cursor = e.seq;
      if (!types.empty() && std::find(types.begin(), types.end(), EventTypeName(e.type)) == types.end()) continue;
      events.push_back(EventJson(e));
      if (events.size() >= limit) break;
    }
  }
  json out = {{"lastSeq", model.LastEventSeq()}, {"events", events}};
  return {200, "application/json", out.dump()};
}

AdminReply PutOrigin(HealthModel& model, const std::string& name, std::string_view body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return Error(400, "BadRequest", "the body must be a JSON object such as {\"enabled\":false}");
  HealthModel::OriginPatch patch;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "enabled") {
      if (!it->is_boolean()) return Error(400, "BadRequest", "enabled must be true or false");
      patch.enabled = it->get<bool>();
    } else if (it.key() == "priority" || it.key() == "weight") {
      if (!it->is_number_integer()) return Error(400, "BadRequest", it.key() + " must be an integer");
      const int64_t v = it->get<int64_t>();
      if (v < 1 || v > 1000) return Error(400, "BadRequest", it.key() + " must be from 1 to 1000");
      (it.key() == "priority" ? patch.priority : patch.weight) = static_cast<int>(v);
    } else {
      return Error(400, "BadRequest", "unknown field '" + it.key() + "' (enabled, priority, weight)");
    }
  }
  Status st = model.UpdateOrigin(name, patch);
  if (st.code() == StatusCode::kNotFound) return Error(404, "NotFound", st.message());
  if (!st.ok()) return Error(400, "BadRequest", st.message());
  for (const auto& o : model.Snapshot().origins) {
    if (o.config.name != name) continue;
    json r = {{"name", o.config.name},
              {"url", o.config.url},
              {"priority", o.config.priority},
              {"weight", o.config.weight},
              {"enabled", o.config.enabled}};
    return {200, "application/json", r.dump()};
  }
  return Error(404, "NotFound", "no origin named '" + name + "'");
}

std::string Label(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::string StateJson(const ModelSnapshot& snap) {
  json origins = json::array();
  for (const auto& o : snap.origins) {
    json pops = json::array();
    for (size_t p = 0; p < o.pops.size(); ++p) {
      const auto& po = o.pops[p];
      json window = json::array();
      std::string text;
      for (const auto& w : po.window) {
        window.push_back({{"ok", w.ok},
                          {"status", w.http_status},
                          {"latencyMs", static_cast<double>(w.latency_us) / 1000.0},
                          {"fdMs", w.started_fd_us / 1000}});
        text += w.ok ? '1' : '0';
      }
      pops.push_back({{"pop", p},
                      {"healthy", po.healthy},
                      {"latencyMs", po.latency_us ? json(static_cast<double>(*po.latency_us) / 1000.0) : json(nullptr)},
                      {"window", window},
                      {"windowText", text}});
    }
    origins.push_back({{"name", o.config.name},
                       {"url", o.config.url},
                       {"priority", o.config.priority},
                       {"weight", o.config.weight},
                       {"enabled", o.config.enabled},
                       {"requests", o.requests},
                       {"responses5xx", o.responses_5xx},
                       {"failures", o.failures},
                       {"probes", o.probes},
                       {"probesFailed", o.probes_failed},
                       {"pops", pops}});
  }
  json pops = json::array();
  for (const auto& p : snap.pops) {
    pops.push_back({{"pop", p.index},
                    {"phaseFdMs", p.phase_fd_us / 1000},
                    {"nextProbeFdMs", p.next_probe_fd_us / 1000},
                    {"mode", p.mode},
                    {"routing", p.routing}});
  }
  json out = {{"settings", SettingsJson(snap.settings)},
              {"promise", PromiseJson(snap)},
              {"now", MomentJson({snap.wall_now_us, snap.fd_now_us}, snap)},
              {"startedWallMs", snap.started_wall_us / 1000},
              {"origins", origins},
              {"pops", pops},
              {"lastFailover", snap.last_failover ? FailoverBody(*snap.last_failover, snap) : json(nullptr)}};
  return out.dump();
}

std::string FailoverJson(const ModelSnapshot& snap) {
  json out = {{"settings", SettingsJson(snap.settings)},
              {"promise", PromiseJson(snap)},
              {"failover", snap.last_failover ? FailoverBody(*snap.last_failover, snap) : json(nullptr)}};
  return out.dump();
}

std::string MetricsText(const ModelSnapshot& snap) {
  std::ostringstream m;
  auto counter = [&](const char* name, const char* help, auto get) {
    m << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n";
    for (const auto& o : snap.origins) m << name << "{origin=\"" << Label(o.config.name) << "\"} " << get(o) << "\n";
  };
  counter("regionlab_frontdoor_requests_total", "Requests sent to each origin.",
          [](const ModelSnapshot::Origin& o) { return o.requests; });
  counter("regionlab_frontdoor_responses_5xx_total", "5xx responses from each origin.",
          [](const ModelSnapshot::Origin& o) { return o.responses_5xx; });
  counter("regionlab_frontdoor_origin_failures_total", "Requests that got no response from the origin.",
          [](const ModelSnapshot::Origin& o) { return o.failures; });
  counter("regionlab_frontdoor_probes_total", "Health probes sent to each origin (all POPs).",
          [](const ModelSnapshot::Origin& o) { return o.probes; });
  counter("regionlab_frontdoor_probes_failed_total", "Failed health probes.",
          [](const ModelSnapshot::Origin& o) { return o.probes_failed; });
  m << "# HELP regionlab_frontdoor_origin_healthy 1 when the POP holds the origin healthy.\n"
       "# TYPE regionlab_frontdoor_origin_healthy gauge\n";
  for (const auto& o : snap.origins) {
    for (size_t p = 0; p < o.pops.size(); ++p) {
      m << "regionlab_frontdoor_origin_healthy{origin=\"" << Label(o.config.name) << "\",pop=\"" << p << "\"} "
        << (o.pops[p].healthy ? 1 : 0) << "\n";
    }
  }
  m << "# HELP regionlab_frontdoor_origin_latency_seconds Average probe latency of the window.\n"
       "# TYPE regionlab_frontdoor_origin_latency_seconds gauge\n";
  for (const auto& o : snap.origins) {
    for (size_t p = 0; p < o.pops.size(); ++p) {
      if (!o.pops[p].latency_us) continue;
      m << "regionlab_frontdoor_origin_latency_seconds{origin=\"" << Label(o.config.name) << "\",pop=\"" << p
        << "\"} " << static_cast<double>(*o.pops[p].latency_us) / 1e6 << "\n";
    }
  }
  m << "# HELP regionlab_frontdoor_routed 1 when the POP routes to the origin.\n"
       "# TYPE regionlab_frontdoor_routed gauge\n";
  for (const auto& p : snap.pops) {
    for (const auto& o : snap.origins) {
      const bool on = std::find(p.routing.begin(), p.routing.end(), o.config.name) != p.routing.end();
      m << "regionlab_frontdoor_routed{origin=\"" << Label(o.config.name) << "\",pop=\"" << p.index << "\"} "
        << (on ? 1 : 0) << "\n";
    }
  }
  m << "# HELP regionlab_frontdoor_failover_worst_case_seconds What the settings promise (Front-Door time).\n"
       "# TYPE regionlab_frontdoor_failover_worst_case_seconds gauge\n"
    << "regionlab_frontdoor_failover_worst_case_seconds " << static_cast<double>(snap.promise.worst_case_ms) / 1000
    << "\n";
  if (snap.last_failover && !snap.last_failover->marked.empty()) {
    const auto& f = *snap.last_failover;
    m << "# HELP regionlab_frontdoor_last_failover_detection_seconds First failed probe to the last POP marking "
         "the origin unhealthy (Front-Door time).\n"
         "# TYPE regionlab_frontdoor_last_failover_detection_seconds gauge\n"
      << "regionlab_frontdoor_last_failover_detection_seconds{origin=\"" << Label(f.origin) << "\"} "
      << static_cast<double>(f.marked.back().at.fd_us - f.first_failed_probe.fd_us) / 1e6 << "\n";
  }
  return m.str();
}

std::optional<AdminReply> HandleAdmin(HealthModel& model, std::string_view method, std::string_view path,
                                      std::string_view query, std::string_view body) {
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const bool get = method == "GET" || method == "HEAD";
  if (path == "/health") return get ? AdminReply{200, "application/json", "{\"status\":\"ok\"}"} : Error(405, "MethodNotAllowed", "GET only");
  if (path == "/metrics" || path == "/frontdoor/metrics") {
    if (!get) return Error(405, "MethodNotAllowed", "GET only");
    return AdminReply{200, "text/plain; version=0.0.4", MetricsText(model.Snapshot())};
  }
  if (path == "/frontdoor") {
    if (!get) return Error(405, "MethodNotAllowed", "GET only");
    return AdminReply{200, "application/json", StateJson(model.Snapshot())};
  }
  if (path == "/frontdoor/events") {
    if (!get) return Error(405, "MethodNotAllowed", "GET only");
    return Events(model, query);
  }
  if (path == "/frontdoor/failover") {
    if (!get) return Error(405, "MethodNotAllowed", "GET only");
    return AdminReply{200, "application/json", FailoverJson(model.Snapshot())};
  }
  constexpr std::string_view kOrigins = "/frontdoor/origins/";
  if (path.substr(0, kOrigins.size()) == kOrigins) {
    const std::string name(path.substr(kOrigins.size()));
    if (name.empty() || name.find('/') != std::string::npos) return Error(404, "NotFound", "no such route");
    if (method != "PUT" && method != "PATCH") return Error(405, "MethodNotAllowed", "PUT only");
    return PutOrigin(model, name, body);
  }
  if (path.substr(0, 10) == "/frontdoor") return Error(404, "NotFound", "no such front door route");
  return std::nullopt;
}

}  // namespace regionlab::frontdoor
