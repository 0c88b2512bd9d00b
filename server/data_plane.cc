#include "server/data_plane.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <random>

#include "base/cosmos_auth.h"
#include "base/encoding.h"
#include "base/json_depth.h"
#include "replication/replicator.h"
#include "replication/version_vector.h"
#include "server/errors.h"
#include "server/handlers.h"
#include "server/offers.h"
#include "server/permissions.h"
#include "server/throughput.h"
#include "server/leases.h"

namespace regionlab::server {
namespace {

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// Writes the 36 characters of a GUID-shaped text, "%08x-%04x-%04x-%04x-%012x"
// of the five fields (lowercase hex; each field cut to its digits), at `out`.
void PutGuid(char* out, uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto put = [&out](uint64_t v, int digits) {
    for (int i = digits - 1; i >= 0; --i) *out++ = kHex[(v >> (4 * i)) & 0xf];
  };
  put(a, 8);
  *out++ = '-';
  put(b, 4);
  *out++ = '-';
  put(c, 4);
  *out++ = '-';
  put(d, 4);
  *out++ = '-';
  put(e, 12);
}

std::string NewActivityId() {
  // A random (version 4) UUID, formatted by hand: one per response.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t a = rng(), b = rng();
  b = (b & ~(0xc000ULL << 48)) | (0x8000ULL << 48);  // variant 10xx
  a = (a & ~0xf000ULL) | 0x4000ULL;                  // version 4
  std::string out(36, '-');
  PutGuid(out.data(), a >> 32, a >> 16, a, b >> 48, b);
  return out;
}

// Verifies the master-key signature and the date. OK or 401.
bool IsReadOnlyPost(const HttpRequest& req);

Status Authenticate(const RegionContext& region, const HttpRequest& req) {
  const std::string* auth = req.Header("authorization");
  if (!auth || auth->empty()) {
    return Status::Unauthorized("Required Header authorization is missing.");
  }
  // A resource token (users and permissions): no date, its own checks.
  if (IsResourceToken(*auth)) {
    ResourceAddress addr = ResourceAddressFromPath(req.path);
    const bool read_only = req.method == "GET" || req.method == "HEAD" || IsReadOnlyPost(req);
    return AuthorizeResourceToken(region, req, addr, read_only);
  }
  const std::string* date = req.Header("x-ms-date");
  if (!date || date->empty()) date = req.Header("date");
  if (!date || date->empty()) {
    return Status::Unauthorized("Required Header x-ms-date is missing.");
  }
  auto when = ParseHttpDate(*date);
  if (!when) return Status::Unauthorized("The x-ms-date header '" + *date + "' is not a valid date.");
  int64_t now = region.clock->NowSeconds();
  if (*when < now - region.max_clock_drift_seconds || *when > now + region.max_clock_drift_seconds) {
    return Status::Unauthorized("The request time '" + *date +
                                "' is more than 15 minutes away from the server time; check the "
                                "client clock.");
  }
  // Signed exactly like a request verified before (same method, path, date
  // and signature): the HMAC would say yes again.
  const std::string cache_key = SignatureCache::Key(req.method, req.path, *date, *auth);
  if (region.verified_signatures.Contains(cache_key)) return Status::Ok();
  auto parsed = ParseAuthorizationHeader(*auth);
  if (!parsed || ToLower(parsed->type) != "master") {
    return Status::Unauthorized(
        "The authorization header is malformed; expected type=master&ver=1.0&sig=...");
  }
  ResourceAddress addr = ResourceAddressFromPath(req.path);
  // Fenced leases are signed as type "leases", link "leases/{name}" (server/leases.h).
  if (auto lease = LeaseResourceAddress(req.path)) addr = std::move(*lease);
  // The JS SDK reads one conflict as .../conflicts/{id}/conflicts signed as
  // type "users" with the conflict's link (see cosmos-wire-notes.md).
  std::vector<ResourceAddress> candidates = {addr};
  // Delete by partition key (.../colls/{c}/operations/partitionkeydelete) is
  // signed as the container by the JS and .NET SDKs, as "partitionkey" by
  // the Python SDK 4.x.
  if (auto segs = SplitPath(req.path); segs.size() == 6 && segs[4] == "operations") {
    const std::string link = segs[0] + "/" + segs[1] + "/" + segs[2] + "/" + segs[3];
    candidates = {{"colls", link}, {"partitionkey", link}};
  }
  // Offers are signed with the lower-cased offer id as the link (and "" for
  // the feed and queries), not "offers/{id}".
  if (auto segs = SplitPath(req.path); !segs.empty() && segs[0] == "offers") {
    const std::string id = segs.size() > 1 ? segs[1] : "";
    candidates = {{"offers", ToLower(id)}, {"offers", id}, {"offers", segs.size() > 1 ? "offers/" + id : ""}};
  }
  if (addr.type == "conflicts") {
    auto segs = SplitPath(req.path);
    if (segs.size() == 7 && segs[4] == "conflicts") {
      std::string link;
      for (size_t i = 0; i < 6; ++i) link += (i ? "/" : "") + segs[i];
      candidates.push_back({"users", link});
    }
  }
  for (const auto& c : candidates) {
    auto expected = ComputeMasterSignature(region.account_key, req.method, c.type, c.link, *date);
    if (expected && SignaturesEqual(*expected, parsed->signature)) {
      region.verified_signatures.Insert(cache_key);
      return Status::Ok();
    }
  }
  return Status::Unauthorized(
      "The input authorization token can't serve the request. The wrong key is being used or "
      "the expected payload is not built as per the protocol. Server used the following "
      "payload to sign: '" +
      ToLower(req.method) + "\\n" + ToLower(addr.type) + "\\n" + addr.link + "\\n" +
      ToLower(*date) + "\\n\\n'");
}

// Queries and query-plan requests are POSTs that only read.
bool IsReadOnlyPost(const HttpRequest& req) {
  return req.method == "POST" &&
         (ToLower(req.HeaderOr("x-ms-documentdb-isquery", "")) == "true" ||
          ToLower(req.HeaderOr("x-ms-cosmos-is-query-plan-request", "")) == "true");
}

bool IsWrite(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

HttpResponse Route(RequestContext& ctx) {
  const auto& s = ctx.segments;
  // Fenced leases (server/leases.h), then the fence check of writes: a write
  // carrying x-regionlab-fence with a stale token is 412; `fence` keeps the
  // home region from granting a newer token until the write is done.
  if (s.size() >= 2 && s[0] == "_regionlab" && s[1] == "leases") {
    return HandleLeaseRequest(ctx.region, ctx.request, s);
  }
  LeaseFence fence = CheckLeaseFence(ctx.region, ctx.request, IsWrite(ctx.request.method) && !IsReadOnlyPost(ctx.request));
  if (!fence.status.ok()) return ErrorResponse(fence.status);
  if (s.empty()) {
    if (ctx.request.method != "GET") return ErrorResponse(Status::BadRequest("Use GET / for the account."));
    return HandleAccount(ctx);
  }
  if (s[0] == "offers") return HandleOffers(ctx);
  if (s[0] == "dbs") {
    if (s.size() <= 2) return HandleDatabases(ctx);
    if (s[2] == "users" && s.size() <= 6) return HandleUsers(ctx);
    if (s[2] == "colls") {
      if (s.size() <= 4 || (s.size() == 5 && s[4] == "pkranges")) return HandleContainers(ctx);
      if (s[4] == "docs" && s.size() <= 6) return HandleDocuments(ctx);
      if (s[4] == "sprocs" && s.size() <= 6) return HandleStoredProcedures(ctx);
      if (s[4] == "udfs" && s.size() <= 6) return HandleUdfs(ctx);
      if (s[4] == "triggers" && s.size() <= 6) return HandleTriggers(ctx);
      if (s[4] == "operations" && s.size() == 6 && s[5] == "partitionkeydelete") return HandlePartitionKeyDelete(ctx);
      // .../conflicts/{id}/conflicts is how the JS SDK reads one conflict.
      if (s[4] == "conflicts" && (s.size() <= 6 || (s.size() == 7 && s[6] == "conflicts"))) {
        return HandleConflicts(ctx);
      }
    }
  }
  return ErrorResponse(Status::NotFound("Resource Not Found: no route for " + ctx.request.method + " /" +
                                        ctx.request.path.substr(ctx.request.path.starts_with("/") ? 1 : 0)));
}

}  // namespace

Result<Json> ParseJsonBody(std::string_view body) {
  if (body.empty()) return Status::BadRequest("The request body is empty; a JSON document was expected.");
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // Re-parse with exceptions to get the position for the message.
    try {
      Json ignored = Json::parse(body);
      (void)ignored;
    } catch (const nlohmann::json::parse_error& e) {
      return Status::BadRequest(std::string("The request body is not valid JSON: ") + e.what());
    }
    return Status::BadRequest("The request body is not valid JSON.");
  }
  return j;
}

HttpResponse JsonResponse(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

std::string VersionHeader(const storage::Record& rec) {
  // What the stored state has seen: the version and its open siblings.
  storage::VersionVector seen = rec.version;
  for (const auto& sib : rec.siblings) seen = replication::Merge(seen, sib.version);
  std::string v;
  for (const auto& [region, counter] : seen) {
    if (!v.empty()) v += ',';
    v += std::to_string(region) + ":" + std::to_string(counter);
  }
  return v;
}

HttpResponse RecordResponse(int status, const storage::Record& rec) {
  HttpResponse r = JsonResponse(status, rec.body);
  r.SetHeader("etag", rec.etag);
  if (rec.kind == storage::RecordKind::kDocument) r.SetHeader("x-regionlab-version", VersionHeader(rec));
  return r;
}

Status ValidateResourceId(std::string_view id, std::string_view what) {
  if (id.empty()) return Status::BadRequest(std::string(what) + " id must not be empty.");
  if (id.size() > 255) {
    return Status::BadRequest(std::string(what) + " id is longer than 255 characters.");
  }
  for (char c : id) {
    if (c == '/' || c == '\\' || c == '?' || c == '#') {
      return Status::BadRequest(std::string(what) + " id '" + std::string(id) +
                                "' contains an invalid character: ids must not contain '/', "
                                "'\\\\', '?' or '#'.");
    }
  }
  if (id.back() == ' ') {
    return Status::BadRequest(std::string(what) + " id must not end with a space.");
  }
  return Status::Ok();
}

std::string DatabaseRid(std::string_view db_id) {
  std::string h = Sha256(std::string("db\0", 3) + std::string(db_id));
  return h.substr(0, 4);
}
std::string ContainerRid(std::string_view db_rid, std::string_view coll_id) {
  std::string h = Sha256(std::string("coll\0", 5) + std::string(db_rid) + std::string(coll_id));
  std::string rid(db_rid);
  rid += h.substr(0, 4);
  rid[4] = static_cast<char>(static_cast<uint8_t>(rid[4]) | 0x80);  // never all-zero
  return rid;
}
std::string DocumentRid(std::string_view coll_rid, std::string_view pk, std::string_view id) {
  std::string input = "doc";
  input.push_back('\0');
  input += pk;
  input.push_back('\0');
  input += id;
  std::string rid(coll_rid);
  rid += Sha256(input).substr(0, 8);
  return rid;
}
std::optional<std::string> RidBytes(std::string_view rid_text) { return Base64Decode(rid_text); }

std::string MakeEtag(uint32_t region_id, uint64_t lsn) {
  // "%08x-0000-0000-%04x-%012llx" in quotes, by hand (snprintf was ~0.5% of a
  // create).
  std::string etag(38, '"');
  PutGuid(etag.data() + 1, region_id, 0, 0, lsn >> 48, lsn);
  return etag;
}

storage::Record NewLocalRecord(storage::RecordKind kind, const std::string& id, const std::string& rid,
                               const storage::WriteContext& w, const storage::Record* previous) {
  storage::Record r;
  r.kind = kind;
  r.id = id;
  r.rid = rid;
  r.etag = MakeEtag(w.region_id, w.lsn);
  r.ts = w.now_micros / 1000000;
  r.version = NextVersion(previous, w);
  r.origin_region = w.region_id;
  r.origin_lsn = w.lsn;
  r.write_micros = w.now_micros;
  return r;
}

bool EtagMatches(const std::string* condition, const storage::Record& current) {
  return condition == nullptr || *condition == "*" || *condition == current.etag;
}

Status PreconditionFailed() {
  return Status::PreconditionFailed(
      "Operation cannot be performed because one of the specified precondition is not met.");
}

Status DeleteRecord(RequestContext& ctx, const std::string& key, const std::string* if_match,
                    const Status& not_found) {
  auto commit = ctx.region.store->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
    auto cur = ctx.region.store->Get(key);
    if (!cur.ok()) return cur.status();
    if (!cur->has_value() || (*cur)->tombstone) return not_found;
    if (!EtagMatches(if_match, **cur)) return PreconditionFailed();
    storage::WriteSet set;
    set.puts.emplace_back(key, MakeTombstone(**cur, w));
    return set;
  });
  if (!commit.ok()) return commit.status();
  ctx.session_lsn = commit->lsn;
  return Status::Ok();
}

storage::Operation PutOperation(const std::optional<storage::Record>& previous) {
  return previous && !previous->tombstone ? storage::Operation::kReplace : storage::Operation::kCreate;
}

storage::Record MakeTombstone(const storage::Record& current, const storage::WriteContext& w) {
  storage::Record tomb = NewLocalRecord(current.kind, current.id, current.rid, w, &current);
  tomb.partition_key = current.partition_key;
  tomb.parent = current.parent;
  tomb.tombstone = true;
  tomb.operation = storage::Operation::kDelete;
  tomb.replaces_local_lsn = storage::ReplacedLsn(current);
  return tomb;
}

storage::VersionVector NextVersion(const storage::Record* previous, const storage::WriteContext& wctx) {
  // The new version has seen the previous one and every open sibling.
  storage::VersionVector v;
  if (previous) {
    v = previous->version;
    for (const auto& sib : previous->siblings) v = replication::Merge(v, sib.version);
  }
  v[wctx.region_id] = wctx.lsn;
  return v;
}

uint64_t AppliedLsn(const RegionContext& region, uint32_t origin) {
  if (region.replicator) return region.replicator->Applied(origin);
  return origin == region.self.id ? region.store->own_lsn() : 0;
}

std::string SessionToken(const RegionContext& region, uint64_t own_write_lsn) {
  // <pkRangeId>:<version>#<globalLsn>#<regionId>=<lsn>#... with every region
  // of the account, so tokens from any region merge in the SDK. Entry r is
  // how far this region has seen region r's own writes (in r's lsn space).
  const uint64_t own = std::max(AppliedLsn(region, region.self.id), own_write_lsn);
  std::string t = "0:1#" + std::to_string(own);
  for (const auto& r : region.account_regions) {
    const uint64_t applied = r.id == region.self.id ? own : AppliedLsn(region, r.id);
    t += "#" + std::to_string(r.id) + "=" + std::to_string(applied);
  }
  return t;
}

Status CheckSessionToken(const RegionContext& region, std::string_view header) {
  // "0:1#12#0=12#1=7" (several ranges separated by ','). Every region entry
  // must be covered by what this region has applied.
  size_t pos = 0;
  while (pos < header.size()) {
    size_t comma = header.find(',', pos);
    std::string_view range = header.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    pos = comma == std::string_view::npos ? header.size() : comma + 1;
    size_t colon = range.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view token = range.substr(colon + 1);
    size_t hash = token.find('#');
    if (hash == std::string_view::npos) continue;           // simple token: nothing to check
    size_t second = token.find('#', hash + 1);
    while (second != std::string_view::npos) {
      size_t next = token.find('#', second + 1);
      std::string_view entry = token.substr(second + 1, next == std::string_view::npos ? std::string_view::npos : next - second - 1);
      size_t eq = entry.find('=');
      if (eq != std::string_view::npos) {
        uint64_t rid = 0, lsn = 0;
        try {
          rid = std::stoull(std::string(entry.substr(0, eq)));
          lsn = std::stoull(std::string(entry.substr(eq + 1)));
        } catch (...) {
          return Status::BadRequest("The session token '" + std::string(header) + "' is malformed.");
        }
        if (rid != region.self.id && AppliedLsn(region, static_cast<uint32_t>(rid)) < lsn) {
          return Status::NotFound("The read session is not available for the input session token: region " +
                                  std::to_string(rid) + " lsn " + std::to_string(lsn) + " has not arrived here yet.",
                                  1002);
        }
      }
      second = next;
    }
  }
  return Status::Ok();
}

namespace {

// What a request is, for data-plane fault rules and the request log.
RequestClass Classify(const HttpRequest& req, const std::vector<std::string>& segs) {
  RequestClass c;
  c.write = IsWrite(req.method) && !IsReadOnlyPost(req);
  if (segs.size() >= 2 && segs[0] == "health" && segs[1] == "deep") {
    c.operation = "write";  // it writes to the store
    c.write = true;
    c.resource_type = "health";
    return c;
  }
  ResourceAddress addr = ResourceAddressFromPath(req.path);
  c.resource_type = addr.type;
  if (segs.size() >= 2 && segs[0] == "dbs") c.database = segs[1];
  if (segs.size() >= 4 && segs[2] == "colls") c.container = segs[3];
  if (const std::string* pk = req.Header("x-ms-documentdb-partitionkey")) {
    // ["acme"] -> "acme" as canonical JSON; anything else as sent.
    if (IsPlainStringKey(*pk)) {
      c.partition_key = pk->substr(1, pk->size() - 2);
    } else {
      auto j = nlohmann::json::parse(*pk, nullptr, false);
      c.partition_key = (j.is_array() && j.size() == 1) ? j[0].dump() : *pk;
    }
  }
  const bool items = c.resource_type == "docs" || c.resource_type == "conflicts";
  if (const std::string* r = req.Header("x-ms-documentdb-partitionkeyrangeid")) {
    c.partition_key_range = *r;
  } else if (items) {
    c.partition_key_range = "0";  // one range per container
  }
  const bool single = segs.size() % 2 == 0 && !segs.empty();  // .../docs/{id}
  if ((segs.size() >= 2 && segs[0] == "_regionlab") || c.resource_type == "operations") {
    c.operation = c.write ? "write" : "read";
  } else if (c.resource_type == "sprocs" && single && req.method == "POST") {
    c.operation = "write";  // execution
  } else if (!items) {
    c.operation = "metadata";
  } else if (IsReadOnlyPost(req)) {
    c.operation = "query";
  } else if (c.write) {
    c.operation = "write";
  } else {
    c.operation = single ? "read" : "feed";
  }
  return c;
}

// The answer of a rule with a status: Cosmos-shaped, with its sub-status and
// retry-after.
HttpResponse InjectedResponse(const RegionContext& region, const DataPlaneDecision& d) {
  nlohmann::json body = {{"code", HttpReasonCode(d.status)},
                         {"message", "Injected fault in region " + region.self.display_name + ": " +
                                         std::to_string(d.status) + "/" + std::to_string(d.sub_status) +
                                         " (data-plane rule " + std::to_string(d.rule) + ")."}};
  HttpResponse r = JsonResponse(d.status, body.dump());
  r.SetHeader("x-ms-substatus", std::to_string(d.sub_status));
  if (d.retry_after_ms >= 0) r.SetHeader("x-ms-retry-after-ms", std::to_string(d.retry_after_ms));
  return r;
}

// The request, authenticated and routed (no injected faults).
HttpResponse Serve(RegionContext& region, HttpRequest& request, std::vector<std::string> segments) {
  HttpResponse resp;
  std::string_view path = request.path;
  if ((request.method == "GET" || request.method == "HEAD") && (path == "/health/deep" || path == "/health/deep/")) {
    RegionState st = region.state.load();
    if (st != RegionState::kOnline) {
      return ErrorResponse(Status::Unavailable("region " + region.self.name + " is offline"));
    }
    int64_t t0 = MonotonicMicros();
    Status s = region.store->Probe();
    int64_t took = MonotonicMicros() - t0;
    if (!s.ok()) return ErrorResponse(Status::Unavailable("store check failed: " + s.message()));
    nlohmann::json j = {{"status", "ok"},
                        {"region", region.self.name},
                        {"storeWriteReadMicros", took},
                        {"lastLsn", region.store->last_lsn()}};
    return JsonResponse(200, j.dump());
  }
  if ((request.method == "GET" || request.method == "HEAD") && path == "/_explorer/emulator.pem") {
    // Unauthenticated, as on the official emulator: it is what a client must
    // trust before it can talk to us at all.
    if (region.ca_pem.empty()) {
      return ErrorResponse(Status::NotFound("no certificate to export: this region serves plain HTTP (start it with --tls)"));
    }
    HttpResponse pem;
    pem.status = 200;
    pem.body = region.ca_pem;
    pem.content_type = "application/x-pem-file";
    return pem;
  }
  if (Status auth = Authenticate(region, request); !auth.ok()) return ErrorResponse(auth);
  if (const std::string* level = request.Header("x-ms-consistency-level"); level && !level->empty()) {
    if (Status s = CheckConsistency(*level, region.default_consistency); !s.ok()) return ErrorResponse(s);
  }
  RegionState st = region.state.load();
  if (st == RegionState::kOffline503) {
    return ErrorResponse(Status::Unavailable("Region " + region.self.display_name + " is offline (fault injected)."));
  }
  if (st == RegionState::kOffline403 && IsWrite(request.method) && !IsReadOnlyPost(request)) {
    return ErrorResponse(Status::Forbidden(
        "Region " + region.self.display_name + " does not accept writes (fault injected).", 3));
  }
  // Before any parser sees it: nlohmann-json recurses, and Azure allows 128
  // levels (documents, patch operations, query parameters, procedure
  // arguments, batches).
  if (!JsonDepthWithin(request.body)) {
    return ErrorResponse(Status::BadRequest("The request body nests objects or arrays more than " +
                                            std::to_string(kMaxJsonDepth) +
                                            " levels deep; Azure Cosmos DB allows at most " +
                                            std::to_string(kMaxJsonDepth) + "."));
  }
  RequestContext ctx{region, request, std::move(segments), {}, {}, 0, 1.0};
  resp = Route(ctx);
  if (!ctx.throughput_bucket.empty() && region.throughput) {
    region.throughput->Charge(ctx.throughput_bucket, ctx.request_charge);
  }
  if (!ctx.container_rid.empty()) {
    resp.SetHeader("x-ms-content-path", ctx.container_rid);
    resp.SetHeader("x-ms-alt-content-path", ctx.container_link);
  }
  if (ctx.session_lsn > 0 || !ctx.container_rid.empty()) {
    resp.SetHeader("x-ms-session-token", SessionToken(region, ctx.session_lsn));
  }
  // As printf's "%.2f" (std::to_chars with a precision is specified so),
  // without its format parsing.
  char charge[32];
  const auto written = std::to_chars(charge, charge + sizeof charge, ctx.request_charge, std::chars_format::fixed, 2);
  resp.SetHeader("x-ms-request-charge", std::string(charge, written.ec == std::errc() ? written.ptr : charge));
  return resp;
}

}  // namespace

bool IsHeavyRequest(const HttpRequest& request) {
  if (IsReadOnlyPost(request)) return true;  // queries and query plans
  if (request.Header("x-ms-cosmos-is-batch-request")) return true;
  const std::vector<std::string> segs = SplitPath(request.path);
  // Fenced lease requests: away from the lease's home region, the handler
  // waits for the home region's answer (LeaseService::Forward), which must not
  // hold up an HTTP thread's other connections.
  if (segs.size() >= 2 && segs[0] == "_regionlab" && segs[1] == "leases") return true;
  const std::string_view last = segs.empty() ? std::string_view() : std::string_view(segs.back());
  if (request.method == "GET" && segs.size() % 2 == 1 && (last == "docs" || last == "conflicts")) return true;
  return request.method == "POST" && segs.size() == 6 && segs[4] == "sprocs";  // execution
}

HttpResponse HandleDataPlane(RegionContext& region, HttpRequest& request) {
  const int64_t started = MonotonicMicros();
  HttpResponse resp;
  RequestClass cls;
  DataPlaneDecision fault;
  try {
    std::vector<std::string> segments = SplitPath(request.path);
    cls = Classify(request, segments);
    if (!region.dataplane.empty()) fault = region.dataplane.Decide(cls);
    if (fault.reset) {
      resp.disposition = HttpResponse::Disposition::kReset;
    } else if (fault.hang) {
      resp.disposition = HttpResponse::Disposition::kHang;
    } else if (fault.status != 0) {
      resp = InjectedResponse(region, fault);
    } else {
      resp = Serve(region, request, std::move(segments));
    }
    resp.delay_ms = fault.delay_ms;
  } catch (const std::exception& e) {
    spdlog::error("{}: {} {} failed: {}", region.self.name, request.method, request.target, e.what());
    resp = ErrorResponse(Status::Internal(std::string("internal error: ") + e.what()));
  }
  resp.SetHeader("x-ms-activity-id", NewActivityId());
  resp.SetHeader("x-ms-gatewayversion", "2.0.0");
  resp.SetHeader("x-ms-serviceversion", "version=2.14.0.0");
  resp.SetHeader("x-ms-regionlab-region", region.self.name);
  const int64_t micros = MonotonicMicros() - started;
  region.metrics.Record(cls.write, resp.status, micros);

  RequestLogEntry e;
  e.time_ms = region.clock->NowMillis();
  e.method = request.method;
  e.path = request.path;
  e.operation = cls.operation;
  e.resource_type = cls.resource_type;
  e.partition_key = cls.partition_key;
  const bool answered = resp.disposition == HttpResponse::Disposition::kAnswer;
  e.status = answered ? resp.status : 0;
  e.outcome = answered ? "answered" : (fault.reset ? "reset" : "hang");
  for (const auto& [k, v] : resp.headers) {
    if (k == "x-ms-substatus") e.sub_status = std::atoi(v.c_str());
  }
  e.rule = fault.rule;
  e.ms = static_cast<double>(micros) / 1000.0 + static_cast<double>(resp.delay_ms);
  e.client_request_id = request.HeaderOr("x-ms-client-request-id", "");
  e.user_agent = request.HeaderOr("user-agent", "");
  region.requests.Add(std::move(e));
  return resp;
}

}  // namespace regionlab::server
