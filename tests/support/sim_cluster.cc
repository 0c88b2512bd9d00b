#include "tests/support/sim_cluster.h"

#include <cstdio>

#include "base/cosmos_auth.h"
#include "base/encoding.h"
#include "base/hash.h"
#include "server/data_plane.h"

namespace regionlab::testing {

class SimCluster::Transport final : public replication::Transport {
 public:
  Transport(SimCluster* sim, int self) : sim_(sim), self_(self) {}
  void SendToPeer(uint32_t peer, std::string payload) override {
    sim_->Send(self_, static_cast<int>(peer), true, std::move(payload));
  }
  void ReplyToPeer(uint32_t peer, std::string payload) override {
    // A reply travels on the peer->self link, from self back to the peer.
    sim_->Send(self_, static_cast<int>(peer), false, std::move(payload));
  }

 private:
  SimCluster* sim_;
  int self_;
};

struct SimCluster::Region {
  bool up = true;
  uint64_t epoch = 0;  // bumped by every crash
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<conflictfeed::PolicyHandler> handler;
  std::unique_ptr<Transport> transport;
  std::unique_ptr<replication::Replicator> replicator;
  std::unique_ptr<server::RegionContext> ctx;
  std::unique_ptr<SkewedClock> clock;  // the fake clock plus this region's skew
};

SimCluster::SimCluster(const SimOptions& options) : options_(options), rng_(options.seed) {
  last_tick_ = clock_.NowMicros();
  const int n = options.regions;
  faults_.assign(n, std::vector<SimLinkFaults>(n));
  links_.resize(n);
  for (auto& row : links_) row.resize(n);
  std::vector<server::RegionInfo> infos;
  const char* names[] = {"uksouth", "westeurope", "eastus", "westus", "northeurope",
                         "japaneast", "brazilsouth", "australiaeast", "centralindia"};
  for (int i = 0; i < n; ++i) {
    server::RegionInfo info;
    info.name = names[i];
    info.display_name = server::DisplayNameFor(info.name);
    info.id = static_cast<uint32_t>(i);
    info.endpoint = "http://sim-" + info.name + "/";
    infos.push_back(info);
    names_.push_back(info.name);
  }
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      if (i != j) ResetLink(i, j);
    }
  }
  for (int i = 0; i < n; ++i) {
    auto r = std::make_unique<Region>();
    r->clock = std::make_unique<SkewedClock>(clock_);
    storage::StoreOptions so;
    so.in_memory = true;
    so.region_id = uint32_t(i);
    auto store = storage::Store::Open(so, *r->clock);
    if (!store.ok()) std::abort();
    r->store = std::move(*store);
    r->handler = std::make_unique<conflictfeed::PolicyHandler>(*r->store);
    r->transport = std::make_unique<Transport>(this, i);
    std::vector<uint32_t> peers;
    for (int j = 0; j < n; ++j) {
      if (j != i) peers.push_back(static_cast<uint32_t>(j));
    }
    auto rep = replication::Replicator::Create(*r->store, uint32_t(i), peers, *r->handler, *r->transport,
                                               clock_, options.replicator);
    if (!rep.ok()) std::abort();
    r->replicator = std::move(*rep);
    r->ctx = std::make_unique<server::RegionContext>();
    r->ctx->self = infos[i];
    r->ctx->account_regions = infos;
    r->ctx->account_key = std::string(kEmulatorKey);
    r->ctx->store = r->store.get();
    r->ctx->clock = r->clock.get();
    r->ctx->clock_control = r->clock.get();
    r->ctx->replicator = r->replicator.get();
    regions_.push_back(std::move(r));
  }
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      if (i != j) Connect(i, j);
    }
  }
}

SimCluster::~SimCluster() = default;

bool SimCluster::up(int r) const { return regions_[r]->up; }
storage::Store& SimCluster::store(int r) { return *regions_[r]->store; }
replication::Replicator& SimCluster::replicator(int r) { return *regions_[r]->replicator; }

void SimCluster::Connect(int a, int b) {
  // Link a->b: a's outbound, b's inbound. b answers with Resume.
  regions_[a]->replicator->OnOutboundUp(static_cast<uint32_t>(b));
  regions_[b]->replicator->OnInboundUp(static_cast<uint32_t>(a));
}

server::HttpResponse SimCluster::Request(int r, const std::string& method, const std::string& path,
                                         const std::string& body,
                                         std::vector<std::pair<std::string, std::string>> headers) {
  server::HttpRequest req;
  req.method = method;
  req.target = path;
  req.path = path;
  req.body = body;
  std::string date = FormatHttpDate(clock_.NowSeconds());
  ResourceAddress addr = ResourceAddressFromPath(path);
  bool own_auth = false;  // the caller's authorization (a resource token) replaces the master key's
  for (auto& h : headers) own_auth = own_auth || ToLower(h.first) == "authorization";
  req.headers.emplace_back("x-ms-date", date);
  if (!own_auth) {
    req.headers.emplace_back("authorization",
                             *BuildAuthorizationHeader(kEmulatorKey, method, addr.type, addr.link, date));
  }
  for (auto& h : headers) req.headers.emplace_back(ToLower(h.first), h.second);
  server::HttpResponse resp = server::HandleDataPlane(*regions_[r]->ctx, req);
  if (regions_[r]->up) regions_[r]->replicator->Pump();
  return resp;
}

void SimCluster::ResetLink(int from, int to) {
  Link& link = links_[from][to];
  link.applied = faults_[from][to];
  SimLinkFaults effective = link.applied;
  // The base latency, uniform in [min, max] ms, is delay ± jitter on top.
  effective.delay_ms += (options_.min_delay_ms + options_.max_delay_ms) / 2;
  effective.jitter_ms += (options_.max_delay_ms - options_.min_delay_ms) / 2;
  link.core.Reset(effective, replication::LinkStreamSeed(options_.seed, names_[from], names_[to], link.generation++));
}

void SimCluster::Send(int from, int to, bool forward, std::string payload) {
  if (!regions_[from]->up) return;
  // Every frame from `from` to `to` -- on from's outbound link (forward:
  // Entries, Snapshot) or a reply on from's inbound link from `to` (Resume,
  // Ack) -- goes through the from -> to shaper, as in the TCP transport.
  if (!(faults_[from][to] == links_[from][to].applied)) ResetLink(from, to);
  Link& link = links_[from][to];
  std::string tag = std::to_string(from) + ">" + std::to_string(to) + (forward ? "" : "r");
  ++link.stats.frames;
  const int64_t now = clock_.NowMicros();
  const auto d = link.core.Decide(now, payload.size());
  if (d.dropped) {
    ++link.stats.dropped;
    history_.push_back((link.applied.partitioned ? "cut " : "drop ") + tag);
    return;
  }
  if (d.copies == 2) ++link.stats.duplicated;
  for (int c = 0; c < d.copies; ++c) {
    if (d.copy[c].reordered) ++link.stats.reordered;
    if (d.copy[c].release_micros > now) ++link.stats.delayed;
    ++link.stats.written;
    inflight_.push(Frame{d.copy[c].release_micros, next_seq_++, from, to, forward, regions_[from]->epoch,
                         regions_[to]->epoch, payload});
  }
}

void SimCluster::Deliver(const Frame& f) {
  Region& dst = *regions_[f.to];
  std::string tag = std::to_string(f.from) + ">" + std::to_string(f.to) + (f.forward ? "" : "r");
  if (!dst.up || !regions_[f.from]->up || dst.epoch != f.to_epoch || regions_[f.from]->epoch != f.from_epoch) {
    history_.push_back("lost " + tag);  // an end crashed: its connections died with the frame
    return;
  }
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(Fnv1a64(f.payload)));
  history_.push_back("@" + std::to_string(f.at) + " " + tag + " " + std::to_string(f.payload.size()) + " " + hash);
  if (f.forward) {
    dst.replicator->OnInboundFrame(static_cast<uint32_t>(f.from), f.payload);
  } else {
    dst.replicator->OnOutboundFrame(static_cast<uint32_t>(f.from), f.payload);
  }
}

void SimCluster::TickAll() {
  for (auto& r : regions_) {
    if (r->up) r->replicator->Tick();
  }
}

bool SimCluster::Step() {
  if (inflight_.empty()) return false;
  Frame f = inflight_.top();
  inflight_.pop();
  if (f.at > clock_.NowMicros()) clock_.SetMicros(f.at);
  while (clock_.NowMicros() - last_tick_ >= 50'000) {
    last_tick_ += 50'000;
    TickAll();
  }
  Deliver(f);
  return true;
}

void SimCluster::AdvanceMillis(int64_t ms) {
  int64_t end = clock_.NowMicros() + ms * 1000;
  while (true) {
    int64_t next_tick = last_tick_ + 50'000;
    int64_t next_frame = inflight_.empty() ? INT64_MAX : inflight_.top().at;
    int64_t next = std::min(next_tick, next_frame);
    if (next > end) break;
    clock_.SetMicros(std::max(clock_.NowMicros(), next));
    if (next == next_frame) {
      Frame f = inflight_.top();
      inflight_.pop();
      Deliver(f);
    } else {
      last_tick_ = next_tick;
      TickAll();
    }
  }
  clock_.SetMicros(end);
}

bool SimCluster::RunUntilQuiet(int64_t max_virtual_ms) {
  int64_t deadline = clock_.NowMicros() + max_virtual_ms * 1000;
  while (clock_.NowMicros() < deadline) {
    bool caught_up = inflight_.empty();
    for (int i = 0; caught_up && i < size(); ++i) {
      if (!regions_[i]->up) continue;
      for (int j = 0; j < size(); ++j) {
        if (i == j || !regions_[j]->up) continue;
        if (regions_[j]->replicator->Applied(uint32_t(i)) < regions_[i]->store->own_lsn()) caught_up = false;
      }
    }
    if (caught_up) return true;
    AdvanceMillis(50);
  }
  return false;
}

void SimCluster::HealAll() {
  for (auto& row : faults_) {
    for (auto& f : row) f = SimLinkFaults{};
  }
}

void SimCluster::Crash(int r) {
  Region& reg = *regions_[r];
  if (!reg.up) return;
  reg.up = false;
  ++reg.epoch;
  for (int j = 0; j < size(); ++j) {
    if (j == r) continue;
    regions_[j]->replicator->OnOutboundDown(uint32_t(r));
    regions_[j]->replicator->OnInboundDown(uint32_t(r));
  }
}

void SimCluster::Restart(int r) {
  Region& reg = *regions_[r];
  if (reg.up) return;
  // A new replicator over the same store: in-memory state is lost, the
  // applied cursors come back from the store.
  std::vector<uint32_t> peers;
  for (int j = 0; j < size(); ++j) {
    if (j != r) peers.push_back(uint32_t(j));
  }
  auto rep = replication::Replicator::Create(*reg.store, uint32_t(r), peers, *reg.handler, *reg.transport,
                                             clock_, options_.replicator);
  if (!rep.ok()) std::abort();
  reg.replicator = std::move(*rep);
  reg.ctx->replicator = reg.replicator.get();
  reg.up = true;
  for (int j = 0; j < size(); ++j) {
    if (j == r || !regions_[j]->up) continue;
    Connect(r, j);
    Connect(j, r);
  }
}

std::vector<admin::ContainerDigest> SimCluster::Digest(int r) {
  auto d = admin::ComputeDigest(*regions_[r]->store);
  if (!d.ok()) std::abort();
  return *d;
}

}  // namespace regionlab::testing

namespace regionlab::testing {

server::RegionContext& SimCluster::context(int r) { return *regions_[r]->ctx; }

void SimCluster::SetSkewMillis(int r, int64_t ms) { regions_[r]->clock->set_skew_ms(ms); }

}  // namespace regionlab::testing
