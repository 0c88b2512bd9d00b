// The TCP transport's insides, shared by its files (tcp_*.cc); not part of
// its interface (tcp_transport.h). Files: tcp_transport.cc (Impl and
// TcpTransport), tcp_connection.cc (a connection: dialing, framing, reading,
// writing, closing), tcp_handshake.cc (the HMAC handshake), tcp_links.cc
// (Dialer and PeerShaper: keeping one link per peer, and its faults).
//
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
#pragma once

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
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string_view>
#include <utility>

#include "base/encoding.h"
#include "replication/replicator.h"
#include "replication/wire.pb.h"

namespace regionlab::replication::detail {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using Strand = net::strand<net::io_context::executor_type>;  // a Dialer's

constexpr uint32_t kProtocolVersion = 1;
constexpr size_t kNonceBytes = 16;
constexpr size_t kMaxNonceBytes = 64;  // accepted from the other side

enum class Role { kDialer, kAcceptor };

inline const char* RoleName(Role r) { return r == Role::kDialer ? "outbound" : "inbound"; }

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
inline int64_t SteadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Handshake (tcp_handshake.cc): a fresh random nonce, and what each side
// proves with the account key (wire.proto).
std::string RandomNonce();
std::string ReceiverProof(std::string_view key, std::string_view nonce_o, std::string_view nonce_r,
                          std::string_view receiver);
std::string OriginProof(std::string_view key, std::string_view nonce_r, std::string_view nonce_o,
                        std::string_view origin);
// Framing (tcp_connection.cc).
std::string Serialize(const pb::Frame& f);
std::string EndpointText(const tcp::socket& s);

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

  // Mutual TLS (opts.tls): the listener's and the dialer's contexts; null
  // without TLS. Set in Create, before any connection.
  std::shared_ptr<net::ssl::context> tls_server;
  std::shared_ptr<net::ssl::context> tls_client;

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

using Impl = TcpTransportCore;

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

  void Start();

  // Thread-safe. Queues a payload (already checked by the caller).
  void Send(std::string payload);

  // Thread-safe. Closes the socket (pending operations complete with
  // operation_aborted) and tells Impl once.
  void Close(std::string reason);

 private:
  struct OutFrame {
    std::array<unsigned char, 4> prefix;
    std::string payload;
  };
  std::string Describe() const;
  void ArmDeadline();

  // ---- dialing ----
  void Connect();
  void OnConnect(error_code ec);

  void OnSocketReady();
  // TLS (impl_->tls_*): the handshake over the connected socket, then `next`.
  void StartTls(std::function<void()> next);

  // ---- reading ----

  // Reads whatever the socket has into rbuf_ and handles every complete frame
  // in it. The frames of an up link that arrived together go to the
  // replicator as one batch, so a receiver that fell behind applies its
  // backlog in big batches (cheaper per entry) instead of frame by frame.
  void ReadMore();
  void OnRead(error_code ec, size_t n);
  void OnReadError(error_code ec);
  void Malformed(std::string_view what);
  void HandshakeFailed(std::string_view what);

  // ---- handshake, receiver side ----
  void OnHello(const pb::Frame& f);
  void OnProof(const pb::Frame& f);

  // ---- handshake, origin side ----
  void OnChallenge(const pb::Frame& f);
  void BecomeUp();

  // ---- after the handshake ----

  bool AllowedOnLink(const pb::Frame& f) const;

  // ---- writing ----
  void Queue(std::string payload, bool counted = true);
  void DoWrite();
  void DropQueue();
  void OnWrite(error_code ec, size_t n);

  // ---- closing ----
  void CloseNow(const std::string& reason);
  enum class State { kAwaitHello, kAwaitChallenge, kAwaitProof, kUp };

  std::shared_ptr<Impl> impl_;
  const Role role_;
  tcp::socket socket_;  // its executor is this connection's strand
  // With TLS, every read and write goes through this stream over socket_.
  std::unique_ptr<net::ssl::stream<tcp::socket&>> tls_;
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

  friend struct TcpTransportCore;
};

// Keeps one outbound connection to one peer, re-dialing with exponential
// backoff after every close until Stop.
class Dialer : public std::enable_shared_from_this<Dialer> {
 public:
  Dialer(std::shared_ptr<Impl> impl, uint32_t peer)
      : impl_(std::move(impl)), peer_(peer), strand_(net::make_strand(impl_->io)), timer_(strand_),
        backoff_ms_(std::max(1, impl_->opts.reconnect_initial_ms)) {}

  void Start();
  void Stop();
  // The current connection closed; `was_up` if it had completed the handshake.
  void OnClosed(bool was_up);
  // The peer just dialed us, so it is up: if we are waiting out a backoff
  // after failed dials, dial now (a restarted region is reached at once, not
  // up to reconnect_max_ms later).
  void PeerSeen();

 private:
  void ScheduleRedial(bool was_up);
  void Dial();
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

  void SetFaults(const LinkFaults& faults, uint64_t stream_seed);
  LinkFaults faults() const;
  LinkShaperStats stats() const;
  void Submit(const std::shared_ptr<Connection>& conn, std::string payload);
  void Stop();

 private:
  struct Held {
    std::shared_ptr<Connection> conn;
    std::string payload;
  };

  void ReleaseDueLocked(int64_t now);
  void ArmLocked();
  void OnTimer();

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

}  // namespace regionlab::replication::detail
