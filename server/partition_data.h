// Internal to the server module: PartitionData, what a script (a stored
// procedure, a trigger) reads and writes while it runs under the store's
// write lock: the documents of one partition key, with the script's own
// writes on top. The writes are committed by the caller, together, only if
// the script succeeds.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "base/json_depth.h"
#include "query/query.h"
#include "scripting/script_host.h"
#include "server/handlers.h"
#include "storage/keys.h"

namespace regionlab::server {

class PartitionData final : public scripting::DataAccess {
 public:
  PartitionData(RequestContext& ctx, const ContainerInfo& info, std::string pk, const storage::WriteContext& w)
      : ctx_(ctx), info_(info), pk_(std::move(pk)), w_(w), coll_rid_(RidBytes(info.record.rid).value_or("")) {}

  const std::map<std::string, storage::Record>& writes() const { return writes_; }

  std::string SelfLink() const override { return ctx_.container_link; }

  Result<std::optional<std::string>> Read(const std::string& ref) override {
    auto cur = Current(ref);
    if (!cur.ok()) return cur.status();
    if (!*cur || (*cur)->tombstone) return std::optional<std::string>();
    return std::optional<std::string>((*cur)->body);
  }

  Result<std::vector<std::string>> Query(const std::string& spec_json) override {
    auto spec = query::ParseQuerySpec(spec_json);
    if (!spec.ok()) return spec.status();
    auto prepared = query::PreparedQuery::Prepare(*spec);
    if (!prepared.ok()) return prepared.status();
    query::VectorRowSource rows;
    std::string prefix = storage::keys::PartitionPrefix(coll_rid_, pk_);
    RL_RETURN_IF_ERROR(ctx_.region.store->Scan(prefix, "", false, [&](std::string_view key, storage::Record&& r) {
      if (!writes_.count(std::string(key))) rows.Add(std::string(key), std::move(r.body));
      return true;
    }));
    for (const auto& [key, rec] : writes_) {
      if (!rec.tombstone) rows.Add(key, rec.body);
    }
    query::PageRequest request;
    request.max_items = -1;
    request.max_bytes = SIZE_MAX;
    request.now_micros = w_.now_micros;
    auto page = query::ExecutePage(*prepared, rows, request);
    if (!page.ok()) return page.status();
    return std::move(page->documents);
  }

  Result<std::string> Create(const std::string& doc_json) override { return Put(doc_json, nullptr, false, {}); }
  Result<std::string> Upsert(const std::string& doc_json) override { return Put(doc_json, nullptr, true, {}); }
  Result<std::string> Replace(const std::string& ref, const std::string& doc_json,
                              const std::optional<std::string>& if_match) override {
    return Put(doc_json, &ref, false, if_match);
  }

  Status Delete(const std::string& ref, const std::optional<std::string>& if_match) override {
    auto cur = Current(ref);
    if (!cur.ok()) return cur.status();
    if (!*cur || (*cur)->tombstone) return Status::NotFound("Entity with the specified id does not exist in the system.");
    if (if_match && *if_match != (*cur)->etag) return PreconditionFailed();
    storage::Record tomb = MakeTombstone(**cur, w_);
    Stage(storage::keys::Document(coll_rid_, pk_, tomb.id), std::move(tomb));
    return Status::Ok();
  }

 private:
  // The current version at `key`, overlay first.
  Result<std::optional<storage::Record>> AtKey(const std::string& key) {
    if (auto it = writes_.find(key); it != writes_.end()) return std::optional<storage::Record>(it->second);
    return ctx_.region.store->Get(key);
  }

  // A write of the transaction, committed with the others if the procedure
  // succeeds. The version it was rendered over may be an earlier write of the
  // transaction, not what the store holds: the store looks up the replaced
  // record itself (no change-feed hint).
  void Stage(const std::string& key, storage::Record r) {
    r.replaces_local_lsn.reset();
    writes_[key] = std::move(r);
  }

  // The current version of the document named by `ref` (its id, or its _rid
  // as found in _self links), overlay first.
  Result<std::optional<storage::Record>> Current(const std::string& ref) {
    auto got = AtKey(storage::keys::Document(coll_rid_, pk_, ref));
    if (!got.ok()) return got.status();
    if (got->has_value()) return got;
    for (const auto& [k, rec] : writes_) {
      if (rec.rid == ref) return std::optional<storage::Record>(rec);
    }
    std::optional<storage::Record> by_rid;
    RL_RETURN_IF_ERROR(ctx_.region.store->Scan(storage::keys::PartitionPrefix(coll_rid_, pk_), "", true,
                                               [&](std::string_view k, storage::Record&& r) {
                                                 if (r.rid != ref) return true;
                                                 if (auto it = writes_.find(std::string(k)); it != writes_.end()) {
                                                   by_rid = it->second;
                                                 } else {
                                                   by_rid = std::move(r);
                                                 }
                                                 return false;
                                               }));
    return by_rid;
  }

  Result<std::string> Put(const std::string& doc_json, const std::string* ref, bool upsert,
                          const std::optional<std::string>& if_match) {
    Json doc = ParseJsonWithinDepth<Json>(doc_json);
    if (doc.is_discarded() || !doc.is_object()) return Status::BadRequest("The document must be a JSON object.");
    if (!doc.contains("id") || !doc["id"].is_string()) return Status::BadRequest("The document needs a string 'id'.");
    std::string id = doc["id"].get<std::string>();
    RL_RETURN_IF_ERROR(ValidateResourceId(id, "Document"));
    if (ExtractPartitionKey(doc, info_.pk_paths) != pk_) {
      return Status::BadRequest("A stored procedure may only write documents of its partition key " + pk_ + ".");
    }
    std::optional<storage::Record> cur;
    if (ref) {
      auto found = Current(*ref);
      if (!found.ok()) return found.status();
      if (!*found || (*found)->tombstone) return Status::NotFound("Entity with the specified id does not exist in the system.");
      if ((*found)->id != id) return Status::BadRequest("The id in the document does not match the replaced one.");
      if (if_match && *if_match != (*found)->etag) return PreconditionFailed();
      cur = std::move(*found);
    } else {
      auto found = AtKey(storage::keys::Document(coll_rid_, pk_, id));
      if (!found.ok()) return found.status();
      cur = std::move(*found);
      if (!upsert && cur && !cur->tombstone) {
        return Status::Conflict("Entity with the specified id already exists in the system.");
      }
    }
    storage::Record r = RenderDocument(std::move(doc), info_, pk_, id, w_, cur);
    std::string body = r.body;
    Stage(storage::keys::Document(coll_rid_, pk_, id), std::move(r));
    return body;
  }

  RequestContext& ctx_;
  const ContainerInfo& info_;
  std::string pk_;
  const storage::WriteContext& w_;
  std::string coll_rid_;
  std::map<std::string, storage::Record> writes_;
};

}  // namespace regionlab::server
