// TcpTransport: the listener, the peers and their links, and the transport
// interface the Replicator calls (see tcp_internal.h for the objects, locks
// and lifetimes).
#include "replication/tcp_internal.h"
#include "tls/contexts.h"

namespace regionlab::replication {
namespace detail {

std::shared_ptr<PeerShaper> Impl::ShaperFor(uint32_t id) {
  std::lock_guard<std::mutex> lock(mu);
  auto& s = shapers[id];
  if (!s) s = std::make_shared<PeerShaper>(io);
  return s;
}

bool Impl::Register(const std::shared_ptr<Connection>& c, uint64_t* id) {
  std::lock_guard<std::mutex> lock(mu);
  if (stopped.load()) return false;
  *id = next_id++;
  c->set_id(*id);
  live[*id] = c;
  return true;
}

void Impl::DoAccept() {
  acceptor.async_accept(net::make_strand(io), [self = shared_from_this()](error_code ec,
                                                                          tcp::socket socket) {
    if (self->stopped.load() || ec == net::error::operation_aborted) return;
    if (ec) {
      // E.g. out of file descriptors: back off briefly rather than spin.
      spdlog::warn("replication: accept on port {}: {}", self->port, ec.message());
      self->accept_retry.expires_after(std::chrono::milliseconds(100));
      self->accept_retry.async_wait([self](error_code ec) {
        if (!ec) self->DoAccept();
      });
      return;
    }
    auto conn = std::make_shared<Connection>(self, Role::kAcceptor, std::move(socket));
    uint64_t id;
    if (self->Register(conn, &id)) conn->Start();
    self->DoAccept();
  });
}

bool Impl::OnAuthenticated(const std::shared_ptr<Connection>& c) {
  const uint32_t peer = c->peer_id();
  std::shared_ptr<Connection> old;
  {
    std::lock_guard<std::mutex> deliver(deliver_mu);
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stopped.load()) return false;
      auto& slot = (c->role() == Role::kDialer ? outbound : inbound)[peer];
      old = std::exchange(slot, c);
    }
    if (c->counters_) c->counters_->connects.fetch_add(1, std::memory_order_relaxed);
    spdlog::info("replication: {} up", c->Describe());
    if (replicator) {
      if (c->role() == Role::kDialer) {
        if (old) replicator->OnOutboundDown(peer);
        replicator->OnOutboundUp(peer);
      } else {
        if (old) replicator->OnInboundDown(peer);
        replicator->OnInboundUp(peer);
      }
    }
  }
  if (old) old->Close("replaced by a newer connection");
  if (c->role() == Role::kAcceptor) {
    std::shared_ptr<Dialer> dialer;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (auto it = dialers.find(peer); it != dialers.end() && !outbound.count(peer)) dialer = it->second;
    }
    if (dialer) dialer->PeerSeen();
  }
  return true;
}

void Impl::OnClosed(const std::shared_ptr<Connection>& c, bool was_up) {
  {
    std::lock_guard<std::mutex> deliver(deliver_mu);
    bool current = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      live.erase(c->id());
      if (was_up) {
        auto& links = c->role() == Role::kDialer ? outbound : inbound;
        auto it = links.find(c->peer_id());
        if (it != links.end() && it->second == c) {
          links.erase(it);
          current = true;
        }
      }
    }
    if (current && replicator) {
      if (c->role() == Role::kDialer) {
        replicator->OnOutboundDown(c->peer_id());
      } else {
        replicator->OnInboundDown(c->peer_id());
      }
    }
  }
  if (c->dialer_) c->dialer_->OnClosed(was_up);
}

void Impl::Deliver(const Connection& c, std::vector<pb::Frame>& frames) {
  std::lock_guard<std::mutex> deliver(deliver_mu);
  if (!replicator) return;
  {
    std::lock_guard<std::mutex> lock(mu);
    const auto& links = c.role() == Role::kDialer ? outbound : inbound;
    auto it = links.find(c.peer_id());
    if (it == links.end() || it->second.get() != &c) return;  // replaced or closing
  }
  if (c.role() == Role::kDialer) {
    for (const pb::Frame& f : frames) replicator->OnOutboundParsedFrame(c.peer_id(), f);
  } else {
    replicator->OnInboundParsedFrames(c.peer_id(), frames);
  }
}

// THE OUTBOUND HOOK. Every replication payload this region sends passes here
// and only here: SendToPeer (Entries, Snapshot on our outbound link to `peer`)
// and ReplyToPeer (Resume, Ack on `peer`'s inbound link). Handshake frames do
// not (they are queued by the connection itself), so a faulty link still
// authenticates. Both kinds are "frames from us to `peer`" and go through that
// peer's PeerShaper (delay/jitter, drop, duplicate, reorder, bandwidth,
// partition; decisions from the link's seeded stream, see link_shaper.h),
// which hands the surviving copies to Connection::Send, at once or later from
// its timer. Connection::Send is thread-safe and preserves the order of its
// calls, and the shaper calls it under its own lock in release order.
void Impl::EnqueueOutbound(Role link, uint32_t peer, std::string payload) {
  std::shared_ptr<Connection> conn;
  std::shared_ptr<PeerShaper> shaper;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (stopped.load()) return;
    const auto& links = link == Role::kDialer ? outbound : inbound;
    auto it = links.find(peer);
    if (it != links.end()) conn = it->second;
    if (auto s = shapers.find(peer); s != shapers.end()) shaper = s->second;
  }
  if (!conn) {
    spdlog::debug("replication: {} link with region {} is down; dropping a {}-byte frame",
                  RoleName(link), peer, payload.size());
    return;
  }
  if (payload.empty() || payload.size() > opts.max_frame_bytes) {
    spdlog::error("replication: dropping a {}-byte frame for region {} (limit {})", payload.size(), peer,
                  opts.max_frame_bytes);
    return;
  }
  if (shaper) {
    shaper->Submit(conn, std::move(payload));
  } else {
    conn->Send(std::move(payload));
  }
}

}  // namespace detail

using detail::Connection;
using detail::Dialer;
using detail::Impl;
using detail::PeerShaper;
using detail::PeerCounters;
using detail::Role;
using detail::error_code;
using detail::tcp;
namespace net = boost::asio;

// ---------------------------------------------------------------- TcpTransport

TcpTransport::TcpTransport(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

TcpTransport::~TcpTransport() { Stop(); }

Result<std::unique_ptr<TcpTransport>> TcpTransport::Create(net::io_context& io,
                                                           TcpTransportOptions opts) {
  auto key = Base64Decode(opts.account_key);
  if (!key || key->empty()) return Status::BadRequest("account key is not base64");
  if (opts.self_name.empty()) return Status::BadRequest("self_name is empty");
  if (opts.max_frame_bytes == 0 || opts.max_frame_bytes > 0xffffffffu) {
    return Status::BadRequest("max_frame_bytes out of range");
  }
  if (opts.handshake_timeout_ms <= 0) return Status::BadRequest("handshake_timeout_ms must be > 0");
  error_code ec;
  auto addr = net::ip::make_address(opts.listen_host, ec);
  if (ec) return Status::BadRequest("listen_host is not an IP address: " + opts.listen_host);
  const tcp::endpoint ep(addr, opts.listen_port);
  std::vector<PeerEndpoint> initial = opts.peers;

  std::shared_ptr<net::ssl::context> tls_server, tls_client;
  if (opts.tls.enabled()) {
    auto server = tls::MakeServerContext(opts.tls, /*require_client_certificate=*/true);
    if (!server.ok()) return server.status();
    auto client = tls::MakeClientContext(opts.tls);
    if (!client.ok()) return client.status();
    tls_server = std::move(server).value();
    tls_client = std::move(client).value();
  }

  auto impl = std::make_shared<Impl>(io, std::move(opts));
  impl->key = std::move(*key);
  impl->tls_server = std::move(tls_server);
  impl->tls_client = std::move(tls_client);
  auto& a = impl->acceptor;
  auto fail = [&](const char* what) {
    return Status::Unavailable(std::string("replication listener ") + what + " " + addr.to_string() +
                               ":" + std::to_string(ep.port()) + ": " + ec.message());
  };
  if (a.open(ep.protocol(), ec); ec) return fail("open");
  if (a.set_option(net::socket_base::reuse_address(true), ec); ec) return fail("SO_REUSEADDR");
  if (a.bind(ep, ec); ec) return fail("bind");
  if (a.listen(net::socket_base::max_listen_connections, ec); ec) return fail("listen");
  auto local = a.local_endpoint(ec);
  if (ec) return fail("local_endpoint");
  impl->port = local.port();

  std::unique_ptr<TcpTransport> t(new TcpTransport(std::move(impl)));
  t->SetPeers(std::move(initial));
  spdlog::info("replication: {} listening on {}:{}", t->impl_->opts.self_name, addr.to_string(),
               t->impl_->port);
  return t;
}

uint16_t TcpTransport::port() const { return impl_->port; }

void TcpTransport::SetPeers(std::vector<PeerEndpoint> peers) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->started) {
    spdlog::warn("replication: SetPeers after Start is ignored");
    return;
  }
  impl_->peers.clear();
  for (auto& p : peers) {
    if (p.id == impl_->opts.self_id) continue;
    auto& c = impl_->counters[p.id];
    if (!c) c = std::make_shared<PeerCounters>();
    auto& s = impl_->shapers[p.id];
    if (!s) s = std::make_shared<PeerShaper>(impl_->io);
    impl_->peers[p.id] = std::move(p);
  }
}

void TcpTransport::Start(Replicator* replicator) {
  std::vector<std::shared_ptr<Dialer>> dialers;
  {
    std::lock_guard<std::mutex> deliver(impl_->deliver_mu);
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->started || impl_->stopped.load()) {
      spdlog::warn("replication: TcpTransport::Start called twice or after Stop; ignored");
      return;
    }
    impl_->started = true;
    impl_->replicator = replicator;
    for (const auto& [id, p] : impl_->peers) {
      auto d = std::make_shared<Dialer>(impl_, id);
      impl_->dialers[id] = d;
      dialers.push_back(std::move(d));
    }
  }
  net::post(impl_->acceptor.get_executor(), [impl = impl_] { impl->DoAccept(); });
  for (auto& d : dialers) d->Start();
}

void TcpTransport::Stop() {
  {
    // Waits for a replicator call in progress on another thread.
    std::lock_guard<std::mutex> deliver(impl_->deliver_mu);
    impl_->replicator = nullptr;
  }
  std::map<uint64_t, std::shared_ptr<Connection>> live;
  std::map<uint32_t, std::shared_ptr<Dialer>> dialers;
  std::vector<std::shared_ptr<PeerShaper>> shapers;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stopped.load()) return;
    impl_->stopped.store(true);
    for (auto& [id, sh] : impl_->shapers) shapers.push_back(sh);
    live.swap(impl_->live);
    dialers.swap(impl_->dialers);
    impl_->outbound.clear();
    impl_->inbound.clear();
  }
  net::post(impl_->acceptor.get_executor(), [impl = impl_] {
    error_code ignored;
    impl->acceptor.close(ignored);
    impl->accept_retry.cancel();
  });
  for (auto& sh : shapers) sh->Stop();  // drops held copies (they hold connections)
  for (auto& [id, d] : dialers) d->Stop();
  for (auto& [id, c] : live) c->Close("stopping");
  spdlog::info("replication: {} transport stopped", impl_->opts.self_name);
}

void TcpTransport::SendToPeer(uint32_t peer, std::string payload) {
  impl_->EnqueueOutbound(Role::kDialer, peer, std::move(payload));
}

void TcpTransport::ReplyToPeer(uint32_t peer, std::string payload) {
  impl_->EnqueueOutbound(Role::kAcceptor, peer, std::move(payload));
}

void TcpTransport::SetLinkFaults(uint32_t peer, const LinkFaults& faults) {
  std::string peer_name;
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto it = impl_->peers.find(peer);
    if (it == impl_->peers.end()) {
      spdlog::warn("replication: link faults for unknown region {} ignored", peer);
      return;
    }
    peer_name = it->second.name;
    generation = impl_->fault_generations[peer]++;
  }
  auto shaper = impl_->ShaperFor(peer);
  shaper->SetFaults(faults, LinkStreamSeed(impl_->opts.fault_seed, impl_->opts.self_name, peer_name, generation));
  spdlog::info("fault: link {} -> {}: {}", impl_->opts.self_name, peer_name, faults.Describe());
}

void TcpTransport::DropConnections() {
  std::vector<std::shared_ptr<Connection>> conns;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (const auto& [id, c] : impl_->live) conns.push_back(c);
  }
  spdlog::info("replication: {}: dropping {} connections", impl_->opts.self_name, conns.size());
  for (auto& c : conns) c->Close("dropped (fault injection)");
}

TcpTransport::LinkInfo TcpTransport::Info(uint32_t peer) const {
  LinkInfo info;
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (auto it = impl_->outbound.find(peer); it != impl_->outbound.end()) {
    info.outbound_connected = true;
    info.outbound_queue = it->second->queued();
  }
  info.inbound_connected = impl_->inbound.count(peer) > 0;
  if (auto it = impl_->counters.find(peer); it != impl_->counters.end()) {
    info.bytes_sent = it->second->bytes_sent.load(std::memory_order_relaxed);
    info.frames_sent = it->second->frames_sent.load(std::memory_order_relaxed);
    info.outbound_connects = it->second->connects.load(std::memory_order_relaxed);
  }
  if (auto it = impl_->shapers.find(peer); it != impl_->shapers.end()) {
    info.faults = it->second->faults();
    info.shaper = it->second->stats();
  }
  return info;
}

uint64_t TcpTransport::handshake_failures() const {
  return impl_->handshake_failures.load(std::memory_order_relaxed);
}

uint64_t TcpTransport::malformed_frames() const {
  return impl_->malformed_frames.load(std::memory_order_relaxed);
}

}  // namespace regionlab::replication
