// Plain value types of the storage module, free of RocksDB and Protobuf.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace regionlab::storage {

// What a Record describes. Persisted as a number: values are never reused.
enum class RecordKind : uint32_t {
  kDatabase = 1,
  kContainer = 2,
  kDocument = 3,
  kStoredProcedure = 4,
  kConflict = 5,
  kLease = 6,
  kOffer = 7,
  kUdf = 8,
  kTrigger = 9,
  kUser = 10,
  kPermission = 11,
};

// The system properties of a rendered document (Cosmos's names), which the
// store sets and a client's body never overrides.
inline constexpr const char* kDocumentSystemProperties[] = {"_rid", "_self", "_etag", "_attachments", "_ts"};

// What a write did to a resource. Persisted as a number.
enum class Operation : uint32_t {
  kUnknown = 0,
  kCreate = 1,
  kReplace = 2,
  kDelete = 3,
};

// region id -> that region's counter. Absent entries are 0.
using VersionVector = std::map<uint32_t, uint64_t>;

struct Record {
  RecordKind kind = RecordKind::kDocument;
  std::string id;
  std::string partition_key;  // canonical JSON array; documents only
  std::string rid;
  std::string etag;
  int64_t ts = 0;
  bool tombstone = false;
  VersionVector version;
  uint32_t origin_region = 0;
  uint64_t origin_lsn = 0;
  int64_t write_micros = 0;
  std::string body;    // rendered JSON including system properties
  std::string parent;  // see record.proto
  std::vector<Record> siblings;  // see record.proto; empty unless a conflict is open
  Operation operation = Operation::kUnknown;  // see record.proto
  bool merged = false;                        // see record.proto
  uint64_t local_lsn = 0;                     // see record.proto; set by Store::Write
  int64_t ttl = 0;                            // see record.proto; documents only
  bool ttl_expired = false;                   // see record.proto
  // Not stored: a hint from the writer to Store::Write, which keeps the
  // change-feed index. The local_lsn of the live record this put replaces at
  // its key, 0 if the key held nothing or a tombstone (ReplacedLsn below).
  // Unset: the store reads the key to find out.
  std::optional<uint64_t> replaces_local_lsn;
};

// The origin region of the log entries that record time-to-live purges. Such
// entries are this region's alone: replication never ships them (every region
// purges on its own clock), and they are not writes of any region.
inline constexpr uint32_t kExpiryOrigin = 0xffffffffu;

// Time to live (Cosmos semantics). `default_ttl` is the container's
// defaultTtl: nullopt when absent or null (TTL off: nothing expires, item ttl
// ignored), -1 (on, no default), or n > 0 seconds. A document expires at
// _ts + its own ttl if it has one, else + the default; -1 never.
inline std::optional<int64_t> ExpiresAtSeconds(const Record& r, std::optional<int64_t> default_ttl) {
  if (!default_ttl || r.tombstone || r.kind != RecordKind::kDocument) return std::nullopt;
  const int64_t ttl = r.ttl != 0 ? r.ttl : *default_ttl;
  if (ttl <= 0) return std::nullopt;
  return r.ts + ttl;
}
inline bool IsExpired(const Record& r, std::optional<int64_t> default_ttl, int64_t now_micros) {
  auto at = ExpiresAtSeconds(r, default_ttl);
  return at && now_micros >= *at * 1000000;
}

// The hint Record::replaces_local_lsn for a put over `previous` (as stored).
inline uint64_t ReplacedLsn(const Record& previous) { return previous.tombstone ? 0 : previous.local_lsn; }
inline uint64_t ReplacedLsn(const std::optional<Record>& previous) { return previous ? ReplacedLsn(*previous) : 0; }

// Handed to a write under the store's write lock.
struct WriteContext {
  uint64_t lsn = 0;          // the sequence number this write will get
  uint32_t region_id = 0;    // this store's region
  int64_t now_micros = 0;    // this region's clock
  // The lsn that WriteSet::local_puts will get: `lsn` when the set has no
  // other logged change (`main_logged` false), `lsn + 1` otherwise.
  uint64_t local_lsn(bool main_logged) const { return main_logged ? lsn + 1 : lsn; }
};

// A batch of changes that commit atomically, with one log entry.
struct WriteSet {
  // key -> new record. The record is written to the resource family and
  // appended to the log entry.
  std::vector<std::pair<std::string, Record>> puts;
  // [begin, end) ranges of resource keys removed (e.g. the documents of a
  // dropped container). Applied before the puts; recorded in the log entry.
  std::vector<std::pair<std::string, std::string>> erase_ranges;
  // Metadata written in the same batch (e.g. a replication cursor). A write
  // with only metadata consumes no lsn and appends no log entry.
  std::vector<std::pair<std::string, std::string>> meta_puts;
  // Who the log entry is attributed to. Unset: this region, at the new lsn
  // (a local write). Set: a write replicated from `origin_region`, whose own
  // log sequence number was `origin_lsn`.
  std::optional<uint32_t> origin_region;
  uint64_t origin_lsn = 0;
  // Local writes made in the same atomic batch as a replicated write (e.g.
  // conflict records created while applying a peer's entries): a second log
  // entry attributed to this region, at WriteContext::local_lsn(), so that
  // they replicate like any local write.
  std::vector<std::pair<std::string, Record>> local_puts;
  bool main_logged() const { return !puts.empty() || !erase_ranges.empty(); }
  bool empty() const {
    return puts.empty() && erase_ranges.empty() && meta_puts.empty() && local_puts.empty();
  }
};

struct CommitInfo {
  uint64_t lsn = 0;
  int64_t write_micros = 0;
};

// The routing fields of a log entry (Store::ReadLogRaw).
struct LogEntryHeader {
  uint64_t lsn = 0;
  int64_t write_micros = 0;
  uint32_t origin_region = 0;
  uint64_t origin_lsn = 0;
};

struct LogEntry {
  uint64_t lsn = 0;
  int64_t write_micros = 0;
  uint32_t origin_region = 0;  // region whose write this is
  uint64_t origin_lsn = 0;     // its lsn there (== lsn for local writes)
  std::vector<std::pair<std::string, Record>> records;
  std::vector<std::pair<std::string, std::string>> erase_ranges;
};

}  // namespace regionlab::storage
