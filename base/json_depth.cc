#include "base/json_depth.h"

#include <cstring>

namespace regionlab {

int JsonNestingDepth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p < end) {
    switch (*p++) {
      case '"': {
        // To the quote that closes the string: the first one after an even
        // run of backslashes (each pair is one escaped backslash). memchr
        // crosses a document's long strings many bytes at a time.
        while (true) {
          const void* q = std::memchr(p, '"', static_cast<size_t>(end - p));
          if (q == nullptr) return deepest;  // unterminated: the parser will say so
          const char* quote = static_cast<const char*>(q);
          size_t backslashes = 0;
          for (const char* b = quote; b > p && b[-1] == '\\'; --b) ++backslashes;
          p = quote + 1;
          if (backslashes % 2 == 0) break;
        }
        break;
      }
      case '[':
      case '{':
        if (++depth > deepest) {
          deepest = depth;
          if (deepest > limit) return limit + 1;
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return deepest;
}

}  // namespace regionlab
