// Waiting for a condition in a test: poll it until it holds or a deadline
// passes, never sleep for something to happen.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace regionlab::testing {

// True once `cond` holds; false if it still does not at `deadline` (checked
// once more then). `poll` is the interval between checks, not a wait for an
// event.
inline bool WaitFor(const std::function<bool()>& cond,
                    std::chrono::milliseconds deadline = std::chrono::seconds(20),
                    std::chrono::milliseconds poll = std::chrono::milliseconds(5)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > until) return cond();
    std::this_thread::sleep_for(poll);
  }
  return true;
}

}  // namespace regionlab::testing
