// Documents: create, upsert, read, replace, patch, delete, read feed, and the
// queries the SDK sends for items.readAll(). Every write is one Store::Write:
// read the current version, check preconditions, render the new version with
// its system properties, commit.
#include "server/errors.h"
#include "base/encoding.h"
#include "server/charge.h"
#include "server/document_ops.h"
#include "server/handlers.h"
#include "server/plain_document.h"
#include "server/triggers.h"
#include "server/udf_runner.h"
#include "query/query.h"
#include "query/store_row_source.h"
#include "query/value.h"
#include "storage/keys.h"

namespace regionlab::server {
namespace {

namespace keys = storage::keys;
using storage::Record;
using storage::RecordKind;

constexpr size_t kMaxPageBytes = 4 * 1024 * 1024;

// The partition key for a point operation: the header, canonicalised. The
// SDKs always send it; without it Cosmos answers 400.
Result<std::string> HeaderPartitionKey(const RequestContext& ctx, const ContainerInfo& info) {
  const std::string* h = ctx.request.Header("x-ms-documentdb-partitionkey");
  if (!h) {
    return Status::BadRequest(
        "PartitionKey value must be supplied for this operation (header x-ms-documentdb-partitionkey).");
  }
  return CanonicalPartitionKey(*h, info.pk_paths.size());
}

}  // namespace

PreparedDocument PrepareDocument(Json doc) {
  for (const char* p : storage::kDocumentSystemProperties) doc.erase(p);
  PreparedDocument out;
  if (auto ttl = doc.find("ttl"); ttl != doc.end() && ttl->is_number_integer()) out.ttl = ttl->get<int64_t>();
  out.text = doc.dump();
  return out;
}

Record RenderPrepared(const PreparedDocument& doc, const ContainerInfo& info, const std::string& pk,
                      const std::string& id, const storage::WriteContext& w, const std::optional<Record>& previous) {
  std::string coll_rid = RidBytes(info.record.rid).value_or("");
  Record r = NewLocalRecord(RecordKind::kDocument, id, RidText(DocumentRid(coll_rid, pk, id)), w, previous);
  r.partition_key = pk;
  r.parent = coll_rid;
  r.operation = IsLive(previous, info, w.now_micros) ? storage::Operation::kReplace : storage::Operation::kCreate;
  r.ttl = doc.ttl;
  r.replaces_local_lsn = storage::ReplacedLsn(previous);
  // Appended as text after the last member: "{...}" -> "{...,"_rid":...}".
  // A document always has an id, so the object is never empty.
  const std::string& self_prefix = info.doc["_self"].get_ref<const std::string&>();
  r.body.reserve(doc.text.size() + 160 + self_prefix.size());
  r.body.append(doc.text, 0, doc.text.size() - 1);
  // Strings escaped as nlohmann's dump() escapes them (query::AppendJsonString).
  r.body += ",\"_rid\":";
  query::AppendJsonString(&r.body, r.rid);
  r.body += ",\"_self\":";
  query::AppendJsonString(&r.body, self_prefix + "docs/" + r.rid + "/");
  r.body += ",\"_etag\":";
  query::AppendJsonString(&r.body, r.etag);
  r.body += ",\"_attachments\":\"attachments/\",\"_ts\":";
  r.body += std::to_string(r.ts);
  r.body += '}';
  return r;
}

Record RenderDocument(Json doc, const ContainerInfo& info, const std::string& pk, const std::string& id,
                      const storage::WriteContext& w, const std::optional<Record>& previous) {
  return RenderPrepared(PrepareDocument(std::move(doc)), info, pk, id, w, previous);
}

Status DocumentNotFound(const std::string& id) {
  return Status::NotFound("Entity with the specified id does not exist in the system. Document '" + id + "'.");
}

bool IsLive(const std::optional<Record>& rec, const ContainerInfo& info, int64_t now_micros) {
  return rec.has_value() && !rec->tombstone && !storage::IsExpired(*rec, info.default_ttl, now_micros);
}

namespace {

// An item's "ttl": -1 or a whole number of seconds in [1, 2^31 - 1].
Status ValidateItemTtl(const Json& doc) {
  auto it = doc.find("ttl");
  if (it == doc.end()) return Status::Ok();
  const bool valid = it->is_number_integer() && (it->get<int64_t>() == -1 ||
                                                 (it->get<int64_t>() >= 1 && it->get<int64_t>() <= 2147483647));
  if (valid) return Status::Ok();
  return Status::BadRequest("The input ttl '" + it->dump() +
                            "' is invalid. Ensure to provide a nonzero positive integer less than or equal to "
                            "'2147483647', or '-1' which means never expire.");
}

}  // namespace

Result<DocumentInput> ValidateDocument(Json doc, const ContainerInfo& info) {
  DocumentInput in;
  in.doc = std::move(doc);
  if (!in.doc.is_object()) return Status::BadRequest("The document must be a JSON object.");
  auto id_it = in.doc.find("id");
  if (id_it == in.doc.end()) {
    return Status::BadRequest("The input content is invalid because the required properties - 'id; ' - are missing.");
  }
  if (!id_it->is_string()) return Status::BadRequest("The document's 'id' must be a string.");
  in.id = id_it->get<std::string>();
  RL_RETURN_IF_ERROR(ValidateResourceId(in.id, "Document"));
  RL_RETURN_IF_ERROR(ValidateItemTtl(in.doc));
  in.pk = ExtractPartitionKey(in.doc, info.pk_paths);
  return in;
}

Result<PatchSpec> ParsePatchSpec(const Json& body) {
  PatchSpec spec;
  if (body.is_array()) {
    spec.operations = body;
    return spec;
  }
  if (!body.is_object() || !body.contains("operations")) {
    return Status::BadRequest("A patch body must be an array of operations or an object with an 'operations' array.");
  }
  if (body.contains("condition") && !body["condition"].is_null()) {
    const Json& text = body["condition"];
    if (!text.is_string()) {
      return Status::BadRequest("A patch 'condition' must be a string such as \"FROM c WHERE c.status = 'open'\".");
    }
    auto prepared = query::PreparedQuery::PrepareCondition(text.get<std::string>());
    if (!prepared.ok()) return prepared.status();
    spec.condition = std::make_shared<const query::PreparedQuery>(std::move(*prepared));
  }
  spec.operations = body["operations"];
  return spec;
}

namespace {

// The body of `current` patched by `spec`, without system properties: what
// PatchVersion renders. A function of the current body, the operations and
// (for a condition) the time.
Result<PreparedDocument> PatchedBody(const Record& current, const PatchSpec& spec, const ContainerInfo& info,
                                     const std::string& id, int64_t now_micros) {
  if (spec.condition) {
    auto matches = spec.condition->Matches(current.body, now_micros);
    if (!matches.ok()) return matches.status();
    if (!*matches) return PreconditionFailed();
  }
  PreparedDocument prepared;
  if (std::optional<std::string> text = PatchPlainDocument(current.body, spec.operations, info.pk_paths)) {
    prepared.text = std::move(*text);  // top-level operations, spliced (no "ttl")
  } else {
    Json doc = Json::parse(current.body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return Status::Corruption("stored document '" + id + "' is not JSON");
    RL_RETURN_IF_ERROR(ApplyPatch(doc, spec.operations, info.pk_paths));
    RL_RETURN_IF_ERROR(ValidateItemTtl(doc));
    prepared = PrepareDocument(std::move(doc));
  }
  if (prepared.text.size() > kMaxDocumentBytes) {
    return Status::TooLarge("The patched document would exceed the 2 MB limit.");
  }
  return prepared;
}

}  // namespace

Result<Record> PatchVersion(const Record& current, const PatchSpec& spec, const ContainerInfo& info,
                            const std::string& pk, const std::string& id, const storage::WriteContext& w) {
  auto body = PatchedBody(current, spec, info, id, w.now_micros);
  if (!body.ok()) return body.status();
  return RenderPrepared(*body, info, pk, id, w, std::optional<Record>(current));
}

namespace {

// A create/upsert/replace body, checked. Pre-triggers edit the document as a
// DOM: with `need_dom` the input keeps `doc`, otherwise it has `prepared`
// (built without a DOM when the body is already in stored form).
Result<DocumentInput> ParseDocumentInput(std::string_view body, const ContainerInfo& info, bool need_dom) {
  if (!need_dom) {
    if (std::optional<PlainDocument> plain = ScanPlainDocument(body, info.pk_paths)) {
      RL_RETURN_IF_ERROR(ValidateResourceId(plain->id, "Document"));
      DocumentInput in;
      in.id = std::move(plain->id);
      in.pk = std::move(plain->pk);
      in.prepared = PreparedDocument{std::string(body), 0};
      return in;
    }
  }
  auto parsed = ParseJsonBody(body);
  if (!parsed.ok()) return parsed.status();
  auto in = ValidateDocument(std::move(*parsed), info);
  if (!in.ok() || need_dom) return in;
  in->prepared = PrepareDocument(std::move(in->doc));
  return in;
}

// Validates the body of a create/upsert/replace request against the
// partition key header, if any.
Result<DocumentInput> ReadDocumentInput(const RequestContext& ctx, const ContainerInfo& info, bool need_dom) {
  if (ctx.request.body.size() > kMaxDocumentBytes) {
    return Status::TooLarge("Request size is too large: the document is " +
                            std::to_string(ctx.request.body.size()) + " bytes, the limit is 2 MB.");
  }
  auto in = ParseDocumentInput(ctx.request.body, info, need_dom);
  if (!in.ok()) return in.status();
  if (const std::string* h = ctx.request.Header("x-ms-documentdb-partitionkey")) {
    auto given = CanonicalPartitionKey(*h, info.pk_paths.size());
    if (!given.ok()) return given.status();
    if (*given != in->pk) {
      return Status::BadRequest("PartitionKey extracted from document doesn't match the one specified in the header: "
                                "the document has " + in->pk + ", the header says " + *given + ".");
    }
  }
  return in;
}

HttpResponse WriteResponse(const RequestContext& ctx, int status, const Record& rec, uint64_t lsn) {
  HttpResponse resp = RecordResponse(status, rec);
  const std::string* prefer = ctx.request.Header("prefer");
  if (prefer && prefer->find("return=minimal") != std::string::npos) resp.body.clear();
  return resp;
}

HttpResponse CreateOrUpsert(RequestContext& ctx, const ContainerInfo& info) {
  const bool triggers = NamesTriggers(ctx.request);
  auto in = ReadDocumentInput(ctx, info, triggers);
  if (!in.ok()) return ErrorResponse(in.status());
  bool upsert = ToLower(ctx.request.HeaderOr("x-ms-documentdb-is-upsert", "")) == "true";
  if (triggers) {
    return WriteWithTriggers(ctx, info, upsert ? TriggerOp::kUpsert : TriggerOp::kCreate, in->pk, in->id, &in->doc);
  }
  const std::string* if_match = ctx.request.Header("if-match");
  std::string key = keys::Document(RidBytes(info.record.rid).value_or(""), in->pk, in->id);
  const PreparedDocument prepared = std::move(*in->prepared);
  Record written;
  bool existed = false;
  auto commit = ctx.region.store->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
    auto cur = ctx.region.store->Get(key);
    if (!cur.ok()) return cur.status();
    existed = IsLive(*cur, info, w.now_micros);
    if (existed && !upsert) {
      return Status::Conflict("Entity with the specified id already exists in the system. Document '" + in->id + "'.");
    }
    if (if_match && (!existed || !EtagMatches(if_match, **cur))) return PreconditionFailed();
    written = RenderPrepared(prepared, info, in->pk, in->id, w, *cur);
    storage::WriteSet set;
    set.puts.emplace_back(key, written);
    return set;
  });
  if (!commit.ok()) return ErrorResponse(commit.status());
  ctx.session_lsn = commit->lsn;
  ctx.request_charge = existed ? ReplaceCharge(written.body.size()) : CreateCharge(written.body.size());
  return WriteResponse(ctx, existed ? 200 : 201, written, commit->lsn);
}

HttpResponse ReadDocument(RequestContext& ctx, const ContainerInfo& info, const std::string& id) {
  auto pk = HeaderPartitionKey(ctx, info);
  if (!pk.ok()) return ErrorResponse(pk.status());
  auto rec = ctx.region.store->Get(keys::Document(RidBytes(info.record.rid).value_or(""), *pk, id));
  if (!rec.ok()) return ErrorResponse(rec.status());
  if (!IsLive(*rec, info, ctx.region.clock->NowMicros())) {
    HttpResponse resp = ErrorResponse(DocumentNotFound(id));
    // The delete (or expired version) this region holds: what the 404 reflects.
    if (rec->has_value()) resp.SetHeader("x-regionlab-version", VersionHeader(**rec));
    return resp;
  }
  const std::string* inm = ctx.request.Header("if-none-match");
  if (inm && (*inm == (*rec)->etag || *inm == "*")) {
    HttpResponse resp = ErrorResponse(Status::NotModified());
    resp.SetHeader("etag", (*rec)->etag);
    return resp;
  }
  ctx.request_charge = ReadCharge((*rec)->body.size());
  return RecordResponse(200, **rec);
}

HttpResponse ReplaceDocument(RequestContext& ctx, const ContainerInfo& info, const std::string& id) {
  const bool triggers = NamesTriggers(ctx.request);
  auto in = ReadDocumentInput(ctx, info, triggers);
  if (!in.ok()) return ErrorResponse(in.status());
  if (in->id != id) {
    return ErrorResponse(Status::BadRequest("The id in the body ('" + in->id +
                                            "') does not match the document in the URL ('" + id + "')."));
  }
  if (triggers) return WriteWithTriggers(ctx, info, TriggerOp::kReplace, in->pk, id, &in->doc);
  const std::string* if_match = ctx.request.Header("if-match");
  std::string key = keys::Document(RidBytes(info.record.rid).value_or(""), in->pk, id);
  const PreparedDocument prepared = std::move(*in->prepared);
  Record written;
  auto commit = ctx.region.store->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
    auto cur = ctx.region.store->Get(key);
    if (!cur.ok()) return cur.status();
    if (!IsLive(*cur, info, w.now_micros)) return DocumentNotFound(id);
    if (!EtagMatches(if_match, **cur)) return PreconditionFailed();
    written = RenderPrepared(prepared, info, in->pk, id, w, *cur);
    storage::WriteSet set;
    set.puts.emplace_back(key, written);
    return set;
  });
  if (!commit.ok()) return ErrorResponse(commit.status());
  ctx.session_lsn = commit->lsn;
  ctx.request_charge = ReplaceCharge(written.body.size());
  return WriteResponse(ctx, 200, written, commit->lsn);
}

HttpResponse PatchDocument(RequestContext& ctx, const ContainerInfo& info, const std::string& id) {
  auto pk = HeaderPartitionKey(ctx, info);
  if (!pk.ok()) return ErrorResponse(pk.status());
  auto body = ParseJsonBody(ctx.request.body);
  if (!body.ok()) return ErrorResponse(body.status());
  auto spec = ParsePatchSpec(*body);
  if (!spec.ok()) return ErrorResponse(spec.status());
  const std::string* if_match = ctx.request.Header("if-match");
  std::string key = keys::Document(RidBytes(info.record.rid).value_or(""), *pk, id);
  // The patch is applied before the write, outside the store's writer lock,
  // to the version read now; under the lock that work is reused if the
  // current version's body is still the one it was applied to (the result
  // depends on nothing else), and redone otherwise. A conditional patch
  // (whose condition may read the time) is always applied under the lock.
  std::string early_base;  // the body `early` was applied to
  std::optional<PreparedDocument> early;
  if (!spec->condition) {
    auto snapshot = ctx.region.store->Get(key);
    if (snapshot.ok() && snapshot->has_value() && !(*snapshot)->tombstone) {
      auto body = PatchedBody(**snapshot, *spec, info, id, 0);
      if (body.ok()) {
        early_base = std::move((*snapshot)->body);
        early = std::move(*body);
      }
    }
  }
  Record written;
  auto commit = ctx.region.store->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
    auto cur = ctx.region.store->Get(key);
    if (!cur.ok()) return cur.status();
    if (!IsLive(*cur, info, w.now_micros)) return DocumentNotFound(id);
    if (!EtagMatches(if_match, **cur)) return PreconditionFailed();
    if (early && (*cur)->body == early_base) {
      written = RenderPrepared(*early, info, *pk, id, w, *cur);
    } else {
      auto patched = PatchVersion(**cur, *spec, info, *pk, id, w);
      if (!patched.ok()) return patched.status();
      written = std::move(*patched);
    }
    storage::WriteSet set;
    set.puts.emplace_back(key, written);
    return set;
  });
  if (!commit.ok()) return ErrorResponse(commit.status());
  ctx.session_lsn = commit->lsn;
  ctx.request_charge = ReplaceCharge(written.body.size());
  return WriteResponse(ctx, 200, written, commit->lsn);
}

HttpResponse DeleteDocument(RequestContext& ctx, const ContainerInfo& info, const std::string& id) {
  auto pk = HeaderPartitionKey(ctx, info);
  if (!pk.ok()) return ErrorResponse(pk.status());
  if (NamesTriggers(ctx.request)) return WriteWithTriggers(ctx, info, TriggerOp::kDelete, *pk, id, nullptr);
  std::string key = keys::Document(RidBytes(info.record.rid).value_or(""), *pk, id);
  const std::string* if_match = ctx.request.Header("if-match");
  size_t size = 0;
  std::string tombstone_etag, tombstone_version;
  auto commit = ctx.region.store->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
    auto cur = ctx.region.store->Get(key);
    if (!cur.ok()) return cur.status();
    if (!IsLive(*cur, info, w.now_micros)) return DocumentNotFound(id);
    if (!EtagMatches(if_match, **cur)) return PreconditionFailed();
    size = (*cur)->body.size();
    storage::WriteSet set;
    set.puts.emplace_back(key, MakeTombstone(**cur, w));
    tombstone_etag = set.puts.back().second.etag;
    tombstone_version = VersionHeader(set.puts.back().second);
    return set;
  });
  if (!commit.ok()) return ErrorResponse(commit.status());
  ctx.session_lsn = commit->lsn;
  ctx.request_charge = DeleteCharge(size);
  // Not in Azure's answer: the delete's own version, so that a client that
  // records its acknowledged writes (regionlab check) can name it.
  HttpResponse resp = JsonResponse(204, "");
  resp.SetHeader("etag", tombstone_etag);
  resp.SetHeader("x-regionlab-version", tombstone_version);
  return resp;
}

// One page of documents in key order, optionally within one partition key.
// The continuation is the last key returned, base64: it names a position in
// the container's key space, so it means the same thing on every region.
HttpResponse DocumentPage(RequestContext& ctx, const ContainerInfo& info, const std::string* pk_header) {
  std::string coll_rid = RidBytes(info.record.rid).value_or("");
  std::string prefix = keys::DocumentPrefix(coll_rid);
  if (pk_header) {
    auto pk = CanonicalPartitionKey(*pk_header, info.pk_paths.size());
    if (!pk.ok()) return ErrorResponse(pk.status());
    prefix = keys::PartitionPrefix(coll_rid, *pk);
  }
  auto limit = query::ParseMaxItemCount(ctx.request.Header("x-ms-max-item-count"));
  if (!limit.ok()) return ErrorResponse(limit.status());
  const int64_t max_items = *limit == 0 ? INT64_MAX : *limit;  // 0: as many as fit in a page
  std::string start_after;
  if (const std::string* c = ctx.request.Header("x-ms-continuation"); c && !c->empty()) {
    auto decoded = Base64Decode(*c);
    if (!decoded || decoded->compare(0, prefix.size(), prefix) != 0) {
      return ErrorResponse(Status::BadRequest("The continuation token '" + *c + "' is malformed or belongs to another scope."));
    }
    start_after = *decoded;
  }
  std::string out = "{\"_rid\":\"" + info.record.rid + "\",\"Documents\":[";
  long count = 0;
  std::string last_key;
  bool more = false;
  const int64_t now = ctx.region.clock->NowMicros();
  Status s = ctx.region.store->Scan(prefix, start_after, false, [&](std::string_view key, Record&& r) {
    if (storage::IsExpired(r, info.default_ttl, now)) return true;
    if (count >= max_items || (count > 0 && out.size() + r.body.size() > kMaxPageBytes)) {
      more = true;
      return false;
    }
    if (count) out += ',';
    out += r.body;
    ++count;
    last_key.assign(key);
    return true;
  });
  if (!s.ok()) return ErrorResponse(s);
  out += "],\"_count\":" + std::to_string(count) + "}";
  HttpResponse resp = JsonResponse(200, std::move(out));
  resp.SetHeader("x-ms-item-count", std::to_string(count));
  if (more) resp.SetHeader("x-ms-continuation", Base64Encode(last_key));
  ctx.request_charge = QueryCharge(static_cast<uint64_t>(count), out.size());
  return resp;
}

// True when `text` may call a user-defined function ("udf." in any case).
bool MayCallUdf(const std::string& text) { return ToLower(text).find("udf.") != std::string::npos; }

HttpResponse QueryPlan() {
  Json plan = {{"partitionedQueryExecutionInfoVersion", 2},
               {"queryInfo",
                {{"distinctType", "None"},
                 {"top", nullptr},
                 {"offset", nullptr},
                 {"limit", nullptr},
                 {"orderBy", Json::array()},
                 {"orderByExpressions", Json::array()},
                 {"groupByExpressions", Json::array()},
                 {"groupByAliases", Json::array()},
                 {"aggregates", Json::array()},
                 {"groupByAliasToAggregateType", Json::object()},
                 {"rewrittenQuery", ""},
                 {"hasSelectValue", false},
                 {"hasNonStreamingOrderBy", false},
                 {"dCountInfo", nullptr}}},
               {"queryRanges",
                Json::array({{{"min", ""}, {"max", "FF"}, {"isMinInclusive", true}, {"isMaxInclusive", false}}})}};
  return JsonResponse(200, plan.dump());
}

// A query over the container's documents (items.query, items.readAll): the
// whole query runs here, ORDER BY, aggregates and paging included, since the
// SDK passes our pages through. The scan covers one partition when the
// partition key header is present or the WHERE clause pins the key by
// equality; otherwise all of the container.
HttpResponse Query(RequestContext& ctx, const ContainerInfo& info) {
  auto spec = query::ParseQuerySpec(ctx.request.body);
  if (!spec.ok()) return ErrorResponse(spec.status());
  auto prepared = query::PreparedQuery::Prepare(*spec);
  if (!prepared.ok()) return ErrorResponse(prepared.status());
  auto max_items = query::ParseMaxItemCount(ctx.request.Header("x-ms-max-item-count"));
  if (!max_items.ok()) return ErrorResponse(max_items.status());

  std::string coll_rid = RidBytes(info.record.rid).value_or("");
  std::string prefix = keys::DocumentPrefix(coll_rid);
  if (const std::string* h = ctx.request.Header("x-ms-documentdb-partitionkey")) {
    auto pk = CanonicalPartitionKey(*h, info.pk_paths.size());
    if (!pk.ok()) return ErrorResponse(pk.status());
    prefix = keys::PartitionPrefix(coll_rid, *pk);
  } else if (auto values = prepared->PartitionKeyEquality(info.pk_paths)) {
    std::string array = "[";
    for (size_t i = 0; i < values->size(); ++i) {
      if (i) array += ',';
      array += (*values)[i].ToJson();
    }
    array += "]";
    if (auto pk = CanonicalPartitionKey(array, info.pk_paths.size()); pk.ok()) {
      prefix = keys::PartitionPrefix(coll_rid, *pk);
    }
  }

  query::StoreRowSource source(*ctx.region.store, prefix, info.default_ttl, ctx.region.clock->NowMicros());
  query::PageRequest request;
  request.max_items = *max_items;
  request.max_bytes = kMaxPageBytes;
  request.continuation = ctx.request.HeaderOr("x-ms-continuation", "");
  request.scope = prefix;
  request.now_micros = ctx.region.clock->NowMicros();
  request.limits.cancelled = ctx.request.cancelled.get();
  // udf.NAME(...): the container's functions, run in the sandbox for this page.
  std::unique_ptr<UdfRunner> udfs;
  if (MayCallUdf(spec->text)) {
    auto sources = LoadUdfSources(*ctx.region.store, coll_rid);
    if (!sources.ok()) return ErrorResponse(sources.status());
    udfs = std::make_unique<UdfRunner>(std::move(*sources), request.limits.max_micros / 1000);
    request.udfs = udfs.get();
  }
  auto page = query::ExecutePage(*prepared, source, request);
  udfs.reset();  // the sandbox is gone before the answer
  if (!page.ok()) return ErrorResponse(page.status());

  HttpResponse resp = JsonResponse(200, query::FeedBody(info.record.rid, "Documents", page->documents));
  resp.SetHeader("x-ms-item-count", std::to_string(page->documents.size()));
  if (!page->continuation.empty()) resp.SetHeader("x-ms-continuation", page->continuation);
  size_t bytes = 0;
  for (const auto& d : page->documents) bytes += d.size();
  ctx.request_charge = QueryCharge(page->rows_scanned, bytes);
  return resp;
}

}  // namespace

HttpResponse HandleDocuments(RequestContext& ctx) {
  const auto& s = ctx.segments;
  const std::string& m = ctx.request.method;
  auto loaded = LoadContainer(ctx, s[1], s[3]);
  if (!loaded.ok()) return ErrorResponse(loaded.status());
  const ContainerInfo* info = loaded->get();
  const bool plan = ToLower(ctx.request.HeaderOr("x-ms-cosmos-is-query-plan-request", "")) == "true";
  if (!plan) {
    if (auto throttled = AdmitOnThroughput(ctx, *info)) return std::move(*throttled);
  }
  const bool read = m == "GET" || (m == "POST" && ctx.request.Header("x-ms-documentdb-isquery"));
  if (const std::string* token = ctx.request.Header("x-ms-session-token"); read && token && !token->empty()) {
    if (Status st = CheckSessionToken(ctx.region, *token); !st.ok()) return ErrorResponse(st);
  }
  if (s.size() == 5) {
    if (m == "POST") {
      if (ToLower(ctx.request.HeaderOr("x-ms-cosmos-is-query-plan-request", "")) == "true") return QueryPlan();
      if (ToLower(ctx.request.HeaderOr("x-ms-documentdb-isquery", "")) == "true") return Query(ctx, *info);
      if (ToLower(ctx.request.HeaderOr("x-ms-cosmos-is-batch-request", "")) == "true") return HandleBatch(ctx, *info);
      return CreateOrUpsert(ctx, *info);
    }
    if (m == "GET") {
      if (ctx.request.Header("a-im")) return HandleChangeFeed(ctx, *info);
      return DocumentPage(ctx, *info, ctx.request.Header("x-ms-documentdb-partitionkey"));
    }
  } else {
    const std::string& id = s[5];
    if (m == "GET") return ReadDocument(ctx, *info, id);
    if (m == "PUT") return ReplaceDocument(ctx, *info, id);
    if (m == "PATCH") return PatchDocument(ctx, *info, id);
    if (m == "DELETE") return DeleteDocument(ctx, *info, id);
  }
  return ErrorResponse(Status::BadRequest("Method " + m + " is not supported on this resource."));
}

}  // namespace regionlab::server
