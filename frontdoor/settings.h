// The configuration of the Front Door emulator, named as on the Azure resource
// (an origin group's origins, health probe settings and load-balancing
// settings), and what those settings promise about failover. Plain values and
// pure functions; thread-safe. Semantics and citations: docs/frontdoor.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace regionlab::frontdoor {

// One origin of the origin group.
struct OriginConfig {
  std::string name;  // unique in the group; letters, digits, '-', '_', '.'
  std::string url;   // "http://host:port" (a trailing "/" is allowed; no path)
  // Lower value = higher priority. Azure allows 1..5; we accept 1..1000.
  int priority = 1;
  // Share of traffic among origins picked together, 1..1000 (Azure's default: 50).
  int weight = 50;
  // A disabled origin gets neither probes nor traffic.
  bool enabled = true;
};

// An origin URL's host and port: "http://host[:port][/]" (port 80 by
// default; an IPv6 literal in brackets). BadRequest for anything else.
struct HostPort {
  std::string host;  // without brackets
  std::string port;
};
Result<HostPort> SplitOriginUrl(std::string_view url);

// Parses "NAME=URL[,priority=P][,weight=W][,enabled=true|false]".
// BadRequest naming the offending part otherwise.
Result<OriginConfig> ParseOriginSpec(std::string_view spec);

struct Settings {
  // Load-balancing settings: an origin is healthy at a POP when at least
  // `successful_samples_required` of the last `sample_size` probes from that
  // POP succeeded (HTTP 200 within the probe timeout). Defaults 4 and 3.
  int sample_size = 4;
  int successful_samples_required = 3;
  // Health probe settings, in Front-Door time (see time_scale).
  int64_t probe_interval_ms = 30'000;  // default 30 s, as in Azure
  int64_t probe_timeout_ms = 0;        // 0 = the probe interval
  std::string probe_path = "/";
  std::string probe_method = "HEAD";   // "GET" or "HEAD" (Azure's default)
  // Latency sensitivity: of the healthy origins of the best priority, those
  // whose probe latency is within this of the fastest. Real milliseconds
  // (not scaled). Default 50 ms.
  int64_t additional_latency_ms = 50;
  // Points of presence: independent probers, phases staggered by
  // interval / pops. Default 1.
  int pops = 1;
  // Every interval and timeout runs this many times faster than configured
  // (30 s at 60 = 0.5 s of wall time). Default 1.
  double time_scale = 1.0;
  // Per proxied request: connecting, sending the request and each wait for
  // the origin's response (first byte, then between body reads), in
  // Front-Door time; exceeded before the response started = 504. Default 30 s
  // (Azure's default origin response timeout).
  int64_t origin_timeout_ms = 30'000;
  // What an origin that was just added or re-enabled starts as: healthy (its
  // missing samples count as successes) or unhealthy (as failures). Azure does
  // not document it; default healthy (docs/frontdoor.md).
  bool new_origin_healthy = true;

  // BadRequest naming the first invalid setting.
  Status Validate() const;
  // The probe timeout in Front-Door milliseconds (resolving the default).
  int64_t EffectiveProbeTimeoutMs() const {
    return probe_timeout_ms > 0 ? probe_timeout_ms : probe_interval_ms;
  }
};

// What the settings promise about detecting a dead origin, in Front-Door
// milliseconds from the moment the origin starts failing every probe (with a
// window full of successes before): each POP needs
// `failures_needed` = sample_size - successful_samples_required + 1 failed
// probes. The first failing probe starts within one interval of the fault, the
// last one completes at most a probe timeout after it starts, so every POP marks
// the origin unhealthy within worst_case_ms; none can before best_case_ms
// (probes that fail at once, the fault just before a probe). POPs run on
// staggered phases, so they switch at different moments within that range:
// their spread is at most pop_spread_ms.
struct FailoverPromise {
  int failures_needed = 0;
  int64_t best_case_ms = 0;   // (failures_needed - 1) * interval
  int64_t worst_case_ms = 0;  // failures_needed * interval + probe timeout
  int64_t pop_spread_ms = 0;  // interval + probe timeout (0 with one POP)
};
FailoverPromise ComputePromise(const Settings& s);

// Front-Door time: starts equal to the wall clock's elapsed time and runs
// `scale` times faster. All values in microseconds.
struct TimeScale {
  int64_t wall_epoch_us = 0;
  double scale = 1.0;
  // Front-Door microseconds since the epoch for a wall-clock time.
  int64_t FdSinceStart(int64_t wall_us) const {
    return static_cast<int64_t>(static_cast<double>(wall_us - wall_epoch_us) * scale);
  }
  // Wall-clock microseconds that a Front-Door duration takes.
  int64_t ToWall(int64_t fd_us) const { return static_cast<int64_t>(static_cast<double>(fd_us) / scale); }
  int64_t ToFd(int64_t wall_us) const { return static_cast<int64_t>(static_cast<double>(wall_us) * scale); }
};

}  // namespace regionlab::frontdoor
