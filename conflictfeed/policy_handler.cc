#include "conflictfeed/policy_handler.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/json_depth.h"
#include "base/cosmos_auth.h"
#include "base/encoding.h"
#include "conflictfeed/conflict_record.h"
#include "conflictfeed/merge_procedure.h"
#include "conflictfeed/native_resolver.h"
#include "replication/version_vector.h"
#include "storage/keys.h"

namespace regionlab::conflictfeed {

using Json = nlohmann::ordered_json;
using storage::Record;

struct PolicyHandler::ContainerPolicy {
  std::string container_key;
  std::string etag;
  std::string coll_rid;
  std::string coll_self;  // "dbs/<dbrid>/colls/<collrid>/"
  std::string coll_link;  // "dbs/<db>/colls/<coll>"
  std::vector<std::string> pk_paths;
  bool custom = false;
  std::string path;  // LastWriterWins path
  bool record_losers = false;
  std::string procedure;
  // Custom with "native:NAME[:ARG]" (ParseNativeProcedure).
  bool is_native = false;
  std::string native_name;
  std::string native_argument;
  const NativeResolver* native = nullptr;  // null if `native_name` is not registered
  // Custom with a stored procedure: its id (ProcedureId(procedure)).
  std::string procedure_id;
  std::unique_ptr<ConflictResolver> lww;  // on `path`
};

namespace {

// The stored-procedure id a conflictResolutionProcedure names: the last
// segment of "dbs/d/colls/c/sprocs/ID", or the whole value.
std::string ProcedureId(const std::string& procedure) {
  size_t at = procedure.rfind("sprocs/");
  std::string id = at == std::string::npos ? procedure : procedure.substr(at + 7);
  while (!id.empty() && id.back() == '/') id.pop_back();
  return id;
}

replication::Resolution Pick(std::vector<Record> versions, size_t winner) {
  replication::Resolution res;
  res.survivor = std::move(versions[winner]);
  for (size_t i = 0; i < versions.size(); ++i) {
    if (i != winner) res.survivor.siblings.push_back(std::move(versions[i]));
  }
  return res;
}

// Pick(versions, winner), with a conflict record under `info` for every
// version that lost to the winner.
replication::Resolution PickAndRecordLosers(std::vector<Record> versions, size_t winner, const ConflictInfo& info) {
  std::vector<std::pair<std::string, Record>> records;
  for (size_t i = 0; i < versions.size(); ++i) {
    if (i != winner) records.push_back(MakeConflictRecord(info, versions[i], versions[winner]));
  }
  replication::Resolution res = Pick(std::move(versions), winner);
  res.new_records = std::move(records);
  return res;
}

size_t Best(const std::vector<Record>& versions, const ConflictResolver& resolver) {
  size_t best = 0;
  for (size_t i = 1; i < versions.size(); ++i) {
    if (resolver.Prefers(versions[i], versions[best])) best = i;
  }
  return best;
}

// A version derived from every input: `body` (null for a delete), a vector
// dominating them all, and the inputs kept as siblings so that a later
// resolution starts again from them. Deterministic: every region computes
// the same record from the same inputs.
Record MergedVersion(const std::vector<Record>& versions, const Record& lead, const std::optional<Json>& body,
                     const std::string& coll_self) {
  Record r;
  r.kind = storage::RecordKind::kDocument;
  r.id = lead.id;
  r.partition_key = lead.partition_key;
  r.rid = lead.rid;
  r.parent = lead.parent;
  r.origin_region = lead.origin_region;
  r.origin_lsn = lead.origin_lsn;
  r.merged = true;
  for (const Record& v : versions) {
    r.version = replication::Merge(r.version, v.version);
    r.ts = std::max(r.ts, v.ts);
    r.write_micros = std::max(r.write_micros, v.write_micros);
  }
  std::string fingerprint = replication::ToString(r.version);
  if (body) {
    Json doc = *body;
    for (const char* p : storage::kDocumentSystemProperties) doc.erase(p);
    fingerprint += doc.dump();
    r.etag = "\"" + HexEncode(Sha256(fingerprint).substr(0, 16)) + "\"";
    doc["_rid"] = r.rid;
    doc["_self"] = coll_self + "docs/" + r.rid + "/";
    doc["_etag"] = r.etag;
    doc["_attachments"] = "attachments/";
    doc["_ts"] = r.ts;
    r.body = doc.dump();
    r.operation = storage::Operation::kReplace;
  } else {
    fingerprint += "deleted";
    r.etag = "\"" + HexEncode(Sha256(fingerprint).substr(0, 16)) + "\"";
    r.tombstone = true;
    r.operation = storage::Operation::kDelete;
  }
  r.siblings = versions;
  return r;
}

}  // namespace

PolicyHandler::PolicyHandler(storage::Store& store, PolicyHandlerOptions options)
    : store_(store), options_(options), default_(NewLastWriterWins("/_ts")) {}

PolicyHandler::~PolicyHandler() = default;

std::shared_ptr<const PolicyHandler::ContainerPolicy> PolicyHandler::PolicyFor(const std::string& coll_rid) {
  std::shared_ptr<const ContainerPolicy> cached;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = by_container_.find(coll_rid); it != by_container_.end()) cached = it->second;
  }
  std::optional<Record> container;
  std::string container_key;
  if (cached) {
    auto got = store_.Get(cached->container_key);
    if (got.ok() && got->has_value() && !(*got)->tombstone && (*got)->etag == cached->etag) return cached;
  }
  // Find the container whose _rid decodes to `coll_rid`. Containers are few;
  // a scan on a cache miss is cheap and needs no secondary index.
  store_
      .Scan(storage::keys::AllContainersPrefix(), "", false,
            [&](std::string_view key, Record&& rec) {
              auto bytes = Base64Decode(rec.rid);
              if (!bytes || *bytes != coll_rid) return true;
              container = std::move(rec);
              container_key = std::string(key);
              return false;
            })
      .IgnoreError();  // on a failed scan the default policy applies
  if (!container) return nullptr;
  auto p = std::make_shared<ContainerPolicy>();
  p->container_key = container_key;
  p->etag = container->etag;
  p->coll_rid = coll_rid;
  p->coll_link = "dbs/" + container->parent + "/colls/" + container->id;
  Json doc = ParseJsonWithinDepth<Json>(container->body);
  if (doc.is_object()) {
    p->coll_self = doc.value("_self", "");
    if (doc.contains("partitionKey") && doc["partitionKey"].is_object()) {
      for (const auto& path : doc["partitionKey"].value("paths", Json::array())) {
        if (path.is_string()) p->pk_paths.push_back(path.get<std::string>());
      }
    }
    Json policy = doc.value("conflictResolutionPolicy", Json::object());
    if (policy.is_object()) {
      p->custom = policy.value("mode", "LastWriterWins") == "Custom";
      Json path = policy.value("conflictResolutionPath", Json(""));
      p->path = path.is_string() ? path.get<std::string>() : "";
      Json proc = policy.value("conflictResolutionProcedure", Json(""));
      p->procedure = proc.is_string() ? proc.get<std::string>() : "";
      Json losers = policy.value("recordLosers", Json(false));
      p->record_losers = losers.is_boolean() && losers.get<bool>();
    }
  }
  if (p->path.empty()) p->path = "/_ts";
  if (p->custom) {
    std::string name, argument;
    if (ParseNativeProcedure(p->procedure, &name, &argument)) {
      p->is_native = true;
      p->native_name = std::move(name);
      p->native_argument = std::move(argument);
      p->native = FindNativeResolver(p->native_name);
    } else {
      p->procedure_id = ProcedureId(p->procedure);
    }
  }
  p->lww = NewLastWriterWins(p->path);
  std::lock_guard<std::mutex> lock(mu_);
  by_container_[coll_rid] = p;
  return p;
}

Result<replication::Resolution> PolicyHandler::Resolve(std::string_view key, std::vector<Record> versions,
                                                       const storage::WriteContext& ctx) {
  // `versions` have no siblings and are in canonical order (the
  // ConcurrencyHandler contract, replication/interfaces.h).
  switch (versions.front().kind) {
    case storage::RecordKind::kDocument:
      return ResolveDocument(std::move(versions));
    case storage::RecordKind::kConflict: {
      // Copies of one conflict record from several regions: one record with
      // a vector covering them all. A delete wins; otherwise the copy of the
      // lowest region (the content is the same up to who made it).
      size_t pick = 0;
      for (size_t i = 1; i < versions.size(); ++i) {
        const Record& a = versions[i];
        const Record& b = versions[pick];
        if (a.tombstone != b.tombstone ? a.tombstone : a.origin_region < b.origin_region) pick = i;
      }
      replication::Resolution res;
      res.survivor = versions[pick];
      for (const Record& v : versions) res.survivor.version = replication::Merge(res.survivor.version, v.version);
      return res;
    }
    default: {
      size_t winner = Best(versions, *default_);
      return Pick(std::move(versions), winner);
    }
  }
}

Result<replication::Resolution> PolicyHandler::ResolveDocument(std::vector<Record> versions) {
  auto policy = PolicyFor(versions.front().parent);
  if (!policy) {
    size_t winner = Best(versions, *default_);
    return Pick(std::move(versions), winner);
  }

  auto feed = [&](const std::string& reason) {
    size_t winner = Best(versions, *default_);
    ConflictInfo info{policy->coll_rid, policy->coll_self, policy->custom ? "Custom" : "LastWriterWins", reason};
    return PickAndRecordLosers(std::move(versions), winner, info);
  };

  if (!policy->custom) {
    size_t winner = Best(versions, *policy->lww);
    if (!policy->record_losers) return Pick(std::move(versions), winner);
    ConflictInfo info{policy->coll_rid, policy->coll_self, "LastWriterWins",
                      "recordLosers: overwritten by last-writer-wins on " + policy->path};
    return PickAndRecordLosers(std::move(versions), winner, info);
  }

  if (policy->procedure.empty()) return feed("no conflictResolutionProcedure: left to the application");

  // Custom resolvers see the versions from the one last-writer-wins on _ts
  // likes least to the one it likes most.
  std::vector<size_t> order(versions.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return default_->Prefers(versions[b], versions[a]);
  });
  std::vector<Record> sorted;
  for (size_t i : order) sorted.push_back(versions[i]);

  Decision decision;
  if (policy->is_native) {
    if (!policy->native) return feed("native resolver '" + policy->native_name + "' is not registered");
    decision = policy->native->Resolve(sorted, policy->native_argument);
  } else {
    const std::string& proc_id = policy->procedure_id;
    auto sproc = store_.Get(storage::keys::StoredProcedure(policy->coll_rid, proc_id));
    if (!sproc.ok()) return sproc.status();
    if (!sproc->has_value() || (*sproc)->tombstone) {
      return feed("merge procedure '" + proc_id + "' does not exist");
    }
    Json sp = ParseJsonWithinDepth<Json>((*sproc)->body);
    std::string source = sp.is_object() && sp.contains("body") && sp["body"].is_string()
                             ? sp["body"].get<std::string>()
                             : std::string();
    MergeScope scope{&store_, policy->coll_rid, policy->coll_link, policy->pk_paths};
    auto ran = RunMergeProcedure(source, sorted, scope, options_.merge_budget);
    if (!ran.ok()) {
      spdlog::warn("conflicts: merge procedure '{}' failed on '{}': {}", proc_id, sorted.front().id,
                   ran.status().message());
      return feed("merge procedure '" + proc_id + "' failed: " + ran.status().message());
    }
    decision = std::move(*ran);
  }

  switch (decision.kind) {
    case Decision::Kind::kKeep: {
      size_t winner = order[std::min(decision.index, order.size() - 1)];
      return Pick(std::move(versions), winner);
    }
    case Decision::Kind::kFeed:
      return feed(decision.reason);
    case Decision::Kind::kWrite:
    case Decision::Kind::kDelete: {
      std::optional<Json> body;
      if (decision.kind == Decision::Kind::kWrite) {
        Json doc = ParseJsonWithinDepth<Json>(decision.body);
        if (!doc.is_object()) return feed("the resolver wrote something that is not a JSON object");
        doc["id"] = sorted.front().id;
        body = std::move(doc);
      }
      replication::Resolution res;
      res.survivor = MergedVersion(versions, sorted.back(), body, policy->coll_self);
      return res;
    }
  }
  return feed("unknown decision");
}

}  // namespace regionlab::conflictfeed
