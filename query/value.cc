// Value, and a JSON reader/writer tuned for the query engine: the reader can
// materialise only the paths a query reads (PathSet) and skips everything else
// with a cheap bracket-matching scan, which is what makes full-container
// scans fast.
#include "query/value.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

namespace regionlab::query {

std::string_view TypeName(Type t) {
  switch (t) {
    case Type::kUndefined:
      return "undefined";
    case Type::kNull:
      return "null";
    case Type::kBool:
      return "boolean";
    case Type::kNumber:
      return "number";
    case Type::kString:
      return "string";
    case Type::kArray:
      return "array";
    case Type::kObject:
      return "object";
  }
  return "?";
}

Value Value::Number(double d) {
  if (!std::isfinite(d)) return Value();
  return Value(Rep(d));
}

const Value* Value::Find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const auto& [k, v] : as_object()) {
    if (k == key) return &v;
  }
  return nullptr;
}

Value Value::Member(std::string_view key) const {
  const Value* v = Find(key);
  return v ? *v : Value();
}

Value Value::Element(double index) const {
  if (!is_array() || index < 0 || index != std::floor(index)) return Value();
  const Array& a = as_array();
  if (index >= static_cast<double>(a.size())) return Value();
  return a[static_cast<size_t>(index)];
}

std::string Value::ToJson() const {
  std::string out;
  AppendJson(&out);
  return out;
}

void AppendJsonString(std::string* out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t run = 0;  // start of the pending run of plain characters
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 15]);
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

void AppendUtf8(std::string* s, uint32_t cp) {
  if (cp < 0x80) {
    s->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    s->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    s->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    s->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    s->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    s->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

void AppendJsonNumber(std::string* out, double d) {
  char buf[64];
  std::to_chars_result r;
  if (d == std::floor(d) && std::fabs(d) < 1e18) {
    r = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(d));
  } else {
    r = std::to_chars(buf, buf + sizeof(buf), d);
  }
  out->append(buf, r.ptr);
}

void Value::AppendJson(std::string* out) const {
  switch (type()) {
    case Type::kUndefined:
      return;
    case Type::kNull:
      out->append("null");
      return;
    case Type::kBool:
      out->append(as_bool() ? "true" : "false");
      return;
    case Type::kNumber:
      AppendJsonNumber(out, as_number());
      return;
    case Type::kString:
      AppendJsonString(out, as_string());
      return;
    case Type::kArray: {
      out->push_back('[');
      bool first = true;
      for (const Value& v : as_array()) {
        // Cosmos renders undefined array elements as nothing: they vanish.
        if (v.is_undefined()) continue;
        if (!first) out->push_back(',');
        first = false;
        v.AppendJson(out);
      }
      out->push_back(']');
      return;
    }
    case Type::kObject: {
      out->push_back('{');
      bool first = true;
      for (const auto& [k, v] : as_object()) {
        if (v.is_undefined()) continue;
        if (!first) out->push_back(',');
        first = false;
        AppendJsonString(out, k);
        out->push_back(':');
        v.AppendJson(out);
      }
      out->push_back('}');
      return;
    }
  }
}

bool DeepEquals(const Value& a, const Value& b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Type::kUndefined:
    case Type::kNull:
      return true;
    case Type::kBool:
      return a.as_bool() == b.as_bool();
    case Type::kNumber:
      return a.as_number() == b.as_number();
    case Type::kString:
      return a.as_string() == b.as_string();
    case Type::kArray: {
      const Array& x = a.as_array();
      const Array& y = b.as_array();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!DeepEquals(x[i], y[i])) return false;
      }
      return true;
    }
    case Type::kObject: {
      const Object& x = a.as_object();
      const Object& y = b.as_object();
      size_t nx = 0, ny = 0;
      for (const auto& [k, v] : x) {
        if (v.is_undefined()) continue;
        ++nx;
        const Value* w = b.Find(k);
        if (!w || !DeepEquals(v, *w)) return false;
      }
      for (const auto& [k, v] : y) {
        if (v.is_defined()) ++ny;
      }
      return nx == ny;
    }
  }
  return false;
}

int CompareTotal(const Value& a, const Value& b) {
  if (a.type() != b.type()) return static_cast<int>(a.type()) < static_cast<int>(b.type()) ? -1 : 1;
  switch (a.type()) {
    case Type::kUndefined:
    case Type::kNull:
      return 0;
    case Type::kBool:
      return static_cast<int>(a.as_bool()) - static_cast<int>(b.as_bool());
    case Type::kNumber: {
      double x = a.as_number(), y = b.as_number();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    case Type::kString: {
      int c = a.as_string().compare(b.as_string());
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    case Type::kArray: {
      const Array& x = a.as_array();
      const Array& y = b.as_array();
      for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
        int c = CompareTotal(x[i], y[i]);
        if (c) return c;
      }
      return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
    }
    case Type::kObject: {
      const Object& x = a.as_object();
      const Object& y = b.as_object();
      for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
        int c = x[i].first.compare(y[i].first);
        if (c) return c < 0 ? -1 : 1;
        c = CompareTotal(x[i].second, y[i].second);
        if (c) return c;
      }
      return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
    }
  }
  return 0;
}

PathSet* PathSet::Child(std::string_view child) {
  for (auto& c : children) {
    if (c.name == child) return &c;
  }
  children.emplace_back();
  children.back().name = std::string(child);
  return &children.back();
}

const PathSet* PathSet::Find(std::string_view child) const {
  for (const auto& c : children) {
    if (c.name == child) return &c;
  }
  return nullptr;
}

namespace {

constexpr int kMaxDepth = 512;

class JsonReader {
 public:
  explicit JsonReader(std::string_view text)
      : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()) {}

  Result<Value> ReadDocument(const PathSet* need) {
    Value v;
    if (!ReadValue(need, 0, &v)) return Error();
    SkipWs();
    if (p_ != end_) {
      error_ = "unexpected text after the JSON value";
      return Error();
    }
    return v;
  }

 private:
  Status Error() const {
    return Status::BadRequest("Malformed JSON at byte " + std::to_string(p_ - begin_) + ": " +
                              error_ + ".");
  }
  bool Fail(const char* what) {
    if (error_.empty()) error_ = what;
    return false;
  }

  void SkipWs() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  // need == nullptr or need->whole: everything. Otherwise only the listed
  // members of an object; arrays at such a node are skipped (a path through
  // an array never reaches a property).
  bool ReadValue(const PathSet* need, int depth, Value* out) {
    SkipWs();
    if (p_ >= end_) return Fail("unexpected end of input");
    if (depth > kMaxDepth) return Fail("nesting too deep");
    bool partial = need && !need->whole;
    switch (*p_) {
      case '{':
        return ReadObject(partial ? need : nullptr, depth, out);
      case '[':
        if (partial) {
          *out = Value();
          return SkipValue();
        }
        return ReadArray(depth, out);
      case '"': {
        std::string s;
        if (!ReadString(&s)) return false;
        *out = Value::String(std::move(s));
        return true;
      }
      case 't':
        return ReadWord("true", Value::Bool(true), out);
      case 'f':
        return ReadWord("false", Value::Bool(false), out);
      case 'n':
        return ReadWord("null", Value::Null(), out);
      default:
        return ReadNumber(out);
    }
  }

  bool ReadWord(const char* word, Value v, Value* out) {
    size_t n = std::strlen(word);
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0)
      return Fail("invalid literal");
    p_ += n;
    *out = std::move(v);
    return true;
  }

  bool ReadNumber(Value* out) {
    const char* start = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ >= end_ || !(*p_ >= '0' && *p_ <= '9')) return Fail("invalid value");
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (p_ >= end_ || !(*p_ >= '0' && *p_ <= '9')) return Fail("invalid number");
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ >= end_ || !(*p_ >= '0' && *p_ <= '9')) return Fail("invalid number");
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    double d = 0;
    auto r = std::from_chars(start, p_, d);
    if (r.ec == std::errc::result_out_of_range) {
      // Too large or too small for a double: saturate as JavaScript does.
      d = std::strtod(std::string(start, p_).c_str(), nullptr);
    } else if (r.ec != std::errc()) {
      return Fail("invalid number");
    }
    *out = Value::Number(d);
    return true;
  }

  static int HexDigit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool ReadHex4(uint32_t* cp) {
    if (end_ - p_ < 4) return Fail("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      int h = HexDigit(p_[i]);
      if (h < 0) return Fail("invalid \\u escape");
      v = v * 16 + static_cast<uint32_t>(h);
    }
    p_ += 4;
    *cp = v;
    return true;
  }

  // At '"'. Reads the string and the closing quote.
  bool ReadString(std::string* s) {
    ++p_;
    const char* run = p_;
    while (true) {
      while (p_ < end_ && *p_ != '"' && *p_ != '\\' && static_cast<unsigned char>(*p_) >= 0x20)
        ++p_;
      if (p_ >= end_) return Fail("unterminated string");
      if (*p_ == '"') {
        s->append(run, p_);
        ++p_;
        return true;
      }
      if (*p_ != '\\') return Fail("control character in string");
      s->append(run, p_);
      ++p_;
      if (p_ >= end_) return Fail("unterminated string");
      char e = *p_++;
      switch (e) {
        case '"':
          s->push_back('"');
          break;
        case '\\':
          s->push_back('\\');
          break;
        case '/':
          s->push_back('/');
          break;
        case 'b':
          s->push_back('\b');
          break;
        case 'f':
          s->push_back('\f');
          break;
        case 'n':
          s->push_back('\n');
          break;
        case 'r':
          s->push_back('\r');
          break;
        case 't':
          s->push_back('\t');
          break;
        case 'u': {
          uint32_t cp;
          if (!ReadHex4(&cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00 && end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
            p_ += 2;
            uint32_t lo;
            if (!ReadHex4(&lo)) return false;
            if (lo >= 0xDC00 && lo < 0xE000) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else {
              AppendUtf8(s, 0xFFFD);
              cp = lo;
            }
          }
          if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;  // lone surrogate
          AppendUtf8(s, cp);
          break;
        }
        default:
          return Fail("invalid escape in string");
      }
      run = p_;
    }
  }

  bool ReadArray(int depth, Value* out) {
    ++p_;
    Array a;
    SkipWs();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      *out = Value::MakeArray(std::move(a));
      return true;
    }
    while (true) {
      Value v;
      if (!ReadValue(nullptr, depth + 1, &v)) return false;
      a.push_back(std::move(v));
      SkipWs();
      if (p_ >= end_) return Fail("unterminated array");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == ']') {
        ++p_;
        break;
      }
      return Fail("expected ',' or ']' in array");
    }
    *out = Value::MakeArray(std::move(a));
    return true;
  }

  // At '"': a property name. Without escapes it is returned as a view into
  // the text (no copy); otherwise it is decoded into *scratch.
  bool ReadKey(std::string_view* key, std::string* scratch) {
    const char* start = p_ + 1;
    const char* q = start;
    while (q < end_ && *q != '"' && *q != '\\' && static_cast<unsigned char>(*q) >= 0x20) ++q;
    if (q < end_ && *q == '"') {
      *key = std::string_view(start, static_cast<size_t>(q - start));
      p_ = q + 1;
      return true;
    }
    scratch->clear();
    if (!ReadString(scratch)) return false;
    *key = *scratch;
    return true;
  }

  bool ReadObject(const PathSet* need, int depth, Value* out) {
    ++p_;
    Object o;
    if (need) o.reserve(need->children.size());
    SkipWs();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      *out = Value::MakeObject(std::move(o));
      return true;
    }
    std::string scratch;
    while (true) {
      SkipWs();
      if (p_ >= end_ || *p_ != '"') return Fail("expected a property name");
      std::string_view key;
      if (!ReadKey(&key, &scratch)) return false;
      SkipWs();
      if (p_ >= end_ || *p_ != ':') return Fail("expected ':' after a property name");
      ++p_;
      if (need == nullptr) {
        Value v;
        std::string k(key);
        if (!ReadValue(nullptr, depth + 1, &v)) return false;
        o.emplace_back(std::move(k), std::move(v));
      } else if (const PathSet* child = need->Find(key)) {
        Value v;
        std::string k(key);
        if (!ReadValue(child, depth + 1, &v)) return false;
        o.emplace_back(std::move(k), std::move(v));
      } else {
        if (!SkipValue()) return false;
      }
      SkipWs();
      if (p_ >= end_) return Fail("unterminated object");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == '}') {
        ++p_;
        break;
      }
      return Fail("expected ',' or '}' in object");
    }
    *out = Value::MakeObject(std::move(o));
    return true;
  }

  // Skips one value without building it. Checks bracket structure and string
  // termination only; the text is ours (stored documents), so that suffices.
  bool SkipString() {
    ++p_;
    while (true) {
      const void* q = std::memchr(p_, '"', static_cast<size_t>(end_ - p_));
      if (!q) return Fail("unterminated string");
      const char* quote = static_cast<const char*>(q);
      // The quote is escaped if preceded by an odd number of backslashes.
      const char* b = quote;
      while (b > p_ && b[-1] == '\\') --b;
      p_ = quote + 1;
      if (((quote - b) & 1) == 0) return true;
    }
  }

  bool SkipValue() {
    SkipWs();
    if (p_ >= end_) return Fail("unexpected end of input");
    char c = *p_;
    if (c == '"') return SkipString();
    if (c == '{' || c == '[') {
      // Only quotes and brackets matter inside a container.
      static const auto kInteresting = [] {
        std::array<bool, 256> t{};
        for (unsigned char s : {'"', '{', '}', '[', ']'}) t[s] = true;
        return t;
      }();
      int depth = 0;
      while (p_ < end_) {
        while (p_ < end_ && !kInteresting[static_cast<unsigned char>(*p_)]) ++p_;
        if (p_ >= end_) break;
        char d = *p_;
        if (d == '"') {
          if (!SkipString()) return false;
          continue;
        }
        ++p_;
        if (d == '{' || d == '[') {
          ++depth;
        } else if (--depth == 0) {
          return true;
        }
      }
      return Fail("unterminated object or array");
    }
    const char* start = p_;
    while (p_ < end_ && *p_ != ',' && *p_ != '}' && *p_ != ']' && *p_ != ' ' && *p_ != '\n' &&
           *p_ != '\r' && *p_ != '\t') {
      ++p_;
    }
    if (p_ == start) return Fail("invalid value");
    return true;
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  std::string error_;
};

}  // namespace

Result<Value> ParseJson(std::string_view text) { return JsonReader(text).ReadDocument(nullptr); }

Result<Value> ParseJsonProjected(std::string_view text, const PathSet& need) {
  return JsonReader(text).ReadDocument(need.whole ? nullptr : &need);
}

}  // namespace regionlab::query
