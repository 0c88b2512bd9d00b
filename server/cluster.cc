#include "server/cluster.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <thread>

#include "base/cosmos_auth.h"
#include "server/admin_api.h"
#include "server/data_plane.h"
#include "server/http_server.h"
#include "server/region_context.h"
#include "conflictfeed/policy_handler.h"
#include "replication/replicator.h"
#include "replication/tcp_transport.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <algorithm>
#include <atomic>

namespace regionlab::server {
namespace {

using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

// An io_context and the threads that run it.
struct IoRunner {
  explicit IoRunner(int threads) : io(threads), guard(io.get_executor()) {
    for (int i = 0; i < threads; ++i) pool.emplace_back([this] { io.run(); });
  }
  void Stop() {
    guard.reset();
    io.stop();
    for (auto& t : pool) {
      if (t.joinable()) t.join();
    }
    pool.clear();
  }
  ~IoRunner() { Stop(); }
  boost::asio::io_context io;
  WorkGuard guard;
  std::vector<std::thread> pool;
};

struct Region {
  std::unique_ptr<SkewedClock> clock;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<RegionContext> ctx;
  std::unique_ptr<IoRunner> runner;
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<conflictfeed::PolicyHandler> handler;
  std::unique_ptr<replication::TcpTransport> transport;
  std::unique_ptr<replication::Replicator> replicator;
  std::unique_ptr<boost::asio::steady_timer> tick_timer;
  std::atomic<bool> pump_scheduled{false};
  std::atomic<bool> stopping{false};

  void ScheduleTick() {
    tick_timer->expires_after(std::chrono::milliseconds(50));
    tick_timer->async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping.load()) return;
      replicator->Tick();
      ScheduleTick();
    });
  }
};

std::string Endpoint(const std::string& host, uint16_t port) {
  return "http://" + host + ":" + std::to_string(port) + "/";
}

}  // namespace

struct Cluster::Impl {
  ClusterOptions options;
  std::vector<std::unique_ptr<Region>> regions;
  AdminContext admin;
  std::unique_ptr<IoRunner> admin_runner;
  std::unique_ptr<HttpServer> admin_http;
  bool stopped = false;

  void StopAll() {
    if (stopped) return;
    stopped = true;
    if (admin_http) admin_http->Stop();
    for (auto& r : regions) {
      if (r->http) r->http->Stop();
    }
    for (auto& r : regions) {
      r->stopping = true;
      if (r->transport) r->transport->Stop();
      if (r->tick_timer) {
        boost::asio::post(r->runner->io, [t = r->tick_timer.get()] { t->cancel(); });
      }
    }
    if (admin_runner) admin_runner->Stop();
    for (auto& r : regions) {
      if (r->runner) r->runner->Stop();
    }
    for (auto& r : regions) {
      r->tick_timer.reset();
      r->transport.reset();
      r->replicator.reset();
    }
    admin_http.reset();
    for (auto& r : regions) {
      r->http.reset();
      r->store.reset();  // closes RocksDB
    }
  }
};

Cluster::Cluster(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Cluster::~Cluster() { Stop(); }
void Cluster::Stop() { impl_->StopAll(); }

Result<std::unique_ptr<Cluster>> Cluster::Start(const ClusterOptions& options) {
  if (options.regions.empty()) return Status::BadRequest("at least one region is needed");
  if (options.regions.size() > 9) return Status::BadRequest("at most 9 regions are supported");
  for (size_t i = 0; i < options.regions.size(); ++i) {
    const std::string& n = options.regions[i];
    if (n.empty() || n.find_first_of("/\\ ") != std::string::npos) {
      return Status::BadRequest("invalid region name '" + n + "'");
    }
    for (size_t j = 0; j < i; ++j) {
      if (options.regions[j] == n) return Status::BadRequest("region '" + n + "' is listed twice");
    }
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (impl->options.key.empty()) impl->options.key = std::string(kEmulatorKey);
  impl->admin.seed = options.seed;

  // Every region of the account: the local ones, then the remote peers.
  std::vector<std::string> all_names = options.regions;
  for (const auto& p : options.remote_peers) all_names.push_back(p.name);
  std::vector<std::string> id_order = all_names;
  if (options.ids_by_sorted_name) std::sort(id_order.begin(), id_order.end());
  auto id_of = [&](const std::string& name) {
    return static_cast<uint32_t>(std::find(id_order.begin(), id_order.end(), name) - id_order.begin());
  };
  std::vector<RegionInfo> infos(all_names.size());  // indexed by id
  for (const auto& name : all_names) {
    RegionInfo& info = infos[id_of(name)];
    info.name = name;
    info.display_name = DisplayNameFor(name);
    info.id = id_of(name);
  }
  for (const auto& p : options.remote_peers) infos[id_of(p.name)].endpoint = p.endpoint;

  for (size_t i = 0; i < options.regions.size(); ++i) {
    const uint32_t id = id_of(options.regions[i]);
    auto region = std::make_unique<Region>();
    region->clock = std::make_unique<SkewedClock>(SystemClock::Instance());
    storage::StoreOptions so;
    so.region_id = id;
    so.in_memory = options.ephemeral;
    if (!options.ephemeral) {
      std::filesystem::path dir = std::filesystem::path(options.data_dir) / infos[id].name / "store";
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (ec) return Status::IOError("cannot create " + dir.string() + ": " + ec.message());
      so.path = dir.string();
    }
    auto store = storage::Store::Open(so, *region->clock);
    if (!store.ok()) return store.status();
    region->store = std::move(*store);

    region->ctx = std::make_unique<RegionContext>();
    region->ctx->account_key = impl->options.key;
    region->ctx->store = region->store.get();
    region->ctx->clock = region->clock.get();
    region->ctx->clock_control = region->clock.get();

    region->runner = std::make_unique<IoRunner>(options.threads_per_region);
    uint16_t port = options.port == 0 ? 0 : static_cast<uint16_t>(options.port + i);
    RegionContext* ctx = region->ctx.get();
    auto http = HttpServer::Start(region->runner->io, options.host, port,
                                  [ctx](HttpRequest& req) { return HandleDataPlane(*ctx, req); });
    if (!http.ok()) return http.status();
    region->http = std::move(*http);
    infos[id].endpoint = Endpoint(options.host, region->http->port());

    // Replication: a transport listening for the peers' links, and the
    // replicator that ships this region's log and applies theirs.
    replication::TcpTransportOptions to;
    to.self_id = id;
    to.self_name = infos[id].name;
    to.listen_host = options.host;
    to.listen_port = options.replication_port == 0 ? 0 : static_cast<uint16_t>(options.replication_port + i);
    to.account_key = impl->options.key;
    auto transport = replication::TcpTransport::Create(region->runner->io, to);
    if (!transport.ok()) return transport.status();
    region->transport = std::move(*transport);
    region->handler = std::make_unique<conflictfeed::PolicyHandler>(*region->store);
    std::vector<uint32_t> peers;
    for (const auto& info : infos) {
      if (info.id != id) peers.push_back(info.id);
    }
    replication::ReplicatorOptions ro;
    ro.log_retention_entries = options.log_retention_entries;
    auto replicator = replication::Replicator::Create(*region->store, id, peers, *region->handler,
                                                      *region->transport, *region->clock, ro);
    if (!replicator.ok()) return replicator.status();
    region->replicator = std::move(*replicator);
    region->ctx->replicator = region->replicator.get();
    Region* r = region.get();
    region->store->SetCommitListener([r](const storage::CommitInfo&, bool local) {
      if (!local || r->pump_scheduled.exchange(true)) return;
      boost::asio::post(r->runner->io, [r] {
        r->pump_scheduled = false;
        if (!r->stopping) r->replicator->Pump();
      });
    });
    region->tick_timer = std::make_unique<boost::asio::steady_timer>(region->runner->io);
    impl->regions.push_back(std::move(region));
  }
  // Every region knows every region's endpoint (for the account document) and
  // every peer's replication address.
  std::vector<replication::PeerEndpoint> endpoints;
  for (auto& r : impl->regions) {
    uint32_t id = r->store->region_id();
    endpoints.push_back({id, infos[id].name, options.host, r->transport->port()});
  }
  for (const auto& p : options.remote_peers) {
    endpoints.push_back({id_of(p.name), p.name, p.host, p.replication_port});
  }
  for (auto& r : impl->regions) {
    uint32_t id = r->store->region_id();
    r->ctx->self = infos[id];
    r->ctx->account_regions = infos;
    impl->admin.regions.push_back(r->ctx.get());
    std::vector<replication::PeerEndpoint> peers;
    for (const auto& e : endpoints) {
      if (e.id != id) peers.push_back(e);
    }
    r->transport->SetPeers(peers);
    r->transport->Start(r->replicator.get());
    boost::asio::post(r->runner->io, [rp = r.get()] { rp->ScheduleTick(); });
  }

  impl->admin_runner = std::make_unique<IoRunner>(1);
  AdminContext* admin = &impl->admin;
  auto admin_http = HttpServer::Start(impl->admin_runner->io, options.host, options.admin_port,
                                      [admin](HttpRequest& req) { return HandleAdmin(*admin, req); });
  if (!admin_http.ok()) return admin_http.status();
  impl->admin_http = std::move(*admin_http);
  for (const auto& r : impl->regions) {
    const RegionInfo& info = r->ctx->self;
    spdlog::info("region {} ({}) serving on {}, replication on port {}", info.name, info.display_name,
                 info.endpoint, r->transport->port());
  }
  return std::unique_ptr<Cluster>(new Cluster(std::move(impl)));
}

std::string Cluster::ReadyLine() const {
  nlohmann::json regions = nlohmann::json::array();
  for (const auto& r : impl_->regions) {
    regions.push_back({{"name", r->ctx->self.display_name}, {"endpoint", r->ctx->self.endpoint}});
  }
  nlohmann::json line = {{"event", "ready"},
                         {"admin", Endpoint(impl_->options.host, impl_->admin_http->port())},
                         {"regions", regions}};
  return line.dump();
}

}  // namespace regionlab::server
