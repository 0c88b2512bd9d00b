#include "cli/allocator.h"

namespace regionlab::cli {

const char* AllocatorName() {
#ifdef REGIONLAB_TCMALLOC
  return "tcmalloc";
#else
  return "glibc";
#endif
}

}  // namespace regionlab::cli
