#include "cluster/cluster.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include <stdlib.h>

#include "base/cosmos_auth.h"
#include "conflictfeed/policy_handler.h"
#include "admin/admin_api.h"
#include "console/console.h"
#include "replication/replicator.h"
#include "replication/tcp_transport.h"
#include "server/data_plane.h"
#include "server/http_server.h"
#include "server/leases.h"
#include "server/region_context.h"
#include "server/throughput.h"
#include "server/ttl.h"
#include "tls/local_ca.h"

namespace regionlab::cluster {

using admin::AdminContext;
using admin::HandleAdmin;
using admin::RegionControl;
using server::HandleDataPlane;
using server::HttpRequest;
using server::HttpResponse;
using server::HttpServer;
using server::LeaseService;
using server::LeaseServiceOptions;
using server::RegionContext;
using server::RegionInfo;
using server::RegionState;
using server::DisplayNameFor;

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

// One local region. The clock, the context (what the data plane and the
// admin API see), the store options (with the in-memory file system of an
// ephemeral region) and the ports live as long as the cluster; the rest is
// torn down by a kill and rebuilt by a restart.
struct Region {
  uint32_t id = 0;
  std::unique_ptr<SkewedClock> clock;
  std::unique_ptr<RegionContext> ctx;
  storage::StoreOptions store_options;
  uint16_t http_port = 0;         // 0 until the first bind
  uint16_t replication_port = 0;  // 0 until the first bind
  std::vector<replication::PeerEndpoint> peers;
  std::map<uint32_t, replication::LinkFaults> faults;  // in force on frames to each peer
  std::atomic<bool> running{false};

  std::unique_ptr<storage::Store> store;
  std::unique_ptr<IoRunner> runner;
  // Runs the heavy requests (queries, feeds, scripts) off the io threads, so
  // point reads and /health/deep keep being answered while they run.
  std::unique_ptr<IoRunner> workers;
  // The HTTP connections' io_contexts, one thread each
  // (HttpServerOptions::session_ios); `runner` accepts and replicates.
  std::vector<std::unique_ptr<IoRunner>> http_runners;
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<conflictfeed::PolicyHandler> handler;
  std::unique_ptr<replication::TcpTransport> transport;
  std::unique_ptr<replication::Replicator> replicator;
  std::unique_ptr<boost::asio::steady_timer> tick_timer;
  std::atomic<bool> pump_scheduled{false};
  std::atomic<bool> stopping{false};
  std::atomic<bool> purging{false};
  uint64_t ticks = 0;

  void ScheduleTick() {
    tick_timer->expires_after(std::chrono::milliseconds(50));
    tick_timer->async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping.load()) return;
      replicator->Tick();
      if (++ticks % 20 == 0) SchedulePurge();
      ScheduleTick();
    });
  }

  // Once a second: the time-to-live purge (server/ttl.h), on the workers.
  void SchedulePurge() {
    if (!workers || purging.exchange(true)) return;
    boost::asio::post(workers->io, [this] {
      if (!stopping.load() && ctx->store) {
        auto purged = PurgeExpired(*ctx);
        if (!purged.ok()) {
          spdlog::warn("region {}: time-to-live purge: {}", ctx->self.name, purged.status().ToString());
        } else if (*purged > 0) {
          spdlog::debug("region {}: purged {} expired documents", ctx->self.name, *purged);
        }
      }
      purging = false;
    });
  }

  ~Region() { TearDown(); }

  // Tears everything down abruptly (kill, and the end of Stop): listeners
  // and connections close, io threads are joined without draining, the
  // store closes (what was acknowledged is in its WAL).
  void TearDown() {
    running = false;
    stopping = true;
    if (http) http->Stop();
    if (transport) transport->Stop();
    if (ctx->leases) ctx->leases->CancelForwards();
    if (workers) workers->Stop();  // handlers in progress finish (a query page is bounded)
    for (auto& h : http_runners) h->Stop();
    if (runner) runner->Stop();
    tick_timer.reset();
    transport.reset();
    if (ctx) ctx->replicator = nullptr;
    replicator.reset();
    http.reset();
    handler.reset();
    if (ctx) ctx->store = nullptr;
    store.reset();   // closes RocksDB
    workers.reset();
    // The accepting io_context first: a connection it accepted but did not
    // hand over yet holds a strand of an HTTP io_context.
    runner.reset();  // destroys the io_context: whatever it still held closes
    http_runners.clear();
  }
};

std::string Endpoint(const std::string& host, uint16_t port, bool tls) {
  return (tls ? "https://" : "http://") + host + ":" + std::to_string(port) + "/";
}

// The certificate files of --tls (ClusterOptions::tls); `temp_dir` is set to
// a directory to remove at stop when one was made for an ephemeral cluster.
Result<TlsFiles> PrepareTls(const ClusterOptions& o, std::string* temp_dir) {
  if (!o.tls_cert.empty() || !o.tls_key.empty()) {
    if (o.tls_cert.empty() || o.tls_key.empty()) return Status::BadRequest("--tls-cert and --tls-key go together");
    TlsFiles files;
    files.cert_file = o.tls_cert;
    files.key_file = o.tls_key;
    files.ca_file = o.tls_ca.empty() ? o.tls_cert : o.tls_ca;
    return files;
  }
  std::string dir = o.tls_dir;
  if (dir.empty() && o.ephemeral) {
    std::string pattern = (std::filesystem::temp_directory_path() / "regionlab-tls-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return Status::Unavailable("cannot create a temporary directory for the TLS certificates");
    }
    dir = pattern;
    *temp_dir = dir;
  } else if (dir.empty()) {
    dir = (std::filesystem::path(o.data_dir) / "tls").string();
  }
  return tls::EnsureLocalCertificates(dir, tls::DefaultNames(o.host));
}

}  // namespace

struct Cluster::Impl final : RegionControl {
  ClusterOptions options;
  std::vector<std::unique_ptr<Region>> regions;
  AdminContext admin;
  std::unique_ptr<IoRunner> admin_runner;
  std::unique_ptr<HttpServer> admin_http;
  std::unique_ptr<console::Console> console;  // the web console on the admin port
  bool stopped = false;
  TlsFiles tls;               // --tls: the files in use; empty otherwise
  std::string tls_temp_dir;   // --tls --ephemeral: removed with the cluster

  ~Impl() override {
    StopAll();
    if (!tls_temp_dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(tls_temp_dir, ec);
    }
  }

  Region* Find(uint32_t id) const {
    for (const auto& r : regions) {
      if (r->id == id) return r.get();
    }
    return nullptr;
  }

  // Threads of a region's replication runner and of its worker pool.
  int WorkerThreads() const { return std::max(2, options.threads_per_region); }

  // Opens the store and builds the region's serving objects (listeners
  // bound, nothing started). On a restart the ports are the ones bound the
  // first time.
  Status Open(Region& r) {
    if (!r.ctx->leases) {  // fenced leases: one service per region, for the cluster's life
      LeaseServiceOptions lo;
      // Lease forwards wait on the worker threads (server::IsHeavyRequest):
      // one of them stays free for queries and scripts.
      lo.max_forward_waiters = WorkerThreads() - 1;
      lo.home_region = options.lease_home;
      r.ctx->leases = std::make_shared<LeaseService>(*r.ctx, lo);
    }
    auto store = storage::Store::Open(r.store_options, *r.clock);
    if (!store.ok()) return store.status();
    r.store = std::move(*store);
    r.runner = std::make_unique<IoRunner>(WorkerThreads());
    r.workers = std::make_unique<IoRunner>(WorkerThreads());
    RegionContext* ctx = r.ctx.get();
    // Before the listener opens: its io threads may answer a request at once
    // (a restarted region is hammered by clients that were waiting for it),
    // and a handler must never see a null store.
    ctx->store = r.store.get();

    replication::TcpTransportOptions to;
    to.self_id = r.id;
    to.self_name = ctx->self.name;
    to.listen_host = options.host;
    to.listen_port = r.replication_port;
    to.account_key = options.key;
    to.fault_seed = options.seed;
    to.tls = tls;
    auto transport = replication::TcpTransport::Create(r.runner->io, to);
    if (!transport.ok()) return transport.status();
    r.transport = std::move(*transport);
    r.replication_port = r.transport->port();
    r.handler = std::make_unique<conflictfeed::PolicyHandler>(*r.store);
    std::vector<uint32_t> peers;
    for (const auto& info : ctx->account_regions) {
      if (info.id != r.id) peers.push_back(info.id);
    }
    replication::ReplicatorOptions ro;
    ro.log_retention_entries = options.log_retention_entries;
    auto replicator = replication::Replicator::Create(*r.store, r.id, peers, *r.handler, *r.transport, *r.clock, ro);
    if (!replicator.ok()) return replicator.status();
    r.replicator = std::move(*replicator);
    r.replicator->SetMessageHandler([l = r.ctx->leases](uint32_t peer, uint32_t channel, std::string payload) {
      l->OnMessage(peer, channel, std::move(payload));
    });
    Region* rp = &r;
    // A region's own commits wake its replicator, on the runner's thread, to
    // ship them. A region without peers (an account of one region) has
    // nothing to ship: its writes skip that wake-up, which cost 1.2 context
    // switches per create (bench/http/vs-nginx.sh, docs/benchmarks.md).
    const bool has_peers = !peers.empty();
    r.store->SetCommitListener([rp, has_peers](const storage::CommitInfo&, bool local) {
      if (!has_peers || !local || rp->pump_scheduled.exchange(true)) return;
      boost::asio::post(rp->runner->io, [rp] {
        rp->pump_scheduled = false;
        if (!rp->stopping) rp->replicator->Pump();
      });
    });
    r.tick_timer = std::make_unique<boost::asio::steady_timer>(r.runner->io);
    // The HTTP listener opens last: its threads may serve a write at once,
    // and a write reads the store's commit listener set just above.
    server::HttpServerOptions http_options;
    http_options.offload = server::IsHeavyRequest;  // queries, feeds, scripts, batches
    http_options.offload_io = &r.workers->io;
    r.http_runners.clear();
    for (int i = 0; i < options.threads_per_region; ++i) {
      r.http_runners.push_back(std::make_unique<IoRunner>(1));
      http_options.session_ios.push_back(&r.http_runners.back()->io);
    }
    http_options.tls = tls;
    auto http = HttpServer::Start(r.runner->io, options.host, r.http_port,
                                  [ctx](HttpRequest& req) { return HandleDataPlane(*ctx, req); }, http_options);
    if (!http.ok()) return http.status();
    r.http = std::move(*http);
    r.http_port = r.http->port();
    return Status::Ok();
  }

  // Connects an opened region to its peers and lets it serve.
  void Go(Region& r) {
    r.stopping = false;
    r.pump_scheduled = false;
    r.purging = false;
    r.ctx->store = r.store.get();
    r.ctx->replicator = r.replicator.get();
    r.transport->SetPeers(r.peers);
    for (const auto& [peer, f] : r.faults) r.transport->SetLinkFaults(peer, f);
    r.transport->Start(r.replicator.get());
    boost::asio::post(r.runner->io, [rp = &r] { rp->ScheduleTick(); });
    r.running = true;
  }

  // ---- RegionControl (called with the admin mutex held) ----

  void ApplyLinkFaults(uint32_t from, uint32_t to, const replication::LinkFaults& faults) override {
    Region* r = Find(from);
    if (!r) return;
    replication::LinkFaults before = r->faults[to];
    r->faults[to] = faults;
    if (r->running && r->transport) {
      r->transport->SetLinkFaults(to, faults);
      // Repaired: what the fault swallowed goes again now, not after the
      // retransmission timeout.
      if ((before.partitioned && !faults.partitioned) || faults.drop_rate < before.drop_rate) {
        r->replicator->Retransmit(to);
      }
    }
  }

  replication::LinkShaperStats LinkStats(uint32_t from, uint32_t to) const override {
    Region* r = Find(from);
    if (!r || !r->running || !r->transport) return {};
    return r->transport->Info(to).shaper;
  }

  bool Running(uint32_t region) const override {
    Region* r = Find(region);
    return r && r->running.load();
  }

  Status Kill(uint32_t region) override {
    Region* r = Find(region);
    if (!r) return Status::BadRequest("no such local region");
    if (!r->running) return Status::Conflict("region '" + r->ctx->self.name + "' is already killed");
    spdlog::warn("fault: killing region {}", r->ctx->self.name);
    r->TearDown();
    spdlog::warn("fault: region {} killed (ports {} and {} closed)", r->ctx->self.name, r->http_port,
                 r->replication_port);
    return Status::Ok();
  }

  Status Restart(uint32_t region) override {
    Region* r = Find(region);
    if (!r) return Status::BadRequest("no such local region");
    if (r->running) return Status::Conflict("region '" + r->ctx->self.name + "' is running");
    spdlog::info("fault: restarting region {}", r->ctx->self.name);
    if (Status s = Open(*r); !s.ok()) {
      spdlog::error("fault: region {} cannot restart: {}", r->ctx->self.name, s.ToString());
      r->TearDown();
      return Status::Unavailable("region '" + r->ctx->self.name + "' cannot restart: " + s.message());
    }
    Go(*r);
    spdlog::info("fault: region {} restarted on {}, replication port {}", r->ctx->self.name,
                 r->ctx->self.endpoint, r->replication_port);
    return Status::Ok();
  }

  void RunAfter(std::chrono::milliseconds delay, std::function<void()> fn) override {
    if (!admin_runner) return;
    auto timer = std::make_shared<boost::asio::steady_timer>(admin_runner->io, delay);
    timer->async_wait([timer, fn = std::move(fn)](const boost::system::error_code& ec) {
      if (!ec) fn();
    });
  }

  void StopAll() {
    if (stopped) return;
    stopped = true;
    if (admin_http) admin_http->Stop();
    if (console) console->Stop();  // before the regions it samples go
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
      for (auto& h : r->http_runners) h->Stop();
      if (r->runner) r->runner->Stop();
    }
    admin_http.reset();
    for (auto& r : regions) r->TearDown();
    admin_runner.reset();
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
  if (!server::CheckConsistency(impl->options.consistency, impl->options.consistency).ok()) {
    return Status::BadRequest("--consistency must be Session, Eventual or ConsistentPrefix, not '" +
                              impl->options.consistency + "'");
  }
  impl->admin.seed = options.seed;
  impl->admin.control = impl.get();
  std::string ca_pem;
  if (options.tls) {
    auto files = PrepareTls(options, &impl->tls_temp_dir);
    if (!files.ok()) return files.status();
    impl->tls = std::move(files).value();
    auto pem = tls::ReadTextFile(impl->tls.ca_file);
    if (!pem.ok()) return pem.status();
    ca_pem = std::move(pem).value();
  }

  // Every region of the account: the local ones, then the remote peers.
  std::vector<std::string> all_names = options.regions;
  for (const auto& p : options.remote_peers) all_names.push_back(p.name);
  std::vector<std::string> id_order = all_names;
  if (options.ids_by_sorted_name) std::sort(id_order.begin(), id_order.end());
  if (!options.lease_home.empty() &&
      std::find(all_names.begin(), all_names.end(), options.lease_home) == all_names.end()) {
    return Status::BadRequest("--lease-home '" + options.lease_home + "' is not a region of this account");
  }
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
    region->id = id;
    region->clock = std::make_unique<SkewedClock>(SystemClock::Instance());
    storage::StoreOptions& so = region->store_options;
    so.region_id = id;
    so.in_memory = options.ephemeral;
    if (options.ephemeral) {
      so.memory_env = storage::NewMemoryEnv();  // survives a kill, for the restart
    } else {
      std::filesystem::path dir = std::filesystem::path(options.data_dir) / infos[id].name / "store";
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (ec) return Status::IOError("cannot create " + dir.string() + ": " + ec.message());
      so.path = dir.string();
    }
    region->ctx = std::make_unique<RegionContext>();
    region->ctx->account_key = impl->options.key;
    region->ctx->default_consistency = impl->options.consistency;
    if (impl->options.enforce_throughput) {
      region->ctx->throughput = std::make_shared<server::ThroughputGovernor>(*region->clock);
    }
    region->ctx->clock = region->clock.get();
    region->ctx->ca_pem = ca_pem;
    region->ctx->clock_control = region->clock.get();
    region->ctx->self = infos[id];
    region->ctx->account_regions = infos;  // endpoints completed below
    region->http_port = options.port == 0 ? 0 : static_cast<uint16_t>(options.port + i);
    region->replication_port =
        options.replication_port == 0 ? 0 : static_cast<uint16_t>(options.replication_port + i);
    if (Status s = impl->Open(*region); !s.ok()) return s;
    infos[id].endpoint = Endpoint(options.host, region->http_port, options.tls);
    impl->regions.push_back(std::move(region));
  }
  // Every region knows every region's endpoint (for the account document) and
  // every peer's replication address.
  std::vector<replication::PeerEndpoint> endpoints;
  for (auto& r : impl->regions) endpoints.push_back({r->id, infos[r->id].name, options.host, r->replication_port});
  for (const auto& p : options.remote_peers) {
    endpoints.push_back({id_of(p.name), p.name, p.host, p.replication_port});
  }
  for (auto& r : impl->regions) {
    r->ctx->self = infos[r->id];
    r->ctx->account_regions = infos;
    impl->admin.regions.push_back(r->ctx.get());
    for (const auto& e : endpoints) {
      if (e.id != r->id) r->peers.push_back(e);
    }
    impl->Go(*r);
  }

  impl->admin_runner = std::make_unique<IoRunner>(1);
  AdminContext* admin = &impl->admin;
  impl->admin.key = impl->options.key;
  impl->admin.token = options.admin_token;
  impl->admin.require_auth = !admin::IsLoopbackHost(options.admin_host);
  console::ConsoleOptions console_options;
  if (options.tls) console_options.ca_file = impl->tls.ca_file;  // the forward trusts the regions' CA
  impl->console = std::make_unique<console::Console>(impl->admin, console_options);
  console::Console* con = impl->console.get();
  impl->admin.extra_routes = [con, extra = options.extra_admin_routes](HttpRequest& req) {
    if (auto r = con->ServeAuthenticated(req)) return r;
    return extra ? extra(req) : std::nullopt;
  };
  if (impl->admin.require_auth) {
    spdlog::warn("the management API binds {}: every request must be signed with the account key{}",
                 options.admin_host, options.admin_token.empty() ? "" : " or carry the admin token");
  }
  server::HttpServerOptions admin_options;
  admin_options.body_limit = size_t{1} << 30;  // POST /check takes whole soak histories
  admin_options.tls = impl->tls;
  admin_options.offload = console::Console::IsSlow;  // the console's data-plane forwards
  admin_options.offload_io = &con->workers();
  auto admin_http = HttpServer::Start(
      impl->admin_runner->io, options.admin_host, options.admin_port,
      [admin, con](HttpRequest& req) {
        if (auto page = con->ServePublic(req)) return std::move(*page);
        HttpResponse resp = HandleAdmin(*admin, req);
        con->AfterRequest(req, resp);
        return resp;
      },
      admin_options);
  if (!admin_http.ok()) return admin_http.status();
  impl->admin_http = std::move(*admin_http);
  con->Start();
  for (const auto& r : impl->regions) {
    const RegionInfo& info = r->ctx->self;
    spdlog::info("region {} ({}) serving on {}, replication on port {}", info.name, info.display_name,
                 info.endpoint, r->replication_port);
  }
  return std::unique_ptr<Cluster>(new Cluster(std::move(impl)));
}

namespace {
// The admin listener's address as clients should use it: a wildcard bind is
// reached through the advertised host.
std::string AdminAdvertisedHost(const ClusterOptions& o) {
  if (o.admin_host == "0.0.0.0" || o.admin_host == "::" || o.admin_host.empty()) {
    return o.host == "0.0.0.0" || o.host == "::" ? "127.0.0.1" : o.host;
  }
  return o.admin_host;
}
}  // namespace

std::string Cluster::ReadyLine() const {
  nlohmann::json regions = nlohmann::json::array();
  for (const auto& r : impl_->regions) {
    regions.push_back({{"name", r->ctx->self.display_name}, {"endpoint", r->ctx->self.endpoint}});
  }
  nlohmann::json line = {{"event", "ready"},
                         {"admin", Endpoint(AdminAdvertisedHost(impl_->options), impl_->admin_http->port(),
                                            impl_->options.tls)},
                         {"console", Endpoint(AdminAdvertisedHost(impl_->options), impl_->admin_http->port(),
                                              impl_->options.tls)},
                         {"regions", regions}};
  if (impl_->options.tls) line["caCert"] = std::filesystem::absolute(impl_->tls.ca_file).lexically_normal().string();
  return line.dump();
}

const TlsFiles& Cluster::tls_files() const { return impl_->tls; }

Status Cluster::RunScenario(const std::string& json_text) {
  HttpRequest req;
  req.method = "POST";
  req.target = req.path = "/scenario";
  req.body = json_text;
  HttpResponse resp = HandleAdmin(impl_->admin, req);
  if (resp.status == 202) return Status::Ok();
  auto j = nlohmann::json::parse(resp.body, nullptr, false);
  std::string message = j.is_object() && j.contains("message") && j["message"].is_string()
                            ? j["message"].get<std::string>()
                            : resp.body;
  return Status::BadRequest(message);
}

}  // namespace regionlab::cluster
