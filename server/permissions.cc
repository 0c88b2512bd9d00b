// Users, permissions and resource tokens.
//
//   POST|GET            dbs/{db}/users                       (POST with x-ms-documentdb-is-upsert: upsert)
//   GET|PUT|DELETE      dbs/{db}/users/{user}
//   POST|GET            dbs/{db}/users/{user}/permissions
//   GET|PUT|DELETE      dbs/{db}/users/{user}/permissions/{permission}
//
// A permission grants `permissionMode` ("Read" or "All", any case) on
// `resource` (a name-based link: a database, a container, or a document),
// optionally only for `resourcePartitionKey`. Every response carrying a
// permission carries a fresh `_token`, valid for an hour or for
// x-ms-documentdb-expiry-seconds (at most 5 h):
//
//   type=resource&ver=1&sig=<base64 HMAC-SHA256 of the payload>;<base64 payload>;
//
// The payload names the database, user and permission and the expiry; the
// signature is made with the account key, so no region needs to have stored
// the token, and the permission is looked up when the token is used (a
// deleted or narrowed permission takes effect at once in that region). Users
// and permissions are replicated records like any other.
#include "server/permissions.h"

#include "base/cosmos_auth.h"
#include "base/encoding.h"
#include "query/store_row_source.h"
#include "server/errors.h"
#include "storage/keys.h"

namespace regionlab::server {
namespace {

namespace keys = storage::keys;
using storage::Record;
using storage::RecordKind;

constexpr int64_t kDefaultExpirySeconds = 3600;
constexpr int64_t kMaxExpirySeconds = 5 * 3600;

std::string ChildRid(std::string_view parent_rid_text, std::string_view salt, std::string_view id) {
  std::string input(salt);
  input.push_back('\0');
  input += id;
  return RidText(RidBytes(parent_rid_text).value_or("") + Sha256(input).substr(0, 4));
}

Result<Record> LiveDatabase(const storage::Store& store, const std::string& db_id) {
  auto db = store.Get(keys::Database(db_id));
  if (!db.ok()) return db.status();
  if (!db->has_value() || (*db)->tombstone) {
    return Status::NotFound("Resource Not Found. Database '" + db_id + "' does not exist.");
  }
  return **db;
}

Result<Record> LiveUser(const storage::Store& store, const std::string& db_id, const std::string& user_id) {
  auto u = store.Get(keys::User(db_id, user_id));
  if (!u.ok()) return u.status();
  if (!u->has_value() || (*u)->tombstone) {
    return Status::NotFound("Resource Not Found. User '" + user_id + "' does not exist.");
  }
  return **u;
}

std::string Token(const std::string& account_key, const std::string& db, const std::string& user,
                  const std::string& perm, int64_t expires) {
  const std::string payload = Json{{"d", db}, {"u", user}, {"p", perm}, {"e", expires}}.dump();
  auto key = Base64Decode(account_key);
  const std::string sig = Base64Encode(HmacSha256(key.value_or(""), payload));
  return "type=resource&ver=1&sig=" + sig + ";" + Base64Encode(payload) + ";";
}

// The permission's response: its record's body plus a fresh _token.
HttpResponse PermissionResponse(RequestContext& ctx, int status, const Record& rec, const std::string& db,
                                const std::string& user) {
  int64_t expiry = kDefaultExpirySeconds;
  if (const std::string* h = ctx.request.Header("x-ms-documentdb-expiry-seconds")) {
    try {
      expiry = std::stoll(*h);
    } catch (...) {
      expiry = -1;
    }
    if (expiry < 10 || expiry > kMaxExpirySeconds) {
      return ErrorResponse(Status::BadRequest("x-ms-documentdb-expiry-seconds must be between 10 and 18000."));
    }
  }
  Json doc = Json::parse(rec.body);
  doc["_token"] = Token(ctx.region.account_key, db, user, rec.id, ctx.region.clock->NowSeconds() + expiry);
  HttpResponse resp = RecordResponse(status, rec);
  resp.body = doc.dump();
  return resp;
}

Status ValidatePermission(const Json& p) {
  if (!p.contains("permissionMode") || !p["permissionMode"].is_string()) {
    return Status::BadRequest("A permission needs 'permissionMode': \"Read\" or \"All\".");
  }
  const std::string mode = ToLower(p["permissionMode"].get<std::string>());
  if (mode != "read" && mode != "all") {
    return Status::BadRequest("'permissionMode' must be \"Read\" or \"All\", not '" + p["permissionMode"].get<std::string>() + "'.");
  }
  if (!p.contains("resource") || !p["resource"].is_string() || p["resource"].get<std::string>().empty()) {
    return Status::BadRequest("A permission needs 'resource': the link it grants, e.g. \"dbs/db/colls/c\".");
  }
  if (p.contains("resourcePartitionKey") && !p["resourcePartitionKey"].is_null() && !p["resourcePartitionKey"].is_array()) {
    return Status::BadRequest("'resourcePartitionKey' must be an array, e.g. [\"tenant-1\"].");
  }
  return Status::Ok();
}

// POST (create or upsert) and PUT (replace) of a user or a permission.
HttpResponse Put(RequestContext& ctx, bool is_user, const std::string& db_id, const std::string& user_id,
                 const std::string* url_id) {
  auto body = ParseJsonBody(ctx.request.body);
  if (!body.ok()) return ErrorResponse(body.status());
  const char* label = is_user ? "User" : "Permission";
  if (!body->is_object() || !body->contains("id") || !(*body)["id"].is_string()) {
    return ErrorResponse(Status::BadRequest(std::string("A ") + label + " must be an object with a string 'id'."));
  }
  const std::string id = (*body)["id"].get<std::string>();
  if (Status s = ValidateResourceId(id, label); !s.ok()) return ErrorResponse(s);
  if (url_id && *url_id != id) {
    return ErrorResponse(Status::BadRequest("The id in the body does not match the URL."));
  }
  if (!is_user) {
    if (Status s = ValidatePermission(*body); !s.ok()) return ErrorResponse(s);
  }
  const bool upsert = !url_id && ToLower(ctx.request.HeaderOr("x-ms-documentdb-is-upsert", "")) == "true";
  const std::string* if_match = ctx.request.Header("if-match");
  const std::string key = is_user ? keys::User(db_id, id) : keys::Permission(db_id, user_id, id);
  Record written;
  bool existed = false;
  auto commit = ctx.region.store->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
    auto db = LiveDatabase(*ctx.region.store, db_id);
    if (!db.ok()) return db.status();
    std::string parent_rid = db->rid, parent_self = "dbs/" + db->rid + "/";
    if (!is_user) {
      auto user = LiveUser(*ctx.region.store, db_id, user_id);
      if (!user.ok()) return user.status();
      parent_rid = user->rid;
      parent_self += "users/" + user->rid + "/";
    }
    auto cur = ctx.region.store->Get(key);
    if (!cur.ok()) return cur.status();
    existed = cur->has_value() && !(*cur)->tombstone;
    if (!url_id && existed && !upsert) {
      return Status::Conflict(std::string("Entity with the specified id already exists in the system. ") + label +
                              " '" + id + "'.");
    }
    if (url_id && !existed) return Status::NotFound(std::string("Resource Not Found. ") + label + " '" + id + "' does not exist.");
    if (url_id && !EtagMatches(if_match, **cur)) return PreconditionFailed();
    Record r = NewLocalRecord(is_user ? RecordKind::kUser : RecordKind::kPermission, id,
                              ChildRid(parent_rid, is_user ? "user" : "permission", id), w, *cur);
    r.parent = is_user ? db_id : user_id;
    r.operation = PutOperation(*cur);
    Json doc = {{"id", id}};
    if (!is_user) {
      doc["permissionMode"] = (*body)["permissionMode"];
      doc["resource"] = (*body)["resource"];
      if (body->contains("resourcePartitionKey") && !(*body)["resourcePartitionKey"].is_null()) {
        doc["resourcePartitionKey"] = (*body)["resourcePartitionKey"];
      }
    }
    doc["_rid"] = r.rid;
    doc["_self"] = parent_self + (is_user ? "users/" : "permissions/") + r.rid + "/";
    doc["_etag"] = r.etag;
    doc["_ts"] = r.ts;
    if (is_user) doc["_permissions"] = "permissions/";
    r.body = doc.dump();
    written = r;
    storage::WriteSet set;
    set.puts.emplace_back(key, std::move(r));
    return set;
  });
  if (!commit.ok()) return ErrorResponse(commit.status());
  ctx.session_lsn = commit->lsn;
  const int status = url_id || existed ? 200 : 201;
  if (is_user) return RecordResponse(status, written);
  return PermissionResponse(ctx, status, written, db_id, user_id);
}

HttpResponse Delete(RequestContext& ctx, bool is_user, const std::string& db_id, const std::string& user_id,
                    const std::string& id) {
  const std::string key = is_user ? keys::User(db_id, id) : keys::Permission(db_id, user_id, id);
  auto commit = ctx.region.store->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
    auto cur = ctx.region.store->Get(key);
    if (!cur.ok()) return cur.status();
    if (!cur->has_value() || (*cur)->tombstone) {
      return Status::NotFound(std::string("Resource Not Found. ") + (is_user ? "User" : "Permission") + " '" + id +
                              "' does not exist.");
    }
    if (!EtagMatches(ctx.request.Header("if-match"), **cur)) return PreconditionFailed();
    storage::WriteSet set;
    set.puts.emplace_back(key, MakeTombstone(**cur, w));
    if (is_user) {  // a user's permissions go with it
      const std::string perms = keys::PermissionPrefix(db_id, id);
      set.erase_ranges.emplace_back(perms, keys::PrefixEnd(perms));
    }
    return set;
  });
  if (!commit.ok()) return ErrorResponse(commit.status());
  ctx.session_lsn = commit->lsn;
  return JsonResponse(204, "");
}

// A permission list or query: each with a fresh token.
HttpResponse ListPermissions(RequestContext& ctx, const std::string& db_id, const std::string& user_id, bool is_query) {
  auto user = LiveUser(*ctx.region.store, db_id, user_id);
  if (!user.ok()) return ErrorResponse(user.status());
  const std::string prefix = keys::PermissionPrefix(db_id, user_id);
  query::StoreRowSource source(*ctx.region.store, prefix);
  HttpResponse resp = QueryFeedPage(ctx, source, prefix, user->rid, "Permissions", is_query);
  if (resp.status != 200) return resp;
  Json page = Json::parse(resp.body, nullptr, false);
  if (!page.is_object() || !page.contains("Permissions")) return resp;
  const int64_t expires = ctx.region.clock->NowSeconds() + kDefaultExpirySeconds;
  for (auto& p : page["Permissions"]) {
    if (p.is_object() && p.contains("id")) p["_token"] = Token(ctx.region.account_key, db_id, user_id, p["id"], expires);
  }
  resp.body = page.dump();
  return resp;
}

// The canonical JSON text of a partition key value array.
std::string CanonicalKey(const Json& pk) { return pk.dump(); }

}  // namespace

bool IsResourceToken(std::string_view authorization) {
  // Only the start decides: 39 bytes decode to at least the 13 of
  // "type=resource" (a master key's header is ~100 bytes, decoded again by
  // ParseAuthorizationHeader).
  std::string decoded = PercentDecode(authorization.substr(0, 39));
  return ToLower(decoded).starts_with("type=resource");
}

Status AuthorizeResourceToken(const RegionContext& region, const HttpRequest& req, const ResourceAddress& addr,
                              bool read_only) {
  const std::string decoded = PercentDecode(req.HeaderOr("authorization", ""));
  const size_t sig_at = decoded.find("sig=");
  if (sig_at == std::string::npos) return Status::Unauthorized("The resource token is malformed: no 'sig='.");
  const std::string rest = decoded.substr(sig_at + 4);
  const size_t semi = rest.find(';');
  if (semi == std::string::npos) return Status::Unauthorized("The resource token is malformed.");
  const std::string sig = rest.substr(0, semi);
  std::string payload_b64 = rest.substr(semi + 1);
  if (!payload_b64.empty() && payload_b64.back() == ';') payload_b64.pop_back();
  auto payload = Base64Decode(payload_b64);
  auto key = Base64Decode(region.account_key);
  if (!payload || !key || !SignaturesEqual(Base64Encode(HmacSha256(*key, *payload)), sig)) {
    return Status::Unauthorized("The resource token is not valid for this account (its signature does not match).");
  }
  Json p = Json::parse(*payload, nullptr, /*allow_exceptions=*/false);
  if (!p.is_object() || !p.contains("d") || !p.contains("u") || !p.contains("p") || !p.contains("e")) {
    return Status::Unauthorized("The resource token is malformed.");
  }
  if (p["e"].get<int64_t>() < region.clock->NowSeconds()) {
    return Status::Unauthorized("The resource token has expired; read the permission again for a new one.");
  }
  const std::string db = p["d"], user = p["u"], perm = p["p"];
  auto rec = region.store->Get(keys::Permission(db, user, perm));
  if (!rec.ok()) return rec.status();
  if (!rec->has_value() || (*rec)->tombstone) {
    return Status::Unauthorized("The permission '" + perm + "' this resource token was issued for no longer exists.");
  }
  Json permission = Json::parse((*rec)->body, nullptr, false);
  const std::string granted = permission.value("resource", "");
  const std::string mode = ToLower(permission.value("permissionMode", ""));
  // The account (GET /) is readable with any valid token: the SDKs read it first.
  if (addr.type.empty() || (addr.link.empty() && req.path == "/")) return Status::Ok();
  if (addr.type == "users" || addr.type == "permissions" || addr.type == "offers") {
    return Status::Forbidden("Users, permissions and offers need the account key, not a resource token.");
  }
  auto trim = [](std::string s) {
    while (!s.empty() && s.back() == '/') s.pop_back();
    while (!s.empty() && s.front() == '/') s.erase(s.begin());
    return s;
  };
  const std::string scope = trim(granted);
  const std::string target = trim(addr.link);
  const bool covered = target == scope || target.starts_with(scope + "/");
  if (!covered) {
    return Status::Forbidden("The resource token for permission '" + perm + "' grants access to '" + scope +
                             "', not to '" + target + "'.");
  }
  if (mode != "all" && !read_only) {
    return Status::Forbidden("The resource token for permission '" + perm + "' grants Read only; this request writes.");
  }
  if (permission.contains("resourcePartitionKey")) {
    const std::string want = CanonicalKey(permission["resourcePartitionKey"]);
    const std::string* given = req.Header("x-ms-documentdb-partitionkey");
    const bool document_level = addr.type == "docs" || addr.type == "sprocs" || addr.type == "conflicts";
    if (document_level) {
      Json g = given ? Json::parse(*given, nullptr, false) : Json();
      if (!given || g.is_discarded() || CanonicalKey(g) != want) {
        return Status::Forbidden("The resource token for permission '" + perm + "' is limited to partition key " +
                                 want + (given ? ", not " + *given : "; the request names none") + ".");
      }
    }
  }
  return Status::Ok();
}

HttpResponse HandleUsers(RequestContext& ctx) {
  const auto& s = ctx.segments;  // dbs {db} users [{user} [permissions [{perm}]]]
  const std::string& m = ctx.request.method;
  const std::string& db_id = s[1];
  const bool is_query = m == "POST" && ToLower(ctx.request.HeaderOr("x-ms-documentdb-isquery", "")) == "true";
  if (s.size() == 3) {
    if (m == "GET" || is_query) {
      auto db = LiveDatabase(*ctx.region.store, db_id);
      if (!db.ok()) return ErrorResponse(db.status());
      const std::string prefix = keys::UserPrefix(db_id);
      query::StoreRowSource source(*ctx.region.store, prefix);
      return QueryFeedPage(ctx, source, prefix, db->rid, "Users", is_query);
    }
    if (m == "POST") return Put(ctx, true, db_id, "", nullptr);
  } else if (s.size() == 4) {
    if (m == "GET") {
      auto user = LiveUser(*ctx.region.store, db_id, s[3]);
      if (!user.ok()) return ErrorResponse(user.status());
      return RecordResponse(200, *user);
    }
    if (m == "PUT") return Put(ctx, true, db_id, "", &s[3]);
    if (m == "DELETE") return Delete(ctx, true, db_id, "", s[3]);
  } else if (s.size() == 5 && s[4] == "permissions") {
    if (m == "GET" || is_query) return ListPermissions(ctx, db_id, s[3], is_query);
    if (m == "POST") return Put(ctx, false, db_id, s[3], nullptr);
  } else if (s.size() == 6 && s[4] == "permissions") {
    if (m == "GET") {
      auto rec = ctx.region.store->Get(keys::Permission(db_id, s[3], s[5]));
      if (!rec.ok()) return ErrorResponse(rec.status());
      if (!rec->has_value() || (*rec)->tombstone) {
        return ErrorResponse(Status::NotFound("Resource Not Found. Permission '" + s[5] + "' does not exist."));
      }
      return PermissionResponse(ctx, 200, **rec, db_id, s[3]);
    }
    if (m == "PUT") return Put(ctx, false, db_id, s[3], &s[5]);
    if (m == "DELETE") return Delete(ctx, false, db_id, s[3], s[5]);
  } else {
    return ErrorResponse(Status::NotFound("Resource Not Found."));
  }
  return ErrorResponse(Status::BadRequest("Method " + m + " is not supported on this resource."));
}

}  // namespace regionlab::server
