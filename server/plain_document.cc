// simdjson (Debian's libsimdjson-dev) validates the body and finds the members
// the write needs in about a microsecond per KB; the DOM parse and dump it
// replaces took about ten (docs/benchmarks.md, issue 17).
#include "server/plain_document.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstdint>

#include "server/handlers.h"
#include "storage/types.h"

namespace regionlab::server {
namespace {

namespace dom = simdjson::dom;

// A number as the serialiser writes it back: an integer in the 64-bit range
// (as written: JSON forbids leading zeros and "+"), not "-0" (simdjson reads
// it as the integer 0, written "0"); a fraction or exponent only if
// nlohmann's shortest round-trip form is the same text ("1234.5", "99.0",
// but not "1e2" or "0.10").
bool NumberKept(std::string_view token) {
  if (token == "-0") return false;
  const char* end = token.data() + token.size();
  if (token.find_first_of(".eE") == std::string_view::npos) {
    std::from_chars_result r;
    if (token.front() == '-') {
      int64_t v;
      r = std::from_chars(token.data(), end, v);
    } else {
      uint64_t v;
      r = std::from_chars(token.data(), end, v);
    }
    return r.ec == std::errc() && r.ptr == end;
  }
  double d;
  auto r = std::from_chars(token.data(), end, d);
  if (r.ec != std::errc() || r.ptr != end) return false;
  return Json(d).dump() == token;
}

// No backslash anywhere, no whitespace outside strings, every number kept as
// written. Without backslashes a quote always opens or closes a string.
bool TextKept(std::string_view text) {
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      in_string = !in_string;
    } else if (c == '\\') {
      return false;
    } else if (in_string) {
      continue;
    } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      return false;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      size_t j = i + 1;
      while (j < text.size() && std::string_view("0123456789+-.eE").find(text[j]) != std::string_view::npos) ++j;
      if (!NumberKept(text.substr(i, j - i))) return false;
      i = j - 1;
    }
  }
  return !in_string;
}

// No object with a member name twice (the serialiser would keep one).
bool StoredAsWritten(dom::element e) {
  switch (e.type()) {
    case dom::element_type::ARRAY:
      for (dom::element v : dom::array(e)) {
        if (!StoredAsWritten(v)) return false;
      }
      return true;
    case dom::element_type::OBJECT: {
      dom::object obj(e);
      std::vector<std::string_view> names;
      names.reserve(obj.size());
      for (dom::key_value_pair kv : obj) {
        if (!StoredAsWritten(kv.value)) return false;
        names.push_back(kv.key);
      }
      std::sort(names.begin(), names.end());
      return std::adjacent_find(names.begin(), names.end()) == names.end();
    }
    default:
      return true;  // numbers (TextKept checked them), strings, booleans, null
  }
}

}  // namespace

std::optional<PlainDocument> ScanPlainDocument(std::string_view body, const std::vector<std::string>& pk_paths) {
  if (body.size() < 2 || body.front() != '{' || !TextKept(body)) return std::nullopt;
  // A parser keeps the buffers of the largest body it has seen: each io
  // thread keeps one for bodies up to 256 KB; a bigger body gets its own.
  constexpr size_t kCachedParserBytes = 256 << 10;
  thread_local dom::parser cached;
  dom::parser own;
  dom::parser& parser = body.size() <= kCachedParserBytes ? cached : own;
  dom::element root;
  if (parser.parse(body.data(), body.size(), /*realloc_if_needed=*/true).get(root) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  dom::object top;
  if (root.get_object().get(top) != simdjson::SUCCESS) return std::nullopt;
  for (dom::key_value_pair kv : top) {
    if (kv.key == "ttl") return std::nullopt;
    for (const char* p : storage::kDocumentSystemProperties) {
      if (kv.key == p) return std::nullopt;
    }
  }
  if (!StoredAsWritten(root)) return std::nullopt;
  PlainDocument out;
  std::string_view id;
  if (top["id"].get_string().get(id) != simdjson::SUCCESS) return std::nullopt;
  out.id = id;
  out.pk = "[";
  for (size_t i = 0; i < pk_paths.size(); ++i) {
    if (i > 0) out.pk += ',';
    dom::element cur = root;
    bool found = true;
    for (const std::string& token : PartitionKeyPathTokens(pk_paths[i])) {
      dom::object obj;
      if (cur.get_object().get(obj) != simdjson::SUCCESS || obj[token].get(cur) != simdjson::SUCCESS) {
        found = false;
        break;
      }
    }
    std::string_view value;
    if (!found) {
      out.pk += "{}";  // none, as ExtractPartitionKey writes it
    } else if (cur.get_string().get(value) == simdjson::SUCCESS) {
      out.pk += '"';
      out.pk += value;  // no backslash in the body: nothing to escape
      out.pk += '"';
    } else {
      return std::nullopt;  // numbers, booleans, null: the full path
    }
  }
  out.pk += ']';
  return out;
}

}  // namespace regionlab::server
