#include "replication/replicator.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>

#include "replication/version_vector.h"
#include "replication/wire.pb.h"
#include "storage/codec.h"
#include "storage/keys.h"

namespace regionlab::replication {
namespace {

using storage::LogEntry;
using storage::Record;

// A receiver asks for a resume at most this often after seeing gaps.
constexpr int64_t kResumeIntervalMicros = 100'000;
// Most entries applied in one store write when a backlog of frames arrives
// together.
constexpr size_t kMaxApplyEntries = 2048;

std::string Serialize(const pb::Frame& frame) {
  std::string out;
  frame.SerializeToString(&out);
  return out;
}

struct PeerState {
  // Outbound: this region's writes to the peer.
  bool out_up = false;
  bool resumed = false;       // the peer told us where to start
  uint64_t acked = 0;         // own lsn the peer has applied
  uint64_t sent = 0;          // last own lsn shipped
  uint64_t scan_pos = 0;      // last local lsn examined for shipping
  int64_t last_progress_micros = 0;
  std::deque<std::pair<uint64_t, int64_t>> inflight;  // (own lsn, write micros)
  OutboundStats out;

  // Inbound: the peer's writes to this region.
  bool in_up = false;
  int64_t last_resume_micros = INT64_MIN / 2;
  bool in_snapshot = false;
  uint32_t snapshot_next_seq = 0;
  InboundStats in;
};

}  // namespace

struct Replicator::Impl {
  storage::Store* store;
  uint32_t self;
  std::vector<uint32_t> peers;
  ConcurrencyHandler* handler;
  Transport* transport;
  const Clock* clock;
  ReplicatorOptions options;

  mutable std::mutex mu;
  Replicator::MessageHandler message_handler;  // set before links come up
  std::map<uint32_t, PeerState> state;
  // Lock-free copy of each origin's applied lsn (read per request for
  // session tokens), indexed by region id.
  std::vector<std::atomic<uint64_t>> applied;

  PeerState* Find(uint32_t peer) {
    auto it = state.find(peer);
    return it == state.end() ? nullptr : &it->second;
  }

  void Reply(uint32_t peer, const pb::Frame& f) { transport->ReplyToPeer(peer, Serialize(f)); }

  void SendResume(uint32_t peer, PeerState& ps) {
    pb::Frame f;
    f.mutable_resume()->set_applied(ps.in.applied);
    ps.last_resume_micros = clock->NowMicros();
    Reply(peer, f);
  }

  void SendAck(uint32_t peer, PeerState& ps) {
    pb::Frame f;
    f.mutable_ack()->set_applied(ps.in.applied);
    Reply(peer, f);
  }

  // ---- outbound ----

  void Rewind(PeerState& ps, uint64_t to) {
    ps.sent = to;
    ps.scan_pos = to;
    ps.inflight.clear();
    ps.last_progress_micros = clock->NowMicros();
  }

  void PumpPeer(uint32_t peer, PeerState& ps) {
    if (!ps.out_up || !ps.resumed) return;
    uint64_t own = store->own_lsn();
    if (ps.sent >= own) return;
    auto first = store->FirstRetainedLsn();
    if (!first.ok()) {
      spdlog::error("replication: {}", first.status().ToString());
      return;
    }
    if (ps.scan_pos + 1 < *first) {
      SendSnapshot(peer, ps);
      return;
    }
    const uint64_t last = store->last_lsn();
    while (ps.inflight.size() < options.window_entries && ps.scan_pos < last && ps.sent < own) {
      pb::Frame f;
      auto* entries = f.mutable_entries();
      entries->set_prev(ps.sent);
      entries->set_sent_micros(clock->NowMicros());
      // The stored bytes of this region's entries go out as they are.
      size_t read = 0;
      Status s = store->ReadLogRaw(ps.scan_pos + 1, options.max_entries_per_frame,
                                   [&](const storage::LogEntryHeader& h, std::string_view bytes) {
                                     ++read;
                                     ps.scan_pos = h.lsn;
                                     if (h.origin_region != self) return true;
                                     entries->add_entries(bytes.data(), bytes.size());
                                     ps.inflight.emplace_back(h.lsn, h.write_micros);
                                     ps.sent = h.lsn;
                                     return ps.inflight.size() < options.window_entries;
                                   });
      if (!s.ok()) {
        spdlog::error("replication: reading log: {}", s.ToString());
        return;
      }
      if (read == 0) break;
      if (entries->entries_size() > 0) {
        ps.out.frames_sent++;
        ps.out.entries_sent += static_cast<uint64_t>(entries->entries_size());
        transport->SendToPeer(peer, Serialize(f));
      }
    }
  }

  void SendSnapshot(uint32_t peer, PeerState& ps) {
    uint64_t upto = store->own_lsn();  // read before scanning: later writes follow as entries
    ps.out.snapshots++;
    uint32_t seq = 0;
    pb::Frame f;
    auto flush = [&](bool last_chunk) {
      auto* snap = f.mutable_snapshot();
      snap->set_upto(upto);
      snap->set_seq(seq++);
      snap->set_last(last_chunk);
      ps.out.frames_sent++;
      transport->SendToPeer(peer, Serialize(f));
      f.Clear();
    };
    size_t in_chunk = 0;
    Status s = store->Scan("", "", /*include_tombstones=*/true, [&](std::string_view key, Record&& rec) {
      auto* snap = f.mutable_snapshot();
      snap->add_keys(std::string(key));
      std::string bytes;
      storage::EncodeRecord(rec, &bytes);
      snap->add_records(std::move(bytes));
      if (++in_chunk >= options.snapshot_chunk_records) {
        flush(false);
        in_chunk = 0;
      }
      return true;
    });
    if (!s.ok()) {
      spdlog::error("replication: snapshot scan: {}", s.ToString());
      return;
    }
    flush(true);
    spdlog::info("replication: sent region {} a snapshot up to lsn {} ({} frames)", peer, upto, seq);
    ps.sent = upto;
    ps.scan_pos = upto;
    ps.inflight.clear();
    ps.inflight.emplace_back(upto, clock->NowMicros());
    ps.last_progress_micros = clock->NowMicros();
  }

  // Resends what `peer` has not acknowledged on the outbound link: asks the
  // peer where to start if it has not said, else rewinds to its last
  // acknowledgement; then ships. Unless `force`, only once the link has seen
  // no progress for retransmit_after_micros.
  void RetransmitPeer(uint32_t peer, PeerState& ps, int64_t now, bool force) {
    if (!ps.out_up) return;
    const bool due = force || now - ps.last_progress_micros >= options.retransmit_after_micros;
    if (!ps.resumed) {  // nothing ships before the peer's Resume
      if (due) {
        pb::Frame f;
        f.mutable_resume_request();
        ps.last_progress_micros = now;
        transport->SendToPeer(peer, Serialize(f));
      }
      return;
    }
    if (due && ps.acked < ps.sent) {
      ps.out.retransmits++;
      Rewind(ps, ps.acked);
    }
    PumpPeer(peer, ps);
  }

  // ---- inbound ----

  // Records read ahead for one store write (Prefetch), by key.
  using Prefetched = std::unordered_map<std::string, std::optional<Record>>;

  // Merges `incoming` into the batch being built, reading the current version
  // from `pending` (earlier records of this batch), else from `prefetched`
  // (each taken once), else the store. The stored state of a key is the set
  // of its maximal versions (a winner and its open siblings); merging is set
  // union minus dominated versions, so the result does not depend on the
  // order in which versions arrive.
  Status MergeRecord(PeerState& ps, const std::string& key, Record incoming,
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

  // The stored records of `keys`, read in one batch before a frame is
  // merged (MergeRecord takes each from here once). Call under the store's
  // write lock (inside a Write), and use within that write only.
  Result<Prefetched> Prefetch(std::vector<std::string> keys) {
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    auto got = store->MultiGet(keys);
    if (!got.ok()) return got.status();
    Prefetched prefetched;
    prefetched.reserve(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) prefetched.emplace(std::move(keys[i]), std::move((*got)[i]));
    return prefetched;
  }

  // A stored record and its siblings as a flat list of versions. A merged
  // record is derived from its siblings, which are the versions.
  static std::vector<Record> Flatten(Record rec) {
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

  // Gives records created by resolution (conflict records) their identity
  // as this region's write at `lsn`.
  static void StampLocal(storage::WriteSet& set, const storage::WriteContext& ctx) {
    if (set.local_puts.empty()) return;
    const uint64_t lsn = ctx.local_lsn(set.main_logged());
    for (auto& [key, rec] : set.local_puts) {
      rec.version = {{ctx.region_id, lsn}};
      rec.origin_region = ctx.region_id;
      rec.origin_lsn = lsn;
      rec.write_micros = ctx.now_micros;
    }
  }

  // Applies consecutive entries of `peer` in one atomic batch, with the
  // applied cursor.
  Status ApplyEntries(uint32_t peer, PeerState& ps, std::vector<LogEntry>& entries) {
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

  // Applies the entries of consecutive Entries frames, in batches of up to
  // kMaxApplyEntries (one atomic store write each), and acknowledges once.
  void OnEntries(uint32_t peer, PeerState& ps, const std::vector<const pb::Entries*>& frames) {
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

  bool Apply(uint32_t peer, PeerState& ps, std::vector<LogEntry>& batch) {
    Status s = ApplyEntries(peer, ps, batch);
    batch.clear();
    if (!s.ok()) {
      spdlog::error("replication: applying writes of region {}: {}", peer, s.ToString());
      return false;
    }
    return true;
  }

  void OnSnapshot(uint32_t peer, PeerState& ps, const pb::Snapshot& msg) {
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
};

Replicator::Replicator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Replicator::~Replicator() = default;

Result<std::unique_ptr<Replicator>> Replicator::Create(storage::Store& store, uint32_t self,
                                                       std::vector<uint32_t> peers,
                                                       ConcurrencyHandler& handler, Transport& transport,
                                                       const Clock& clock, ReplicatorOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->store = &store;
  impl->self = self;
  impl->peers = peers;
  impl->handler = &handler;
  impl->transport = &transport;
  impl->clock = &clock;
  impl->options = options;
  uint32_t max_id = self;
  for (uint32_t p : peers) max_id = std::max(max_id, p);
  impl->applied = std::vector<std::atomic<uint64_t>>(max_id + 1);
  for (uint32_t p : peers) {
    if (p == self) return Status::BadRequest("a region cannot be its own peer");
    PeerState& ps = impl->state[p];
    auto v = store.GetMeta(storage::keys::AppliedKey(p));
    if (!v.ok()) return v.status();
    if (v->has_value()) {
      auto lsn = storage::keys::DecodeFixed64(**v);
      if (!lsn) return Status::Corruption("malformed applied cursor for region " + std::to_string(p));
      ps.in.applied = *lsn;
      impl->applied[p].store(*lsn);
    }
  }
  return std::unique_ptr<Replicator>(new Replicator(std::move(impl)));
}

void Replicator::OnOutboundUp(uint32_t peer) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (PeerState* ps = impl_->Find(peer)) {
    ps->out_up = true;
    ps->resumed = false;
    ps->out.connected = true;
    ps->last_progress_micros = impl_->clock->NowMicros();
  }
}

void Replicator::OnOutboundDown(uint32_t peer) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (PeerState* ps = impl_->Find(peer)) {
    ps->out_up = false;
    ps->resumed = false;
    ps->inflight.clear();
    ps->out.connected = false;
  }
}

void Replicator::OnOutboundFrame(uint32_t peer, std::string_view payload) {
  pb::Frame f;
  if (!f.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) return;
  OnOutboundParsedFrame(peer, f);
}

void Replicator::OnOutboundParsedFrame(uint32_t peer, const pb::Frame& f) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  PeerState* ps = impl_->Find(peer);
  if (!ps || !ps->out_up) return;
  if (f.has_resume()) {
    uint64_t applied = f.resume().applied();
    if (ps->resumed && ps->sent > applied) ps->out.retransmits++;
    ps->acked = applied;
    impl_->Rewind(*ps, applied);
    ps->resumed = true;
    impl_->PumpPeer(peer, *ps);
  } else if (f.has_ack()) {
    uint64_t applied = f.ack().applied();
    if (applied > ps->acked) {
      ps->acked = applied;
      ps->last_progress_micros = impl_->clock->NowMicros();
    }
    while (!ps->inflight.empty() && ps->inflight.front().first <= ps->acked) ps->inflight.pop_front();
    impl_->PumpPeer(peer, *ps);
  }
}

void Replicator::OnInboundUp(uint32_t peer) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (PeerState* ps = impl_->Find(peer)) {
    ps->in_up = true;
    ps->in.connected = true;
    ps->in_snapshot = false;
    impl_->SendResume(peer, *ps);
  }
}

void Replicator::OnInboundDown(uint32_t peer) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (PeerState* ps = impl_->Find(peer)) {
    ps->in_up = false;
    ps->in.connected = false;
    ps->in_snapshot = false;
  }
}

bool Replicator::SendMessage(uint32_t peer, uint32_t channel, std::string payload) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    PeerState* ps = impl_->Find(peer);
    if (!ps || !ps->out_up) return false;
  }
  pb::Frame f;
  f.mutable_message()->set_channel(channel);
  f.mutable_message()->set_payload(std::move(payload));
  impl_->transport->SendToPeer(peer, f.SerializeAsString());
  return true;
}

void Replicator::SetMessageHandler(MessageHandler handler) { impl_->message_handler = std::move(handler); }

void Replicator::OnInboundFrame(uint32_t peer, std::string_view payload) { OnInboundFrames(peer, {payload}); }

void Replicator::OnInboundFrames(uint32_t peer, const std::vector<std::string_view>& payloads) {
  std::vector<pb::Frame> frames;
  frames.reserve(payloads.size());
  for (std::string_view payload : payloads) {
    pb::Frame f;
    if (!f.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      spdlog::warn("replication: malformed frame from region {}", peer);
      continue;
    }
    frames.push_back(std::move(f));
  }
  OnInboundParsedFrames(peer, frames);
}

void Replicator::OnInboundParsedFrames(uint32_t peer, std::vector<pb::Frame>& frames) {
  std::vector<const pb::Frame*> ordered;  // everything but messages, in order
  ordered.reserve(frames.size());
  for (pb::Frame& f : frames) {
    if (f.has_message()) {  // not ordered with entries; handled outside the lock
      {
        std::lock_guard<std::mutex> lock(impl_->mu);
        PeerState* ps = impl_->Find(peer);
        if (!ps || !ps->in_up) continue;
      }
      if (impl_->message_handler) {
        impl_->message_handler(peer, f.message().channel(), std::move(*f.mutable_message()->mutable_payload()));
      }
      continue;
    }
    ordered.push_back(&f);
  }
  if (ordered.empty()) return;
  std::lock_guard<std::mutex> lock(impl_->mu);
  PeerState* ps = impl_->Find(peer);
  if (!ps || !ps->in_up) return;
  std::vector<const pb::Entries*> run;  // consecutive Entries frames
  auto flush = [&] {
    if (!run.empty()) impl_->OnEntries(peer, *ps, run);
    run.clear();
  };
  for (const pb::Frame* f : ordered) {
    if (f->has_entries()) {
      run.push_back(&f->entries());
      continue;
    }
    flush();
    if (f->has_snapshot()) {
      impl_->OnSnapshot(peer, *ps, f->snapshot());
    } else if (f->has_resume_request()) {
      impl_->SendResume(peer, *ps);
    }
  }
  flush();
}

void Replicator::Pump() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (auto& [peer, ps] : impl_->state) impl_->PumpPeer(peer, ps);
}

void Replicator::Retransmit(uint32_t peer) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (PeerState* ps = impl_->Find(peer)) impl_->RetransmitPeer(peer, *ps, impl_->clock->NowMicros(), /*force=*/true);
}

void Replicator::Tick() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const int64_t now = impl_->clock->NowMicros();
  for (auto& [peer, ps] : impl_->state) impl_->RetransmitPeer(peer, ps, now, /*force=*/false);
  uint64_t last = impl_->store->last_lsn();
  if (last > impl_->options.log_retention_entries) {
    uint64_t below = last - impl_->options.log_retention_entries + 1;
    auto first = impl_->store->FirstRetainedLsn();
    if (first.ok() && *first < below) {
      Status s = impl_->store->TrimLog(below);
      if (!s.ok()) spdlog::error("replication: trimming log: {}", s.ToString());
    }
  }
}

uint64_t Replicator::Applied(uint32_t origin) const {
  if (origin == impl_->self) return impl_->store->own_lsn();
  if (origin >= impl_->applied.size()) return 0;
  return impl_->applied[origin].load(std::memory_order_acquire);
}

OutboundStats Replicator::Outbound(uint32_t peer) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->state.find(peer);
  if (it == impl_->state.end()) return {};
  const PeerState& ps = it->second;
  OutboundStats s = ps.out;
  s.own_lsn = impl_->store->own_lsn();
  s.sent = ps.sent;
  s.acked = ps.acked;
  if (ps.acked < s.own_lsn) {
    int64_t oldest = 0;
    if (!ps.inflight.empty()) {
      oldest = ps.inflight.front().second;
    } else {
      impl_->store
          ->ReadLogRaw(ps.acked + 1, 64,
                       [&](const storage::LogEntryHeader& h, std::string_view) {
                         if (h.origin_region != impl_->self) return true;
                         oldest = h.write_micros;
                         return false;
                       })
          .IgnoreError();
    }
    if (oldest > 0) s.lag_micros = std::max<int64_t>(0, impl_->clock->NowMicros() - oldest);
  }
  return s;
}

InboundStats Replicator::Inbound(uint32_t peer) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->state.find(peer);
  return it == impl_->state.end() ? InboundStats{} : it->second.in;
}

uint32_t Replicator::self() const { return impl_->self; }
const std::vector<uint32_t>& Replicator::peers() const { return impl_->peers; }

}  // namespace regionlab::replication
