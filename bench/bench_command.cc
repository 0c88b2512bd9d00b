#include "bench/bench_command.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

#include "bench/report.h"
#include "bench/server_process.h"
#include "base/encoding.h"
#include "bench/workload.h"

namespace regionlab::bench {
namespace {

using namespace std::chrono_literals;

std::string UtcNow() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string OwnCommandLine() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string out;
  size_t i = 0;
  while (i < raw.size()) {
    size_t j = raw.find('\0', i);
    if (j == std::string::npos) j = raw.size();
    if (!out.empty()) out += ' ';
    out += raw.substr(i, j - i);
    i = j + 1;
  }
  return out;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

class BenchCommandImpl final : public BenchCommand {
 public:
  explicit BenchCommandImpl(CLI::App& app) {
    cmd_ = app.add_subcommand(
        "bench",
        "benchmark one region: create and read throughput and latency, start-up time, RSS");
    auto* endpoint = cmd_->add_option(
        "--endpoint", endpoint_,
        "drive this running region (http://host:port/) instead of spawning a server");
    cmd_->add_option("--key", key_, "account key of --endpoint (default: the emulator key)");
    cmd_->add_option("--ca-cert", ca_cert_, "https --endpoint: the CA file to trust");
    auto* tls = cmd_->add_flag("--tls", tls_, "the spawned server serves HTTPS (up --tls); the load goes over TLS");
    cmd_->add_option("--connections", wl_.connections, "worker threads, one connection each")
        ->capture_default_str()
        ->check(CLI::Range(1, 4096));
    auto* duration = cmd_->add_option("--duration-s", wl_.duration_s, "length of each phase")
                         ->capture_default_str()
                         ->check(CLI::PositiveNumber);
    auto* ops = cmd_->add_option("--ops", wl_.ops, "operations per phase (instead of --duration-s)")
                    ->check(CLI::PositiveNumber);
    ops->excludes(duration);
    cmd_->add_option("--rate", wl_.rate, "operations per second, paced (0: as fast as possible)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd_->add_option("--warmup-s", wl_.warmup_s, "unrecorded load before each phase (0: none)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd_->add_option("--bulk-size", wl_.bulk_size, "creates per request of a bulk phase (1-100)")
        ->check(CLI::Range(1, 100));
    cmd_->add_option("--doc-size", wl_.doc_size, "bytes of each created document's JSON")
        ->capture_default_str()
        ->check(CLI::Range(64, 2 * 1024 * 1024));
    cmd_->add_option("--partition-keys", wl_.partition_keys, "distinct partition key values")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000000));
    cmd_->add_option("--phases", phases_csv_, "comma-separated phases, in order: create, read, bulk (100 creates per request)")
        ->capture_default_str();
    cmd_->add_option("--preload", wl_.preload,
                     "documents created before a read phase when no create phase ran first")
        ->capture_default_str();
    cmd_->add_option("--database", wl_.database, "database of the benchmark's documents")
        ->capture_default_str();
    cmd_->add_option("--container", wl_.container, "container (partition key /pk)")
        ->capture_default_str();
    seed_opt_ = cmd_->add_option(
        "--seed", wl_.seed,
        "seeds the run id (document ids) and the read choices (default: random, so repeated "
        "runs against one --endpoint do not collide)");
    auto* existing = cmd_->add_option(
        "--existing-docs", wl_.existing,
        "with --endpoint: documents 0..N-1 of an earlier run with the same --seed exist; reads "
        "use them without preloading, creates continue after them");
    auto* data_dir = cmd_->add_option(
        "--data-dir", data_dir_,
        "durable mode: the spawned server stores its data here (kept afterwards)");
    auto* durable = cmd_->add_flag(
        "--durable", durable_, "durable mode in a fresh temporary data dir, removed afterwards");
    durable->excludes(data_dir);
    auto* threads = cmd_->add_option("--server-threads", server_threads_,
                                     "io threads of the spawned region (up --threads)");
    auto* binary = cmd_->add_option("--server-binary", server_binary_,
                                    "regionlab executable to spawn (default: this one)");
    cmd_->add_option("--server-log-level", server_log_level_, "--log-level of the spawned server")
        ->capture_default_str();
    auto* server_cpus = cmd_->add_option(
        "--server-cpus", server_cpus_, "pin the spawned server to these CPUs (e.g. 0 or 0-1)");
    cmd_->add_option("--bench-cpus", bench_cpus_,
                     "pin the load generator to these CPUs (e.g. 1)");
    cmd_->add_option("--idle-settle-ms", idle_settle_ms_,
                     "wait after the ready line before reading the idle RSS")
        ->capture_default_str();
    auto* startup = cmd_->add_option(
        "--startup-runs", startup_runs_,
        "only measure start-up: spawn and stop the server K times, report median and p90");
    startup->check(CLI::Range(1, 100000));
    cmd_->add_flag("--json", json_, "print one JSON object on stdout instead of a table");
    cmd_->add_flag("--check-targets", check_targets_, "exit with code 3 if a target is missed");
    for (auto* o : {data_dir, durable, threads, binary, startup, server_cpus, tls}) endpoint->excludes(o);
    existing->needs(endpoint);
    existing->needs(seed_opt_);
  }

  bool parsed() const override { return cmd_->parsed(); }

  int Run() override {
    if (seed_opt_->count() == 0) wl_.seed = std::random_device{}() & 0x7fffffff;
    RunReport report;
    report.date = UtcNow();
    report.command = OwnCommandLine();
    report.host = ReadHostInfo();
    report.workload = wl_;
    for (const auto& p : regionlab::SplitList(phases_csv_)) {
      if (p == "create") {
        phases_.push_back(PhaseKind::kCreate);
      } else if (p == "read") {
        phases_.push_back(PhaseKind::kRead);
      } else if (p == "bulk") {
        phases_.push_back(PhaseKind::kBulk);
      } else {
        spdlog::error("bench: unknown phase '{}' (use create, read, bulk)", p);
        return 1;
      }
      report.phase_names.push_back(p);
    }
    if (phases_.empty() && startup_runs_ == 0) {
      spdlog::error("bench: --phases is empty");
      return 1;
    }

    if (!server_cpus_.empty()) {
      auto cpus = ParseCpuList(server_cpus_);
      if (!cpus.ok()) {
        spdlog::error("bench: --server-cpus: {}", cpus.status().message());
        return 1;
      }
      spawn_.cpus = *cpus;
      report.server_cpus = server_cpus_;
    }
    if (!bench_cpus_.empty()) {
      // The server must not inherit the bench's pinning.
      if (spawn_.cpus.empty()) {
        cpu_set_t all;
        CPU_ZERO(&all);
        if (sched_getaffinity(0, sizeof all, &all) == 0) {
          for (int c = 0; c < CPU_SETSIZE; ++c) {
            if (CPU_ISSET(c, &all)) spawn_.cpus.push_back(c);
          }
        }
      }
      auto cpus = ParseCpuList(bench_cpus_);
      Status pinned = cpus.ok() ? PinCurrentThread(*cpus) : cpus.status();
      if (!pinned.ok()) {
        spdlog::error("bench: --bench-cpus: {}", pinned.message());
        return 1;
      }
      report.bench_cpus = bench_cpus_;
    }
    report.load_before = LoadAverage1();
    Status st = Status::Ok();
    if (!endpoint_.empty()) {
      report.mode = "external";
      report.endpoint = endpoint_;
      st = RunLoad(endpoint_, -1, &report);
    } else {
      st = PrepareServer(&report);
      if (st.ok()) st = startup_runs_ > 0 ? RunStartup(&report) : RunSpawned(&report);
      CleanUp();
    }
    report.load_after = LoadAverage1();
    if (!st.ok()) {
      spdlog::error("bench: {}", st.ToString());
      return 1;
    }
    if (json_) {
      std::cout << report.ToJson() << std::endl;
    } else {
      std::cout << report.ToTable() << std::flush;
    }
    if (check_targets_ && !report.AllTargetsMet()) return 3;
    return 0;
  }

 private:
  // Fills the spawn options and the mode; makes the temporary data dir.
  Status PrepareServer(RunReport* report) {
    spawn_.binary = server_binary_;
    if (spawn_.binary.empty()) {
      std::error_code ec;
      auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
      spawn_.binary = ec ? "/proc/self/exe" : self.string();
    }
    spawn_.args = {"--log-level", server_log_level_, "up",         "--regions", "uksouth",
                   "--port",      "0",               "--admin-port", "0"};
    if (durable_) {
      std::string tmpl = (std::filesystem::temp_directory_path() / "regionlab-bench-XXXXXX").string();
      if (!mkdtemp(tmpl.data())) return Status::IOError("cannot create a temporary data dir");
      data_dir_ = tmpl;
      remove_data_dir_ = true;
    }
    if (!data_dir_.empty()) {
      report->mode = "durable";
      report->data_dir = data_dir_;
      spawn_.args.insert(spawn_.args.end(), {"--data-dir", data_dir_});
    } else {
      report->mode = "ephemeral";
      spawn_.args.push_back("--ephemeral");
    }
    if (server_threads_ > 0) {
      spawn_.args.insert(spawn_.args.end(), {"--threads", std::to_string(server_threads_)});
    }
    if (tls_) spawn_.args.push_back("--tls");
    report->server_command = spawn_.binary + " " + Join(spawn_.args);
    return Status::Ok();
  }

  void CleanUp() {
    if (remove_data_dir_ && !data_dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(data_dir_, ec);
      if (ec) spdlog::warn("bench: cannot remove {}: {}", data_dir_, ec.message());
    }
  }

  Result<std::unique_ptr<ServerProcess>> Spawn() {
    auto server = ServerProcess::Spawn(spawn_);
    if (!server.ok()) return server.status();
    if ((*server)->ready().regions.empty()) return Status::Internal("the ready line lists no region");
    return server;
  }

  // Idle memory: after the ready line and a settle time, before any load.
  ProcMemory IdleMemory(pid_t pid) {
    std::this_thread::sleep_for(std::chrono::milliseconds(idle_settle_ms_));
    auto mem = ReadProcMemory(pid);
    return mem.ok() ? *mem : ProcMemory{};
  }

  Status RunStartup(RunReport* report) {
    for (int i = 0; i < startup_runs_; ++i) {
      auto server = Spawn();
      if (!server.ok()) return server.status();
      const double ms = std::chrono::duration<double, std::milli>((*server)->time_to_ready()).count();
      const ProcMemory mem = IdleMemory((*server)->pid());
      report->startup_ms.push_back(ms);
      report->startup_idle_rss_kb.push_back(mem.rss_kb);
      report->endpoint = (*server)->ready().regions.front().endpoint;
      auto code = (*server)->Stop(10s);
      if (!code.ok()) return code.status();
      if (*code != 0) spdlog::warn("bench: the server exited with code {}", *code);
      spdlog::info("bench: start-up run {}/{}: {:.2f} ms to ready, idle RSS {} KiB", i + 1,
                   startup_runs_, ms, mem.rss_kb);
    }
    return Status::Ok();
  }

  Status RunSpawned(RunReport* report) {
    auto server = Spawn();
    if (!server.ok()) return server.status();
    ServerProcess& proc = **server;
    report->time_to_ready_ms =
        std::chrono::duration<double, std::milli>(proc.time_to_ready()).count();
    const ProcMemory idle = IdleMemory(proc.pid());
    report->idle_rss_kb = idle.rss_kb;
    report->idle_threads = idle.threads;
    report->endpoint = proc.ready().regions.front().endpoint;
    ca_cert_ = proc.ready().ca_cert;
    spdlog::info("bench: server pid {} ready in {:.2f} ms, idle RSS {} KiB", proc.pid(),
                 *report->time_to_ready_ms, idle.rss_kb);

    Status st = RunLoad(report->endpoint, proc.pid(), report);
    if (auto mem = ReadProcMemory(proc.pid()); mem.ok()) {
      report->rss_after_kb = mem->rss_kb;
      report->peak_rss_kb = mem->hwm_kb;
    }
    std::chrono::nanoseconds took{0};
    auto code = proc.Stop(10s, &took);
    report->stop_ms = std::chrono::duration<double, std::milli>(took).count();
    if (code.ok()) {
      report->exit_code = *code;
      if (*code != 0) spdlog::warn("bench: the server exited with code {}", *code);
    } else {
      spdlog::warn("bench: stopping the server: {}", code.status().ToString());
    }
    return st;
  }

  // Runs the phases against `endpoint`; `server_pid` (if > 0) is sampled for CPU.
  Status RunLoad(const std::string& endpoint, pid_t server_pid, RunReport* report) {
    WorkloadOptions o = wl_;
    o.endpoint = endpoint;
    o.key = key_;
    o.ca_file = ca_cert_;
    Workload workload(o);
    RL_RETURN_IF_ERROR(workload.Setup());
    for (PhaseKind kind : phases_) {
      RL_RETURN_IF_ERROR(workload.Prepare(kind));
      // CPU figures cover exactly the measured part.
      const auto srv0 = server_pid > 0 ? ReadProcCpu(server_pid) : Result<CpuTimes>(CpuTimes{});
      const CpuTimes self0 = SelfCpu();
      const auto sys0 = SystemCpuSeconds();
      auto result = workload.Measure(kind);
      const auto sys1 = SystemCpuSeconds();
      const CpuTimes self1 = SelfCpu();
      const auto srv1 = server_pid > 0 ? ReadProcCpu(server_pid) : Result<CpuTimes>(CpuTimes{});
      if (!result.ok()) return result.status();
      PhaseReport pr;
      pr.result = std::move(*result);
      pr.bench_cpu_s = self1.total() - self0.total();
      pr.bench_sys_s = self1.sys - self0.sys;
      if (server_pid > 0 && srv0.ok() && srv1.ok()) {
        pr.server_cpu_s = srv1->total() - srv0->total();
        pr.server_sys_s = srv1->sys - srv0->sys;
      }
      if (sys0.ok() && sys1.ok()) {
        // Interrupt time is not charged to any process; count it apart.
        pr.irq_cpu_s = sys1->irq - sys0->irq;
        const double others = (sys1->busy - sys0->busy) - pr.irq_cpu_s - pr.bench_cpu_s -
                              std::max(pr.server_cpu_s, 0.0);
        pr.other_cpu_s = std::max(others, 0.0);
      }
      spdlog::info("bench: {}: {} ok, {} errors, {:.0f} ops/s, p99 {:.3f} ms", PhaseName(kind),
                   pr.result.ok, pr.result.errors, pr.result.throughput(),
                   static_cast<double>(pr.result.latency.Percentile(0.99)) / 1e6);
      report->phases.push_back(std::move(pr));
    }
    return Status::Ok();
  }

  CLI::App* cmd_ = nullptr;
  CLI::Option* seed_opt_ = nullptr;
  WorkloadOptions wl_;
  std::string endpoint_;
  std::string ca_cert_;  // https: --ca-cert, or the spawned server's caCert
  bool tls_ = false;
  std::string key_;
  std::string phases_csv_ = "create,read";
  std::vector<PhaseKind> phases_;
  std::string data_dir_;
  bool durable_ = false;
  bool remove_data_dir_ = false;
  int server_threads_ = 0;
  std::string server_binary_;
  std::string server_log_level_ = "warn";
  std::string server_cpus_;
  std::string bench_cpus_;
  int idle_settle_ms_ = 200;
  int startup_runs_ = 0;
  bool json_ = false;
  bool check_targets_ = false;
  SpawnOptions spawn_;
};

}  // namespace

std::unique_ptr<BenchCommand> AddBenchCommand(CLI::App& app) {
  return std::make_unique<BenchCommandImpl>(app);
}

}  // namespace regionlab::bench
