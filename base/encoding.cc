#include "base/encoding.h"

#include <cctype>
#include <ctime>

namespace regionlab {
namespace {
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int B64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/' || c == '-' || c == '_') return 63;  // '-': Cosmos's _rid alphabet for '/'
  return -1;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
}  // namespace

std::string RidText(std::string_view rid_bytes) {
  std::string t = Base64Encode(rid_bytes);
  for (char& c : t) {
    if (c == '/') c = '-';
  }
  return t;
}

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += kB64[(n >> 6) & 63];
    out += kB64[n & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += kB64[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view in) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = B64Value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xff);
    }
  }
  if (bits >= 6) return std::nullopt;  // a lone trailing character
  return out;
}

std::string PercentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      int h = HexValue(in[i + 1]), l = HexValue(in[i + 2]);
      if (h >= 0 && l >= 0) {
        out += char(h * 16 + l);
        i += 2;
        continue;
      }
    }
    out += in[i];
  }
  return out;
}

static std::string PercentEncode(std::string_view in, std::string_view keep) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (std::isalnum(c) || keep.find(char(c)) != std::string_view::npos) {
      out += char(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string PercentEncodeComponent(std::string_view in) { return PercentEncode(in, "-_.!~*'()"); }
std::string PercentEncodePath(std::string_view in) { return PercentEncode(in, "-_.!~*'()/;:@&=+$,"); }

std::string HexEncode(std::string_view in) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(in.size() * 2);
  for (unsigned char c : in) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string FormatHttpDate(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

namespace {
std::optional<int64_t> ParseHttpDateText(std::string_view text) {
  // "Tue, 01 Nov 1994 08:12:31 GMT" (day name optional, case-insensitive month).
  // Parsed by hand: it runs on every signed request.
  std::string_view s = text;
  if (auto comma = s.find(','); comma != std::string_view::npos) s.remove_prefix(comma + 1);
  auto skip_space = [&s] {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  };
  auto number = [&s, &skip_space](int* out) {
    skip_space();
    int v = 0;
    size_t n = 0;
    while (n < s.size() && n < 9 && s[n] >= '0' && s[n] <= '9') v = v * 10 + (s[n++] - '0');
    if (n == 0) return false;
    s.remove_prefix(n);
    *out = v;
    return true;
  };
  auto token = [&s, &skip_space](size_t max) {
    skip_space();
    size_t n = 0;
    while (n < s.size() && n < max && s[n] != ' ' && s[n] != '\t') ++n;
    std::string_view t = s.substr(0, n);
    s.remove_prefix(n);
    return t;
  };
  auto colon = [&s] {
    if (s.empty() || s.front() != ':') return false;
    s.remove_prefix(1);
    return true;
  };
  int day = 0, year = 0, hh = 0, mm = 0, ss = 0;
  if (!number(&day)) return std::nullopt;
  const std::string mon(token(3));
  if (!number(&year) || !number(&hh) || !colon() || !number(&mm) || !colon() || !number(&ss)) return std::nullopt;
  const std::string zone(token(7));
  int month = -1;
  const std::string mon_lower = ToLower(mon);
  for (int i = 0; i < 12; ++i) {
    if (mon_lower == ToLower(kMonths[i])) {
      month = i;
      break;
    }
  }
  std::string z = ToLower(zone);
  if (!z.empty() && z != "gmt" && z != "utc" && z != "z") return std::nullopt;
  if (month < 0 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || year < 1970) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_mday = day;
  tm.tm_mon = month;
  tm.tm_year = year - 1900;
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = ss;
  return static_cast<int64_t>(timegm(&tm));
}
}  // namespace

std::optional<int64_t> ParseHttpDate(std::string_view text) {
  // An SDK signs a run of requests with the same x-ms-date: the last text
  // parsed on this thread and its value answer those (timegm and the
  // month names cost ~1.5% of a create on the io thread; session 16).
  thread_local std::string last_text;
  thread_local std::optional<int64_t> last_value;
  if (!last_text.empty() && text == last_text) return last_value;
  last_value = ParseHttpDateText(text);
  last_text.assign(text.data(), text.size());
  return last_value;
}

std::vector<std::string> SplitList(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(sep, i);
    if (j == std::string_view::npos) j = s.size();
    std::string_view part = s.substr(i, j - i);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty()) out.emplace_back(part);
    i = j + 1;
  }
  return out;
}

std::string ToLower(std::string_view s) {
  // ASCII only, as std::tolower in the "C" locale, without its per-character call.
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  }
  return out;
}

}  // namespace regionlab
