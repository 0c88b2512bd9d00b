// Store: one region's durable state in RocksDB.
//
// Resources (databases, containers, documents, ...) live in the `resources`
// column family under the keys of storage/keys.h; every logical write also
// appends one entry to the `log` family in the same atomic WriteBatch, so a
// resource and its log entry are never seen apart, even after a crash.
//
// Thread-safety: reads may run concurrently from any thread. Writes are
// serialized by the store (one writer at a time), which is what gives the log
// its order and lets a write read-modify-write without races.
//
// Durability: a write returns after its batch is in RocksDB's WAL file (in
// memory, --ephemeral, there is no WAL: see Open). On disk the WAL carries the
// log entries and metadata only: the resources and the change-feed index,
// which the log entries describe entirely, go to the memtables beside them
// without the WAL, and Open re-applies the entries whose effects a crash lost
// (every family flushes at the same point, so what survives of them is the
// effect of a prefix of the log). With
// `sync` off (the default) the WAL is in the OS page cache, which survives the
// process being killed (kill -9), not the machine losing power. Writes commit
// in groups: each appends to the WAL's buffer under the writer lock, then one
// flush (and fsync, with `sync`) outside it carries every write appended so
// far. A write's lsn is published (last_lsn, ReadLog, the commit listener)
// only once it is in the file; readers of documents may see it a few
// microseconds earlier, between its append and that flush.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "storage/types.h"

namespace regionlab::storage {

// An in-memory file system for stores opened with `in_memory`. A store keeps
// its files there; sharing one MemoryEnv between a store and its reopening
// (StoreOptions::memory_env) lets an ephemeral region be stopped and restarted
// with its data, as a disk store would be.
struct MemoryEnv;
std::shared_ptr<MemoryEnv> NewMemoryEnv();

struct StoreOptions {
  // Directory of the RocksDB database; created if missing. Ignored when
  // `in_memory` is set.
  std::string path;
  // Keep everything in memory (storage/memory_fs.h); nothing survives Close.
  // Default: false.
  bool in_memory = false;
  // With `in_memory`: the file system to use, which outlives the store (for a
  // restart). Null: a private one, dropped on Close.
  std::shared_ptr<MemoryEnv> memory_env;
  // This region's id, recorded at first open. Opening the same directory with
  // another id fails: a directory belongs to one region. Default: 0.
  uint32_t region_id = 0;
  // fsync the WAL on every write. Default: false (see the header comment).
  bool sync = false;
};

// The scheduler slice RocksDB's flush threads ask for (sched_attr's
// sched_runtime, honoured by Linux 6.12 and later; the shortest it takes), so
// that a flush gives its CPU back to a woken io thread or client within 100 us
// rather than after the default 1.4 ms (two CPUs). Store::Open sets it.
inline constexpr uint64_t kFlushSchedulerSliceNanos = 100'000;

// One entry of a container's change-feed index (Store::ScanChanges): a live
// document, where its current version was stored in this region's log, and
// the (origin region, origin lsn) of every version the stored record holds
// (the record itself unless it is a merge, and its open siblings).
struct DocumentChange {
  uint64_t local_lsn = 0;
  std::string key;  // the document's key (keys::Document)
  std::vector<std::pair<uint32_t, uint64_t>> versions;
};
enum class ChangeAction { kSkip, kLoad, kStop };

// Ownership: the region's RegionContext owns its Store (unique_ptr); the
// replicator, the data plane and the admin API borrow it and must not use it
// after the region is killed (RegionContext::store becomes null). Closing
// (destruction) must not race any other call.
class Store {
 public:
  // Opens (creating if needed) the store. `clock` must outlive the store.
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options, const Clock& clock);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  uint32_t region_id() const;

  // The record at `key`, tombstones included; nullopt if there is none.
  Result<std::optional<Record>> Get(std::string_view key) const;
  // Get for many keys at once (one RocksDB MultiGet): result i is keys[i]'s.
  // Cheaper than a Get per key for a batch of lookups.
  Result<std::vector<std::optional<Record>>> MultiGet(const std::vector<std::string>& keys) const;

  // Calls `fn(key, record)` for each record whose key starts with `prefix`,
  // in key order, beginning after `start_after` (empty: from the start).
  // Tombstones are skipped unless `include_tombstones`. `fn` returns false to
  // stop early.
  using ScanFn = std::function<bool(std::string_view key, Record&& record)>;
  Status Scan(std::string_view prefix, std::string_view start_after, bool include_tombstones,
              const ScanFn& fn) const;

  // Runs `build` under the write lock and commits what it returns, plus a log
  // entry holding every put, as one atomic batch. `build` may read through
  // this store (no other write can interleave). A non-OK result from `build`
  // aborts the write and is returned; an empty WriteSet commits nothing and
  // returns lsn 0. On disk (not in memory) the write is durable when this
  // returns, except under a DeferScope (base/deferred_work.h) on the calling
  // thread: then the WAL flush and the commit listener are handed to the
  // scope, whose owner runs them before acknowledging the write.
  using BuildFn = std::function<Result<WriteSet>(const WriteContext& ctx)>;
  Result<CommitInfo> Write(const BuildFn& build);

  // Up to `max` log entries with lsn >= `from_lsn`, in order.
  Result<std::vector<LogEntry>> ReadLog(uint64_t from_lsn, size_t max) const;
  // The same entries as they are stored, undecoded: `fn(header, bytes)` for
  // each (bytes as EncodeLogEntry wrote them, valid during the call), until
  // it returns false. For shipping the log without re-encoding it.
  using RawLogFn = std::function<bool(const LogEntryHeader& header, std::string_view bytes)>;
  Status ReadLogRaw(uint64_t from_lsn, size_t max, const RawLogFn& fn) const;
  // The lsn of the last committed write, local or replicated (0 if none).
  uint64_t last_lsn() const;
  // The lsn of this region's last local write (0 if none).
  uint64_t own_lsn() const;
  // The lowest lsn still in the log (last_lsn()+1 when the log is empty).
  Result<uint64_t> FirstRetainedLsn() const;
  // A number that changes (grows) after every committed write that puts or
  // erases a key outside the documents ('d') and the lease keys: databases,
  // containers, scripts, users... A cache of such a record may be reused
  // without reading it again while the value it was filled under stays the
  // same. Unique across Store instances of the process (a restarted region's
  // new store never repeats an old store's value).
  uint64_t metadata_epoch() const;
  // Removes log entries with lsn < `below`. Resources are untouched.
  Status TrimLog(uint64_t below);

  // ---- Change feed (see keys.h, "Change-feed index") ----
  // Walks the live documents of container `coll_rid` whose keys start with
  // `doc_prefix` (empty: all of the container's; else e.g. one partition's) in
  // (local_lsn, document key) order, from the first one after (after_lsn,
  // after_key) (an empty `after_key` sorts before every key), all read from
  // one consistent snapshot of the store. `filter` sees each entry; kLoad
  // reads the document's record from the same snapshot and hands it to `load`
  // (which returns false to stop), kStop ends the walk.
  // Cost: the container's index entries after the start position; but a walk
  // of one partition from the start reads and sorts that partition instead.
  Status ScanChanges(std::string_view coll_rid, uint64_t after_lsn, std::string_view after_key,
                     const std::function<ChangeAction(const DocumentChange&)>& filter,
                     const std::function<bool(const DocumentChange&, Record&&)>& load,
                     std::string_view doc_prefix = {}) const;

  // A metadata value (default family), nullopt if absent.
  Result<std::optional<std::string>> GetMeta(std::string_view key) const;

  // Called after every commit that appended a log entry, outside the write
  // lock, on the committing thread. Set it once, before writes start.
  using CommitListener = std::function<void(const CommitInfo& info, bool local)>;
  void SetCommitListener(CommitListener listener);

  // Deep health: writes and reads back a probe record.
  Status Probe();

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace regionlab::storage
