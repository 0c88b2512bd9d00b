#include "conflictfeed/merge_procedure.h"
#include "base/json_depth.h"

#include <nlohmann/json.hpp>

#include <optional>

#include "conflictfeed/json_util.h"
#include "storage/keys.h"

namespace regionlab::conflictfeed {
namespace {

using Json = nlohmann::ordered_json;
using internal::FindAtPointer;

// The DataAccess a merge procedure sees: the conflicting document is the
// fold's state; other documents of the partition are read from the store.
class ConflictData final : public scripting::DataAccess {
 public:
  // `original`: `any_version`'s body as ParseJsonWithinDepth<Json>(body)
  // gives it, or null for a tombstone.
  ConflictData(const MergeScope& scope, const storage::Record& any_version, Json original,
               std::optional<Json> state)
      : scope_(scope),
        doc_id_(any_version.id),
        doc_rid_(any_version.rid),
        pk_(any_version.partition_key),
        original_(std::move(original)),
        state_(std::move(state)) {}

  const std::optional<Json>& state() const { return state_; }
  bool wrote() const { return wrote_; }
  void set_incoming(const Json& incoming) {
    if (!incoming.is_discarded() && incoming.is_object()) original_ = incoming;
  }

  std::string SelfLink() const override { return scope_.coll_link; }

  Result<std::optional<std::string>> Read(const std::string& ref) override {
    if (IsSelf(ref)) {
      if (!state_) return std::optional<std::string>();
      return std::optional<std::string>(state_->dump());
    }
    auto got = scope_.store->Get(storage::keys::Document(scope_.coll_rid, pk_, ref));
    if (!got.ok()) return got.status();
    if (!got->has_value() || (*got)->tombstone) return std::optional<std::string>();
    return std::optional<std::string>((*got)->body);
  }

  Result<std::vector<std::string>> Query(const std::string&) override {
    return Status::BadRequest(
        "queryDocuments is not available to merge procedures in regionlab; read documents by id.");
  }

  Result<std::string> Create(const std::string& doc_json) override {
    auto doc = Incoming(doc_json);
    if (!doc.ok()) return doc.status();
    if (state_) return Status::Conflict("Entity with the specified id already exists in the system.");
    return Store(std::move(*doc));
  }

  Result<std::string> Upsert(const std::string& doc_json) override {
    auto doc = Incoming(doc_json);
    if (!doc.ok()) return doc.status();
    return Store(std::move(*doc));
  }

  Result<std::string> Replace(const std::string& ref, const std::string& doc_json,
                              const std::optional<std::string>& if_match) override {
    if (!IsSelf(ref)) return OtherDocument();
    auto doc = Incoming(doc_json);
    if (!doc.ok()) return doc.status();
    if (!state_) return Status::NotFound("Entity with the specified id does not exist in the system.");
    if (if_match && *if_match != state_->value("_etag", "")) {
      return Status::PreconditionFailed("The merge procedure's etag does not match the conflicting item.");
    }
    return Store(std::move(*doc));
  }

  Status Delete(const std::string& ref, const std::optional<std::string>& if_match) override {
    if (!IsSelf(ref)) return OtherDocument();
    if (!state_) return Status::NotFound("Entity with the specified id does not exist in the system.");
    if (if_match && *if_match != state_->value("_etag", "")) {
      return Status::PreconditionFailed("The merge procedure's etag does not match the conflicting item.");
    }
    state_.reset();
    wrote_ = true;
    return Status::Ok();
  }

 private:
  bool IsSelf(const std::string& ref) const { return ref == doc_id_ || ref == doc_rid_; }

  static Status OtherDocument() {
    return Status::Forbidden(
        "A merge procedure may only write the conflicting item in regionlab (every region runs it, so other "
        "writes would be made once per region).");
  }

  // Validates a document the procedure writes: same id, same partition key.
  Result<Json> Incoming(const std::string& doc_json) {
    Json doc = ParseJsonWithinDepth<Json>(doc_json);
    if (doc.is_discarded() || !doc.is_object()) return Status::BadRequest("The document must be a JSON object.");
    auto id = doc.find("id");
    if (id == doc.end() || !id->is_string()) return Status::BadRequest("The document needs a string 'id'.");
    if (id->get<std::string>() != doc_id_) return OtherDocument();
    for (const std::string& path : scope_.pk_paths) {
      if (!original_.is_object()) break;
      const Json* a = FindAtPointer(doc, path);
      const Json* b = FindAtPointer(original_, path);
      if ((a == nullptr) != (b == nullptr) || (a && *a != *b)) {
        return Status::BadRequest("A merge procedure cannot change the partition key (" + path + ").");
      }
    }
    for (const char* p : storage::kDocumentSystemProperties) doc.erase(p);
    return doc;
  }

  // The new state keeps the document's identity, so `existingItem._self`
  // works in the next step.
  Result<std::string> Store(Json doc) {
    wrote_ = true;
    doc["_rid"] = doc_rid_;
    if (original_.is_object() && original_.contains("_self")) doc["_self"] = original_["_self"];
    state_ = std::move(doc);
    return state_->dump();
  }

  const MergeScope& scope_;
  std::string doc_id_, doc_rid_, pk_;
  Json original_;  // a version's body, for the partition key check
  std::optional<Json> state_;
  bool wrote_ = false;
};

// What the procedure sees of `r`; `parsed` is Json::parse(r.body, nullptr,
// false) (unused for a tombstone).
Json Item(const storage::Record& r, Json parsed) {
  if (r.tombstone) return Json{{"id", r.id}, {"_rid", r.rid}};
  return parsed.is_discarded() ? Json{{"id", r.id}} : std::move(parsed);
}

Json Item(const storage::Record& r) {
  return Item(r, r.tombstone ? Json() : ParseJsonWithinDepth<Json>(r.body));
}

}  // namespace

Result<Decision> RunMergeProcedure(const std::string& source, const std::vector<storage::Record>& sorted,
                                   const MergeScope& scope, const scripting::Budget& budget) {
  if (sorted.size() < 2) return Decision::Keep(0);
  // sorted[0]'s body, parsed once: the fold's first state and the reference
  // for the partition key check.
  Json original;
  std::optional<Json> first;
  if (!sorted[0].tombstone) {
    original = ParseJsonWithinDepth<Json>(sorted[0].body);
    first = Item(sorted[0], original);
  }
  ConflictData data(scope, sorted[0], std::move(original), std::move(first));
  for (size_t i = 1; i < sorted.size(); ++i) {
    Json incoming = Item(sorted[i]);
    data.set_incoming(incoming);
    Json args = Json::array({incoming, data.state() ? *data.state() : Json(nullptr), sorted[i].tombstone,
                             Json::array()});
    auto run = scripting::Run(source, args.dump(), data, budget);
    if (!run.ok()) return run.status();
  }
  if (!data.wrote()) return Decision::Keep(0);
  if (!data.state()) return Decision::Delete();
  return Decision::Write(data.state()->dump());
}

}  // namespace regionlab::conflictfeed
