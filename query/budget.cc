#include "query/budget.h"

#include "base/clock.h"

namespace regionlab::query {

WorkBudget::WorkBudget(const BudgetLimits& limits)
    : limits_(limits), deadline_micros_(MonotonicMicros() + limits.max_micros) {}

bool WorkBudget::CheckClock() {
  if (limits_.cancelled && limits_.cancelled->load(std::memory_order_relaxed)) {
    exhausted_ = Exhausted::kCancelled;
    return false;
  }
  if (MonotonicMicros() > deadline_micros_) {
    exhausted_ = Exhausted::kTime;
    return false;
  }
  return true;
}

std::string WorkBudget::Describe() const {
  switch (exhausted_) {
    case Exhausted::kNo: return "no limit";
    case Exhausted::kRows: return "the page's budget of " + std::to_string(limits_.max_rows) + " row evaluations";
    case Exhausted::kTime:
      return "the page's time budget of " + std::to_string(limits_.max_micros / 1000) + " ms";
    case Exhausted::kState:
      return "the page's budget of " + std::to_string(limits_.max_state_entries) +
             " groups, distinct values or buffered rows";
    case Exhausted::kCancelled: return "the client's patience (the connection closed)";
    case Exhausted::kFailed: return "a failed user-defined function";
  }
  return "its budget";
}

}  // namespace regionlab::query
