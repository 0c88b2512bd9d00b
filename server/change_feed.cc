// The Cosmos change feed: GET .../docs with an A-IM header.
//
//   A-IM: Incremental Feed   latest version: each changed document once, at
//                            its current version, in the order its current
//                            version was stored in this region (the store's
//                            change-feed index, Store::ScanChanges); deletes
//                            are not shown.
//   A-IM: Full-Fidelity Feed all versions and deletes: every version that
//                            entered this region's state, in log order, read
//                            from the replication log (Store::ReadLog).
//
// Start points: no If-None-Match (beginning), If-None-Match: * (now),
// If-Modified-Since (a time), If-None-Match: <etag of an earlier response>
// (a continuation). Scope: the whole container (range "0", the only one) or one
// partition key. The continuation travels in the etag header; it names the
// region that issued it, a position in that region's log and a version
// vector, so that another region can resume it without missing a change (see
// docs/design.md, "Change feed", for the argument and for when a change is
// delivered twice).
#include <charconv>
#include <set>
#include <tuple>

#include "base/encoding.h"
#include "base/hash.h"
#include "replication/replicator.h"
#include "replication/version_vector.h"
#include "server/errors.h"
#include "server/handlers.h"
#include "query/query.h"
#include "storage/keys.h"

namespace regionlab::server {
namespace {

namespace keys = storage::keys;
using storage::Record;
using storage::VersionVector;

constexpr size_t kMaxPageBytes = 4 * 1024 * 1024;
// Most log entries one all-versions request reads before answering (with
// what it found, possibly nothing, and a continuation after them).
constexpr size_t kMaxLogEntriesPerRequest = 20000;
constexpr size_t kLogReadBatch = 64;

enum class Mode : char { kLatest = 'L', kAllVersions = 'F' };

// ---- Continuation tokens ----
//
// etag = "\"" base64("cf1|<mode>|<scope>|<region>|<lsn>|<key hex>|<offset>|<vector>") "\""
//   mode    L (latest version) or F (all versions and deletes)
//   scope   hex FNV-1a of container rid + partition key (binds the token)
//   region  id of the region that issued it
//   lsn     L: the cursor, a position in that region's log; the next page
//              holds documents whose (local lsn, key) sorts after (lsn, key)
//           F: the next log entry to read
//   key     L: the cursor's document key (empty: before every key)
//   offset  F: items of entry `lsn` already delivered
//   vector  region:counter,... see docs/design.md: L: every version of a
//           document within it is covered by what the reader has seen;
//           F: every version within it has been delivered (or never entered the
//           issuing region's state)
struct Token {
  Mode mode = Mode::kLatest;
  uint64_t scope = 0;
  uint32_t region = 0;
  uint64_t lsn = 0;
  std::string key;
  uint64_t offset = 0;
  VersionVector vector;
};

uint64_t ScopeHash(std::string_view coll_rid, std::string_view pk) {
  return Fnv1a64(pk, Fnv1a64("|", Fnv1a64(coll_rid)));
}

std::optional<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  std::string out;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < hex.size(); i += 2) {
    int a = nibble(hex[i]), b = nibble(hex[i + 1]);
    if (a < 0 || b < 0) return std::nullopt;
    out.push_back(static_cast<char>(a * 16 + b));
  }
  return out;
}

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

std::string EncodeVector(const VersionVector& v) {
  std::string out;
  for (const auto& [region, counter] : v) {
    if (counter == 0) continue;
    if (!out.empty()) out += ',';
    out += std::to_string(region) + ":" + std::to_string(counter);
  }
  return out;
}

std::string EncodeToken(const Token& t) {
  std::string text = "cf1|";
  text += static_cast<char>(t.mode);
  char scope[17];
  snprintf(scope, sizeof scope, "%016llx", static_cast<unsigned long long>(t.scope));
  text += std::string("|") + scope + "|" + std::to_string(t.region) + "|" + std::to_string(t.lsn) + "|" +
          HexEncode(t.key) + "|" + std::to_string(t.offset) + "|" + EncodeVector(t.vector);
  return "\"" + Base64Encode(text) + "\"";
}

std::optional<Token> DecodeToken(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  auto text = Base64Decode(etag);
  if (!text) return std::nullopt;
  std::vector<std::string_view> parts;
  std::string_view rest = *text;
  while (true) {
    size_t bar = rest.find('|');
    parts.push_back(rest.substr(0, bar));
    if (bar == std::string_view::npos) break;
    rest.remove_prefix(bar + 1);
  }
  if (parts.size() != 8 || parts[0] != "cf1" || parts[1].size() != 1) return std::nullopt;
  Token t;
  if (parts[1][0] == 'L') {
    t.mode = Mode::kLatest;
  } else if (parts[1][0] == 'F') {
    t.mode = Mode::kAllVersions;
  } else {
    return std::nullopt;
  }
  auto scope_parse = std::from_chars(parts[2].data(), parts[2].data() + parts[2].size(), t.scope, 16);
  if (scope_parse.ec != std::errc() || scope_parse.ptr != parts[2].data() + parts[2].size()) return std::nullopt;
  if (!ParseNumber(parts[3], &t.region) || !ParseNumber(parts[4], &t.lsn) || !ParseNumber(parts[6], &t.offset)) {
    return std::nullopt;
  }
  auto key = HexDecode(parts[5]);
  if (!key) return std::nullopt;
  t.key = std::move(*key);
  std::string_view vec = parts[7];
  while (!vec.empty()) {
    size_t comma = vec.find(',');
    std::string_view item = vec.substr(0, comma);
    size_t colon = item.find(':');
    uint32_t region = 0;
    uint64_t counter = 0;
    if (colon == std::string_view::npos || !ParseNumber(item.substr(0, colon), &region) ||
        !ParseNumber(item.substr(colon + 1), &counter)) {
      return std::nullopt;
    }
    t.vector[region] = counter;
    if (comma == std::string_view::npos) break;
    vec.remove_prefix(comma + 1);
  }
  return t;
}

// ---- Version vectors over writes ----

uint64_t At(const VersionVector& v, uint32_t region) {
  auto it = v.find(region);
  return it == v.end() ? 0 : it->second;
}

// How far this region has applied every region's writes (its own: its last
// local write). Read before the snapshot a page is served from, it is a lower
// bound of what that snapshot holds: every write (r, n) with n <= v[r] has
// been applied there (replication applies each origin's writes in order).
VersionVector AppliedVector(const RegionContext& region) {
  VersionVector v;
  v[region.self.id] = region.store->own_lsn();
  if (region.replicator) {
    for (uint32_t peer : region.replicator->peers()) v[peer] = region.replicator->Applied(peer);
  }
  return v;
}

// True when the document holds a single version (no open conflict) and it is
// a write within `v`. A document with concurrent versions is never covered:
// which of them wins depends on which ones a region holds, so the reader may
// have been shown another winner (docs/design.md, "Change feed").
bool Covered(const std::vector<std::pair<uint32_t, uint64_t>>& versions, const VersionVector& v) {
  if (versions.size() != 1) return false;
  for (const auto& [region, lsn] : versions) {
    if (lsn > At(v, region)) return false;
  }
  return true;
}

// ---- Start points ----

enum class Start { kBeginning, kNow, kTime, kContinuation };

struct Request {
  Mode mode = Mode::kLatest;
  std::string scope_prefix;  // document keys in scope (container or partition)
  std::string pk;            // canonical partition key, empty for the container
  uint64_t scope = 0;
  int64_t max_items = 100;   // 0: as many as fit in a page
  Start start = Start::kBeginning;
  int64_t start_micros = 0;  // kTime
  Token token;               // kContinuation
};

// The first retained log position whose entry was committed at or after
// `micros` by this region's clock (last_lsn + 1 if none). `*unsure` is set
// when the log was trimmed and its first retained entry is already that late,
// so trimmed entries may have been too.
Result<uint64_t> FirstLsnAtOrAfter(const storage::Store& store, int64_t micros, bool* unsure) {
  auto first = store.FirstRetainedLsn();
  if (!first.ok()) return first.status();
  uint64_t lo = *first, hi = store.last_lsn() + 1;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    std::optional<storage::LogEntryHeader> entry;  // the first at or after mid; only its header is decoded
    RL_RETURN_IF_ERROR(store.ReadLogRaw(mid, 1, [&](const storage::LogEntryHeader& h, std::string_view) {
      entry = h;
      return false;
    }));
    if (!entry) {
      hi = mid;
    } else if (entry->write_micros >= micros) {
      hi = std::min<uint64_t>(mid, entry->lsn);
    } else {
      lo = entry->lsn + 1;
    }
  }
  *unsure = lo == *first && *first > 1;
  return lo;
}

Result<Request> ParseRequest(const RequestContext& ctx, const ContainerInfo& info) {
  Request req;
  std::string aim = ToLower(ctx.request.HeaderOr("a-im", ""));
  if (aim == "incremental feed") {
    req.mode = Mode::kLatest;
  } else if (aim == "full-fidelity feed") {
    req.mode = Mode::kAllVersions;
  } else {
    return Status::BadRequest("Unsupported A-IM '" + ctx.request.HeaderOr("a-im", "") +
                              "': use 'Incremental Feed' or 'Full-Fidelity Feed'.");
  }
  std::string coll_rid = RidBytes(info.record.rid).value_or("");
  req.scope_prefix = keys::DocumentPrefix(coll_rid);
  if (const std::string* h = ctx.request.Header("x-ms-documentdb-partitionkey")) {
    auto pk = CanonicalPartitionKey(*h, info.pk_paths.size());
    if (!pk.ok()) return pk.status();
    req.pk = *pk;
    req.scope_prefix = keys::PartitionPrefix(coll_rid, req.pk);
  }
  if (const std::string* range = ctx.request.Header("x-ms-documentdb-partitionkeyrangeid")) {
    // "0" is the only range (GET .../pkranges); the SDK may send "<coll rid>,0".
    std::string_view id = *range;
    if (size_t comma = id.rfind(','); comma != std::string_view::npos) id = id.substr(comma + 1);
    if (id != "0") {
      return Status::BadRequest("Partition key range '" + *range + "' does not exist: this container has one range, '0'.");
    }
  }
  const std::string* start_epk = ctx.request.Header("x-ms-start-epk");
  const std::string* end_epk = ctx.request.Header("x-ms-end-epk");
  if ((start_epk && !start_epk->empty()) || (end_epk && !end_epk->empty() && *end_epk != "FF")) {
    return Status::BadRequest("Change feed over part of a partition key range (x-ms-start-epk/x-ms-end-epk) is not "
                              "supported; read the whole range '0' or one partition key.");
  }
  req.scope = ScopeHash(coll_rid, req.pk);
  auto limit = query::ParseMaxItemCount(ctx.request.Header("x-ms-max-item-count"));
  if (!limit.ok()) return limit.status();
  req.max_items = *limit;

  const std::string* inm = ctx.request.Header("if-none-match");
  if (inm && !inm->empty() && *inm != "*") {
    auto token = DecodeToken(*inm);
    if (!token) return Status::BadRequest("The change feed continuation '" + *inm + "' is malformed.");
    if (token->mode != req.mode) {
      return Status::BadRequest("The change feed continuation was issued for the other change feed mode.");
    }
    if (token->scope != req.scope) {
      return Status::BadRequest("The change feed continuation belongs to another container or partition key.");
    }
    req.start = Start::kContinuation;
    req.token = std::move(*token);
  } else if (inm && *inm == "*") {
    req.start = Start::kNow;
  } else if (const std::string* since = ctx.request.Header("if-modified-since"); since && !since->empty()) {
    auto seconds = ParseHttpDate(*since);
    if (!seconds) return Status::BadRequest("If-Modified-Since '" + *since + "' is not an HTTP date.");
    req.start = Start::kTime;
    req.start_micros = *seconds * 1'000'000;
  }
  return req;
}

// A page: 200 with `body` (the open "{...,"Documents":[" and `count` items),
// or 304 when there are none and the feed is caught up; the continuation in
// the etag. x-regionlab-changefeed-caught-up says whether this page reached
// everything the region had (a regionlab extension; the SDK ignores it).
HttpResponse FeedResponse(RequestContext& ctx, std::string body, size_t count, const std::string& etag,
                          bool caught_up) {
  HttpResponse resp;
  if (count == 0 && caught_up) {
    resp = ErrorResponse(Status::NotModified());
  } else {
    body += "],\"_count\":" + std::to_string(count) + "}";
    resp = JsonResponse(200, std::move(body));
  }
  resp.SetHeader("etag", etag);
  resp.SetHeader("x-ms-item-count", std::to_string(count));
  resp.SetHeader("x-regionlab-changefeed-caught-up", caught_up ? "true" : "false");
  ctx.request_charge += static_cast<double>(count) * 0.1;
  return resp;
}

// ---- Latest version ----

// A position in a region's change order: documents sort by (local lsn, key);
// "after (lsn, key)", with an empty key before every key.
struct Cursor {
  uint64_t lsn = 0;
  std::string key;
  bool operator<(const Cursor& o) const { return std::tie(lsn, key) < std::tie(o.lsn, o.key); }
};

// Inserts "_lsn": n into a rendered document, as Cosmos change feed documents carry.
void AppendWithLsn(std::string& out, const std::string& body, uint64_t lsn) {
  size_t close = body.rfind('}');
  if (close == std::string::npos) {
    out += body;
    return;
  }
  out.append(body, 0, close);
  bool empty_object = body.find_first_not_of(" \t\r\n", body.find('{') + 1) == close;
  out += empty_object ? "\"_lsn\":" : ",\"_lsn\":";
  out += std::to_string(lsn);
  out.append(body, close, std::string::npos);
}

HttpResponse LatestVersionPage(RequestContext& ctx, const ContainerInfo& info, Request& req) {
  RegionContext& region = ctx.region;
  storage::Store& store = *region.store;
  std::string coll_rid = RidBytes(info.record.rid).value_or("");
  // Read before the snapshot ScanChanges takes: both are lower bounds of it.
  VersionVector applied = AppliedVector(region);
  const uint64_t last_before = store.last_lsn();

  Cursor cursor;
  VersionVector seen;  // versions covered by what the reader has seen
  switch (req.start) {
    case Start::kBeginning:
      break;
    case Start::kNow:
      seen = applied;
      cursor = {last_before + 1, ""};
      break;
    case Start::kTime: {
      bool unsure = false;
      auto lsn = FirstLsnAtOrAfter(store, req.start_micros, &unsure);
      if (!lsn.ok()) return ErrorResponse(lsn.status());
      if (!unsure) cursor = {*lsn, ""};
      break;
    }
    case Start::kContinuation:
      seen = req.token.vector;
      // From this region (and not from a wiped store): resume at its cursor.
      // From another region: its positions mean nothing here; the vector says
      // what the reader has seen, and every document not covered by it is sent.
      if (req.token.region == region.self.id && req.token.lsn <= last_before + 1) {
        cursor = {req.token.lsn, req.token.key};
      } else if (req.token.region == region.self.id) {
        seen.erase(region.self.id);  // our own token, from before this store was wiped
      }
      break;
  }

  const size_t max_items = req.max_items == 0 ? SIZE_MAX : static_cast<size_t>(req.max_items);
  std::string out = "{\"_rid\":\"" + info.record.rid + "\",\"Documents\":[";
  size_t count = 0;
  bool more = false;
  Cursor last = cursor;
  const int64_t now_micros = region.clock->NowMicros();
  Status s = store.ScanChanges(
      coll_rid, cursor.lsn, cursor.key,
      [&](const storage::DocumentChange& c) {
        if (Covered(c.versions, seen)) return storage::ChangeAction::kSkip;
        if (count >= max_items) {
          more = true;
          return storage::ChangeAction::kStop;
        }
        return storage::ChangeAction::kLoad;
      },
      [&](const storage::DocumentChange& c, Record&& rec) {
        if (storage::IsExpired(rec, info.default_ttl, now_micros)) return true;  // gone for readers
        if (count > 0 && out.size() + rec.body.size() > kMaxPageBytes) {
          more = true;
          return false;
        }
        if (count) out += ',';
        AppendWithLsn(out, rec.body, c.local_lsn);
        ++count;
        last = {c.local_lsn, c.key};
        return true;
      },
      req.scope_prefix);
  if (!s.ok()) return ErrorResponse(s);
  ctx.request_charge = 1;

  Token next;
  next.mode = Mode::kLatest;
  next.scope = req.scope;
  next.region = region.self.id;
  next.vector = seen;
  if (more) {
    next.lsn = last.lsn;
    next.key = last.key;
  } else {
    // Drained: the reader has now seen every document of the snapshot, which
    // holds every write within `applied`; and nothing at or before
    // last_before is left to send.
    next.vector = replication::Merge(next.vector, applied);
    Cursor done{last_before + 1, ""};
    Cursor end = last < done ? done : last;
    next.lsn = end.lsn;
    next.key = end.key;
  }
  return FeedResponse(ctx, std::move(out), count, EncodeToken(next), !more);
}

// ---- All versions and deletes ----

const char* OperationName(const Record& v) {
  switch (v.operation) {
    case storage::Operation::kCreate: return "create";
    case storage::Operation::kReplace: return "replace";
    case storage::Operation::kDelete: return "delete";
    case storage::Operation::kUnknown: break;
  }
  return v.tombstone ? "delete" : "replace";
}

// The versions that entered this region's state with log entry `e`: those of
// every document record in scope (the record itself unless it is a merge, and
// its siblings) that are not writes within `before` (what the region had
// applied before `e`, joined with what the reader has seen elsewhere).
std::vector<Json> ItemsOf(const RegionContext& region, const ContainerInfo& info, const storage::LogEntry& e,
                          const VersionVector& before, const std::string& scope_prefix) {
  std::vector<Json> items;
  std::set<std::tuple<std::string, uint32_t, uint64_t>> seen;
  for (const auto& [key, rec] : e.records) {
    if (rec.kind != storage::RecordKind::kDocument) continue;
    if (key.compare(0, scope_prefix.size(), scope_prefix) != 0) continue;
    if (rec.ttl_expired) {
      // A time-to-live purge: the version it ends, shown as a delete.
      if (!seen.emplace(key, storage::kExpiryOrigin, rec.origin_lsn).second) continue;
      Json pk = Json::object();
      Json pk_values = Json::parse(rec.partition_key, nullptr, false);
      for (size_t i = 0; i < info.pk_paths.size(); ++i) {
        if (pk_values.is_array() && i < pk_values.size()) pk[info.pk_paths[i].substr(1)] = pk_values[i];
      }
      Json metadata = {{"operationType", "delete"},
                       {"lsn", e.lsn},
                       {"crts", e.write_micros / 1000000},
                       {"timeToLiveExpired", true},
                       {"id", rec.id},
                       {"partitionKey", pk},
                       {"region", RegionName(region, region.self.id)},
                       {"_etag", rec.etag}};
      items.push_back(Json{{"current", Json::object()}, {"metadata", std::move(metadata)}});
      continue;
    }
    std::vector<const Record*> versions;
    if (!rec.merged) versions.push_back(&rec);
    for (const Record& sib : rec.siblings) versions.push_back(&sib);
    for (const Record* v : versions) {
      if (v->origin_lsn <= At(before, v->origin_region)) continue;
      if (!seen.emplace(key, v->origin_region, v->origin_lsn).second) continue;
      Json current = Json::object();
      if (!v->tombstone) {
        current = Json::parse(v->body, nullptr, /*allow_exceptions=*/false);
        if (current.is_discarded()) current = Json::object();
        current["_lsn"] = e.lsn;
      }
      Json pk = Json::object();
      Json pk_values = Json::parse(v->partition_key, nullptr, false);
      for (size_t i = 0; i < info.pk_paths.size(); ++i) {
        if (pk_values.is_array() && i < pk_values.size()) pk[info.pk_paths[i].substr(1)] = pk_values[i];
      }
      Json vector = Json::object();
      for (const auto& [r, counter] : v->version) vector[RegionName(region, r)] = counter;
      Json metadata = {{"operationType", OperationName(*v)},
                       {"lsn", e.lsn},
                       {"crts", v->ts},
                       {"timeToLiveExpired", false},
                       {"id", v->id},
                       {"partitionKey", pk},
                       {"region", RegionName(region, v->origin_region)},
                       {"originLsn", v->origin_lsn},
                       {"versionVector", vector},
                       {"winner", v == &rec},
                       {"_etag", v->etag}};
      items.push_back(Json{{"current", std::move(current)}, {"metadata", std::move(metadata)}});
    }
  }
  return items;
}

HttpResponse AllVersionsPage(RequestContext& ctx, const ContainerInfo& info, Request& req) {
  RegionContext& region = ctx.region;
  storage::Store& store = *region.store;
  auto first = store.FirstRetainedLsn();
  if (!first.ok()) return ErrorResponse(first.status());

  uint64_t next = *first;  // next log entry to read
  uint64_t offset = 0;     // items of `next` already delivered
  VersionVector before;    // see ItemsOf
  switch (req.start) {
    case Start::kBeginning:
      break;
    case Start::kNow:
      before = AppliedVector(region);
      next = store.last_lsn() + 1;
      break;
    case Start::kTime: {
      bool unsure = false;
      auto lsn = FirstLsnAtOrAfter(store, req.start_micros, &unsure);
      if (!lsn.ok()) return ErrorResponse(lsn.status());
      next = *lsn;
      break;
    }
    case Start::kContinuation:
      before = req.token.vector;
      if (req.token.region == region.self.id && req.token.lsn <= store.last_lsn() + 1) {
        if (req.token.lsn < *first) {
          return ErrorResponse(Status::BadRequest(
              "The change feed continuation points at log entry " + std::to_string(req.token.lsn) +
              ", but this region keeps entries from " + std::to_string(*first) +
              " on (older ones were trimmed): the versions in between cannot be listed. Start again from now."));
        }
        next = req.token.lsn;
        offset = req.token.offset;
      } else if (req.token.region == region.self.id) {
        before.erase(region.self.id);  // our own token, from before this store was wiped
      }
      // From another region: this region's log from its start, skipping the
      // versions within the token's vector.
      break;
  }

  const size_t max_items = req.max_items == 0 ? SIZE_MAX : static_cast<size_t>(req.max_items);
  std::string out = "{\"_rid\":\"" + info.record.rid + "\",\"Documents\":[";
  size_t count = 0;
  bool more = false, drained = false;
  size_t scanned = 0;
  while (!more && !drained && scanned < kMaxLogEntriesPerRequest) {
    auto entries = store.ReadLog(next, kLogReadBatch);
    if (!entries.ok()) return ErrorResponse(entries.status());
    if (entries->empty()) {
      drained = true;
      break;
    }
    for (const storage::LogEntry& e : *entries) {
      if (e.lsn != next) offset = 0;  // (positions are contiguous; defensive)
      std::vector<Json> items = ItemsOf(region, info, e, before, req.scope_prefix);
      for (size_t j = offset; j < items.size(); ++j) {
        std::string item = items[j].dump();
        if (count >= max_items || (count > 0 && out.size() + item.size() > kMaxPageBytes)) {
          more = true;
          next = e.lsn;
          offset = j;
          break;
        }
        if (count) out += ',';
        out += item;
        ++count;
      }
      if (more) break;
      if (e.origin_region != storage::kExpiryOrigin) {
        before[e.origin_region] = std::max(At(before, e.origin_region), e.origin_lsn);
      }
      next = e.lsn + 1;
      offset = 0;
      if (++scanned >= kMaxLogEntriesPerRequest) break;
    }
  }

  Token token;
  token.mode = Mode::kAllVersions;
  token.scope = req.scope;
  token.region = region.self.id;
  token.lsn = next;
  token.offset = offset;
  token.vector = before;
  ctx.request_charge = 1 + static_cast<double>(scanned) * 0.01;
  return FeedResponse(ctx, std::move(out), count, EncodeToken(token), drained);
}

}  // namespace

HttpResponse HandleChangeFeed(RequestContext& ctx, const ContainerInfo& info) {
  auto req = ParseRequest(ctx, info);
  if (!req.ok()) return ErrorResponse(req.status());
  if (req->mode == Mode::kLatest) return LatestVersionPage(ctx, info, *req);
  return AllVersionsPage(ctx, info, *req);
}

}  // namespace regionlab::server
