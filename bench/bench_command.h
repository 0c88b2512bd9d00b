// `regionlab bench`: the benchmark harness (see docs/benchmarks.md).
//
// It drives one region over HTTP keep-alive with N connections and reports
// throughput and p50/p99/max latency of 1 KB document creates and point
// reads, the time from exec to the ready line and the server's idle and peak
// RSS. By default it starts its own server (this binary, `up` with one region
// on free ports) as a child process; with --endpoint it drives a running one.
// With --startup-runs K it only measures start-up, K times.
//
// stdout: a human table, or one JSON object with --json. Logs: stderr.
//
// Usage from main():
//   auto bench = regionlab::bench::AddBenchCommand(app);
//   CLI11_PARSE(app, argc, argv);
//   if (bench->parsed()) return bench->Run();
#pragma once

#include <memory>

namespace CLI {
class App;
}  // namespace CLI

namespace regionlab::bench {

class BenchCommand {
 public:
  virtual ~BenchCommand() = default;
  // True if the command line selected `bench`.
  virtual bool parsed() const = 0;
  // Runs the benchmark; returns the process exit code: 0 done, 1 failed,
  // 3 done but a target was missed and --check-targets was given.
  virtual int Run() = 0;
};

// Adds the `bench` subcommand and its options to `app`. The returned object
// holds the option values; keep it alive until Run() returns.
std::unique_ptr<BenchCommand> AddBenchCommand(CLI::App& app);

}  // namespace regionlab::bench
