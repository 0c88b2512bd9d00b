// Helpers of the built-in functions: ASCII case, UTF-8 <-> code points,
// argument coercion.
#include "query/functions_internal.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <numbers>


namespace regionlab::query::internal {

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

}  // namespace regionlab::query::internal
