// The regionlab binary's memory allocator: gperftools' tcmalloc when built with
// REGIONLAB_MALLOC=tcmalloc (the default; see cli/CMakeLists.txt), else glibc's.
#pragma once

namespace regionlab::cli {

// "tcmalloc" or "glibc": which allocator this binary was linked with.
const char* AllocatorName();

// Hands the allocator's free pages back to the system. tcmalloc keeps the
// memory that start-up allocated and freed (configuration, the first opens of
// every store) for reuse; a cluster that then waits for its first request
// should not hold it. Cheap, and a no-op under glibc.
void ReleaseFreeMemory();

}  // namespace regionlab::cli
