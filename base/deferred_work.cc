#include "base/deferred_work.h"

#include <utility>

namespace regionlab {
namespace {
thread_local DeferScope* t_innermost = nullptr;
}  // namespace

DeferScope::DeferScope() : outer_(t_innermost) { t_innermost = this; }

DeferScope::~DeferScope() {
  t_innermost = outer_;
  RunAll(work_).IgnoreError();  // the owner did not take it: its answer is already settled
}

bool DeferScope::Defer(Work work) {
  if (t_innermost == nullptr) return false;
  t_innermost->work_.push_back(std::move(work));
  return true;
}

std::vector<DeferScope::Work> DeferScope::Take() { return std::exchange(work_, {}); }

Status DeferScope::RunAll(std::vector<Work>& work) {
  Status first = Status::Ok();
  for (Work& w : work) {
    Status s = w();
    if (first.ok() && !s.ok()) first = std::move(s);
  }
  work.clear();
  return first;
}

}  // namespace regionlab
