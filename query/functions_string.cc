// Built-in functions, strings: CONTAINS, SUBSTRING, REPLACE, StringToNumber, ..., and LIKE.
#include "query/functions_internal.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <numbers>


namespace regionlab::query {
namespace {

using namespace internal;  // NOLINT: the family's helpers

Value Contains(const Value* a, int n, const EvalContext&) {
  bool ic;
  if (!a[0].is_string() || !a[1].is_string() || !FlagArg(a, n, 2, &ic)) return Value();
  if (ic)
    return Value::Bool(LowerAscii(a[0].as_string()).find(LowerAscii(a[1].as_string())) !=
                       std::string::npos);
  return Value::Bool(a[0].as_string().find(a[1].as_string()) != std::string::npos);
}

Value StartsWith(const Value* a, int n, const EvalContext&) {
  bool ic;
  if (!a[0].is_string() || !a[1].is_string() || !FlagArg(a, n, 2, &ic)) return Value();
  const std::string& s = a[0].as_string();
  const std::string& p = a[1].as_string();
  if (p.size() > s.size()) return Value::Bool(false);
  std::string_view head(s.data(), p.size());
  return Value::Bool(ic ? EqualsIgnoreCase(head, p) : head == p);
}

Value EndsWith(const Value* a, int n, const EvalContext&) {
  bool ic;
  if (!a[0].is_string() || !a[1].is_string() || !FlagArg(a, n, 2, &ic)) return Value();
  const std::string& s = a[0].as_string();
  const std::string& p = a[1].as_string();
  if (p.size() > s.size()) return Value::Bool(false);
  std::string_view tail(s.data() + s.size() - p.size(), p.size());
  return Value::Bool(ic ? EqualsIgnoreCase(tail, p) : tail == p);
}

Value StringEquals(const Value* a, int n, const EvalContext&) {
  bool ic;
  if (!a[0].is_string() || !a[1].is_string() || !FlagArg(a, n, 2, &ic)) return Value();
  return Value::Bool(ic ? EqualsIgnoreCase(a[0].as_string(), a[1].as_string())
                        : a[0].as_string() == a[1].as_string());
}

Value LowerFn(const Value* a, int, const EvalContext&) {
  if (!a[0].is_string()) return Value();
  return Value::String(LowerAscii(a[0].as_string()));
}

Value UpperFn(const Value* a, int, const EvalContext&) {
  if (!a[0].is_string()) return Value();
  std::string s = a[0].as_string();
  for (char& c : s) c = Upper(c);
  return Value::String(std::move(s));
}

Value Length(const Value* a, int, const EvalContext&) {
  if (!a[0].is_string()) return Value();
  return Value::Number(static_cast<double>(LengthCp(a[0].as_string())));
}

Value Substring(const Value* a, int, const EvalContext&) {
  int64_t start, len;
  if (!a[0].is_string() || !IntArg(a[1], &start) || !IntArg(a[2], &len)) return Value();
  return Value::String(SubstringCp(a[0].as_string(), start, len));
}

Value Concat(const Value* a, int n, const EvalContext&) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    if (!a[i].is_string()) return Value();
    out += a[i].as_string();
  }
  return Value::String(std::move(out));
}

Value IndexOf(const Value* a, int n, const EvalContext&) {
  int64_t from = 0;
  if (!a[0].is_string() || !a[1].is_string()) return Value();
  if (n > 2 && !IntArg(a[2], &from)) return Value();
  return Value::Number(static_cast<double>(IndexOfCp(a[0].as_string(), a[1].as_string(), from)));
}

Value Replace(const Value* a, int, const EvalContext&) {
  if (!a[0].is_string() || !a[1].is_string() || !a[2].is_string()) return Value();
  const std::string& s = a[0].as_string();
  const std::string& from = a[1].as_string();
  const std::string& to = a[2].as_string();
  if (from.empty()) return a[0];
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    out.append(s, pos, hit - pos);
    out += to;
    pos = hit + from.size();
  }
  out.append(s, pos, std::string::npos);
  return Value::String(std::move(out));
}

Value TrimImpl(const Value& v, bool left, bool right) {
  if (!v.is_string()) return Value();
  std::string_view s = v.as_string();
  size_t b = 0, e = s.size();
  if (left) {
    while (b < e && IsSpace(s[b])) ++b;
  }
  if (right) {
    while (e > b && IsSpace(s[e - 1])) --e;
  }
  return Value::String(std::string(s.substr(b, e - b)));
}
Value Trim(const Value* a, int, const EvalContext&) { return TrimImpl(a[0], true, true); }
Value LTrim(const Value* a, int, const EvalContext&) { return TrimImpl(a[0], true, false); }
Value RTrim(const Value* a, int, const EvalContext&) { return TrimImpl(a[0], false, true); }

Value Left(const Value* a, int, const EvalContext&) {
  int64_t len;
  if (!a[0].is_string() || !IntArg(a[1], &len)) return Value();
  return Value::String(SubstringCp(a[0].as_string(), 0, len));
}

Value Right(const Value* a, int, const EvalContext&) {
  int64_t len;
  if (!a[0].is_string() || !IntArg(a[1], &len)) return Value();
  int64_t size = LengthCp(a[0].as_string());
  if (len <= 0) return Value::String("");
  if (len >= size) return a[0];
  return Value::String(SubstringCp(a[0].as_string(), size - len, len));
}

Value Reverse(const Value* a, int, const EvalContext&) {
  if (!a[0].is_string()) return Value();
  std::u32string cps = Decode(a[0].as_string());
  std::reverse(cps.begin(), cps.end());
  return Value::String(Encode(cps.data(), cps.data() + cps.size()));
}

Value Replicate(const Value* a, int, const EvalContext&) {
  int64_t times;
  if (!a[0].is_string() || !IntArg(a[1], &times) || times < 0) return Value();
  const std::string& s = a[0].as_string();
  // Cosmos DB caps the result at 10,000 characters.
  if (static_cast<double>(s.size()) * static_cast<double>(times) > 10000) return Value();
  std::string out;
  for (int64_t i = 0; i < times; ++i) out += s;
  return Value::String(std::move(out));
}

Value ToStringFn(const Value* a, int, const EvalContext&) {
  const Value& v = a[0];
  if (v.is_undefined()) return Value();
  if (v.is_string()) return v;
  return Value::String(v.ToJson());
}

// Parses `s` as JSON (surrounding whitespace allowed); undefined when it is
// not valid JSON of the wanted type.
Value ParseAs(const Value& v, Type want) {
  if (!v.is_string()) return Value();
  auto parsed = ParseJson(v.as_string());
  if (!parsed.ok() || parsed->type() != want) return Value();
  return *parsed;
}
Value StringToNumber(const Value* a, int, const EvalContext&) {
  return ParseAs(a[0], Type::kNumber);
}
Value StringToBoolean(const Value* a, int, const EvalContext&) {
  return ParseAs(a[0], Type::kBool);
}
Value StringToNull(const Value* a, int, const EvalContext&) { return ParseAs(a[0], Type::kNull); }
Value StringToArray(const Value* a, int, const EvalContext&) { return ParseAs(a[0], Type::kArray); }
Value StringToObject(const Value* a, int, const EvalContext&) {
  return ParseAs(a[0], Type::kObject);
}

const Builtin kStringBuiltins[] = {
    {"CONTAINS", 2, 3, Contains},
    {"STARTSWITH", 2, 3, StartsWith},
    {"ENDSWITH", 2, 3, EndsWith},
    {"StringEquals", 2, 3, StringEquals},
    {"LOWER", 1, 1, LowerFn},
    {"UPPER", 1, 1, UpperFn},
    {"LENGTH", 1, 1, Length},
    {"SUBSTRING", 3, 3, Substring},
    {"CONCAT", 2, -1, Concat},
    {"INDEX_OF", 2, 3, IndexOf},
    {"REPLACE", 3, 3, Replace},
    {"TRIM", 1, 1, Trim},
    {"LTRIM", 1, 1, LTrim},
    {"RTRIM", 1, 1, RTrim},
    {"LEFT", 2, 2, Left},
    {"RIGHT", 2, 2, Right},
    {"REVERSE", 1, 1, Reverse},
    {"REPLICATE", 2, 2, Replicate},
    {"ToString", 1, 1, ToStringFn},
    {"StringToNumber", 1, 1, StringToNumber},
    {"StringToBoolean", 1, 1, StringToBoolean},
    {"StringToNull", 1, 1, StringToNull},
    {"StringToArray", 1, 1, StringToArray},
    {"StringToObject", 1, 1, StringToObject},
};

}  // namespace

std::span<const Builtin> internal::StringBuiltins() { return kStringBuiltins; }

bool LikeMatch(std::string_view text_utf8, std::string_view pattern_utf8, uint32_t escape) {
  // Compile the pattern into elements.
  struct Elem {
    enum Kind { kChar, kOne, kAny, kClass } kind = kChar;
    char32_t c = 0;
    bool negated = false;
    std::vector<std::pair<char32_t, char32_t>> ranges;
  };
  auto make = [](Elem::Kind kind, char32_t c = 0) {
    Elem e;
    e.kind = kind;
    e.c = c;
    return e;
  };
  std::u32string p = Decode(pattern_utf8);
  std::vector<Elem> elems;
  for (size_t i = 0; i < p.size(); ++i) {
    char32_t c = p[i];
    if (escape && c == escape && i + 1 < p.size()) {
      elems.push_back(make(Elem::kChar, p[++i]));
    } else if (c == '%') {
      if (elems.empty() || elems.back().kind != Elem::kAny) elems.push_back(make(Elem::kAny));
    } else if (c == '_') {
      elems.push_back(make(Elem::kOne));
    } else if (c == '[') {
      size_t close = p.find(U']', i + 1);
      if (close == std::u32string::npos) {
        elems.push_back(make(Elem::kChar, c));
        continue;
      }
      Elem e = make(Elem::kClass);
      size_t j = i + 1;
      if (j < close && p[j] == '^') {
        e.negated = true;
        ++j;
      }
      for (; j < close; ++j) {
        if (j + 2 < close && p[j + 1] == '-') {
          e.ranges.emplace_back(p[j], p[j + 2]);
          j += 2;
        } else {
          e.ranges.emplace_back(p[j], p[j]);
        }
      }
      elems.push_back(std::move(e));
      i = close;
    } else {
      elems.push_back(make(Elem::kChar, c));
    }
  }
  auto matches = [](const Elem& e, char32_t c) {
    switch (e.kind) {
      case Elem::kChar:
        return e.c == c;
      case Elem::kOne:
        return true;
      case Elem::kClass: {
        bool in = false;
        for (const auto& [lo, hi] : e.ranges) {
          if (c >= lo && c <= hi) in = true;
        }
        return in != e.negated;
      }
      case Elem::kAny:
        return true;
    }
    return false;
  };
  std::u32string t = Decode(text_utf8);
  // Greedy matching with backtracking to the last '%'.
  size_t ti = 0, pi = 0;
  size_t star = std::string::npos, star_t = 0;
  while (ti < t.size()) {
    if (pi < elems.size() && elems[pi].kind != Elem::kAny && matches(elems[pi], t[ti])) {
      ++ti;
      ++pi;
    } else if (pi < elems.size() && elems[pi].kind == Elem::kAny) {
      star = pi++;
      star_t = ti;
    } else if (star != std::string::npos) {
      pi = star + 1;
      ti = ++star_t;
    } else {
      return false;
    }
  }
  while (pi < elems.size() && elems[pi].kind == Elem::kAny) ++pi;
  return pi == elems.size();
}

}  // namespace regionlab::query
