// One replication connection: dialing, length-prefixed framing, reading in
// whole buffers, the write queue, closing (the handshake is tcp_handshake.cc).
#include "replication/tcp_internal.h"

namespace regionlab::replication::detail {

std::string Serialize(const pb::Frame& f) {
  std::string out;
  f.SerializeToString(&out);
  return out;
}

std::string EndpointText(const tcp::socket& s) {
  error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return "?";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

void Connection::Start() {
  net::post(socket_.get_executor(), [self = shared_from_this()] {
    self->ArmDeadline();
    if (self->role_ == Role::kDialer) {
      self->Connect();
    } else {
      self->OnSocketReady();
      self->StartTls([self] { self->ReadMore(); });
    }
  });
}

void Connection::Send(std::string payload) {
  queued_frames_.fetch_add(1, std::memory_order_relaxed);
  net::post(socket_.get_executor(), [self = shared_from_this(), p = std::move(payload)]() mutable {
    self->Queue(std::move(p));
  });
}

void Connection::Close(std::string reason) {
  net::post(socket_.get_executor(), [self = shared_from_this(), r = std::move(reason)] { self->CloseNow(r); });
}

std::string Connection::Describe() const {
  std::string who = peer_.name.empty() ? std::string("?") : peer_.name;
  return std::string(RoleName(role_)) + " link " +
         (role_ == Role::kDialer ? impl_->opts.self_name + " -> " + who
                                 : who + " -> " + impl_->opts.self_name) +
         " (" + remote_ + ")";
}

void Connection::ArmDeadline() {
  timer_.expires_after(std::chrono::milliseconds(impl_->opts.handshake_timeout_ms));
  timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec || self->closed_ || self->up_) return;
    self->impl_->handshake_failures.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("replication: {}: handshake timed out after {} ms", self->Describe(),
                 self->impl_->opts.handshake_timeout_ms);
    self->CloseNow("handshake timeout");
  });
}

void Connection::Connect() {
  remote_ = peer_.host + ":" + std::to_string(peer_.port);
  error_code ec;
  auto addr = net::ip::make_address(peer_.host, ec);
  if (!ec) {
    socket_.async_connect(tcp::endpoint(addr, peer_.port),
                          [self = shared_from_this()](error_code ec) { self->OnConnect(ec); });
    return;
  }
  resolver_.async_resolve(
      peer_.host, std::to_string(peer_.port),
      [self = shared_from_this()](error_code ec, tcp::resolver::results_type results) {
        if (ec) return self->OnConnect(ec);
        if (self->closed_) return;
        net::async_connect(self->socket_, results,
                           [self](error_code ec, const tcp::endpoint&) { self->OnConnect(ec); });
      });
}

void Connection::OnConnect(error_code ec) {
  if (closed_) return;
  if (ec) {
    connect_error_ = ec.message();
    CloseNow("connect failed");
    return;
  }
  OnSocketReady();
  StartTls([self = shared_from_this()] {
    self->nonce_o_ = RandomNonce();
    pb::Frame f;
    auto* hello = f.mutable_hello();
    hello->set_region(self->impl_->opts.self_name);
    hello->set_region_id(self->impl_->opts.self_id);
    hello->set_nonce(self->nonce_o_);
    hello->set_protocol(kProtocolVersion);
    self->Queue(Serialize(f), /*counted=*/false);
    self->state_ = State::kAwaitChallenge;
    self->ReadMore();
  });
}

void Connection::StartTls(std::function<void()> next) {
  const auto& ctx = role_ == Role::kDialer ? impl_->tls_client : impl_->tls_server;
  if (!ctx) return next();
  tls_ = std::make_unique<net::ssl::stream<tcp::socket&>>(socket_, *ctx);
  const auto type = role_ == Role::kDialer ? net::ssl::stream_base::client : net::ssl::stream_base::server;
  tls_->async_handshake(type, [self = shared_from_this(), next = std::move(next)](error_code ec) {
    if (self->closed_) return;
    if (ec) {
      self->impl_->handshake_failures.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("replication: {}: TLS handshake failed: {}", self->Describe(), ec.message());
      return self->CloseNow("TLS handshake failed");
    }
    next();
  });
}

void Connection::OnSocketReady() {
  error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);
  if (ec) spdlog::debug("replication: TCP_NODELAY: {}", ec.message());
  auto r = EndpointText(socket_);
  if (r != "?") remote_ = r;
}

void Connection::ReadMore() {
  constexpr size_t kChunk = 64 << 10;
  const size_t want = std::max(rlen_ + kChunk, partial_frame_bytes_);
  if (rbuf_.size() < want) rbuf_.resize(want);
  auto buf = net::buffer(rbuf_.data() + rlen_, rbuf_.size() - rlen_);
  auto done = [self = shared_from_this()](error_code ec, size_t n) { self->OnRead(ec, n); };
  if (tls_) {
    tls_->async_read_some(buf, std::move(done));
  } else {
    socket_.async_read_some(buf, std::move(done));
  }
}

void Connection::OnRead(error_code ec, size_t n) {
  if (closed_) return;
  if (ec) return OnReadError(ec);
  rlen_ += n;
  size_t off = 0;
  partial_frame_bytes_ = 0;
  std::vector<pb::Frame> batch;  // parsed once, here, and handed over as they are
  while (rlen_ - off >= 4) {
    const auto* h = reinterpret_cast<const unsigned char*>(rbuf_.data() + off);
    const uint32_t len = (uint32_t{h[0]} << 24) | (uint32_t{h[1]} << 16) | (uint32_t{h[2]} << 8) | uint32_t{h[3]};
    if (len == 0 || len > impl_->opts.max_frame_bytes) {
      impl_->malformed_frames.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("replication: {}: frame length {} out of range (1..{}); closing", Describe(), len,
                   impl_->opts.max_frame_bytes);
      CloseNow("bad frame length");
      return;
    }
    if (rlen_ - off - 4 < len) {
      partial_frame_bytes_ = 4 + size_t{len};
      break;
    }
    std::string_view payload(rbuf_.data() + off + 4, len);
    off += 4 + size_t{len};
    pb::Frame f;
    if (!f.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      Malformed("payload is not a Frame");
      return;
    }
    switch (state_) {
      case State::kAwaitHello:
        OnHello(f);
        break;
      case State::kAwaitChallenge:
        OnChallenge(f);
        break;
      case State::kAwaitProof:
        OnProof(f);
        break;
      case State::kUp:
        if (!AllowedOnLink(f)) return Malformed("frame kind not allowed on this link");
        batch.push_back(std::move(f));
        break;
    }
    if (closed_) return;
  }
  if (!batch.empty()) {
    impl_->Deliver(*this, batch);
    if (closed_) return;
  }
  if (off > 0) {  // keep the start of a partial frame
    std::memmove(rbuf_.data(), rbuf_.data() + off, rlen_ - off);
    rlen_ -= off;
  }
  if (rlen_ == 0 && rbuf_.size() > (1u << 20)) std::string().swap(rbuf_);  // don't pin a big buffer
  ReadMore();
}

void Connection::OnReadError(error_code ec) {
  read_failed_ = true;
  if (ec == net::error::eof || ec == net::ssl::error::stream_truncated) {
    CloseNow("closed by peer");
  } else {
    CloseNow(ec.message());
  }
}

void Connection::Malformed(std::string_view what) {
  impl_->malformed_frames.fetch_add(1, std::memory_order_relaxed);
  spdlog::warn("replication: {}: malformed frame ({}); closing", Describe(), what);
  CloseNow("malformed frame");
}

bool Connection::AllowedOnLink(const pb::Frame& f) const {
  return role_ == Role::kDialer
             ? (f.has_resume() || f.has_ack())
             : (f.has_entries() || f.has_snapshot() || f.has_message() || f.has_resume_request());
}

void Connection::Queue(std::string payload, bool counted) {
  if (closed_) {
    if (counted) queued_frames_.fetch_sub(1, std::memory_order_relaxed);
    return;
  }
  if (!counted) queued_frames_.fetch_add(1, std::memory_order_relaxed);
  OutFrame f;
  uint32_t n = static_cast<uint32_t>(payload.size());
  f.prefix = {static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
              static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
  f.payload = std::move(payload);
  queued_bytes_ += f.payload.size() + 4;
  queue_.push_back(std::move(f));
  if (queued_bytes_ > impl_->opts.max_queue_bytes) {
    spdlog::warn("replication: {}: {} bytes queued (limit {}): the peer is not reading; closing",
                 Describe(), queued_bytes_, impl_->opts.max_queue_bytes);
    CloseNow("send queue overflow");
    return;
  }
  if (!writing_) DoWrite();
}

void Connection::DoWrite() {
  writing_ = true;
  OutFrame& f = queue_.front();
  std::array<net::const_buffer, 2> bufs = {net::buffer(f.prefix), net::buffer(f.payload)};
  auto done = [self = shared_from_this()](error_code ec, size_t n) { self->OnWrite(ec, n); };
  if (tls_) {
    net::async_write(*tls_, bufs, std::move(done));
  } else {
    net::async_write(socket_, bufs, std::move(done));
  }
}

void Connection::DropQueue() {
  queued_frames_.fetch_sub(queue_.size(), std::memory_order_relaxed);
  queue_.clear();
  queued_bytes_ = 0;
}

void Connection::OnWrite(error_code ec, size_t n) {
  writing_ = false;
  if (closed_) return DropQueue();
  if (ec) {
    CloseNow("write failed: " + ec.message());
    return;
  }
  if (counters_) {
    counters_->bytes_sent.fetch_add(n, std::memory_order_relaxed);
    counters_->frames_sent.fetch_add(1, std::memory_order_relaxed);
  }
  queued_bytes_ -= queue_.front().payload.size() + 4;
  queue_.pop_front();
  queued_frames_.fetch_sub(1, std::memory_order_relaxed);
  if (!queue_.empty()) DoWrite();
}

void Connection::CloseNow(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  timer_.cancel();
  resolver_.cancel();
  // A write in flight still references queue_.front(): OnWrite drops the
  // queue when it completes (with operation_aborted).
  if (!writing_) DropQueue();
  if (up_) {
    spdlog::info("replication: {} down: {}", Describe(), reason);
  } else if (role_ == Role::kDialer) {
    spdlog::debug("replication: dialing {} ({}:{}) failed: {}{}", peer_.name, peer_.host, peer_.port,
                  reason, connect_error_.empty() ? "" : " (" + connect_error_ + ")");
  } else if (state_ == State::kAwaitProof && read_failed_) {
    // The dialer hung up on our Challenge: typically it refused our proof.
    spdlog::info("replication: {} closed after our challenge ({}); does {} use another account key?",
                 Describe(), reason, peer_.name);
  } else {
    spdlog::debug("replication: {} closed during the handshake: {}", Describe(), reason);
  }
  impl_->OnClosed(shared_from_this(), up_);
}

}  // namespace regionlab::replication::detail
