#include "client/fault_cli.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "base/encoding.h"
#include "client/http_client.h"

namespace regionlab::client {

Result<int64_t> ParseDurationMs(std::string_view text, bool allow_negative) {
  std::string t(text);
  auto bad = [&] {
    return Status::BadRequest("'" + t + "' is not a duration (e.g. 240ms, 1.5s, 240" +
                              std::string(allow_negative ? ", -300ms" : "") + ")");
  };
  std::string_view s = text;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (s.empty()) return bad();
  double sign = 1;
  if (s.front() == '+' || s.front() == '-') {
    sign = s.front() == '-' ? -1 : 1;
    s.remove_prefix(1);
  }
  size_t n = 0;
  bool dot = false;
  while (n < s.size() && (std::isdigit(static_cast<unsigned char>(s[n])) || (s[n] == '.' && !dot))) {
    dot |= s[n] == '.';
    ++n;
  }
  if (n == 0 || (n == 1 && s[0] == '.')) return bad();
  double value = std::strtod(std::string(s.substr(0, n)).c_str(), nullptr);
  std::string_view unit = s.substr(n);
  double scale;
  if (unit.empty() || unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m" || unit == "min") {
    scale = 60'000;
  } else if (unit == "us") {
    scale = 0.001;
  } else {
    return bad();
  }
  double ms = sign * value * scale;
  if (!std::isfinite(ms) || std::fabs(ms) > 9e15) return bad();
  if (ms < 0 && !allow_negative) {
    return Status::BadRequest("'" + t + "': a negative duration makes no sense here");
  }
  return static_cast<int64_t>(std::llround(ms));
}

Result<std::string> LinkFaultsBody(const LinkFaultArgs& a) {
  nlohmann::json body = nlohmann::json::object();
  if (a.delay) {
    auto ms = ParseDurationMs(*a.delay, false);
    if (!ms.ok()) return Status::BadRequest("--delay: " + ms.status().message());
    body["delayMs"] = *ms;
  }
  if (a.jitter) {
    auto ms = ParseDurationMs(*a.jitter, false);
    if (!ms.ok()) return Status::BadRequest("--jitter: " + ms.status().message());
    body["jitterMs"] = *ms;
  }
  if (a.drop) body["dropRate"] = *a.drop;
  if (a.duplicate) body["duplicateRate"] = *a.duplicate;
  if (a.reorder) body["reorderRate"] = *a.reorder;
  if (a.bandwidth_kbps) body["bandwidthKBps"] = *a.bandwidth_kbps;
  if (a.partitioned) body["partitioned"] = true;
  return body.dump();
}

Result<std::string> PartitionBody(const std::vector<std::string>& tokens) {
  nlohmann::json groups = nlohmann::json::array();
  nlohmann::json group = nlohmann::json::array();
  auto close = [&] {
    if (!group.empty()) groups.push_back(group);
    group = nlohmann::json::array();
  };
  for (const auto& tok : tokens) {
    size_t i = 0;
    while (i <= tok.size()) {
      size_t j = tok.find_first_of("/,", i);
      if (j == std::string::npos) j = tok.size();
      std::string name = tok.substr(i, j - i);
      if (!name.empty()) group.push_back(name);
      if (j < tok.size() && tok[j] == '/') close();
      i = j + 1;
    }
  }
  close();
  if (groups.size() < 2) {
    return Status::BadRequest("a partition needs at least two groups separated by '/': uksouth / westeurope eastus");
  }
  return nlohmann::json{{"groups", groups}}.dump();
}

std::string AdminPath(std::initializer_list<std::string_view> segments) {
  std::string out;
  for (auto s : segments) out += "/" + PercentEncodeComponent(s);
  return out;
}

Status AdminRequest(const std::string& admin_url, const std::string& method, const std::string& path,
                    const std::string& body, std::ostream& out) {
  auto endpoint = ParseHttpEndpoint(admin_url);
  if (!endpoint.ok()) return endpoint.status();
  HttpClientOptions opts;
  opts.request_timeout = std::chrono::milliseconds(120'000);  // a restart reopens a store
  HttpClient http(*endpoint, opts);
  HttpHeaders headers;
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  auto resp = http.Send(method, path, headers, body);
  if (!resp.ok()) return Status::Unavailable(admin_url + ": " + resp.status().message());
  if (resp->status < 200 || resp->status > 299) {
    auto j = nlohmann::json::parse(resp->body, nullptr, false);
    std::string message = j.is_object() && j.contains("message") && j["message"].is_string()
                              ? j["message"].get<std::string>()
                              : resp->body;
    return Status::BadRequest(method + " " + path + " answered " + std::to_string(resp->status) + ": " + message);
  }
  auto j = nlohmann::json::parse(resp->body, nullptr, false);
  out << (j.is_discarded() ? resp->body : j.dump()) << "\n";
  return Status::Ok();
}

}  // namespace regionlab::client
