// replication/tcp_transport: real loopback sockets between regions that each
// have an in-memory store, a PolicyHandler, a Replicator, an io_context on its
// own thread and a TcpTransport. Nothing sleeps to wait: every wait polls a
// condition until a deadline.
#include "replication/tcp_transport.h"
#include "tls/local_ca.h"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/cosmos_auth.h"
#include "base/encoding.h"
#include "conflictfeed/policy_handler.h"
#include "replication/replicator.h"
#include "storage/codec.h"
#include "storage/keys.h"
#include "storage/store.h"
#include "tests/support/wait_for.h"

namespace regionlab::replication {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

constexpr std::chrono::seconds kDeadline{20};

// Polls `cond` until it holds or the deadline passes.
using regionlab::testing::WaitFor;

const std::string kCollRid = "12345678";
const std::string kPk = "[\"a\"]";

std::string DocKey(const std::string& id) { return storage::keys::Document(kCollRid, kPk, id); }

// Commits a local document write, as the data plane would.
Status WriteDoc(storage::Store& store, const std::string& id, const std::string& body) {
  auto r = store.Write([&](const storage::WriteContext& ctx) -> Result<storage::WriteSet> {
    storage::Record rec;
    rec.kind = storage::RecordKind::kDocument;
    rec.id = id;
    rec.partition_key = kPk;
    rec.version = {{ctx.region_id, ctx.lsn}};
    rec.origin_region = ctx.region_id;
    rec.origin_lsn = ctx.lsn;
    rec.write_micros = ctx.now_micros;
    rec.ts = ctx.now_micros / 1'000'000;
    rec.body = body;
    storage::WriteSet set;
    set.puts.emplace_back(DocKey(id), std::move(rec));
    return set;
  });
  return r.ok() ? Status::Ok() : r.status();
}

std::optional<std::string> BodyOf(storage::Store& store, const std::string& id) {
  auto got = store.Get(DocKey(id));
  if (!got.ok() || !got->has_value()) return std::nullopt;
  return (**got).body;
}

// One region: store, handler, replicator, transport, and io threads (two by
// default, as the cluster runs them, so the strands are exercised).
class Region {
 public:
  static std::unique_ptr<Region> Make(uint32_t id, std::string name, std::vector<uint32_t> peer_ids,
                                      std::string key = std::string(kEmulatorKey), int threads = 2,
                                      TlsFiles tls = {}) {
    auto r = std::unique_ptr<Region>(new Region());
    r->id = id;
    r->name = name;
    storage::StoreOptions so;
    so.in_memory = true;
    so.region_id = id;
    auto store = storage::Store::Open(so, SystemClock::Instance());
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return nullptr;
    r->store = std::move(*store);
    r->handler = std::make_unique<conflictfeed::PolicyHandler>(*r->store);
    TcpTransportOptions opts;
    opts.self_id = id;
    opts.self_name = name;
    opts.account_key = key;
    opts.reconnect_initial_ms = 20;
    opts.reconnect_max_ms = 200;
    opts.tls = std::move(tls);
    auto t = TcpTransport::Create(r->io, opts);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    if (!t.ok()) return nullptr;
    r->transport = std::move(*t);
    auto rep = Replicator::Create(*r->store, id, peer_ids, *r->handler, *r->transport,
                                  SystemClock::Instance());
    EXPECT_TRUE(rep.ok()) << rep.status().ToString();
    if (!rep.ok()) return nullptr;
    r->replicator = std::move(*rep);
    for (int i = 0; i < threads; ++i) r->threads.emplace_back([io = &r->io] { io->run(); });
    return r;
  }

  PeerEndpoint Endpoint() const { return {id, name, "127.0.0.1", transport->port()}; }

  void Start(std::vector<PeerEndpoint> peers) {
    transport->SetPeers(std::move(peers));
    transport->Start(replicator.get());
  }

  // Stops the transport and lets the io thread drain on its own: if a
  // handler or timer were left behind by Stop, this would hang.
  ~Region() {
    if (transport) transport->Stop();
    work.reset();
    for (auto& t : threads) t.join();
    replicator.reset();
    transport.reset();
  }

  uint32_t id = 0;
  std::string name;
  net::io_context io;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work{io.get_executor()};
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<conflictfeed::PolicyHandler> handler;
  std::unique_ptr<TcpTransport> transport;
  std::unique_ptr<Replicator> replicator;
  std::vector<std::thread> threads;

 private:
  Region() = default;
};

// Writes docs [from, to) in region `r` and pumps after each.
void WriteRange(Region& r, int from, int to) {
  for (int i = from; i < to; ++i) {
    ASSERT_TRUE(WriteDoc(*r.store, "doc" + std::to_string(i), "{\"n\":" + std::to_string(i) + "}").ok());
    r.replicator->Pump();
  }
}

bool LinksUp(Region& a, Region& b) {
  return a.transport->Info(b.id).outbound_connected && a.transport->Info(b.id).inbound_connected &&
         b.transport->Info(a.id).outbound_connected && b.transport->Info(a.id).inbound_connected;
}

// ------------------------------------------------------------ two regions

TEST(TcpTransportTest, WriteInOneRegionAppearsInTheOther) {
  auto r0 = Region::Make(0, "uksouth", {1});
  auto r1 = Region::Make(1, "westeurope", {0});
  ASSERT_TRUE(r0 && r1);
  EXPECT_NE(r0->transport->port(), 0);
  r0->Start({r1->Endpoint()});
  r1->Start({r0->Endpoint()});
  ASSERT_TRUE(WaitFor([&] { return LinksUp(*r0, *r1); }));

  ASSERT_TRUE(WriteDoc(*r0->store, "doc1", "{\"id\":\"doc1\",\"v\":1}").ok());
  r0->replicator->Pump();
  ASSERT_TRUE(WaitFor([&] { return BodyOf(*r1->store, "doc1").has_value(); }));
  EXPECT_EQ(*BodyOf(*r1->store, "doc1"), "{\"id\":\"doc1\",\"v\":1}");
  EXPECT_TRUE(WaitFor([&] { return r0->replicator->Outbound(1).acked == r0->store->own_lsn(); }));

  // And the other way round.
  ASSERT_TRUE(WriteDoc(*r1->store, "doc2", "{\"id\":\"doc2\"}").ok());
  r1->replicator->Pump();
  ASSERT_TRUE(WaitFor([&] { return BodyOf(*r0->store, "doc2").has_value(); }));

  EXPECT_EQ(r1->replicator->Inbound(0).entries_applied, 1u);
  EXPECT_EQ(r0->replicator->Inbound(1).entries_applied, 1u);
  auto info = r0->transport->Info(1);
  EXPECT_GT(info.frames_sent, 0u);
  EXPECT_GT(info.bytes_sent, 0u);
  EXPECT_EQ(info.outbound_connects, 1u);
  EXPECT_EQ(r0->transport->handshake_failures(), 0u);
  EXPECT_EQ(r1->transport->handshake_failures(), 0u);
  EXPECT_EQ(r1->transport->malformed_frames(), 0u);
}

TEST(TcpTransportTest, DroppedConnectionsReconnectAndNothingIsLostOrDuplicated) {
  auto r0 = Region::Make(0, "uksouth", {1});
  auto r1 = Region::Make(1, "westeurope", {0});
  ASSERT_TRUE(r0 && r1);
  r0->Start({r1->Endpoint()});
  r1->Start({r0->Endpoint()});
  ASSERT_TRUE(WaitFor([&] { return LinksUp(*r0, *r1); }));

  WriteRange(*r0, 0, 50);
  ASSERT_TRUE(WaitFor([&] { return r1->replicator->Applied(0) == r0->store->own_lsn(); }));

  // Drop while shipping: frames in flight may be lost.
  WriteRange(*r0, 50, 100);
  r0->transport->DropConnections();
  WriteRange(*r0, 100, 150);
  ASSERT_TRUE(WaitFor([&] { return r0->transport->Info(1).outbound_connects >= 2; }));
  // Drop from the receiving side too.
  r1->transport->DropConnections();
  WriteRange(*r0, 150, 200);

  ASSERT_TRUE(WaitFor([&] {
    r0->replicator->Pump();
    return r1->replicator->Applied(0) == r0->store->own_lsn();
  }));
  for (int i = 0; i < 200; ++i) {
    auto body = BodyOf(*r1->store, "doc" + std::to_string(i));
    ASSERT_TRUE(body.has_value()) << i;
    EXPECT_EQ(*body, "{\"n\":" + std::to_string(i) + "}");
  }
  EXPECT_EQ(r1->replicator->Inbound(0).entries_applied, 200u);
  EXPECT_GE(r0->transport->Info(1).outbound_connects, 3u);
  EXPECT_TRUE(WaitFor([&] { return LinksUp(*r0, *r1); }));
  EXPECT_EQ(r0->transport->handshake_failures(), 0u);
  EXPECT_EQ(r1->transport->handshake_failures(), 0u);
}

TEST(TcpTransportTest, StrangerWithAnotherKeyIsRefused) {
  // A stranger claims to be uksouth but signs with another account key.
  const std::string other_key = Base64Encode(std::string(64, '\x42'));
  auto stranger = Region::Make(0, "uksouth", {1}, other_key);
  auto r1 = Region::Make(1, "westeurope", {0});
  ASSERT_TRUE(stranger && r1);
  stranger->Start({r1->Endpoint()});
  r1->Start({stranger->Endpoint()});
  ASSERT_TRUE(WriteDoc(*stranger->store, "evil", "{}").ok());
  stranger->replicator->Pump();

  // The stranger refuses r1's challenge (r1 does not know its key), and r1
  // refuses the stranger's challenge when dialing it. Wait for several rounds
  // of redials on both sides.
  ASSERT_TRUE(WaitFor([&] {
    stranger->replicator->Pump();
    return stranger->transport->handshake_failures() >= 3 && r1->transport->handshake_failures() >= 3;
  }));
  EXPECT_FALSE(r1->transport->Info(0).inbound_connected);
  EXPECT_FALSE(r1->transport->Info(0).outbound_connected);
  EXPECT_FALSE(stranger->transport->Info(1).outbound_connected);
  EXPECT_FALSE(r1->replicator->Inbound(0).connected);
  EXPECT_EQ(r1->replicator->Inbound(0).entries_applied, 0u);
  EXPECT_FALSE(BodyOf(*r1->store, "evil").has_value());
}

// ------------------------------------------------------------ TLS (--tls)

class TcpTransportTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("regionlab-tcp-tls-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    auto a = tls::EnsureLocalCertificates((dir_ / "a").string(), tls::DefaultNames("127.0.0.1"));
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    cluster_ca_ = *a;
    auto b = tls::EnsureLocalCertificates((dir_ / "b").string(), tls::DefaultNames("127.0.0.1"));
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    other_ca_ = *b;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  TlsFiles cluster_ca_, other_ca_;
};

TEST_F(TcpTransportTlsTest, RegionsOfOneCaReplicateOverMutualTls) {
  auto r0 = Region::Make(0, "uksouth", {1}, std::string(kEmulatorKey), 2, cluster_ca_);
  auto r1 = Region::Make(1, "westeurope", {0}, std::string(kEmulatorKey), 2, cluster_ca_);
  ASSERT_TRUE(r0 && r1);
  r0->Start({r1->Endpoint()});
  r1->Start({r0->Endpoint()});
  ASSERT_TRUE(WaitFor([&] { return LinksUp(*r0, *r1); }));
  WriteRange(*r0, 0, 20);
  ASSERT_TRUE(WaitFor([&] { return r1->replicator->Applied(0) == r0->store->own_lsn(); }));
  EXPECT_EQ(*BodyOf(*r1->store, "doc19"), "{\"n\":19}");
  // A dropped TLS connection re-dials and resumes.
  r0->transport->DropConnections();
  WriteRange(*r0, 20, 40);
  ASSERT_TRUE(WaitFor([&] {
    r0->replicator->Pump();
    return r1->replicator->Applied(0) == r0->store->own_lsn();
  }));
  EXPECT_EQ(r1->replicator->Inbound(0).entries_applied, 40u);
  EXPECT_EQ(r0->transport->handshake_failures(), 0u);
  EXPECT_EQ(r1->transport->handshake_failures(), 0u);
}

TEST_F(TcpTransportTlsTest, PeerWithAnotherCaIsRefusedEvenWithTheAccountKey) {
  // Same account key, but its certificate was issued by another CA: mutual
  // TLS refuses it in both directions before the HMAC handshake.
  auto stranger = Region::Make(0, "uksouth", {1}, std::string(kEmulatorKey), 2, other_ca_);
  auto r1 = Region::Make(1, "westeurope", {0}, std::string(kEmulatorKey), 2, cluster_ca_);
  ASSERT_TRUE(stranger && r1);
  stranger->Start({r1->Endpoint()});
  r1->Start({stranger->Endpoint()});
  ASSERT_TRUE(WriteDoc(*stranger->store, "evil", "{}").ok());
  stranger->replicator->Pump();
  ASSERT_TRUE(WaitFor([&] {
    stranger->replicator->Pump();
    return stranger->transport->handshake_failures() >= 2 && r1->transport->handshake_failures() >= 2;
  }));
  EXPECT_FALSE(r1->transport->Info(0).inbound_connected);
  EXPECT_FALSE(r1->transport->Info(0).outbound_connected);
  EXPECT_FALSE(BodyOf(*r1->store, "evil").has_value());
}

TEST_F(TcpTransportTlsTest, PlainPeerCannotTalkToATlsRegion) {
  auto plain = Region::Make(0, "uksouth", {1});
  auto r1 = Region::Make(1, "westeurope", {0}, std::string(kEmulatorKey), 2, cluster_ca_);
  ASSERT_TRUE(plain && r1);
  plain->Start({r1->Endpoint()});
  r1->Start({plain->Endpoint()});
  ASSERT_TRUE(WriteDoc(*plain->store, "doc", "{}").ok());
  plain->replicator->Pump();
  ASSERT_TRUE(WaitFor([&] { return r1->transport->handshake_failures() >= 2; }));
  EXPECT_FALSE(r1->transport->Info(0).inbound_connected);
  EXPECT_FALSE(BodyOf(*r1->store, "doc").has_value());
}

TEST(TcpTransportTest, DestroyAfterStopWhileIoRuns) {
  auto r0 = Region::Make(0, "uksouth", {1});
  auto r1 = Region::Make(1, "westeurope", {0});
  ASSERT_TRUE(r0 && r1);
  r0->Start({r1->Endpoint()});
  r1->Start({r0->Endpoint()});
  ASSERT_TRUE(WaitFor([&] { return LinksUp(*r0, *r1); }));
  WriteRange(*r0, 0, 20);  // frames in flight while we stop
  r0->transport->Stop();
  r0->transport->Stop();  // idempotent
  r0->transport.reset();  // r0's io threads still run its pending handlers
  ASSERT_TRUE(WaitFor([&] {
    auto i = r1->transport->Info(0);
    return !i.inbound_connected && !i.outbound_connected;
  }));
  EXPECT_FALSE(r1->replicator->Inbound(0).connected);
  EXPECT_FALSE(r1->replicator->Outbound(0).connected);
  // r1 keeps re-dialing the closed listener until its own Stop.
}

// ------------------------------------------------------------ link faults

// Two connected regions.
std::pair<std::unique_ptr<Region>, std::unique_ptr<Region>> ConnectedPair() {
  auto r0 = Region::Make(0, "uksouth", {1});
  auto r1 = Region::Make(1, "westeurope", {0});
  EXPECT_TRUE(r0 && r1);
  if (!r0 || !r1) return {};
  r0->Start({r1->Endpoint()});
  r1->Start({r0->Endpoint()});
  EXPECT_TRUE(WaitFor([&] { return LinksUp(*r0, *r1); }));
  return {std::move(r0), std::move(r1)};
}

// Milliseconds from writing `id` in `from` until `to` has applied it.
int64_t MillisToReplicate(Region& from, Region& to, const std::string& id) {
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(WriteDoc(*from.store, id, "{}").ok());
  from.replicator->Pump();
  EXPECT_TRUE(WaitFor([&] { return BodyOf(*to.store, id).has_value(); }, 10s));
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
}

TEST(TcpTransportFaultTest, DelayActsOnOneDirectionOnly) {
  auto [r0, r1] = ConnectedPair();
  ASSERT_TRUE(r0 && r1);
  LinkFaults f;
  f.delay_ms = 200;
  r0->transport->SetLinkFaults(1, f);
  EXPECT_EQ(r0->transport->Info(1).faults, f);
  EXPECT_FALSE(r1->transport->Info(0).faults.Any());
  const int64_t delayed = MillisToReplicate(*r0, *r1, "slow");
  const int64_t direct = MillisToReplicate(*r1, *r0, "fast");
  EXPECT_GE(delayed, 200);
  EXPECT_LT(direct, 200);
  auto info = r0->transport->Info(1);
  EXPECT_GT(info.shaper.delayed, 0u);
  EXPECT_EQ(info.shaper.dropped, 0u);
  EXPECT_EQ(r1->transport->Info(0).shaper.delayed, 0u);
  // Healed: back to immediate delivery, once what was already held has left
  // (frames never overtake those sent before them).
  r0->transport->SetLinkFaults(1, LinkFaults{});
  ASSERT_TRUE(WaitFor([&] { return r0->transport->Info(1).shaper.queued == 0; }));
  EXPECT_LT(MillisToReplicate(*r0, *r1, "fast-again"), 200);
}

TEST(TcpTransportFaultTest, LossDuplicationAndReorderingLoseNothingAndApplyEverythingOnce) {
  auto [r0, r1] = ConnectedPair();
  ASSERT_TRUE(r0 && r1);
  LinkFaults f;
  f.drop_rate = 0.3;
  f.duplicate_rate = 0.3;
  f.reorder_rate = 0.3;
  f.jitter_ms = 2;
  r0->transport->SetLinkFaults(1, f);  // Entries (and r0's acks) on the way out
  r1->transport->SetLinkFaults(0, f);  // r1's Resume/Ack replies back
  WriteRange(*r0, 0, 150);
  ASSERT_TRUE(WaitFor([&] {
    r0->replicator->Pump();
    r0->replicator->Tick();  // retransmission timers (the cluster ticks every 50 ms)
    r1->replicator->Tick();
    return r1->replicator->Applied(0) == r0->store->own_lsn() &&
           r0->replicator->Outbound(1).acked == r0->store->own_lsn();
  }));
  for (int i = 0; i < 150; ++i) {
    auto body = BodyOf(*r1->store, "doc" + std::to_string(i));
    ASSERT_TRUE(body.has_value()) << i;
    EXPECT_EQ(*body, "{\"n\":" + std::to_string(i) + "}");
  }
  EXPECT_EQ(r1->replicator->Inbound(0).entries_applied, 150u);  // each exactly once
  auto out = r0->transport->Info(1).shaper;
  auto back = r1->transport->Info(0).shaper;
  EXPECT_GT(out.dropped + back.dropped, 0u);
  EXPECT_GT(out.duplicated + back.duplicated, 0u);
  EXPECT_GT(out.reordered + back.reordered, 0u);
  EXPECT_EQ(out.frames - out.dropped + out.duplicated, out.written + out.queued) << "every copy accounted for";
}

TEST(TcpTransportFaultTest, PartitionedLinkDeliversNothingUntilHealed) {
  auto [r0, r1] = ConnectedPair();
  ASSERT_TRUE(r0 && r1);
  LinkFaults cut;
  cut.partitioned = true;
  r0->transport->SetLinkFaults(1, cut);
  uint64_t dropped_before = r0->transport->Info(1).shaper.dropped;
  ASSERT_TRUE(WriteDoc(*r0->store, "cut-off", "{}").ok());
  r0->replicator->Pump();
  // The frame was handed to the link and lost there.
  ASSERT_TRUE(WaitFor([&] { return r0->transport->Info(1).shaper.dropped > dropped_before; }));
  EXPECT_FALSE(BodyOf(*r1->store, "cut-off").has_value());
  EXPECT_TRUE(r0->transport->Info(1).outbound_connected);  // the connection itself stays up
  r0->transport->SetLinkFaults(1, LinkFaults{});
  // The replicator resends after its retransmission timeout (driven by Tick).
  ASSERT_TRUE(WaitFor([&] {
    r0->replicator->Tick();
    return BodyOf(*r1->store, "cut-off").has_value();
  }));
  EXPECT_GE(r0->replicator->Outbound(1).retransmits, 1u);
}

TEST(TcpTransportFaultTest, BandwidthLimitQueuesFrames) {
  auto [r0, r1] = ConnectedPair();
  ASSERT_TRUE(r0 && r1);
  LinkFaults f;
  f.bandwidth_kbps = 20;  // 20 KB/s: 24 KB of documents take more than a second
  r0->transport->SetLinkFaults(1, f);
  auto start = std::chrono::steady_clock::now();
  const std::string big(1000, 'x');
  for (int i = 0; i < 24; ++i) {
    ASSERT_TRUE(WriteDoc(*r0->store, "big" + std::to_string(i), "{\"x\":\"" + big + "\"}").ok());
    r0->replicator->Pump();
  }
  ASSERT_TRUE(WaitFor([&] { return r1->replicator->Applied(0) == r0->store->own_lsn(); }));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(ms, 1000);
  EXPECT_GT(r0->transport->Info(1).shaper.delayed, 0u);
}

// ------------------------------------------------------------ raw sockets

// Minimal protobuf encoding for hand-made frames.
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string BytesField(int field, std::string_view bytes) {
  return Varint((static_cast<uint64_t>(field) << 3) | 2) + Varint(bytes.size()) + std::string(bytes);
}
std::string VarintField(int field, uint64_t v) {
  return Varint(static_cast<uint64_t>(field) << 3) + Varint(v);
}
// field number -> value (bytes, or the varint as decimal text). Fails on
// anything but varint and length-delimited fields.
std::optional<std::map<int, std::string>> ParseFields(std::string_view in) {
  std::map<int, std::string> out;
  auto read_varint = [&](uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in.empty()) return false;
      uint8_t b = static_cast<uint8_t>(in[0]);
      in.remove_prefix(1);
      *v |= uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  };
  while (!in.empty()) {
    uint64_t tag, v;
    if (!read_varint(&tag)) return std::nullopt;
    if ((tag & 7) == 0) {
      if (!read_varint(&v)) return std::nullopt;
      out[static_cast<int>(tag >> 3)] = std::to_string(v);
    } else if ((tag & 7) == 2) {
      if (!read_varint(&v) || v > in.size()) return std::nullopt;
      out[static_cast<int>(tag >> 3)] = std::string(in.substr(0, v));
      in.remove_prefix(v);
    } else {
      return std::nullopt;
    }
  }
  return out;
}
std::string Framed(std::string_view payload) {
  uint32_t n = static_cast<uint32_t>(payload.size());
  std::string out = {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                     static_cast<char>(n)};
  return out + std::string(payload);
}

// A blocking-free raw client: each operation runs the local io_context with a
// deadline.
class RawClient {
 public:
  explicit RawClient(uint16_t port) : socket_(io_) {
    boost::system::error_code ec;
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
    EXPECT_FALSE(ec) << ec.message();
  }

  void Write(std::string_view bytes) {
    boost::system::error_code ec;
    net::write(socket_, net::buffer(bytes), ec);
    EXPECT_FALSE(ec) << ec.message();
  }

  // The next frame's payload, or nullopt if the connection closed or the
  // deadline passed.
  std::optional<std::string> ReadFrame() {
    std::array<unsigned char, 4> hdr{};
    if (!ReadExactly(net::buffer(hdr))) return std::nullopt;
    uint32_t n = (uint32_t{hdr[0]} << 24) | (uint32_t{hdr[1]} << 16) | (uint32_t{hdr[2]} << 8) | hdr[3];
    std::string body(n, '\0');
    if (!ReadExactly(net::buffer(body))) return std::nullopt;
    return body;
  }

  // True if the server closes the connection before the deadline (anything it
  // sends first is discarded).
  bool ClosedByServer() {
    bool closed = false;
    std::array<char, 4096> buf;
    std::function<void()> read = [&] {
      socket_.async_read_some(net::buffer(buf), [&](boost::system::error_code ec, size_t) {
        if (ec) {
          closed = true;
          return;
        }
        read();
      });
    };
    read();
    io_.restart();
    io_.run_for(kDeadline);
    return closed;
  }

 private:
  bool ReadExactly(net::mutable_buffer b) {
    bool done = false, ok = false;
    net::async_read(socket_, b, [&](boost::system::error_code ec, size_t) {
      done = true;
      ok = !ec;
    });
    io_.restart();
    io_.run_for(kDeadline);
    if (!done) {
      socket_.cancel();
      io_.restart();
      io_.run();
    }
    return ok;
  }

  net::io_context io_;
  tcp::socket socket_;
};

// Region westeurope (1) expecting uksouth (0) at a port where nothing listens,
// for raw clients to poke at.
class RawPeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    boost::system::error_code ec;
    // Bound but not listening: dials to it are refused.
    dead_.open(tcp::v4(), ec);
    dead_.bind(tcp::endpoint(net::ip::make_address("127.0.0.1"), 0), ec);
    ASSERT_FALSE(ec) << ec.message();
    r1_ = Region::Make(1, "westeurope", {0}, std::string(kEmulatorKey), /*threads=*/1);
    ASSERT_TRUE(r1_);
    r1_->Start({{0, "uksouth", "127.0.0.1", dead_.local_endpoint().port()}});
  }

  void ExpectNothingApplied() {
    EXPECT_EQ(r1_->replicator->Inbound(0).entries_applied, 0u);
    EXPECT_EQ(r1_->replicator->Applied(0), 0u);
    EXPECT_EQ(r1_->store->last_lsn(), 0u);
  }

  // Runs the handshake as uksouth with the right key; returns once r1 has
  // taken the link up (and sent its Resume).
  void Authenticate(RawClient& c) {
    const std::string nonce_o(16, '\x07');
    c.Write(Framed(BytesField(1, BytesField(1, "uksouth") + VarintField(2, 0) + BytesField(3, nonce_o) +
                                     VarintField(4, 1))));
    auto frame = c.ReadFrame();
    ASSERT_TRUE(frame.has_value());
    auto f = ParseFields(*frame);
    ASSERT_TRUE(f && f->count(2)) << "expected a Challenge";
    auto ch = ParseFields(f->at(2));
    ASSERT_TRUE(ch.has_value());
    EXPECT_EQ((*ch)[1], "westeurope");
    EXPECT_EQ((*ch)[2], "1");
    const std::string nonce_r = (*ch)[3];
    EXPECT_EQ(nonce_r.size(), 16u);
    const std::string key = *Base64Decode(kEmulatorKey);
    // The receiver's proof, exactly as wire.proto documents it.
    EXPECT_EQ((*ch)[4], HmacSha256(key, "rl-recv" + nonce_o + nonce_r + "westeurope"));
    c.Write(Framed(BytesField(3, BytesField(1, HmacSha256(key, "rl-orig" + nonce_r + nonce_o + "uksouth")))));
    auto resume = c.ReadFrame();
    ASSERT_TRUE(resume.has_value());
    auto rf = ParseFields(*resume);
    ASSERT_TRUE(rf && rf->count(4)) << "expected a Resume";
    EXPECT_TRUE(r1_->replicator->Inbound(0).connected);
    EXPECT_TRUE(r1_->transport->Info(0).inbound_connected);
  }

  net::io_context dead_io_;
  tcp::socket dead_{dead_io_};
  std::unique_ptr<Region> r1_;
};

TEST_F(RawPeerTest, OversizedLengthPrefixIsDisconnected) {
  RawClient c(r1_->transport->port());
  c.Write(std::string("\xff\xff\xff\xff", 4));
  EXPECT_TRUE(c.ClosedByServer());
  EXPECT_TRUE(WaitFor([&] { return r1_->transport->malformed_frames() == 1; }));
  ExpectNothingApplied();
}

TEST_F(RawPeerTest, ZeroLengthFrameIsDisconnected) {
  RawClient c(r1_->transport->port());
  c.Write(std::string(4, '\0'));
  EXPECT_TRUE(c.ClosedByServer());
  EXPECT_TRUE(WaitFor([&] { return r1_->transport->malformed_frames() == 1; }));
  ExpectNothingApplied();
}

TEST_F(RawPeerTest, GarbageBeforeTheHandshakeIsDisconnected) {
  RawClient c(r1_->transport->port());
  c.Write(Framed("\x0a\x10garbage"));  // a length-delimited field longer than the payload
  EXPECT_TRUE(c.ClosedByServer());
  EXPECT_TRUE(WaitFor([&] { return r1_->transport->malformed_frames() == 1; }));
  ExpectNothingApplied();
}

TEST_F(RawPeerTest, UnknownRegionIsRefused) {
  RawClient c(r1_->transport->port());
  c.Write(Framed(BytesField(1, BytesField(1, "eastus") + VarintField(2, 7) +
                                   BytesField(3, std::string(16, 'n')) + VarintField(4, 1))));
  EXPECT_TRUE(c.ClosedByServer());
  EXPECT_TRUE(WaitFor([&] { return r1_->transport->handshake_failures() >= 1; }));
  ExpectNothingApplied();
}

TEST_F(RawPeerTest, StrangerProofIsRefused) {
  RawClient c(r1_->transport->port());
  c.Write(Framed(BytesField(1, BytesField(1, "uksouth") + VarintField(2, 0) +
                                   BytesField(3, std::string(16, 'n')) + VarintField(4, 1))));
  auto challenge = c.ReadFrame();
  ASSERT_TRUE(challenge.has_value());
  c.Write(Framed(BytesField(3, BytesField(1, std::string(32, 'x')))));  // a guessed proof
  EXPECT_TRUE(c.ClosedByServer());
  EXPECT_TRUE(WaitFor([&] { return r1_->transport->handshake_failures() >= 1; }));
  EXPECT_FALSE(r1_->replicator->Inbound(0).connected);
  ExpectNothingApplied();
}

TEST_F(RawPeerTest, GarbageAfterTheHandshakeIsDisconnected) {
  RawClient c(r1_->transport->port());
  ASSERT_NO_FATAL_FAILURE(Authenticate(c));
  c.Write(Framed(std::string(32, '\xff')));
  EXPECT_TRUE(c.ClosedByServer());
  EXPECT_TRUE(WaitFor([&] { return r1_->transport->malformed_frames() == 1; }));
  EXPECT_TRUE(WaitFor([&] { return !r1_->replicator->Inbound(0).connected; }));
  EXPECT_FALSE(r1_->transport->Info(0).inbound_connected);
  EXPECT_EQ(r1_->transport->handshake_failures(), 0u);
  ExpectNothingApplied();
}

TEST_F(RawPeerTest, OversizedFrameAfterTheHandshakeIsDisconnected) {
  RawClient c(r1_->transport->port());
  ASSERT_NO_FATAL_FAILURE(Authenticate(c));
  c.Write(std::string("\x01\x00\x00\x01", 4));  // 16 MiB + 1
  EXPECT_TRUE(c.ClosedByServer());
  EXPECT_TRUE(WaitFor([&] { return r1_->transport->malformed_frames() == 1; }));
  EXPECT_TRUE(WaitFor([&] { return !r1_->replicator->Inbound(0).connected; }));
  ExpectNothingApplied();
}

TEST_F(RawPeerTest, WrongFrameKindOnTheInboundLinkIsDisconnected) {
  RawClient c(r1_->transport->port());
  ASSERT_NO_FATAL_FAILURE(Authenticate(c));
  c.Write(Framed(BytesField(7, VarintField(1, 99))));  // an Ack: receiver -> origin only
  EXPECT_TRUE(c.ClosedByServer());
  EXPECT_TRUE(WaitFor([&] { return r1_->transport->malformed_frames() == 1; }));
  ExpectNothingApplied();
}

// The receiver reassembles a frame that arrives a byte at a time, and
// handles several frames that arrive in one read (applied as one batch).
TEST_F(RawPeerTest, FramesSplitAcrossReadsOrSharingOneAreAllApplied) {
  RawClient c(r1_->transport->port());
  ASSERT_NO_FATAL_FAILURE(Authenticate(c));
  auto entries_frame = [](uint64_t prev, uint64_t lsn, size_t body_bytes) {
    storage::Record rec;
    rec.id = "raw" + std::to_string(lsn);
    rec.partition_key = kPk;
    rec.version = {{0, lsn}};
    rec.origin_region = 0;
    rec.origin_lsn = lsn;
    rec.body = "{\"pad\":\"" + std::string(body_bytes, 'p') + "\"}";
    std::string record;
    storage::EncodeRecord(rec, &record);
    storage::LogEntryBuilder entry(lsn, 1, /*origin_region=*/0, lsn);
    entry.AddRecord(DocKey(rec.id), record);
    return Framed(BytesField(5, VarintField(1, prev) + BytesField(2, entry.bytes())));
  };
  const std::string first = entries_frame(0, 1, 100);
  for (char ch : first) c.Write(std::string(1, ch));  // one byte per write
  ASSERT_TRUE(WaitFor([&] { return r1_->replicator->Applied(0) == 1; }));
  // Three frames in one write, the last larger than the receiver's read chunk.
  c.Write(entries_frame(1, 2, 10) + entries_frame(2, 3, 10) + entries_frame(3, 4, 300'000));
  ASSERT_TRUE(WaitFor([&] { return r1_->replicator->Applied(0) == 4; }));
  EXPECT_EQ(r1_->replicator->Inbound(0).entries_applied, 4u);
  EXPECT_EQ(BodyOf(*r1_->store, "raw4")->size(), 300'000u + 10);
  EXPECT_EQ(r1_->transport->malformed_frames(), 0u);
}

TEST_F(RawPeerTest, NewerInboundConnectionReplacesTheOlder) {
  RawClient first(r1_->transport->port());
  ASSERT_NO_FATAL_FAILURE(Authenticate(first));
  RawClient second(r1_->transport->port());
  ASSERT_NO_FATAL_FAILURE(Authenticate(second));
  EXPECT_TRUE(first.ClosedByServer());
  EXPECT_TRUE(r1_->replicator->Inbound(0).connected);
  EXPECT_TRUE(r1_->transport->Info(0).inbound_connected);
}

TEST(TcpTransportCreateTest, RejectsBadOptions) {
  net::io_context io;
  TcpTransportOptions o;
  o.self_name = "uksouth";
  o.account_key = "not base64!";
  EXPECT_FALSE(TcpTransport::Create(io, o).ok());
  o.account_key = std::string(kEmulatorKey);
  o.listen_host = "not-an-ip";
  EXPECT_FALSE(TcpTransport::Create(io, o).ok());
  o.listen_host = "127.0.0.1";
  auto t = TcpTransport::Create(io, o);
  ASSERT_TRUE(t.ok());
  // The same port again cannot be bound.
  o.listen_port = (*t)->port();
  EXPECT_FALSE(TcpTransport::Create(io, o).ok());
  (*t)->Stop();
  (*t)->Stop();  // idempotent
}

}  // namespace
}  // namespace regionlab::replication
