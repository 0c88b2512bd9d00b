#include "frontdoor/health.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "base/hash.h"

namespace regionlab::frontdoor {

const char* ModeName(RouteDecision::Mode m) {
  switch (m) {
    case RouteDecision::Mode::kNormal:
      return "normal";
    case RouteDecision::Mode::kAllUnhealthy:
      return "allUnhealthy";
    case RouteDecision::Mode::kNone:
      return "none";
  }
  return "none";
}

Result<std::unique_ptr<HealthModel>> HealthModel::Create(Settings settings, std::vector<OriginConfig> origins,
                                                         const Clock& clock) {
  RL_RETURN_IF_ERROR(settings.Validate());
  if (origins.empty()) return Status::BadRequest("at least one origin is required");
  std::set<std::string> names;
  for (const auto& o : origins) {
    if (!names.insert(o.name).second) return Status::BadRequest("origin '" + o.name + "' is given twice");
    if (o.priority < 1 || o.priority > 1000) return Status::BadRequest("origin '" + o.name + "': bad priority");
    if (o.weight < 1 || o.weight > 1000) return Status::BadRequest("origin '" + o.name + "': bad weight");
  }
  return std::unique_ptr<HealthModel>(new HealthModel(std::move(settings), std::move(origins), clock));
}

HealthModel::HealthModel(Settings settings, std::vector<OriginConfig> origins, const Clock& clock)
    : settings_(std::move(settings)),
      clock_(clock),
      time_{clock.NowMicros(), settings_.time_scale},
      promise_(ComputePromise(settings_)) {
  const int n = settings_.pops;
  for (auto& o : origins) {
    OriginState s;
    s.config = std::move(o);
    s.pops.resize(n);
    for (auto& po : s.pops) po.healthy = settings_.new_origin_healthy;
    origins_.push_back(std::move(s));
  }
  pops_.resize(n);
  const int64_t interval_us = settings_.probe_interval_ms * 1000;
  for (int i = 0; i < n; ++i) {
    pops_[i].next_due_fd_us = interval_us * i / n;
    ComputeCandidatesLocked(i, &pops_[i].mode, &pops_[i].candidates);
  }
}

Moment HealthModel::NowLocked() const {
  const int64_t wall = clock_.NowMicros();
  return {wall, time_.FdSinceStart(wall)};
}

bool HealthModel::HealthyLocked(const PopOrigin& po) const {
  int ok = 0;
  for (const Sample& s : po.window) ok += s.ok ? 1 : 0;
  if (settings_.new_origin_healthy) ok += settings_.sample_size - static_cast<int>(po.window.size());
  return ok >= settings_.successful_samples_required;
}

std::optional<int64_t> HealthModel::LatencyLocked(const PopOrigin& po) const {
  int64_t sum = 0;
  int n = 0;
  for (const Sample& s : po.window) {
    if (!s.ok) continue;
    sum += s.latency_us;
    ++n;
  }
  if (n == 0) return std::nullopt;
  return sum / n;
}

void HealthModel::ComputeCandidatesLocked(int pop, RouteDecision::Mode* mode, std::vector<size_t>* out) const {
  out->clear();
  std::vector<size_t> enabled, healthy;
  for (size_t i = 0; i < origins_.size(); ++i) {
    if (!origins_[i].config.enabled) continue;
    enabled.push_back(i);
    if (origins_[i].pops[pop].healthy) healthy.push_back(i);
  }
  if (enabled.empty()) {
    *mode = RouteDecision::Mode::kNone;
    return;
  }
  if (healthy.empty()) {
    *mode = RouteDecision::Mode::kAllUnhealthy;
    *out = enabled;
    return;
  }
  *mode = RouteDecision::Mode::kNormal;
  int best = 1 << 30;
  for (size_t i : healthy) best = std::min(best, origins_[i].config.priority);
  std::vector<size_t> top;
  std::optional<int64_t> fastest;
  for (size_t i : healthy) {
    if (origins_[i].config.priority != best) continue;
    top.push_back(i);
    const auto lat = LatencyLocked(origins_[i].pops[pop]);
    if (lat && (!fastest || *lat < *fastest)) fastest = lat;
  }
  for (size_t i : top) {
    const auto lat = LatencyLocked(origins_[i].pops[pop]);
    if (!lat || !fastest || *lat <= *fastest + settings_.additional_latency_ms * 1000) out->push_back(i);
  }
}

void HealthModel::AddEventLocked(Event e, Moment now) {
  e.wall_us = now.wall_us;
  e.fd_us = now.fd_us;
  events_.Add(std::move(e));
}

void HealthModel::RefreshRoutingLocked(int pop, Moment now) {
  PopState& ps = pops_[pop];
  RouteDecision::Mode mode;
  std::vector<size_t> cands;
  ComputeCandidatesLocked(pop, &mode, &cands);
  if (mode == ps.mode && cands == ps.candidates) return;
  Event e;
  e.type = Event::Type::kRouting;
  e.pop = pop;
  for (size_t i : ps.candidates) e.from.push_back(origins_[i].config.name);
  for (size_t i : cands) e.to.push_back(origins_[i].config.name);
  e.mode = ModeName(mode);
  ps.mode = mode;
  ps.candidates = std::move(cands);
  for (auto& o : origins_) o.pops[pop].wrr_current = 0;  // a new set starts a new round
  AddEventLocked(std::move(e), now);
}

std::vector<ProbeTask> HealthModel::TakeDueProbes() {
  std::lock_guard<std::mutex> lock(mu_);
  const Moment now = NowLocked();
  const int64_t interval_us = settings_.probe_interval_ms * 1000;
  std::vector<ProbeTask> tasks;
  for (int p = 0; p < static_cast<int>(pops_.size()); ++p) {
    PopState& ps = pops_[p];
    if (ps.next_due_fd_us > now.fd_us) continue;
    for (const OriginState& o : origins_) {
      if (!o.config.enabled) continue;
      tasks.push_back({p, o.config.name, o.config.url, o.generation, now.wall_us});
    }
    ps.next_due_fd_us += interval_us;
    if (ps.next_due_fd_us <= now.fd_us) {  // fell behind: skip to the next round of this POP's phase
      const int64_t behind = now.fd_us - ps.next_due_fd_us;
      ps.next_due_fd_us += (behind / interval_us + 1) * interval_us;
    }
  }
  return tasks;
}

int64_t HealthModel::NextProbeWallMicros() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t next = INT64_MAX;
  for (const PopState& ps : pops_) next = std::min(next, ps.next_due_fd_us);
  return time_.wall_epoch_us + time_.ToWall(next);
}

void HealthModel::RecordProbe(const ProbeTask& task, const ProbeOutcome& outcome) {
  std::lock_guard<std::mutex> lock(mu_);
  if (task.pop < 0 || task.pop >= static_cast<int>(pops_.size())) return;
  auto it = std::find_if(origins_.begin(), origins_.end(),
                         [&](const OriginState& o) { return o.config.name == task.origin; });
  if (it == origins_.end() || it->generation != task.generation || !it->config.enabled) return;
  const Moment now = NowLocked();
  OriginState& o = *it;
  PopOrigin& po = o.pops[task.pop];
  ++o.probes;
  if (!outcome.ok) ++o.probes_failed;
  Sample s{outcome.ok, outcome.http_status, outcome.latency_us,
           {task.started_wall_us, time_.FdSinceStart(task.started_wall_us)}};
  po.window.push_back(s);
  while (static_cast<int>(po.window.size()) > settings_.sample_size) po.window.pop_front();

  Event pe;
  pe.type = Event::Type::kProbe;
  pe.pop = task.pop;
  pe.origin = o.config.name;
  pe.ok = outcome.ok;
  pe.http_status = outcome.http_status;
  pe.latency_us = outcome.latency_us;
  pe.detail = outcome.error;
  AddEventLocked(std::move(pe), now);

  const bool healthy = HealthyLocked(po);
  if (healthy != po.healthy) {
    po.healthy = healthy;
    Event he;
    he.type = Event::Type::kHealth;
    he.pop = task.pop;
    he.origin = o.config.name;
    he.healthy = healthy;
    for (const Sample& w : po.window) he.window += w.ok ? '1' : '0';
    AddEventLocked(std::move(he), now);
    if (!healthy) {
      // The failure run this POP saw: the trailing failed samples, oldest first.
      Moment run_start = s.started;
      for (auto w = po.window.rbegin(); w != po.window.rend() && !w->ok; ++w) run_start = w->started;
      failovers_.OnUnhealthy(o.config.name, task.pop, now, run_start, settings_.pops);
    } else {
      failovers_.OnHealthy(o.config.name, task.pop, now);
    }
  }
  RefreshRoutingLocked(task.pop, now);
}

Result<int> HealthModel::PopFor(std::string_view client_address, const std::string* pop_header) const {
  const int n = settings_.pops;
  if (pop_header != nullptr) {
    int v = -1;
    const char* b = pop_header->data();
    const char* e = b + pop_header->size();
    const auto [p, ec] = std::from_chars(b, e, v);
    if (ec != std::errc() || p != e || v < 0 || v >= n) {
      return Status::BadRequest("x-regionlab-pop must be a POP index from 0 to " + std::to_string(n - 1) +
                                ", not '" + *pop_header + "'");
    }
    return v;
  }
  // Hash the address without its port, so one client keeps one POP.
  std::string_view host = client_address;
  const size_t colon = host.rfind(':');
  if (colon != std::string_view::npos && host.find(']') != std::string_view::npos) {
    host = host.substr(0, host.rfind(']') + 1);
  } else if (colon != std::string_view::npos && host.find(':') == colon) {
    host = host.substr(0, colon);
  }
  return static_cast<int>(Fnv1a64(host) % static_cast<uint64_t>(n));
}

RouteDecision HealthModel::Route(int pop) {
  std::lock_guard<std::mutex> lock(mu_);
  RouteDecision d;
  d.pop = pop;
  if (pop < 0 || pop >= static_cast<int>(pops_.size())) return d;
  const PopState& ps = pops_[pop];
  d.mode = ps.mode;
  if (ps.candidates.empty()) return d;
  // Smooth weighted round robin (equal weights when every origin is unhealthy).
  const bool weighted = ps.mode == RouteDecision::Mode::kNormal;
  int64_t total = 0;
  size_t pick = ps.candidates.front();
  int64_t best = INT64_MIN;
  for (size_t i : ps.candidates) {
    const int64_t w = weighted ? origins_[i].config.weight : 1;
    total += w;
    PopOrigin& po = origins_[i].pops[pop];
    po.wrr_current += w;
    if (po.wrr_current > best) {
      best = po.wrr_current;
      pick = i;
    }
  }
  origins_[pick].pops[pop].wrr_current -= total;
  d.origin = origins_[pick].config.name;
  d.url = origins_[pick].config.url;
  // Fallbacks when the pick cannot be reached: the other candidates, then the
  // other origins healthy at this POP by priority.
  for (size_t i : ps.candidates) {
    if (i != pick) d.fallbacks.emplace_back(origins_[i].config.name, origins_[i].config.url);
  }
  std::vector<size_t> rest;
  for (size_t i = 0; i < origins_.size(); ++i) {
    if (i == pick || !origins_[i].config.enabled || !origins_[i].pops[pop].healthy) continue;
    if (std::find(ps.candidates.begin(), ps.candidates.end(), i) != ps.candidates.end()) continue;
    rest.push_back(i);
  }
  std::stable_sort(rest.begin(), rest.end(),
                   [&](size_t a, size_t b) { return origins_[a].config.priority < origins_[b].config.priority; });
  for (size_t i : rest) d.fallbacks.emplace_back(origins_[i].config.name, origins_[i].config.url);
  return d;
}

void HealthModel::RecordServed(int pop, const std::string& origin, int64_t routed_wall_us, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  for (OriginState& o : origins_) {
    if (o.config.name != origin) continue;
    ++o.requests;
    if (status == 0) ++o.failures;
    if (status >= 500) ++o.responses_5xx;
  }
  failovers_.OnServed(origin, pop, {routed_wall_us, time_.FdSinceStart(routed_wall_us)}, status);
}

Status HealthModel::UpdateOrigin(const std::string& name, const OriginPatch& patch) {
  if (patch.priority && (*patch.priority < 1 || *patch.priority > 1000)) {
    return Status::BadRequest("priority must be from 1 to 1000");
  }
  if (patch.weight && (*patch.weight < 1 || *patch.weight > 1000)) {
    return Status::BadRequest("weight must be from 1 to 1000");
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::find_if(origins_.begin(), origins_.end(), [&](const OriginState& o) { return o.config.name == name; });
  if (it == origins_.end()) return Status::NotFound("no origin named '" + name + "'");
  const Moment now = NowLocked();
  OriginState& o = *it;
  std::string what;
  if (patch.enabled && *patch.enabled != o.config.enabled) {
    o.config.enabled = *patch.enabled;
    ++o.generation;  // results of probes already sent no longer count
    for (PopOrigin& po : o.pops) {
      po.window.clear();
      po.healthy = settings_.new_origin_healthy;
      po.wrr_current = 0;
    }
    what += o.config.enabled ? "enabled" : "disabled";
  }
  if (patch.priority && *patch.priority != o.config.priority) {
    o.config.priority = *patch.priority;
    what += (what.empty() ? "" : ", ") + std::string("priority=") + std::to_string(*patch.priority);
  }
  if (patch.weight && *patch.weight != o.config.weight) {
    o.config.weight = *patch.weight;
    what += (what.empty() ? "" : ", ") + std::string("weight=") + std::to_string(*patch.weight);
  }
  if (what.empty()) return Status::Ok();
  Event e;
  e.type = Event::Type::kOrigin;
  e.origin = name;
  e.detail = what;
  AddEventLocked(std::move(e), now);
  for (int p = 0; p < static_cast<int>(pops_.size()); ++p) RefreshRoutingLocked(p, now);
  return Status::Ok();
}

ModelSnapshot HealthModel::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  ModelSnapshot s;
  s.settings = settings_;
  s.promise = promise_;
  const Moment now = NowLocked();
  s.wall_now_us = now.wall_us;
  s.fd_now_us = now.fd_us;
  s.started_wall_us = time_.wall_epoch_us;
  for (const OriginState& o : origins_) {
    ModelSnapshot::Origin so;
    so.config = o.config;
    so.requests = o.requests;
    so.responses_5xx = o.responses_5xx;
    so.failures = o.failures;
    so.probes = o.probes;
    so.probes_failed = o.probes_failed;
    for (const PopOrigin& po : o.pops) {
      ModelSnapshot::PopOrigin sp;
      for (const Sample& w : po.window) sp.window.push_back({w.ok, w.http_status, w.latency_us, w.started.fd_us});
      sp.healthy = po.healthy;
      sp.latency_us = LatencyLocked(po);
      so.pops.push_back(std::move(sp));
    }
    s.origins.push_back(std::move(so));
  }
  const int n = static_cast<int>(pops_.size());
  for (int p = 0; p < n; ++p) {
    ModelSnapshot::Pop sp;
    sp.index = p;
    sp.phase_fd_us = settings_.probe_interval_ms * 1000 * p / n;
    sp.next_probe_fd_us = pops_[p].next_due_fd_us;
    sp.mode = ModeName(pops_[p].mode);
    for (size_t i : pops_[p].candidates) sp.routing.push_back(origins_[i].config.name);
    s.pops.push_back(std::move(sp));
  }
  if (const Failover* f = failovers_.last()) s.last_failover = *f;
  return s;
}

std::vector<Event> HealthModel::Events(uint64_t since, size_t limit) const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_.Since(since, limit);
}

uint64_t HealthModel::LastEventSeq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_.last_seq();
}

}  // namespace regionlab::frontdoor
