#include "storage/store.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "base/deferred_work.h"
#include "base/thread_slice.h"
#include "storage/codec.h"
#include "storage/keys.h"
#include "storage/memory_fs.h"

namespace regionlab::storage {
namespace {

constexpr char kFormatVersion[] = "1";
enum Family { kMeta = 0, kResources = 1, kLog = 2, kChanges = 3, kFamilyCount = 4 };
const char* const kFamilyNames[kFamilyCount] = {"default",
                                                "resources", "log", "changes"};
// Metadata key set once the change-feed index covers every document (stores
// written before the index existed are indexed at open).
constexpr char kChangesIndexedKey[] = "changes-indexed";

// The (origin region, origin lsn) of every version `rec` holds: the record
// itself unless it is a merge, then its open siblings (DocumentChange::versions).
std::vector<std::pair<uint32_t, uint64_t>> ChangeVersions(const Record& rec) {
  std::vector<std::pair<uint32_t, uint64_t>> out;
  out.reserve(rec.siblings.size() + 1);
  if (!rec.merged) out.emplace_back(rec.origin_region, rec.origin_lsn);
  for (const Record& sib : rec.siblings) out.emplace_back(sib.origin_region, sib.origin_lsn);
  return out;
}

// Value of a change-feed index entry: per version, fixed32 region + fixed64 lsn.
std::string EncodeChangeVersions(const Record& rec) {
  std::string out;
  for (const auto& [region, lsn] : ChangeVersions(rec)) {
    for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((region >> (8 * i)) & 0xff));
    out.append(keys::EncodeFixed64(lsn));
  }
  return out;
}

bool DecodeChangeVersions(std::string_view in, std::vector<std::pair<uint32_t, uint64_t>>* out) {
  out->clear();
  if (in.size() % 12 != 0) return false;
  for (size_t i = 0; i < in.size(); i += 12) {
    uint32_t region = 0;
    for (size_t j = 0; j < 4; ++j) region = (region << 8) | static_cast<uint8_t>(in[i + j]);
    out->emplace_back(region, *keys::DecodeFixed64(in.substr(i + 4, 8)));
  }
  return true;
}

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsCorruption()) return Status::Corruption(msg);
  return Status::IOError(msg);
}

// Whether a write set changes anything but documents, leases and conflicts
// (Store::metadata_epoch).
bool TouchesMetadata(const WriteSet& set) {
  if (!set.erase_ranges.empty()) return true;
  for (const auto* puts : {&set.puts, &set.local_puts}) {
    for (const auto& [key, rec] : *puts) {
      if (key.empty() || (key[0] != 'd' && key[0] != 'l' && key[0] != 'x')) return true;
    }
  }
  return false;
}

// Each store's metadata epochs start at their own multiple of 2^40, so that a
// region's new store (after a restart) never repeats its old one's values.
std::atomic<uint64_t> g_next_epoch_base{1};

}  // namespace

// RocksDB's default Env (its background thread pools, clock) over the chunked
// in-memory file system (storage/memory_fs.h), which the Env keeps alive.
struct MemoryEnv {
  std::unique_ptr<rocksdb::Env> env;
};

std::shared_ptr<MemoryEnv> NewMemoryEnv() {
  auto m = std::make_shared<MemoryEnv>();
  m->env = rocksdb::NewCompositeEnv(NewChunkedMemoryFileSystem());
  return m;
}

// The own lsn (the last lsn this region's own writes were given) is not
// written with every write: that was a fifth memtable insert per create, of a
// key whose every version sorts before the last one, so each insert searched
// the whole skip list (~3% of a create; docs/benchmarks.md, session 16).
// Instead, meta "own-lsn" holds a checkpoint, (own lsn, as of log lsn), written
// in the batch of the first write kOwnCheckpointEvery lsns past the previous
// one and in the batch that trims the log; Open takes it and looks for an own
// entry in the log after it, from the end back (at most kOwnCheckpointEvery
// entries). Before session 16 the key held the 8-byte own lsn itself, written
// with every own write: exact, nothing to look for.
constexpr uint64_t kOwnCheckpointEvery = 1024;

std::string EncodeOwnCheckpoint(uint64_t own, uint64_t as_of) {
  return keys::EncodeFixed64(own) + keys::EncodeFixed64(as_of);
}

struct Store::Impl {
  const Clock* clock = nullptr;
  StoreOptions options;
  std::shared_ptr<MemoryEnv> mem_env;  // only for in_memory; outlives db
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::WriteOptions write_options;
  // Disk stores: how the resources and the change-feed index are written (no
  // WAL: the log entries are their record; see Store::Write and ReplayLost).
  rocksdb::WriteOptions derived_write_options;
  std::mutex write_mu;
  // Published: every entry up to last_lsn is in the store and, on disk, in
  // the WAL file (see Flush). Readers of the log and the replicator stop here.
  std::atomic<uint64_t> last_lsn{0};
  std::atomic<uint64_t> own_lsn{0};

  // Group commit (disk stores; see Open). A write appends its batch to the
  // WAL's buffer under write_mu and records what it appended; Flush then
  // writes the buffer to the file outside write_mu, once for every write
  // appended so far, and publishes their lsns. Written under write_mu:
  std::atomic<uint64_t> appended_seq{0};     // writes appended (lsn or not)
  std::atomic<uint64_t> appended_last{0};    // the last lsn given out; last_lsn once flushed
  std::atomic<uint64_t> appended_own{0};     // own_lsn once they are flushed
  // The log position of the last own-lsn checkpoint written (see Write);
  // guarded by write_mu.
  uint64_t own_checkpoint_as_of = 0;
  // Set when a disk store's derived batch failed after its log entry was
  // committed: every later write fails with it (guarded by write_mu).
  Status derived_failure = Status::Ok();
  bool group_commit = false;  // manual_wal_flush: a disk store
  std::mutex flush_mu;        // one WAL flush at a time; guards flushed_seq
  uint64_t flushed_seq = 0;

  // Makes the write that was appended as `seq` durable (as StoreOptions::sync
  // says), with every write appended before it, and publishes their lsns.
  Status Flush(uint64_t seq) {
    std::lock_guard<std::mutex> lock(flush_mu);
    if (flushed_seq >= seq) return Status::Ok();  // a later flush took it along
    // Read before flushing: everything appended up to these is in the buffer.
    const uint64_t upto = appended_seq.load(std::memory_order_acquire);
    const uint64_t last = appended_last.load(std::memory_order_acquire);
    const uint64_t own = appended_own.load(std::memory_order_acquire);
    RL_RETURN_IF_ERROR(FromRocks(db->FlushWAL(options.sync), "writing the WAL"));
    flushed_seq = upto;
    last_lsn.store(last, std::memory_order_release);
    own_lsn.store(own, std::memory_order_release);
    return Status::Ok();
  }

  // Records a write appended under write_mu (lsns 0: none); returns its seq.
  uint64_t Appended(uint64_t last, uint64_t own) {
    if (last != 0) appended_last.store(last, std::memory_order_release);
    if (own != 0) appended_own.store(own, std::memory_order_release);
    const uint64_t seq = appended_seq.load(std::memory_order_relaxed) + 1;
    appended_seq.store(seq, std::memory_order_release);
    return seq;
  }

  // A write outside Store::Write (metadata, trimming): appended and flushed.
  Status WriteNow(std::string_view what, const std::function<rocksdb::Status()>& write) {
    uint64_t seq = 0;
    {
      std::lock_guard<std::mutex> lock(write_mu);
      RL_RETURN_IF_ERROR(FromRocks(write(), what));
      seq = Appended(0, 0);
    }
    return group_commit ? Flush(seq) : Status::Ok();
  }
  std::atomic<uint64_t> first_lsn{1};  // lowest lsn still in the log (last_lsn + 1 if empty)
  std::atomic<uint64_t> metadata_epoch{0};  // see Store::metadata_epoch; set at open
  Store::CommitListener listener;

  rocksdb::ColumnFamilyHandle* cf(Family f) const { return handles[f]; }

  // A disk store's log entries beyond this lsn may still be all that holds
  // their resources (the memtables they went to are not flushed yet): the
  // largest lsn in the log family's table files, whose entries and every
  // earlier write's resources are in the same atomic flush. Recomputed only
  // when a trim wants to go past the last value; guarded by write_mu.
  uint64_t persisted_log_bound = 0;
  uint64_t PersistedLogBound() {
    rocksdb::ColumnFamilyMetaData meta;
    db->GetColumnFamilyMetaData(cf(kLog), &meta);
    uint64_t bound = 0;
    for (const auto& level : meta.levels) {
      for (const auto& file : level.files) {
        if (auto lsn = keys::LogSequence(file.largestkey)) bound = std::max(bound, *lsn);
      }
    }
    return bound;
  }

  // What a write does to the resources and the change-feed index, one range
  // erasure or one put (`encoded`, the encoding of `rec`) at a time: the
  // derived batch of Store::Write, and of ReplayLost rebuilding it.
  Status DeriveErase(rocksdb::WriteBatch& batch, const std::string& begin, const std::string& end) {
    RL_RETURN_IF_ERROR(FromRocks(batch.DeleteRange(cf(kResources), begin, end), "batching range delete"));
    return EraseChanges(batch, begin, end);
  }
  Status DerivePut(rocksdb::WriteBatch& batch, std::unordered_map<std::string, uint64_t>& feed_current,
                   const std::string& key, std::string_view encoded, const Record& rec) {
    RL_RETURN_IF_ERROR(FromRocks(batch.Put(cf(kResources), key, encoded), "batching put"));
    return IndexChange(batch, feed_current, key, rec);
  }

  // Adds to `batch` what log entry `entry` did: its range erasures, then its
  // puts (Store::Write's order).
  Status AddDerived(rocksdb::WriteBatch& batch, const LogEntry& entry) {
    std::unordered_map<std::string, uint64_t> feed_current;
    for (const auto& [begin, end] : entry.erase_ranges) RL_RETURN_IF_ERROR(DeriveErase(batch, begin, end));
    std::string encoded;
    for (const auto& [key, rec] : entry.records) {
      encoded.clear();
      EncodeRecord(rec, &encoded);
      RL_RETURN_IF_ERROR(DerivePut(batch, feed_current, key, encoded, rec));
    }
    return Status::Ok();
  }

  // Disk stores, at open: re-applies the log entries whose resources and
  // change-feed index entries were lost with the memtables of a process that
  // died (Store::Write writes those without the WAL). Every family flushes at
  // the same point (atomic_flush), and a write's log entry precedes its
  // derived batch, so what the table files hold is the log up to some entry
  // plus the effects of every entry before it. An entry's effects are there
  // if one of its records is there at its lsn or later (each record stores
  // the lsn of the entry that wrote it); walking back from the last entry,
  // the first such one ends the search, and every entry after it is applied
  // again, in order. An entry whose records are all gone (erased later) or
  // that has none cannot tell: the walk goes on past it, and re-applying it
  // before the entries after it leaves the same state. After a clean close
  // the last entry shows its records and nothing is replayed.
  Status ReplayLost() {
    rocksdb::ReadOptions ro;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf(kLog)));
    uint64_t from = 0;
    for (it->SeekToLast(); it->Valid(); it->Prev()) {
      auto lsn = keys::LogSequence(std::string_view(it->key().data(), it->key().size()));
      LogEntry entry;
      if (!lsn || !DecodeLogEntry(std::string_view(it->value().data(), it->value().size()), &entry)) {
        return Status::Corruption("undecodable log entry while recovering resources");
      }
      bool applied = false;
      for (const auto& [key, rec] : entry.records) {
        rocksdb::PinnableSlice value;
        rocksdb::Status s = db->Get(ro, cf(kResources), key, &value);
        if (s.IsNotFound()) continue;
        if (!s.ok()) return FromRocks(s, "reading a resource while recovering");
        Record stored;
        if (!DecodeRecord(std::string_view(value.data(), value.size()), &stored)) {
          return Status::Corruption("undecodable record while recovering resources");
        }
        if (stored.local_lsn >= *lsn) {
          applied = true;
          break;
        }
      }
      if (applied) break;
      from = *lsn;
    }
    RL_RETURN_IF_ERROR(FromRocks(it->status(), "scanning the log to recover resources"));
    if (from == 0) return Status::Ok();
    uint64_t replayed = 0, last = 0;
    for (it->Seek(keys::Log(from)); it->Valid(); it->Next()) {
      LogEntry entry;
      if (!DecodeLogEntry(std::string_view(it->value().data(), it->value().size()), &entry)) {
        return Status::Corruption("undecodable log entry while recovering resources");
      }
      rocksdb::WriteBatch batch;
      RL_RETURN_IF_ERROR(AddDerived(batch, entry));
      RL_RETURN_IF_ERROR(FromRocks(db->Write(derived_write_options, &batch), "re-applying a log entry"));
      ++replayed;
      last = entry.lsn;
    }
    RL_RETURN_IF_ERROR(FromRocks(it->status(), "re-applying the log"));
    // What was re-applied is in memtables only, while its log entries may be
    // in table files already (RocksDB flushes what it recovers from the WAL):
    // flushed now, table files again never hold an entry without the effects
    // of the entries before it, which TrimLog relies on.
    RL_RETURN_IF_ERROR(FromRocks(db->Flush(rocksdb::FlushOptions(), handles), "flushing re-applied resources"));
    spdlog::info("storage: re-applied {} log entries ({}..{}) whose resources were not on disk", replayed, from,
                 last);
    return Status::Ok();
  }

  // Change-feed index upkeep, in the batch of the write that stores `rec` at
  // `key` (rec.local_lsn set): the document's previous change entry is
  // removed, and a live version gets a new entry at its lsn. The previous
  // entry's lsn comes from `batch_current` when this batch already moved it,
  // else from the writer's hint (Record::replaces_local_lsn), else from
  // reading the record the put replaces.
  Status IndexChange(rocksdb::WriteBatch& batch, std::unordered_map<std::string, uint64_t>& batch_current,
                     const std::string& key, const Record& rec) {
    if (rec.kind != RecordKind::kDocument) return Status::Ok();
    auto change = keys::ChangeKey(key, rec.local_lsn);
    if (!change) return Status::Ok();
    uint64_t previous = 0;
    if (auto it = batch_current.find(key); it != batch_current.end()) {
      previous = it->second;
    } else if (rec.replaces_local_lsn) {
      previous = *rec.replaces_local_lsn;
    } else {
      rocksdb::PinnableSlice value;
      rocksdb::Status s = db->Get(rocksdb::ReadOptions(), cf(kResources), key, &value);
      if (s.ok()) {
        Record old;
        if (!DecodeRecord(std::string_view(value.data(), value.size()), &old)) {
          return Status::Corruption("undecodable record");
        }
        if (!old.tombstone) previous = old.local_lsn;
      } else if (!s.IsNotFound()) {
        return FromRocks(s, "reading the record a put replaces");
      }
    }
    if (previous != 0) {
      RL_RETURN_IF_ERROR(FromRocks(batch.Delete(cf(kChanges), *keys::ChangeKey(key, previous)), "batching"));
    }
    batch_current[key] = rec.tombstone ? 0 : rec.local_lsn;
    if (rec.tombstone) return Status::Ok();
    return FromRocks(batch.Put(cf(kChanges), *change, EncodeChangeVersions(rec)), "batching");
  }

  // The index entries of documents in the erased resource range [begin, end).
  // Only a whole container's documents are ever erased (a dropped container);
  // a narrower document range leaves its change entries behind, which
  // ScanChanges skips because their documents are gone.
  Status EraseChanges(rocksdb::WriteBatch& batch, const std::string& begin, const std::string& end) {
    if (begin.empty() || begin[0] != 'd') return Status::Ok();
    RL_RETURN_IF_ERROR(FromRocks(
        batch.DeleteRange(cf(kChanges), keys::ChangeCurrentKey(begin), keys::ChangeCurrentKey(end)), "batching"));
    if (begin.size() == 1 + keys::kContainerRidBytes && end == keys::PrefixEnd(begin)) {
      std::string prefix = keys::ChangePrefix(begin.substr(1));
      RL_RETURN_IF_ERROR(FromRocks(batch.DeleteRange(cf(kChanges), prefix, keys::PrefixEnd(prefix)), "batching"));
    }
    return Status::Ok();
  }

  ~Impl() {
    if (db) {
      // A write that failed between append and flush left its bytes in the buffer.
      if (group_commit) db->FlushWAL(options.sync).PermitUncheckedError();
      for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
      db->Close().PermitUncheckedError();
      db.reset();
    }
  }
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

namespace {

// RocksDB's flushes and compactions run on the process's shared background
// pools. At the io threads' priority they took one of a small machine's CPUs
// from the request path in bursts, and that was the create p99 (docs/
// benchmarks.md, session 10): flushes now run at nice 19, so they yield to
// requests but still progress on a busy machine (a memtable that cannot be
// flushed stalls writes at once); compactions at SCHED_IDLE (when they fall
// behind, RocksDB slows the writes down, which leaves them idle CPU).
void LowerBackgroundPriority() {
  static std::once_flag once;
  std::call_once(once, [] {
    rocksdb::Env* env = rocksdb::Env::Default();
    for (auto [pool, priority] : {std::pair{rocksdb::Env::Priority::HIGH, rocksdb::CpuPriority::kLow},
                                  std::pair{rocksdb::Env::Priority::LOW, rocksdb::CpuPriority::kIdle}}) {
      rocksdb::Status s = env->LowerThreadPoolCPUPriority(pool, priority);
      if (!s.ok()) spdlog::warn("storage: background threads keep their priority: {}", s.ToString());
    }
  });
}

// At nice 19 a flush still kept its CPU, once the scheduler had picked it,
// for a whole slice (EEVDF's base slice: 0.7 ms times 1 + log2 of the CPUs,
// 1.4 ms on two): an io thread or a client woken meanwhile waited for it, and
// that wait was part of the durable create p99 (docs/benchmarks.md, session 13).
// Since Linux 6.12 a SCHED_OTHER thread can ask for a shorter slice in
// sched_attr.sched_runtime; the flush threads ask for the shortest, 100 us,
// and keep nice 19. Older kernels ignore the field. Once per process, after
// the first open: RocksDB's pools are the process's (every store shares
// them), and that open starts their threads, named "rocksdb:high" (flushes)
// and "rocksdb:low" (compactions, at SCHED_IDLE, left alone).
void ShortenFlushSlices() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (pid_t tid : ThreadsNamed("rocksdb:high")) {
      if (!SetFairSchedule(tid, FairSchedule{19, kFlushSchedulerSliceNanos})) {
        spdlog::debug("storage: flush thread {} keeps its scheduler slice: {}", tid, std::strerror(errno));
      }
    }
  });
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options, const Clock& clock) {
  auto impl = std::make_unique<Impl>();
  impl->clock = &clock;
  impl->options = options;

  LowerBackgroundPriority();
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 3;
  // The metadata family is tiny and rarely flushed; without a cap it would pin
  // every WAL file (in memory with --ephemeral).
  db_options.max_total_wal_size = 64 << 20;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  std::string path = options.path;
  if (options.in_memory) {
    impl->mem_env = options.memory_env ? options.memory_env : NewMemoryEnv();
    db_options.env = impl->mem_env->env.get();
    path = "/regionlab-mem";
  } else if (path.empty()) {
    return Status::BadRequest("store path is empty");
  } else {
    // Group commit: a write appends to the WAL's buffer under the writer lock
    // and writes (and syncs) it to the file after releasing it, together with
    // the writes appended meanwhile (Impl::Flush). The write(2) left the lock,
    // and concurrent writers share one: docs/benchmarks.md.
    db_options.manual_wal_flush = true;
    // A flush or compaction asks the kernel to start writing its file back
    // every 1 MB (sync_file_range, asynchronous; not a durability point), from
    // its own low-priority thread, rather than leave a 16 MB table's dirty
    // pages to the kernel's writeback threads, which run at normal priority
    // beside the io thread, in one burst. The WAL keeps its plain writes. (Its
    // effect on the durable p99 is smaller than this machine's noise:
    // docs/benchmarks.md, session 12.)
    db_options.bytes_per_sync = 1 << 20;
    // Compactions read their input files in 2 MB reads, not one pread(2)
    // per 4 KB block: 0.7 system calls per durable create, on the thread that
    // shares a CPU with everything else (docs/benchmarks.md, session 17).
    db_options.compaction_readahead_size = 2 << 20;
    // The resources and the change-feed index are written without the WAL
    // (Store::Write): every family's memtables are flushed together, so that
    // the table files hold the same prefix of the writes for all of them
    // (RocksDB's option for families whose writes the WAL does not carry),
    // from which Impl::ReplayLost finds where to re-apply the log.
    db_options.atomic_flush = true;
    impl->group_commit = true;
  }

  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.write_buffer_size = 16 << 20;
  // A full memtable waits for its flush while writes go on into the next. With
  // RocksDB's default of two, the second fill *stopped* every write until the
  // first flush was done, and a flush at nice 19 on a busy machine takes tens
  // of milliseconds: that was the durable p99 of 10-30 ms (LOG: "Stopping writes
  // because we have 2 immutable memtables"; docs/benchmarks.md, session 12).
  // Four give the flush three memtables' time; RocksDB slows writes down
  // (rather than stopping them) when three wait.
  cf_options.max_write_buffer_number = 4;
  rocksdb::BlockBasedTableOptions table;
  // Index and filter blocks live with the table readers, not in the (small,
  // sharded) block cache: evicting a large index made every read re-read and
  // decompress it (see docs/benchmarks.md).
  table.cache_index_and_filter_blocks = false;
  table.block_cache = rocksdb::NewLRUCache(32 << 20);
  // Replication applies look up keys that are usually absent (new documents):
  // without a filter each miss reads every level.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::ColumnFamilyOptions resource_options = cf_options;
  // Replication looks up keys that are usually absent (new documents): a
  // bloom filter over the memtable's keys answers most of those misses
  // without walking the skip list. Sized as a share of the 16 MB memtable and
  // zeroed when each memtable is made: 0.5% (84 KB) is ~55 bits per key for
  // 1 KB documents and ~5 for 100-byte ones; 5% (820 KB, ~550 bits per key)
  // cost every region 0.8 MB of RSS from its first second (docs/benchmarks.md,
  // session 15).
  resource_options.memtable_whole_key_filtering = true;
  resource_options.memtable_prefix_bloom_size_ratio = 0.005;
  rocksdb::ColumnFamilyOptions log_options = cf_options;
  // The log is read back in long runs (shipping): bigger blocks.
  rocksdb::BlockBasedTableOptions log_table = table;
  log_table.block_size = 32 << 10;
  log_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(log_table));

  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {kFamilyNames[kMeta], cf_options},
      {kFamilyNames[kResources], resource_options},
      {kFamilyNames[kLog], log_options},
      {kFamilyNames[kChanges], cf_options},
  };
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, path, families, &impl->handles, &raw);
  if (!s.ok()) return FromRocks(s, "opening store at " + path);
  ShortenFlushSlices();
  impl->db.reset(raw);
  // With group commit, Impl::Flush syncs (FlushWAL(sync)), not the write.
  impl->write_options.sync = options.sync && !impl->group_commit;
  // In memory (--ephemeral) a WAL protects nothing: the process's memory is
  // the only copy either way, and a kill/restart of a region closes the
  // store, which flushes the memtables (avoid_flush_during_shutdown is
  // false). Writing it cost a quarter of a create's CPU (copying into a
  // growing in-memory file, and its CRC): docs/benchmarks.md.
  impl->write_options.disableWAL = options.in_memory;
  impl->derived_write_options.disableWAL = true;

  // Format and region identity.
  std::string value;
  rocksdb::ReadOptions ro;
  s = impl->db->Get(ro, impl->cf(kMeta), "format", &value);
  if (s.IsNotFound()) {
    rocksdb::WriteBatch batch;
    batch.Put(impl->cf(kMeta), "format", kFormatVersion);
    batch.Put(impl->cf(kMeta), "region", std::to_string(options.region_id));
    rocksdb::WriteOptions wo = impl->write_options;
    wo.sync = !options.in_memory && !impl->group_commit;
    RL_RETURN_IF_ERROR(FromRocks(impl->db->Write(wo, &batch), "initialising store"));
    if (impl->group_commit) RL_RETURN_IF_ERROR(FromRocks(impl->db->FlushWAL(true), "initialising store"));
  } else if (!s.ok()) {
    return FromRocks(s, "reading store format");
  } else {
    if (value != kFormatVersion) {
      return Status::Corruption("store at " + path + " has format " + value + ", expected " +
                                kFormatVersion);
    }
    RL_RETURN_IF_ERROR(FromRocks(impl->db->Get(ro, impl->cf(kMeta), "region", &value),
                                 "reading region id"));
    if (value != std::to_string(options.region_id)) {
      return Status::BadRequest("store at " + path + " belongs to region id " + value +
                                ", not " + std::to_string(options.region_id));
    }
  }

  // Recover the last lsn from the log's last key, and the first retained one.
  std::unique_ptr<rocksdb::Iterator> it(impl->db->NewIterator(ro, impl->cf(kLog)));
  it->SeekToLast();
  if (it->Valid()) {
    auto lsn = keys::LogSequence(std::string_view(it->key().data(), it->key().size()));
    if (!lsn) return Status::Corruption("malformed log key in store at " + path);
    impl->last_lsn = *lsn;
  }
  RL_RETURN_IF_ERROR(FromRocks(it->status(), "scanning log"));
  it->SeekToFirst();
  impl->first_lsn = impl->last_lsn + 1;
  impl->metadata_epoch = g_next_epoch_base.fetch_add(1) << 40;
  if (it->Valid()) {
    auto lsn = keys::LogSequence(std::string_view(it->key().data(), it->key().size()));
    if (!lsn) return Status::Corruption("malformed log key in store at " + path);
    impl->first_lsn = *lsn;
  }
  RL_RETURN_IF_ERROR(FromRocks(it->status(), "scanning log"));
  // The own lsn: the checkpoint, then an own entry after it (see
  // kOwnCheckpointEvery).
  s = impl->db->Get(ro, impl->cf(kMeta), keys::OwnLsnKey(), &value);
  uint64_t own = 0, own_as_of = 0;
  if (s.ok() && value.size() == 8) {  // written with every own write (before session 16): exact
    own = keys::DecodeFixed64(value).value_or(0);
    own_as_of = impl->last_lsn;
  } else if (s.ok() && value.size() == 16) {
    own = keys::DecodeFixed64(std::string_view(value).substr(0, 8)).value_or(0);
    own_as_of = keys::DecodeFixed64(std::string_view(value).substr(8)).value_or(0);
    impl->own_checkpoint_as_of = own_as_of;
  } else if (s.ok()) {
    return Status::Corruption("malformed own lsn in store at " + path);
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading own lsn");
  }
  for (it->SeekToLast(); it->Valid(); it->Prev()) {
    auto lsn = keys::LogSequence(std::string_view(it->key().data(), it->key().size()));
    if (!lsn) return Status::Corruption("malformed log key in store at " + path);
    if (*lsn <= own_as_of) break;
    LogEntryHeader header;
    if (!DecodeLogEntryHeader(std::string_view(it->value().data(), it->value().size()), &header)) {
      return Status::Corruption("undecodable log entry in store at " + path);
    }
    // This region's own write: its own origin, at its own lsn (a write of
    // another region carries that region's id and lsn).
    if (header.origin_region == options.region_id && header.origin_lsn == *lsn) {
      own = *lsn;  // past the checkpoint, so above its own lsn
      break;
    }
  }
  RL_RETURN_IF_ERROR(FromRocks(it->status(), "scanning log for the own lsn"));
  impl->own_lsn = own;
  if (impl->group_commit) RL_RETURN_IF_ERROR(impl->ReplayLost());
  // Index the documents of a store written before the change-feed index existed.
  s = impl->db->Get(ro, impl->cf(kMeta), kChangesIndexedKey, &value);
  if (s.IsNotFound()) {
    rocksdb::WriteBatch batch;
    std::unique_ptr<rocksdb::Iterator> docs(impl->db->NewIterator(ro, impl->cf(kResources)));
    for (docs->Seek("d"); docs->Valid() && docs->key().starts_with("d"); docs->Next()) {
      Record rec;
      std::string_view key(docs->key().data(), docs->key().size());
      if (!DecodeRecord(std::string_view(docs->value().data(), docs->value().size()), &rec)) {
        return Status::Corruption("undecodable record while indexing the change feed");
      }
      auto change = keys::ChangeKey(key, rec.local_lsn);
      if (rec.tombstone || !change) continue;
      RL_RETURN_IF_ERROR(FromRocks(batch.Put(impl->cf(kChanges), *change, EncodeChangeVersions(rec)), "indexing"));
      if (batch.Count() >= 20000) {
        RL_RETURN_IF_ERROR(FromRocks(impl->db->Write(impl->write_options, &batch), "writing the change-feed index"));
        batch.Clear();
      }
    }
    RL_RETURN_IF_ERROR(FromRocks(docs->status(), "scanning documents to index"));
    RL_RETURN_IF_ERROR(FromRocks(batch.Put(impl->cf(kMeta), kChangesIndexedKey, "1"), "indexing"));
    RL_RETURN_IF_ERROR(FromRocks(impl->db->Write(impl->write_options, &batch), "writing the change-feed index"));
    if (impl->group_commit) RL_RETURN_IF_ERROR(FromRocks(impl->db->FlushWAL(options.sync), "writing the change-feed index"));
  } else if (!s.ok()) {
    return FromRocks(s, "reading the change-feed index state");
  }
  impl->appended_last = impl->last_lsn.load();
  impl->appended_own = impl->own_lsn.load();
  spdlog::debug("store opened at {} (region {}, last lsn {})", path, options.region_id,
                impl->last_lsn.load());
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

uint32_t Store::region_id() const { return impl_->options.region_id; }
uint64_t Store::last_lsn() const { return impl_->last_lsn.load(std::memory_order_acquire); }

Result<std::optional<Record>> Store::Get(std::string_view key) const {
  rocksdb::PinnableSlice value;
  rocksdb::Status s =
      impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kResources), rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<Record>();
  if (!s.ok()) return FromRocks(s, "reading");
  Record rec;
  if (!DecodeRecord(std::string_view(value.data(), value.size()), &rec)) {
    return Status::Corruption("undecodable record");
  }
  return std::optional<Record>(std::move(rec));
}

Result<std::vector<std::optional<Record>>> Store::MultiGet(const std::vector<std::string>& keys) const {
  std::vector<std::optional<Record>> out(keys.size());
  if (keys.empty()) return out;
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  impl_->db->MultiGet(rocksdb::ReadOptions(), impl_->cf(kResources), keys.size(), slices.data(), values.data(),
                      statuses.data());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return FromRocks(statuses[i], "reading");
    Record rec;
    if (!DecodeRecord(std::string_view(values[i].data(), values[i].size()), &rec)) {
      return Status::Corruption("undecodable record");
    }
    out[i] = std::move(rec);
  }
  return out;
}

Status Store::Scan(std::string_view prefix, std::string_view start_after, bool include_tombstones,
                   const ScanFn& fn) const {
  rocksdb::ReadOptions ro;
  std::string upper = keys::PrefixEnd(prefix);
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->cf(kResources)));
  if (start_after.empty()) {
    it->Seek(rocksdb::Slice(prefix.data(), prefix.size()));
  } else {
    it->Seek(rocksdb::Slice(start_after.data(), start_after.size()));
    if (it->Valid() && it->key() == rocksdb::Slice(start_after.data(), start_after.size())) {
      it->Next();
    }
  }
  for (; it->Valid(); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    if (key.substr(0, prefix.size()) != prefix) break;
    Record rec;
    if (!DecodeRecord(std::string_view(it->value().data(), it->value().size()), &rec)) {
      return Status::Corruption("undecodable record during scan");
    }
    if (rec.tombstone && !include_tombstones) continue;
    if (!fn(key, std::move(rec))) break;
  }
  return FromRocks(it->status(), "scanning");
}

Result<CommitInfo> Store::Write(const BuildFn& build) {
  CommitInfo info;
  bool local = false;
  uint64_t seq = 0;
  Status applied = Status::Ok();  // see the derived batch below
  {
    std::lock_guard<std::mutex> lock(impl_->write_mu);
    RL_RETURN_IF_ERROR(impl_->derived_failure);
    WriteContext ctx;
    ctx.lsn = impl_->appended_last.load(std::memory_order_relaxed) + 1;
    ctx.region_id = impl_->options.region_id;
    ctx.now_micros = impl_->clock->NowMicros();
    Result<WriteSet> set = build(ctx);
    if (!set.ok()) return set.status();
    if (set->empty()) return CommitInfo{};

    // `batch` holds the log entries and metadata; `derived`, what they do to
    // the resources and the change-feed index. In memory they are one batch.
    // On disk `derived` is a second batch, committed after the first without
    // the WAL: each record once in the WAL rather than twice (the CRC32C and
    // the write(2) of the WAL cost a durable create ~3 us per KB;
    // docs/benchmarks.md, session 18), and Open re-applies the log entries
    // whose derived batches a crash lost (Impl::ReplayLost).
    // Room for every record up front (twice in one batch): a replicated
    // frame's batch is hundreds of KB, grown by doubling otherwise.
    size_t reserve = 64;
    for (const auto* puts : {&set->puts, &set->local_puts}) {
      for (const auto& [key, rec] : *puts) reserve += key.size() + rec.body.size() + 160;
    }
    const bool split = impl_->group_commit;
    rocksdb::WriteBatch batch(split ? reserve : 2 * reserve);
    rocksdb::WriteBatch derived_batch(split ? reserve : 0);
    rocksdb::WriteBatch& derived = split ? derived_batch : batch;
    std::unordered_map<std::string, uint64_t> feed_current;  // see Impl::IndexChange
    for (const auto& [begin, end] : set->erase_ranges) {
      // RocksDB refuses such a range only when it applies the batch: on disk
      // that is the derived batch, after the log entry is committed (and a
      // replicated entry's ranges come from a peer).
      if (begin > end) return Status::BadRequest("erase range ends before it begins");
      RL_RETURN_IF_ERROR(impl_->DeriveErase(derived, begin, end));
    }
    for (const auto& [key, value] : set->meta_puts) {
      rocksdb::Status s = batch.Put(impl_->cf(kMeta), key, value);
      if (!s.ok()) return FromRocks(s, "batching metadata");
    }
    const bool logged = set->main_logged();
    const bool has_local_puts = !set->local_puts.empty();
    // Appends one log entry at `lsn` holding `puts` (and `erase_ranges`).
    auto add_entry = [&](uint64_t lsn, uint32_t origin, uint64_t origin_lsn,
                         std::vector<std::pair<std::string, Record>>& puts,
                         std::vector<std::pair<std::string, std::string>>& erase_ranges) -> Status {
      LogEntryBuilder entry(lsn, ctx.now_micros, origin, origin_lsn);
      std::string encoded;
      for (auto& [key, rec] : puts) {
        rec.local_lsn = lsn;
        encoded.clear();
        EncodeRecord(rec, &encoded);
        RL_RETURN_IF_ERROR(impl_->DerivePut(derived, feed_current, key, encoded, rec));
        entry.AddRecord(key, encoded);
      }
      for (const auto& [begin, end] : erase_ranges) entry.AddEraseRange(begin, end);
      return FromRocks(batch.Put(impl_->cf(kLog), keys::Log(lsn), entry.bytes()), "batching log entry");
    };
    uint64_t last = 0, own = 0;
    if (logged) {
      last = ctx.lsn;
      uint32_t origin = set->origin_region.value_or(ctx.region_id);
      uint64_t origin_lsn = set->origin_region ? set->origin_lsn : ctx.lsn;
      if (!set->origin_region) own = ctx.lsn;
      RL_RETURN_IF_ERROR(add_entry(ctx.lsn, origin, origin_lsn, set->puts, set->erase_ranges));
    }
    if (has_local_puts) {
      last = ctx.local_lsn(logged);
      own = last;
      std::vector<std::pair<std::string, std::string>> no_ranges;
      RL_RETURN_IF_ERROR(add_entry(last, ctx.region_id, last, set->local_puts, no_ranges));
    }
    const bool checkpoint = last != 0 && last >= impl_->own_checkpoint_as_of + kOwnCheckpointEvery;
    if (checkpoint) {
      const uint64_t own_now = own != 0 ? own : impl_->appended_own.load(std::memory_order_relaxed);
      rocksdb::Status s = batch.Put(impl_->cf(kMeta), keys::OwnLsnKey(), EncodeOwnCheckpoint(own_now, last));
      if (!s.ok()) return FromRocks(s, "batching own lsn");
    }
    // Local: this region's own write (a main entry without origin, or local puts).
    local = own != 0;
    RL_RETURN_IF_ERROR(FromRocks(impl_->db->Write(impl_->write_options, &batch), "committing"));
    if (split && derived_batch.Count() > 0) {
      // The log entry is committed: if this fails, the resources stay behind
      // it until the store is opened again (ReplayLost). The write is still
      // published and flushed like any committed one, but answered with the
      // error, and every later write is refused.
      rocksdb::Status s = impl_->db->Write(impl_->derived_write_options, &derived_batch);
      if (!s.ok()) {
        impl_->derived_failure = FromRocks(s, "applying a committed log entry (reopen the store)");
        spdlog::error("storage: {}", impl_->derived_failure.ToString());
        applied = impl_->derived_failure;
      }
    }
    if (checkpoint) impl_->own_checkpoint_as_of = last;
    if (TouchesMetadata(*set)) impl_->metadata_epoch.fetch_add(1, std::memory_order_acq_rel);
    seq = impl_->Appended(last, own);
    if (!impl_->group_commit && last != 0) {
      impl_->last_lsn.store(last, std::memory_order_release);
      if (own != 0) impl_->own_lsn.store(own, std::memory_order_release);
    }
    info = CommitInfo{last, ctx.now_micros};
  }
  // The batch is in the memtable (readers see it) but, on disk, only in the
  // WAL's buffer: it is acknowledged (and its lsn published, so shipped) once
  // the buffer is in the file. Under a DeferScope (an HTTP request on its io
  // thread) that flush waits until just before the answer, so that the writes
  // of one event-loop turn share it.
  Impl* impl = impl_.get();
  auto settle = [impl, seq, info, local]() -> Status {
    if (impl->group_commit) RL_RETURN_IF_ERROR(impl->Flush(seq));
    if (info.lsn != 0 && impl->listener) impl->listener(info, local);
    return Status::Ok();
  };
  if (!impl->group_commit || !DeferScope::Defer(settle)) RL_RETURN_IF_ERROR(settle());
  if (!applied.ok()) return applied;
  return info.lsn == 0 ? CommitInfo{} : info;
}

uint64_t Store::metadata_epoch() const { return impl_->metadata_epoch.load(std::memory_order_acquire); }

uint64_t Store::own_lsn() const { return impl_->own_lsn.load(std::memory_order_acquire); }

void Store::SetCommitListener(CommitListener listener) { impl_->listener = std::move(listener); }

Result<uint64_t> Store::FirstRetainedLsn() const { return impl_->first_lsn.load(std::memory_order_acquire); }

Status Store::TrimLog(uint64_t below) {
  if (impl_->group_commit) {
    // Entries whose resources may be in memtables only stay: they are what
    // Open re-applies after a crash (Impl::ReplayLost).
    std::lock_guard<std::mutex> lock(impl_->write_mu);
    if (below > impl_->persisted_log_bound) impl_->persisted_log_bound = impl_->PersistedLogBound();
    below = std::min(below, impl_->persisted_log_bound);
  }
  if (below <= 1) return Status::Ok();
  // With a checkpoint of the own lsn as of now (under write_mu): the own
  // entries that Open would look for may be among those trimmed.
  RL_RETURN_IF_ERROR(impl_->WriteNow("trimming log", [&] {
    const uint64_t as_of = impl_->appended_last.load(std::memory_order_relaxed);
    rocksdb::WriteBatch batch;
    rocksdb::Status s = batch.Put(impl_->cf(kMeta), keys::OwnLsnKey(),
                                  EncodeOwnCheckpoint(impl_->appended_own.load(std::memory_order_relaxed), as_of));
    if (s.ok()) s = batch.DeleteRange(impl_->cf(kLog), keys::Log(0), keys::Log(below));
    if (s.ok()) s = impl_->db->Write(impl_->write_options, &batch);
    if (s.ok()) impl_->own_checkpoint_as_of = as_of;
    return s;
  }));
  // Entries from first_lsn to last_lsn are all present: the log only grows at
  // its end and shrinks here.
  std::lock_guard<std::mutex> lock(impl_->write_mu);
  const uint64_t first = std::min(below, impl_->appended_last.load(std::memory_order_relaxed) + 1);
  if (first > impl_->first_lsn.load()) impl_->first_lsn.store(first, std::memory_order_release);
  return Status::Ok();
}

Result<std::optional<std::string>> Store::GetMeta(std::string_view key) const {
  std::string value;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kMeta),
                                     rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "reading metadata");
  return std::optional<std::string>(std::move(value));
}

Status Store::ScanChanges(std::string_view coll_rid, uint64_t after_lsn, std::string_view after_key,
                          const std::function<ChangeAction(const DocumentChange&)>& filter,
                          const std::function<bool(const DocumentChange&, Record&&)>& load,
                          std::string_view doc_prefix) const {
  struct SnapshotHolder {
    rocksdb::DB* db;
    const rocksdb::Snapshot* snap;
    ~SnapshotHolder() { db->ReleaseSnapshot(snap); }
  } holder{impl_->db.get(), impl_->db->GetSnapshot()};
  rocksdb::ReadOptions ro;
  ro.snapshot = holder.snap;
  const std::string container_docs = keys::DocumentPrefix(coll_rid);
  if (doc_prefix.empty()) doc_prefix = container_docs;
  if (doc_prefix.compare(0, container_docs.size(), container_docs) != 0) {
    return Status::BadRequest("change feed scope outside the container");
  }
  // Hands one entry to filter/load; false to stop.
  auto visit = [&](const DocumentChange& change) -> Result<bool> {
    ChangeAction action = filter(change);
    if (action == ChangeAction::kStop) return false;
    if (action == ChangeAction::kSkip) return true;
    rocksdb::PinnableSlice value;
    rocksdb::Status s = impl_->db->Get(ro, impl_->cf(kResources), change.key, &value);
    if (s.IsNotFound()) return true;  // left behind by a partial range erase
    if (!s.ok()) return FromRocks(s, "reading a changed document");
    Record rec;
    if (!DecodeRecord(std::string_view(value.data(), value.size()), &rec)) {
      return Status::Corruption("undecodable record in the change feed");
    }
    if (rec.tombstone || rec.local_lsn != change.local_lsn) return true;  // stale entry (defensive)
    return load(change, std::move(rec));
  };

  if (doc_prefix.size() > container_docs.size() && after_lsn == 0 && after_key.empty()) {
    // One partition from the start: read it and sort, rather than walk the
    // whole container's index.
    std::vector<DocumentChange> changes;
    std::string upper = keys::PrefixEnd(doc_prefix);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions scan_ro = ro;
    scan_ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(scan_ro, impl_->cf(kResources)));
    for (it->Seek(rocksdb::Slice(doc_prefix.data(), doc_prefix.size())); it->Valid(); it->Next()) {
      Record rec;
      if (!DecodeRecord(std::string_view(it->value().data(), it->value().size()), &rec)) {
        return Status::Corruption("undecodable record in the change feed");
      }
      if (rec.tombstone) continue;
      DocumentChange c;
      c.local_lsn = rec.local_lsn;
      c.key.assign(it->key().data(), it->key().size());
      c.versions = ChangeVersions(rec);
      changes.push_back(std::move(c));
    }
    RL_RETURN_IF_ERROR(FromRocks(it->status(), "scanning a partition for the change feed"));
    std::sort(changes.begin(), changes.end(), [](const DocumentChange& a, const DocumentChange& b) {
      return a.local_lsn != b.local_lsn ? a.local_lsn < b.local_lsn : a.key < b.key;
    });
    for (const DocumentChange& c : changes) {
      auto go_on = visit(c);
      if (!go_on.ok()) return go_on.status();
      if (!*go_on) break;
    }
    return Status::Ok();
  }

  std::string prefix = keys::ChangePrefix(coll_rid);
  std::string upper = keys::PrefixEnd(prefix);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions scan_ro = ro;
  scan_ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(scan_ro, impl_->cf(kChanges)));
  // Seek to (after_lsn, after_key): a change key is the document key with the
  // lsn spliced in, so build it from after_key (or from the bare prefix).
  std::string start = prefix + keys::EncodeFixed64(after_lsn);
  if (!after_key.empty()) {
    auto k = keys::ChangeKey(after_key, after_lsn);
    if (!k || k->compare(0, prefix.size(), prefix) != 0) return Status::BadRequest("change feed position outside the container");
    start = *k;
  }
  it->Seek(start);
  if (it->Valid() && it->key() == rocksdb::Slice(start)) it->Next();
  DocumentChange change;
  for (; it->Valid(); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    if (!keys::ParseChangeKey(key, &change.local_lsn, &change.key) ||
        !DecodeChangeVersions(std::string_view(it->value().data(), it->value().size()), &change.versions)) {
      return Status::Corruption("malformed change-feed index entry");
    }
    if (change.key.compare(0, doc_prefix.size(), doc_prefix) != 0) continue;
    auto go_on = visit(change);
    if (!go_on.ok()) return go_on.status();
    if (!*go_on) break;
  }
  return FromRocks(it->status(), "scanning the change-feed index");
}

Result<std::vector<LogEntry>> Store::ReadLog(uint64_t from_lsn, size_t max) const {
  std::vector<LogEntry> out;
  bool decoded = true;
  RL_RETURN_IF_ERROR(ReadLogRaw(from_lsn, max, [&](const LogEntryHeader&, std::string_view bytes) {
    LogEntry entry;
    decoded = DecodeLogEntry(bytes, &entry);
    if (decoded) out.push_back(std::move(entry));
    return decoded;
  }));
  if (!decoded) return Status::Corruption("undecodable log entry");
  return out;
}

Status Store::ReadLogRaw(uint64_t from_lsn, size_t max, const RawLogFn& fn) const {
  // Only entries published by last_lsn: a write stores it after its batch is
  // in RocksDB, so an entry read here was fully written before (and the
  // commit listener's pump will ship the next ones).
  const uint64_t last = impl_->last_lsn.load(std::memory_order_acquire);
  if (from_lsn > last) return Status::Ok();
  const std::string upper = keys::Log(last + 1);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->cf(kLog)));
  size_t n = 0;
  for (it->Seek(keys::Log(from_lsn)); it->Valid() && n < max; it->Next(), ++n) {
    std::string_view bytes(it->value().data(), it->value().size());
    LogEntryHeader header;
    if (!DecodeLogEntryHeader(bytes, &header)) return Status::Corruption("undecodable log entry");
    if (!fn(header, bytes)) break;
  }
  return FromRocks(it->status(), "reading log");
}

Status Store::Probe() {
  std::string stamp = std::to_string(impl_->clock->NowMicros());
  RL_RETURN_IF_ERROR(impl_->WriteNow(
      "probe write", [&] { return impl_->db->Put(impl_->write_options, impl_->cf(kMeta), "probe", stamp); }));
  std::string back;
  RL_RETURN_IF_ERROR(
      FromRocks(impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kMeta), "probe", &back), "probe read"));
  if (back != stamp) return Status::IOError("probe read back a different value");
  return Status::Ok();
}

}  // namespace regionlab::storage
