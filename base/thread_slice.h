// A thread's scheduler slice under Linux's EEVDF scheduler (6.12 and later):
// how long the thread runs, once picked, before a woken thread of the same
// class may take its CPU. SCHED_OTHER threads may ask for 0.1 to 100 ms
// (sched_attr.sched_runtime); earlier kernels ignore the request and report
// no slice. glibc 2.36 has no wrapper: these call the system calls.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace regionlab {

struct FairSchedule {
  int nice = 0;
  uint64_t slice_ns = 0;  // 0: the kernel reports none (before 6.12)
};

// Sets thread `tid` (of any process we may renice) to SCHED_OTHER at `nice`
// asking for `slice_ns`. False (errno set) if the kernel refused.
bool SetFairSchedule(pid_t tid, const FairSchedule& schedule);

// The ids of this process's threads named `name` (/proc/self/task/*/comm, as
// pthread_setname_np sets it; at most 15 characters).
std::vector<pid_t> ThreadsNamed(std::string_view name);

// Thread `tid`'s nice and slice; nullopt if it is not a SCHED_OTHER thread or
// cannot be read.
std::optional<FairSchedule> GetFairSchedule(pid_t tid);

}  // namespace regionlab
