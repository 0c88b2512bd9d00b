// Starting and stopping procedure processes. Private to scripting/.
//
// A procedure process is forked, never exec'd. Forking the server itself
// costs in proportion to its memory (page tables are copied, every page of
// the server is write-protected and faults again on its next write, and the
// child's exit unmaps it all): tens of milliseconds for a few hundred MB.
// So procedure processes are forked by a helper: a small single-threaded
// process forked from the server once (ideally early, see StartHelper in
// script_host.h), which forks one procedure process per request and passes
// back a pidfd. When the helper cannot be used, the server forks directly.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/status.h"

namespace regionlab::scripting::internal {

// A running procedure process and our end of the socket to it.
class ProcedureProcess {
 public:
  ProcedureProcess() = default;
  ProcedureProcess(ProcedureProcess&& o) noexcept { *this = std::move(o); }
  ProcedureProcess& operator=(ProcedureProcess&& o) noexcept;
  ProcedureProcess(const ProcedureProcess&) = delete;
  ProcedureProcess& operator=(const ProcedureProcess&) = delete;
  ~ProcedureProcess() { Stop(); }

  // Our end of the conversation (a stream socket, close-on-exec).
  int fd() const { return fd_; }

  // Kills the process if it still runs, waits until it is gone (reaped: by
  // us when it is our child, by the helper otherwise), closes the socket.
  void Stop();
  // For a process that closed its socket on its own: waits briefly for its
  // end, stops it, and says how it ended.
  std::string DescribeEnd();

 private:
  friend Result<ProcedureProcess> SpawnProcedure();
  pid_t pid_ = -1;  // our child (direct fork), or -1
  int pidfd_ = -1;  // a grandchild forked by the helper, or -1
  int fd_ = -1;
  int wait_status_ = -1;
};

// Starts a procedure process running ChildMain. Unavailable when the helper
// is stuck; Internal when no process can be started.
Result<ProcedureProcess> SpawnProcedure();

// Starts the helper if it is not running. False if it cannot be started.
bool EnsureHelper();

// Tests: with `use` false, stops the helper and forks procedure processes
// from this process; with `use` true, allows the helper again.
void UseHelperForTesting(bool use);
// Tests: the helper's pid, or -1 when none runs.
pid_t HelperPidForTesting();

}  // namespace regionlab::scripting::internal
