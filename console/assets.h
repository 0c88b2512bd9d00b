// The console's files (console/web/ and the vendored uPlot), embedded in the
// binary at build time by console/embed_assets.cmake: no files to install and
// nothing fetched at run time. Read-only static data; thread-safe.
#pragma once

#include <string_view>

namespace regionlab::console {

struct Asset {
  std::string_view name;          // "index.html", "app.js", "uPlot.iife.min.js", ...
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view bytes;
};

// The asset called `name`, or null.
const Asset* FindAsset(std::string_view name);

}  // namespace regionlab::console
