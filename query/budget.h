// WorkBudget: what one query page may spend, so that no query can keep a CPU
// (or memory) busy without bound. Azure Cosmos DB gives a query page 5
// seconds and then returns what it has with a continuation; regionlab does the
// same, and also bounds the row evaluations (FROM/JOIN tuples) and the rows
// held for GROUP BY / DISTINCT / ORDER BY.
//
// One budget per ExecutePage call; used by one thread. `cancelled` (when set)
// is polled with the clock: a client that went away stops its query.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace regionlab::query {

struct BudgetLimits {
  // FROM/JOIN tuples evaluated (the WHERE of each included). Default: 5 million.
  uint64_t max_rows = 5'000'000;
  // Wall time of the page, in microseconds of the monotonic clock. Default: 5 s.
  int64_t max_micros = 5'000'000;
  // Groups, DISTINCT values and buffered output rows held at once. Default: 1 million.
  uint64_t max_state_entries = 1'000'000;
  // Set by the caller when the client is gone. Null: never.
  const std::atomic<bool>* cancelled = nullptr;
};

class WorkBudget {
 public:
  enum class Exhausted { kNo, kRows, kTime, kState, kCancelled, kFailed };

  explicit WorkBudget(const BudgetLimits& limits);

  // One more tuple; false (and stays false) once the budget is spent.
  bool Spend() {
    if (exhausted_ != Exhausted::kNo) return false;
    if (replaying_) return (++replayed_ & 1023) != 0 || CheckClock();
    if (++rows_ > limits_.max_rows) {
      exhausted_ = Exhausted::kRows;
      return false;
    }
    if ((rows_ & 1023) == 0) return CheckClock();
    return true;
  }
  // `entries` rows of state are held now; false once over the limit.
  bool Hold(uint64_t entries) {
    if (entries > limits_.max_state_entries && exhausted_ == Exhausted::kNo) exhausted_ = Exhausted::kState;
    return exhausted_ == Exhausted::kNo;
  }
  // While replaying, tuples cost time but no row budget: a page that resumes
  // inside a document re-enumerates the rows earlier pages already returned,
  // work those pages paid for.
  void set_replaying(bool on) { replaying_ = on; }
  Exhausted exhausted() const { return exhausted_; }
  // Stops the page: something it called failed (a user-defined function);
  // the caller reports that error instead of a result.
  void Fail() { exhausted_ = Exhausted::kFailed; }
  uint64_t rows() const { return rows_; }
  // "the page's budget of 5000000 row evaluations", for error messages.
  std::string Describe() const;

 private:
  bool CheckClock();

  BudgetLimits limits_;
  int64_t deadline_micros_;
  uint64_t rows_ = 0;
  uint64_t replayed_ = 0;
  bool replaying_ = false;
  Exhausted exhausted_ = Exhausted::kNo;
};

}  // namespace regionlab::query
