#include "bench/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

namespace regionlab::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// "VmRSS:\t   14884 kB" -> 14884
int64_t FieldNumber(std::string_view text, std::string_view name) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    if (line.size() > name.size() && line.substr(0, name.size()) == name &&
        line[name.size()] == ':') {
      std::string_view rest = line.substr(name.size() + 1);
      size_t i = rest.find_first_of("0123456789");
      if (i == std::string_view::npos) return -1;
      int64_t v = 0;
      for (; i < rest.size() && rest[i] >= '0' && rest[i] <= '9'; ++i) v = v * 10 + (rest[i] - '0');
      return v;
    }
    pos = eol + 1;
  }
  return -1;
}

std::string ExitDescription(int wstatus) {
  if (WIFEXITED(wstatus)) return "exited with code " + std::to_string(WEXITSTATUS(wstatus));
  if (WIFSIGNALED(wstatus)) return std::string("killed by signal ") + strsignal(WTERMSIG(wstatus));
  return "stopped";
}

int ExitCode(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return -1;
}

}  // namespace

Result<ReadyInfo> ParseReadyLine(std::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::BadRequest("not a JSON ready line: " + std::string(line));
  }
  auto event = j.find("event");
  if (event == j.end() || !event->is_string() || *event != "ready") {
    return Status::BadRequest("the first stdout line is not a ready event: " + std::string(line));
  }
  ReadyInfo info;
  info.line = std::string(line);
  if (auto a = j.find("admin"); a != j.end() && a->is_string()) info.admin = *a;
  if (auto c = j.find("caCert"); c != j.end() && c->is_string()) info.ca_cert = *c;
  auto regions = j.find("regions");
  if (regions == j.end() || !regions->is_array() || regions->empty()) {
    return Status::BadRequest("the ready line lists no regions: " + std::string(line));
  }
  for (const auto& r : *regions) {
    ReadyInfo::Region region;
    if (r.contains("name") && r["name"].is_string()) region.name = r["name"];
    if (!r.contains("endpoint") || !r["endpoint"].is_string()) {
      return Status::BadRequest("a region of the ready line has no endpoint: " + std::string(line));
    }
    region.endpoint = r["endpoint"];
    info.regions.push_back(std::move(region));
  }
  return info;
}

ProcMemory ParseProcStatus(std::string_view text) {
  ProcMemory m;
  m.rss_kb = FieldNumber(text, "VmRSS");
  m.hwm_kb = FieldNumber(text, "VmHWM");
  m.threads = static_cast<int>(FieldNumber(text, "Threads"));
  return m;
}

Result<ProcMemory> ReadProcMemory(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  if (!in) return Status::NotFound("no /proc entry for pid " + std::to_string(pid));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseProcStatus(ss.str());
}

Result<CpuTimes> ReadProcCpu(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return Status::NotFound("no /proc entry for pid " + std::to_string(pid));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) may contain spaces: fields restart after ')'.
  size_t close = text.rfind(')');
  if (close == std::string::npos) return Status::Internal("malformed /proc/pid/stat");
  std::istringstream fields(text.substr(close + 2));
  // Field 3 is the state; utime and stime are fields 14 and 15.
  std::string skip;
  for (int f = 3; f <= 13; ++f) fields >> skip;
  unsigned long long utime = 0, stime = 0;
  fields >> utime >> stime;
  if (!fields) return Status::Internal("malformed /proc/pid/stat");
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  return CpuTimes{static_cast<double>(utime) / hz, static_cast<double>(stime) / hz};
}

CpuTimes SelfCpu() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return CpuTimes{secs(ru.ru_utime), secs(ru.ru_stime)};
}

Result<SystemCpu> SystemCpuSeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                     steal = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  if (!in || cpu != "cpu") return Status::Internal("malformed /proc/stat");
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  SystemCpu out;
  out.busy = static_cast<double>(user + nice + system + irq + softirq + steal) / hz;
  out.irq = static_cast<double>(irq + softirq) / hz;
  return out;
}

double LoadAverage1() {
  std::ifstream in("/proc/loadavg");
  double v = -1;
  in >> v;
  return in ? v : -1;
}

Result<std::vector<int>> ParseCpuList(std::string_view list) {
  std::vector<int> out;
  auto bad = [&] { return Status::BadRequest("malformed CPU list '" + std::string(list) + "'"); };
  size_t i = 0;
  while (i < list.size()) {
    size_t j = list.find(',', i);
    if (j == std::string_view::npos) j = list.size();
    std::string_view part = list.substr(i, j - i);
    size_t dash = part.find('-');
    auto number = [](std::string_view s) -> int {
      if (s.empty() || s.size() > 4) return -1;
      int v = 0;
      for (char c : s) {
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
      }
      return v;
    };
    int lo = number(part.substr(0, dash));
    int hi = dash == std::string_view::npos ? lo : number(part.substr(dash + 1));
    if (lo < 0 || hi < lo || hi >= CPU_SETSIZE) return bad();
    for (int c = lo; c <= hi; ++c) out.push_back(c);
    i = j + 1;
  }
  if (out.empty()) return bad();
  return out;
}

Status PinCurrentThread(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus) CPU_SET(c, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) return Status::BadRequest(Errno("sched_setaffinity"));
  return Status::Ok();
}

Result<std::unique_ptr<ServerProcess>> ServerProcess::Spawn(const SpawnOptions& options) {
  // Everything the child needs is prepared before fork(): after it, only
  // async-signal-safe calls.
  std::vector<std::string> argv_storage;
  argv_storage.push_back(options.binary);
  argv_storage.insert(argv_storage.end(), options.args.begin(), options.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::Internal(Errno("pipe2"));
  const pid_t parent = getpid();
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  for (int c : options.cpus) CPU_SET(c, &cpus);

  std::unique_ptr<ServerProcess> proc(new ServerProcess());
  const Clock::time_point t0 = Clock::now();
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return Status::Internal(Errno("fork"));
  }
  if (pid == 0) {
    // Child.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl
    if (!options.cpus.empty() && sched_setaffinity(0, sizeof cpus, &cpus) != 0) _exit(126);
    dup2(fds[1], STDOUT_FILENO);          // dup2 clears O_CLOEXEC on the copy
    execv(argv[0], argv.data());
    const char msg[] = "regionlab bench: exec of the server failed\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    _exit(127);
  }
  close(fds[1]);
  proc->pid_ = pid;
  proc->stdout_fd_ = fds[0];

  // Read up to the first newline.
  std::string line;
  const Clock::time_point deadline = t0 + options.ready_timeout;
  char buf[4096];
  while (true) {
    const auto now = Clock::now();
    if (now >= deadline) {
      return Status::Unavailable("the server printed no ready line within " +
                                 std::to_string(options.ready_timeout.count()) + " ms");
    }
    const int wait_ms = static_cast<int>(
        std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count());
    pollfd p{proc->stdout_fd_, POLLIN, 0};
    int r = poll(&p, 1, wait_ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::Internal(Errno("poll"));
    }
    if (r == 0) continue;
    ssize_t n = read(proc->stdout_fd_, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Internal(Errno("read"));
    }
    if (n == 0) {
      int wstatus = 0;
      std::string why = "closed its stdout";
      // Give a crashing child a moment to be reaped so we can say how it died.
      for (int i = 0; i < 100; ++i) {
        if (waitpid(pid, &wstatus, WNOHANG) == pid) {
          proc->reaped_ = true;
          why = ExitDescription(wstatus);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      return Status::Unavailable("the server " + why + " before its ready line" +
                                 (line.empty() ? std::string() : " (stdout: " + line + ")"));
    }
    const size_t before = line.size();
    line.append(buf, static_cast<size_t>(n));
    if (line.find('\n', before) != std::string::npos) break;
  }
  proc->time_to_ready_ = Clock::now() - t0;
  line.resize(line.find('\n'));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  auto ready = ParseReadyLine(line);
  if (!ready.ok()) return ready.status();
  proc->ready_ = std::move(*ready);
  return proc;
}

Result<int> ServerProcess::Stop(std::chrono::milliseconds grace, std::chrono::nanoseconds* took) {
  if (reaped_) return Status::Internal("the server was already reaped");
  const Clock::time_point t0 = Clock::now();
  if (kill(pid_, SIGTERM) != 0 && errno != ESRCH) return Status::Internal(Errno("kill"));
  int wstatus = 0;
  const Clock::time_point deadline = t0 + grace;
  while (true) {
    pid_t r = waitpid(pid_, &wstatus, WNOHANG);
    if (r == pid_) break;
    if (r < 0 && errno != EINTR) return Status::Internal(Errno("waitpid"));
    if (Clock::now() >= deadline) {
      kill(pid_, SIGKILL);
      if (waitpid(pid_, &wstatus, 0) != pid_) return Status::Internal(Errno("waitpid"));
      reaped_ = true;
      if (took) *took = Clock::now() - t0;
      return Status::Unavailable("the server did not exit within " +
                                 std::to_string(grace.count()) + " ms of SIGTERM; killed");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  reaped_ = true;
  if (took) *took = Clock::now() - t0;
  return ExitCode(wstatus);
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    int wstatus = 0;
    while (waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
    }
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

}  // namespace regionlab::bench
