#include "cli/allocator.h"

#ifdef REGIONLAB_TCMALLOC
#include <gperftools/malloc_extension.h>
#endif

namespace regionlab::cli {

const char* AllocatorName() {
#ifdef REGIONLAB_TCMALLOC
  return "tcmalloc";
#else
  return "glibc";
#endif
}

void ReleaseFreeMemory() {
#ifdef REGIONLAB_TCMALLOC
  MallocExtension::instance()->ReleaseFreeMemory();
#endif
}

}  // namespace regionlab::cli
