// The procedure's side of Run: what the forked child process does. Private to
// scripting/.
#pragma once

#include <sys/types.h>

namespace regionlab::scripting::internal {

// Runs in a procedure process right after fork() (from the helper, or from
// the server itself when there is no helper); `parent` is the pid of the
// process that forked it. Sets the process up (keeps only `fd`, default
// signal handlers, dies with its parent), reads the kStart frame from `fd`,
// runs the procedure in a fresh Duktape heap, asks over `fd` for every data
// access, sends the final kDone/kFailed frame and _exit()s. Uses only
// Duktape, libc and scripting/wire: no locks, loggers or stores inherited
// from the server.
[[noreturn]] void ChildMain(int fd, pid_t parent);

// For freshly forked processes (the helper too): keeps `fd` (moved to 3 and
// returned) and 0-2, and closes every other descriptor inherited from the
// server.
int KeepOnlyFd(int fd);
// Default dispositions for every signal that has a handler (the server's),
// and nothing blocked.
void DefaultSignals();

}  // namespace regionlab::scripting::internal
