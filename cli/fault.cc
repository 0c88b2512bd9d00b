#include "cli/fault.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "base/encoding.h"
#include "client/http_client.h"

namespace regionlab::cli {

using client::HttpClient;
using client::HttpClientOptions;
using client::HttpHeaders;
using client::ParseHttpEndpoint;

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
                    const std::string& body, std::ostream& out, const AdminCredentials& creds) {
  auto endpoint = ParseHttpEndpoint(admin_url);
  if (!endpoint.ok()) return endpoint.status();
  HttpClientOptions opts;
  opts.request_timeout = std::chrono::milliseconds(120'000);  // a restart reopens a store
  opts.ca_file = creds.ca_cert;
  HttpClient http(*endpoint, opts);
  HttpHeaders headers = AdminAuthHeaders(creds, method, path);
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

Result<std::string> DataPlaneRulesBody(const DataPlaneRuleArgs& a) {
  nlohmann::json rule = nlohmann::json::object();
  auto text = [&](const char* key, const std::optional<std::string>& v) {
    if (v) rule[key] = *v;
  };
  text("operation", a.operation);
  text("resourceType", a.resource_type);
  text("database", a.database);
  text("container", a.container);
  if (a.partition_key) {
    auto pk = nlohmann::json::parse(*a.partition_key, nullptr, false);
    rule["partitionKey"] = pk.is_discarded() ? nlohmann::json(*a.partition_key) : pk;  // bare words are strings
  }
  if (a.rate) rule["rate"] = *a.rate;
  auto duration = [&](const char* key, const std::optional<std::string>& v) -> Status {
    if (!v) return Status::Ok();
    auto ms = ParseDurationMs(*v, false);
    if (!ms.ok()) return ms.status();
    rule[key] = *ms;
    return Status::Ok();
  };
  for (Status s : {duration("delayMs", a.delay), duration("jitterMs", a.jitter), duration("retryAfterMs", a.retry_after)}) {
    if (!s.ok()) return s;
  }
  if (a.status) rule["status"] = *a.status;
  if (a.sub_status) rule["subStatus"] = *a.sub_status;
  if (a.reset) rule["reset"] = true;
  if (a.hang) rule["hang"] = true;
  if (a.writes_only) rule["writesOnly"] = true;
  return nlohmann::json{{"rules", nlohmann::json::array({rule})}}.dump();
}

namespace {

// {"mode":"403"} for `fault region R --offline 403`.
std::string ModeBody(const std::string& mode) {
  std::string escaped;
  for (char c : mode) {
    if (c == '"' || c == '\\') escaped += '\\';
    escaped += c;
  }
  return "{\"mode\":\"" + escaped + "\"}";
}

}  // namespace

void RewriteNegativeSkew(std::vector<std::string>& args) {
  bool in_fault = false, in_clock = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!in_fault) {
      in_fault = a == "fault";
    } else if (!in_clock) {
      in_clock = a == "clock";
    } else if (a == "--") {
      break;
    } else if (a.size() >= 2 && a[0] == '-' && (std::isdigit(static_cast<unsigned char>(a[1])) || a[1] == '.')) {
      args[i] = "--skew=" + a;
      break;
    }
  }
}

Subcommand AddFaultCommand(CLI::App& root) {
  struct State {
    std::string admin = "http://127.0.0.1:8090/";
    AdminCredentials creds;
    std::string from, to, region, skew, file, offline;
    std::vector<std::string> groups;
    LinkFaultArgs link;
    std::string delay, jitter;
    double drop = 0, dup = 0, reorder = 0;
    int64_t bandwidth = 0;
    bool heal = false, online = false;
    CLI::Option *o_delay, *o_jitter, *o_drop, *o_dup, *o_reorder, *o_bw, *o_offline;
    CLI::App *link_cmd, *heal_link, *partition, *heal_all, *region_cmd, *clock, *kill, *restart, *scenario;
    CLI::App* dataplane;
    DataPlaneRuleArgs rule;
    bool clear = false;
  };
  auto st = std::make_shared<State>();
  auto* fault = root.add_subcommand("fault", "inject or heal faults in a running cluster (docs/chaos.md)");
  fault->require_subcommand(1);
  auto admin_opt = [st](CLI::App* sub) {
    sub->add_option("--admin", st->admin, "management API URL")->capture_default_str();
    AddAdminCredentialOptions(sub, &st->creds);
  };
  admin_opt(fault);
  st->link_cmd = fault->add_subcommand("link", "set the faults of the link FROM -> TO (replaces its fault set)");
  st->link_cmd->add_option("from", st->from, "sending region")->required();
  st->link_cmd->add_option("to", st->to, "receiving region")->required();
  st->o_delay = st->link_cmd->add_option("--delay", st->delay, "one-way delay, e.g. 240ms");
  st->o_jitter = st->link_cmd->add_option("--jitter", st->jitter, "uniform jitter around the delay, e.g. 10ms");
  st->o_drop = st->link_cmd->add_option("--drop", st->drop, "loss rate 0..1");
  st->o_dup = st->link_cmd->add_option("--duplicate", st->dup, "duplication rate 0..1");
  st->o_reorder = st->link_cmd->add_option("--reorder", st->reorder, "reordering rate 0..1");
  st->o_bw = st->link_cmd->add_option("--bandwidth", st->bandwidth, "bandwidth limit in KB/s (0: none)");
  st->link_cmd->add_flag("--partitioned", st->link.partitioned, "drop every frame");
  st->link_cmd->add_flag("--heal", st->heal, "remove every fault of the link instead");
  admin_opt(st->link_cmd);
  st->heal_link = fault->add_subcommand("heal-link", "remove every fault of the link FROM -> TO");
  st->heal_link->add_option("from", st->from, "sending region")->required();
  st->heal_link->add_option("to", st->to, "receiving region")->required();
  admin_opt(st->heal_link);
  st->partition = fault->add_subcommand("partition", "cut every link between groups: uksouth / westeurope eastus");
  st->partition->add_option("groups", st->groups, "region names, groups separated by /")->required();
  admin_opt(st->partition);
  st->heal_all = fault->add_subcommand("heal", "remove every fault everywhere");
  admin_opt(st->heal_all);
  st->region_cmd = fault->add_subcommand("region", "take a region offline (403 or 503) or bring it online");
  st->region_cmd->add_option("region", st->region, "region name")->required();
  st->o_offline = st->region_cmd->add_option("--offline", st->offline, "403 (writes refused) or 503 (everything)");
  auto* o_online = st->region_cmd->add_flag("--online", st->online, "serve again");
  st->o_offline->excludes(o_online);
  admin_opt(st->region_cmd);
  st->clock = fault->add_subcommand("clock", "skew a region's clock: clock westeurope +300ms (or -300ms, 0)");
  st->clock->add_option("region", st->region, "region name")->required();
  st->clock->add_option("skew,--skew", st->skew, "skew, e.g. +300ms, -2s, 0")->required();
  admin_opt(st->clock);
  st->kill = fault->add_subcommand("kill", "hard-stop a region, as kill -9 of its node");
  st->kill->add_option("region", st->region, "region name")->required();
  admin_opt(st->kill);
  st->restart = fault->add_subcommand("restart", "restart a killed region from its data directory");
  st->restart->add_option("region", st->region, "region name")->required();
  admin_opt(st->restart);
  st->scenario = fault->add_subcommand("scenario", "run a scenario file (a JSON timeline) on the server");
  st->scenario->add_option("file", st->file, "scenario file")->required()->check(CLI::ExistingFile);
  admin_opt(st->scenario);

  st->dataplane = fault->add_subcommand(
      "dataplane", "data-plane faults of a region: one rule (or --clear); see docs/chaos.md, \"testing your client\"");
  {
    auto* d = st->dataplane;
    DataPlaneRuleArgs& r = st->rule;
    d->add_option("region", st->region, "region name")->required();
    d->add_option("--operation", r.operation, "read, write, query, feed, metadata or any");
    d->add_option("--resource-type", r.resource_type, "docs, colls, dbs, ...");
    d->add_option("--database", r.database, "database id");
    d->add_option("--container", r.container, "container id");
    d->add_option("--partition-key", r.partition_key, "partition key value as JSON: '\"acme\"', 5");
    d->add_option("--rate", r.rate, "share of matching requests to act on, 0..1 (default 1)");
    d->add_option("--delay", r.delay, "answer later, e.g. 2s");
    d->add_option("--jitter", r.jitter, "uniform jitter around the delay, e.g. 100ms");
    d->add_option("--status", r.status, "answer this status: 429, 503, 408, 410, 449, 500, ...");
    d->add_option("--sub-status", r.sub_status, "x-ms-substatus of the status (e.g. 3200, 1002)");
    d->add_option("--retry-after", r.retry_after, "x-ms-retry-after-ms of the status, e.g. 100ms");
    d->add_flag("--reset", r.reset, "close the connection without answering");
    d->add_flag("--hang", r.hang, "never answer");
    d->add_flag("--writes-only", r.writes_only, "only writes (alone: writes answer 503, reads work)");
    d->add_flag("--clear", st->clear, "remove every data-plane rule of the region");
    admin_opt(d);
  }

  return {fault, [st]() -> int {
            std::string method = "POST", path, body;
            if (st->link_cmd->parsed()) {
              path = AdminPath({"links", st->from, st->to});
              if (st->heal) {
                method = "DELETE";
              } else {
                method = "PUT";
                LinkFaultArgs& l = st->link;
                if (st->o_delay->count()) l.delay = st->delay;
                if (st->o_jitter->count()) l.jitter = st->jitter;
                if (st->o_drop->count()) l.drop = st->drop;
                if (st->o_dup->count()) l.duplicate = st->dup;
                if (st->o_reorder->count()) l.reorder = st->reorder;
                if (st->o_bw->count()) l.bandwidth_kbps = st->bandwidth;
                auto b = LinkFaultsBody(l);
                if (!b.ok()) {
                  std::cerr << "fault link: " << b.status().message() << "\n";
                  return 2;
                }
                body = *b;
              }
            } else if (st->heal_link->parsed()) {
              method = "DELETE";
              path = AdminPath({"links", st->from, st->to});
            } else if (st->partition->parsed()) {
              path = "/partition";
              auto b = PartitionBody(st->groups);
              if (!b.ok()) {
                std::cerr << "fault partition: " << b.status().message() << "\n";
                return 2;
              }
              body = *b;
            } else if (st->heal_all->parsed()) {
              path = "/heal";
            } else if (st->region_cmd->parsed()) {
              if (!st->o_offline->count() && !st->online) {
                std::cerr << "fault region: give --offline 403|503 or --online\n";
                return 2;
              }
              path = AdminPath({"regions", st->region, st->online ? "online" : "offline"});
              if (!st->online) body = ModeBody(st->offline);
            } else if (st->clock->parsed()) {
              auto ms = ParseDurationMs(st->skew, true);
              if (!ms.ok()) {
                std::cerr << "fault clock: " << ms.status().message() << "\n";
                return 2;
              }
              path = AdminPath({"regions", st->region, "clock"});
              body = "{\"skewMs\":" + std::to_string(*ms) + "}";
            } else if (st->dataplane->parsed()) {
              path = AdminPath({"regions", st->region, "dataplane"});
              if (st->clear) {
                method = "DELETE";
              } else {
                method = "PUT";
                auto b = DataPlaneRulesBody(st->rule);
                if (!b.ok()) {
                  std::cerr << "fault dataplane: " << b.status().message() << "\n";
                  return 2;
                }
                body = *b;
              }
            } else if (st->kill->parsed()) {
              path = AdminPath({"regions", st->region, "kill"});
            } else if (st->restart->parsed()) {
              path = AdminPath({"regions", st->region, "restart"});
            } else if (st->scenario->parsed()) {
              std::ifstream in(st->file, std::ios::binary);
              if (!in) {
                std::cerr << "fault scenario: cannot read " << st->file << "\n";
                return 2;
              }
              std::ostringstream ss;
              ss << in.rdbuf();
              path = "/scenario";
              body = ss.str();
            }
            Status s = AdminRequest(st->admin, method, path, body, std::cout, st->creds);
            if (!s.ok()) {
              std::cerr << "fault: " << s.message() << "\n";
              return 1;
            }
            return 0;
          }};
}

}  // namespace regionlab::cli
