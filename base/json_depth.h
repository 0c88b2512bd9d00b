// JSON nesting limits, checked before any recursive parser or printer sees
// the text. nlohmann-json parses and prints recursively, so a body that nests
// arrays 100,000 deep would exhaust a thread's stack; every JSON text that
// comes from outside (request bodies, management API bodies, script results,
// replicated records) is checked here first, without recursion.
#pragma once

#include <string_view>

namespace regionlab {

// Azure Cosmos DB's documented limit on the nesting depth of a document's
// objects and arrays.
inline constexpr int kMaxJsonDepth = 128;

// The deepest nesting of objects and arrays in `text` (0 for a scalar),
// counting brackets outside strings (escapes honoured) in one pass. It does
// not validate the text; a parser does that afterwards. Stops counting once
// past `limit` and returns limit + 1.
int JsonNestingDepth(std::string_view text, int limit = kMaxJsonDepth);

// True when `text` nests at most `max_depth` levels.
inline bool JsonDepthWithin(std::string_view text, int max_depth = kMaxJsonDepth) {
  return JsonNestingDepth(text, max_depth) <= max_depth;
}

// JsonT::parse(text, nullptr, false) (nlohmann-json, any flavour) for text
// that did not necessarily pass a depth check: a discarded value (as for
// invalid JSON) when it nests deeper than kMaxJsonDepth. Templated so that
// base/ does not include nlohmann-json.
template <class JsonT>
JsonT ParseJsonWithinDepth(std::string_view text) {
  if (!JsonDepthWithin(text)) return JsonT(JsonT::value_t::discarded);
  return JsonT::parse(text, nullptr, /*allow_exceptions=*/false);
}

}  // namespace regionlab
