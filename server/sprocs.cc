// Stored procedures: create, read, replace, delete, list/query, execute.
//
//   POST   dbs/{db}/colls/{c}/sprocs            {"id", "body"}       201 | 409
//   GET    dbs/{db}/colls/{c}/sprocs            {"StoredProcedures": [...]}
//   GET    dbs/{db}/colls/{c}/sprocs/{id}
//   PUT    dbs/{db}/colls/{c}/sprocs/{id}       {"id", "body"}       200 | 404
//   DELETE dbs/{db}/colls/{c}/sprocs/{id}                             204 | 404
//   POST   dbs/{db}/colls/{c}/sprocs/{id}       [args...] + partition key header: execute
//
// Stored procedures are records like documents (kind kStoredProcedure) and
// replicate to every region; a container's Custom merge procedure is one of
// them. Execution runs the JavaScript in scripting/ (a sandboxed child
// process) as one transaction scoped to the partition key: the procedure
// runs while the store's write lock is held, its writes collect in an overlay
// that later reads see, and they commit as one batch only if it succeeds.
#include <nlohmann/json.hpp>

#include <map>

#include "base/json_depth.h"
#include "base/cosmos_auth.h"
#include "base/encoding.h"
#include "scripting/script_host.h"
#include "server/errors.h"
#include "server/handlers.h"
#include "server/partition_data.h"
#include "query/query.h"
#include "query/store_row_source.h"
#include "storage/keys.h"

namespace regionlab::server {
namespace {

namespace keys = storage::keys;
using storage::Record;
using storage::RecordKind;

constexpr size_t kMaxProcedureBytes = 256 * 1024;
// A stored procedure holds the region's write lock while it runs.
constexpr scripting::Budget kExecuteBudget{2000, 64u * 1024 * 1024};

Status SprocNotFound(const std::string& id) {
  return Status::NotFound("Entity with the specified id does not exist in the system. StoredProcedure '" + id + "'.");
}

std::string SprocRid(const std::string& coll_rid, const std::string& id) {
  std::string input = "sproc";
  input.push_back('\0');
  input += id;
  return RidText(coll_rid + Sha256(input).substr(0, 8));
}

struct SprocInput {
  std::string id;
  std::string body;
};

Result<SprocInput> ReadSprocInput(const RequestContext& ctx) {
  if (ctx.request.body.size() > kMaxProcedureBytes) {
    return Status::TooLarge("A stored procedure may be at most 256 KB.");
  }
  auto parsed = ParseJsonBody(ctx.request.body);
  if (!parsed.ok()) return parsed.status();
  const Json& j = *parsed;
  if (!j.is_object()) return Status::BadRequest("A stored procedure must be a JSON object with 'id' and 'body'.");
  if (!j.contains("id") || !j["id"].is_string()) return Status::BadRequest("The stored procedure needs a string 'id'.");
  if (!j.contains("body") || !j["body"].is_string() || j["body"].get<std::string>().empty()) {
    return Status::BadRequest("The stored procedure needs a non-empty string 'body' (its JavaScript).");
  }
  SprocInput in{j["id"].get<std::string>(), j["body"].get<std::string>()};
  RL_RETURN_IF_ERROR(ValidateResourceId(in.id, "StoredProcedure"));
  return in;
}

Record RenderSproc(const SprocInput& in, const ContainerInfo& info, const storage::WriteContext& w,
                   const std::optional<Record>& previous) {
  std::string coll_rid = RidBytes(info.record.rid).value_or("");
  Record r = NewLocalRecord(RecordKind::kStoredProcedure, in.id, SprocRid(coll_rid, in.id), w, previous);
  r.parent = coll_rid;
  r.operation = PutOperation(previous);
  Json doc = {{"id", in.id},
              {"body", in.body},
              {"_rid", r.rid},
              {"_self", info.doc["_self"].get<std::string>() + "sprocs/" + r.rid + "/"},
              {"_etag", r.etag},
              {"_ts", r.ts}};
  r.body = doc.dump();
  return r;
}

HttpResponse CreateOrReplace(RequestContext& ctx, const ContainerInfo& info, const std::string* url_id) {
  auto in = ReadSprocInput(ctx);
  if (!in.ok()) return ErrorResponse(in.status());
  if (url_id && *url_id != in->id) {
    return ErrorResponse(Status::BadRequest("The id in the body ('" + in->id +
                                            "') does not match the stored procedure in the URL ('" + *url_id + "')."));
  }
  const std::string* if_match = ctx.request.Header("if-match");
  std::string key = keys::StoredProcedure(RidBytes(info.record.rid).value_or(""), in->id);
  Record written;
  auto commit = ctx.region.store->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
    auto cur = ctx.region.store->Get(key);
    if (!cur.ok()) return cur.status();
    bool exists = cur->has_value() && !(*cur)->tombstone;
    if (!url_id && exists) {
      return Status::Conflict("Entity with the specified id already exists in the system. StoredProcedure '" +
                              in->id + "'.");
    }
    if (url_id && !exists) return SprocNotFound(in->id);
    if (url_id && !EtagMatches(if_match, **cur)) return PreconditionFailed();
    written = RenderSproc(*in, info, w, *cur);
    storage::WriteSet set;
    set.puts.emplace_back(key, written);
    return set;
  });
  if (!commit.ok()) return ErrorResponse(commit.status());
  ctx.session_lsn = commit->lsn;
  return RecordResponse(url_id ? 200 : 201, written);
}

HttpResponse DeleteSproc(RequestContext& ctx, const ContainerInfo& info, const std::string& id) {
  std::string key = keys::StoredProcedure(RidBytes(info.record.rid).value_or(""), id);
  Status s = DeleteRecord(ctx, key, /*if_match=*/nullptr, SprocNotFound(id));
  if (!s.ok()) return ErrorResponse(s);
  return JsonResponse(204, "");
}

HttpResponse ListSprocs(RequestContext& ctx, const ContainerInfo& info, bool is_query) {
  std::string prefix = keys::StoredProcedurePrefix(RidBytes(info.record.rid).value_or(""));
  query::StoreRowSource source(*ctx.region.store, prefix);
  return QueryFeedPage(ctx, source, prefix, info.record.rid, "StoredProcedures", is_query);
}

HttpResponse Execute(RequestContext& ctx, const ContainerInfo& info, const std::string& id) {
  const std::string* pk_header = ctx.request.Header("x-ms-documentdb-partitionkey");
  if (!pk_header) {
    return ErrorResponse(Status::BadRequest(
        "PartitionKey value must be supplied to execute a stored procedure (header x-ms-documentdb-partitionkey)."));
  }
  auto pk = CanonicalPartitionKey(*pk_header, info.pk_paths.size());
  if (!pk.ok()) return ErrorResponse(pk.status());
  std::string args = ctx.request.body.empty() ? "[]" : ctx.request.body;
  Json parsed_args = ParseJsonWithinDepth<Json>(args);
  if (parsed_args.is_discarded()) return ErrorResponse(Status::BadRequest("The procedure arguments are not valid JSON."));
  if (!parsed_args.is_array()) parsed_args = Json::array({parsed_args});  // one argument, as the SDK allows
  std::string coll_rid = RidBytes(info.record.rid).value_or("");
  auto sproc = ctx.region.store->Get(keys::StoredProcedure(coll_rid, id));
  if (!sproc.ok()) return ErrorResponse(sproc.status());
  if (!sproc->has_value() || (*sproc)->tombstone) return ErrorResponse(SprocNotFound(id));
  Json sp = ParseJsonWithinDepth<Json>((*sproc)->body);
  std::string source = sp.is_object() ? sp.value("body", "") : "";

  scripting::Outcome outcome;
  Status failure;
  auto commit = ctx.region.store->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
    PartitionData data(ctx, info, *pk, w);
    auto ran = scripting::Run(source, parsed_args.dump(), data, kExecuteBudget);
    if (!ran.ok()) return ran.status();
    outcome = std::move(*ran);
    storage::WriteSet set;
    for (const auto& [key, rec] : data.writes()) set.puts.emplace_back(key, rec);
    return set;
  });
  if (!commit.ok()) {
    const Status& s = commit.status();
    if (s.code() == StatusCode::kUnavailable && s.message().find("time budget") != std::string::npos) {
      Json body = {{"code", "RequestTimeout"},
                   {"message", "The stored procedure '" + id + "' exceeded its allowed execution time and was "
                               "stopped; nothing it wrote was committed."}};
      return JsonResponse(408, body.dump());
    }
    if (s.code() == StatusCode::kBadRequest) {
      return ErrorResponse(Status::BadRequest("Encountered exception while executing function. Exception = " +
                                              s.message()));
    }
    return ErrorResponse(s);
  }
  if (commit->lsn) ctx.session_lsn = commit->lsn;
  HttpResponse resp = JsonResponse(200, outcome.body_json);
  if (!outcome.log.empty()) resp.SetHeader("x-ms-documentdb-script-log-results", PercentEncodeComponent(outcome.log));
  ctx.request_charge = 10.0;
  return resp;
}

}  // namespace

HttpResponse HandleStoredProcedures(RequestContext& ctx) {
  const auto& s = ctx.segments;
  const std::string& m = ctx.request.method;
  auto loaded = LoadContainer(ctx, s[1], s[3]);
  if (!loaded.ok()) return ErrorResponse(loaded.status());
  const ContainerInfo& info = **loaded;
  if (s.size() == 5) {
    if (m == "GET") return ListSprocs(ctx, info, false);
    if (m == "POST") {
      if (ToLower(ctx.request.HeaderOr("x-ms-documentdb-isquery", "")) == "true") return ListSprocs(ctx, info, true);
      return CreateOrReplace(ctx, info, nullptr);
    }
  } else {
    const std::string& id = s[5];
    if (m == "GET") {
      auto rec = ctx.region.store->Get(keys::StoredProcedure(RidBytes(info.record.rid).value_or(""), id));
      if (!rec.ok()) return ErrorResponse(rec.status());
      if (!rec->has_value() || (*rec)->tombstone) return ErrorResponse(SprocNotFound(id));
      return RecordResponse(200, **rec);
    }
    if (m == "PUT") return CreateOrReplace(ctx, info, &id);
    if (m == "DELETE") return DeleteSproc(ctx, info, id);
    if (m == "POST") return Execute(ctx, info, id);
  }
  return ErrorResponse(Status::BadRequest("Method " + m + " is not supported on this resource."));
}

}  // namespace regionlab::server
