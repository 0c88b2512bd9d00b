// Databases and containers: create, read, list, replace (containers), delete
// (cascading), and a container's partition key ranges (always one range).
#include <spdlog/spdlog.h>

#include <unordered_map>

#include "base/encoding.h"
#include "server/errors.h"
#include "conflictfeed/native_resolver.h"
#include "server/handlers.h"
#include "server/offers.h"
#include "query/query.h"
#include "query/store_row_source.h"
#include "storage/keys.h"

namespace regionlab::server {
namespace {

namespace keys = storage::keys;
using storage::Record;
using storage::RecordKind;

Result<std::optional<Record>> LiveRecord(storage::Store& store, const std::string& key) {
  auto got = store.Get(key);
  if (!got.ok()) return got.status();
  if (!got->has_value() || (*got)->tombstone) return std::optional<Record>();
  return got;
}

// Tombstones for a container and erasure of everything inside it.
void DropContainer(const Record& container, const storage::WriteContext& w, storage::WriteSet* set,
                   const std::string& key) {
  Record tomb = NewLocalRecord(RecordKind::kContainer, container.id, container.rid, w, container);
  tomb.tombstone = true;
  tomb.parent = container.parent;
  set->puts.emplace_back(key, std::move(tomb));
  auto rid = RidBytes(container.rid).value_or("");
  std::string docs = keys::DocumentPrefix(rid);
  set->erase_ranges.emplace_back(docs, keys::PrefixEnd(docs));
  std::string sprocs = keys::StoredProcedurePrefix(rid);
  set->erase_ranges.emplace_back(sprocs, keys::PrefixEnd(sprocs));
  std::string conflicts = keys::ConflictPrefix(rid);
  set->erase_ranges.emplace_back(conflicts, keys::PrefixEnd(conflicts));
  for (const std::string& prefix : {keys::UdfPrefix(rid), keys::TriggerPrefix(rid), keys::Offer(rid)}) {
    set->erase_ranges.emplace_back(prefix, keys::PrefixEnd(prefix));
  }
}

// ---- databases ----

HttpResponse CreateDatabase(RequestContext& ctx) {
  auto body = ParseJsonBody(ctx.request.body);
  if (!body.ok()) return ErrorResponse(body.status());
  if (!body->is_object() || !body->contains("id") || !(*body)["id"].is_string()) {
    return ErrorResponse(Status::BadRequest("The database body must be an object with a string 'id'."));
  }
  std::string id = (*body)["id"];
  if (Status s = ValidateResourceId(id, "Database"); !s.ok()) return ErrorResponse(s);
  std::string key = keys::Database(id);
  std::string rid_bytes = DatabaseRid(id);
  std::string rid = RidText(rid_bytes);
  auto throughput = ParseThroughputHeaders(ctx.request);
  if (!throughput.ok()) return ErrorResponse(throughput.status());
  Record created;
  auto commit = ctx.region.store->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
    auto cur = ctx.region.store->Get(key);
    if (!cur.ok()) return cur.status();
    if (cur->has_value() && !(*cur)->tombstone) {
      return Status::Conflict("Entity with the specified id already exists in the system. Database '" + id + "'.");
    }
    Record r = NewLocalRecord(RecordKind::kDatabase, id, rid, w, *cur);
    Json doc = {{"id", id},         {"_rid", rid},        {"_self", "dbs/" + rid + "/"},
                {"_etag", r.etag},  {"_colls", "colls/"}, {"_users", "users/"},
                {"_ts", r.ts}};
    r.body = doc.dump();
    created = r;
    storage::WriteSet set;
    set.puts.emplace_back(key, std::move(r));
    if (*throughput) {  // shared throughput
      const std::string offer_key = keys::Offer(rid_bytes);
      auto previous = ctx.region.store->Get(offer_key);
      if (!previous.ok()) return previous.status();
      set.puts.emplace_back(offer_key, MakeOfferRecord(**throughput, "dbs/" + rid + "/", rid, w, *previous));
    }
    return set;
  });
  if (!commit.ok()) return ErrorResponse(commit.status());
  ctx.request_charge = 5;
  return RecordResponse(201, created);
}

// One page of the live records under `prefix`, honouring x-ms-max-item-count
// and x-ms-continuation (the base64 of the last key returned).
HttpResponse ListPage(RequestContext& ctx, const std::string& prefix, const char* array_name,
                      const std::string& rid) {
  // Lists of databases and containers are not paged unless the client asks.
  const std::string* m = ctx.request.Header("x-ms-max-item-count");
  auto limit = query::ParseMaxItemCount(m);
  if (!limit.ok()) return ErrorResponse(limit.status());
  const int64_t max_items = (m == nullptr || *limit == 0) ? INT64_MAX : *limit;
  std::string start_after;
  if (const std::string* c = ctx.request.Header("x-ms-continuation"); c && !c->empty()) {
    auto decoded = Base64Decode(*c);
    if (!decoded || decoded->compare(0, prefix.size(), prefix) != 0) {
      return ErrorResponse(Status::BadRequest("The continuation token '" + *c + "' is malformed."));
    }
    start_after = *decoded;
  }
  std::vector<std::string> bodies;
  std::string last_key;
  bool more = false;
  Status s = ctx.region.store->Scan(prefix, start_after, false, [&](std::string_view key, Record&& r) {
    if (static_cast<int64_t>(bodies.size()) >= max_items) {
      more = true;
      return false;
    }
    bodies.push_back(std::move(r.body));
    last_key.assign(key);
    return true;
  });
  if (!s.ok()) return ErrorResponse(s);
  HttpResponse resp = JsonResponse(200, query::FeedBody(rid, array_name, bodies));
  resp.SetHeader("x-ms-item-count", std::to_string(bodies.size()));
  if (more) resp.SetHeader("x-ms-continuation", Base64Encode(last_key));
  return resp;
}

HttpResponse DeleteDatabase(RequestContext& ctx, const std::string& id) {
  std::string key = keys::Database(id);
  auto commit = ctx.region.store->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
    auto cur = LiveRecord(*ctx.region.store, key);
    if (!cur.ok()) return cur.status();
    if (!cur->has_value()) return Status::NotFound("Resource Not Found. Database '" + id + "' does not exist.");
    storage::WriteSet set;
    Record tomb = NewLocalRecord(RecordKind::kDatabase, id, (*cur)->rid, w, *cur);
    tomb.tombstone = true;
    set.puts.emplace_back(key, std::move(tomb));
    std::vector<std::pair<std::string, Record>> containers;
    Status s = ctx.region.store->Scan(keys::ContainerPrefix(id), "", false,
                                      [&](std::string_view k, Record&& r) {
                                        containers.emplace_back(std::string(k), std::move(r));
                                        return true;
                                      });
    if (!s.ok()) return s;
    for (const auto& [k, c] : containers) DropContainer(c, w, &set, k);
    for (const std::string& prefix : {keys::Offer(RidBytes((*cur)->rid).value_or("")), keys::UserPrefix(id),
                                      keys::DatabasePermissionsPrefix(id)}) {
      set.erase_ranges.emplace_back(prefix, keys::PrefixEnd(prefix));
    }
    return set;
  });
  if (!commit.ok()) return ErrorResponse(commit.status());
  return JsonResponse(204, "");
}

// ---- containers ----

Status NormalizeContainer(Json& body, const std::optional<Json>& existing) {
  if (!body.is_object()) return Status::BadRequest("The container body must be a JSON object.");
  if (!body.contains("id") || !body["id"].is_string()) {
    return Status::BadRequest("The container body must have a string 'id'.");
  }
  RL_RETURN_IF_ERROR(ValidateResourceId(body["id"].get<std::string>(), "Container"));

  // Partition key.
  Json pk;
  if (body.contains("partitionKey") && !body["partitionKey"].is_null()) {
    pk = body["partitionKey"];
    if (pk.is_string()) pk = Json{{"paths", Json::array({pk})}};
    if (!pk.is_object() || !pk.contains("paths") || !pk["paths"].is_array() || pk["paths"].empty()) {
      return Status::BadRequest("partitionKey must be an object with a non-empty 'paths' array.");
    }
    for (const auto& p : pk["paths"]) {
      if (!p.is_string() || p.get<std::string>().size() < 2 || p.get<std::string>()[0] != '/') {
        return Status::BadRequest("Each partition key path must be a string like '/pk'.");
      }
    }
    std::string kind = pk.value("kind", pk["paths"].size() > 1 ? "MultiHash" : "Hash");
    if (kind != "Hash" && kind != "MultiHash") {
      return Status::BadRequest("partitionKey.kind must be 'Hash' or 'MultiHash', not '" + kind + "'.");
    }
    if (kind == "Hash" && pk["paths"].size() != 1) {
      return Status::BadRequest("A 'Hash' partition key has exactly one path; use 'MultiHash' for hierarchical keys.");
    }
    if (pk["paths"].size() > 3) {
      return Status::BadRequest("A hierarchical partition key has at most three paths.");
    }
    pk["kind"] = kind;
    if (!pk.contains("version")) pk["version"] = 2;
  } else if (existing) {
    pk = (*existing)["partitionKey"];
  } else {
    pk = Json{{"paths", Json::array({"/_partitionKey"})}, {"kind", "Hash"}, {"version", 2}};
  }
  body["partitionKey"] = pk;

  // Conflict resolution policy.
  Json policy = body.contains("conflictResolutionPolicy") ? body["conflictResolutionPolicy"] : Json();
  if (policy.is_null()) {
    policy = existing ? (*existing)["conflictResolutionPolicy"] : Json::object();
  }
  if (!policy.is_object()) return Status::BadRequest("conflictResolutionPolicy must be an object.");
  std::string mode = policy.value("mode", "LastWriterWins");
  if (ToLower(mode) == "lastwriterwins") {
    mode = "LastWriterWins";
  } else if (ToLower(mode) == "custom") {
    mode = "Custom";
  } else {
    return Status::BadRequest("conflictResolutionPolicy.mode must be 'LastWriterWins' or 'Custom', not '" + mode + "'.");
  }
  policy["mode"] = mode;
  if (mode == "LastWriterWins") {
    std::string path = policy.value("conflictResolutionPath", "");
    if (path.empty()) path = "/_ts";
    if (path[0] != '/') return Status::BadRequest("conflictResolutionPath must start with '/'.");
    policy["conflictResolutionPath"] = path;
    if (!policy.contains("conflictResolutionProcedure")) policy["conflictResolutionProcedure"] = "";
  } else {
    if (!policy.contains("conflictResolutionPath")) policy["conflictResolutionPath"] = "";
    if (!policy.contains("conflictResolutionProcedure")) policy["conflictResolutionProcedure"] = "";
    if (!policy["conflictResolutionProcedure"].is_string()) {
      return Status::BadRequest("conflictResolutionProcedure must be a string.");
    }
    std::string native_name, native_argument;
    if (conflictfeed::ParseNativeProcedure(policy["conflictResolutionProcedure"].get<std::string>(), &native_name,
                                           &native_argument)) {
      const conflictfeed::NativeResolver* native = conflictfeed::FindNativeResolver(native_name);
      if (!native) {
        std::string known;
        for (const auto& n : conflictfeed::NativeResolverNames()) known += (known.empty() ? "" : ", ") + n;
        return Status::BadRequest("conflictResolutionProcedure names native resolver '" + native_name +
                                  "', which is not compiled into this regionlab (known: " + known + ").");
      }
      RL_RETURN_IF_ERROR(native->ValidateArgument(native_argument));
    }
  }
  if (policy.contains("recordLosers") && !policy["recordLosers"].is_boolean()) {
    return Status::BadRequest("conflictResolutionPolicy.recordLosers must be true or false.");
  }
  body["conflictResolutionPolicy"] = policy;

  if (body.contains("defaultTtl") && !body["defaultTtl"].is_null()) {
    const Json& ttl = body["defaultTtl"];
    if (!ttl.is_number_integer() || (ttl.get<int64_t>() < 1 && ttl.get<int64_t>() != -1)) {
      return Status::BadRequest("defaultTtl must be -1 or a positive number of seconds.");
    }
  }
  if (!body.contains("indexingPolicy") || body["indexingPolicy"].is_null()) {
    body["indexingPolicy"] = existing && existing->contains("indexingPolicy")
                                 ? (*existing)["indexingPolicy"]
                                 : Json{{"indexingMode", "consistent"},
                                        {"automatic", true},
                                        {"includedPaths", Json::array({Json{{"path", "/*"}}})},
                                        {"excludedPaths", Json::array({Json{{"path", "/\"_etag\"/?"}}})}};
  }
  if (!body.contains("geospatialConfig")) body["geospatialConfig"] = Json{{"type", "Geography"}};
  // System properties are ours to set.
  for (const char* p : {"_rid", "_self", "_etag", "_ts", "_docs", "_sprocs", "_triggers", "_udfs", "_conflicts"}) {
    body.erase(p);
  }
  return Status::Ok();
}

void RenderContainer(Json& body, const std::string& db_rid, const Record& r) {
  body["_rid"] = r.rid;
  body["_ts"] = r.ts;
  body["_self"] = "dbs/" + db_rid + "/colls/" + r.rid + "/";
  body["_etag"] = r.etag;
  body["_docs"] = "docs/";
  body["_sprocs"] = "sprocs/";
  body["_triggers"] = "triggers/";
  body["_udfs"] = "udfs/";
  body["_conflicts"] = "conflicts/";
}

HttpResponse CreateContainer(RequestContext& ctx, const std::string& db_id) {
  auto body = ParseJsonBody(ctx.request.body);
  if (!body.ok()) return ErrorResponse(body.status());
  if (Status s = NormalizeContainer(*body, std::nullopt); !s.ok()) return ErrorResponse(s);
  std::string id = (*body)["id"];
  std::string key = keys::Container(db_id, id);
  auto throughput = ParseThroughputHeaders(ctx.request);
  if (!throughput.ok()) return ErrorResponse(throughput.status());
  Record created;
  auto commit = ctx.region.store->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
    auto db = LiveRecord(*ctx.region.store, keys::Database(db_id));
    if (!db.ok()) return db.status();
    if (!db->has_value()) return Status::NotFound("Resource Not Found. Database '" + db_id + "' does not exist.");
    auto cur = ctx.region.store->Get(key);
    if (!cur.ok()) return cur.status();
    if (cur->has_value() && !(*cur)->tombstone) {
      return Status::Conflict("Entity with the specified id already exists in the system. Container '" + id + "'.");
    }
    std::string db_rid_bytes = RidBytes((*db)->rid).value_or("");
    Record r = NewLocalRecord(RecordKind::kContainer, id, RidText(ContainerRid(db_rid_bytes, id)), w, *cur);
    r.parent = db_id;
    Json doc = *body;
    RenderContainer(doc, (*db)->rid, r);
    r.body = doc.dump();
    created = r;
    storage::WriteSet set;
    // Its own throughput if asked for, else the database's shared one, else
    // 400 RU/s of its own (what Azure provisions by default).
    auto shared = ctx.region.store->Get(keys::Offer(db_rid_bytes));
    if (!shared.ok()) return shared.status();
    const bool db_shares = shared->has_value() && !(*shared)->tombstone;
    if (*throughput || !db_shares) {
      const std::string coll_rid_bytes = RidBytes(r.rid).value_or("");
      const std::string offer_key = keys::Offer(coll_rid_bytes);
      auto previous = ctx.region.store->Get(offer_key);
      if (!previous.ok()) return previous.status();
      ThroughputSetting setting = throughput->value_or(ThroughputSetting{false, 400});
      set.puts.emplace_back(offer_key, MakeOfferRecord(setting, doc["_self"].get<std::string>(), r.rid, w, *previous));
    }
    set.puts.emplace_back(key, std::move(r));
    return set;
  });
  if (!commit.ok()) return ErrorResponse(commit.status());
  ctx.request_charge = 5;
  return RecordResponse(201, created);
}

HttpResponse ReplaceContainer(RequestContext& ctx, const std::string& db_id, const std::string& id) {
  auto body = ParseJsonBody(ctx.request.body);
  if (!body.ok()) return ErrorResponse(body.status());
  if (body->is_object() && body->contains("id") && (*body)["id"] != id) {
    return ErrorResponse(Status::BadRequest("The id in the body ('" + (*body)["id"].dump() +
                                            "') does not match the container in the URL ('" + id + "')."));
  }
  std::string key = keys::Container(db_id, id);
  Record replaced;
  const std::string* if_match = ctx.request.Header("if-match");
  auto commit = ctx.region.store->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
    auto cur = LiveRecord(*ctx.region.store, key);
    if (!cur.ok()) return cur.status();
    if (!cur->has_value()) return Status::NotFound("Resource Not Found. Container '" + id + "' does not exist.");
    if (!EtagMatches(if_match, **cur)) return PreconditionFailed();
    Json existing = Json::parse((*cur)->body);
    Json doc = *body;
    RL_RETURN_IF_ERROR(NormalizeContainer(doc, existing));
    if (doc["partitionKey"] != existing["partitionKey"]) {
      return Status::BadRequest("The partition key of a container cannot be changed.");
    }
    if (doc["conflictResolutionPolicy"] != existing["conflictResolutionPolicy"]) {
      return Status::BadRequest("The conflict resolution policy of a container cannot be changed after creation.");
    }
    Record r = NewLocalRecord(RecordKind::kContainer, id, (*cur)->rid, w, *cur);
    r.parent = db_id;
    std::string db_rid = existing["_self"].get<std::string>().substr(4, 8);
    RenderContainer(doc, db_rid, r);
    r.body = doc.dump();
    replaced = r;
    storage::WriteSet set;
    set.puts.emplace_back(key, std::move(r));
    return set;
  });
  if (!commit.ok()) return ErrorResponse(commit.status());
  ctx.request_charge = 5;
  return RecordResponse(200, replaced);
}

HttpResponse DeleteContainer(RequestContext& ctx, const std::string& db_id, const std::string& id) {
  std::string key = keys::Container(db_id, id);
  auto commit = ctx.region.store->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
    auto cur = LiveRecord(*ctx.region.store, key);
    if (!cur.ok()) return cur.status();
    if (!cur->has_value()) return Status::NotFound("Resource Not Found. Container '" + id + "' does not exist.");
    storage::WriteSet set;
    DropContainer(**cur, w, &set, key);
    return set;
  });
  if (!commit.ok()) return ErrorResponse(commit.status());
  return JsonResponse(204, "");
}

HttpResponse PartitionKeyRanges(RequestContext& ctx, const ContainerInfo& info) {
  Json range = {{"_rid", info.record.rid + "AgAAAAAAAAA="},
                {"id", "0"},
                {"_etag", info.record.etag},
                {"minInclusive", ""},
                {"maxExclusive", "FF"},
                {"ridPrefix", 0},
                {"_self", "dbs/x/colls/" + info.record.rid + "/pkranges/0/"},
                {"throughputFraction", 1},
                {"status", "online"},
                {"parents", Json::array()},
                {"_ts", info.record.ts},
                {"_lsn", 1}};
  HttpResponse resp = JsonResponse(200, query::FeedBody(info.record.rid, "PartitionKeyRanges", {range.dump()}));
  resp.SetHeader("etag", info.record.etag);
  resp.SetHeader("x-ms-item-count", "1");
  return resp;
}

// ---- queries over databases and containers ----

bool IsQuery(const RequestContext& ctx) {
  return ToLower(ctx.request.HeaderOr("x-ms-documentdb-isquery", "")) == "true";
}

// databases.query(...) / containers.query(...): the query engine over the
// live records under `prefix`, one page at a time.
HttpResponse QueryFeed(RequestContext& ctx, const std::string& prefix, const char* array_name,
                       const std::string& rid) {
  query::StoreRowSource source(*ctx.region.store, prefix);
  return QueryFeedPage(ctx, source, prefix, rid, array_name, /*is_query=*/true);
}

HttpResponse QueryDatabases(RequestContext& ctx) {
  return QueryFeed(ctx, keys::DatabasePrefix(), "Databases", "");
}

HttpResponse QueryContainers(RequestContext& ctx, const std::string& db_id) {
  auto db = LiveRecord(*ctx.region.store, keys::Database(db_id));
  if (!db.ok()) return ErrorResponse(db.status());
  if (!db->has_value()) {
    return ErrorResponse(Status::NotFound("Resource Not Found. Database '" + db_id + "' does not exist."));
  }
  return QueryFeed(ctx, keys::ContainerPrefix(db_id), "DocumentCollections", (*db)->rid);
}

}  // namespace

Result<std::shared_ptr<const ContainerInfo>> LoadContainer(RequestContext& ctx, const std::string& db_id,
                                                           const std::string& coll_id) {
  // Parsing the container's JSON on every request was a large share of a
  // point read, and reading its record again a smaller one: the parsed form is
  // reused while no write has touched the store's metadata since it was
  // checked (Store::metadata_epoch), else revalidated by the stored _etag.
  struct Cached {
    uint64_t epoch = 0;  // the store's metadata epoch when last checked
    std::shared_ptr<const ContainerInfo> info;
  };
  thread_local std::unordered_map<std::string, Cached> cache;
  storage::Store& store = *ctx.region.store;
  const uint64_t epoch = store.metadata_epoch();  // before the read: a later write changes it
  std::string key = keys::Container(db_id, coll_id);
  std::string cache_key = std::to_string(reinterpret_cast<uintptr_t>(&store)) + '\0' + key;
  auto it = cache.find(cache_key);
  if (it == cache.end() || it->second.epoch != epoch) {
    auto rec = LiveRecord(store, key);
    if (!rec.ok()) return rec.status();
    if (!rec->has_value()) {
      if (it != cache.end()) cache.erase(it);
      return Status::NotFound("Resource Not Found. Container '" + coll_id + "' in database '" + db_id +
                              "' does not exist.");
    }
    if (it == cache.end() || it->second.info->record.etag != (*rec)->etag ||
        it->second.info->record.rid != (*rec)->rid) {
      auto info = std::make_shared<ContainerInfo>();
      info->record = std::move(**rec);
      info->doc = Json::parse(info->record.body);
      for (const auto& p : info->doc["partitionKey"]["paths"]) info->pk_paths.push_back(p.get<std::string>());
      if (auto ttl = info->doc.find("defaultTtl"); ttl != info->doc.end() && ttl->is_number_integer()) {
        info->default_ttl = ttl->get<int64_t>();
      }
      if (cache.size() > 1024) cache.clear();
      it = cache.insert_or_assign(std::move(cache_key), Cached{}).first;
      it->second.info = std::move(info);
    }
    it->second.epoch = epoch;
  }
  const std::shared_ptr<const ContainerInfo>& info = it->second.info;
  ctx.container_rid = info->record.rid;
  ctx.container_link = "dbs/" + db_id + "/colls/" + coll_id;
  return info;
}

HttpResponse HandleDatabases(RequestContext& ctx) {
  const auto& s = ctx.segments;
  const std::string& m = ctx.request.method;
  if (s.size() == 1) {
    if (m == "POST" && IsQuery(ctx)) return QueryDatabases(ctx);
    if (m == "POST") return CreateDatabase(ctx);
    if (m == "GET") return ListPage(ctx, keys::DatabasePrefix(), "Databases", "");
  } else {
    if (m == "GET") {
      auto rec = LiveRecord(*ctx.region.store, keys::Database(s[1]));
      if (!rec.ok()) return ErrorResponse(rec.status());
      if (!rec->has_value()) {
        return ErrorResponse(Status::NotFound("Resource Not Found. Database '" + s[1] + "' does not exist."));
      }
      const std::string* inm = ctx.request.Header("if-none-match");
      if (inm && *inm == (*rec)->etag) return ErrorResponse(Status::NotModified());
      return RecordResponse(200, **rec);
    }
    if (m == "DELETE") return DeleteDatabase(ctx, s[1]);
  }
  return ErrorResponse(Status::BadRequest("Method " + m + " is not supported on this resource."));
}

HttpResponse HandleContainers(RequestContext& ctx) {
  const auto& s = ctx.segments;
  const std::string& m = ctx.request.method;
  const std::string& db = s[1];
  if (s.size() == 3) {
    if (m == "POST" && IsQuery(ctx)) return QueryContainers(ctx, db);
    if (m == "POST") return CreateContainer(ctx, db);
    if (m == "GET") {
      auto dbrec = LiveRecord(*ctx.region.store, keys::Database(db));
      if (!dbrec.ok()) return ErrorResponse(dbrec.status());
      if (!dbrec->has_value()) {
        return ErrorResponse(Status::NotFound("Resource Not Found. Database '" + db + "' does not exist."));
      }
      return ListPage(ctx, keys::ContainerPrefix(db), "DocumentCollections", (*dbrec)->rid);
    }
  } else if (s.size() == 4) {
    if (m == "GET") {
      auto loaded = LoadContainer(ctx, db, s[3]);
      if (!loaded.ok()) return ErrorResponse(loaded.status());
      const ContainerInfo* info = loaded->get();
      const std::string* inm = ctx.request.Header("if-none-match");
      if (inm && *inm == info->record.etag) return ErrorResponse(Status::NotModified());
      return RecordResponse(200, info->record);
    }
    if (m == "PUT") return ReplaceContainer(ctx, db, s[3]);
    if (m == "DELETE") return DeleteContainer(ctx, db, s[3]);
  } else if (s.size() == 5 && m == "GET") {
    auto loaded = LoadContainer(ctx, db, s[3]);
    if (!loaded.ok()) return ErrorResponse(loaded.status());
    return PartitionKeyRanges(ctx, **loaded);
  }
  return ErrorResponse(Status::BadRequest("Method " + m + " is not supported on this resource."));
}

}  // namespace regionlab::server
