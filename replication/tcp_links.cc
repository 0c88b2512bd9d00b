// Connection management: a Dialer keeps one outbound connection per peer
// (re-dialing with backoff), a PeerShaper applies the link faults of every
// frame to that peer.
#include "replication/tcp_internal.h"

namespace regionlab::replication::detail {

void Dialer::Start() {
  net::post(strand_, [self = shared_from_this()] { self->Dial(); });
}

void Dialer::Stop() {
  net::post(strand_, [self = shared_from_this()] { self->timer_.cancel(); });
}

void Dialer::OnClosed(bool was_up) {
  net::post(strand_, [self = shared_from_this(), was_up] { self->ScheduleRedial(was_up); });
}

void Dialer::PeerSeen() {
  net::post(strand_, [self = shared_from_this()] {
    if (!self->waiting_) return;
    self->waiting_ = false;
    self->timer_.cancel();
    self->Dial();
  });
}

void Dialer::ScheduleRedial(bool was_up) {
  if (impl_->stopped.load()) return;
  const int initial = std::max(1, impl_->opts.reconnect_initial_ms);
  const int max = std::max(initial, impl_->opts.reconnect_max_ms);
  int delay;
  if (was_up) {
    failures_ = 0;
    backoff_ms_ = initial;
    delay = initial;
  } else {
    if (++failures_ == 1) {
      auto p = impl_->FindPeer(peer_);
      spdlog::info("replication: no link to {} at {}:{} yet; re-dialing with backoff up to {} ms",
                   p ? p->name : "?", p ? p->host : "?", p ? p->port : 0, max);
    }
    delay = backoff_ms_;
    backoff_ms_ = std::min(max, backoff_ms_ * 2);
  }
  timer_.expires_after(std::chrono::milliseconds(delay));
  waiting_ = true;
  timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec || !self->waiting_) return;
    self->waiting_ = false;
    self->Dial();
  });
}

void Dialer::Dial() {
  if (impl_->stopped.load()) return;
  auto p = impl_->FindPeer(peer_);
  if (!p) return;
  auto conn = std::make_shared<Connection>(impl_, Role::kDialer, tcp::socket(net::make_strand(impl_->io)),
                                           *p, shared_from_this(), impl_->CountersFor(peer_));
  uint64_t id;
  if (!impl_->Register(conn, &id)) return;
  conn->Start();
}

void PeerShaper::SetFaults(const LinkFaults& faults, uint64_t stream_seed) {
  std::lock_guard<std::mutex> lock(mu_);
  core_.Reset(faults, stream_seed);
  active_ = faults.Any();
}

LinkFaults PeerShaper::faults() const {
  std::lock_guard<std::mutex> lock(mu_);
  return core_.faults();
}

LinkShaperStats PeerShaper::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  LinkShaperStats s = stats_;
  s.queued = held_.size();
  return s;
}

void PeerShaper::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  held_.clear();
  if (armed_) timer_.cancel();
  armed_ = false;
}

void PeerShaper::ArmLocked() {
  if (held_.empty() || stopped_) return;
  const int64_t next = held_.begin()->first.first;
  if (armed_ && armed_at_ <= next) return;
  armed_ = true;
  armed_at_ = next;
  timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::microseconds(next)));
  timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec == net::error::operation_aborted) return;  // re-armed or stopped
    self->OnTimer();
  });
}

void PeerShaper::OnTimer() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return;
  armed_ = false;
  ReleaseDueLocked(SteadyMicros());
  ArmLocked();
}


void PeerShaper::Submit(const std::shared_ptr<Connection>& conn, std::string payload) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return;
  ++stats_.frames;
  if (!active_ && held_.empty()) {  // a healthy link: straight through
    ++stats_.written;
    conn->Send(std::move(payload));
    return;
  }
  const int64_t now = SteadyMicros();
  const LinkShaperCore::Decision d = core_.Decide(now, payload.size());
  if (d.dropped) {
    ++stats_.dropped;
    return;
  }
  if (d.copies == 2) ++stats_.duplicated;
  for (int c = 0; c < d.copies; ++c) {
    const LinkShaperCore::Copy& copy = d.copy[c];
    if (copy.reordered) ++stats_.reordered;
    if (copy.release_micros > now) ++stats_.delayed;
    Held h{conn, c + 1 < d.copies ? payload : std::move(payload)};
    held_.emplace(std::make_pair(copy.release_micros, next_seq_++), std::move(h));
  }
  ReleaseDueLocked(now);
  ArmLocked();
}

void PeerShaper::ReleaseDueLocked(int64_t now) {
  while (!held_.empty() && held_.begin()->first.first <= now) {
    auto node = held_.extract(held_.begin());
    ++stats_.written;
    node.mapped().conn->Send(std::move(node.mapped().payload));
  }
}

}  // namespace regionlab::replication::detail
