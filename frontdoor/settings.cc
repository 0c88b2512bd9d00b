#include "frontdoor/settings.h"

#include <cctype>
#include <charconv>
#include <cmath>

#include "base/encoding.h"

namespace regionlab::frontdoor {
namespace {

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

Result<int> ParseIntIn(std::string_view key, std::string_view text, int lo, int hi) {
  int v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < lo || v > hi) {
    return Status::BadRequest(std::string(key) + " must be an integer from " + std::to_string(lo) + " to " +
                              std::to_string(hi) + ", not '" + std::string(text) + "'");
  }
  return v;
}

}  // namespace

Result<HostPort> SplitOriginUrl(std::string_view url) {
  auto bad = [&] {
    return Status::BadRequest("the URL must be http://host[:port] without a path (got '" + std::string(url) + "')");
  };
  if (url.rfind("http://", 0) != 0) {
    return Status::BadRequest("the URL must start with http:// (got '" + std::string(url) + "')");
  }
  std::string_view rest = url.substr(7);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty() || rest.find('/') != std::string_view::npos) return bad();
  HostPort hp;
  std::string_view port;
  if (rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad();
    hp.host = std::string(rest.substr(1, close - 1));
    const std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad();
      port = after.substr(1);
    }
  } else {
    const size_t colon = rest.find(':');
    hp.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  if (hp.host.empty()) return bad();
  if (port.empty()) {
    hp.port = "80";
  } else {
    auto p = ParseIntIn("port", port, 1, 65535);
    if (!p.ok()) return bad();
    hp.port = std::string(port);
  }
  return hp;
}

Result<OriginConfig> ParseOriginSpec(std::string_view spec) {
  const std::string whole(spec);
  const size_t eq = spec.find('=');
  if (eq == std::string_view::npos) {
    return Status::BadRequest("origin '" + whole + "': expected NAME=URL[,priority=P][,weight=W][,enabled=false]");
  }
  OriginConfig o;
  o.name = std::string(spec.substr(0, eq));
  if (!ValidName(o.name)) {
    return Status::BadRequest("origin '" + whole + "': the name must be 1-64 letters, digits, '-', '_' or '.'");
  }
  std::vector<std::string> parts = SplitList(spec.substr(eq + 1), ',');
  if (parts.empty()) return Status::BadRequest("origin '" + o.name + "': no URL");
  o.url = parts[0];
  if (auto hp = SplitOriginUrl(o.url); !hp.ok()) {
    return Status::BadRequest("origin '" + o.name + "': " + hp.status().message());
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& kv = parts[i];
    const size_t e = kv.find('=');
    if (e == std::string::npos) return Status::BadRequest("origin '" + o.name + "': '" + kv + "' is not key=value");
    const std::string key = ToLower(kv.substr(0, e));
    const std::string_view value = std::string_view(kv).substr(e + 1);
    if (key == "priority") {
      auto v = ParseIntIn("priority", value, 1, 1000);
      if (!v.ok()) return Status::BadRequest("origin '" + o.name + "': " + v.status().message());
      o.priority = *v;
    } else if (key == "weight") {
      auto v = ParseIntIn("weight", value, 1, 1000);
      if (!v.ok()) return Status::BadRequest("origin '" + o.name + "': " + v.status().message());
      o.weight = *v;
    } else if (key == "enabled") {
      const std::string b = ToLower(value);
      if (b != "true" && b != "false") {
        return Status::BadRequest("origin '" + o.name + "': enabled must be true or false");
      }
      o.enabled = b == "true";
    } else {
      return Status::BadRequest("origin '" + o.name + "': unknown setting '" + key +
                                "' (priority, weight, enabled)");
    }
  }
  return o;
}

Status Settings::Validate() const {
  if (sample_size < 1 || sample_size > 255) return Status::BadRequest("sample size must be from 1 to 255");
  if (successful_samples_required < 1 || successful_samples_required > sample_size) {
    return Status::BadRequest("successful samples required must be from 1 to the sample size (" +
                              std::to_string(sample_size) + ")");
  }
  if (probe_interval_ms < 1) return Status::BadRequest("the probe interval must be positive");
  if (probe_timeout_ms < 0) return Status::BadRequest("the probe timeout must not be negative");
  if (probe_path.empty() || probe_path[0] != '/' ||
      probe_path.find_first_of(std::string_view(" \r\n\0", 4)) != std::string::npos) {
    return Status::BadRequest("the probe path must start with '/' and contain no spaces");
  }
  if (probe_method != "GET" && probe_method != "HEAD") return Status::BadRequest("the probe method must be GET or HEAD");
  if (additional_latency_ms < 0) return Status::BadRequest("the additional latency must not be negative");
  if (pops < 1 || pops > 64) return Status::BadRequest("pops must be from 1 to 64");
  if (!(time_scale > 0) || !std::isfinite(time_scale) || time_scale > 1e6) {
    return Status::BadRequest("the time scale must be a positive number (at most 1e6)");
  }
  if (origin_timeout_ms < 1) return Status::BadRequest("the origin timeout must be positive");
  return Status::Ok();
}

FailoverPromise ComputePromise(const Settings& s) {
  FailoverPromise p;
  p.failures_needed = s.sample_size - s.successful_samples_required + 1;
  const int64_t timeout = s.EffectiveProbeTimeoutMs();
  p.best_case_ms = static_cast<int64_t>(p.failures_needed - 1) * s.probe_interval_ms;
  p.worst_case_ms = static_cast<int64_t>(p.failures_needed) * s.probe_interval_ms + timeout;
  p.pop_spread_ms = s.pops > 1 ? s.probe_interval_ms + timeout : 0;
  return p;
}

}  // namespace regionlab::frontdoor
