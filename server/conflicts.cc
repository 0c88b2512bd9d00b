// The conflicts feed of a container: read feed, query, read one, delete.
//
//   GET    dbs/{db}/colls/{c}/conflicts                  container.conflicts.readAll()
//   POST   dbs/{db}/colls/{c}/conflicts  (isquery)       container.conflicts.query(...)
//   GET    dbs/{db}/colls/{c}/conflicts/{id}[/conflicts] conflict.read() (the SDK adds
//                                                        "/conflicts" and signs as "users")
//   DELETE dbs/{db}/colls/{c}/conflicts/{id}             conflict.delete()
//
// Records are created by conflict resolution (conflictfeed/). A delete is a
// local write (a tombstone) that replicates, so deleting a conflict in one
// region deletes it everywhere. Served records name regions by their short
// names (the stored form has region ids).
#include <nlohmann/json.hpp>

#include "base/encoding.h"
#include "server/errors.h"
#include "server/handlers.h"
#include "query/query.h"
#include "storage/keys.h"

namespace regionlab::server {
namespace {

namespace keys = storage::keys;
using storage::Record;


// The stored conflict body with region names added for the reader.
std::string RenderConflict(const RegionContext& region, const std::string& body) {
  Json doc = Json::parse(body, nullptr, false);
  if (!doc.is_object() || !doc.contains("regionlab") || !doc["regionlab"].is_object()) return body;
  Json& ext = doc["regionlab"];
  for (const char* side : {"winner", "loser"}) {
    if (!ext.contains(side) || !ext[side].is_object()) continue;
    Json& s = ext[side];
    if (s.contains("regionId") && s["regionId"].is_number_unsigned()) {
      s["region"] = RegionName(region, s["regionId"].get<uint32_t>());
    }
    if (s.contains("version") && s["version"].is_object()) {
      Json named = Json::object();
      for (auto it = s["version"].begin(); it != s["version"].end(); ++it) {
        uint32_t id = static_cast<uint32_t>(std::strtoul(it.key().c_str(), nullptr, 10));
        named[RegionName(region, id)] = it.value();
      }
      s["version"] = std::move(named);
    }
  }
  return doc.dump();
}

// The live conflict records of one container, rendered, as query rows.
class ConflictRows final : public query::RowSource {
 public:
  ConflictRows(const RegionContext& region, std::string prefix) : region_(region), prefix_(std::move(prefix)) {}
  Status Scan(std::string_view start_after, const RowFn& fn) const override {
    if (!start_after.empty() && start_after.compare(0, prefix_.size(), prefix_) != 0) {
      return Status::BadRequest("The continuation token does not belong to this container.");
    }
    return region_.store->Scan(prefix_, start_after, false, [&](std::string_view key, Record&& r) {
      return fn(key, RenderConflict(region_, r.body));
    });
  }
  Result<std::optional<std::string>> Get(std::string_view position) const override {
    if (position.compare(0, prefix_.size(), prefix_) != 0) return std::optional<std::string>();
    auto rec = region_.store->Get(position);
    if (!rec.ok()) return rec.status();
    if (!rec->has_value() || (*rec)->tombstone) return std::optional<std::string>();
    return std::optional<std::string>(RenderConflict(region_, (*rec)->body));
  }

 private:
  const RegionContext& region_;
  std::string prefix_;
};

Status ConflictNotFound(const std::string& id) {
  return Status::NotFound("Entity with the specified id does not exist in the system. Conflict '" + id + "'.");
}

HttpResponse ListOrQuery(RequestContext& ctx, const ContainerInfo& info, bool is_query) {
  std::string prefix = keys::ConflictPrefix(RidBytes(info.record.rid).value_or(""));
  ConflictRows source(ctx.region, prefix);
  return QueryFeedPage(ctx, source, prefix, info.record.rid, "Conflicts", is_query);
}

HttpResponse ReadConflict(RequestContext& ctx, const ContainerInfo& info, const std::string& id) {
  auto rec = ctx.region.store->Get(keys::Conflict(RidBytes(info.record.rid).value_or(""), id));
  if (!rec.ok()) return ErrorResponse(rec.status());
  if (!rec->has_value() || (*rec)->tombstone) return ErrorResponse(ConflictNotFound(id));
  HttpResponse resp = JsonResponse(200, RenderConflict(ctx.region, (*rec)->body));
  resp.SetHeader("etag", (*rec)->etag);
  return resp;
}

HttpResponse DeleteConflict(RequestContext& ctx, const ContainerInfo& info, const std::string& id) {
  std::string key = keys::Conflict(RidBytes(info.record.rid).value_or(""), id);
  Status s = DeleteRecord(ctx, key, ctx.request.Header("if-match"), ConflictNotFound(id));
  if (!s.ok()) return ErrorResponse(s);
  return JsonResponse(204, "");
}

}  // namespace

HttpResponse HandleConflicts(RequestContext& ctx) {
  const auto& s = ctx.segments;
  const std::string& m = ctx.request.method;
  auto loaded = LoadContainer(ctx, s[1], s[3]);
  if (!loaded.ok()) return ErrorResponse(loaded.status());
  const ContainerInfo& info = **loaded;
  if (s.size() == 5) {
    if (m == "GET") return ListOrQuery(ctx, info, false);
    if (m == "POST" && ToLower(ctx.request.HeaderOr("x-ms-documentdb-isquery", "")) == "true") {
      return ListOrQuery(ctx, info, true);
    }
    return ErrorResponse(Status::BadRequest("Conflicts are created by conflict resolution, not by requests; use GET "
                                            "or a query (POST with x-ms-documentdb-isquery)."));
  }
  const std::string& id = s[5];
  if (m == "GET") return ReadConflict(ctx, info, id);
  if (m == "DELETE" && s.size() == 6) return DeleteConflict(ctx, info, id);
  return ErrorResponse(Status::BadRequest("Method " + m + " is not supported on a conflict."));
}

}  // namespace regionlab::server
