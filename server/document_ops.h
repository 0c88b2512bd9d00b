// Internal to the server module: the document operations that single
// requests (documents.cc) and batches (batch.cc) share. Each works on the
// current version of a key as read under the store's write lock, so that a
// batch can run many of them in one Store::Write.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "server/handlers.h"

namespace regionlab::query {
class PreparedQuery;
}

namespace regionlab::server {

// Largest document body Cosmos accepts.
inline constexpr size_t kMaxDocumentBytes = 2 * 1024 * 1024;

// A document body ready to be written: its JSON, id and canonical partition key.
struct DocumentInput {
  Json doc;
  std::string id;
  std::string pk;
  // The text to store (server/documents.cc sets it unless the caller needs
  // `doc`; a body already in stored form, ScanPlainDocument, gets no DOM).
  std::optional<PreparedDocument> prepared;
};
// Checks a document body for create/upsert/replace: a JSON object with a
// valid string id; extracts its partition key for `info`.
Result<DocumentInput> ValidateDocument(Json doc, const ContainerInfo& info);

// A patch request body: an array of operations, or {"operations": [...],
// "condition": "FROM c WHERE ..."}.
struct PatchSpec {
  Json operations;
  std::shared_ptr<const query::PreparedQuery> condition;  // null: none
};
Result<PatchSpec> ParsePatchSpec(const Json& body);

// The 404 for a document that does not exist (or has expired).
Status DocumentNotFound(const std::string& id);

// True when `rec` is a document a reader may see: present, not a tombstone,
// not expired under the container's time-to-live at `now_micros`.
bool IsLive(const std::optional<storage::Record>& rec, const ContainerInfo& info, int64_t now_micros);

// The version a patch of `current` (live) writes at `w`: the condition is
// checked (412 when it does not match), the operations applied (400), the
// size checked (413).
Result<storage::Record> PatchVersion(const storage::Record& current, const PatchSpec& spec, const ContainerInfo& info,
                                     const std::string& pk, const std::string& id, const storage::WriteContext& w);

}  // namespace regionlab::server
