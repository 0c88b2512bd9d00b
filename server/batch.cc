// Transactional batch and bulk: POST dbs/{db}/colls/{c}/docs with
// x-ms-cosmos-is-batch-request: true and a JSON array of operations.
//
//   x-ms-cosmos-batch-atomic: true (container.items.batch)
//     Up to 100 operations of the partition key in x-ms-documentdb-partitionkey,
//     run in order in one Store::Write: all commit in one RocksDB write batch
//     and one log entry, or none does. Replication applies a log entry whole,
//     so no region ever shows part of a batch. On the first failing operation
//     nothing is written and the answer is 207: that operation's status, 424
//     for every other one.
//   x-ms-cosmos-batch-atomic: false (items.bulk, items.executeBulkOperations)
//     Each operation succeeds or fails on its own (partition key per
//     operation); the ones that succeeded commit together. 200 when all did,
//     else 207. With x-ms-cosmos-batch-continue-on-error: false the first
//     failure stops the rest (424).
//
// Each operation sees the writes of the operations before it in the same
// request (a create then a replace of one id works).
#include <unordered_map>

#include "base/encoding.h"
#include "query/query.h"
#include "server/charge.h"
#include "server/document_ops.h"
#include "server/errors.h"
#include "server/handlers.h"
#include "storage/keys.h"

namespace regionlab::server {
namespace {

namespace keys = storage::keys;
using storage::Record;

constexpr size_t kMaxOperations = 100;
constexpr size_t kMaxBatchBytes = 2 * 1024 * 1024 + 64 * 1024;

enum class OpType { kCreate, kUpsert, kRead, kReplace, kDelete, kPatch };

std::optional<OpType> ParseOpType(const std::string& name) {
  std::string n = ToLower(name);
  if (n == "create") return OpType::kCreate;
  if (n == "upsert") return OpType::kUpsert;
  if (n == "read") return OpType::kRead;
  if (n == "replace") return OpType::kReplace;
  if (n == "delete") return OpType::kDelete;
  if (n == "patch") return OpType::kPatch;
  return std::nullopt;
}

struct Operation {
  OpType type = OpType::kRead;
  std::string id;
  std::string pk;  // canonical
  std::optional<DocumentInput> input;  // create, upsert, replace
  std::optional<PatchSpec> patch;      // patch
  std::optional<std::string> if_match, if_none_match;
  Status invalid;  // a problem of this operation alone (its result, not the request's)
};

struct OpResult {
  int status = 0;
  int substatus = 0;
  std::string etag;
  std::string body;  // raw JSON or empty
  double charge = 0;
  std::string message;
  bool read = false;  // a Read: its body is sent even with Prefer: return=minimal
};

Status OpError(size_t index, const std::string& what) {
  return Status::BadRequest("Batch operation " + std::to_string(index) + ": " + what);
}

// Reads operation `index` of the request. Errors here are the request's
// (400, nothing runs); errors set in `invalid` are the operation's.
Result<Operation> ParseOperation(const Json& op, size_t index, const ContainerInfo& info,
                                 const std::optional<std::string>& batch_pk) {
  if (!op.is_object()) return OpError(index, "an operation must be a JSON object.");
  auto type_it = op.find("operationType");
  if (type_it == op.end() || !type_it->is_string()) return OpError(index, "'operationType' is missing.");
  auto type = ParseOpType(type_it->get<std::string>());
  if (!type) {
    return OpError(index, "unknown operationType '" + type_it->get<std::string>() +
                              "' (Create, Upsert, Read, Replace, Delete or Patch).");
  }
  Operation out;
  out.type = *type;
  if (auto it = op.find("id"); it != op.end() && !it->is_null()) {
    if (!it->is_string()) return OpError(index, "'id' must be a string.");
    out.id = it->get<std::string>();
  }
  for (const char* name : {"ifMatch", "ifNoneMatch"}) {
    auto it = op.find(name);
    if (it == op.end() || it->is_null()) continue;
    if (!it->is_string()) return OpError(index, std::string("'") + name + "' must be a string.");
    (name[2] == 'M' ? out.if_match : out.if_none_match) = it->get<std::string>();
  }
  std::optional<std::string> op_pk;
  if (auto it = op.find("partitionKey"); it != op.end() && !it->is_null()) {
    // The SDKs send the key as JSON text ("[\"A\"]"); accept a JSON array too.
    std::string text = it->is_string() ? it->get<std::string>() : it->dump();
    auto pk = CanonicalPartitionKey(text, info.pk_paths.size());
    if (!pk.ok()) return OpError(index, pk.status().message());
    op_pk = *pk;
  }
  if (batch_pk && op_pk && *op_pk != *batch_pk) {
    return OpError(index, "its partitionKey " + *op_pk + " differs from the batch's " + *batch_pk +
                              ": every operation of a transactional batch has the batch's partition key.");
  }
  const Json* body = nullptr;
  if (auto it = op.find("resourceBody"); it != op.end() && !it->is_null()) body = &*it;
  switch (out.type) {
    case OpType::kCreate:
    case OpType::kUpsert:
    case OpType::kReplace: {
      if (!body) return OpError(index, "'resourceBody' is required for this operation.");
      auto in = ValidateDocument(*body, info);
      if (!in.ok()) {
        out.invalid = in.status();
        break;
      }
      if (out.type == OpType::kReplace) {
        if (out.id.empty()) return OpError(index, "'id' is required for Replace.");
        if (in->id != out.id) {
          out.invalid = Status::BadRequest("The id in the body ('" + in->id + "') does not match the operation's id ('" +
                                           out.id + "').");
        }
      }
      out.id = in->id;
      out.pk = in->pk;
      std::optional<std::string> expected = op_pk ? op_pk : batch_pk;
      if (expected && *expected != in->pk && out.invalid.ok()) {
        out.invalid = Status::BadRequest("PartitionKey extracted from document doesn't match the one specified: the "
                                         "document has " + in->pk + ", the operation says " + *expected + ".");
      }
      out.input = std::move(*in);
      break;
    }
    case OpType::kRead:
    case OpType::kDelete:
    case OpType::kPatch: {
      if (out.id.empty()) return OpError(index, "'id' is required for this operation.");
      if (Status s = ValidateResourceId(out.id, "Document"); !s.ok()) out.invalid = s;
      if (op_pk) {
        out.pk = *op_pk;
      } else if (batch_pk) {
        out.pk = *batch_pk;
      } else {
        return OpError(index, "'partitionKey' is required (the request has no partition key header).");
      }
      if (out.type == OpType::kPatch) {
        if (!body) return OpError(index, "'resourceBody' with the patch operations is required for Patch.");
        auto spec = ParsePatchSpec(*body);
        if (!spec.ok()) {
          out.invalid = spec.status();
        } else {
          out.patch = std::move(*spec);
        }
      }
      break;
    }
  }
  return out;
}

OpResult Failure(const Status& s) {
  OpResult r;
  r.status = HttpStatusFor(s.code());
  r.substatus = s.substatus();
  r.message = s.message();
  r.charge = 1.0;
  return r;
}

// Runs the operations against the store under one write. `overlay` holds
// every key's current version as this request has left it.
class BatchRunner {
 public:
  BatchRunner(RequestContext& ctx, const ContainerInfo& info, const storage::WriteContext& w)
      : ctx_(ctx), info_(info), w_(w), coll_rid_(RidBytes(info.record.rid).value_or("")) {}

  Result<OpResult> Run(const Operation& op) {
    if (!op.invalid.ok()) return Failure(op.invalid);
    const std::string key = keys::Document(coll_rid_, op.pk, op.id);
    auto cur = Current(key);
    if (!cur.ok()) return cur.status();
    const std::optional<Record>& current = **cur;
    const bool live = IsLive(current, info_, w_.now_micros);
    const bool if_match_fails = op.if_match && !(live && EtagMatches(&*op.if_match, *current));
    switch (op.type) {
      case OpType::kRead: {
        if (!live) return Failure(DocumentNotFound(op.id));
        if (op.if_none_match && (*op.if_none_match == "*" || *op.if_none_match == current->etag)) {
          OpResult r;
          r.status = 304;
          r.etag = current->etag;
          r.charge = 1.0;
          return r;
        }
        if (if_match_fails) return Failure(PreconditionFailed());
        OpResult r{200, 0, current->etag, current->body, ReadCharge(current->body.size()), "", true};
        return r;
      }
      case OpType::kCreate:
      case OpType::kUpsert: {
        if (live && op.type == OpType::kCreate) {
          return Failure(Status::Conflict("Entity with the specified id already exists in the system. Document '" +
                                          op.id + "'."));
        }
        if (if_match_fails) return Failure(PreconditionFailed());
        Record rec = RenderDocument(op.input->doc, info_, op.pk, op.id, w_, current);
        return Put(key, std::move(rec), live ? 200 : 201, live);
      }
      case OpType::kReplace: {
        if (!live) return Failure(DocumentNotFound(op.id));
        if (if_match_fails) return Failure(PreconditionFailed());
        Record rec = RenderDocument(op.input->doc, info_, op.pk, op.id, w_, current);
        return Put(key, std::move(rec), 200, true);
      }
      case OpType::kPatch: {
        if (!live) return Failure(DocumentNotFound(op.id));
        if (if_match_fails) return Failure(PreconditionFailed());
        auto patched = PatchVersion(*current, *op.patch, info_, op.pk, op.id, w_);
        if (!patched.ok()) {
          if (patched.status().code() == StatusCode::kIOError) return patched.status();
          return Failure(patched.status());
        }
        return Put(key, std::move(*patched), 200, true);
      }
      case OpType::kDelete: {
        if (!live) return Failure(DocumentNotFound(op.id));
        if (if_match_fails) return Failure(PreconditionFailed());
        const size_t size = current->body.size();
        Record tomb = MakeTombstone(*current, w_);
        auto r = Put(key, std::move(tomb), 204, false);
        r.charge = DeleteCharge(size);
        return r;
      }
    }
    return Status::Internal("unknown batch operation");
  }

  storage::WriteSet TakeWriteSet() { return std::move(set_); }

 private:
  Result<const std::optional<Record>*> Current(const std::string& key) {
    auto it = overlay_.find(key);
    if (it == overlay_.end()) {
      auto got = ctx_.region.store->Get(key);
      if (!got.ok()) return got.status();
      it = overlay_.emplace(key, std::move(*got)).first;
    }
    return &it->second;
  }

  // Stages `rec` at `key`. A key written twice in one request keeps one
  // record (the last), with the first write's change-feed hint and, if the
  // first created the document, the create.
  OpResult Put(const std::string& key, Record rec, int status, bool replaced) {
    OpResult r;
    r.status = status;
    r.etag = rec.etag;
    if (!rec.tombstone) r.body = rec.body;
    r.charge = replaced ? ReplaceCharge(rec.body.size()) : CreateCharge(rec.body.size());
    overlay_[key] = rec;
    if (auto it = put_index_.find(key); it != put_index_.end()) {
      Record& first = set_.puts[it->second].second;
      rec.replaces_local_lsn = first.replaces_local_lsn;
      if (first.operation == storage::Operation::kCreate && !rec.tombstone) rec.operation = storage::Operation::kCreate;
      first = std::move(rec);
    } else {
      put_index_[key] = set_.puts.size();
      set_.puts.emplace_back(key, std::move(rec));
    }
    return r;
  }

  RequestContext& ctx_;
  const ContainerInfo& info_;
  const storage::WriteContext& w_;
  const std::string coll_rid_;
  std::unordered_map<std::string, std::optional<Record>> overlay_;
  std::unordered_map<std::string, size_t> put_index_;
  storage::WriteSet set_;
};

std::string RenderResults(const std::vector<OpResult>& results, bool minimal) {
  std::string out = "[";
  for (size_t i = 0; i < results.size(); ++i) {
    const OpResult& r = results[i];
    if (i) out += ',';
    out += "{\"statusCode\":" + std::to_string(r.status);
    if (r.substatus) out += ",\"subStatusCode\":" + std::to_string(r.substatus);
    out += ",\"requestCharge\":" + Json(RoundCharge(r.charge)).dump();
    if (!r.etag.empty()) out += ",\"eTag\":" + Json(r.etag).dump();
    if (!r.body.empty() && (!minimal || r.read)) out += ",\"resourceBody\":" + r.body;
    if (!r.message.empty()) out += ",\"message\":" + Json(r.message).dump();
    out += '}';
  }
  out += ']';
  return out;
}

}  // namespace

HttpResponse HandleBatch(RequestContext& ctx, const ContainerInfo& info) {
  const HttpRequest& req = ctx.request;
  const bool atomic = ToLower(req.HeaderOr("x-ms-cosmos-batch-atomic", "true")) != "false";
  const bool continue_on_error = ToLower(req.HeaderOr("x-ms-cosmos-batch-continue-on-error", "true")) != "false";
  if (req.body.size() > kMaxBatchBytes) {
    return ErrorResponse(Status::TooLarge("Request size is too large: a batch may carry at most 2 MB of operations."));
  }
  std::optional<std::string> batch_pk;
  if (const std::string* h = req.Header("x-ms-documentdb-partitionkey")) {
    auto pk = CanonicalPartitionKey(*h, info.pk_paths.size());
    if (!pk.ok()) return ErrorResponse(pk.status());
    batch_pk = *pk;
  } else if (atomic) {
    return ErrorResponse(Status::BadRequest(
        "A transactional batch needs the partition key of its operations in x-ms-documentdb-partitionkey."));
  }
  auto body = ParseJsonBody(req.body);
  if (!body.ok()) return ErrorResponse(body.status());
  if (!body->is_array()) return ErrorResponse(Status::BadRequest("A batch body must be a JSON array of operations."));
  if (body->empty()) return ErrorResponse(Status::BadRequest("A batch must have at least one operation."));
  if (body->size() > kMaxOperations) {
    return ErrorResponse(Status::BadRequest("A batch may have at most 100 operations; this one has " +
                                            std::to_string(body->size()) + "."));
  }
  std::vector<Operation> ops;
  ops.reserve(body->size());
  for (size_t i = 0; i < body->size(); ++i) {
    auto op = ParseOperation((*body)[i], i, info, batch_pk);
    if (!op.ok()) return ErrorResponse(op.status());
    ops.push_back(std::move(*op));
  }

  std::vector<OpResult> results;
  std::optional<size_t> failed;
  auto commit = ctx.region.store->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
    results.assign(ops.size(), OpResult{});
    failed.reset();
    BatchRunner runner(ctx, info, w);
    for (size_t i = 0; i < ops.size(); ++i) {
      auto r = runner.Run(ops[i]);
      if (!r.ok()) return r.status();  // the store failed: nothing commits, 5xx
      results[i] = std::move(*r);
      if (results[i].status >= 400) {
        if (!failed) failed = i;
        if (atomic || !continue_on_error) break;
      }
    }
    if (atomic && failed) return storage::WriteSet{};  // all or nothing
    return runner.TakeWriteSet();
  });
  if (!commit.ok()) return ErrorResponse(commit.status());
  if (commit->lsn) ctx.session_lsn = commit->lsn;

  double total = 0;
  if (failed) {
    for (size_t i = 0; i < results.size(); ++i) {
      const bool ran = atomic ? i == *failed : (i <= *failed || (continue_on_error && results[i].status != 0));
      if (!ran) {
        results[i] = OpResult{};
        results[i].status = 424;
        results[i].message = "The operation did not run: operation " + std::to_string(*failed) + " failed.";
      } else if (atomic) {
        results[i].etag.clear();
      }
    }
  }
  for (const OpResult& r : results) total += r.charge;
  ctx.request_charge = RoundCharge(total);
  const std::string* prefer = req.Header("prefer");
  const bool minimal = prefer && prefer->find("return=minimal") != std::string::npos;
  return JsonResponse(failed ? 207 : 200, RenderResults(results, minimal));
}

}  // namespace regionlab::server
