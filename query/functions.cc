#include "query/functions.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <numbers>

namespace regionlab::query {
namespace {

// ---- helpers ----

char Upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Upper(a[i]) != Upper(b[i])) return false;
  }
  return true;
}

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

std::u32string Decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    uint32_t cp;
    size_t n;
    if (c < 0x80) {
      cp = c;
      n = 1;
    } else if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F;
      n = 2;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F;
      n = 3;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07;
      n = 4;
    } else {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    if (i + n > s.size()) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    bool ok = true;
    for (size_t k = 1; k < n; ++k) {
      unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if (!ok) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += n;
  }
  return out;
}

std::string Encode(const char32_t* begin, const char32_t* end) {
  std::string out;
  for (const char32_t* p = begin; p < end; ++p) AppendUtf8(&out, *p);
  return out;
}

// Integer value of a number argument, truncated toward zero; false if the
// value is not a number.
bool IntArg(const Value& v, int64_t* out) {
  if (!v.is_number()) return false;
  double d = std::trunc(v.as_number());
  if (d > 9e18) d = 9e18;
  if (d < -9e18) d = -9e18;
  *out = static_cast<int64_t>(d);
  return true;
}

// Optional boolean flag argument (ignoreCase, partial): absent -> false.
bool FlagArg(const Value* args, int n, int i, bool* out) {
  if (n <= i) {
    *out = false;
    return true;
  }
  if (!args[i].is_bool()) return false;
  *out = args[i].as_bool();
  return true;
}

// Substring of s by code point positions, clamped.
std::string SubstringCp(std::string_view s, int64_t start, int64_t length) {
  if (length <= 0) return "";
  if (IsAscii(s)) {
    int64_t size = static_cast<int64_t>(s.size());
    if (start < 0) start = 0;
    if (start >= size) return "";
    return std::string(
        s.substr(static_cast<size_t>(start), static_cast<size_t>(std::min(length, size - start))));
  }
  std::u32string cps = Decode(s);
  int64_t size = static_cast<int64_t>(cps.size());
  if (start < 0) start = 0;
  if (start >= size) return "";
  int64_t end = std::min(size, start + std::min(length, size));
  return Encode(cps.data() + start, cps.data() + end);
}

int64_t LengthCp(std::string_view s) {
  int64_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

// Code point index of the first occurrence of `needle` at or after code point
// `from`, or -1.
int64_t IndexOfCp(std::string_view hay, std::string_view needle, int64_t from) {
  if (from < 0) from = 0;
  // Convert `from` to a byte offset.
  size_t byte = 0;
  int64_t cp = 0;
  while (byte < hay.size() && cp < from) {
    ++byte;
    while (byte < hay.size() && (static_cast<unsigned char>(hay[byte]) & 0xC0) == 0x80) ++byte;
    ++cp;
  }
  if (cp < from) return -1;
  size_t pos = hay.find(needle, byte);
  if (pos == std::string_view::npos) return -1;
  return LengthCp(hay.substr(0, pos));
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// ---- type checks ----

Value IsDefined(const Value* a, int, const EvalContext&) { return Value::Bool(a[0].is_defined()); }
Value IsNull(const Value* a, int, const EvalContext&) { return Value::Bool(a[0].is_null()); }
Value IsNumber(const Value* a, int, const EvalContext&) { return Value::Bool(a[0].is_number()); }
Value IsString(const Value* a, int, const EvalContext&) { return Value::Bool(a[0].is_string()); }
Value IsBool(const Value* a, int, const EvalContext&) { return Value::Bool(a[0].is_bool()); }
Value IsArray(const Value* a, int, const EvalContext&) { return Value::Bool(a[0].is_array()); }
Value IsObject(const Value* a, int, const EvalContext&) { return Value::Bool(a[0].is_object()); }
Value IsPrimitive(const Value* a, int, const EvalContext&) {
  return Value::Bool(a[0].is_null() || a[0].is_bool() || a[0].is_number() || a[0].is_string());
}
Value IsFiniteNumber(const Value* a, int, const EvalContext&) {
  return Value::Bool(a[0].is_number());
}
Value IsInteger(const Value* a, int, const EvalContext&) {
  return Value::Bool(a[0].is_number() && a[0].as_number() == std::trunc(a[0].as_number()) &&
                     std::fabs(a[0].as_number()) < 9.2e18);
}

// ---- strings ----

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

// ---- arrays ----

// `part` is contained in `whole`: every property of part is in whole with an
// equal value (recursively for nested objects).
bool PartialMatch(const Value& whole, const Value& part) {
  if (!part.is_object() || !whole.is_object())
    return whole.type() == part.type() && DeepEquals(whole, part);
  for (const auto& [k, v] : part.as_object()) {
    if (v.is_undefined()) continue;
    const Value* w = whole.Find(k);
    if (!w || !PartialMatch(*w, v)) return false;
  }
  return true;
}

Value ArrayContains(const Value* a, int n, const EvalContext&) {
  bool partial;
  if (!a[0].is_array() || !FlagArg(a, n, 2, &partial)) return Value();
  if (a[1].is_undefined()) return Value::Bool(false);
  for (const Value& e : a[0].as_array()) {
    if (partial ? PartialMatch(e, a[1]) : DeepEquals(e, a[1])) return Value::Bool(true);
  }
  return Value::Bool(false);
}

bool ArrayHas(const Array& arr, const Value& v) {
  for (const Value& e : arr) {
    if (DeepEquals(e, v)) return true;
  }
  return false;
}

Value ArrayContainsAny(const Value* a, int n, const EvalContext&) {
  if (!a[0].is_array()) return Value();
  for (int i = 1; i < n; ++i) {
    if (ArrayHas(a[0].as_array(), a[i])) return Value::Bool(true);
  }
  return Value::Bool(false);
}

Value ArrayContainsAll(const Value* a, int n, const EvalContext&) {
  if (!a[0].is_array()) return Value();
  for (int i = 1; i < n; ++i) {
    if (!ArrayHas(a[0].as_array(), a[i])) return Value::Bool(false);
  }
  return Value::Bool(true);
}

Value ArrayLength(const Value* a, int, const EvalContext&) {
  if (!a[0].is_array()) return Value();
  return Value::Number(static_cast<double>(a[0].as_array().size()));
}

Value ArraySlice(const Value* a, int n, const EvalContext&) {
  int64_t start, len = INT64_MAX;
  if (!a[0].is_array() || !IntArg(a[1], &start)) return Value();
  if (n > 2 && !IntArg(a[2], &len)) return Value();
  const Array& arr = a[0].as_array();
  int64_t size = static_cast<int64_t>(arr.size());
  if (start < 0) start = std::max<int64_t>(0, size + start);
  if (start > size) start = size;
  if (len < 0) len = 0;
  int64_t end = (len > size - start) ? size : start + len;
  return Value::MakeArray(Array(arr.begin() + start, arr.begin() + end));
}

Value ArrayConcat(const Value* a, int n, const EvalContext&) {
  Array out;
  for (int i = 0; i < n; ++i) {
    if (!a[i].is_array()) return Value();
    out.insert(out.end(), a[i].as_array().begin(), a[i].as_array().end());
  }
  return Value::MakeArray(std::move(out));
}

Value SetIntersect(const Value* a, int, const EvalContext&) {
  if (!a[0].is_array() || !a[1].is_array()) return Value();
  Array out;
  for (const Value& e : a[0].as_array()) {
    if (ArrayHas(a[1].as_array(), e) && !ArrayHas(out, e)) out.push_back(e);
  }
  return Value::MakeArray(std::move(out));
}

Value SetUnion(const Value* a, int, const EvalContext&) {
  if (!a[0].is_array() || !a[1].is_array()) return Value();
  Array out;
  for (int i = 0; i < 2; ++i) {
    for (const Value& e : a[i].as_array()) {
      if (!ArrayHas(out, e)) out.push_back(e);
    }
  }
  return Value::MakeArray(std::move(out));
}

// ---- math ----

template <double (*F)(double)>
Value Unary(const Value* a, int, const EvalContext&) {
  if (!a[0].is_number()) return Value();
  return Value::Number(F(a[0].as_number()));
}

double RoundAway(double d) { return std::round(d); }  // halves away from zero
double Sign(double d) { return d > 0 ? 1 : (d < 0 ? -1 : 0); }
double Square(double d) { return d * d; }
double Cot(double d) { return 1.0 / std::tan(d); }
double Degrees(double d) { return d * 180.0 / std::numbers::pi; }
double Radians(double d) { return d * std::numbers::pi / 180.0; }
double Abs(double d) { return std::fabs(d); }
double Ceil(double d) { return std::ceil(d); }
double Floor(double d) { return std::floor(d); }
double Trunc(double d) { return std::trunc(d); }
double Sqrt(double d) { return std::sqrt(d); }
double Exp(double d) { return std::exp(d); }
double Log10(double d) { return std::log10(d); }
double Sin(double d) { return std::sin(d); }
double Cos(double d) { return std::cos(d); }
double Tan(double d) { return std::tan(d); }
double Asin(double d) { return std::asin(d); }
double Acos(double d) { return std::acos(d); }
double Atan(double d) { return std::atan(d); }

Value Power(const Value* a, int, const EvalContext&) {
  if (!a[0].is_number() || !a[1].is_number()) return Value();
  return Value::Number(std::pow(a[0].as_number(), a[1].as_number()));
}

Value Log(const Value* a, int n, const EvalContext&) {
  if (!a[0].is_number()) return Value();
  if (n == 1) return Value::Number(std::log(a[0].as_number()));
  if (!a[1].is_number()) return Value();
  return Value::Number(std::log(a[0].as_number()) / std::log(a[1].as_number()));
}

Value Atn2(const Value* a, int, const EvalContext&) {
  if (!a[0].is_number() || !a[1].is_number()) return Value();
  // Cosmos DB's ATN2(x, y) is atan2(y, x).
  return Value::Number(std::atan2(a[1].as_number(), a[0].as_number()));
}

Value Pi(const Value*, int, const EvalContext&) { return Value::Number(std::numbers::pi); }

Value NumberBin(const Value* a, int n, const EvalContext&) {
  if (!a[0].is_number()) return Value();
  double size = 1;
  if (n > 1) {
    if (!a[1].is_number() || a[1].as_number() <= 0) return Value();
    size = a[1].as_number();
  }
  return Value::Number(std::floor(a[0].as_number() / size) * size);
}

// ---- dates ----

constexpr int64_t kTicksPerMicro = 10;
constexpr int64_t kTicksPerMilli = 10'000;
constexpr int64_t kTicksPerSecond = 10'000'000;
constexpr int64_t kTicksPerMinute = 60 * kTicksPerSecond;
constexpr int64_t kTicksPerHour = 60 * kTicksPerMinute;
constexpr int64_t kTicksPerDay = 24 * kTicksPerHour;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, int64_t* m, int64_t* d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yoe + era * 400 + (*m <= 2);
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
int64_t DaysInMonth(int64_t y, int64_t m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Ticks of 0001-01-01 and of the end of 9999-12-31.
const int64_t kMinTicks = DaysFromCivil(1, 1, 1) * kTicksPerDay;
const int64_t kMaxTicks = DaysFromCivil(10000, 1, 1) * kTicksPerDay - 1;

enum class Part {
  kYear,
  kMonth,
  kDay,
  kHour,
  kMinute,
  kSecond,
  kMillisecond,
  kMicrosecond,
  kNanosecond,
  kNone
};

Part ParsePart(const Value& v) {
  if (!v.is_string()) return Part::kNone;
  std::string p = LowerAscii(v.as_string());
  if (p == "year" || p == "yyyy" || p == "yy") return Part::kYear;
  if (p == "month" || p == "mm" || p == "m") return Part::kMonth;
  if (p == "day" || p == "dd" || p == "d") return Part::kDay;
  if (p == "hour" || p == "hh") return Part::kHour;
  if (p == "minute" || p == "mi" || p == "n") return Part::kMinute;
  if (p == "second" || p == "ss" || p == "s") return Part::kSecond;
  if (p == "millisecond" || p == "ms") return Part::kMillisecond;
  if (p == "microsecond" || p == "mcs") return Part::kMicrosecond;
  if (p == "nanosecond" || p == "ns") return Part::kNanosecond;
  return Part::kNone;
}

int64_t TickUnit(Part p) {
  switch (p) {
    case Part::kDay:
      return kTicksPerDay;
    case Part::kHour:
      return kTicksPerHour;
    case Part::kMinute:
      return kTicksPerMinute;
    case Part::kSecond:
      return kTicksPerSecond;
    case Part::kMillisecond:
      return kTicksPerMilli;
    case Part::kMicrosecond:
      return kTicksPerMicro;
    default:
      return 1;
  }
}

Value DateValue(int64_t ticks) {
  if (ticks < kMinTicks || ticks > kMaxTicks) return Value();
  return Value::String(FormatDateTime(ticks));
}

Value GetCurrentDateTime(const Value*, int, const EvalContext& ctx) {
  return Value::String(FormatDateTime(ctx.now_micros * kTicksPerMicro));
}
Value GetCurrentTimestamp(const Value*, int, const EvalContext& ctx) {
  return Value::Number(static_cast<double>(ctx.now_micros / 1000));
}
Value GetCurrentTicks(const Value*, int, const EvalContext& ctx) {
  return Value::Number(static_cast<double>(ctx.now_micros * kTicksPerMicro));
}

Value DateTimeAdd(const Value* a, int, const EvalContext&) {
  Part part = ParsePart(a[0]);
  int64_t amount, ticks;
  if (part == Part::kNone || !IntArg(a[1], &amount) || !a[2].is_string() ||
      !ParseDateTime(a[2].as_string(), &ticks)) {
    return Value();
  }
  if (std::llabs(amount) >
      4'000'000'000'000'000LL / (part == Part::kNanosecond ? 1 : TickUnit(part)))
    return Value();
  if (part == Part::kYear || part == Part::kMonth) {
    int64_t days = FloorDiv(ticks, kTicksPerDay);
    int64_t within = ticks - days * kTicksPerDay;
    int64_t y, m, d;
    CivilFromDays(days, &y, &m, &d);
    if (std::llabs(amount) > 200000) return Value();
    int64_t months = y * 12 + (m - 1) + (part == Part::kYear ? amount * 12 : amount);
    y = FloorDiv(months, 12);
    m = months - y * 12 + 1;
    if (y < 1 || y > 9999) return Value();
    d = std::min(d, DaysInMonth(y, m));  // Jan 31 + 1 month = Feb 28/29
    return DateValue(DaysFromCivil(y, m, d) * kTicksPerDay + within);
  }
  int64_t delta = part == Part::kNanosecond ? amount / 100 : amount * TickUnit(part);
  return DateValue(ticks + delta);
}

Value DateTimeDiff(const Value* a, int, const EvalContext&) {
  Part part = ParsePart(a[0]);
  int64_t t1, t2;
  if (part == Part::kNone || !a[1].is_string() || !a[2].is_string() ||
      !ParseDateTime(a[1].as_string(), &t1) || !ParseDateTime(a[2].as_string(), &t2)) {
    return Value();
  }
  // The number of `part` boundaries crossed going from t1 to t2.
  if (part == Part::kYear || part == Part::kMonth) {
    int64_t y1, m1, d1, y2, m2, d2;
    CivilFromDays(FloorDiv(t1, kTicksPerDay), &y1, &m1, &d1);
    CivilFromDays(FloorDiv(t2, kTicksPerDay), &y2, &m2, &d2);
    if (part == Part::kYear) return Value::Number(static_cast<double>(y2 - y1));
    return Value::Number(static_cast<double>((y2 * 12 + m2) - (y1 * 12 + m1)));
  }
  if (part == Part::kNanosecond) return Value::Number(static_cast<double>(t2 - t1) * 100.0);
  int64_t unit = TickUnit(part);
  return Value::Number(static_cast<double>(FloorDiv(t2, unit) - FloorDiv(t1, unit)));
}

Value DateTimePart(const Value* a, int, const EvalContext&) {
  Part part = ParsePart(a[0]);
  int64_t ticks;
  if (part == Part::kNone || !a[1].is_string() || !ParseDateTime(a[1].as_string(), &ticks))
    return Value();
  int64_t days = FloorDiv(ticks, kTicksPerDay);
  int64_t within = ticks - days * kTicksPerDay;
  int64_t y, m, d;
  CivilFromDays(days, &y, &m, &d);
  int64_t r = 0;
  switch (part) {
    case Part::kYear:
      r = y;
      break;
    case Part::kMonth:
      r = m;
      break;
    case Part::kDay:
      r = d;
      break;
    case Part::kHour:
      r = within / kTicksPerHour;
      break;
    case Part::kMinute:
      r = within / kTicksPerMinute % 60;
      break;
    case Part::kSecond:
      r = within / kTicksPerSecond % 60;
      break;
    case Part::kMillisecond:
      r = within / kTicksPerMilli % 1000;
      break;
    case Part::kMicrosecond:
      r = within / kTicksPerMicro % 1'000'000;
      break;
    case Part::kNanosecond:
      r = within % kTicksPerSecond * 100;
      break;
    case Part::kNone:
      break;
  }
  return Value::Number(static_cast<double>(r));
}

Value DateTimeToTimestamp(const Value* a, int, const EvalContext&) {
  int64_t ticks;
  if (!a[0].is_string() || !ParseDateTime(a[0].as_string(), &ticks)) return Value();
  return Value::Number(static_cast<double>(FloorDiv(ticks, kTicksPerMilli)));
}

Value DateTimeToTicks(const Value* a, int, const EvalContext&) {
  int64_t ticks;
  if (!a[0].is_string() || !ParseDateTime(a[0].as_string(), &ticks)) return Value();
  return Value::Number(static_cast<double>(ticks));
}

Value TimestampToDateTime(const Value* a, int, const EvalContext&) {
  if (!a[0].is_number() || std::fabs(a[0].as_number()) > 4e14) return Value();
  return DateValue(static_cast<int64_t>(std::trunc(a[0].as_number())) * kTicksPerMilli);
}

Value TicksToDateTime(const Value* a, int, const EvalContext&) {
  if (!a[0].is_number() || std::fabs(a[0].as_number()) > 4e18) return Value();
  return DateValue(static_cast<int64_t>(std::trunc(a[0].as_number())));
}

Value DateTimeFromParts(const Value* a, int n, const EvalContext&) {
  int64_t parts[7] = {0, 1, 1, 0, 0, 0, 0};
  for (int i = 0; i < n; ++i) {
    if (!IntArg(a[i], &parts[i])) return Value();
  }
  auto [y, m, d, hh, mi, ss, frac] = parts;
  if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 || d > DaysInMonth(y, m) || hh < 0 || hh > 23 ||
      mi < 0 || mi > 59 || ss < 0 || ss > 59 || frac < 0 || frac > 9'999'999) {
    return Value();
  }
  return DateValue(DaysFromCivil(y, m, d) * kTicksPerDay + hh * kTicksPerHour +
                   mi * kTicksPerMinute + ss * kTicksPerSecond + frac);
}

// ---- table ----

const Builtin kBuiltins[] = {
    {"IS_DEFINED", 1, 1, IsDefined},
    {"IS_NULL", 1, 1, IsNull},
    {"IS_NUMBER", 1, 1, IsNumber},
    {"IS_STRING", 1, 1, IsString},
    {"IS_BOOL", 1, 1, IsBool},
    {"IS_ARRAY", 1, 1, IsArray},
    {"IS_OBJECT", 1, 1, IsObject},
    {"IS_PRIMITIVE", 1, 1, IsPrimitive},
    {"IS_FINITE_NUMBER", 1, 1, IsFiniteNumber},
    {"IS_INTEGER", 1, 1, IsInteger},
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
    {"ARRAY_CONTAINS", 2, 3, ArrayContains},
    {"ARRAY_CONTAINS_ANY", 2, -1, ArrayContainsAny},
    {"ARRAY_CONTAINS_ALL", 2, -1, ArrayContainsAll},
    {"ARRAY_LENGTH", 1, 1, ArrayLength},
    {"ARRAY_SLICE", 2, 3, ArraySlice},
    {"ARRAY_CONCAT", 2, -1, ArrayConcat},
    {"SetIntersect", 2, 2, SetIntersect},
    {"SetUnion", 2, 2, SetUnion},
    {"ABS", 1, 1, Unary<Abs>},
    {"CEILING", 1, 1, Unary<Ceil>},
    {"FLOOR", 1, 1, Unary<Floor>},
    {"ROUND", 1, 1, Unary<RoundAway>},
    {"TRUNC", 1, 1, Unary<Trunc>},
    {"SIGN", 1, 1, Unary<Sign>},
    {"SQRT", 1, 1, Unary<Sqrt>},
    {"SQUARE", 1, 1, Unary<Square>},
    {"EXP", 1, 1, Unary<Exp>},
    {"LOG10", 1, 1, Unary<Log10>},
    {"SIN", 1, 1, Unary<Sin>},
    {"COS", 1, 1, Unary<Cos>},
    {"TAN", 1, 1, Unary<Tan>},
    {"COT", 1, 1, Unary<Cot>},
    {"ASIN", 1, 1, Unary<Asin>},
    {"ACOS", 1, 1, Unary<Acos>},
    {"ATAN", 1, 1, Unary<Atan>},
    {"DEGREES", 1, 1, Unary<Degrees>},
    {"RADIANS", 1, 1, Unary<Radians>},
    {"POWER", 2, 2, Power},
    {"LOG", 1, 2, Log},
    {"ATN2", 2, 2, Atn2},
    {"PI", 0, 0, Pi},
    {"NumberBin", 1, 2, NumberBin},
    {"GetCurrentDateTime", 0, 0, GetCurrentDateTime},
    {"GetCurrentTimestamp", 0, 0, GetCurrentTimestamp},
    {"GetCurrentTicks", 0, 0, GetCurrentTicks},
    {"DateTimeAdd", 3, 3, DateTimeAdd},
    {"DateTimeDiff", 3, 3, DateTimeDiff},
    {"DateTimePart", 2, 2, DateTimePart},
    {"DateTimeToTimestamp", 1, 1, DateTimeToTimestamp},
    {"DateTimeToTicks", 1, 1, DateTimeToTicks},
    {"TimestampToDateTime", 1, 1, TimestampToDateTime},
    {"TicksToDateTime", 1, 1, TicksToDateTime},
    {"DateTimeFromParts", 3, 7, DateTimeFromParts},
};

}  // namespace

const Builtin* FindBuiltin(std::string_view name) {
  for (const Builtin& b : kBuiltins) {
    if (EqualsIgnoreCase(name, b.name)) return &b;
  }
  return nullptr;
}

bool IsAggregateName(std::string_view name) {
  for (const char* a : {"COUNT", "SUM", "AVG", "MIN", "MAX"}) {
    if (EqualsIgnoreCase(name, a)) return true;
  }
  return false;
}

bool ParseDateTime(std::string_view s, int64_t* ticks) {
  // YYYY-MM-DD[Thh:mm[:ss[.fffffff]]][Z]
  auto digits = [&](size_t pos, size_t n, int64_t* out) {
    if (pos + n > s.size()) return false;
    int64_t v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
  };
  int64_t y, m, d, hh = 0, mi = 0, ss = 0, frac = 0;
  if (!digits(0, 4, &y) || s.size() < 10 || s[4] != '-' || !digits(5, 2, &m) || s[7] != '-' ||
      !digits(8, 2, &d)) {
    return false;
  }
  size_t pos = 10;
  if (pos < s.size() && s[pos] == 'T') {
    if (!digits(pos + 1, 2, &hh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(pos + 4, 2, &mi))
      return false;
    pos += 6;
    if (pos < s.size() && s[pos] == ':') {
      if (!digits(pos + 1, 2, &ss)) return false;
      pos += 3;
      if (pos < s.size() && s[pos] == '.') {
        ++pos;
        size_t n = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
          if (n < 7) frac = frac * 10 + (s[pos] - '0');
          ++n;
          ++pos;
        }
        if (n == 0) return false;
        for (size_t k = n; k < 7; ++k) frac *= 10;
      }
    }
  }
  if (pos < s.size() && s[pos] == 'Z') ++pos;
  if (pos != s.size()) return false;
  if (y < 1 || m < 1 || m > 12 || d < 1 || d > DaysInMonth(y, m) || hh > 23 || mi > 59 || ss > 59)
    return false;
  *ticks = DaysFromCivil(y, m, d) * kTicksPerDay + hh * kTicksPerHour + mi * kTicksPerMinute +
           ss * kTicksPerSecond + frac;
  return true;
}

std::string FormatDateTime(int64_t ticks) {
  int64_t days = FloorDiv(ticks, kTicksPerDay);
  int64_t within = ticks - days * kTicksPerDay;
  int64_t y, m, d;
  CivilFromDays(days, &y, &m, &d);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%07lldZ",
                static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                static_cast<long long>(within / kTicksPerHour),
                static_cast<long long>(within / kTicksPerMinute % 60),
                static_cast<long long>(within / kTicksPerSecond % 60),
                static_cast<long long>(within % kTicksPerSecond));
  return buf;
}

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
