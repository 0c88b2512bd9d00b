// Applying a peer's log: merging versions by version vector, resolving
// concurrent ones through the ConcurrencyHandler, batched atomic store writes
// with the applied cursor, snapshots.
#include "replication/replicator_internal.h"

namespace regionlab::replication {

Result<Replicator::Impl::Prefetched> Replicator::Impl::Prefetch(std::vector<std::string> keys) {
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  auto got = store->MultiGet(keys);
  if (!got.ok()) return got.status();
  Prefetched prefetched;
  prefetched.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) prefetched.emplace(std::move(keys[i]), std::move((*got)[i]));
  return prefetched;
}

std::vector<Record> Replicator::Impl::Flatten(Record rec) {
  std::vector<Record> out;
  std::vector<Record> sibs = std::move(rec.siblings);
  rec.siblings.clear();
  if (!rec.merged) out.push_back(std::move(rec));
  for (Record& s : sibs) {
    s.siblings.clear();
    s.merged = false;
    out.push_back(std::move(s));
  }
  return out;
}

void Replicator::Impl::StampLocal(storage::WriteSet& set, const storage::WriteContext& ctx) {
  if (set.local_puts.empty()) return;
  const uint64_t lsn = ctx.local_lsn(set.main_logged());
  for (auto& [key, rec] : set.local_puts) {
    rec.version = {{ctx.region_id, lsn}};
    rec.origin_region = ctx.region_id;
    rec.origin_lsn = lsn;
    rec.write_micros = ctx.now_micros;
  }
}

Status Replicator::Impl::MergeRecord(PeerState& ps, const std::string& key, Record incoming,
                                       const storage::WriteContext& ctx, std::unordered_map<std::string, Record>& pending,
                                       Prefetched& prefetched, storage::WriteSet& set) {
  // A record this batch was about to create as a local write (a conflict
  // record) that arrives from a peer in the same batch: the peer's copy
  // exists first, so ours is not created (as if the key had held it).
  if (auto it = std::find_if(set.local_puts.begin(), set.local_puts.end(),
                             [&](const auto& p) { return p.first == key; });
      it != set.local_puts.end()) {
    set.local_puts.erase(it);
    pending.erase(key);
  }
  std::optional<Record> current;
  std::optional<uint64_t> replaces;  // the change-feed hint, when `current` is the stored record
  if (auto it = pending.find(key); it != pending.end()) {
    current = it->second;
  } else {
    if (auto pre = prefetched.find(key); pre != prefetched.end()) {
      current = std::move(pre->second);
      prefetched.erase(pre);
    } else {
      auto got = store->Get(key);
      if (!got.ok()) return got.status();
      current = std::move(*got);
    }
    replaces = storage::ReplacedLsn(current);
  }
  if (!current) {
    incoming.replaces_local_lsn = replaces;
    pending[key] = incoming;
    set.puts.emplace_back(key, std::move(incoming));
    return Status::Ok();
  }
  std::vector<Record> existing = Flatten(std::move(*current));
  std::vector<Record> arriving = Flatten(std::move(incoming));
  bool changed = false;
  std::vector<Record> all = existing;
  for (Record& v : arriving) {
    bool covered = false;
    for (const Record& e : all) {
      Order o = Compare(v.version, e.version);
      if (o == Order::kEqual || o == Order::kBefore) {
        covered = true;
        break;
      }
    }
    if (covered) continue;
    std::erase_if(all, [&](const Record& e) { return Compare(e.version, v.version) == Order::kBefore; });
    all.push_back(std::move(v));
    changed = true;
  }
  if (!changed) return Status::Ok();  // nothing new: already have it, or something newer
  Record stored;
  if (all.size() == 1) {
    stored = std::move(all[0]);
  } else {
    ps.in.conflicts++;
    std::sort(all.begin(), all.end(), [](const Record& a, const Record& b) {
      if (a.origin_region != b.origin_region) return a.origin_region < b.origin_region;
      return a.origin_lsn < b.origin_lsn;
    });
    auto res = handler->Resolve(key, std::move(all), ctx);
    if (!res.ok()) return res.status();
    for (auto& [nkey, nrec] : res->new_records) {
      if (pending.count(nkey)) continue;
      auto existing_rec = store->Get(nkey);
      if (!existing_rec.ok()) return existing_rec.status();
      if (existing_rec->has_value()) continue;
      pending[nkey] = nrec;
      set.local_puts.emplace_back(nkey, std::move(nrec));
    }
    stored = std::move(res->survivor);
  }
  stored.replaces_local_lsn = replaces;
  pending[key] = stored;
  set.puts.emplace_back(key, std::move(stored));
  return Status::Ok();
}

Status Replicator::Impl::ApplyEntries(uint32_t peer, PeerState& ps, std::vector<LogEntry>& entries) {
  if (entries.empty()) return Status::Ok();
  uint64_t last = entries.back().lsn;
  auto commit = store->Write([&](const storage::WriteContext& ctx) -> Result<storage::WriteSet> {
    storage::WriteSet set;
    std::unordered_map<std::string, Record> pending;
    std::vector<std::string> keys;
    for (const LogEntry& e : entries) {
      for (const auto& [key, rec] : e.records) keys.push_back(key);
    }
    auto prefetched = Prefetch(std::move(keys));
    if (!prefetched.ok()) return prefetched.status();
    for (LogEntry& e : entries) {
      for (auto& range : e.erase_ranges) set.erase_ranges.push_back(range);
      for (auto& [key, rec] : e.records) {
        RL_RETURN_IF_ERROR(MergeRecord(ps, key, std::move(rec), ctx, pending, *prefetched, set));
      }
    }
    set.meta_puts.emplace_back(storage::keys::AppliedKey(peer), storage::keys::EncodeFixed64(last));
    set.origin_region = peer;
    set.origin_lsn = last;
    StampLocal(set, ctx);
    return set;
  });
  if (!commit.ok()) return commit.status();
  ps.in.applied = last;
  applied[peer].store(last, std::memory_order_release);
  ps.in.entries_applied += entries.size();
  const int64_t now = clock->NowMicros();
  for (const LogEntry& e : entries) {
    int64_t lag = std::max<int64_t>(0, now - e.write_micros);
    ps.in.max_lag_micros = std::max(ps.in.max_lag_micros, lag);
    for (int i = 0; i < kLagBuckets; ++i) {
      if (lag < kLagBoundsMicros[i]) {
        ps.in.lag_buckets[i]++;
        break;
      }
    }
  }
  ps.in.last_lag_micros = now - entries.back().write_micros;
  return Status::Ok();
}

void Replicator::Impl::OnEntries(uint32_t peer, PeerState& ps, const std::vector<const pb::Entries*>& frames) {
  // Entries with an erase range are applied alone, after everything before
  // them, so a range delete never removes a put that follows it.
  std::vector<LogEntry> batch;
  uint64_t expect_after = ps.in.applied;
  const uint64_t applied_before = ps.in.applied;
  bool gap = false;
  for (const pb::Entries* msg : frames) {
    if (msg->prev() > expect_after) {  // an earlier frame is missing
      gap = true;
      ps.in.gaps++;
      if (clock->NowMicros() - ps.last_resume_micros >= kResumeIntervalMicros) SendResume(peer, ps);
      break;
    }
    bool undecodable = false;
    for (const std::string& bytes : msg->entries()) {
      LogEntry e;
      if (!storage::DecodeLogEntry(bytes, &e) || e.origin_region != peer) {
        spdlog::warn("replication: undecodable entry from region {}; asking to resume", peer);
        undecodable = true;
        break;
      }
      if (e.lsn <= expect_after) {
        ps.in.duplicates++;
        continue;
      }
      expect_after = e.lsn;
      bool isolate = !e.erase_ranges.empty();
      if (isolate && !batch.empty()) {
        if (!Apply(peer, ps, batch)) return;
      }
      batch.push_back(std::move(e));
      if (isolate || batch.size() >= kMaxApplyEntries) {
        if (!Apply(peer, ps, batch)) return;
      }
    }
    if (undecodable) break;
  }
  if (!batch.empty() && !Apply(peer, ps, batch)) return;
  // A frame after a gap is not acknowledged (the resume says where we are),
  // unless frames before it were applied.
  if (!gap || ps.in.applied > applied_before) SendAck(peer, ps);
}

bool Replicator::Impl::Apply(uint32_t peer, PeerState& ps, std::vector<LogEntry>& batch) {
  Status s = ApplyEntries(peer, ps, batch);
  batch.clear();
  if (!s.ok()) {
    spdlog::error("replication: applying writes of region {}: {}", peer, s.ToString());
    return false;
  }
  return true;
}

void Replicator::Impl::OnSnapshot(uint32_t peer, PeerState& ps, const pb::Snapshot& msg) {
  if (msg.seq() == 0) {
    ps.in_snapshot = true;
    ps.snapshot_next_seq = 0;
  }
  if (!ps.in_snapshot || msg.seq() != ps.snapshot_next_seq || msg.keys_size() != msg.records_size()) {
    ps.in_snapshot = false;
    ps.in.gaps++;
    if (clock->NowMicros() - ps.last_resume_micros >= kResumeIntervalMicros) SendResume(peer, ps);
    return;
  }
  ps.snapshot_next_seq++;
  bool last = msg.last();
  uint64_t upto = std::max(ps.in.applied, msg.upto());
  auto commit = store->Write([&](const storage::WriteContext& ctx) -> Result<storage::WriteSet> {
    storage::WriteSet set;
    std::unordered_map<std::string, Record> pending;
    auto prefetched = Prefetch({msg.keys().begin(), msg.keys().end()});
    if (!prefetched.ok()) return prefetched.status();
    for (int i = 0; i < msg.keys_size(); ++i) {
      Record rec;
      if (!storage::DecodeRecord(msg.records(i), &rec)) return Status::Corruption("undecodable snapshot record");
      RL_RETURN_IF_ERROR(MergeRecord(ps, msg.keys(i), std::move(rec), ctx, pending, *prefetched, set));
    }
    if (last) {
      set.meta_puts.emplace_back(storage::keys::AppliedKey(peer), storage::keys::EncodeFixed64(upto));
    }
    set.origin_region = peer;
    set.origin_lsn = last ? upto : 0;
    StampLocal(set, ctx);
    return set;
  });
  if (!commit.ok()) {
    spdlog::error("replication: applying snapshot of region {}: {}", peer, commit.status().ToString());
    ps.in_snapshot = false;
    return;
  }
  if (last) {
    ps.in_snapshot = false;
    ps.in.applied = upto;
    applied[peer].store(upto, std::memory_order_release);
    spdlog::info("replication: applied snapshot of region {} up to lsn {}", peer, upto);
    SendAck(peer, ps);
  }
}

}  // namespace regionlab::replication
