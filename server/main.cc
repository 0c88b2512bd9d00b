// The regionlab binary: `regionlab up` starts a cluster of regions in one
// process. Logs go to stderr; stdout carries only the JSON ready line.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <random>

#include "base/logging.h"
#include "server/cluster.h"

namespace {

std::vector<std::string> SplitCsv(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    std::string part = s.substr(i, j - i);
    while (!part.empty() && part.front() == ' ') part.erase(part.begin());
    while (!part.empty() && part.back() == ' ') part.pop_back();
    if (!part.empty()) out.push_back(part);
    i = j + 1;
  }
  return out;
}

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

  CLI11_PARSE(app, argc, argv);
  regionlab::InitLogging(log_level);

  if (up->parsed()) {
    up_opts.regions = SplitCsv(regions_csv);
    up_opts.seed = seed;
    return RunUp(up_opts, seed_opt->count() > 0);
  }
  return 2;
}
