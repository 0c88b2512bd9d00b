// The regionlab binary: `regionlab up` starts a cluster of regions in one
// process (`serve` one region), `status` and `fault` talk to a running one's
// management API. Logs go to stderr; stdout carries only JSON (the ready
// line, the management API's answers).
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>

#include "base/encoding.h"
#include "base/logging.h"
#include "client/admin_cli.h"
#include "client/conflicts_cli.h"
#include "client/fault_cli.h"
#include "bench/bench_command.h"
#include "scripting/script_host.h"
#include "server/cluster.h"

namespace {

// Blocks SIGINT/SIGTERM in every thread started after this call, so that
// WaitForStopSignal can take them synchronously.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int RunUp(regionlab::server::ClusterOptions options, bool seed_given, const std::string& scenario_file = "") {
  if (!seed_given) options.seed = std::random_device{}() & 0x7fffffff;
  spdlog::info("seed {}", options.seed);
  std::string scenario;
  if (!scenario_file.empty()) {
    auto text = ReadFile(scenario_file);
    if (!text) {
      spdlog::error("cannot read the scenario file {}", scenario_file);
      return 2;
    }
    scenario = std::move(*text);
  }
  sigset_t signals = BlockStopSignals();
  auto cluster = regionlab::server::Cluster::Start(options);
  if (!cluster.ok()) {
    spdlog::error("cannot start: {}", cluster.status().ToString());
    return 1;
  }
  if (!scenario_file.empty()) {
    regionlab::Status st = (*cluster)->RunScenario(scenario);
    if (!st.ok()) {
      spdlog::error("scenario {}: {}", scenario_file, st.message());
      (*cluster)->Stop();
      return 2;
    }
    spdlog::info("scenario {} started", scenario_file);
  }
  std::cout << (*cluster)->ReadyLine() << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: shutting down", sig);
  (*cluster)->Stop();
  spdlog::info("stopped");
  return 0;
}

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

int main(int argc, char** argv) {
  CLI::App app{"regionlab: a local multi-region Cosmos DB-compatible document store"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off")->capture_default_str();

  regionlab::server::ClusterOptions up_opts;
  std::string regions_csv = "uksouth,westeurope";
  uint64_t seed = 0;
  auto* up = app.add_subcommand("up", "start one node per region in this process");
  up->add_option("--regions", regions_csv, "comma-separated short region names")->capture_default_str();
  up->add_option("--port", up_opts.port, "data-plane port of the first region (0: any free port)")
      ->capture_default_str();
  up->add_option("--admin-port", up_opts.admin_port, "management API port (0: any free port)")
      ->capture_default_str();
  up->add_option("--host", up_opts.host, "address to bind and advertise")->capture_default_str();
  auto* data_dir = up->add_option("--data-dir", up_opts.data_dir, "directory of the regions' stores")
                       ->capture_default_str();
  auto* ephemeral = up->add_flag("--ephemeral", up_opts.ephemeral, "keep everything in memory");
  data_dir->excludes(ephemeral);
  auto* seed_opt = up->add_option("--seed", seed, "seed of every random fault decision");
  up->add_option("--lease-home", up_opts.lease_home, "region that decides fenced leases (default: the first)");
  up->add_option("--key", up_opts.key, "account master key (default: the emulator key)");
  up->add_option("--threads", up_opts.threads_per_region, "io threads per region")->capture_default_str();
  std::string up_scenario;
  up->add_option("--scenario", up_scenario, "run this scenario file (a POST /scenario body) from the start")
      ->check(CLI::ExistingFile);

  auto bench = regionlab::bench::AddBenchCommand(app);

  regionlab::server::ClusterOptions serve_opts;
  std::string serve_region;
  std::vector<std::string> serve_peers, serve_peer_endpoints;
  uint64_t serve_seed = 0;
  auto* serve = app.add_subcommand("serve", "run a single region; peers in other processes");
  serve->add_option("--region", serve_region, "this region's short name")->required();
  serve->add_option("--port", serve_opts.port, "data-plane port (0: any free port)")->required();
  serve->add_option("--replication-port", serve_opts.replication_port,
                    "replication listener port (0: any free port)")->required();
  serve->add_option("--peer", serve_peers, "NAME=HOST:PORT of a peer's replication listener (repeat)");
  serve->add_option("--peer-endpoint", serve_peer_endpoints,
                    "NAME=URL of a peer's data plane, for the account document (default: "
                    "http://HOST:(PORT-1000)/)");
  serve->add_option("--host", serve_opts.host, "address to bind and advertise")->capture_default_str();
  auto* serve_dir = serve->add_option("--data-dir", serve_opts.data_dir, "parent directory of the store")
                        ->capture_default_str();
  auto* serve_eph = serve->add_flag("--ephemeral", serve_opts.ephemeral, "keep everything in memory");
  serve_dir->excludes(serve_eph);
  serve->add_option("--admin-port", serve_opts.admin_port, "management API port (0: any free port)")
      ->capture_default_str();
  auto* serve_seed_opt = serve->add_option("--seed", serve_seed, "seed of every random fault decision");
  serve->add_option("--lease-home", serve_opts.lease_home,
                    "region that decides fenced leases (default: the first by name); the same in every process");
  serve->add_option("--key", serve_opts.key, "account master key (default: the emulator key)");

  std::string status_admin = "http://127.0.0.1:8090/";
  bool status_json = false;
  auto* status = app.add_subcommand("status", "regions, replication links, lag and conflicts of a running cluster");
  status->add_option("--admin", status_admin, "management API URL")->capture_default_str();
  status->add_flag("--json", status_json, "print the raw JSON of /regions and /links");

  // `regionlab conflicts list|show|delete`: the conflicts feed from the shell.
  regionlab::client::ConflictsArgs conflicts_args;
  std::string conflict_id;
  auto* conflicts = app.add_subcommand("conflicts", "list, show or delete conflicts of the conflicts feed");
  conflicts->require_subcommand(1);
  auto conflict_opts = [&](CLI::App* sub) {
    sub->add_option("--endpoint", conflicts_args.endpoint, "a region's data-plane URL")->capture_default_str();
    sub->add_option("--key", conflicts_args.key, "account key (default: the emulator key)");
    sub->add_option("--db", conflicts_args.database, "database id");
    sub->add_option("--container", conflicts_args.container, "container id");
  };
  auto* c_list = conflicts->add_subcommand("list", "conflicts of one container, or of every container");
  conflict_opts(c_list);
  c_list->add_flag("--json", conflicts_args.json, "print one JSON array instead of a table");
  auto* c_show = conflicts->add_subcommand("show", "one conflict, with its losing version decoded");
  conflict_opts(c_show);
  c_show->add_option("id", conflict_id, "conflict id")->required();
  auto* c_delete = conflicts->add_subcommand("delete", "delete one conflict (in every region)");
  conflict_opts(c_delete);
  c_delete->add_option("id", conflict_id, "conflict id")->required();

  // `regionlab fault ...`: every fault endpoint of the management API.
  std::string fault_admin = "http://127.0.0.1:8090/";
  auto* fault = app.add_subcommand("fault", "inject or heal faults in a running cluster (docs/chaos.md)");
  fault->require_subcommand(1);
  auto admin_opt = [&](CLI::App* sub) {
    sub->add_option("--admin", fault_admin, "management API URL")->capture_default_str();
  };
  admin_opt(fault);
  std::string f_from, f_to, f_region, f_skew, f_file, f_offline;
  std::vector<std::string> f_groups;
  regionlab::client::LinkFaultArgs f_link;
  std::string f_delay, f_jitter;
  double f_drop = 0, f_dup = 0, f_reorder = 0;
  int64_t f_bandwidth = 0;
  bool f_heal = false, f_online = false;
  auto* f_link_cmd = fault->add_subcommand("link", "set the faults of the link FROM -> TO (replaces its fault set)");
  f_link_cmd->add_option("from", f_from, "sending region")->required();
  f_link_cmd->add_option("to", f_to, "receiving region")->required();
  auto* o_delay = f_link_cmd->add_option("--delay", f_delay, "one-way delay, e.g. 240ms");
  auto* o_jitter = f_link_cmd->add_option("--jitter", f_jitter, "uniform jitter around the delay, e.g. 10ms");
  auto* o_drop = f_link_cmd->add_option("--drop", f_drop, "loss rate 0..1");
  auto* o_dup = f_link_cmd->add_option("--duplicate", f_dup, "duplication rate 0..1");
  auto* o_reorder = f_link_cmd->add_option("--reorder", f_reorder, "reordering rate 0..1");
  auto* o_bw = f_link_cmd->add_option("--bandwidth", f_bandwidth, "bandwidth limit in KB/s (0: none)");
  f_link_cmd->add_flag("--partitioned", f_link.partitioned, "drop every frame");
  f_link_cmd->add_flag("--heal", f_heal, "remove every fault of the link instead");
  admin_opt(f_link_cmd);
  auto* f_heal_link = fault->add_subcommand("heal-link", "remove every fault of the link FROM -> TO");
  f_heal_link->add_option("from", f_from, "sending region")->required();
  f_heal_link->add_option("to", f_to, "receiving region")->required();
  admin_opt(f_heal_link);
  auto* f_partition = fault->add_subcommand("partition", "cut every link between groups: uksouth / westeurope eastus");
  f_partition->add_option("groups", f_groups, "region names, groups separated by /")->required();
  admin_opt(f_partition);
  auto* f_heal_all = fault->add_subcommand("heal", "remove every fault everywhere");
  admin_opt(f_heal_all);
  auto* f_region_cmd = fault->add_subcommand("region", "take a region offline (403 or 503) or bring it online");
  f_region_cmd->add_option("region", f_region, "region name")->required();
  auto* o_offline = f_region_cmd->add_option("--offline", f_offline, "403 (writes refused) or 503 (everything)");
  auto* o_online = f_region_cmd->add_flag("--online", f_online, "serve again");
  o_offline->excludes(o_online);
  admin_opt(f_region_cmd);
  auto* f_clock = fault->add_subcommand("clock", "skew a region's clock: clock westeurope +300ms (or -300ms, 0)");
  f_clock->add_option("region", f_region, "region name")->required();
  f_clock->add_option("skew,--skew", f_skew, "skew, e.g. +300ms, -2s, 0")->required();
  admin_opt(f_clock);
  auto* f_kill = fault->add_subcommand("kill", "hard-stop a region, as kill -9 of its node");
  f_kill->add_option("region", f_region, "region name")->required();
  admin_opt(f_kill);
  auto* f_restart = fault->add_subcommand("restart", "restart a killed region from its data directory");
  f_restart->add_option("region", f_region, "region name")->required();
  admin_opt(f_restart);
  auto* f_scenario = fault->add_subcommand("scenario", "run a scenario file (a JSON timeline) on the server");
  f_scenario->add_option("file", f_file, "scenario file")->required()->check(CLI::ExistingFile);
  admin_opt(f_scenario);

  // A negative clock skew ("-300ms") is a value, not an option: after
  // `fault clock`, such a token is rewritten as "--skew=-300ms" (CLI11 would
  // otherwise take it for a short option).
  std::vector<std::string> args(argv, argv + argc);
  {
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
  std::vector<char*> argp;
  for (auto& a : args) argp.push_back(a.data());

  CLI11_PARSE(app, static_cast<int>(argp.size()), argp.data());
  if (up->parsed() || serve->parsed()) {
    // The JavaScript helper process forks from this still-small process, so
    // that running a procedure later does not fork the whole server.
    regionlab::scripting::StartHelper();
  }
  regionlab::InitLogging(log_level);

  if (fault->parsed()) {
    namespace rc = regionlab::client;
    std::string method = "POST", path, body;
    if (f_link_cmd->parsed()) {
      path = rc::AdminPath({"links", f_from, f_to});
      if (f_heal) {
        method = "DELETE";
      } else {
        method = "PUT";
        if (o_delay->count()) f_link.delay = f_delay;
        if (o_jitter->count()) f_link.jitter = f_jitter;
        if (o_drop->count()) f_link.drop = f_drop;
        if (o_dup->count()) f_link.duplicate = f_dup;
        if (o_reorder->count()) f_link.reorder = f_reorder;
        if (o_bw->count()) f_link.bandwidth_kbps = f_bandwidth;
        auto b = rc::LinkFaultsBody(f_link);
        if (!b.ok()) {
          std::cerr << "fault link: " << b.status().message() << "\n";
          return 2;
        }
        body = *b;
      }
    } else if (f_heal_link->parsed()) {
      method = "DELETE";
      path = rc::AdminPath({"links", f_from, f_to});
    } else if (f_partition->parsed()) {
      path = "/partition";
      auto b = rc::PartitionBody(f_groups);
      if (!b.ok()) {
        std::cerr << "fault partition: " << b.status().message() << "\n";
        return 2;
      }
      body = *b;
    } else if (f_heal_all->parsed()) {
      path = "/heal";
    } else if (f_region_cmd->parsed()) {
      if (!o_offline->count() && !f_online) {
        std::cerr << "fault region: give --offline 403|503 or --online\n";
        return 2;
      }
      if (f_online) {
        path = rc::AdminPath({"regions", f_region, "online"});
      } else {
        path = rc::AdminPath({"regions", f_region, "offline"});
        body = ModeBody(f_offline);
      }
    } else if (f_clock->parsed()) {
      auto ms = rc::ParseDurationMs(f_skew, true);
      if (!ms.ok()) {
        std::cerr << "fault clock: " << ms.status().message() << "\n";
        return 2;
      }
      path = rc::AdminPath({"regions", f_region, "clock"});
      body = "{\"skewMs\":" + std::to_string(*ms) + "}";
    } else if (f_kill->parsed()) {
      path = rc::AdminPath({"regions", f_region, "kill"});
    } else if (f_restart->parsed()) {
      path = rc::AdminPath({"regions", f_region, "restart"});
    } else if (f_scenario->parsed()) {
      auto text = ReadFile(f_file);
      if (!text) {
        std::cerr << "fault scenario: cannot read " << f_file << "\n";
        return 2;
      }
      path = "/scenario";
      body = std::move(*text);
    }
    regionlab::Status st = rc::AdminRequest(fault_admin, method, path, body, std::cout);
    if (!st.ok()) {
      std::cerr << "fault: " << st.message() << "\n";
      return 1;
    }
    return 0;
  }

  if (conflicts->parsed()) {
    regionlab::Status st = c_list->parsed()   ? regionlab::client::ConflictsList(conflicts_args, std::cout)
                           : c_show->parsed() ? regionlab::client::ConflictsShow(conflicts_args, conflict_id, std::cout)
                                              : regionlab::client::ConflictsDelete(conflicts_args, conflict_id, std::cout);
    if (!st.ok()) {
      std::cerr << "conflicts: " << st.message() << "\n";
      return 1;
    }
    return 0;
  }
  if (status->parsed()) {
    regionlab::Status st = regionlab::client::PrintStatus(status_admin, status_json, std::cout);
    if (!st.ok()) {
      spdlog::error("status: {}", st.ToString());
      return 1;
    }
    return 0;
  }
  if (serve->parsed()) {
    serve_opts.regions = {serve_region};
    serve_opts.ids_by_sorted_name = true;
    serve_opts.seed = serve_seed;
    for (const auto& spec : serve_peers) {
      auto eq = spec.find('='), colon = spec.rfind(':');
      if (eq == std::string::npos || colon == std::string::npos || colon < eq) {
        spdlog::error("--peer '{}' is not NAME=HOST:PORT", spec);
        return 2;
      }
      regionlab::server::ClusterOptions::RemotePeer peer;
      peer.name = spec.substr(0, eq);
      peer.host = spec.substr(eq + 1, colon - eq - 1);
      int port = std::atoi(spec.c_str() + colon + 1);
      if (port <= 0 || port > 65535) {
        spdlog::error("--peer '{}' has an invalid port", spec);
        return 2;
      }
      peer.replication_port = static_cast<uint16_t>(port);
      peer.endpoint = "http://" + peer.host + ":" + std::to_string(std::max(1, port - 1000)) + "/";
      for (const auto& e : serve_peer_endpoints) {
        if (e.rfind(peer.name + "=", 0) == 0) peer.endpoint = e.substr(peer.name.size() + 1);
      }
      serve_opts.remote_peers.push_back(peer);
    }
    return RunUp(serve_opts, serve_seed_opt->count() > 0);
  }
  if (up->parsed()) {
    up_opts.regions = regionlab::SplitList(regions_csv);
    up_opts.seed = seed;
    return RunUp(up_opts, seed_opt->count() > 0, up_scenario);
  }
  if (bench->parsed()) return bench->Run();
  return 2;
}
