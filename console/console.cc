#include "console/console.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "admin/admin_api.h"
#include "base/clock.h"
#include "base/cosmos_auth.h"
#include "base/encoding.h"
#include "client/http_client.h"
#include "console/assets.h"
#include "replication/replicator.h"
#include "server/region_context.h"

namespace regionlab::console {
namespace {

namespace net = boost::asio;
using nlohmann::json;
using server::HttpRequest;
using server::HttpResponse;

constexpr std::string_view kApiPrefix = "/console/api/regions/";
constexpr std::string_view kAssetPrefix = "/console/assets/";

HttpResponse JsonError(int status, const std::string& code, const std::string& message) {
  HttpResponse r;
  r.status = status;
  r.body = json{{"code", code}, {"message", message}}.dump();
  return r;
}

// The fields of a GET /links entry the page charts and labels.
json SlimLink(const json& l) {
  json out = json::object();
  for (const char* k : {"from", "to", "connected", "lagMs", "queue", "applyLagMs", "lastApplyLagMs", "faults",
                        "conflicts", "fromState", "toState", "entriesApplied", "framesDropped"}) {
    if (l.contains(k)) out[k] = l[k];
  }
  return out;
}

}  // namespace

struct Console::Impl {
  Impl(admin::AdminContext& a, ConsoleOptions o) : admin(a), options(o), hub(o.hub) {}

  admin::AdminContext& admin;
  const ConsoleOptions options;
  EventHub hub;

  net::io_context io;          // the forwarded data-plane requests
  net::io_context sampler_io;  // the sampler alone, so slow forwards never delay a snapshot
  std::optional<net::executor_work_guard<net::io_context::executor_type>> guard, sampler_guard;
  std::vector<std::thread> threads;
  std::unique_ptr<net::steady_timer> timer;
  std::atomic<bool> stopping{false};
  bool started = false;

  std::mutex sample_mu;  // one sample at a time; guards what follows
  struct Counters {
    uint64_t reads = 0, writes = 0, errors = 0;
  };
  std::map<std::string, Counters> previous;  // per region
  std::chrono::steady_clock::time_point previous_at{};
  std::string last_state;
  // Per link (from name, to name): the apply-lag buckets at the last sample.
  std::map<std::pair<std::string, std::string>, std::vector<uint64_t>> lag_buckets;

  // The apply lag of the entries applied since the last sample, per link
  // whose receiving region runs here: {p50, p99} in ms, or absent.
  std::map<std::pair<std::string, std::string>, std::pair<double, double>> WindowedLag() {
    std::map<std::pair<std::string, std::string>, std::pair<double, double>> out;
    std::lock_guard<std::mutex> lock(admin.mu);  // the replicators go away on a kill
    for (const server::RegionContext* to : admin.regions) {
      if (!to->replicator) continue;
      for (uint32_t peer : to->replicator->peers()) {
        std::string from_name;
        for (const auto& info : to->account_regions) {
          if (info.id == peer) from_name = info.name;
        }
        const replication::InboundStats in = to->replicator->Inbound(peer);
        std::vector<uint64_t>& prev = lag_buckets[{from_name, to->self.name}];
        std::vector<uint64_t> now(in.lag_buckets, in.lag_buckets + replication::kLagBuckets);
        if (prev.size() != now.size()) prev.assign(now.size(), 0);
        uint64_t total = 0;
        std::vector<uint64_t> delta(now.size());
        for (size_t i = 0; i < now.size(); ++i) {
          delta[i] = now[i] >= prev[i] ? now[i] - prev[i] : now[i];
          total += delta[i];
        }
        prev = now;
        if (total == 0) continue;
        auto quantile = [&](double q) {
          uint64_t seen = 0;
          for (size_t i = 0; i < delta.size(); ++i) {
            seen += delta[i];
            if (static_cast<double>(seen) >= q * static_cast<double>(total)) {
              return std::min(replication::kLagBoundsMicros[i], in.max_lag_micros) / 1000.0;
            }
          }
          return in.max_lag_micros / 1000.0;
        };
        out[{from_name, to->self.name}] = {quantile(0.5), quantile(0.99)};
      }
    }
    return out;
  }

  json AdminGet(const std::string& path) {
    HttpRequest r;
    r.method = "GET";
    r.target = r.path = path;
    HttpResponse resp = admin::HandleAdminLocal(admin, r);
    json j = json::parse(resp.body, nullptr, false);
    return j.is_discarded() ? json::object() : j;
  }

  // {regions, links, scenario}: what the page draws as state. Published
  // when it differs from the last one published.
  void PublishStateLocked(const json& regions, const json& links) {
    json state = {{"seed", regions.value("seed", json(0))}, {"regions", json::array()}, {"links", json::array()}};
    for (const auto& r : regions.value("regions", json::array())) state["regions"].push_back(r);
    for (const auto& l : links.value("links", json::array())) {
      json s = {{"from", l.value("from", "")}, {"to", l.value("to", "")}, {"connected", l.value("connected", false)}};
      if (l.contains("faults")) s["faults"] = l["faults"];
      state["links"].push_back(std::move(s));
    }
    state["scenario"] = AdminGet("/scenario");
    std::string text = state.dump();
    if (text == last_state) return;
    last_state = text;
    hub.Publish("state", text);
  }

  void Sample() {
    std::lock_guard<std::mutex> lock(sample_mu);
    const json regions = AdminGet("/regions");
    const json links = AdminGet("/links");
    const auto now = std::chrono::steady_clock::now();
    const double dt = previous_at == std::chrono::steady_clock::time_point{}
                          ? 0
                          : std::chrono::duration<double>(now - previous_at).count();
    previous_at = now;
    json out_regions = json::array();
    for (const auto& r : regions.value("regions", json::array())) {
      json o = r;
      const std::string name = r.value("name", "");
      for (const server::RegionContext* ctx : admin.regions) {
        if (ctx->self.name != name) continue;
        Counters c{ctx->metrics.reads.load(), ctx->metrics.writes.load(), ctx->metrics.errors.load()};
        Counters& p = previous[name];
        auto rate = [dt](uint64_t cur, uint64_t prev) { return dt > 0 && cur >= prev ? (cur - prev) / dt : 0.0; };
        o["readsPerSec"] = rate(c.reads, p.reads);
        o["writesPerSec"] = rate(c.writes, p.writes);
        o["errorsPerSec"] = rate(c.errors, p.errors);
        o["opsPerSec"] = rate(c.reads + c.writes, p.reads + p.writes);
        o["reads"] = c.reads;
        o["writes"] = c.writes;
        p = c;
      }
      out_regions.push_back(std::move(o));
    }
    json out_links = json::array();
    const auto windowed = WindowedLag();
    for (const auto& l : links.value("links", json::array())) {
      json o = SlimLink(l);
      auto it = windowed.find({l.value("from", ""), l.value("to", "")});
      if (it != windowed.end()) o["windowLagMs"] = {{"p50", it->second.first}, {"p99", it->second.second}};
      out_links.push_back(std::move(o));
    }
    const json snapshot = {{"timeMs", SystemClock::Instance().NowMillis()},
                           {"regions", std::move(out_regions)},
                           {"links", std::move(out_links)}};
    hub.Publish("metrics", snapshot.dump());
    PublishStateLocked(regions, links);
  }

  void StateNow() {
    std::lock_guard<std::mutex> lock(sample_mu);
    PublishStateLocked(AdminGet("/regions"), AdminGet("/links"));
  }

  void Tick() {
    if (stopping.load()) return;
    try {
      Sample();
    } catch (const std::exception& e) {
      spdlog::warn("console: sample failed: {}", e.what());
    }
    timer->expires_after(options.interval);
    timer->async_wait([this](const boost::system::error_code& ec) {
      if (!ec) Tick();
    });
  }

  HttpResponse Forward(HttpRequest& request) {
    // /console/api/regions/{r}/{rest}: `rest` raw from the target (keeps its
    // encoding and query) and decoded from the path (for the signature).
    const std::string_view path = std::string_view(request.path).substr(kApiPrefix.size());
    const size_t slash = path.find('/');
    const std::string name(path.substr(0, slash));
    const std::string decoded = slash == std::string_view::npos ? "/" : std::string(path.substr(slash));
    const server::RegionContext* region = nullptr;
    for (const server::RegionContext* ctx : admin.regions) {
      if (ctx->self.name == name) region = ctx;
    }
    if (!region) return JsonError(404, "NotFound", "no region '" + name + "' is served by this process");
    std::string target = request.target.substr(kApiPrefix.size());
    const size_t t = target.find('/');
    target = t == std::string::npos ? "/" : target.substr(t);
    auto endpoint = client::ParseHttpEndpoint(region->self.endpoint);
    if (!endpoint.ok()) {
      return JsonError(500, "InternalServerError",
                       "region endpoint " + region->self.endpoint + ": " + endpoint.status().message());
    }
    const std::string date = FormatHttpDate(SystemClock::Instance().NowSeconds());
    const ResourceAddress address = ResourceAddressFromPath(decoded);
    auto auth = BuildAuthorizationHeader(admin.key.empty() ? region->account_key : admin.key, request.method,
                                         address.type, address.link, date);
    if (!auth) return JsonError(500, "InternalServerError", "the account key is not base64");
    client::HttpHeaders headers = {{"x-ms-date", date},
                                   {"x-ms-version", "2020-07-15"},
                                   {"authorization", *auth},
                                   {"user-agent", "regionlab-console"}};
    for (const auto& [k, v] : request.headers) {
      const bool ms = k.rfind("x-ms-", 0) == 0 && k != "x-ms-date" && k != "x-ms-version";
      if (ms || k == "content-type" || k == "if-match" || k == "if-none-match" || k == "a-im") {
        headers.emplace_back(k, v);
      }
    }
    client::HttpClientOptions co;
    co.connect_timeout = std::chrono::milliseconds(3000);
    co.request_timeout = options.forward_timeout;
    co.ca_file = options.ca_file;
    client::HttpClient http(*endpoint, co);
    auto resp = http.Send(request.method, target, headers, request.body);
    if (!resp.ok()) {
      return JsonError(502, "BadGateway", "region '" + name + "' did not answer: " + resp.status().message());
    }
    HttpResponse out;
    out.status = resp->status;
    out.body = std::move(resp->body);
    out.content_type = "application/json";
    for (const auto& [k, v] : resp->headers) {
      if (k == "content-type") out.content_type = v;
      if (k.rfind("x-ms-", 0) == 0 || k == "etag") out.headers.emplace_back(k, v);
    }
    return out;
  }
};

Console::Console(admin::AdminContext& admin, ConsoleOptions options)
    : impl_(std::make_unique<Impl>(admin, options)) {}

Console::~Console() { Stop(); }

void Console::Start() {
  if (impl_->started) return;
  impl_->started = true;
  impl_->guard.emplace(impl_->io.get_executor());
  impl_->sampler_guard.emplace(impl_->sampler_io.get_executor());
  impl_->timer = std::make_unique<net::steady_timer>(impl_->sampler_io);
  for (int i = 0; i < std::max(1, impl_->options.threads); ++i) {
    impl_->threads.emplace_back([this] { impl_->io.run(); });
  }
  impl_->threads.emplace_back([this] { impl_->sampler_io.run(); });
  net::post(impl_->sampler_io, [this] { impl_->Tick(); });
}

void Console::Stop() {
  if (impl_->stopping.exchange(true)) return;
  impl_->hub.CloseAll();
  if (!impl_->started) return;
  impl_->guard.reset();
  impl_->sampler_guard.reset();
  impl_->io.stop();
  impl_->sampler_io.stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->threads.clear();
}

std::optional<HttpResponse> Console::ServePublic(const HttpRequest& request) const {
  if (request.method != "GET" && request.method != "HEAD") return std::nullopt;
  std::string_view name;
  if (request.path == "/" || request.path == "/index.html") {
    name = "index.html";
  } else if (request.path.rfind(kAssetPrefix, 0) == 0) {
    name = std::string_view(request.path).substr(kAssetPrefix.size());
  } else {
    return std::nullopt;
  }
  const Asset* asset = FindAsset(name);
  if (!asset) return JsonError(404, "NotFound", "the console has no file '" + std::string(name) + "'");
  HttpResponse r;
  r.body = std::string(asset->bytes);
  r.content_type = std::string(asset->content_type);
  r.SetHeader("cache-control", "no-cache");
  r.SetHeader("x-content-type-options", "nosniff");
  r.SetHeader("x-frame-options", "DENY");
  r.SetHeader("referrer-policy", "no-referrer");
  r.SetHeader("content-security-policy",
              "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
              "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
  return r;
}

std::optional<HttpResponse> Console::ServeAuthenticated(HttpRequest& request) {
  const bool ours = request.path == "/events" || request.path == "/console/frontdoor" ||
                    request.path.rfind(kApiPrefix, 0) == 0;
  if (!ours) return std::nullopt;
  // Another site's page in the user's browser may send requests here (the
  // console's routes can write documents): a request whose Origin is not
  // this server is refused. The page's own requests have no Origin or this one.
  if (const std::string* origin = request.Header("origin")) {
    const std::string host = request.HeaderOr("host", "");
    if (*origin != "http://" + host && *origin != "https://" + host) {
      return JsonError(403, "Forbidden", "cross-origin request to the console refused (Origin " + *origin + ")");
    }
  }
  if (request.path == "/events") {
    if (request.method != "GET") return JsonError(405, "MethodNotAllowed", "use GET /events");
    std::optional<uint64_t> last;
    std::string id = request.HeaderOr("last-event-id", "");
    const std::string q = "lastEventId=";
    if (id.empty() && request.query.rfind(q, 0) == 0) id = request.query.substr(q.size());
    if (!id.empty() && id.find_first_not_of("0123456789") == std::string::npos && id.size() < 20) {
      last = std::stoull(id);
    }
    auto stream = impl_->hub.Subscribe(last);
    if (!stream) return JsonError(503, "ServiceUnavailable", "too many event streams open, or stopping");
    HttpResponse r;
    r.content_type = "text/event-stream";
    r.SetHeader("cache-control", "no-cache");
    r.SetHeader("x-accel-buffering", "no");
    r.stream = std::move(stream);
    return r;
  }
  if (request.path == "/console/frontdoor" && request.method == "GET") {
    // The embedded front door's state and last failover, or present: false
    // (so the page asks without provoking a 404).
    json out = {{"present", false}};
    const auto& routes = impl_->admin.extra_routes;
    for (const auto& [key, path] : {std::pair{"state", "/frontdoor"}, std::pair{"failover", "/frontdoor/failover"}}) {
      if (!routes) break;
      HttpRequest r;
      r.method = "GET";
      r.target = r.path = path;
      auto resp = routes(r);
      if (!resp || resp->status != 200) continue;
      out["present"] = true;
      out[key] = json::parse(resp->body, nullptr, false);
    }
    HttpResponse r;
    r.body = out.dump();
    return r;
  }
  if (request.path.rfind(kApiPrefix, 0) == 0) {
    try {
      return impl_->Forward(request);
    } catch (const std::exception& e) {
      return JsonError(500, "InternalServerError", e.what());
    }
  }
  return std::nullopt;
}

void Console::AfterRequest(const HttpRequest& request, const HttpResponse& response) {
  if (request.method == "GET" || request.method == "HEAD" || response.status >= 300) return;
  if (request.path.rfind("/console/", 0) == 0 || impl_->stopping.load() || !impl_->started) return;
  net::post(impl_->sampler_io, [this] {
    if (!impl_->stopping.load()) impl_->StateNow();
  });
}

bool Console::IsSlow(const HttpRequest& request) { return request.path.rfind(kApiPrefix, 0) == 0; }

boost::asio::io_context& Console::workers() { return impl_->io; }

EventHub& Console::hub() { return impl_->hub; }

}  // namespace regionlab::console
