#include "cli/cluster_commands.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdlib>
#include <csignal>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/encoding.h"
#include "cli/up_config.h"
#include "cluster/cluster.h"

namespace regionlab::cli {
namespace {

using cluster::Cluster;
using cluster::ClusterOptions;

// Blocks SIGINT/SIGTERM in every thread started after this call, so that the
// main thread can take them synchronously with sigwait.
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

// `up --open`: hands the console's URL to $BROWSER or xdg-open, their output
// kept off our stdout; without either, the URL is only logged.
void OpenConsole(const std::string& ready_line) {
  auto j = nlohmann::json::parse(ready_line, nullptr, false);
  if (!j.is_object() || !j.contains("console")) return;
  const std::string url = j["console"].get<std::string>();
  const char* env = std::getenv("BROWSER");
  const std::string browser = env && *env ? env : "xdg-open";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> argv = {const_cast<char*>(browser.c_str()), const_cast<char*>(url.c_str()), nullptr};
  pid_t pid = 0;
  if (posix_spawnp(&pid, browser.c_str(), &fa, nullptr, argv.data(), environ) == 0) {
    spdlog::info("console: {} (opened with {})", url, browser);
    std::thread([pid] { waitpid(pid, nullptr, 0); }).detach();  // no zombie left behind
  } else {
    spdlog::info("console: {} (no browser to open it: set $BROWSER)", url);
  }
  posix_spawn_file_actions_destroy(&fa);
}

// Starts the cluster (and the front door of `config_file`'s frontDoor
// section), runs `scenario_file` if given, prints the ready line and waits for
// a stop signal.
int RunCluster(ClusterOptions options, bool seed_given, const std::string& scenario_file,
               const std::string& config_file = "", bool open_console = false) {
  UpConfig config;
  if (!config_file.empty()) {
    auto read = ReadUpConfig(config_file);
    if (!read.ok()) {
      spdlog::error("{}", read.status().message());
      return 2;
    }
    config = std::move(*read);
  }
  if (options.tls && config.front_door) {
    // Its proxy and probes speak plain HTTP to origins (docs/frontdoor.md).
    spdlog::error("--tls with a frontDoor section is not supported: the Front Door emulator reaches its origins over "
                  "plain HTTP; run the regions without --tls, or run `regionlab frontdoor` in front of http origins");
    return 2;
  }
  // The front door starts after the regions; its routes join the admin port.
  auto front_door = std::make_shared<std::atomic<EmbeddedFrontDoor*>>(nullptr);
  if (config.front_door) {
    options.extra_admin_routes = [front_door](server::HttpRequest& req) -> std::optional<server::HttpResponse> {
      EmbeddedFrontDoor* fd = front_door->load();
      return fd ? fd->Route(req) : std::nullopt;
    };
  }
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
  auto cluster = Cluster::Start(options);
  if (!cluster.ok()) {
    spdlog::error("cannot start: {}", cluster.status().ToString());
    return 1;
  }
  if (!scenario_file.empty()) {
    Status st = (*cluster)->RunScenario(scenario);
    if (!st.ok()) {
      spdlog::error("scenario {}: {}", scenario_file, st.message());
      (*cluster)->Stop();
      return 2;
    }
    spdlog::info("scenario {} started", scenario_file);
  }
  std::string ready = (*cluster)->ReadyLine();
  std::unique_ptr<EmbeddedFrontDoor> embedded;
  if (config.front_door) {
    auto r = EmbeddedFrontDoor::Start(*config.front_door, options.regions, options.host, &ready);
    if (!r.ok()) {
      spdlog::error("{}", r.status().message());
      (*cluster)->Stop();
      return r.status().code() == StatusCode::kBadRequest ? 2 : 1;
    }
    embedded = std::move(*r);
    front_door->store(embedded.get());
  }
#ifdef REGIONLAB_TCMALLOC  // cli/CMakeLists.txt
  spdlog::debug("up: ready; allocator tcmalloc");
#else
  spdlog::debug("up: ready; allocator glibc");
#endif
  std::cout << ready << std::endl;
  if (open_console) OpenConsole(ready);
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: shutting down", sig);
  if (embedded) embedded->Stop();
  (*cluster)->Stop();
  spdlog::info("stopped");
  return 0;
}

// NAME=HOST:PORT of a peer's replication listener, its data-plane endpoint
// from `endpoints` (NAME=URL) or http[s]://HOST:(PORT-1000)/.
std::optional<ClusterOptions::RemotePeer> ParsePeer(const std::string& spec, const std::vector<std::string>& endpoints,
                                                     bool tls) {
  auto eq = spec.find('='), colon = spec.rfind(':');
  if (eq == std::string::npos || colon == std::string::npos || colon < eq) {
    spdlog::error("--peer '{}' is not NAME=HOST:PORT", spec);
    return std::nullopt;
  }
  ClusterOptions::RemotePeer peer;
  peer.name = spec.substr(0, eq);
  peer.host = spec.substr(eq + 1, colon - eq - 1);
  int port = std::atoi(spec.c_str() + colon + 1);
  if (port <= 0 || port > 65535) {
    spdlog::error("--peer '{}' has an invalid port", spec);
    return std::nullopt;
  }
  peer.replication_port = static_cast<uint16_t>(port);
  peer.endpoint = std::string(tls ? "https://" : "http://") + peer.host + ":" + std::to_string(std::max(1, port - 1000)) + "/";
  for (const auto& e : endpoints) {
    if (e.rfind(peer.name + "=", 0) == 0) peer.endpoint = e.substr(peer.name.size() + 1);
  }
  return peer;
}

// --tls and the certificate options, the same on `up` and `serve`.
void AddTlsOptions(CLI::App* cmd, ClusterOptions* opts) {
  cmd->add_flag("--tls", opts->tls, "serve HTTPS and replicate over mutual TLS (docs/tls.md)");
  cmd->add_option("--tls-dir", opts->tls_dir, "where the local CA and certificate live (default: DATA_DIR/tls)");
  cmd->add_option("--tls-cert", opts->tls_cert, "your own server certificate (PEM) instead of the local CA's")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tls-key", opts->tls_key, "the private key (PEM) of --tls-cert")->check(CLI::ExistingFile);
  cmd->add_option("--tls-ca", opts->tls_ca, "the CA (PEM) that issued --tls-cert (default: --tls-cert itself)")
      ->check(CLI::ExistingFile);
}

}  // namespace

Subcommand AddUpCommand(CLI::App& root) {
  struct State {
    ClusterOptions opts;
    std::string regions_csv = "uksouth,westeurope";
    uint64_t seed = 0;
    std::string scenario;
    std::string config;
    bool open = false;
    CLI::Option* seed_opt = nullptr;
  };
  auto st = std::make_shared<State>();
  auto* up = root.add_subcommand("up", "start one node per region in this process");
  up->add_option("--regions", st->regions_csv, "comma-separated short region names")->capture_default_str();
  up->add_option("--port", st->opts.port, "data-plane port of the first region (0: any free port)")
      ->capture_default_str();
  up->add_option("--admin-port", st->opts.admin_port, "management API port (0: any free port)")
      ->capture_default_str();
  up->add_option("--host", st->opts.host, "address to bind and advertise")->capture_default_str();
  up->add_option("--admin-host", st->opts.admin_host,
                 "address of the management API (anything but loopback requires signed requests)")
      ->capture_default_str();
  up->add_option("--admin-token", st->opts.admin_token, "bearer token the management API accepts besides the key");
  auto* data_dir = up->add_option("--data-dir", st->opts.data_dir, "directory of the regions' stores")
                       ->capture_default_str();
  auto* ephemeral = up->add_flag("--ephemeral", st->opts.ephemeral, "keep everything in memory");
  data_dir->excludes(ephemeral);
  st->seed_opt = up->add_option("--seed", st->seed, "seed of every random fault decision");
  up->add_option("--lease-home", st->opts.lease_home, "region that decides fenced leases (default: the first)");
  up->add_option("--key", st->opts.key, "account master key (default: the emulator key)");
  up->add_option("--consistency", st->opts.consistency, "the account's default consistency")
      ->check(CLI::IsMember({"Session", "Eventual", "ConsistentPrefix"}))
      ->capture_default_str();
  up->add_flag("--enforce-throughput", st->opts.enforce_throughput,
              "throttle each container to its provisioned RU/s (429, sub-status 3200), as Azure does");
  AddTlsOptions(up, &st->opts);
  up->add_option("--threads", st->opts.threads_per_region, "HTTP io threads per region")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  up->add_option("--scenario", st->scenario, "run this scenario file (a POST /scenario body) from the start")
      ->check(CLI::ExistingFile);
  up->add_flag("--open", st->open, "open the web console (the ready line's \"console\" URL) in $BROWSER or xdg-open");
  up->add_option("--config", st->config, "JSON settings file; its frontDoor section runs the Front Door emulator")
      ->check(CLI::ExistingFile);
  return {up, [st] {
            st->opts.regions = SplitList(st->regions_csv);
            st->opts.seed = st->seed;
            return RunCluster(st->opts, st->seed_opt->count() > 0, st->scenario, st->config, st->open);
          }};
}

Subcommand AddServeCommand(CLI::App& root) {
  struct State {
    ClusterOptions opts;
    std::string region;
    std::vector<std::string> peers, peer_endpoints;
    uint64_t seed = 0;
    CLI::Option* seed_opt = nullptr;
  };
  auto st = std::make_shared<State>();
  auto* serve = root.add_subcommand("serve", "run a single region; peers in other processes");
  serve->add_option("--region", st->region, "this region's short name")->required();
  serve->add_option("--port", st->opts.port, "data-plane port (0: any free port)")->required();
  serve->add_option("--replication-port", st->opts.replication_port,
                    "replication listener port (0: any free port)")->required();
  serve->add_option("--peer", st->peers, "NAME=HOST:PORT of a peer's replication listener (repeat)");
  serve->add_option("--peer-endpoint", st->peer_endpoints,
                    "NAME=URL of a peer's data plane, for the account document (default: "
                    "http://HOST:(PORT-1000)/)");
  serve->add_option("--host", st->opts.host, "address to bind and advertise")->capture_default_str();
  serve->add_option("--admin-host", st->opts.admin_host,
                    "address of the management API (anything but loopback requires signed requests)")
      ->capture_default_str();
  serve->add_option("--admin-token", st->opts.admin_token,
                    "bearer token the management API accepts besides the key");
  auto* dir = serve->add_option("--data-dir", st->opts.data_dir, "parent directory of the store")
                  ->capture_default_str();
  auto* eph = serve->add_flag("--ephemeral", st->opts.ephemeral, "keep everything in memory");
  dir->excludes(eph);
  serve->add_option("--admin-port", st->opts.admin_port, "management API port (0: any free port)")
      ->capture_default_str();
  st->seed_opt = serve->add_option("--seed", st->seed, "seed of every random fault decision");
  serve->add_option("--lease-home", st->opts.lease_home,
                    "region that decides fenced leases (default: the first by name); the same in every process");
  serve->add_option("--key", st->opts.key, "account master key (default: the emulator key)");
  serve->add_option("--consistency", st->opts.consistency, "the account's default consistency")
      ->check(CLI::IsMember({"Session", "Eventual", "ConsistentPrefix"}))
      ->capture_default_str();
  serve->add_flag("--enforce-throughput", st->opts.enforce_throughput,
              "throttle each container to its provisioned RU/s (429, sub-status 3200), as Azure does");
  AddTlsOptions(serve, &st->opts);
  return {serve, [st] {
            st->opts.regions = {st->region};
            st->opts.ids_by_sorted_name = true;
            st->opts.seed = st->seed;
            for (const auto& spec : st->peers) {
              auto peer = ParsePeer(spec, st->peer_endpoints, st->opts.tls);
              if (!peer) return 2;
              st->opts.remote_peers.push_back(*peer);
            }
            return RunCluster(st->opts, st->seed_opt->count() > 0, "");
          }};
}

}  // namespace regionlab::cli
