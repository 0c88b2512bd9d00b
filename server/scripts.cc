// User-defined functions and triggers: create (and upsert), read, replace,
// delete, list and query, replicated like stored procedures.
//
//   POST   dbs/{db}/colls/{c}/udfs        {"id", "body"}                          201 | 409
//   POST   dbs/{db}/colls/{c}/triggers    {"id", "body", "triggerType": "pre"|"post",
//                                          "triggerOperation": "all"|"create"|"replace"|"delete"|"update"}
//   GET    .../udfs | .../triggers        {"UserDefinedFunctions": [...]} | {"Triggers": [...]}
//   GET | PUT | DELETE  .../udfs/{id} | .../triggers/{id}
//
// The SDKs send the enums in lower case, the REST documentation shows them
// capitalised: both are accepted and stored as sent. UDFs are called from
// queries as udf.NAME(...) (server/udf_runner.h).
#include "base/cosmos_auth.h"
#include "base/encoding.h"
#include "query/store_row_source.h"
#include "server/errors.h"
#include "server/handlers.h"
#include "storage/keys.h"

namespace regionlab::server {
namespace {

namespace keys = storage::keys;
using storage::Record;

constexpr size_t kMaxScriptBytes = 256 * 1024;

// What differs between the two resources.
struct ScriptKind {
  storage::RecordKind kind;
  const char* segment;     // "udfs"
  const char* label;       // "UserDefinedFunction", in messages
  const char* list_name;   // "UserDefinedFunctions"
  std::string (*key)(std::string_view coll_rid, std::string_view id);
  std::string (*prefix)(std::string_view coll_rid);
  bool trigger;
};

const ScriptKind kUdf{storage::RecordKind::kUdf, "udfs", "UserDefinedFunction", "UserDefinedFunctions",
                      &keys::Udf, &keys::UdfPrefix, false};
const ScriptKind kTrigger{storage::RecordKind::kTrigger, "triggers", "Trigger", "Triggers",
                          &keys::Trigger, &keys::TriggerPrefix, true};

Status NotFound(const ScriptKind& k, const std::string& id) {
  return Status::NotFound("Entity with the specified id does not exist in the system. " + std::string(k.label) +
                          " '" + id + "'.");
}

bool OneOf(const std::string& v, std::initializer_list<const char*> allowed) {
  for (const char* a : allowed) {
    if (ToLower(v) == a) return true;
  }
  return false;
}

// The resource's JSON as stored: id, body and (triggers) type and operation.
Result<Json> ReadInput(const RequestContext& ctx, const ScriptKind& k) {
  if (ctx.request.body.size() > kMaxScriptBytes) {
    return Status::TooLarge(std::string("A ") + k.label + " may be at most 256 KB.");
  }
  auto parsed = ParseJsonBody(ctx.request.body);
  if (!parsed.ok()) return parsed.status();
  const Json& j = *parsed;
  const std::string what = std::string("The ") + k.label;
  if (!j.is_object()) return Status::BadRequest(what + " must be a JSON object with 'id' and 'body'.");
  if (!j.contains("id") || !j["id"].is_string()) return Status::BadRequest(what + " needs a string 'id'.");
  RL_RETURN_IF_ERROR(ValidateResourceId(j["id"].get<std::string>(), k.label));
  if (!j.contains("body") || !j["body"].is_string() || j["body"].get<std::string>().empty()) {
    return Status::BadRequest(what + " needs a non-empty string 'body' (its JavaScript).");
  }
  Json out = {{"id", j["id"]}, {"body", j["body"]}};
  if (k.trigger) {
    if (!j.contains("triggerType") || !j["triggerType"].is_string() ||
        !OneOf(j["triggerType"].get<std::string>(), {"pre", "post"})) {
      return Status::BadRequest("A trigger needs 'triggerType': \"pre\" or \"post\".");
    }
    if (!j.contains("triggerOperation") || !j["triggerOperation"].is_string() ||
        !OneOf(j["triggerOperation"].get<std::string>(), {"all", "create", "replace", "delete", "update", "upsert"})) {
      return Status::BadRequest(
          "A trigger needs 'triggerOperation': \"all\", \"create\", \"replace\", \"delete\" or \"update\".");
    }
    out["triggerType"] = j["triggerType"];
    out["triggerOperation"] = j["triggerOperation"];
  }
  return out;
}

std::string ScriptRid(const std::string& coll_rid, const ScriptKind& k, const std::string& id) {
  std::string input = k.segment;
  input.push_back('\0');
  input += id;
  return RidText(coll_rid + Sha256(input).substr(0, 8));
}

HttpResponse Put(RequestContext& ctx, const ContainerInfo& info, const ScriptKind& k, const std::string* url_id) {
  auto in = ReadInput(ctx, k);
  if (!in.ok()) return ErrorResponse(in.status());
  const std::string id = (*in)["id"].get<std::string>();
  if (url_id && *url_id != id) {
    return ErrorResponse(Status::BadRequest("The id in the body ('" + id + "') does not match the " + k.label +
                                            " in the URL ('" + *url_id + "')."));
  }
  const bool upsert = !url_id && ToLower(ctx.request.HeaderOr("x-ms-documentdb-is-upsert", "")) == "true";
  const std::string* if_match = ctx.request.Header("if-match");
  const std::string coll_rid = RidBytes(info.record.rid).value_or("");
  const std::string key = k.key(coll_rid, id);
  Record written;
  bool existed = false;
  auto commit = ctx.region.store->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
    auto cur = ctx.region.store->Get(key);
    if (!cur.ok()) return cur.status();
    existed = cur->has_value() && !(*cur)->tombstone;
    if (!url_id && existed && !upsert) {
      return Status::Conflict("Entity with the specified id already exists in the system. " + std::string(k.label) +
                              " '" + id + "'.");
    }
    if (url_id && !existed) return NotFound(k, id);
    if (!EtagMatches(if_match, existed ? **cur : Record{})) return PreconditionFailed();
    Record r = NewLocalRecord(k.kind, id, ScriptRid(coll_rid, k, id), w, *cur);
    r.parent = coll_rid;
    r.operation = PutOperation(*cur);
    Json doc = *in;
    doc["_rid"] = r.rid;
    doc["_self"] = info.doc["_self"].get<std::string>() + k.segment + "/" + r.rid + "/";
    doc["_etag"] = r.etag;
    doc["_ts"] = r.ts;
    r.body = doc.dump();
    written = r;
    storage::WriteSet set;
    set.puts.emplace_back(key, std::move(r));
    return set;
  });
  if (!commit.ok()) return ErrorResponse(commit.status());
  ctx.session_lsn = commit->lsn;
  return RecordResponse(url_id || existed ? 200 : 201, written);
}

HttpResponse Handle(RequestContext& ctx, const ScriptKind& k) {
  const auto& s = ctx.segments;
  const std::string& m = ctx.request.method;
  auto loaded = LoadContainer(ctx, s[1], s[3]);
  if (!loaded.ok()) return ErrorResponse(loaded.status());
  const ContainerInfo& info = **loaded;
  const std::string coll_rid = RidBytes(info.record.rid).value_or("");
  if (s.size() == 5) {
    const bool is_query = m == "POST" && ToLower(ctx.request.HeaderOr("x-ms-documentdb-isquery", "")) == "true";
    if (m == "GET" || is_query) {
      const std::string prefix = k.prefix(coll_rid);
      query::StoreRowSource source(*ctx.region.store, prefix);
      return QueryFeedPage(ctx, source, prefix, info.record.rid, k.list_name, is_query);
    }
    if (m == "POST") return Put(ctx, info, k, nullptr);
  } else {
    const std::string& id = s[5];
    const std::string key = k.key(coll_rid, id);
    if (m == "GET") {
      auto rec = ctx.region.store->Get(key);
      if (!rec.ok()) return ErrorResponse(rec.status());
      if (!rec->has_value() || (*rec)->tombstone) return ErrorResponse(NotFound(k, id));
      return RecordResponse(200, **rec);
    }
    if (m == "PUT") return Put(ctx, info, k, &id);
    if (m == "DELETE") {
      Status st = DeleteRecord(ctx, key, ctx.request.Header("if-match"), NotFound(k, id));
      if (!st.ok()) return ErrorResponse(st);
      return JsonResponse(204, "");
    }
  }
  return ErrorResponse(Status::BadRequest("Method " + m + " is not supported on this resource."));
}

}  // namespace

HttpResponse HandleUdfs(RequestContext& ctx) { return Handle(ctx, kUdf); }
HttpResponse HandleTriggers(RequestContext& ctx) { return Handle(ctx, kTrigger); }

}  // namespace regionlab::server
