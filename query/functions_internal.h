// Helpers shared by the built-in function families (functions_*.cc);
// internal to query/. String positions count Unicode code points.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "query/functions.h"

namespace regionlab::query::internal {

char Upper(char c);
char Lower(char c);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
std::string LowerAscii(std::string_view s);
bool IsAscii(std::string_view s);
std::u32string Decode(std::string_view s);
std::string Encode(const char32_t* begin, const char32_t* end);
// Integer value of a number argument, truncated toward zero; false if the
// value is not a number.
bool IntArg(const Value& v, int64_t* out);
// Optional boolean flag argument (ignoreCase, partial): absent -> false.
bool FlagArg(const Value* args, int n, int i, bool* out);
// Substring of s by code point positions, clamped.
std::string SubstringCp(std::string_view s, int64_t start, int64_t length);
int64_t LengthCp(std::string_view s);
// Code point index of the first occurrence of `needle` at or after code point
// `from`, or -1.
int64_t IndexOfCp(std::string_view hay, std::string_view needle, int64_t from);
bool IsSpace(char c);

// The built-ins of each family (functions_<family>.cc), in documentation order.
std::span<const Builtin> TypeBuiltins();
std::span<const Builtin> StringBuiltins();
std::span<const Builtin> ArrayBuiltins();
std::span<const Builtin> MathBuiltins();
std::span<const Builtin> DateBuiltins();

}  // namespace regionlab::query::internal
