#include "cli/status.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "client/http_client.h"

namespace regionlab::cli {

using client::HttpClient;
using client::HttpClientOptions;
using client::HttpHeaders;
using client::ParseHttpEndpoint;
namespace {

Result<nlohmann::json> GetJson(HttpClient& http, const std::string& path, const AdminCredentials& creds) {
  auto resp = http.Send("GET", path, AdminAuthHeaders(creds, "GET", path), "");
  if (!resp.ok()) return resp.status();
  if (resp->status != 200) {
    return Status::Unavailable("GET " + path + " answered " + std::to_string(resp->status) + ": " + resp->body);
  }
  auto j = nlohmann::json::parse(resp->body, nullptr, false);
  if (j.is_discarded()) return Status::Internal("GET " + path + " did not answer JSON");
  return j;
}

// The faults of a /links entry, compactly: "delay=240ms jitter=10ms drop=0.3", or "-".
std::string FaultsText(const nlohmann::json& link) {
  if (!link.contains("faults") || !link["faults"].is_object()) return "-";
  const auto& f = link["faults"];
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : " ") + s; };
  char buf[64];
  if (f.value("partitioned", false)) add("partitioned");
  if (int64_t v = f.value("delayMs", int64_t{0})) add("delay=" + std::to_string(v) + "ms");
  if (int64_t v = f.value("jitterMs", int64_t{0})) add("jitter=" + std::to_string(v) + "ms");
  for (const auto& [key, name] : {std::pair{"dropRate", "drop"}, {"duplicateRate", "duplicate"},
                                  {"reorderRate", "reorder"}}) {
    double v = f.value(key, 0.0);
    if (v > 0) {
      std::snprintf(buf, sizeof buf, "%s=%g", name, v);
      add(buf);
    }
  }
  if (int64_t v = f.value("bandwidthKBps", int64_t{0})) add("bandwidth=" + std::to_string(v) + "KB/s");
  return out.empty() ? "-" : out;
}

std::string Pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s + " ";
}

}  // namespace

Status PrintStatus(const std::string& admin_url, bool json, std::ostream& out, const AdminCredentials& creds) {
  auto endpoint = ParseHttpEndpoint(admin_url);
  if (!endpoint.ok()) return endpoint.status();
  HttpClientOptions opts;
  opts.ca_file = creds.ca_cert;
  HttpClient http(*endpoint, opts);
  auto regions = GetJson(http, "/regions", creds);
  if (!regions.ok()) return regions.status();
  auto links = GetJson(http, "/links", creds);
  if (!links.ok()) return links.status();
  if (json) {
    out << nlohmann::json{{"regions", *regions}, {"links", (*links)["links"]}}.dump() << "\n";
    return Status::Ok();
  }
  out << "seed " << regions->value("seed", 0) << "\n\n";
  out << Pad("REGION", 14) << Pad("NAME", 22) << Pad("STATE", 12) << Pad("SKEW", 10) << "ENDPOINT\n";
  for (const auto& r : (*regions)["regions"]) {
    out << Pad(r.value("name", ""), 14) << Pad(r.value("displayName", ""), 22) << Pad(r.value("state", ""), 12)
        << Pad(std::to_string(r.value("clockSkewMs", 0)) + "ms", 10) << r.value("endpoint", "") << "\n";
  }
  out << "\n"
      << Pad("LINK", 28) << Pad("CONNECTED", 10) << Pad("QUEUE", 8) << Pad("LAG", 10) << Pad("APPLIED", 9)
      << Pad("P99 APPLY", 10) << Pad("CONFLICTS", 10) << "FAULTS\n";
  for (const auto& l : (*links)["links"]) {
    char lag[32], p99[32];
    std::snprintf(lag, sizeof lag, "%.1fms", l.value("lagMs", 0.0));
    double apply_p99 = l.contains("applyLagMs") ? l["applyLagMs"].value("p99", 0.0) : 0.0;
    std::snprintf(p99, sizeof p99, "%.1fms", apply_p99);
    out << Pad(l.value("from", "") + " -> " + l.value("to", ""), 28) << Pad(l.value("connected", false) ? "yes" : "NO", 10)
        << Pad(l.contains("queue") ? std::to_string(l["queue"].get<uint64_t>()) : "-", 8)
        << Pad(l.contains("lagMs") ? lag : "-", 10)
        << Pad(l.contains("appliedLsn") ? std::to_string(l["appliedLsn"].get<uint64_t>()) : "-", 9)
        << Pad(l.contains("applyLagMs") ? p99 : "-", 10)
        << Pad(l.contains("conflicts") ? std::to_string(l["conflicts"].get<uint64_t>()) : "-", 10)
        << FaultsText(l) << "\n";
  }
  // Data-plane rules in force, then the split-brain line.
  for (const auto& r : (*regions)["regions"]) {
    if (r.contains("dataplane") && r["dataplane"].is_array() && !r["dataplane"].empty()) {
      out << "\ndata-plane rules on " << r.value("name", "") << ": " << r["dataplane"].dump() << "\n";
    }
  }
  if (auto sb = GetJson(http, "/splitbrain?windowMs=1000", creds); sb.ok() && sb->contains("documents")) {
    out << "\nsplit-brain: " << (*sb)["documents"].size()
        << " document(s) written in two or more regions within 1 s (regionlab splitbrain)\n";
  }
  return Status::Ok();
}

Subcommand AddStatusCommand(CLI::App& root) {
  struct State {
    std::string admin = "http://127.0.0.1:8090/";
    AdminCredentials creds;
    bool json = false;
  };
  auto st = std::make_shared<State>();
  auto* status = root.add_subcommand("status", "regions, replication links, lag and conflicts of a running cluster");
  status->add_option("--admin", st->admin, "management API URL")->capture_default_str();
  status->add_flag("--json", st->json, "print the raw JSON of /regions and /links");
  AddAdminCredentialOptions(status, &st->creds);
  return {status, [st] {
            Status s = PrintStatus(st->admin, st->json, std::cout, st->creds);
            if (!s.ok()) {
              spdlog::error("status: {}", s.ToString());
              return 1;
            }
            return 0;
          }};
}

}  // namespace regionlab::cli
