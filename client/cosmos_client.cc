#include "client/cosmos_client.h"

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "base/encoding.h"

namespace regionlab::client {

namespace {

using json = nlohmann::json;

constexpr std::string_view kPartitionKeyHeader = "x-ms-documentdb-partitionkey";

// Serializes without throwing on invalid UTF-8 (replaced by U+FFFD).
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string DbPath(std::string_view db) { return "/dbs/" + std::string(db); }
std::string CollPath(std::string_view db, std::string_view coll) {
  return DbPath(db) + "/colls/" + std::string(coll);
}
std::string DocsPath(std::string_view db, std::string_view coll) {
  return CollPath(db, coll) + "/docs";
}
std::string DocPath(std::string_view db, std::string_view coll, std::string_view id) {
  return DocsPath(db, coll) + "/" + std::string(id);
}

void AddRequestOptions(const RequestOptions& opts, HttpHeaders* h) {
  if (!opts.if_match.empty()) h->emplace_back("If-Match", opts.if_match);
  if (!opts.if_none_match.empty()) h->emplace_back("If-None-Match", opts.if_none_match);
  if (!opts.session_token.empty()) h->emplace_back("x-ms-session-token", opts.session_token);
  if (!opts.fence.empty()) h->emplace_back("x-regionlab-fence", opts.fence);
  h->insert(h->end(), opts.extra_headers.begin(), opts.extra_headers.end());
}

std::string LeasePath(std::string_view name, std::string_view op) {
  std::string p = "/_regionlab/leases/" + std::string(name);
  if (!op.empty()) p += "/" + std::string(op);
  return p;
}
ResourceAddress LeaseAddress(std::string_view name) { return {"leases", "leases/" + std::string(name)}; }

void AddPartitionKey(std::string_view pk, HttpHeaders* h) {
  if (!pk.empty()) h->emplace_back(std::string(kPartitionKeyHeader), std::string(pk));
}

void AddFeedOptions(const FeedOptions& opts, HttpHeaders* h) {
  if (opts.max_item_count > 0) {
    h->emplace_back("x-ms-max-item-count", std::to_string(opts.max_item_count));
  }
  if (!opts.continuation.empty()) h->emplace_back("x-ms-continuation", opts.continuation);
  if (opts.partition_key) AddPartitionKey(*opts.partition_key, h);
  if (!opts.session_token.empty()) h->emplace_back("x-ms-session-token", opts.session_token);
  h->insert(h->end(), opts.extra_headers.begin(), opts.extra_headers.end());
}

CosmosResponse ToCosmosResponse(HttpClientResponse http) {
  CosmosResponse out;
  out.status = http.status;
  out.body = std::move(http.body);
  out.headers = std::move(http.headers);
  if (const auto* v = out.Header("etag")) out.etag = *v;
  if (const auto* v = out.Header("x-ms-continuation")) out.continuation = *v;
  if (const auto* v = out.Header("x-ms-session-token")) out.session_token = *v;
  if (const auto* v = out.Header("x-ms-request-charge")) {
    out.request_charge = std::strtod(v->c_str(), nullptr);
  }
  if (const auto* v = out.Header("x-ms-substatus")) {
    out.substatus = static_cast<int>(std::strtol(v->c_str(), nullptr, 10));
  }
  return out;
}

}  // namespace

CosmosClient::CosmosClient(CosmosClientOptions options) : options_(std::move(options)) {
  auto endpoint = ParseHttpEndpoint(options_.endpoint);
  if (!endpoint.ok()) {
    init_status_ = endpoint.status();
    return;
  }
  auto key = Base64Decode(options_.key);
  if (!key || key->empty()) {
    init_status_ = Status::BadRequest("the account key is not base64");
    return;
  }
  HttpClientOptions http_options;
  http_options.request_timeout = options_.timeout;
  http_options.ca_file = options_.ca_file;
  http_options.connect_timeout = std::min(options_.timeout, std::chrono::milliseconds(5000));
  http_ = std::make_unique<HttpClient>(std::move(endpoint).value(), http_options);
}

CosmosClient::~CosmosClient() = default;

void CosmosClient::CloseConnection() {
  if (http_) http_->Close();
}

int CosmosClient::connections_opened() const { return http_ ? http_->connections_opened() : 0; }

Result<CosmosResponse> CosmosClient::Send(std::string_view method, std::string_view path,
                                          std::string_view query, std::string_view body,
                                          HttpHeaders headers,
                                          const std::optional<ResourceAddress>& sign_as,
                                          bool json_body) {
  if (!init_status_.ok()) return init_status_;
  std::string full_path(path);
  if (full_path.empty() || full_path.front() != '/') full_path.insert(0, 1, '/');

  // Caller-supplied headers win over the defaults below; a caller-supplied
  // x-ms-date is also the one signed.
  HttpHeaders all;
  auto add_default = [&](std::string name, std::string value) {
    if (!FindHeader(headers, name)) all.emplace_back(std::move(name), std::move(value));
  };
  std::string date;
  if (const auto* d = FindHeader(headers, "x-ms-date")) {
    date = *d;
  } else {
    const Clock& clock = options_.clock ? *options_.clock : SystemClock::Instance();
    date = FormatHttpDate(clock.NowSeconds());
    all.emplace_back("x-ms-date", date);
  }
  if (!FindHeader(headers, "authorization")) {
    ResourceAddress addr = sign_as ? *sign_as : ResourceAddressFromPath(full_path);
    auto auth = BuildAuthorizationHeader(options_.key, method, addr.type, addr.link, date);
    if (!auth) return Status::BadRequest("the account key is not base64");
    all.emplace_back("authorization", std::move(*auth));
  }
  add_default("x-ms-version", std::string(kApiVersion));
  add_default("Accept", "application/json");
  add_default("User-Agent", options_.user_agent);
  if (!options_.consistency_level.empty()) {
    add_default("x-ms-consistency-level", options_.consistency_level);
  }
  if (json_body && !body.empty()) add_default("Content-Type", "application/json");
  for (auto& h : headers) all.push_back(std::move(h));

  std::string target = PercentEncodePath(full_path);
  if (!query.empty()) {
    target += '?';
    target += query;
  }
  auto http = http_->Send(method, target, all, body);
  if (!http.ok()) return http.status();
  return ToCosmosResponse(std::move(http).value());
}

Result<CosmosResponse> CosmosClient::Request(std::string_view method, std::string_view path,
                                             std::string_view body, const HttpHeaders& headers,
                                             std::optional<ResourceAddress> sign_as) {
  std::string_view query;
  size_t q = path.find('?');
  if (q != std::string_view::npos) {
    query = path.substr(q + 1);
    path = path.substr(0, q);
  }
  return Send(method, path, query, body, headers, sign_as, /*json_body=*/true);
}

// --- The operations, as a table ------------------------------------------------
//
// Every resource call is a row: method, path shape, and what the request
// carries besides the common headers of Send. Call builds it.

namespace {

enum class PathShape { kRoot, kDbs, kDb, kColls, kColl, kPkRanges, kDocs, kDoc };

struct OpSpec {
  const char* method;
  PathShape path;
  bool partition_key;      // sends x-ms-documentdb-partitionkey (when given)
  const char* flag;        // a header set to "true" (upsert), or null
  bool json_content_type;  // Content-Type: application/json when there is a body (not PATCH, like the JS SDK)
};

enum Op {
  kGetAccount, kCreateDatabase, kReadDatabase, kListDatabases, kDeleteDatabase,
  kCreateContainer, kReadContainer, kListContainers, kReplaceContainer, kDeleteContainer, kReadPkRanges,
  kCreateDocument, kUpsertDocument, kReadDocument, kReplaceDocument, kDeleteDocument, kPatchDocument,
};

constexpr OpSpec kOps[] = {
    /* kGetAccount */ {"GET", PathShape::kRoot, false, nullptr, true},
    /* kCreateDatabase */ {"POST", PathShape::kDbs, false, nullptr, true},
    /* kReadDatabase */ {"GET", PathShape::kDb, false, nullptr, true},
    /* kListDatabases */ {"GET", PathShape::kDbs, false, nullptr, true},
    /* kDeleteDatabase */ {"DELETE", PathShape::kDb, false, nullptr, true},
    /* kCreateContainer */ {"POST", PathShape::kColls, false, nullptr, true},
    /* kReadContainer */ {"GET", PathShape::kColl, false, nullptr, true},
    /* kListContainers */ {"GET", PathShape::kColls, false, nullptr, true},
    /* kReplaceContainer */ {"PUT", PathShape::kColl, false, nullptr, true},
    /* kDeleteContainer */ {"DELETE", PathShape::kColl, false, nullptr, true},
    /* kReadPkRanges */ {"GET", PathShape::kPkRanges, false, nullptr, true},
    /* kCreateDocument */ {"POST", PathShape::kDocs, true, nullptr, true},
    /* kUpsertDocument */ {"POST", PathShape::kDocs, true, "x-ms-documentdb-is-upsert", true},
    /* kReadDocument */ {"GET", PathShape::kDoc, true, nullptr, true},
    /* kReplaceDocument */ {"PUT", PathShape::kDoc, true, nullptr, true},
    /* kDeleteDocument */ {"DELETE", PathShape::kDoc, true, nullptr, true},
    /* kPatchDocument */ {"PATCH", PathShape::kDoc, true, nullptr, false},
};

// The names a path is built from; unused ones stay empty.
struct Target {
  std::string_view db, coll, id;
};

std::string PathOf(PathShape shape, const Target& t) {
  switch (shape) {
    case PathShape::kRoot: return "/";
    case PathShape::kDbs: return "/dbs";
    case PathShape::kDb: return DbPath(t.db);
    case PathShape::kColls: return DbPath(t.db) + "/colls";
    case PathShape::kColl: return CollPath(t.db, t.coll);
    case PathShape::kPkRanges: return CollPath(t.db, t.coll) + "/pkranges";
    case PathShape::kDocs: return DocsPath(t.db, t.coll);
    case PathShape::kDoc: return DocPath(t.db, t.coll, t.id);
  }
  return "/";
}

}  // namespace

Result<CosmosResponse> CosmosClient::Call(int op, std::string_view db, std::string_view coll, std::string_view id,
                                          std::string_view body, std::string_view partition_key_json,
                                          const RequestOptions* opts) {
  const OpSpec& spec = kOps[op];
  HttpHeaders h;
  if (spec.partition_key) AddPartitionKey(partition_key_json, &h);
  if (spec.flag) h.emplace_back(spec.flag, "true");
  if (opts) AddRequestOptions(*opts, &h);
  return Send(spec.method, PathOf(spec.path, Target{db, coll, id}), {}, body, std::move(h), std::nullopt,
              spec.json_content_type);
}

Result<CosmosResponse> CosmosClient::GetAccount() { return Call(kGetAccount); }
Result<CosmosResponse> CosmosClient::CreateDatabase(std::string_view id) {
  return Call(kCreateDatabase, {}, {}, {}, Dump({{"id", std::string(id)}}));
}
Result<CosmosResponse> CosmosClient::ReadDatabase(std::string_view id) { return Call(kReadDatabase, id); }
Result<CosmosResponse> CosmosClient::ListDatabases() { return Call(kListDatabases); }
Result<CosmosResponse> CosmosClient::DeleteDatabase(std::string_view id) { return Call(kDeleteDatabase, id); }

Result<CosmosResponse> CosmosClient::CreateContainer(std::string_view db, std::string_view body_json) {
  return Call(kCreateContainer, db, {}, {}, body_json);
}
Result<CosmosResponse> CosmosClient::ReadContainer(std::string_view db, std::string_view id) {
  return Call(kReadContainer, db, id);
}
Result<CosmosResponse> CosmosClient::ListContainers(std::string_view db) { return Call(kListContainers, db); }
Result<CosmosResponse> CosmosClient::ReplaceContainer(std::string_view db, std::string_view id,
                                                      std::string_view body_json) {
  return Call(kReplaceContainer, db, id, {}, body_json);
}
Result<CosmosResponse> CosmosClient::DeleteContainer(std::string_view db, std::string_view id) {
  return Call(kDeleteContainer, db, id);
}
Result<CosmosResponse> CosmosClient::ReadPartitionKeyRanges(std::string_view db, std::string_view coll) {
  return Call(kReadPkRanges, db, coll);
}

Result<CosmosResponse> CosmosClient::CreateDocument(std::string_view db, std::string_view coll,
                                                    std::string_view partition_key_json,
                                                    std::string_view body_json, const RequestOptions& opts) {
  return Call(kCreateDocument, db, coll, {}, body_json, partition_key_json, &opts);
}
Result<CosmosResponse> CosmosClient::UpsertDocument(std::string_view db, std::string_view coll,
                                                    std::string_view partition_key_json,
                                                    std::string_view body_json, const RequestOptions& opts) {
  return Call(kUpsertDocument, db, coll, {}, body_json, partition_key_json, &opts);
}
Result<CosmosResponse> CosmosClient::ReadDocument(std::string_view db, std::string_view coll, std::string_view id,
                                                  std::string_view partition_key_json,
                                                  const RequestOptions& opts) {
  return Call(kReadDocument, db, coll, id, {}, partition_key_json, &opts);
}
Result<CosmosResponse> CosmosClient::ReplaceDocument(std::string_view db, std::string_view coll,
                                                     std::string_view id, std::string_view partition_key_json,
                                                     std::string_view body_json, const RequestOptions& opts) {
  return Call(kReplaceDocument, db, coll, id, body_json, partition_key_json, &opts);
}
Result<CosmosResponse> CosmosClient::DeleteDocument(std::string_view db, std::string_view coll,
                                                    std::string_view id, std::string_view partition_key_json,
                                                    const RequestOptions& opts) {
  return Call(kDeleteDocument, db, coll, id, {}, partition_key_json, &opts);
}
Result<CosmosResponse> CosmosClient::PatchDocument(std::string_view db, std::string_view coll, std::string_view id,
                                                   std::string_view partition_key_json, std::string_view ops_json,
                                                   const RequestOptions& opts) {
  return Call(kPatchDocument, db, coll, id, ops_json, partition_key_json, &opts);
}

Result<CosmosResponse> CosmosClient::ReadFeed(std::string_view db, std::string_view coll,
                                              const FeedOptions& opts) {
  HttpHeaders h;
  AddFeedOptions(opts, &h);
  return Send("GET", DocsPath(db, coll), {}, {}, std::move(h), std::nullopt, true);
}

Result<CosmosResponse> CosmosClient::Query(std::string_view db, std::string_view coll,
                                           std::string_view query_json, const FeedOptions& opts) {
  HttpHeaders h;
  h.emplace_back("x-ms-documentdb-isquery", "true");
  h.emplace_back("Content-Type", "application/query+json");
  h.emplace_back("x-ms-documentdb-query-enablecrosspartition", "true");
  AddFeedOptions(opts, &h);
  return Send("POST", DocsPath(db, coll), {}, query_json, std::move(h), std::nullopt, false);
}

Result<std::string> CosmosClient::ReadAllDocuments(std::string_view db, std::string_view coll,
                                                   std::optional<std::string> partition_key_json) {
  FeedOptions opts;
  opts.partition_key = std::move(partition_key_json);
  return ReadAllPages(DocsPath(db, coll), "Documents", std::move(opts));
}

Result<std::string> CosmosClient::ReadAllPages(std::string_view path, std::string_view array_name,
                                               FeedOptions opts) {
  // Ordered: the items keep their properties in the server's order.
  using ordered_json = nlohmann::ordered_json;
  ordered_json all = ordered_json::array();
  const std::string what = "read feed of " + std::string(path);
  while (true) {
    HttpHeaders h;
    AddFeedOptions(opts, &h);
    auto page = Send("GET", path, {}, {}, std::move(h), std::nullopt, true);
    if (!page.ok()) return page.status();
    if (page->status >= 300) return StatusFromResponse(*page);
    ordered_json body = ordered_json::parse(page->body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || !body.is_object()) {
      return Status::Internal(what + ": the page is not a JSON object");
    }
    auto items = body.find(array_name);
    if (items != body.end()) {
      if (!items->is_array()) {
        return Status::Internal(what + ": " + std::string(array_name) + " is not an array");
      }
      for (auto& item : *items) all.push_back(std::move(item));
    }
    if (page->continuation.empty()) break;
    if (page->continuation == opts.continuation) {
      return Status::Internal(what + ": the continuation did not advance");
    }
    opts.continuation = page->continuation;
  }
  return all.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

// --- Fenced leases ----------------------------------------------------------------

Result<CosmosResponse> CosmosClient::AcquireLease(std::string_view name, std::string_view owner,
                                                  int64_t ttl_ms) {
  return LeaseCall(name, "acquire", Dump({{"owner", std::string(owner)}, {"ttlMs", ttl_ms}}));
}

Result<CosmosResponse> CosmosClient::RenewLease(std::string_view name, std::string_view owner,
                                                uint64_t token, int64_t ttl_ms) {
  json body = {{"owner", std::string(owner)}, {"token", token}};
  if (ttl_ms > 0) body["ttlMs"] = ttl_ms;
  return LeaseCall(name, "renew", Dump(body));
}

Result<CosmosResponse> CosmosClient::ReleaseLease(std::string_view name, std::string_view owner,
                                                  uint64_t token) {
  return LeaseCall(name, "release", Dump({{"owner", std::string(owner)}, {"token", token}}));
}

Result<CosmosResponse> CosmosClient::GetLease(std::string_view name) {
  return LeaseCall(name, "", {});
}

Result<CosmosResponse> CosmosClient::LeaseCall(std::string_view name, std::string_view op, std::string_view body) {
  return Send(op.empty() ? "GET" : "POST", LeasePath(name, op), {}, body, {}, LeaseAddress(name), true);
}

std::string FenceValue(std::string_view lease, uint64_t token) {
  return std::string(lease) + ":" + std::to_string(token);
}

Result<Lease> ParseLease(const CosmosResponse& r) {
  if (r.status != 200) {
    Status s = StatusFromResponse(r);
    return s.ok() ? Status::Internal("lease response has status " + std::to_string(r.status)) : s;
  }
  json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("token") || !j["token"].is_number_unsigned()) {
    return Status::Internal("lease response is not a lease: " + r.body);
  }
  Lease l;
  l.name = j.value("name", std::string());
  if (j.contains("owner") && j["owner"].is_string()) l.owner = j["owner"].get<std::string>();
  l.token = j["token"].get<uint64_t>();
  l.expires_at_ms = j.value("expiresAtMs", int64_t{0});
  l.ttl_ms = j.value("ttlMs", int64_t{0});
  l.held = j.value("held", true);
  return l;
}

// --- Free functions -----------------------------------------------------------------

Status StatusFromResponse(const CosmosResponse& r) {
  if (r.status >= 200 && r.status < 300) return Status::Ok();
  if (r.status == 304) return Status::NotModified();
  std::string message;
  json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object()) {
    auto m = body.find("message");
    if (m != body.end() && m->is_string()) message = m->get<std::string>();
  }
  if (message.empty()) message = r.body.empty() ? "HTTP " + std::to_string(r.status) : r.body;
  StatusCode code;
  switch (r.status) {
    case 400:
      code = StatusCode::kBadRequest;
      break;
    case 401:
      code = StatusCode::kUnauthorized;
      break;
    case 403:
      code = StatusCode::kForbidden;
      break;
    case 404:
      code = StatusCode::kNotFound;
      break;
    case 409:
      code = StatusCode::kConflict;
      break;
    case 412:
      code = StatusCode::kPreconditionFailed;
      break;
    case 413:
      code = StatusCode::kTooLarge;
      break;
    case 429:
      code = StatusCode::kTooManyRequests;
      break;
    case 503:
      code = StatusCode::kUnavailable;
      break;
    default:
      code = StatusCode::kInternal;
      message = "HTTP " + std::to_string(r.status) + ": " + message;
  }
  return Status(code, std::move(message), r.substatus);
}

std::string MakeQueryBody(std::string_view sql,
                          const std::vector<std::pair<std::string, std::string>>& parameters_json) {
  json params = json::array();
  for (const auto& [name, value] : parameters_json) {
    json v = json::parse(value, nullptr, /*allow_exceptions=*/false);
    if (v.is_discarded()) v = value;
    params.push_back({{"name", name}, {"value", std::move(v)}});
  }
  return Dump({{"query", std::string(sql)}, {"parameters", std::move(params)}});
}

}  // namespace regionlab::client
