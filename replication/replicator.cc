// The Replicator's interface: link events, frame dispatch, pump and tick,
// statistics (the work is in replicator_outbound.cc and
// replicator_inbound.cc).
#include "replication/replicator_internal.h"

namespace regionlab::replication {

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
