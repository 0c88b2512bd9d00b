// Built-in functions, dates: GetCurrentDateTime, DateTimeAdd, DateTimePart, ticks and timestamps, ....
#include "query/functions_internal.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <numbers>


namespace regionlab::query {
namespace {

using namespace internal;  // NOLINT: the family's helpers

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

const Builtin kDateBuiltins[] = {
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

std::span<const Builtin> internal::DateBuiltins() { return kDateBuiltins; }

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

}  // namespace regionlab::query
