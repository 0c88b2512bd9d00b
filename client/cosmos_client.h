// CosmosClient: a client of the Azure Cosmos DB (NoSQL) gateway REST protocol.
//
// It knows regionlab only from the outside, over HTTP, and works against Azure
// or the emulator as well (over plain http://). Every request is signed with
// the master-key scheme (base/cosmos_auth.h): x-ms-date is an RFC 1123 date,
// x-ms-version is kApiVersion, and the resource type and link are derived from
// the *unencoded* path; the path on the wire is encodeURI-encoded.
//
// Results: every operation returns Result<CosmosResponse>. An HTTP status
// >= 400 is a response, not an error: check `status`. Only transport failures
// (refused, reset, timed out, unparseable response) are error Statuses. Use
// StatusFromResponse() to turn a failed response into a Status.
//
// Bodies go in and out as JSON text; this header does not depend on a JSON
// library. Ids are passed unencoded ("a b" not "a%20b").
//
// Thread-safety: a CosmosClient owns one kept-alive connection and is not
// thread-safe. Use one client per thread, or serialize calls externally.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/cosmos_auth.h"
#include "base/status.h"
#include "client/http_client.h"

namespace regionlab::client {

// The REST API version sent in x-ms-version.
inline constexpr std::string_view kApiVersion = "2020-07-15";

struct CosmosClientOptions {
  // The account endpoint, "http://host:port/" or "https://host:port/".
  std::string endpoint;

  // https: the CA (PEM file) the server's certificate must chain to (e.g.
  // `regionlab up --tls`'s "caCert"). Empty: the system's trust store.
  std::string ca_file;

  // The account's master key, base64. Default: the emulator's well-known key.
  std::string key = std::string(kEmulatorKey);

  // Upper bound on one request: writing it and reading the whole response.
  // Connecting is bounded separately by min(timeout, 5 s). Default: 60 s.
  std::chrono::milliseconds timeout{60000};

  // Where x-ms-date comes from. Not owned; must outlive the client.
  // Default (nullptr): SystemClock::Instance().
  const Clock* clock = nullptr;

  // If not empty, sent as x-ms-consistency-level on every request
  // ("Session", "Eventual", ...). Default: empty (the account's default).
  std::string consistency_level;

  // Sent as User-Agent. Default: "regionlab-client/0.1".
  std::string user_agent = "regionlab-client/0.1";
};

struct CosmosResponse {
  int status = 0;             // HTTP status
  std::string body;           // JSON text, may be empty (204, 304)
  std::string etag;           // "etag" header
  std::string continuation;   // "x-ms-continuation"; empty on the last page
  std::string session_token;  // "x-ms-session-token"
  double request_charge = 0;  // "x-ms-request-charge"
  int substatus = 0;          // "x-ms-substatus"
  // Every response header: names lower-cased, values verbatim, in order.
  std::vector<std::pair<std::string, std::string>> headers;

  bool ok() const { return status >= 200 && status < 300; }
  // First value of the header `name` (case-insensitive), or nullptr.
  const std::string* Header(std::string_view name) const { return FindHeader(headers, name); }
};

// Options for single-document (and other point) operations.
struct RequestOptions {
  std::string if_match;       // If-Match (an etag) when not empty
  std::string if_none_match;  // If-None-Match when not empty
  std::string session_token;  // x-ms-session-token when not empty
  HttpHeaders extra_headers;  // sent as given, after the others
  // x-regionlab-fence when not empty: "{lease}:{token}" (FenceValue()). A
  // regionlab region refuses the write with 412 when it knows a newer token
  // for that lease (docs/leases.md).
  std::string fence;
};

// "{lease}:{token}", the value of x-regionlab-fence.
std::string FenceValue(std::string_view lease, uint64_t token);

// A fenced lease as acquire/renew/get answer it (docs/leases.md).
struct Lease {
  std::string name;
  std::string owner;        // empty when released (GET)
  uint64_t token = 0;
  int64_t expires_at_ms = 0;  // by the home region's clock
  int64_t ttl_ms = 0;
  bool held = true;         // GET only: not released and not expired (by the answering region's clock)
};
// Parses the body of a 200 from AcquireLease/RenewLease/GetLease; any other
// response becomes its StatusFromResponse().
Result<Lease> ParseLease(const CosmosResponse& response);

// Options for one page of a feed (read feed or query).
struct FeedOptions {
  int max_item_count = 0;                    // x-ms-max-item-count when > 0
  std::string continuation;                  // x-ms-continuation when not empty
  std::optional<std::string> partition_key;  // JSON array, e.g. R"(["a"])"
  std::string session_token;                 // x-ms-session-token when not empty
  HttpHeaders extra_headers;                 // sent as given, after the others
};

class CosmosClient {
 public:
  // Never fails: an invalid endpoint or key is reported by every operation.
  explicit CosmosClient(CosmosClientOptions options);
  ~CosmosClient();

  CosmosClient(const CosmosClient&) = delete;
  CosmosClient& operator=(const CosmosClient&) = delete;

  const CosmosClientOptions& options() const { return options_; }

  // --- Account --------------------------------------------------------------
  // GET /: the database account (regions, consistency).
  Result<CosmosResponse> GetAccount();

  // --- Databases ------------------------------------------------------------
  Result<CosmosResponse> CreateDatabase(std::string_view id);  // POST /dbs {"id": id}
  Result<CosmosResponse> ReadDatabase(std::string_view id);
  Result<CosmosResponse> ListDatabases();  // {"Databases": [...]}
  Result<CosmosResponse> DeleteDatabase(std::string_view id);

  // --- Containers -----------------------------------------------------------
  // `body_json`: the container definition, e.g.
  //   {"id":"c","partitionKey":{"paths":["/pk"],"kind":"Hash"}}
  Result<CosmosResponse> CreateContainer(std::string_view db, std::string_view body_json);
  Result<CosmosResponse> ReadContainer(std::string_view db, std::string_view id);
  Result<CosmosResponse> ListContainers(std::string_view db);  // {"DocumentCollections": [...]}
  Result<CosmosResponse> ReplaceContainer(std::string_view db, std::string_view id,
                                          std::string_view body_json);
  Result<CosmosResponse> DeleteContainer(std::string_view db, std::string_view id);
  // GET .../pkranges: {"PartitionKeyRanges": [...]}
  Result<CosmosResponse> ReadPartitionKeyRanges(std::string_view db, std::string_view coll);

  // --- Documents ------------------------------------------------------------
  // `partition_key_json` is the JSON array sent in x-ms-documentdb-partitionkey:
  // R"(["a"])", "[5]", "[null]", "[{}]" (none). Empty: the header is not sent.
  Result<CosmosResponse> CreateDocument(std::string_view db, std::string_view coll,
                                        std::string_view partition_key_json,
                                        std::string_view body_json,
                                        const RequestOptions& opts = {});
  // Create with x-ms-documentdb-is-upsert: true (200 replaced, 201 created).
  Result<CosmosResponse> UpsertDocument(std::string_view db, std::string_view coll,
                                        std::string_view partition_key_json,
                                        std::string_view body_json,
                                        const RequestOptions& opts = {});
  Result<CosmosResponse> ReadDocument(std::string_view db, std::string_view coll,
                                      std::string_view id, std::string_view partition_key_json,
                                      const RequestOptions& opts = {});
  Result<CosmosResponse> ReplaceDocument(std::string_view db, std::string_view coll,
                                         std::string_view id, std::string_view partition_key_json,
                                         std::string_view body_json,
                                         const RequestOptions& opts = {});
  Result<CosmosResponse> DeleteDocument(std::string_view db, std::string_view coll,
                                        std::string_view id, std::string_view partition_key_json,
                                        const RequestOptions& opts = {});
  // PATCH with `ops_json`: a bare array of operations
  // ([{"op":"set","path":"/a","value":1}]) or {"operations":[...],"condition":"..."}.
  Result<CosmosResponse> PatchDocument(std::string_view db, std::string_view coll,
                                       std::string_view id, std::string_view partition_key_json,
                                       std::string_view ops_json, const RequestOptions& opts = {});

  // One page of GET .../docs. Follow `continuation` for the next page.
  Result<CosmosResponse> ReadFeed(std::string_view db, std::string_view coll,
                                  const FeedOptions& opts = {});

  // One page of a query: POST .../docs with `query_json`
  // ({"query": "SELECT ...", "parameters": [{"name": "@x", "value": 1}]}),
  // x-ms-documentdb-isquery: true, Content-Type: application/query+json and
  // x-ms-documentdb-query-enablecrosspartition: true.
  Result<CosmosResponse> Query(std::string_view db, std::string_view coll,
                               std::string_view query_json, const FeedOptions& opts = {});

  // Reads every document of the container (or of one partition key, a JSON
  // array) by following continuations, and returns them as one JSON array.
  // A response with status >= 400 on any page becomes its StatusFromResponse().
  // ReadAllPages(".../docs", "Documents", {partition_key}).
  Result<std::string> ReadAllDocuments(std::string_view db, std::string_view coll,
                                       std::optional<std::string> partition_key_json = {});

  // Reads every page of the feed GET `path` (unencoded, e.g. "/dbs" or
  // "/dbs/d/colls/c/conflicts"), starting at `opts.continuation` and following
  // continuations, and returns the items of every page's `array_name` array
  // ("Databases", "Documents", "Conflicts", ...) as one JSON array, each item
  // with its properties in the order the server sent them. A page without
  // `array_name` adds nothing. Errors: a response with status >= 300 becomes
  // its StatusFromResponse(); a page that is not a JSON object, an
  // `array_name` that is not an array, or a continuation that does not
  // advance is Internal.
  Result<std::string> ReadAllPages(std::string_view path, std::string_view array_name, FeedOptions opts = {});

  // --- Fenced leases (regionlab extension, docs/leases.md) ----------------------
  // Signed as resource type "leases", link "leases/{name}". Acquire: 200
  // with the lease (ParseLease), 409 (held by another owner: body "owner"),
  // 503 (the lease's home region is unreachable: retry), 429 (too many
  // requests waiting for the home region: retry after x-ms-retry-after-ms).
  Result<CosmosResponse> AcquireLease(std::string_view name, std::string_view owner, int64_t ttl_ms);
  // 200 with the extended lease, 409 when `token` is not current or the lease
  // expired. `ttl_ms` 0 keeps the lease's ttl.
  Result<CosmosResponse> RenewLease(std::string_view name, std::string_view owner, uint64_t token,
                                    int64_t ttl_ms = 0);
  // 204, or 409 when `token` is not current.
  Result<CosmosResponse> ReleaseLease(std::string_view name, std::string_view owner, uint64_t token);
  // 200 with the lease as the answering region knows it ("held"), 404 never acquired.
  Result<CosmosResponse> GetLease(std::string_view name);

  // --- Anything else ----------------------------------------------------------
  // Signs and sends any request. `path` is unencoded and may carry a query
  // string after '?' (sent verbatim, not signed). The resource type and link
  // are ResourceAddressFromPath(path without the query) unless `sign_as` is
  // given, e.g. {"leases", "leases/x"} for /_regionlab/leases/x/acquire.
  // A non-empty body is sent with Content-Type: application/json unless
  // `headers` names another Content-Type.
  Result<CosmosResponse> Request(std::string_view method, std::string_view path,
                                 std::string_view body = {}, const HttpHeaders& headers = {},
                                 std::optional<ResourceAddress> sign_as = std::nullopt);

  // Closes the kept-alive connection; the next request reconnects.
  void CloseConnection();

  // TCP connections opened so far (for tests and diagnostics).
  int connections_opened() const;

 private:
  Result<CosmosResponse> Send(std::string_view method, std::string_view path,
                              std::string_view query, std::string_view body, HttpHeaders headers,
                              const std::optional<ResourceAddress>& sign_as, bool json_body);
  // One row of the operation table (cosmos_client.cc): a resource call by
  // its op number, the names of its path, body, partition key and options.
  Result<CosmosResponse> Call(int op, std::string_view db = {}, std::string_view coll = {},
                              std::string_view id = {}, std::string_view body = {},
                              std::string_view partition_key_json = {}, const RequestOptions* opts = nullptr);
  // POST /_regionlab/leases/{name}/{op} (GET when `op` is empty), signed as a lease.
  Result<CosmosResponse> LeaseCall(std::string_view name, std::string_view op, std::string_view body);

  CosmosClientOptions options_;
  Status init_status_;                // an invalid endpoint or key
  std::unique_ptr<HttpClient> http_;  // null if init_status_ is not OK
};

// The Status a response stands for: OK for 2xx, NotModified for 304, 400
// BadRequest, 401 Unauthorized, 403 Forbidden, 404 NotFound, 409 Conflict,
// 412 PreconditionFailed, 413 TooLarge, 429 TooManyRequests, 503 Unavailable,
// anything else Internal. The message is the body's "message" if there
// is one, and the sub-status is kept.
Status StatusFromResponse(const CosmosResponse& response);

// A query body: {"query": sql, "parameters": [{"name": n, "value": v}, ...]}
// where each value is JSON text (R"("x")", "5"). Invalid JSON values are sent
// as strings.
std::string MakeQueryBody(
    std::string_view sql,
    const std::vector<std::pair<std::string, std::string>>& parameters_json = {});

}  // namespace regionlab::client
