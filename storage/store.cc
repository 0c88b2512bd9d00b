#include "storage/store.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>

#include "storage/codec.h"
#include "storage/keys.h"

namespace regionlab::storage {
namespace {

constexpr char kFormatVersion[] = "1";
enum Family { kMeta = 0, kResources = 1, kLog = 2, kFamilyCount = 3 };
const char* const kFamilyNames[kFamilyCount] = {"default",
                                                "resources", "log"};

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsCorruption()) return Status::Corruption(msg);
  return Status::IOError(msg);
}

}  // namespace

struct Store::Impl {
  const Clock* clock = nullptr;
  StoreOptions options;
  std::unique_ptr<rocksdb::Env> mem_env;  // only for in_memory; outlives db
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::WriteOptions write_options;
  std::mutex write_mu;
  std::atomic<uint64_t> last_lsn{0};
  std::atomic<uint64_t> own_lsn{0};
  Store::CommitListener listener;

  rocksdb::ColumnFamilyHandle* cf(Family f) const { return handles[f]; }

  ~Impl() {
    if (db) {
      for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
      db->Close().PermitUncheckedError();
      db.reset();
    }
  }
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options, const Clock& clock) {
  auto impl = std::make_unique<Impl>();
  impl->clock = &clock;
  impl->options = options;

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
    impl->mem_env.reset(rocksdb::NewMemEnv(rocksdb::Env::Default()));
    db_options.env = impl->mem_env.get();
    path = "/regionlab-mem";
  } else if (path.empty()) {
    return Status::BadRequest("store path is empty");
  }

  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.write_buffer_size = 16 << 20;
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
  rocksdb::ColumnFamilyOptions log_options = cf_options;

  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {kFamilyNames[kMeta], cf_options},
      {kFamilyNames[kResources], cf_options},
      {kFamilyNames[kLog], log_options},
  };
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, path, families, &impl->handles, &raw);
  if (!s.ok()) return FromRocks(s, "opening store at " + path);
  impl->db.reset(raw);
  impl->write_options.sync = options.sync;

  // Format and region identity.
  std::string value;
  rocksdb::ReadOptions ro;
  s = impl->db->Get(ro, impl->cf(kMeta), "format", &value);
  if (s.IsNotFound()) {
    rocksdb::WriteBatch batch;
    batch.Put(impl->cf(kMeta), "format", kFormatVersion);
    batch.Put(impl->cf(kMeta), "region", std::to_string(options.region_id));
    rocksdb::WriteOptions wo;
    wo.sync = !options.in_memory;
    RL_RETURN_IF_ERROR(FromRocks(impl->db->Write(wo, &batch), "initialising store"));
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

  // Recover the last lsn from the log's last key.
  std::unique_ptr<rocksdb::Iterator> it(impl->db->NewIterator(ro, impl->cf(kLog)));
  it->SeekToLast();
  if (it->Valid()) {
    auto lsn = keys::LogSequence(std::string_view(it->key().data(), it->key().size()));
    if (!lsn) return Status::Corruption("malformed log key in store at " + path);
    impl->last_lsn = *lsn;
  }
  RL_RETURN_IF_ERROR(FromRocks(it->status(), "scanning log"));
  s = impl->db->Get(ro, impl->cf(kMeta), keys::OwnLsnKey(), &value);
  if (s.ok()) {
    impl->own_lsn = keys::DecodeFixed64(value).value_or(0);
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading own lsn");
  }
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
  {
    std::lock_guard<std::mutex> lock(impl_->write_mu);
    WriteContext ctx;
    ctx.lsn = impl_->last_lsn.load(std::memory_order_relaxed) + 1;
    ctx.region_id = impl_->options.region_id;
    ctx.now_micros = impl_->clock->NowMicros();
    Result<WriteSet> set = build(ctx);
    if (!set.ok()) return set.status();
    if (set->empty()) return CommitInfo{};

    rocksdb::WriteBatch batch;
    for (const auto& [begin, end] : set->erase_ranges) {
      rocksdb::Status s = batch.DeleteRange(impl_->cf(kResources), begin, end);
      if (!s.ok()) return FromRocks(s, "batching range delete");
    }
    for (const auto& [key, value] : set->meta_puts) {
      rocksdb::Status s = batch.Put(impl_->cf(kMeta), key, value);
      if (!s.ok()) return FromRocks(s, "batching metadata");
    }
    bool logged = !set->puts.empty() || !set->erase_ranges.empty();
    local = logged && !set->origin_region.has_value();
    if (logged) {
      LogEntry entry;
      entry.lsn = ctx.lsn;
      entry.write_micros = ctx.now_micros;
      entry.origin_region = set->origin_region.value_or(ctx.region_id);
      entry.origin_lsn = set->origin_region ? set->origin_lsn : ctx.lsn;
      std::string encoded;
      for (const auto& [key, rec] : set->puts) {
        encoded.clear();
        EncodeRecord(rec, &encoded);
        rocksdb::Status s = batch.Put(impl_->cf(kResources), key, encoded);
        if (!s.ok()) return FromRocks(s, "batching put");
      }
      entry.records = std::move(set->puts);
      entry.erase_ranges = std::move(set->erase_ranges);
      std::string log_value;
      EncodeLogEntry(entry, &log_value);
      rocksdb::Status s = batch.Put(impl_->cf(kLog), keys::Log(ctx.lsn), log_value);
      if (!s.ok()) return FromRocks(s, "batching log entry");
      if (local) {
        s = batch.Put(impl_->cf(kMeta), keys::OwnLsnKey(), keys::EncodeFixed64(ctx.lsn));
        if (!s.ok()) return FromRocks(s, "batching own lsn");
      }
    }
    RL_RETURN_IF_ERROR(FromRocks(impl_->db->Write(impl_->write_options, &batch), "committing"));
    if (!logged) return CommitInfo{};
    impl_->last_lsn.store(ctx.lsn, std::memory_order_release);
    if (local) impl_->own_lsn.store(ctx.lsn, std::memory_order_release);
    info = CommitInfo{ctx.lsn, ctx.now_micros};
  }
  if (impl_->listener) impl_->listener(info, local);
  return info;
}

uint64_t Store::own_lsn() const { return impl_->own_lsn.load(std::memory_order_acquire); }

void Store::SetCommitListener(CommitListener listener) { impl_->listener = std::move(listener); }

Result<uint64_t> Store::FirstRetainedLsn() const {
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kLog)));
  it->SeekToFirst();
  RL_RETURN_IF_ERROR(FromRocks(it->status(), "reading log start"));
  if (!it->Valid()) return last_lsn() + 1;
  auto lsn = keys::LogSequence(std::string_view(it->key().data(), it->key().size()));
  if (!lsn) return Status::Corruption("malformed log key");
  return *lsn;
}

Status Store::TrimLog(uint64_t below) {
  if (below <= 1) return Status::Ok();
  return FromRocks(impl_->db->DeleteRange(impl_->write_options, impl_->cf(kLog), keys::Log(0), keys::Log(below)),
                   "trimming log");
}

Result<std::optional<std::string>> Store::GetMeta(std::string_view key) const {
  std::string value;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kMeta),
                                     rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "reading metadata");
  return std::optional<std::string>(std::move(value));
}

Result<std::vector<LogEntry>> Store::ReadLog(uint64_t from_lsn, size_t max) const {
  std::vector<LogEntry> out;
  rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->cf(kLog)));
  for (it->Seek(keys::Log(from_lsn)); it->Valid() && out.size() < max; it->Next()) {
    LogEntry entry;
    if (!DecodeLogEntry(std::string_view(it->value().data(), it->value().size()), &entry)) {
      return Status::Corruption("undecodable log entry");
    }
    out.push_back(std::move(entry));
  }
  RL_RETURN_IF_ERROR(FromRocks(it->status(), "reading log"));
  return out;
}

Status Store::Probe() {
  std::string stamp = std::to_string(impl_->clock->NowMicros());
  rocksdb::WriteOptions wo = impl_->write_options;
  RL_RETURN_IF_ERROR(FromRocks(impl_->db->Put(wo, impl_->cf(kMeta), "probe", stamp), "probe write"));
  std::string back;
  RL_RETURN_IF_ERROR(
      FromRocks(impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kMeta), "probe", &back), "probe read"));
  if (back != stamp) return Status::IOError("probe read back a different value");
  return Status::Ok();
}

}  // namespace regionlab::storage
