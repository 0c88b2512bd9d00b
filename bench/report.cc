#include "bench/report.h"

#include <sched.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

namespace regionlab::bench {
namespace {

using Json = nlohmann::ordered_json;

double Round(double v, int digits) {
  const double f = std::pow(10.0, digits);
  return std::round(v * f) / f;
}

double Ms(uint64_t nanos) { return static_cast<double>(nanos) / 1e6; }
double Mib(int64_t kb) { return static_cast<double>(kb) / 1024.0; }

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

Json LatencyJson(const LatencyHistogram& h) {
  auto us = [](uint64_t ns) { return Round(static_cast<double>(ns) / 1e3, 1); };
  return Json{{"count", h.count()},
              {"min", us(h.min())},
              {"mean", Round(h.mean() / 1e3, 1)},
              {"p50", us(h.Percentile(0.50))},
              {"p90", us(h.Percentile(0.90))},
              {"p99", us(h.Percentile(0.99))},
              {"p999", us(h.Percentile(0.999))},
              {"max", us(h.max())}};
}

}  // namespace

double PhaseReport::CpuBoundCeiling(int nproc) const {
  if (server_cpu_s < 0 || bench_cpu_s < 0 || result.ok == 0 || nproc <= 0) return -1;
  const double per_op = (server_cpu_s + bench_cpu_s + std::max(irq_cpu_s, 0.0)) / result.ok;
  return per_op > 0 ? nproc / per_op : -1;
}

double Quantile(std::vector<double> samples, double q) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(samples.size())));
  rank = std::clamp<size_t>(rank, 1, samples.size());
  return samples[rank - 1];
}

HostInfo ReadHostInfo() {
  HostInfo h;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) h.nproc = CPU_COUNT(&set);
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        h.cpu_model = line.substr(colon + 1);
        while (!h.cpu_model.empty() && h.cpu_model.front() == ' ') h.cpu_model.erase(0, 1);
      }
      break;
    }
  }
  utsname u{};
  if (uname(&u) == 0) h.kernel = u.release;
  return h;
}

std::vector<TargetCheck> RunReport::CheckTargets(const Targets& t) const {
  std::vector<TargetCheck> out;
  if (!startup_ms.empty()) {
    const double median = Quantile(startup_ms, 0.5);
    out.push_back({"time to ready (median)", "< " + Fmt("%.0f", t.max_time_to_ready_ms), median,
                   "ms", median < t.max_time_to_ready_ms});
  } else if (time_to_ready_ms) {
    out.push_back({"time to ready", "< " + Fmt("%.0f", t.max_time_to_ready_ms), *time_to_ready_ms,
                   "ms", *time_to_ready_ms < t.max_time_to_ready_ms});
  }
  int64_t idle = idle_rss_kb;
  if (!startup_idle_rss_kb.empty()) {
    std::vector<double> v(startup_idle_rss_kb.begin(), startup_idle_rss_kb.end());
    idle = static_cast<int64_t>(Quantile(v, 0.5));
  }
  if (idle >= 0) {
    out.push_back({"idle RSS", "< " + Fmt("%.0f", t.max_idle_rss_mib), Mib(idle), "MiB",
                   Mib(idle) < t.max_idle_rss_mib});
  }
  for (const auto& p : phases) {
    if (p.result.kind == PhaseKind::kBulk) continue;  // no target: reported for comparison
    const bool create = p.result.kind == PhaseKind::kCreate;
    const double min_rate = create ? t.min_creates_per_s : t.min_reads_per_s;
    const std::string what = create ? "creates" : "reads";
    out.push_back({what + "/s", ">= " + Fmt("%.0f", min_rate), p.result.throughput(), "ops/s",
                   p.result.throughput() >= min_rate && p.result.errors == 0});
    const double p99 = Ms(p.result.latency.Percentile(0.99));
    out.push_back({what + " p99", "< " + Fmt("%.0f", t.max_p99_ms), p99, "ms",
                   p99 < t.max_p99_ms});
  }
  return out;
}

bool RunReport::AllTargetsMet(const Targets& targets) const {
  for (const auto& c : CheckTargets(targets)) {
    if (!c.met) return false;
  }
  return true;
}

std::string RunReport::ToJson() const {
  Json j;
  j["date"] = date;
  j["command"] = command;
  j["host"] = {{"nproc", host.nproc},
               {"cpu", host.cpu_model},
               {"kernel", host.kernel},
               {"loadAvg1Before", load_before},
               {"loadAvg1After", load_after}};
  j["mode"] = mode;
  if (!data_dir.empty()) j["dataDir"] = data_dir;
  j["endpoint"] = endpoint;
  j["config"] = {{"connections", workload.connections},
                 {"durationS", workload.ops ? Json(nullptr) : Json(workload.duration_s)},
                 {"ops", workload.ops ? Json(workload.ops) : Json(nullptr)},
                 {"warmupS", workload.warmup_s},
                 {"docSize", workload.doc_size},
                 {"partitionKeys", workload.partition_keys},
                 {"seed", workload.seed},
                 {"phases", phase_names}};
  Json server = Json::object();
  if (!server_command.empty()) server["command"] = server_command;
  if (!server_cpus.empty()) server["cpus"] = server_cpus;
  if (!bench_cpus.empty()) j["benchCpus"] = bench_cpus;
  if (time_to_ready_ms) server["timeToReadyMs"] = Round(*time_to_ready_ms, 2);
  if (idle_rss_kb >= 0) server["idleRssKb"] = idle_rss_kb;
  if (idle_threads >= 0) server["idleThreads"] = idle_threads;
  if (rss_after_kb >= 0) server["rssAfterKb"] = rss_after_kb;
  if (peak_rss_kb >= 0) server["peakRssKb"] = peak_rss_kb;
  if (stop_ms) server["stopMs"] = Round(*stop_ms, 2);
  if (exit_code) server["exitCode"] = *exit_code;
  j["server"] = server;
  if (!startup_ms.empty()) {
    std::vector<double> rss(startup_idle_rss_kb.begin(), startup_idle_rss_kb.end());
    Json samples = Json::array();
    for (double v : startup_ms) samples.push_back(Round(v, 2));
    j["startup"] = {{"runs", startup_ms.size()},
                    {"samplesMs", samples},
                    {"minMs", Round(Quantile(startup_ms, 0), 2)},
                    {"medianMs", Round(Quantile(startup_ms, 0.5), 2)},
                    {"p90Ms", Round(Quantile(startup_ms, 0.9), 2)},
                    {"maxMs", Round(Quantile(startup_ms, 1), 2)},
                    {"idleRssKbMedian", static_cast<int64_t>(Quantile(rss, 0.5))}};
  }
  Json phases_json = Json::array();
  for (const auto& p : phases) {
    const auto& r = p.result;
    Json pj = {{"name", PhaseName(r.kind)},
               {"connections", r.connections},
               {"documentsBefore", r.documents},
               {"elapsedS", Round(r.elapsed_s, 3)},
               {"ok", r.ok},
               {"errors", r.errors},
               {"opsPerS", Round(r.throughput(), 1)},
               {"latencyUs", LatencyJson(r.latency)}};
    if (!r.error_kinds.empty()) pj["errorKinds"] = r.error_kinds;
    if (p.server_cpu_s >= 0) {
      pj["serverCpuS"] = Round(p.server_cpu_s, 2);
      pj["serverSysS"] = Round(p.server_sys_s, 2);
      if (r.ok) pj["serverCpuUsPerOp"] = Round(p.server_cpu_s * 1e6 / r.ok, 1);
    }
    if (p.bench_cpu_s >= 0) {
      pj["benchCpuS"] = Round(p.bench_cpu_s, 2);
      pj["benchSysS"] = Round(p.bench_sys_s, 2);
      if (r.ok) pj["benchCpuUsPerOp"] = Round(p.bench_cpu_s * 1e6 / r.ok, 1);
    }
    if (p.other_cpu_s >= 0) pj["otherCpuS"] = Round(p.other_cpu_s, 2);
    if (p.irq_cpu_s >= 0) pj["irqCpuS"] = Round(p.irq_cpu_s, 2);
    if (double c = p.CpuBoundCeiling(host.nproc); c > 0) pj["cpuBoundCeilingOpsPerS"] = Round(c, 0);
    phases_json.push_back(pj);
  }
  j["phases"] = phases_json;
  Json targets = Json::array();
  for (const auto& c : CheckTargets()) {
    targets.push_back({{"name", c.name},
                       {"requirement", c.requirement + " " + c.unit},
                       {"value", Round(c.value, 2)},
                       {"met", c.met}});
  }
  j["targets"] = targets;
  j["allTargetsMet"] = AllTargetsMet();
  return j.dump();
}

std::string RunReport::ToTable() const {
  std::string out;
  char buf[512];
  std::snprintf(buf, sizeof buf, "regionlab bench  %s  %d CPUs (%s)  mode %s\n", date.c_str(),
                host.nproc, host.cpu_model.c_str(), mode.c_str());
  out += buf;
  if (!endpoint.empty()) out += "endpoint " + endpoint + "\n";
  std::snprintf(buf, sizeof buf, "load average (1 min): %.2f before, %.2f after\n", load_before,
                load_after);
  out += buf;
  if (!data_dir.empty()) out += "data dir " + data_dir + "\n";
  if (!server_cpus.empty() || !bench_cpus.empty()) {
    out += "pinned: server on CPUs " + (server_cpus.empty() ? "any" : server_cpus) +
           ", bench on CPUs " + (bench_cpus.empty() ? "any" : bench_cpus) + "\n";
  }

  if (!startup_ms.empty()) {
    std::vector<double> rss(startup_idle_rss_kb.begin(), startup_idle_rss_kb.end());
    std::snprintf(buf, sizeof buf,
                  "start-up over %zu runs: min %.1f ms, median %.1f ms, p90 %.1f ms, max %.1f ms; "
                  "idle RSS median %.1f MiB\n",
                  startup_ms.size(), Quantile(startup_ms, 0), Quantile(startup_ms, 0.5),
                  Quantile(startup_ms, 0.9), Quantile(startup_ms, 1), Mib(static_cast<int64_t>(Quantile(rss, 0.5))));
    out += buf;
  }
  if (time_to_ready_ms) {
    std::snprintf(buf, sizeof buf, "server: time to ready %.1f ms, idle RSS %.1f MiB (%d threads)",
                  *time_to_ready_ms, Mib(idle_rss_kb), idle_threads);
    out += buf;
    if (peak_rss_kb >= 0) {
      std::snprintf(buf, sizeof buf, ", RSS after the run %.1f MiB, peak %.1f MiB",
                    Mib(rss_after_kb), Mib(peak_rss_kb));
      out += buf;
    }
    if (stop_ms) {
      std::snprintf(buf, sizeof buf, ", stopped in %.1f ms (exit %d)", *stop_ms, exit_code.value_or(-1));
      out += buf;
    }
    out += "\n";
  }
  if (!phases.empty()) {
    std::snprintf(buf, sizeof buf, "%-7s %5s %9s %6s %10s %8s %8s %8s %8s %8s %12s %12s %9s %9s\n",
                  "phase", "conns", "ok", "errors", "ops/s", "p50 ms", "p90 ms", "p99 ms",
                  "p99.9 ms", "max ms", "server us/op", "bench us/op", "other %", "ceiling");
    out += buf;
    for (const auto& p : phases) {
      const auto& r = p.result;
      const auto& h = r.latency;
      const double srv = p.server_cpu_s >= 0 && r.ok ? p.server_cpu_s * 1e6 / r.ok : -1;
      const double cli = p.bench_cpu_s >= 0 && r.ok ? p.bench_cpu_s * 1e6 / r.ok : -1;
      // Other processes' CPU as a share of the machine during the phase.
      const double other = p.other_cpu_s >= 0 && r.elapsed_s > 0 && host.nproc > 0
                               ? 100.0 * p.other_cpu_s / (r.elapsed_s * host.nproc)
                               : -1;
      std::snprintf(buf, sizeof buf,
                    "%-7s %5d %9llu %6llu %10.0f %8.3f %8.3f %8.3f %8.3f %8.3f %12.1f %12.1f %9.1f %9.0f\n",
                    PhaseName(r.kind), r.connections, static_cast<unsigned long long>(r.ok),
                    static_cast<unsigned long long>(r.errors), r.throughput(),
                    Ms(h.Percentile(0.5)), Ms(h.Percentile(0.9)), Ms(h.Percentile(0.99)),
                    Ms(h.Percentile(0.999)), Ms(h.max()), srv, cli, other,
                    p.CpuBoundCeiling(host.nproc));
      out += buf;
      if (r.kind == PhaseKind::kRead) {
        out += "        (reads among " + std::to_string(r.documents) + " documents)\n";
      }
      if (r.kind == PhaseKind::kBulk) {
        out += "        (ok, ops/s and CPU per op count documents; latencies are per bulk request of " +
               std::to_string(workload.bulk_size) + ")\n";
      }
      for (const auto& [kind, n] : r.error_kinds) {
        out += "        " + kind + ": " + std::to_string(n) + "\n";
      }
    }
  }
  if (!phases.empty()) {
    out += "(us/op: CPU per operation; other %: other processes' share of the machine during the\n"
           " phase; ceiling: ops/s those CPU costs allow with the machine to ourselves)\n";
  }
  const auto checks = CheckTargets();
  if (!checks.empty()) {
    out += "targets (issue 2):\n";
    for (const auto& c : checks) {
      std::snprintf(buf, sizeof buf, "  %-24s %-10s %12.2f %-6s %s\n", c.name.c_str(),
                    c.requirement.c_str(), c.value, c.unit.c_str(), c.met ? "met" : "MISSED");
      out += buf;
    }
  }
  return out;
}

}  // namespace regionlab::bench
