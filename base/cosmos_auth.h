// The Cosmos DB master-key authorization scheme, shared by the server (which
// verifies) and the client (which signs).
//
//   signature = base64(HMAC-SHA256(base64decode(key),
//                 lower(verb) \n lower(resourceType) \n resourceLink \n lower(date) \n "" \n))
//   header    = encodeURIComponent("type=master&ver=1.0&sig=" + signature)
//
// The resource link keeps its case. Thread-safe, no state.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace regionlab {

// The emulator's well-known key, regionlab's default account key.
inline constexpr std::string_view kEmulatorKey =
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

struct ResourceAddress {
  std::string type;  // "docs", "colls", "dbs", "" for the account
  std::string link;  // "dbs/d/colls/c", "" for the account
};

// Derives the signed resource type and link from a percent-decoded request
// path, as the SDKs do: split on '/', odd segment count -> type is the last
// segment and the link the rest; even -> type is the second-to-last and the
// link the whole path. Leading and trailing slashes are ignored.
ResourceAddress ResourceAddressFromPath(std::string_view decoded_path);

std::string HmacSha256(std::string_view key, std::string_view data);

// Returns the bare base64 signature, or nullopt if the key is not base64.
std::optional<std::string> ComputeMasterSignature(std::string_view key_base64,
                                                  std::string_view verb,
                                                  std::string_view resource_type,
                                                  std::string_view resource_link,
                                                  std::string_view date);

// The full, percent-encoded value of the authorization header.
std::optional<std::string> BuildAuthorizationHeader(std::string_view key_base64,
                                                    std::string_view verb,
                                                    std::string_view resource_type,
                                                    std::string_view resource_link,
                                                    std::string_view date);

struct ParsedAuthorization {
  std::string type;       // "master"
  std::string version;    // "1.0"
  std::string signature;  // base64, verbatim
};
// Percent-decodes the header once and splits type/ver/sig. The signature is
// everything after "sig=" ('+' kept as '+').
std::optional<ParsedAuthorization> ParseAuthorizationHeader(std::string_view header);

// Constant-time comparison of two signatures.
bool SignaturesEqual(std::string_view a, std::string_view b);

}  // namespace regionlab

namespace regionlab {
// Raw SHA-256 digest (32 bytes) of `data`.
std::string Sha256(std::string_view data);
}  // namespace regionlab
