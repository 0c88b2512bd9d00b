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
    if (admin_runner) admin_runner->Stop();
    for (auto& r : regions) {
      if (r->runner) r->runner->Stop();
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

  std::vector<RegionInfo> infos;
  for (size_t i = 0; i < options.regions.size(); ++i) {
    RegionInfo info;
    info.name = options.regions[i];
    info.display_name = DisplayNameFor(info.name);
    info.id = static_cast<uint32_t>(i);
    infos.push_back(info);
  }

  for (size_t i = 0; i < infos.size(); ++i) {
    auto region = std::make_unique<Region>();
    region->clock = std::make_unique<SkewedClock>(SystemClock::Instance());
    storage::StoreOptions so;
    so.region_id = infos[i].id;
    so.in_memory = options.ephemeral;
    if (!options.ephemeral) {
      std::filesystem::path dir = std::filesystem::path(options.data_dir) / infos[i].name / "store";
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (ec) return Status::IOError("cannot create " + dir.string() + ": " + ec.message());
      so.path = dir.string();
    }
    auto store = storage::Store::Open(so, *region->clock);
    if (!store.ok()) return store.status();
    region->store = std::move(*store);

    region->ctx = std::make_unique<RegionContext>();
    region->ctx->self = infos[i];
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
    infos[i].endpoint = Endpoint(options.host, region->http->port());
    impl->regions.push_back(std::move(region));
  }
  // Every region knows every region's endpoint (for the account document).
  for (auto& r : impl->regions) {
    r->ctx->self = infos[r->ctx->self.id];
    r->ctx->account_regions = infos;
    impl->admin.regions.push_back(r->ctx.get());
  }

  impl->admin_runner = std::make_unique<IoRunner>(1);
  AdminContext* admin = &impl->admin;
  auto admin_http = HttpServer::Start(impl->admin_runner->io, options.host, options.admin_port,
                                      [admin](HttpRequest& req) { return HandleAdmin(*admin, req); });
  if (!admin_http.ok()) return admin_http.status();
  impl->admin_http = std::move(*admin_http);
  for (const auto& info : infos) {
    spdlog::info("region {} ({}) serving on {}", info.name, info.display_name, info.endpoint);
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
