// Shipping this region's log to a peer: the pump, snapshots for a peer that
// fell behind the retained log, retransmission, resume and ack frames.
#include "replication/replicator_internal.h"

namespace regionlab::replication {

PeerState* Replicator::Impl::Find(uint32_t peer) {
  auto it = state.find(peer);
  return it == state.end() ? nullptr : &it->second;
}

void Replicator::Impl::SendResume(uint32_t peer, PeerState& ps) {
  pb::Frame f;
  f.mutable_resume()->set_applied(ps.in.applied);
  ps.last_resume_micros = clock->NowMicros();
  Reply(peer, f);
}

void Replicator::Impl::SendAck(uint32_t peer, PeerState& ps) {
  pb::Frame f;
  f.mutable_ack()->set_applied(ps.in.applied);
  Reply(peer, f);
}

void Replicator::Impl::Rewind(PeerState& ps, uint64_t to) {
  ps.sent = to;
  ps.scan_pos = to;
  ps.inflight.clear();
  ps.last_progress_micros = clock->NowMicros();
}

void Replicator::Impl::PumpPeer(uint32_t peer, PeerState& ps) {
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

void Replicator::Impl::SendSnapshot(uint32_t peer, PeerState& ps) {
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

void Replicator::Impl::RetransmitPeer(uint32_t peer, PeerState& ps, int64_t now, bool force) {
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

}  // namespace regionlab::replication
