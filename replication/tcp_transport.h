// TcpTransport: the replication Transport over real TCP (Boost.Asio), with the
// framing and the challenge-response handshake of replication/wire.proto.
//
// Links. A region DIALS every peer for its outbound link (its own writes go
// out on it; the peer's Resume/Ack come back on it) and ACCEPTS the peers'
// outbound links as its inbound links (their writes come in; Resume/Ack go
// back). So there is one TCP connection per direction per pair. The dialer
// keeps re-dialing with exponential backoff until Stop(); a newer inbound
// connection from a peer replaces an older one.
//
// Events. Once a handshake completes the transport calls
// Replicator::OnOutboundUp / OnInboundUp, then hands every frame read, parsed
// once, to OnOutboundParsedFrame / OnInboundParsedFrames, and OnOutboundDown /
// OnInboundDown when the connection closes. These calls come from io threads; the replicator may
// call SendToPeer / ReplyToPeer from inside them.
//
// Thread-safety: every public method may be called from any thread. The
// io_context may be run by any number of threads (each connection has its own
// strand). `io` must outlive the transport's pending handlers; the transport
// may be destroyed after Stop() while `io` still runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/cosmos_auth.h"
#include "base/status.h"
#include "base/tls_files.h"
#include "replication/interfaces.h"
#include "replication/link_shaper.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace regionlab::replication {

class Replicator;
namespace detail {
struct TcpTransportCore;  // tcp_transport.cc
}  // namespace detail

// A peer region's replication listener.
struct PeerEndpoint {
  uint32_t id = 0;
  std::string name;  // short region name ("westeurope"); part of the handshake proofs
  std::string host;  // IP address or host name
  uint16_t port = 0;
};

struct TcpTransportOptions {
  // This region's id and short name.
  uint32_t self_id = 0;
  std::string self_name;
  // IP address and port of the replication listener. Port 0 picks a free
  // port (see TcpTransport::port()). Default: 127.0.0.1:0.
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;
  // The other regions. May also be given later with SetPeers(), before Start.
  std::vector<PeerEndpoint> peers;
  // Account master key, base64 (as in Cosmos connection strings); decoded, it
  // keys the handshake HMACs. Default: the emulator's well-known key.
  std::string account_key = std::string(kEmulatorKey);
  // Largest frame payload accepted; a longer (or zero) length prefix closes
  // the connection. Default: 16 MiB.
  size_t max_frame_bytes = 16 << 20;
  // Bytes queued on one connection beyond which the peer is taken to have
  // stopped reading: the connection is closed (it re-dials, and the protocol
  // resumes from what the peer has applied) rather than growing without
  // bound. Default: 64 MiB.
  size_t max_queue_bytes = 64 << 20;
  // Dialing backoff: the first retry after a failed dial waits
  // reconnect_initial_ms, each further failure doubles it up to
  // reconnect_max_ms; a completed handshake resets it (a link that was up
  // and closes is re-dialed after reconnect_initial_ms). Defaults: 50, 1000.
  int reconnect_initial_ms = 50;
  int reconnect_max_ms = 1000;
  // Deadline for connecting plus the whole handshake, on both sides.
  // Default: 5000.
  int handshake_timeout_ms = 5000;
  // Seed of the link shapers' random streams (see SetLinkFaults). Default: 0.
  uint64_t fault_seed = 0;
  // Mutual TLS when set: the listener presents tls.cert_file and requires a
  // client certificate that chains to tls.ca_file; the dialer presents the
  // same certificate and requires the listener's to chain to tls.ca_file (no
  // host-name check: peers are addressed by IP, and the HMAC handshake that
  // follows inside TLS still proves the account key and the region's name).
  // Default: plain TCP.
  TlsFiles tls;
};

class TcpTransport final : public Transport {
 public:
  // Validates the options, decodes the key and binds (and listens on) the
  // replication port now, so port() is known before Start. Connections are
  // accepted only after Start. Fails with BadRequest on bad options and
  // Unavailable when the listener cannot be bound.
  static Result<std::unique_ptr<TcpTransport>> Create(boost::asio::io_context& io,
                                                      TcpTransportOptions opts);
  ~TcpTransport() override;  // Stop()s
  TcpTransport(const TcpTransport&) = delete;
  TcpTransport& operator=(const TcpTransport&) = delete;

  // The bound replication port.
  uint16_t port() const;

  // Replaces the peer list (e.g. once every region's listener is bound).
  // Ignored, with a warning, after Start.
  void SetPeers(std::vector<PeerEndpoint> peers);

  // Starts accepting and dialing every peer. `replicator` receives link events
  // and frames until Stop(); it must outlive Stop(). Call once.
  void Start(Replicator* replicator);

  // Stops accepting and dialing and closes every connection. When it returns
  // the replicator will not be called again (it waits for a call in
  // progress on another thread). Idempotent. Sockets are closed on their
  // strands, so the io_context must keep running (or be destroyed) for them
  // to close.
  void Stop();

  // Transport. Both never block: the payload is queued on the connection and
  // written in order, one write in flight at a time. Dropped (debug log) when
  // the link is not up (handshake not complete) or after Stop.
  void SendToPeer(uint32_t peer, std::string payload) override;   // outbound link
  void ReplyToPeer(uint32_t peer, std::string payload) override;  // inbound link

  // Link faults (replication/link_shaper.h, docs/chaos.md). Every
  // replication frame this region sends to `peer` -- Entries and Snapshots on
  // the outbound link, Resume and Ack replies on the peer's inbound link --
  // passes through that peer's shaper, which may drop, duplicate, delay or
  // reorder it. Replaces the link's whole fault set and re-seeds its random
  // stream from (fault_seed, self name, peer name, number of earlier calls
  // for that peer). Frames already held keep their release times. Handshake
  // frames are never shaped. Unknown peers are ignored (with a warning); call
  // after SetPeers. Thread-safe.
  void SetLinkFaults(uint32_t peer, const LinkFaults& faults);

  // Fault/test hook: abruptly closes every connection (inbound, outbound and
  // those still in the handshake); the dialers re-dial after the initial
  // backoff.
  void DropConnections();

  struct LinkInfo {
    bool outbound_connected = false;  // our dialed link to the peer is past the handshake
    bool inbound_connected = false;   // the peer's link to us is past the handshake
    size_t outbound_queue = 0;        // frames queued or being written on the outbound link
    uint64_t bytes_sent = 0;          // outbound link, all connections: bytes written (with prefixes)
    uint64_t frames_sent = 0;         // outbound link, all connections: frames written (handshake included)
    uint64_t outbound_connects = 0;   // outbound handshakes completed (1 + reconnections)
    LinkFaults faults;                // faults in force on frames from this region to the peer
    LinkShaperStats shaper;           // what the shaper did to them
  };
  LinkInfo Info(uint32_t peer) const;

  // Handshakes refused or failed, on either side: unknown or misnamed region,
  // wrong protocol, a proof that does not verify (a stranger with another
  // account key), a peer that answered as another region, timeouts.
  uint64_t handshake_failures() const;
  // Connections closed for a bad length prefix or a payload that is not a
  // Frame (or a frame that does not belong on that link).
  uint64_t malformed_frames() const;

 private:
  explicit TcpTransport(std::shared_ptr<detail::TcpTransportCore> impl);
  // Pimpl, shared with pending handlers, which may outlive this object after
  // Stop.
  std::shared_ptr<detail::TcpTransportCore> impl_;
};

}  // namespace regionlab::replication
