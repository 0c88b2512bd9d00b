#include "scripting/spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <utility>

#include "scripting/child.h"

namespace regionlab::scripting::internal {
namespace {

using Clock = std::chrono::steady_clock;

// Raw system calls: glibc 2.36's <sys/pidfd.h> lacks C++ linkage guards.
int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int PidfdKill(int pidfd) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0));
}

// ------------------------------------------------------------- shared by both processes

// The helper's reply to a spawn request (with the pidfd attached when err is 0).
struct SpawnReply {
  int32_t pid;
  int32_t err;
};

bool SendWithFd(int sock, const void* data, size_t len, int fd) {
  iovec iov{const_cast<void*>(data), len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  for (;;) {
    const ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(len)) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

// Receives one message and the descriptor attached to it (-1 if none).
// Returns the byte count, 0 at EOF, -1 on error.
ssize_t RecvWithFd(int sock, void* data, size_t len, int* fd) {
  *fd = -1;
  iovec iov{data, len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
        c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      // One descriptor is all we ever send; close any extra.
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int got;
        std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        if (*fd < 0) {
          *fd = got;
        } else {
          ::close(got);
        }
      }
    }
  }
  return n;
}

// ------------------------------------------------------------- the helper process

// Single-threaded; lives until the server closes its end of `ctl` (which
// happens at the latest when the server process ends). Each request is one
// byte with a socket attached: fork a procedure process on it, reply with
// its pid and a pidfd. Procedure processes die with the helper
// (PR_SET_PDEATHSIG) and are reaped automatically (SIGCHLD ignored).
[[noreturn]] void HelperMain(int ctl) {
  ctl = KeepOnlyFd(ctl);
  const int devnull = ::open("/dev/null", O_RDWR);
  if (devnull >= 0) {
    for (int i = 0; i < 3; ++i) {
      if (devnull != i) ::dup2(devnull, i);
    }
    if (devnull > 3) ::close(devnull);
  }
  DefaultSignals();
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  ::sigemptyset(&ign.sa_mask);
  ::sigaction(SIGCHLD, &ign, nullptr);
  ::prctl(PR_SET_NAME, "regionlab-js");

  for (;;) {
    char request = 0;
    int run_fd = -1;
    const ssize_t n = RecvWithFd(ctl, &request, 1, &run_fd);
    if (n == 0) _exit(0);  // the server is gone or stopped us
    if (n < 0) _exit(1);
    if (run_fd < 0) continue;
    const pid_t me = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(ctl);
      ChildMain(run_fd, me);
    }
    SpawnReply reply{pid, 0};
    int pidfd = -1;
    if (pid < 0) {
      reply.err = errno;
    } else {
      pidfd = PidfdOpen(pid);
      if (pidfd < 0) {
        reply.err = errno;
        ::kill(pid, SIGKILL);  // SIGCHLD is ignored: it reaps itself
      }
    }
    ::close(run_fd);
    const bool sent = SendWithFd(ctl, &reply, sizeof reply, pidfd);
    if (pidfd >= 0) ::close(pidfd);
    if (!sent) _exit(1);
  }
}

// ------------------------------------------------------------- the server side

struct Helper {
  std::mutex mu;
  pid_t pid = -1;
  int ctl = -1;
  bool unusable = false;  // no pidfds here: fork directly from now on
};

Helper& TheHelper() {
  static Helper* helper = new Helper();  // never destroyed: no exit-order issues
  return *helper;
}

bool StartLocked(Helper& h) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return false;
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(sv[0]);
    ::close(sv[1]);
    return false;
  }
  if (pid == 0) {
    ::close(sv[0]);
    HelperMain(sv[1]);
  }
  ::close(sv[1]);
  h.pid = pid;
  h.ctl = sv[0];
  return true;
}

void StopLocked(Helper& h) {
  if (h.ctl >= 0) ::close(h.ctl);
  if (h.pid > 0) {
    ::kill(h.pid, SIGKILL);
    while (::waitpid(h.pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  h.ctl = -1;
  h.pid = -1;
}

enum class Asked { kOk, kTimeout, kNoPidfd, kBroken };

// How long the helper may take to fork. Not the run's time budget: a small
// budget must not make us give up on a healthy helper (restarting it forks
// the server); a helper this slow is stuck.
constexpr auto kHelperTimeout = std::chrono::seconds(5);

// Asks the helper for a procedure process on `child_fd`.
Asked AskLocked(Helper& h, int child_fd, int* pidfd) {
  const Clock::time_point deadline = Clock::now() + kHelperTimeout;
  const char request = 'S';
  if (!SendWithFd(h.ctl, &request, 1, child_fd)) return Asked::kBroken;
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{h.ctl, POLLIN, 0};
    const int r =
        ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(left, 1 << 30))));
    if (r > 0) break;
    if (r == 0 && left <= 0) return Asked::kTimeout;
    if (r < 0 && errno != EINTR) return Asked::kBroken;
  }
  SpawnReply reply{};
  const ssize_t n = RecvWithFd(h.ctl, &reply, sizeof reply, pidfd);
  if (n != static_cast<ssize_t>(sizeof reply)) {
    if (*pidfd >= 0) ::close(*pidfd);
    return Asked::kBroken;
  }
  if (reply.err != 0 || *pidfd < 0) {
    if (*pidfd >= 0) ::close(*pidfd);
    *pidfd = -1;
    return reply.err == ENOSYS ? Asked::kNoPidfd : Asked::kBroken;
  }
  return Asked::kOk;
}

// Waits until `fd` is readable (a pidfd: the process has exited), at most
// `timeout_ms`.
void WaitReadable(int fd, int timeout_ms) {
  const auto until = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left)));
    if (r >= 0 || errno != EINTR) return;
  }
}

}  // namespace

ProcedureProcess& ProcedureProcess::operator=(ProcedureProcess&& o) noexcept {
  if (this != &o) {
    Stop();
    pid_ = std::exchange(o.pid_, -1);
    pidfd_ = std::exchange(o.pidfd_, -1);
    fd_ = std::exchange(o.fd_, -1);
    wait_status_ = std::exchange(o.wait_status_, -1);
  }
  return *this;
}

void ProcedureProcess::Stop() {
  if (pidfd_ >= 0) {
    PidfdKill(pidfd_);
    WaitReadable(pidfd_, 5000);  // readable once it has exited; SIGKILL is prompt
    ::close(pidfd_);
    pidfd_ = -1;
  }
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(pid_, &status, 0);
    } while (r < 0 && errno == EINTR);
    pid_ = -1;
    wait_status_ = r > 0 ? status : -1;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

std::string ProcedureProcess::DescribeEnd() {
  if (pidfd_ >= 0) {
    WaitReadable(pidfd_, 200);
    Stop();
    return "the stored procedure's process ended unexpectedly";
  }
  // Our own child: wait a little without killing, so that a crash reports
  // its own signal.
  for (int i = 0; i < 200 && pid_ > 0; ++i) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) {
      pid_ = -1;
      wait_status_ = r > 0 ? status : -1;
    } else if (r == 0) {
      ::usleep(1000);
    }
  }
  Stop();
  const int st = wait_status_;
  if (st == -1) return "the stored procedure's process ended unexpectedly";
  if (WIFSIGNALED(st)) {
    return "the stored procedure's process died of signal " + std::to_string(WTERMSIG(st));
  }
  return "the stored procedure's process exited with status " + std::to_string(WEXITSTATUS(st));
}

Result<ProcedureProcess> SpawnProcedure() {
  Helper& h = TheHelper();
  int sv[2];
  {
    std::lock_guard lock(h.mu);
    // A helper that died (or was never started) is (re)started once. Each
    // attempt has a socket of its own: a process a dying helper forked may
    // hold the previous one for a moment.
    for (int attempt = 0; attempt < 2 && !h.unusable; ++attempt) {
      if (h.pid < 0 && !StartLocked(h)) break;
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) break;
      int pidfd = -1;
      const Asked asked = AskLocked(h, sv[1], &pidfd);
      ::close(sv[1]);
      if (asked == Asked::kOk) {
        ProcedureProcess p;
        p.pidfd_ = pidfd;
        p.fd_ = sv[0];
        return p;
      }
      ::close(sv[0]);
      StopLocked(h);
      if (asked == Asked::kTimeout) {
        return Status::Unavailable(
            "the helper process did not start the procedure's process in time");
      }
      if (asked == Asked::kNoPidfd) h.unusable = true;
    }
  }

  // No helper: fork the server itself.
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return Status::Internal(std::string("cannot start a stored procedure: socketpair: ") +
                            std::strerror(errno));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(sv[0]);
    ::close(sv[1]);
    return Status::Internal(std::string("cannot start a stored procedure: fork: ") +
                            std::strerror(err));
  }
  if (pid == 0) {
    ::close(sv[0]);
    ChildMain(sv[1], parent);
  }
  ::close(sv[1]);
  ProcedureProcess p;
  p.pid_ = pid;
  p.fd_ = sv[0];
  return p;
}

void UseHelperForTesting(bool use) {
  Helper& h = TheHelper();
  std::lock_guard lock(h.mu);
  StopLocked(h);
  h.unusable = !use;
}

pid_t HelperPidForTesting() {
  Helper& h = TheHelper();
  std::lock_guard lock(h.mu);
  return h.pid;
}

bool EnsureHelper() {
  Helper& h = TheHelper();
  std::lock_guard lock(h.mu);
  if (h.pid < 0 && !h.unusable) return StartLocked(h);
  return h.pid > 0;
}

}  // namespace regionlab::scripting::internal
