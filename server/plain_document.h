// The fast paths of a create, upsert or replace body, and of a patch: a
// document that is already in the text form the store keeps is recognised
// (and its id and partition key read), or patched, without building a DOM
// and serialising it again.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace regionlab::server {

struct PlainDocument {
  std::string id;  // the "id" member (not yet checked by ValidateResourceId)
  std::string pk;  // the partition key, canonical (as ExtractPartitionKey says)
};

// `body` as a document whose stored text is `body` itself, byte for byte what
// ParseJsonBody + ValidateDocument + PrepareDocument would store: a JSON
// object, written without insignificant whitespace, with no escape sequence
// (no backslash), numbers written as the serialiser writes them (64-bit
// integers; other numbers in their shortest round-trip form, as JavaScript's
// JSON.stringify mostly does), no duplicate member names, no system property
// and no "ttl" at the top level, a string "id", and string (or missing)
// partition key values. Anything else, valid or not, is nullopt: the caller
// takes the full path, which also words the errors. Thread-safe.
std::optional<PlainDocument> ScanPlainDocument(std::string_view body, const std::vector<std::string>& pk_paths);

// The fast path of a patch: the text PrepareDocument would give for `stored`
// (a document's stored text) patched by `operations`, when every operation
// is an "add", "set", "replace", "remove" or integer "incr" of one top-level
// member other than the id, "ttl", a system property or a partition key's
// first member, and `stored` is kept as written (as ScanPlainDocument
// requires of a body, system properties allowed) with no top-level "ttl".
// The values are written as the serialiser writes them. Anything else,
// including a replace or remove of a missing member, an incr of a fraction
// or past the 64-bit range, is nullopt: ApplyPatch takes it, and words the
// errors. Thread-safe.
std::optional<std::string> PatchPlainDocument(std::string_view stored, const nlohmann::ordered_json& operations,
                                              const std::vector<std::string>& pk_paths);

}  // namespace regionlab::server
