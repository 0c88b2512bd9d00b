// RunReport: everything one `regionlab bench` run measured, the targets it is
// judged against (issue 2), and its two renderings: a human table and JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bench/workload.h"

namespace regionlab::bench {

// The figures issue 2 asks for on a 2-core machine.
struct Targets {
  double max_time_to_ready_ms = 150;
  double max_idle_rss_mib = 40;
  double min_creates_per_s = 10000;
  double min_reads_per_s = 20000;
  double max_p99_ms = 10;
};

struct TargetCheck {
  std::string name;         // "creates/s"
  std::string requirement;  // ">= 10000"
  double value = 0;
  std::string unit;  // "ops/s", "ms", "MiB"
  bool met = false;
};

struct PhaseReport {
  PhaseResult result;
  double server_cpu_s = -1;  // CPU the server used during the measured part; -1 unknown
  double bench_cpu_s = -1;   // CPU this process used during it
  double server_sys_s = -1;  // the kernel-mode part of server_cpu_s
  double bench_sys_s = -1;   // the kernel-mode part of bench_cpu_s
  // CPU every other process on the machine used during it: a noise indicator
  // (on 2 cores, a compiler running beside the benchmark halves the figures).
  double other_cpu_s = -1;
  // Interrupt and softirq time of the whole machine during it (for loopback
  // traffic, mostly the benchmark's own network processing).
  double irq_cpu_s = -1;
  // The throughput the measured CPU costs would allow if the benchmark and
  // its server had every CPU to themselves: nproc / (server + bench + irq
  // CPU per operation). An estimate for noisy machines; -1 if unknown.
  double CpuBoundCeiling(int nproc) const;
};

// Nearest-rank quantile of unsorted samples; 0 if empty.
double Quantile(std::vector<double> samples, double q);

struct HostInfo {
  int nproc = 0;          // CPUs this process may run on (as `nproc` prints)
  std::string cpu_model;  // "model name" of /proc/cpuinfo
  std::string kernel;     // uname -r
};
HostInfo ReadHostInfo();

struct RunReport {
  std::string date;     // UTC, ISO 8601
  std::string command;  // this process's command line
  HostInfo host;
  std::string mode;      // "ephemeral", "durable" or "external"
  std::string data_dir;  // durable mode only
  std::string endpoint;
  std::string server_command;  // the spawned server's command line, if any
  std::string server_cpus;     // --server-cpus, if given
  std::string bench_cpus;      // --bench-cpus, if given
  WorkloadOptions workload;
  std::vector<std::string> phase_names;

  // Spawned server only (-1 / nullopt otherwise).
  std::optional<double> time_to_ready_ms;
  int64_t idle_rss_kb = -1;
  int idle_threads = -1;
  int64_t rss_after_kb = -1;
  int64_t peak_rss_kb = -1;  // VmHWM after the run
  std::optional<double> stop_ms;
  std::optional<int> exit_code;

  std::vector<PhaseReport> phases;
  double load_before = -1;  // 1-minute load average when the run started
  double load_after = -1;   // ... and when it ended

  // --startup-runs: one entry per run.
  std::vector<double> startup_ms;
  std::vector<int64_t> startup_idle_rss_kb;

  std::vector<TargetCheck> CheckTargets(const Targets& targets = {}) const;
  bool AllTargetsMet(const Targets& targets = {}) const;
  std::string ToJson() const;
  std::string ToTable() const;
};

}  // namespace regionlab::bench
