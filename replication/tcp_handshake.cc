// The replication handshake (wire.proto): each side proves it holds the
// account key by an HMAC over both nonces and its region name, so no region
// accepts frames from a process that does not.
#include "replication/tcp_internal.h"
#include "base/encoding.h"

namespace regionlab::replication::detail {

std::string RandomNonce() {
  std::random_device rd;
  std::string out(kNonceBytes, '\0');
  for (size_t i = 0; i < kNonceBytes; i += 4) {
    uint32_t v = rd();
    for (size_t j = 0; j < 4 && i + j < kNonceBytes; ++j) out[i + j] = static_cast<char>(v >> (8 * j));
  }
  return out;
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

void Connection::HandshakeFailed(std::string_view what) {
  impl_->handshake_failures.fetch_add(1, std::memory_order_relaxed);
  spdlog::warn("replication: {}: handshake refused: {}", Describe(), what);
  CloseNow("handshake refused");
}

void Connection::OnHello(const pb::Frame& f) {
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

void Connection::OnProof(const pb::Frame& f) {
  if (!f.has_proof()) return HandshakeFailed("expected Proof");
  std::string want = OriginProof(impl_->key, nonce_r_, nonce_o_, peer_.name);
  if (!SignaturesEqual(f.proof().proof(), want)) {
    return HandshakeFailed("stranger: the proof does not verify (not our account key)");
  }
  BecomeUp();
}

void Connection::OnChallenge(const pb::Frame& f) {
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

void Connection::BecomeUp() {
  up_ = true;
  state_ = State::kUp;
  timer_.cancel();
  // Clear the nonces: nothing more to prove on this connection.
  nonce_o_.clear();
  nonce_r_.clear();
  if (!impl_->OnAuthenticated(shared_from_this())) CloseNow("stopping");
}

}  // namespace regionlab::replication::detail
