// TcpTransport implementation. Shaped like Beast's async server and its
// websocket chat-multi example: one io_context, a strand per connection (its
// socket, timers and write queue live on it), one outbound queue per
// connection with at most one async_write in flight, errors as error_code,
// nothing thrown.
//
// Objects:
//   Impl        shared state: options, the decoded key, the listener, the
//               peers, the authenticated connections by peer, counters.
//   Dialer      one per peer: dials, and re-dials with backoff after every
//               close until Stop.
//   Connection  one TCP connection in either role (dialer = our outbound
//               link, acceptor = a peer's inbound link): handshake, framing,
//               write queue.
//   PeerShaper  one per peer: the link faults of every frame to that peer
//               (its own leaf mutex and timer; see EnqueueOutbound).
//
// Locks (order: deliver_mu -> Replicator's own mutex -> mu):
//   mu          guards Impl's maps and flags. Held only for brief lookups and
//               updates, never across I/O or a call into the Replicator. It is
//               the only lock on the SendToPeer/ReplyToPeer path, so the
//               Replicator may call those re-entrantly, with its own mutex
//               held, from inside any callback.
//   deliver_mu  held around every call into the Replicator (link events and
//               frames) and by Stop. It makes "is this connection still the
//               current one for the peer?" and the matching Up/Down/Frame
//               call one atomic step, so a replaced connection's late Down or
//               frame never reaches the Replicator after its replacement's
//               Up, even with several io threads; and it lets Stop wait for a
//               call in progress. Nothing the Replicator can call takes it,
//               so it adds no cycle.
//
// Lifetime: Impl is shared by TcpTransport and every pending handler (through
// Connection and Dialer), so the transport object may go away after Stop
// while handlers still drain. Stop clears Impl's maps, which breaks the
// Impl -> Connection/Dialer -> Impl cycles.
#include "replication/tcp_transport.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string_view>
#include <utility>

#include "base/encoding.h"
#include "replication/replicator.h"
#include "replication/wire.pb.h"

namespace regionlab::replication {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using Strand = net::strand<net::io_context::executor_type>;  // a Dialer's

constexpr uint32_t kProtocolVersion = 1;
constexpr size_t kNonceBytes = 16;
constexpr size_t kMaxNonceBytes = 64;  // accepted from the other side

enum class Role { kDialer, kAcceptor };

const char* RoleName(Role r) { return r == Role::kDialer ? "outbound" : "inbound"; }

std::string RandomNonce() {
  std::random_device rd;
  std::string out(kNonceBytes, '\0');
  for (size_t i = 0; i < kNonceBytes; i += 4) {
    uint32_t v = rd();
    for (size_t j = 0; j < 4 && i + j < kNonceBytes; ++j) out[i + j] = static_cast<char>(v >> (8 * j));
  }
  return out;
}

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

// What both sides prove (wire.proto): "|" is concatenation.
std::string ReceiverProof(std::string_view key, std::string_view nonce_o, std::string_view nonce_r,
                          std::string_view receiver) {
  std::string data = "rl-recv";
  data.append(nonce_o).append(nonce_r).append(receiver);
  return HmacSha256(key, data);
}

std::string OriginProof(std::string_view key, std::string_view nonce_r, std::string_view nonce_o,
                        std::string_view origin) {
  std::string data = "rl-orig";
  data.append(nonce_r).append(nonce_o).append(origin);
  return HmacSha256(key, data);
}

// Cumulative counters of one peer's outbound link, across its connections.
struct PeerCounters {
  std::atomic<uint64_t> bytes_sent{0};
  std::atomic<uint64_t> frames_sent{0};
  std::atomic<uint64_t> connects{0};
};

class Connection;
class Dialer;
class PeerShaper;

// Steady-clock microseconds: the link shapers' time base (their timers expire
// on the same clock).
int64_t SteadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

namespace detail {

struct TcpTransportCore : std::enable_shared_from_this<TcpTransportCore> {
  TcpTransportCore(net::io_context& io_in, TcpTransportOptions o)
      : io(io_in), opts(std::move(o)), acceptor(net::make_strand(io_in)),
        accept_retry(acceptor.get_executor()) {}

  net::io_context& io;
  const TcpTransportOptions opts;  // opts.peers is only the initial list; see `peers`
  std::string key;                 // decoded account key
  tcp::acceptor acceptor;          // used on its own strand only
  net::steady_timer accept_retry;  // same strand
  uint16_t port = 0;

  std::atomic<uint64_t> handshake_failures{0};
  std::atomic<uint64_t> malformed_frames{0};

  std::mutex deliver_mu;
  Replicator* replicator = nullptr;  // guarded by deliver_mu

  mutable std::mutex mu;
  bool started = false;                                         // guarded by mu
  std::atomic<bool> stopped{false};                             // written under mu
  std::map<uint32_t, PeerEndpoint> peers;                       // guarded by mu
  std::map<uint32_t, std::shared_ptr<PeerCounters>> counters;  // guarded by mu
  std::map<uint32_t, std::shared_ptr<Dialer>> dialers;          // guarded by mu
  // Connections past the handshake, by peer: the links.
  std::map<uint32_t, std::shared_ptr<Connection>> outbound;  // guarded by mu
  std::map<uint32_t, std::shared_ptr<Connection>> inbound;   // guarded by mu
  // Every open connection (handshaking or not), by id, for Stop and Drop.
  std::map<uint64_t, std::shared_ptr<Connection>> live;  // guarded by mu
  uint64_t next_id = 1;                                 // guarded by mu
  // Per peer: the shaper of every frame from this region to it, and how many
  // times its faults were set (the random stream's generation).
  std::map<uint32_t, std::shared_ptr<PeerShaper>> shapers;  // guarded by mu
  std::map<uint32_t, uint64_t> fault_generations;           // guarded by mu

  std::shared_ptr<PeerShaper> ShaperFor(uint32_t id);  // creates it; takes mu

  std::optional<PeerEndpoint> FindPeer(uint32_t id) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = peers.find(id);
    if (it == peers.end()) return std::nullopt;
    return it->second;
  }
  std::shared_ptr<PeerCounters> CountersFor(uint32_t id) {
    std::lock_guard<std::mutex> lock(mu);
    auto& c = counters[id];
    if (!c) c = std::make_shared<PeerCounters>();
    return c;
  }

  // Adds a new connection to `live`; false (and the caller drops it) after Stop.
  bool Register(const std::shared_ptr<Connection>& c, uint64_t* id);
  void DoAccept();
  // The handshake of `c` completed: it becomes the peer's link and the
  // replicator hears of it. False after Stop (the caller closes `c`).
  bool OnAuthenticated(const std::shared_ptr<Connection>& c);
  // A connection closed (for any reason); called once, from its strand.
  void OnClosed(const std::shared_ptr<Connection>& c, bool was_up);
  // Frames read together on an authenticated connection, in order, parsed
  // (the replicator may move parts out of them).
  void Deliver(const Connection& c, std::vector<pb::Frame>& frames);
  void EnqueueOutbound(Role link, uint32_t peer, std::string payload);
};

}  // namespace detail

namespace {

using Impl = detail::TcpTransportCore;

// One TCP connection. Everything but Send/Close/queued runs on the strand that
// is its socket's executor.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `socket` is a fresh socket (dialer) or an accepted one (acceptor); its
  // executor is the connection's strand. Dialer role: `peer` is the region
  // being dialed, `dialer` is told when the connection closes, `counters`
  // count the link's traffic.
  Connection(std::shared_ptr<Impl> impl, Role role, tcp::socket socket, PeerEndpoint peer = {},
             std::shared_ptr<Dialer> dialer = nullptr, std::shared_ptr<PeerCounters> counters = nullptr)
      : impl_(std::move(impl)), role_(role), socket_(std::move(socket)), timer_(socket_.get_executor()),
        resolver_(socket_.get_executor()), dialer_(std::move(dialer)), counters_(std::move(counters)),
        peer_(std::move(peer)) {}

  void set_id(uint64_t id) { id_ = id; }
  uint64_t id() const { return id_; }
  Role role() const { return role_; }
  // Valid once authenticated (dialer: from the start).
  uint32_t peer_id() const { return peer_.id; }
  const PeerEndpoint& peer() const { return peer_; }
  size_t queued() const { return queued_frames_.load(std::memory_order_relaxed); }

  void Start() {
    net::post(socket_.get_executor(), [self = shared_from_this()] {
      self->ArmDeadline();
      if (self->role_ == Role::kDialer) {
        self->Connect();
      } else {
        self->OnSocketReady();
        self->ReadMore();
      }
    });
  }

  // Thread-safe. Queues a payload (already checked by the caller).
  void Send(std::string payload) {
    queued_frames_.fetch_add(1, std::memory_order_relaxed);
    net::post(socket_.get_executor(), [self = shared_from_this(), p = std::move(payload)]() mutable {
      self->Queue(std::move(p));
    });
  }

  // Thread-safe. Closes the socket (pending operations complete with
  // operation_aborted) and tells Impl once.
  void Close(std::string reason) {
    net::post(socket_.get_executor(), [self = shared_from_this(), r = std::move(reason)] { self->CloseNow(r); });
  }

 private:
  struct OutFrame {
    std::array<unsigned char, 4> prefix;
    std::string payload;
  };

  std::string Describe() const {
    std::string who = peer_.name.empty() ? std::string("?") : peer_.name;
    return std::string(RoleName(role_)) + " link " +
           (role_ == Role::kDialer ? impl_->opts.self_name + " -> " + who
                                   : who + " -> " + impl_->opts.self_name) +
           " (" + remote_ + ")";
  }

  void ArmDeadline() {
    timer_.expires_after(std::chrono::milliseconds(impl_->opts.handshake_timeout_ms));
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec || self->closed_ || self->up_) return;
      self->impl_->handshake_failures.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("replication: {}: handshake timed out after {} ms", self->Describe(),
                   self->impl_->opts.handshake_timeout_ms);
      self->CloseNow("handshake timeout");
    });
  }

  // ---- dialing ----

  void Connect() {
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

  void OnConnect(error_code ec) {
    if (closed_) return;
    if (ec) {
      connect_error_ = ec.message();
      CloseNow("connect failed");
      return;
    }
    OnSocketReady();
    nonce_o_ = RandomNonce();
    pb::Frame f;
    auto* hello = f.mutable_hello();
    hello->set_region(impl_->opts.self_name);
    hello->set_region_id(impl_->opts.self_id);
    hello->set_nonce(nonce_o_);
    hello->set_protocol(kProtocolVersion);
    Queue(Serialize(f), /*counted=*/false);
    state_ = State::kAwaitChallenge;
    ReadMore();
  }

  void OnSocketReady() {
    error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    if (ec) spdlog::debug("replication: TCP_NODELAY: {}", ec.message());
    auto r = EndpointText(socket_);
    if (r != "?") remote_ = r;
  }

  // ---- reading ----

  // Reads whatever the socket has into rbuf_ and handles every complete frame
  // in it. The frames of an up link that arrived together go to the
  // replicator as one batch, so a receiver that fell behind applies its
  // backlog in big batches (cheaper per entry) instead of frame by frame.
  void ReadMore() {
    constexpr size_t kChunk = 64 << 10;
    const size_t want = std::max(rlen_ + kChunk, partial_frame_bytes_);
    if (rbuf_.size() < want) rbuf_.resize(want);
    socket_.async_read_some(net::buffer(rbuf_.data() + rlen_, rbuf_.size() - rlen_),
                            [self = shared_from_this()](error_code ec, size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(error_code ec, size_t n) {
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

  void OnReadError(error_code ec) {
    read_failed_ = true;
    if (ec == net::error::eof) {
      CloseNow("closed by peer");
    } else {
      CloseNow(ec.message());
    }
  }

  void Malformed(std::string_view what) {
    impl_->malformed_frames.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("replication: {}: malformed frame ({}); closing", Describe(), what);
    CloseNow("malformed frame");
  }

  void HandshakeFailed(std::string_view what) {
    impl_->handshake_failures.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("replication: {}: handshake refused: {}", Describe(), what);
    CloseNow("handshake refused");
  }

  // ---- handshake, receiver side ----

  void OnHello(const pb::Frame& f) {
    if (!f.has_hello()) return HandshakeFailed("expected Hello");
    const pb::Hello& h = f.hello();
    if (h.protocol() != kProtocolVersion) {
      return HandshakeFailed("protocol " + std::to_string(h.protocol()) + " (want 1)");
    }
    std::optional<PeerEndpoint> p;
    if (h.region_id() != impl_->opts.self_id) p = impl_->FindPeer(h.region_id());
    if (!p) {
      return HandshakeFailed("unknown region " + h.region() + " (id " +
                             std::to_string(h.region_id()) + ")");
    }
    if (p->name != h.region()) {
      return HandshakeFailed("region id " + std::to_string(h.region_id()) + " is " + p->name +
                             " here, not " + h.region());
    }
    if (h.nonce().size() < kNonceBytes || h.nonce().size() > kMaxNonceBytes) {
      return HandshakeFailed("bad nonce length " + std::to_string(h.nonce().size()));
    }
    peer_ = *p;
    nonce_o_ = h.nonce();
    nonce_r_ = RandomNonce();
    pb::Frame out;
    auto* c = out.mutable_challenge();
    c->set_region(impl_->opts.self_name);
    c->set_region_id(impl_->opts.self_id);
    c->set_nonce(nonce_r_);
    c->set_proof(ReceiverProof(impl_->key, nonce_o_, nonce_r_, impl_->opts.self_name));
    Queue(Serialize(out), false);
    state_ = State::kAwaitProof;
  }

  void OnProof(const pb::Frame& f) {
    if (!f.has_proof()) return HandshakeFailed("expected Proof");
    std::string want = OriginProof(impl_->key, nonce_r_, nonce_o_, peer_.name);
    if (!SignaturesEqual(f.proof().proof(), want)) {
      return HandshakeFailed("stranger: the proof does not verify (not our account key)");
    }
    BecomeUp();
  }

  // ---- handshake, origin side ----

  void OnChallenge(const pb::Frame& f) {
    if (!f.has_challenge()) return HandshakeFailed("expected Challenge");
    const pb::Challenge& c = f.challenge();
    if (c.region_id() != peer_.id || c.region() != peer_.name) {
      return HandshakeFailed("answered as " + c.region() + " (id " + std::to_string(c.region_id()) +
                             "), expected " + peer_.name + " (id " + std::to_string(peer_.id) + ")");
    }
    if (c.nonce().size() < kNonceBytes || c.nonce().size() > kMaxNonceBytes) {
      return HandshakeFailed("bad nonce length " + std::to_string(c.nonce().size()));
    }
    nonce_r_ = c.nonce();
    std::string want = ReceiverProof(impl_->key, nonce_o_, nonce_r_, peer_.name);
    if (!SignaturesEqual(c.proof(), want)) {
      return HandshakeFailed("the receiver's proof does not verify (it does not know our account key)");
    }
    pb::Frame out;
    out.mutable_proof()->set_proof(OriginProof(impl_->key, nonce_r_, nonce_o_, impl_->opts.self_name));
    Queue(Serialize(out), false);
    BecomeUp();
  }

  void BecomeUp() {
    up_ = true;
    state_ = State::kUp;
    timer_.cancel();
    // Clear the nonces: nothing more to prove on this connection.
    nonce_o_.clear();
    nonce_r_.clear();
    if (!impl_->OnAuthenticated(shared_from_this())) CloseNow("stopping");
  }

  // ---- after the handshake ----

  bool AllowedOnLink(const pb::Frame& f) const {
    return role_ == Role::kDialer
               ? (f.has_resume() || f.has_ack())
               : (f.has_entries() || f.has_snapshot() || f.has_message() || f.has_resume_request());
  }

  // ---- writing ----

  void Queue(std::string payload, bool counted = true) {
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

  void DoWrite() {
    writing_ = true;
    OutFrame& f = queue_.front();
    std::array<net::const_buffer, 2> bufs = {net::buffer(f.prefix), net::buffer(f.payload)};
    net::async_write(socket_, bufs, [self = shared_from_this()](error_code ec, size_t n) {
      self->OnWrite(ec, n);
    });
  }

  void DropQueue() {
    queued_frames_.fetch_sub(queue_.size(), std::memory_order_relaxed);
    queue_.clear();
    queued_bytes_ = 0;
  }

  void OnWrite(error_code ec, size_t n) {
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

  // ---- closing ----

  void CloseNow(const std::string& reason) {
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

  enum class State { kAwaitHello, kAwaitChallenge, kAwaitProof, kUp };

  std::shared_ptr<Impl> impl_;
  const Role role_;
  tcp::socket socket_;  // its executor is this connection's strand
  net::steady_timer timer_;  // handshake deadline
  tcp::resolver resolver_;
  std::shared_ptr<Dialer> dialer_;  // dialer role: told when we close
  std::shared_ptr<PeerCounters> counters_;  // dialer role: the link's counters
  uint64_t id_ = 0;
  PeerEndpoint peer_;
  std::string remote_ = "?";
  std::string connect_error_;

  State state_ = State::kAwaitHello;
  bool up_ = false;
  bool closed_ = false;
  bool read_failed_ = false;  // the peer closed or reset the connection
  std::string nonce_o_, nonce_r_;

  std::string rbuf_;                // bytes read, not yet handled: [0, rlen_)
  size_t rlen_ = 0;
  size_t partial_frame_bytes_ = 0;  // size of the incomplete frame at rbuf_'s start, if any

  std::deque<OutFrame> queue_;  // front() is being written when writing_
  bool writing_ = false;
  size_t queued_bytes_ = 0;
  std::atomic<size_t> queued_frames_{0};  // read by Info from any thread

  friend struct detail::TcpTransportCore;
};

// Keeps one outbound connection to one peer, re-dialing with exponential
// backoff after every close until Stop.
class Dialer : public std::enable_shared_from_this<Dialer> {
 public:
  Dialer(std::shared_ptr<Impl> impl, uint32_t peer)
      : impl_(std::move(impl)), peer_(peer), strand_(net::make_strand(impl_->io)), timer_(strand_),
        backoff_ms_(std::max(1, impl_->opts.reconnect_initial_ms)) {}

  void Start() {
    net::post(strand_, [self = shared_from_this()] { self->Dial(); });
  }
  void Stop() {
    net::post(strand_, [self = shared_from_this()] { self->timer_.cancel(); });
  }
  // The current connection closed; `was_up` if it had completed the handshake.
  void OnClosed(bool was_up) {
    net::post(strand_, [self = shared_from_this(), was_up] { self->ScheduleRedial(was_up); });
  }
  // The peer just dialed us, so it is up: if we are waiting out a backoff
  // after failed dials, dial now (a restarted region is reached at once, not
  // up to reconnect_max_ms later).
  void PeerSeen() {
    net::post(strand_, [self = shared_from_this()] {
      if (!self->waiting_) return;
      self->waiting_ = false;
      self->timer_.cancel();
      self->Dial();
    });
  }

 private:
  void ScheduleRedial(bool was_up) {
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

  void Dial() {
    if (impl_->stopped.load()) return;
    auto p = impl_->FindPeer(peer_);
    if (!p) return;
    auto conn = std::make_shared<Connection>(impl_, Role::kDialer, tcp::socket(net::make_strand(impl_->io)),
                                             *p, shared_from_this(), impl_->CountersFor(peer_));
    uint64_t id;
    if (!impl_->Register(conn, &id)) return;
    conn->Start();
  }

  std::shared_ptr<Impl> impl_;
  const uint32_t peer_;
  Strand strand_;
  net::steady_timer timer_;
  int backoff_ms_;
  int failures_ = 0;
  bool waiting_ = false;  // a re-dial is scheduled (strand only)
};


// The link shaper of the frames from this region to one peer (both of its
// connections: Entries/Snapshot on our outbound link, Resume/Ack on the
// peer's inbound link). LinkShaperCore decides; this class holds the copies
// until their release time (one steady_timer on its own strand) and hands
// them to the connection they were sent on, in release order. A copy whose
// connection closed meanwhile is lost there, as it would be on the wire.
//
// Locking: `mu_` is a leaf lock. Submit runs under the caller's locks
// (deliver_mu, the Replicator's mutex); under mu_ it only calls
// Connection::Send (which posts) and the timer (every timer call is made
// under mu_, so they never run concurrently).
class PeerShaper : public std::enable_shared_from_this<PeerShaper> {
 public:
  explicit PeerShaper(net::io_context& io) : timer_(net::make_strand(io)) {}

  void SetFaults(const LinkFaults& faults, uint64_t stream_seed) {
    std::lock_guard<std::mutex> lock(mu_);
    core_.Reset(faults, stream_seed);
    active_ = faults.Any();
  }
  LinkFaults faults() const {
    std::lock_guard<std::mutex> lock(mu_);
    return core_.faults();
  }
  LinkShaperStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    LinkShaperStats s = stats_;
    s.queued = held_.size();
    return s;
  }

  void Submit(const std::shared_ptr<Connection>& conn, std::string payload);

  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    held_.clear();
    if (armed_) timer_.cancel();
    armed_ = false;
  }

 private:
  struct Held {
    std::shared_ptr<Connection> conn;
    std::string payload;
  };

  void ReleaseDueLocked(int64_t now);
  void ArmLocked() {
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
  void OnTimer() {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    armed_ = false;
    ReleaseDueLocked(SteadyMicros());
    ArmLocked();
  }

  mutable std::mutex mu_;
  net::steady_timer timer_;
  LinkShaperCore core_;      // guarded by mu_
  bool active_ = false;      // core_.faults().Any()
  bool stopped_ = false;
  bool armed_ = false;       // a wait is pending for armed_at_
  int64_t armed_at_ = 0;
  uint64_t next_seq_ = 0;
  std::map<std::pair<int64_t, uint64_t>, Held> held_;  // (release micros, seq) -> copy
  LinkShaperStats stats_;    // queued is computed in stats()
};

}  // namespace

// ---------------------------------------------------------------- Impl

namespace {

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

}  // namespace

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

  auto impl = std::make_shared<Impl>(io, std::move(opts));
  impl->key = std::move(*key);
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
