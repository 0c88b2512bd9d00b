// The regionlab binary: `regionlab up` starts a cluster of regions in one
// process. Logs go to stderr; stdout carries only the JSON ready line.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <random>

#include "base/encoding.h"
#include "base/logging.h"
#include "client/admin_cli.h"
#include "bench/bench_command.h"
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

int RunUp(regionlab::server::ClusterOptions options, bool seed_given) {
  if (!seed_given) options.seed = std::random_device{}() & 0x7fffffff;
  spdlog::info("seed {}", options.seed);
  sigset_t signals = BlockStopSignals();
  auto cluster = regionlab::server::Cluster::Start(options);
  if (!cluster.ok()) {
    spdlog::error("cannot start: {}", cluster.status().ToString());
    return 1;
  }
  std::cout << (*cluster)->ReadyLine() << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: shutting down", sig);
  (*cluster)->Stop();
  spdlog::info("stopped");
  return 0;
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
  up->add_option("--key", up_opts.key, "account master key (default: the emulator key)");
  up->add_option("--threads", up_opts.threads_per_region, "io threads per region")->capture_default_str();

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
  serve->add_option("--key", serve_opts.key, "account master key (default: the emulator key)");

  std::string status_admin = "http://127.0.0.1:8090/";
  bool status_json = false;
  auto* status = app.add_subcommand("status", "regions, replication links, lag and conflicts of a running cluster");
  status->add_option("--admin", status_admin, "management API URL")->capture_default_str();
  status->add_flag("--json", status_json, "print the raw JSON of /regions and /links");

  CLI11_PARSE(app, argc, argv);
  regionlab::InitLogging(log_level);

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
    return RunUp(up_opts, seed_opt->count() > 0);
  }
  if (bench->parsed()) return bench->Run();
  return 2;
}
