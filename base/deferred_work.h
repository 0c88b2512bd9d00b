// Work that a writer may leave until just before the answer that
// acknowledges it. The HTTP server opens a DeferScope around a request
// handled on its io thread: a store write appends to the WAL's buffer, and
// instead of writing the buffer to the file at once it registers that flush
// here. The server posts the answer behind the other requests already read,
// runs the work, and only then sends the answer. The first flush takes every
// write appended meanwhile along, so one write(2) serves the requests of one
// event-loop turn (docs/design.md, "Group commit").
#pragma once

#include <functional>
#include <vector>

#include "base/status.h"

namespace regionlab {

class DeferScope {
 public:
  using Work = std::function<Status()>;

  // Opens a scope on this thread; scopes nest (the innermost collects).
  DeferScope();
  // Closes it; work not taken runs now, in order: nothing is ever dropped.
  ~DeferScope();
  DeferScope(const DeferScope&) = delete;
  DeferScope& operator=(const DeferScope&) = delete;

  // Hands `work` to this thread's innermost open scope. False (and nothing
  // kept) when no scope is open: the caller runs the work itself.
  static bool Defer(Work work);

  // The work registered so far, in order; the scope is left empty. The
  // caller must run it (RunAll) before acknowledging what it covers.
  std::vector<Work> Take();

  // Runs `work` in order; the first error, after running all of it.
  static Status RunAll(std::vector<Work>& work);

 private:
  DeferScope* outer_;
  std::vector<Work> work_;
};

}  // namespace regionlab
