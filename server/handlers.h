// Internal to the server module: the pieces of the data plane, shared by its
// .cc files. Includes nlohmann/json; never include it from a public header.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/encoding.h"  // RidText
#include "base/status.h"
#include "server/http_types.h"
#include "server/region_context.h"
#include "storage/types.h"

namespace regionlab::query {
class RowSource;
}

namespace regionlab::server {

// Documents keep their property order, as Cosmos does.
using Json = nlohmann::ordered_json;

// One request on its way through the data plane.
struct RequestContext {
  RegionContext& region;
  HttpRequest& request;
  std::vector<std::string> segments;  // decoded path split on '/', no empties
  // Filled by handlers; the dispatcher adds the common headers.
  std::string container_rid;      // text form, for x-ms-content-path
  std::string container_link;     // "dbs/d/colls/c", for x-ms-alt-content-path
  uint64_t session_lsn = 0;       // lsn to report in the session token
  double request_charge = 1.0;
  // The throughput budget this request was admitted on (ThroughputGovernor);
  // empty: none. The dispatcher charges it when the request is done.
  std::string throughput_bucket = {};
};

// Under --enforce-throughput: admits a request on container `info`'s budget
// (its offer's, or its database's), or answers why not (429/3200 with
// x-ms-retry-after-ms). Sets ctx.throughput_bucket when admitted.
struct ContainerInfo;
std::optional<HttpResponse> AdmitOnThroughput(RequestContext& ctx, const ContainerInfo& info);

// Parses a JSON body; 400 with a clear message when malformed.
Result<Json> ParseJsonBody(std::string_view body);

HttpResponse JsonResponse(int status, std::string body);
// A record's answer: its body, etag and, for documents, x-regionlab-version
// (VersionHeader): the version vector, so that a client recording a history
// can have its session guarantees checked (regionlab check).
HttpResponse RecordResponse(int status, const storage::Record& rec);
// "region:counter,..." of `rec`'s version vector merged with its open
// siblings' (everything the stored state has seen).
std::string VersionHeader(const storage::Record& rec);

// Resource ids: non-empty, at most 255 characters, none of / \ ? #, no
// trailing space.
Status ValidateResourceId(std::string_view id, std::string_view what);

// _rid helpers. Rids are derived from names by hashing, so every region
// computes the same _rid for the same database/container/document.
std::string DatabaseRid(std::string_view db_id);                          // 4 bytes
std::string ContainerRid(std::string_view db_rid, std::string_view coll_id);  // 8 bytes
std::string DocumentRid(std::string_view coll_rid, std::string_view pk, std::string_view id);
std::optional<std::string> RidBytes(std::string_view rid_text);
std::string MakeEtag(uint32_t region_id, uint64_t lsn);

// A new version written by this region at `w` over `previous`: kind, id and
// rid as given; etag, _ts, version vector, origin and write time stamped
// from `w`. The caller fills in the rest (body, parent, operation, ...).
storage::Record NewLocalRecord(storage::RecordKind kind, const std::string& id, const std::string& rid,
                               const storage::WriteContext& w, const storage::Record* previous);
inline storage::Record NewLocalRecord(storage::RecordKind kind, const std::string& id, const std::string& rid,
                                      const storage::WriteContext& w,
                                      const std::optional<storage::Record>& previous) {
  return NewLocalRecord(kind, id, rid, w, previous ? &*previous : nullptr);
}

// An If-Match `condition` (null: none) against `current`: absent, "*" or
// equal to its etag.
bool EtagMatches(const std::string* condition, const storage::Record& current);
// The 412 a failed If-Match gives.
Status PreconditionFailed();

// Deletes the live record at `key` in one store write (its tombstone,
// MakeTombstone): `not_found` if the key holds none, 412 if `if_match` (null:
// no condition) does not match it. Sets ctx.session_lsn.
Status DeleteRecord(RequestContext& ctx, const std::string& key, const std::string* if_match,
                    const Status& not_found);

// What a put over `previous` is: a replace of a live record, else a create.
storage::Operation PutOperation(const std::optional<storage::Record>& previous);

// The tombstone a local delete of `current` (a live record, as stored) writes:
// same kind, id, partition key, rid and parent; a new etag, _ts and version;
// the change-feed hint (Record::replaces_local_lsn) of a put over `current`.
storage::Record MakeTombstone(const storage::Record& current, const storage::WriteContext& w);

// Version vector of a new local write that replaces `previous`.
storage::VersionVector NextVersion(const storage::Record* previous, const storage::WriteContext& ctx);

// 404 sub-status 1002 when the token names writes this region has not
// applied yet (the SDK then retries elsewhere or later).
Status CheckSessionToken(const RegionContext& region, std::string_view header);

// Session token for responses: "0:1#<lsn>#<region>=<lsn>..." (vector form).
// `own_write_lsn`: the lsn of this region's own write that the answer
// acknowledges (0: none). It counts even before the store publishes it: the
// answer of a write whose WAL flush is deferred (base/deferred_work.h) goes
// out only after that flush.
std::string SessionToken(const RegionContext& region, uint64_t own_write_lsn);

// Handlers. Each returns a complete response (errors included).
HttpResponse HandleAccount(RequestContext& ctx);
HttpResponse HandleDatabases(RequestContext& ctx);   // dbs, dbs/{id}
HttpResponse HandleContainers(RequestContext& ctx);  // dbs/{db}/colls[/{id}[/pkranges]]
HttpResponse HandleDocuments(RequestContext& ctx);   // dbs/{db}/colls/{c}/docs[/{id}]
HttpResponse HandleStoredProcedures(RequestContext& ctx);  // dbs/{db}/colls/{c}/sprocs[/{id}]
HttpResponse HandleConflicts(RequestContext& ctx);
HttpResponse HandleUdfs(RequestContext& ctx);      // dbs/{db}/colls/{c}/udfs[/{id}]; server/scripts.cc
HttpResponse HandleTriggers(RequestContext& ctx);  // dbs/{db}/colls/{c}/triggers[/{id}]
HttpResponse HandlePartitionKeyDelete(RequestContext& ctx);  // dbs/{db}/colls/{c}/operations/partitionkeydelete   // dbs/{db}/colls/{c}/conflicts[/{id}[/conflicts]]

// Transactional batch and bulk (POST .../docs with x-ms-cosmos-is-batch-request);
// server/batch.cc.
struct ContainerInfo;
HttpResponse HandleBatch(RequestContext& ctx, const ContainerInfo& info);

// Looks up a live container; fills ctx.container_rid/link. 404 if absent.
struct ContainerInfo {
  storage::Record record;
  Json doc;                                // the container's JSON
  std::vector<std::string> pk_paths;       // "/pk", "/tenant", ...
  // defaultTtl: nullopt when time to live is off, -1 or n > 0 seconds
  // (storage::ExpiresAtSeconds).
  std::optional<int64_t> default_ttl;
};
// The parsed container is cached per thread; it is reused while the store's
// metadata epoch is unchanged and revalidated by _etag otherwise, so a
// replaced, deleted or replicated container is never served stale.
Result<std::shared_ptr<const ContainerInfo>> LoadContainer(RequestContext& ctx, const std::string& db_id,
                                                           const std::string& coll_id);

// One page of a query over `source` (`SELECT * FROM root` for a plain read
// feed; the request body's query when `is_query`), answered as
// {"_rid": rid, "<array_name>": [...], "_count": n} with x-ms-continuation.
// `scope` names what the source covers (continuations cannot cross scopes).
HttpResponse QueryFeedPage(RequestContext& ctx, const regionlab::query::RowSource& source, const std::string& scope,
                           const std::string& rid, const char* array_name, bool is_query);

// Renders `doc` as the stored version of document `id` (partition key `pk`,
// canonical) written by `w`: system properties replaced by ours, version
// vector following `previous` (the current record at the key, if any).
// The new version of a document written over `previous` (as stored; its
// local lsn becomes the change-feed hint).
storage::Record RenderDocument(Json doc, const ContainerInfo& info, const std::string& pk, const std::string& id,
                               const storage::WriteContext& w, const std::optional<storage::Record>& previous);

// The same in two steps, so that the expensive one runs before the write
// (outside the store's writer lock): PrepareDocument drops the system
// properties and serialises the body once; RenderPrepared appends ours to
// that text. RenderDocument(doc, ...) == RenderPrepared(PrepareDocument(doc), ...),
// byte for byte (system properties go last, as an ordered_json puts them).
struct PreparedDocument {
  std::string text;  // the JSON object without system properties
  int64_t ttl = 0;   // its integer "ttl", if any (0: none)
};
PreparedDocument PrepareDocument(Json doc);
storage::Record RenderPrepared(const PreparedDocument& doc, const ContainerInfo& info, const std::string& pk,
                               const std::string& id, const storage::WriteContext& w,
                               const std::optional<storage::Record>& previous);

// Splits a partition key path "/a/b" into its member names {"a","b"}.
std::vector<std::string> PartitionKeyPathTokens(const std::string& path);
// Extracts the partition key of `doc` for `paths` as a canonical JSON array.
// A missing value is {} ("none"), as the SDK sends it.
std::string ExtractPartitionKey(const Json& doc, const std::vector<std::string>& paths);
// Canonicalises a partition key header value; 400 if not a JSON array.
Result<std::string> CanonicalPartitionKey(std::string_view header, size_t path_count);
// `["text"]` with printable ASCII text and no escapes (what the SDKs send for
// a string key): its own canonical form, recognised without a JSON parse.
bool IsPlainStringKey(std::string_view header);

// Applies Cosmos patch operations to `doc`. Refuses to touch `id`, system
// properties and the partition key paths.
Status ApplyPatch(Json& doc, const Json& operations, const std::vector<std::string>& pk_paths);
// Most operations in one patch.
inline constexpr size_t kMaxPatchOperations = 10;

// The change feed (GET .../docs with an A-IM header): latest-version and
// all-versions-and-deletes modes, continuations valid on every region.
// server/change_feed.cc.
HttpResponse HandleChangeFeed(RequestContext& ctx, const ContainerInfo& info);

}  // namespace regionlab::server
