// The regionlab binary's memory allocator: gperftools' tcmalloc when built with
// REGIONLAB_MALLOC=tcmalloc (the default; see cli/CMakeLists.txt), else glibc's.
#pragma once

namespace regionlab::cli {

// "tcmalloc" or "glibc": which allocator this binary was linked with.
const char* AllocatorName();

}  // namespace regionlab::cli
