// Small text encodings shared by the server and the client: base64, percent
// encoding, hex, HTTP dates. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace regionlab {

std::string Base64Encode(std::string_view bytes);
// Returns nullopt on malformed input. Accepts missing padding.
std::optional<std::string> Base64Decode(std::string_view text);
// A Cosmos _rid as text: base64 of its bytes with '/' written as '-'.
std::string RidText(std::string_view rid_bytes);

// Percent-decodes once ("%2B" -> "+"); "+" stays "+". Malformed escapes are
// kept verbatim.
std::string PercentDecode(std::string_view text);
// encodeURIComponent: escapes everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ).
std::string PercentEncodeComponent(std::string_view text);
// encodeURI-style for a path: also keeps '/'.
std::string PercentEncodePath(std::string_view text);

std::string HexEncode(std::string_view bytes);

// RFC 1123 date, as the Cosmos SDKs send in x-ms-date: "Tue, 01 Nov 1994 08:12:31 GMT".
std::string FormatHttpDate(int64_t unix_seconds);
std::optional<int64_t> ParseHttpDate(std::string_view text);

// Splits "a, b,,c" on `sep` into {"a","b","c"}: parts trimmed of spaces,
// empty parts dropped (for comma-separated command-line values).
std::vector<std::string> SplitList(std::string_view s, char sep = ',');

// ASCII lower-case copy.
std::string ToLower(std::string_view s);

}  // namespace regionlab
