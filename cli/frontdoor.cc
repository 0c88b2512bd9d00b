#include "cli/frontdoor.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "base/clock.h"
#include "cli/fault.h"
#include "frontdoor/admin.h"
#include "frontdoor/front_door.h"
#include "server/http_server.h"

namespace regionlab::cli {
namespace {

using nlohmann::json;

struct ServeArgs {
  std::string bind = "127.0.0.1";
  int listen = 8080;
  int admin_port = 8091;
  std::vector<std::string> origins;
  std::string probe_path = "/health/deep";
  std::string probe_method = "GET";
  std::string probe_interval = "30s";
  std::string probe_timeout;  // default: the interval
  int sample_size = 4;
  int successful_samples = 3;
  std::string additional_latency = "50ms";
  int pops = 1;
  double time_scale = 1;
  std::string origin_timeout = "30s";
  std::string new_origins = "healthy";
  int threads = 2;
};

// The settings and origins from the flags; BadRequest naming the flag.
Result<frontdoor::FrontDoorOptions> BuildOptions(const ServeArgs& a) {
  frontdoor::FrontDoorOptions o;
  if (a.origins.empty()) return Status::BadRequest("at least one --origin NAME=URL is required");
  for (const auto& spec : a.origins) {
    auto oc = frontdoor::ParseOriginSpec(spec);
    if (!oc.ok()) return Status::BadRequest("--origin: " + oc.status().message());
    o.origins.push_back(*oc);
  }
  frontdoor::Settings& s = o.settings;
  auto dur = [](const char* flag, const std::string& text, int64_t* out) -> Status {
    auto ms = ParseDurationMs(text, false);
    if (!ms.ok()) return Status::BadRequest(std::string(flag) + ": " + ms.status().message());
    *out = *ms;
    return Status::Ok();
  };
  RL_RETURN_IF_ERROR(dur("--probe-interval", a.probe_interval, &s.probe_interval_ms));
  if (!a.probe_timeout.empty()) RL_RETURN_IF_ERROR(dur("--probe-timeout", a.probe_timeout, &s.probe_timeout_ms));
  RL_RETURN_IF_ERROR(dur("--additional-latency", a.additional_latency, &s.additional_latency_ms));
  RL_RETURN_IF_ERROR(dur("--origin-timeout", a.origin_timeout, &s.origin_timeout_ms));
  s.probe_path = a.probe_path;
  s.probe_method = a.probe_method;
  for (char& c : s.probe_method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  s.sample_size = a.sample_size;
  s.successful_samples_required = a.successful_samples;
  s.pops = a.pops;
  s.time_scale = a.time_scale;
  if (a.new_origins != "healthy" && a.new_origins != "unhealthy") {
    return Status::BadRequest("--new-origins must be healthy or unhealthy");
  }
  s.new_origin_healthy = a.new_origins == "healthy";
  RL_RETURN_IF_ERROR(s.Validate());
  if (a.listen < 0 || a.listen > 65535) return Status::BadRequest("--listen must be a port (0: any free port)");
  if (a.admin_port < 0 || a.admin_port > 65535) return Status::BadRequest("--admin-port must be a port");
  o.host = a.bind;
  o.port = static_cast<uint16_t>(a.listen);
  o.threads = a.threads;
  return o;
}

std::string HostUrl(const std::string& host, uint16_t port) {
  const std::string h = host == "0.0.0.0" ? "127.0.0.1" : host;
  return "http://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + std::to_string(port) + "/";
}

int RunFrontDoor(const ServeArgs& args) {
  auto options = BuildOptions(args);
  if (!options.ok()) {
    std::cerr << "frontdoor: " << options.status().message() << "\n";
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts

  auto fd = frontdoor::FrontDoor::Start(*options, SystemClock::Instance());
  if (!fd.ok()) {
    spdlog::error("frontdoor: cannot start: {}", fd.status().ToString());
    return fd.status().code() == StatusCode::kBadRequest ? 2 : 1;
  }
  frontdoor::HealthModel& model = (*fd)->model();
  boost::asio::io_context admin_io;
  auto work = boost::asio::make_work_guard(admin_io);
  auto admin = server::HttpServer::Start(
      admin_io, args.bind, static_cast<uint16_t>(args.admin_port), [&model](server::HttpRequest& req) {
        server::HttpResponse res;
        auto reply = frontdoor::HandleAdmin(model, req.method, req.path, req.query, req.body);
        if (!reply) {
          res.status = 404;
          res.body = R"j({"code":"NotFound","message":"no such route (see GET /frontdoor)"})j";
          return res;
        }
        res.status = reply->status;
        res.content_type = reply->content_type;
        res.body = std::move(reply->body);
        return res;
      });
  if (!admin.ok()) {
    spdlog::error("frontdoor: admin port: {}", admin.status().ToString());
    return 1;
  }
  std::thread admin_thread([&admin_io] { admin_io.run(); });
  json ready = {{"event", "ready"},
                {"frontDoor", HostUrl(args.bind, (*fd)->port())},
                {"admin", HostUrl(args.bind, (*admin)->port())}};
  std::cout << ready.dump() << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: shutting down", sig);
  (*admin)->Stop();
  (*fd)->Stop();
  admin.value().reset();
  work.reset();
  admin_io.stop();
  admin_thread.join();
  spdlog::info("stopped");
  return 0;
}

// ---- status and report: the admin routes, as tables ----

std::string Secs(double ms) {
  char buf[32];
  if (ms >= 60'000 && static_cast<int64_t>(ms) % 1000 == 0) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(ms / 60'000), static_cast<int>(ms / 1000) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%.3gs", ms / 1000.0);
  }
  return buf;
}

Result<json> Fetch(const std::string& admin, const std::string& path, const AdminCredentials& creds) {
  std::ostringstream raw;
  Status s = AdminRequest(admin, "GET", path, "", raw, creds);
  if (!s.ok()) return s;
  json j = json::parse(raw.str(), nullptr, false);
  if (!j.is_object()) return Status::Internal("unexpected answer from " + path + ": " + raw.str());
  return j;
}

void PrintPromise(const json& settings, const json& promise) {
  const double scale = settings["timeScale"].get<double>();
  std::printf("settings: probe %s %s every %s (timeout %s), sampleSize %d, successfulSamplesRequired %d, "
              "additionalLatency %lldms, %d POP(s), time scale x%g\n",
              settings["probeMethod"].get<std::string>().c_str(), settings["probePath"].get<std::string>().c_str(),
              Secs(settings["probeIntervalMs"].get<double>()).c_str(),
              Secs(settings["probeTimeoutMs"].get<double>()).c_str(), settings["sampleSize"].get<int>(),
              settings["successfulSamplesRequired"].get<int>(),
              static_cast<long long>(settings["additionalLatencyMs"].get<int64_t>()), settings["pops"].get<int>(),
              scale);
  std::printf("promise:  a dead origin is out of every POP within %s of the fault (best case %s); at x%g: %s wall\n",
              Secs(promise["worstCaseFdMs"].get<double>()).c_str(), Secs(promise["bestCaseFdMs"].get<double>()).c_str(),
              scale, Secs(promise["worstCaseWallMs"].get<double>()).c_str());
}

int PrintStatus(const json& st) {
  PrintPromise(st["settings"], st["promise"]);
  const int pops = st["settings"]["pops"].get<int>();
  std::printf("\n%-14s %4s %6s %-7s %9s %6s %6s", "ORIGIN", "PRIO", "WEIGHT", "ENABLED", "REQUESTS", "5XX", "NORESP");
  for (int p = 0; p < pops; ++p) std::printf("  %-16s", ("POP " + std::to_string(p)).c_str());
  std::printf("\n");
  for (const auto& o : st["origins"]) {
    std::printf("%-14s %4d %6d %-7s %9llu %6llu %6llu", o["name"].get<std::string>().c_str(), o["priority"].get<int>(),
                o["weight"].get<int>(), o["enabled"].get<bool>() ? "yes" : "no",
                static_cast<unsigned long long>(o["requests"].get<uint64_t>()),
                static_cast<unsigned long long>(o["responses5xx"].get<uint64_t>()),
                static_cast<unsigned long long>(o["failures"].get<uint64_t>()));
    for (const auto& p : o["pops"]) {
      std::string cell = std::string(p["healthy"].get<bool>() ? "healthy" : "UNHEALTHY") + " " +
                         p["windowText"].get<std::string>();
      std::printf("  %-16s", cell.c_str());
    }
    std::printf("\n");
  }
  std::printf("\n%-4s %-13s %s\n", "POP", "MODE", "ROUTES TO");
  for (const auto& p : st["pops"]) {
    std::string routes;
    for (const auto& r : p["routing"]) routes += (routes.empty() ? "" : ", ") + r.get<std::string>();
    std::printf("%-4d %-13s %s\n", p["pop"].get<int>(), p["mode"].get<std::string>().c_str(),
                routes.empty() ? "(nothing)" : routes.c_str());
  }
  const json& f = st["lastFailover"];
  if (f.is_object()) {
    std::printf("\nlast failover: %s (%zu/%d POPs marked it unhealthy%s); `regionlab frontdoor report` for the timeline\n",
                f["origin"].get<std::string>().c_str(), f["popsMarked"].get<size_t>(), f["pops"].get<int>(),
                f["recovered"].get<bool>() ? ", recovered since" : "");
  }
  return 0;
}

int PrintReport(const json& r) {
  PrintPromise(r["settings"], r["promise"]);
  const json& f = r["failover"];
  if (!f.is_object()) {
    std::printf("\nno failover yet: no POP has marked an origin unhealthy\n");
    return 0;
  }
  std::printf("\nfailover of %s%s%s: %zu of %d POP(s) marked it unhealthy%s\n\n", f["origin"].get<std::string>().c_str(),
              f["newOrigin"].is_string() ? " -> " : "",
              f["newOrigin"].is_string() ? f["newOrigin"].get<std::string>().c_str() : "",
              f["popsMarked"].get<size_t>(), f["pops"].get<int>(), f["recovered"].get<bool>() ? " (recovered since)" : "");
  std::printf("  %-24s %10s %12s  %s\n", "WALL TIME", "+WALL", "+FRONT DOOR", "EVENT");
  for (const auto& e : f["timeline"]) {
    const std::string what = e["event"].get<std::string>();
    std::string text = what == "firstFailedProbe"     ? "first failed probe"
                       : what == "popMarkedUnhealthy" ? "marked unhealthy"
                       : what == "lastRequestToOld"   ? "last request served by " + f["origin"].get<std::string>()
                       : what == "firstRequestToNew"  ? "first request served by " + e.value("origin", std::string())
                       : what == "recovered"          ? "healthy again at every POP"
                                                      : what;
    if (e.contains("pop")) text += " (POP " + std::to_string(e["pop"].get<int>()) + ")";
    std::printf("  %-24s %9.3fs %11.3fs  %s\n", e["wallTime"].get<std::string>().c_str(),
                e["afterFirstFailureWallMs"].get<double>() / 1000.0, e["afterFirstFailureFdMs"].get<double>() / 1000.0,
                text.c_str());
  }
  const json& d = f["durations"];
  if (d.contains("allPopsUnhealthyFdMs")) {
    const double took = d["allPopsUnhealthyFdMs"].get<double>();
    std::printf("\nfirst failed probe -> every POP switched: %s Front-Door time (%s wall)\n", Secs(took).c_str(),
                Secs(d["allPopsUnhealthyWallMs"].get<double>()).c_str());
    std::printf("settings promise at most %s from the fault: %s\n", Secs(r["promise"]["worstCaseFdMs"].get<double>()).c_str(),
                f.value("withinPromise", false) ? "WITHIN the promise" : "OUTSIDE the promise");
  }
  std::printf("requests sent to %s since its first failed probe: %llu (%llu failed)\n",
              f["origin"].get<std::string>().c_str(),
              static_cast<unsigned long long>(f["requestsToOld"].get<uint64_t>()),
              static_cast<unsigned long long>(f["failedRequestsToOld"].get<uint64_t>()));
  return 0;
}

}  // namespace

Subcommand AddFrontDoorCommand(CLI::App& root) {
  struct State {
    ServeArgs serve;
    std::string admin = "http://127.0.0.1:8091/";
    AdminCredentials creds;
    bool json = false;
  };
  auto st = std::make_shared<State>();
  auto* cmd = root.add_subcommand("frontdoor", "an Azure Front Door emulator in front of an origin group");
  cmd->require_subcommand(0, 1);
  ServeArgs& a = st->serve;
  cmd->add_option("--listen", a.listen, "proxy port (0: any free port)")->capture_default_str();
  cmd->add_option("--bind", a.bind, "address of the proxy and admin listeners")->capture_default_str();
  cmd->add_option("--admin-port", a.admin_port, "admin API port (0: any free port)")->capture_default_str();
  cmd->add_option("--origin", a.origins, "NAME=URL[,priority=P][,weight=W][,enabled=false] (repeatable)");
  cmd->add_option("--probe-path", a.probe_path, "health probe path")->capture_default_str();
  cmd->add_option("--probe-method", a.probe_method, "GET or HEAD")->capture_default_str();
  cmd->add_option("--probe-interval", a.probe_interval, "probe interval per POP")->capture_default_str();
  cmd->add_option("--probe-timeout", a.probe_timeout, "probe timeout (default: the interval)");
  cmd->add_option("--sample-size", a.sample_size, "probes considered (sampleSize)")->capture_default_str();
  cmd->add_option("--successful-samples", a.successful_samples, "successes required (successfulSamplesRequired)")
      ->capture_default_str();
  cmd->add_option("--additional-latency", a.additional_latency, "latency sensitivity band")->capture_default_str();
  cmd->add_option("--pops", a.pops, "points of presence (independent probers)")->capture_default_str();
  cmd->add_option("--time-scale", a.time_scale, "run intervals and timeouts this many times faster")
      ->capture_default_str();
  cmd->add_option("--origin-timeout", a.origin_timeout, "per-request origin timeout (504)")->capture_default_str();
  cmd->add_option("--new-origins", a.new_origins, "what a new or re-enabled origin starts as: healthy|unhealthy")
      ->capture_default_str();
  cmd->add_option("--threads", a.threads, "proxy threads")->capture_default_str();

  auto* status = cmd->add_subcommand("status", "origins, each POP's verdict and routing (GET /frontdoor)");
  auto* report = cmd->add_subcommand("report", "the last failover's timeline (GET /frontdoor/failover)");
  for (auto* sub : {status, report}) {
    sub->add_option("--admin", st->admin, "the front door's admin URL")->capture_default_str();
    sub->add_flag("--json", st->json, "print the JSON answer");
    AddAdminCredentialOptions(sub, &st->creds);
  }
  return {cmd, [st, status, report]() -> int {
            if (!status->parsed() && !report->parsed()) return RunFrontDoor(st->serve);
            const bool is_status = status->parsed();
            auto j = Fetch(st->admin, is_status ? "/frontdoor" : "/frontdoor/failover", st->creds);
            if (!j.ok()) {
              std::cerr << "frontdoor " << (is_status ? "status" : "report") << ": " << j.status().message() << "\n";
              return 1;
            }
            if (st->json) {
              std::cout << j->dump() << "\n";
              return 0;
            }
            try {
              return is_status ? PrintStatus(*j) : PrintReport(*j);
            } catch (const json::exception& e) {
              std::cerr << "frontdoor: unexpected answer: " << e.what() << "\n";
              return 1;
            }
          }};
}

}  // namespace regionlab::cli
