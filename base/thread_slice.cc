#include "base/thread_slice.h"

#include <dirent.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace regionlab {
namespace {

// The kernel's struct sched_attr, first version (SCHED_ATTR_SIZE_VER0). Not
// from <linux/sched/types.h>: that header redefines glibc's sched_param.
struct SchedAttr {
  uint32_t size = sizeof(SchedAttr);
  uint32_t policy = 0;
  uint64_t flags = 0;
  int32_t nice = 0;
  uint32_t priority = 0;
  uint64_t runtime = 0;
  uint64_t deadline = 0;
  uint64_t period = 0;
};
static_assert(sizeof(SchedAttr) == 48, "SCHED_ATTR_SIZE_VER0");

}  // namespace

bool SetFairSchedule(pid_t tid, const FairSchedule& schedule) {
  SchedAttr attr;
  attr.policy = SCHED_OTHER;
  attr.nice = schedule.nice;
  attr.runtime = schedule.slice_ns;
  return syscall(SYS_sched_setattr, tid, &attr, 0u) == 0;
}

std::vector<pid_t> ThreadsNamed(std::string_view name) {
  std::vector<pid_t> found;
  DIR* tasks = opendir("/proc/self/task");
  if (tasks == nullptr) return found;
  while (const dirent* entry = readdir(tasks)) {
    if (entry->d_name[0] == '.') continue;
    const std::string path = std::string("/proc/self/task/") + entry->d_name + "/comm";
    FILE* file = std::fopen(path.c_str(), "r");
    if (file == nullptr) continue;  // the thread ended meanwhile
    char comm[32] = {};
    const bool read = std::fgets(comm, sizeof comm, file) != nullptr;
    std::fclose(file);
    std::string_view got = read ? comm : "";
    if (!got.empty() && got.back() == '\n') got.remove_suffix(1);
    if (got == name) found.push_back(static_cast<pid_t>(std::atoi(entry->d_name)));
  }
  closedir(tasks);
  return found;
}

std::optional<FairSchedule> GetFairSchedule(pid_t tid) {
  SchedAttr attr;
  if (syscall(SYS_sched_getattr, tid, &attr, static_cast<unsigned>(sizeof attr), 0u) != 0) return std::nullopt;
  if (attr.policy != SCHED_OTHER) return std::nullopt;
  return FairSchedule{attr.nice, attr.runtime};
}

}  // namespace regionlab
