// HealthModel: the Front Door's brain, with no I/O. It holds the origin group,
// decides when each POP probes, keeps each POP's sliding window of probe
// results per origin, turns windows into health verdicts, picks the origin
// for a request, counts what was served, and records events and failovers.
//
// Time comes from a Clock (wall time); the model converts it to Front-Door
// time with the settings' time_scale, and every interval it works with is in
// Front-Door time. Tests drive it with tests/support/fake_clock.h.
//
// Semantics (Azure's, cited in docs/frontdoor.md):
//  - Each POP probes every enabled origin once per interval; POP i's rounds
//    are at i * interval / pops + k * interval from the start.
//  - At a POP, an origin is healthy when at least successful_samples_required
//    of its last sample_size probes succeeded. Missing samples (a new or
//    re-enabled origin) count as the settings' new_origin_healthy says.
//  - A request through a POP goes to: the enabled origins healthy at that
//    POP; of them, those with the lowest priority value; of them, those whose
//    average probe latency is within additional_latency of the fastest (an
//    origin not yet measured is kept); spread by weight with smooth weighted
//    round robin (deterministic: 5:8 weights give exactly 5 and 8 of 13).
//    When no enabled origin is healthy at that POP, it goes round robin to all
//    enabled origins (Azure's "complete health probe failure"). When no
//    origin is enabled, nowhere.
//
// Thread-safe: every public method takes the model's mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "frontdoor/events.h"
#include "frontdoor/settings.h"

namespace regionlab::frontdoor {

// One probe to send: which POP probes which origin. `generation` lets the
// model drop results of probes sent before the origin was disabled or changed.
struct ProbeTask {
  int pop = 0;
  std::string origin;
  std::string url;
  uint64_t generation = 0;
  int64_t started_wall_us = 0;  // set by the model when it hands the task out
};

struct ProbeOutcome {
  bool ok = false;        // HTTP 200 within the timeout
  int http_status = 0;    // 0 when no response was received
  int64_t latency_us = 0; // wall-clock round trip
  std::string error;      // why it failed, for the event log
};

// Where one request goes.
struct RouteDecision {
  enum class Mode { kNormal, kAllUnhealthy, kNone };
  Mode mode = Mode::kNone;
  int pop = 0;
  std::string origin;  // empty when mode == kNone
  std::string url;
  // The other candidates in the order to try if `origin` cannot be reached.
  std::vector<std::pair<std::string, std::string>> fallbacks;  // (name, url)
};
const char* ModeName(RouteDecision::Mode m);

// A read-only copy of the model for the admin API and reports.
struct ModelSnapshot {
  struct Sample {
    bool ok = false;
    int http_status = 0;
    int64_t latency_us = 0;
    int64_t started_fd_us = 0;
  };
  struct PopOrigin {
    std::vector<Sample> window;  // oldest first
    bool healthy = true;
    std::optional<int64_t> latency_us;  // average of the successful samples
  };
  struct Origin {
    OriginConfig config;
    uint64_t requests = 0, responses_5xx = 0, failures = 0;  // failures: no response
    uint64_t probes = 0, probes_failed = 0;
    std::vector<PopOrigin> pops;  // one per POP
  };
  struct Pop {
    int index = 0;
    int64_t phase_fd_us = 0;
    int64_t next_probe_fd_us = 0;
    std::string mode;                 // "normal", "allUnhealthy", "none"
    std::vector<std::string> routing; // candidate origins
  };
  Settings settings;
  FailoverPromise promise;
  int64_t wall_now_us = 0, fd_now_us = 0, started_wall_us = 0;
  std::vector<Origin> origins;
  std::vector<Pop> pops;
  std::optional<Failover> last_failover;
};

class HealthModel {
 public:
  // `clock` must outlive the model. Settings must be valid (Settings::Validate)
  // and origin names unique; Create checks both.
  static Result<std::unique_ptr<HealthModel>> Create(Settings settings, std::vector<OriginConfig> origins,
                                                     const Clock& clock);

  // The probes due now (each POP whose round time has come probes every
  // enabled origin), advancing those POPs to their next round. A POP that fell
  // more than a round behind skips the missed rounds.
  std::vector<ProbeTask> TakeDueProbes();
  // Wall-clock time (us) of the next POP round.
  int64_t NextProbeWallMicros() const;
  // Records a probe's result (ignored if the origin changed since the task was
  // handed out). Updates the window, the verdict, events and failovers.
  void RecordProbe(const ProbeTask& task, const ProbeOutcome& outcome);

  // The POP serving a client: `pop_header` (the x-regionlab-pop value: "0" ..
  // "pops-1") if given, else a hash of the client's address (without port).
  // BadRequest for a header that is not a POP index.
  Result<int> PopFor(std::string_view client_address, const std::string* pop_header) const;
  // Picks the origin for one request through `pop` (advances the weighted
  // round robin).
  RouteDecision Route(int pop);
  // Records that a request through `pop`, routed at `routed_wall_us`, was
  // served by `origin` with `status` (0 = no response from the origin).
  void RecordServed(int pop, const std::string& origin, int64_t routed_wall_us, int status);

  // PUT /frontdoor/origins/{name}: changes enabled / priority / weight.
  // Enabling a disabled origin resets its windows (it starts as
  // new_origin_healthy says). NotFound for an unknown origin.
  struct OriginPatch {
    std::optional<bool> enabled = std::nullopt;
    std::optional<int> priority = std::nullopt;
    std::optional<int> weight = std::nullopt;
  };
  Status UpdateOrigin(const std::string& name, const OriginPatch& patch);

  ModelSnapshot Snapshot() const;
  // Events with seq > since, at most `limit`.
  std::vector<Event> Events(uint64_t since, size_t limit) const;
  uint64_t LastEventSeq() const;

  const Settings& settings() const { return settings_; }
  const TimeScale& time() const { return time_; }

 private:
  struct Sample {
    bool ok = false;
    int http_status = 0;
    int64_t latency_us = 0;
    Moment started;
  };
  struct PopOrigin {
    std::deque<Sample> window;
    bool healthy = true;
    int64_t wrr_current = 0;  // smooth weighted round robin state
  };
  struct OriginState {
    OriginConfig config;
    uint64_t generation = 0;
    uint64_t requests = 0, responses_5xx = 0, failures = 0, probes = 0, probes_failed = 0;
    std::vector<PopOrigin> pops;
  };
  struct PopState {
    int64_t next_due_fd_us = 0;
    RouteDecision::Mode mode = RouteDecision::Mode::kNone;
    std::vector<size_t> candidates;  // origin indices
  };

  HealthModel(Settings settings, std::vector<OriginConfig> origins, const Clock& clock);

  Moment NowLocked() const;
  bool HealthyLocked(const PopOrigin& po) const;
  std::optional<int64_t> LatencyLocked(const PopOrigin& po) const;
  // Recomputes a POP's candidates; logs a routing event when they changed.
  void RefreshRoutingLocked(int pop, Moment now);
  void ComputeCandidatesLocked(int pop, RouteDecision::Mode* mode, std::vector<size_t>* out) const;
  void AddEventLocked(Event e, Moment now);

  const Settings settings_;
  const Clock& clock_;
  const TimeScale time_;
  const FailoverPromise promise_;

  mutable std::mutex mu_;
  std::vector<OriginState> origins_;  // guarded by mu_
  std::vector<PopState> pops_;        // guarded by mu_
  EventLog events_;                   // guarded by mu_
  FailoverTracker failovers_;         // guarded by mu_
};

}  // namespace regionlab::frontdoor
