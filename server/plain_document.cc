// simdjson (Debian's libsimdjson-dev) validates the body and finds the members
// the write needs in about a microsecond per KB; the DOM parse and dump it
// replaces took about ten (docs/benchmarks.md, issue 17).
#include "server/plain_document.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <deque>

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
  if (text.find('\\') != std::string_view::npos) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      // Without backslashes the next quote closes the string (memchr, not a
      // byte loop: most of a document is string text).
      i = text.find('"', i + 1);
      if (i == std::string_view::npos) return false;
    } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      return false;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      size_t j = i + 1;
      while (j < text.size() && std::string_view("0123456789+-.eE").find(text[j]) != std::string_view::npos) ++j;
      if (!NumberKept(text.substr(i, j - i))) return false;
      i = j - 1;
    }
  }
  return true;
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

bool IsSystemProperty(std::string_view name) {
  for (const char* p : storage::kDocumentSystemProperties) {
    if (name == p) return true;
  }
  return false;
}

// Runs `fn(root)` on `text` parsed if it is valid JSON; nullopt otherwise.
template <typename Fn>
auto WithParsed(std::string_view text, Fn fn) -> decltype(fn(dom::element())) {
  // A parser keeps the buffers of the largest text it has seen: each thread
  // keeps one for texts up to 256 KB; a bigger text gets its own.
  constexpr size_t kCachedParserBytes = 256 << 10;
  thread_local dom::parser cached;
  dom::parser own;
  dom::parser& parser = text.size() <= kCachedParserBytes ? cached : own;
  dom::element root;
  if (parser.parse(text.data(), text.size(), /*realloc_if_needed=*/true).get(root) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  return fn(root);
}

// Runs `fn(root)` on `text` parsed, if `text` is a JSON object that the
// serialiser would write back byte for byte (TextKept, StoredAsWritten);
// nullopt otherwise.
template <typename Fn>
auto WithKeptObject(std::string_view text, Fn fn) -> decltype(fn(dom::element())) {
  if (text.size() < 2 || text.front() != '{' || !TextKept(text)) return std::nullopt;
  return WithParsed(text, [&](dom::element root) -> decltype(fn(root)) {
    if (!root.is_object() || !StoredAsWritten(root)) return std::nullopt;
    return fn(root);
  });
}

// The top-level members of `text`, a JSON object written without whitespace
// between its members: each name (as written, escapes included) and the text
// of its value, in order. nullopt unless the members cover the text exactly.
// It only splits: the caller has the text validated.
std::optional<std::vector<std::pair<std::string_view, std::string_view>>> TopLevelMembers(std::string_view text) {
  std::vector<std::pair<std::string_view, std::string_view>> members;
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') return std::nullopt;
  if (text.size() == 2) return members;
  // The end of the string opened at text[i] (one past its closing quote).
  auto string_end = [&](size_t i) -> size_t {
    for (++i; i < text.size(); ++i) {
      if (text[i] == '\\') {
        ++i;
      } else if (text[i] == '"') {
        return i + 1;
      }
    }
    return std::string_view::npos;
  };
  size_t i = 1;
  while (true) {
    if (text[i] != '"') return std::nullopt;
    const size_t name_end = string_end(i);
    if (name_end == std::string_view::npos || name_end >= text.size() || text[name_end] != ':') return std::nullopt;
    const std::string_view name = text.substr(i + 1, name_end - i - 2);
    const size_t start = name_end + 1;
    int depth = 0;
    for (i = start; i < text.size(); ++i) {
      const char c = text[i];
      if (c == '"') {
        i = string_end(i);
        if (i == std::string_view::npos) return std::nullopt;
        --i;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (depth == 0) break;
        --depth;
      } else if (c == ',' && depth == 0) {
        break;
      }
    }
    if (i >= text.size() || i == start) return std::nullopt;
    members.emplace_back(name, text.substr(start, i - start));
    if (text[i] == '}') return i + 1 == text.size() ? std::optional(members) : std::nullopt;
    ++i;  // past ','
  }
}

// The id and partition key of a kept object with no system property and no
// "ttl" at the top level.
std::optional<PlainDocument> ScanKept(dom::element root, const std::vector<std::string>& pk_paths) {
  dom::object top(root);
  for (dom::key_value_pair kv : top) {
    if (kv.key == "ttl" || IsSystemProperty(kv.key)) return std::nullopt;
  }
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

// A member name the patch fast path writes as is: printable ASCII, no quote,
// backslash or JSON-pointer escape.
bool PlainName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '~' || c == '/') return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> PatchPlainDocument(std::string_view stored, const Json& operations,
                                              const std::vector<std::string>& pk_paths) {
  if (!operations.is_array() || operations.empty() || operations.size() > kMaxPatchOperations) return std::nullopt;
  // Every operation an add, set, replace, remove or integer incr of one
  // top-level member that the patch may change (not the id, a system
  // property, "ttl" or a partition key's first member). On an object member
  // ApplyPatch's add is its set.
  enum class Kind { kSet, kReplace, kRemove, kIncr };
  struct Op {
    Kind kind;
    std::string_view name;   // the top-level member
    std::string value;       // the new value as the serialiser writes it (set, replace)
    int64_t by = 0;          // incr
  };
  std::vector<Op> ops;
  for (const Json& op : operations) {
    if (!op.is_object()) return std::nullopt;
    auto kind = op.find("op");
    auto path = op.find("path");
    auto value = op.find("value");
    if (kind == op.end() || path == op.end() || !kind->is_string() || !path->is_string()) return std::nullopt;
    const std::string& k = kind->get_ref<const std::string&>();
    Op parsed;
    if (k == "set" || k == "add") {
      parsed.kind = Kind::kSet;
    } else if (k == "replace") {
      parsed.kind = Kind::kReplace;
    } else if (k == "remove") {
      parsed.kind = Kind::kRemove;
    } else if (k == "incr") {
      parsed.kind = Kind::kIncr;
    } else {
      return std::nullopt;
    }
    if (parsed.kind != Kind::kRemove && value == op.end()) return std::nullopt;
    const std::string& p = path->get_ref<const std::string&>();
    if (p.size() < 2 || p[0] != '/') return std::nullopt;
    parsed.name = std::string_view(p).substr(1);
    if (!PlainName(parsed.name) || parsed.name == "id" || parsed.name == "ttl" || IsSystemProperty(parsed.name)) {
      return std::nullopt;
    }
    for (const std::string& pk : pk_paths) {
      if (pk == p || pk.starts_with(p + "/")) return std::nullopt;  // as ApplyPatch's guard says
    }
    if (parsed.kind == Kind::kIncr) {
      // An integer that fits int64_t (ApplyPatch adds as int64_t); a
      // fraction is added as a double: the full path.
      if (value->is_number_integer() && !value->is_number_unsigned()) {
        parsed.by = value->get<int64_t>();
      } else if (value->is_number_unsigned() && value->get<uint64_t>() <= uint64_t{INT64_MAX}) {
        parsed.by = static_cast<int64_t>(value->get<uint64_t>());
      } else {
        return std::nullopt;
      }
    } else if (parsed.kind != Kind::kRemove) {
      parsed.value = value->dump();
    }
    ops.push_back(std::move(parsed));
  }
  // The stored text: valid, no member name twice at any depth (the DOM would
  // keep one), split at the top level. Its system properties are dropped, as
  // PrepareDocument drops them (an etag has escaped quotes); what remains must
  // be kept as written.
  auto stored_members = TopLevelMembers(stored);
  if (!stored_members) return std::nullopt;
  auto valid = WithParsed(stored, [](dom::element root) -> std::optional<bool> {
    if (!root.is_object() || !StoredAsWritten(root)) return std::nullopt;
    return true;
  });
  if (!valid) return std::nullopt;
  // Each member's value text: in `stored`, in an operation's `value`, or in
  // `sums` (a deque: its strings stay where they are).
  std::vector<std::pair<std::string_view, std::string_view>> members;
  std::deque<std::string> sums;
  for (const auto& [name, value] : *stored_members) {
    if (name == "ttl") return std::nullopt;  // PrepareDocument reads it: the full path
    if (!IsSystemProperty(name)) members.emplace_back(name, value);
  }
  // Then the operations in order: a set of a new member appends it, as the
  // ordered DOM does; a remove keeps the order of the others.
  for (const Op& op : ops) {
    auto it = std::find_if(members.begin(), members.end(), [&](const auto& m) { return m.first == op.name; });
    const bool found = it != members.end();
    switch (op.kind) {
      case Kind::kSet:
        if (found) {
          it->second = op.value;
        } else {
          members.emplace_back(op.name, op.value);
        }
        break;
      case Kind::kReplace:
        if (!found) return std::nullopt;  // the full path says the path does not exist
        it->second = op.value;
        break;
      case Kind::kRemove:
        if (!found) return std::nullopt;  // likewise
        members.erase(it);
        break;
      case Kind::kIncr: {
        if (!found) {  // ApplyPatch inserts the increment
          members.emplace_back(op.name, sums.emplace_back(std::to_string(op.by)));
          break;
        }
        // An integer as written (the serialiser's form: NumberKept), in
        // range, whose sum does not overflow; anything else (a fraction, not
        // a number, an unsigned beyond int64_t): the full path.
        const std::string_view text = it->second;
        int64_t current = 0, sum = 0;
        auto r = std::from_chars(text.data(), text.data() + text.size(), current);
        if (r.ec != std::errc() || r.ptr != text.data() + text.size() || text == "-0" ||
            __builtin_add_overflow(current, op.by, &sum)) {
          return std::nullopt;
        }
        it->second = sums.emplace_back(std::to_string(sum));
        break;
      }
    }
  }
  std::string out = "{";
  for (const auto& [name, value] : members) {
    if (out.size() > 1) out += ',';
    out += '"';
    out += name;
    out += "\":";
    out += value;
  }
  out += '}';
  // The stored members as written (a name or value with an escape, a space,
  // a number the serialiser rewrites: the full path), and values without
  // escapes.
  if (!TextKept(out)) return std::nullopt;
  return out;
}

std::optional<PlainDocument> ScanPlainDocument(std::string_view body, const std::vector<std::string>& pk_paths) {
  return WithKeptObject(body, [&](dom::element root) { return ScanKept(root, pk_paths); });
}

}  // namespace regionlab::server
