// ServerProcess: a regionlab server started as a child process for the
// benchmark, and what the benchmark reads about it from /proc.
//
// Spawn() forks and execs `binary args...` with the child's stdout on a pipe
// and its stderr inherited, then waits for the ready line (the first line on
// the child's stdout, see PRODUCT.md section 2). The time from just before
// fork() to the end of that line is time_to_ready(). The child gets
// PR_SET_PDEATHSIG(SIGKILL), so it does not outlive a benchmark that dies.
//
// Thread-safety: none; use a ServerProcess from one thread. Spawn() forks, so
// call it while the process has no other threads that hold locks (the bench
// spawns before it starts its workers).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace regionlab::bench {

// What the ready line says: {"event":"ready","admin":...,"regions":[...]}.
struct ReadyInfo {
  std::string line;  // verbatim, without the newline
  std::string admin;
  std::string ca_cert;  // "caCert" (--tls): the CA file to trust
  struct Region {
    std::string name;
    std::string endpoint;
  };
  std::vector<Region> regions;
};

// Parses a ready line; kBadRequest if it is not one.
Result<ReadyInfo> ParseReadyLine(std::string_view line);

// Memory figures of /proc/<pid>/status, in KiB; -1 when absent.
struct ProcMemory {
  int64_t rss_kb = -1;  // VmRSS: resident now
  int64_t hwm_kb = -1;  // VmHWM: peak resident
  int threads = -1;     // Threads
};
ProcMemory ParseProcStatus(std::string_view status_text);
Result<ProcMemory> ReadProcMemory(pid_t pid);

// CPU time a process has used, from /proc/<pid>/stat (10 ms resolution).
struct CpuTimes {
  double user = 0;
  double sys = 0;
  double total() const { return user + sys; }
};
Result<CpuTimes> ReadProcCpu(pid_t pid);
// The same for this process (getrusage).
CpuTimes SelfCpu();
// CPU time of the whole machine so far (all CPUs, first line of /proc/stat):
// `busy` is everything but idle and iowait; `irq` the part of it spent in
// interrupts and softirqs (on loopback, much of the network stack's work).
struct SystemCpu {
  double busy = 0;
  double irq = 0;
};
Result<SystemCpu> SystemCpuSeconds();
// The 1-minute load average (/proc/loadavg); -1 if unknown.
double LoadAverage1();

struct SpawnOptions {
  // The executable. Default: this process's own (/proc/self/exe).
  std::string binary = "/proc/self/exe";
  // argv[1..].
  std::vector<std::string> args;
  // How long to wait for the ready line. Default: 30 s.
  std::chrono::milliseconds ready_timeout{30000};
  // CPUs the child may run on (sched_setaffinity); empty: inherited.
  std::vector<int> cpus;
};

// Parses a CPU list such as "0", "0,1" or "0-3,6"; kBadRequest if malformed.
Result<std::vector<int>> ParseCpuList(std::string_view list);
// Restricts the calling thread (and threads it creates later) to `cpus`.
Status PinCurrentThread(const std::vector<int>& cpus);

class ServerProcess {
 public:
  // Starts the child and waits for its ready line. Fails (after killing the
  // child) if it exits, closes its stdout or times out first.
  static Result<std::unique_ptr<ServerProcess>> Spawn(const SpawnOptions& options);

  // Kills the child (SIGKILL) if Stop() has not reaped it.
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  pid_t pid() const { return pid_; }
  const ReadyInfo& ready() const { return ready_; }
  // fork() to the end of the ready line.
  std::chrono::nanoseconds time_to_ready() const { return time_to_ready_; }

  // SIGTERM, then waits up to `grace` for the exit; SIGKILL after that.
  // Returns the exit code (128+signal if killed by a signal); `*took`, if
  // given, is how long the graceful part took.
  Result<int> Stop(std::chrono::milliseconds grace, std::chrono::nanoseconds* took = nullptr);

 private:
  ServerProcess() = default;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;  // kept open so the child never gets SIGPIPE on stdout
  bool reaped_ = false;
  ReadyInfo ready_;
  std::chrono::nanoseconds time_to_ready_{0};
};

}  // namespace regionlab::bench
