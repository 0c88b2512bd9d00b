// The Front Door's reverse proxy and probers over real loopback sockets:
// forwarding, large bodies both ways, streaming, keep-alive, 504 on timeout,
// an origin that closes mid-response, 503 when nothing can be reached, and a
// probe-driven failover. Waits are on conditions with deadlines, never sleeps.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/hash.h"
#include "frontdoor/admin.h"
#include "frontdoor/front_door.h"
#include "server/http_server.h"

namespace regionlab::frontdoor {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using json = nlohmann::json;

constexpr auto kDeadline = std::chrono::seconds(10);
using Response = http::response<http::string_body>;

// A blocking client: each call runs one Beast operation on a private
// io_context until it completes or the deadline closes the stream.
class Client {
 public:
  beast::error_code Connect(uint16_t port) {
    return RunOp([&](auto done) {
      stream_.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                            [done](beast::error_code ec) mutable { done(ec, 0); });
    });
  }
  beast::error_code Send(http::request<http::string_body> req) {
    if (req.find(http::field::host) == req.end()) req.set(http::field::host, "frontdoor.test");
    req.prepare_payload();
    request_ = std::move(req);
    return RunOp([&](auto done) { http::async_write(stream_, request_, done); });
  }
  beast::error_code Receive(Response& res) {
    res = {};
    http::response_parser<http::string_body> p;
    p.body_limit(64 << 20);
    auto ec = RunOp([&](auto done) { http::async_read(stream_, buffer_, p, done); });
    res = p.release();
    return ec;
  }
  beast::error_code RoundTrip(http::request<http::string_body> req, Response& res) {
    if (auto ec = Send(std::move(req))) return ec;
    return Receive(res);
  }
  // Reads the response header, then at least `n` bytes of its body.
  beast::error_code ReceivePart(size_t n, std::string& got) {
    header_parser_.emplace();
    header_parser_->body_limit(64 << 20);
    auto ec = RunOp([&](auto done) { http::async_read_header(stream_, buffer_, *header_parser_, done); });
    if (ec) return ec;
    while (header_parser_->get().body().size() < n && !header_parser_->is_done()) {
      ec = RunOp([&](auto done) { http::async_read_some(stream_, buffer_, *header_parser_, done); });
      if (ec) return ec;
    }
    got = header_parser_->get().body();
    return {};
  }

 private:
  template <class Start>
  beast::error_code RunOp(Start start) {
    beast::error_code result = net::error::would_block;
    stream_.expires_after(kDeadline);
    start([&result](beast::error_code ec, size_t) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
  }
  net::io_context ioc_;
  beast::tcp_stream stream_{ioc_};
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  std::optional<http::response_parser<http::string_body>> header_parser_;
};

http::request<http::string_body> Req(http::verb v, std::string target, std::string body = "") {
  http::request<http::string_body> r(v, target, 11);
  r.body() = std::move(body);
  return r;
}

void WriteAll(tcp::socket& s, std::string_view data) {
  beast::error_code ec;
  net::write(s, net::buffer(data.data(), data.size()), ec);
}

// A scripted origin on a blocking socket: each accepted connection's request
// header is read, then `behave` does whatever the test needs with the socket.
class RawOrigin {
 public:
  using Behavior = std::function<void(tcp::socket&, const http::request<http::string_body>&)>;
  explicit RawOrigin(Behavior behave) : behave_(std::move(behave)) {
    acceptor_.open(tcp::v4());
    acceptor_.bind(tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Loop(); });
  }
  ~RawOrigin() {
    Release();
    stop_ = true;
    beast::error_code ec;
    tcp::socket poke(io_);
    poke.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ec);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Unblocks behaviours waiting in Wait().
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(20), [&] { return released_; });
  }

 private:
  void Loop() {
    while (!stop_) {
      tcp::socket s(io_);
      beast::error_code ec;
      acceptor_.accept(s, ec);
      if (ec || stop_) return;
      beast::flat_buffer buf;
      http::request<http::string_body> req;
      http::read(s, buf, req, ec);
      if (ec) continue;
      if (req[http::field::user_agent] == "Edge Health Probe") {  // probes always succeed
        WriteAll(s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        continue;
      }
      behave_(s, req);
    }
  }
  net::io_context io_;
  tcp::acceptor acceptor_{io_};
  uint16_t port_ = 0;
  Behavior behave_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
};

// Waits for `cond` for up to 10 s.
bool Eventually(const std::function<bool()>& cond) {
  const auto end = std::chrono::steady_clock::now() + kDeadline;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling interval, not a wait for an outcome
  }
  return cond();
}

class FrontDoorProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override {
    fd_.reset();
    for (auto& s : servers_) s.reset();
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }
  // An origin served by server::HttpServer: echoes what it received as JSON,
  // /big?n=N answers N bytes, /health/deep answers `health_status`.
  std::string StartEchoOrigin(const std::string& name, std::atomic<int>* health_status = nullptr) {
    server::HttpServerOptions opts;
    opts.body_limit = 64 << 20;
    auto started = server::HttpServer::Start(
        io_, "127.0.0.1", 0,
        [name, health_status](server::HttpRequest& req) {
          server::HttpResponse res;
          if (req.path == "/health/deep") {
            res.status = health_status ? health_status->load() : 200;
            return res;
          }
          if (req.path == "/big") {
            const size_t n = std::stoul(req.query.substr(2));
            res.body.assign(n, 'x');
            for (size_t i = 0; i < n; i += 4096) res.body[i] = static_cast<char>('a' + (i / 4096) % 26);
            res.content_type = "application/octet-stream";
            return res;
          }
          json headers = json::object();
          for (const auto& [k, v] : req.headers) headers[k] = v;
          res.body = json{{"origin", name},
                          {"method", req.method},
                          {"target", req.target},
                          {"headers", headers},
                          {"bodySize", req.body.size()},
                          {"bodyHash", std::to_string(Fnv1a64(req.body))}}
                         .dump();
          return res;
        },
        opts);
    EXPECT_TRUE(started.ok()) << started.status().ToString();
    servers_.push_back(std::move(*started));
    return "http://127.0.0.1:" + std::to_string(servers_.back()->port());
  }
  void StartFrontDoor(std::vector<std::string> specs, Settings s = {}) {
    FrontDoorOptions o;
    o.settings = s;
    for (const auto& spec : specs) {
      auto oc = ParseOriginSpec(spec);
      ASSERT_TRUE(oc.ok()) << oc.status().ToString();
      o.origins.push_back(*oc);
    }
    auto started = FrontDoor::Start(o, SystemClock::Instance());
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    fd_ = std::move(*started);
  }
  Response Call(http::request<http::string_body> req) {
    Client c;
    EXPECT_FALSE(c.Connect(fd_->port()));
    Response res;
    auto ec = c.RoundTrip(std::move(req), res);
    EXPECT_FALSE(ec) << ec.message();
    return res;
  }

  net::io_context io_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_{net::make_work_guard(io_)};
  std::vector<std::thread> threads_;
  std::vector<std::unique_ptr<server::HttpServer>> servers_;
  std::unique_ptr<FrontDoor> fd_;
};

Settings QuietProbes() {
  Settings s;
  s.probe_interval_ms = 3'600'000;  // the first round only
  return s;
}

TEST_F(FrontDoorProxyTest, ForwardsTheRequestAndNamesTheOrigin) {
  const std::string uk = StartEchoOrigin("uk");
  StartFrontDoor({"uk=" + uk}, QuietProbes());
  auto req = Req(http::verb::patch, "/dbs/a%20b/docs?x=1&y=two", "{\"hello\":1}");
  req.set("x-ms-custom", "kept");
  req.set("x-forwarded-for", "10.9.8.7");
  req.set(http::field::connection, "keep-alive, x-hop");
  req.set("x-hop", "dropped");
  Response res = Call(std::move(req));
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  EXPECT_EQ(res["x-regionlab-origin"], "uk");
  EXPECT_EQ(res["x-regionlab-pop"], "0");
  EXPECT_FALSE(res["x-azure-ref"].empty());
  json seen = json::parse(res.body());
  EXPECT_EQ(seen["method"], "PATCH");
  EXPECT_EQ(seen["target"], "/dbs/a%20b/docs?x=1&y=two");
  EXPECT_EQ(seen["bodySize"], 11);
  EXPECT_EQ(seen["headers"]["x-ms-custom"], "kept");
  EXPECT_EQ(seen["headers"]["x-forwarded-for"], "10.9.8.7, 127.0.0.1");
  EXPECT_EQ(seen["headers"]["x-forwarded-host"], "frontdoor.test");
  EXPECT_EQ(seen["headers"]["x-azure-ref"], std::string(res["x-azure-ref"]));
  EXPECT_FALSE(seen["headers"].contains("x-hop"));
  EXPECT_EQ(seen["headers"]["host"], uk.substr(7));
}

TEST_F(FrontDoorProxyTest, CarriesLargeBodiesBothWaysOnOneKeptAliveConnection) {
  const std::string uk = StartEchoOrigin("uk");
  StartFrontDoor({"uk=" + uk}, QuietProbes());
  Client c;
  ASSERT_FALSE(c.Connect(fd_->port()));
  std::string big(8 << 20, 'b');
  for (size_t i = 0; i < big.size(); i += 1000) big[i] = static_cast<char>(i % 251);
  for (int round = 0; round < 2; ++round) {
    Response up;
    ASSERT_FALSE(c.RoundTrip(Req(http::verb::post, "/upload", big), up));
    ASSERT_EQ(up.result_int(), 200u);
    json seen = json::parse(up.body());
    EXPECT_EQ(seen["bodySize"], big.size());
    EXPECT_EQ(seen["bodyHash"], std::to_string(Fnv1a64(big)));
    Response down;
    ASSERT_FALSE(c.RoundTrip(Req(http::verb::get, "/big?n=" + std::to_string(16 << 20)), down));
    ASSERT_EQ(down.result_int(), 200u);
    ASSERT_EQ(down.body().size(), size_t{16} << 20);
    EXPECT_EQ(down.body()[4096 * 3], 'd');
    EXPECT_TRUE(down.keep_alive());
  }
  // A chunked upload is forwarded chunked.
  auto chunked = Req(http::verb::put, "/chunked", "");
  chunked.chunked(true);
  chunked.body() = std::string(300'000, 'c');
  Client c2;
  ASSERT_FALSE(c2.Connect(fd_->port()));
  chunked.set(http::field::host, "frontdoor.test");
  Response res;
  ASSERT_FALSE(c2.RoundTrip(std::move(chunked), res));
  EXPECT_EQ(json::parse(res.body())["bodySize"], 300'000);
}

TEST_F(FrontDoorProxyTest, StreamsTheResponseAsItArrives) {
  // The origin sends its header and a first piece, then waits until the test
  // has read that piece through the front door: a buffering proxy would hang.
  RawOrigin origin([&](tcp::socket& s, const auto&) {
    WriteAll(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
    origin.Wait();
    WriteAll(s, "4\r\nlast\r\n0\r\n\r\n");
  });
  StartFrontDoor({"raw=" + origin.url()}, QuietProbes());
  Client c;
  ASSERT_FALSE(c.Connect(fd_->port()));
  ASSERT_FALSE(c.Send(Req(http::verb::get, "/stream")));
  std::string got;
  ASSERT_FALSE(c.ReceivePart(5, got));
  EXPECT_EQ(got, "first");
  origin.Release();
}

TEST_F(FrontDoorProxyTest, Http10ClientGetsAnUnchunkedBody) {
  RawOrigin origin([](tcp::socket& s, const auto&) {
    WriteAll(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  });
  StartFrontDoor({"raw=" + origin.url()}, QuietProbes());
  auto req = Req(http::verb::get, "/old");
  req.version(10);
  Response res = Call(std::move(req));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.version(), 10u);
  EXPECT_FALSE(res.chunked());
  EXPECT_EQ(res.body(), "hello world");
}

TEST_F(FrontDoorProxyTest, SlowOriginIsAGatewayTimeout) {
  RawOrigin origin([&](tcp::socket&, const auto&) { origin.Wait(); });
  Settings s = QuietProbes();
  s.origin_timeout_ms = 30'000;
  s.time_scale = 100;  // 300 ms of wall time
  StartFrontDoor({"slow=" + origin.url()}, s);
  const auto start = std::chrono::steady_clock::now();
  Response res = Call(Req(http::verb::get, "/slow"));
  EXPECT_EQ(res.result_int(), 504u);
  EXPECT_EQ(res["x-regionlab-pop"], "0");
  EXPECT_EQ(res["x-regionlab-origin"], "slow");  // the origin that did not answer
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  origin.Release();
}

TEST_F(FrontDoorProxyTest, OriginClosingMidResponseCutsTheClientOff) {
  RawOrigin origin([](tcp::socket& s, const auto&) {
    WriteAll(s, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(1000, 'z'));
    s.close();
  });
  StartFrontDoor({"flaky=" + origin.url()}, QuietProbes());
  Client c;
  ASSERT_FALSE(c.Connect(fd_->port()));
  Response res;
  auto ec = c.RoundTrip(Req(http::verb::get, "/cut"), res);
  EXPECT_TRUE(ec == http::error::partial_message || ec == net::error::eof || ec == net::error::connection_reset)
      << ec.message();
  // An origin that closes before any response is a 502; the proxy keeps serving.
  RawOrigin mute([](tcp::socket& s, const auto&) { s.close(); });
  fd_.reset();
  StartFrontDoor({"mute=" + mute.url()}, QuietProbes());
  EXPECT_EQ(Call(Req(http::verb::get, "/x")).result_int(), 502u);
  EXPECT_EQ(Call(Req(http::verb::get, "/y")).result_int(), 502u);
}

TEST_F(FrontDoorProxyTest, UnreachableOriginsFallBackThenAnswer503) {
  // A port nobody listens on.
  uint16_t dead_port;
  {
    net::io_context io;
    tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    dead_port = a.local_endpoint().port();
  }
  const std::string dead = "http://127.0.0.1:" + std::to_string(dead_port);
  const std::string we = StartEchoOrigin("we");
  StartFrontDoor({"uk=" + dead + ",priority=1", "we=" + we + ",priority=2"}, QuietProbes());
  Response res = Call(Req(http::verb::get, "/fallback"));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res["x-regionlab-origin"], "we");
  fd_.reset();
  StartFrontDoor({"uk=" + dead}, QuietProbes());
  res = Call(Req(http::verb::get, "/nothing"));
  EXPECT_EQ(res.result_int(), 503u);
  EXPECT_NE(res.body().find("no origin could be reached"), std::string::npos);
  // Disabling every origin: 503 too; a small body is read and dropped, so the
  // connection serves the next request.
  ASSERT_TRUE(fd_->model().UpdateOrigin("uk", {.enabled = false}).ok());
  Client c;
  ASSERT_FALSE(c.Connect(fd_->port()));
  for (int i = 0; i < 2; ++i) {
    Response r;
    ASSERT_FALSE(c.RoundTrip(Req(http::verb::post, "/none", std::string(100'000, 'p')), r));
    EXPECT_EQ(r.result_int(), 503u);
    EXPECT_TRUE(r.keep_alive());
  }
}

TEST_F(FrontDoorProxyTest, PopHeaderChoosesThePop) {
  const std::string uk = StartEchoOrigin("uk");
  Settings s = QuietProbes();
  s.pops = 3;
  StartFrontDoor({"uk=" + uk}, s);
  auto req = Req(http::verb::get, "/p");
  req.set("x-regionlab-pop", "2");
  EXPECT_EQ(Call(std::move(req))["x-regionlab-pop"], "2");
  auto bad = Req(http::verb::get, "/p");
  bad.set("x-regionlab-pop", "3");
  EXPECT_EQ(Call(std::move(bad)).result_int(), 400u);
}

TEST_F(FrontDoorProxyTest, ProbesMoveTrafficToTheSecondaryWithinThePromise) {
  std::atomic<int> uk_health{200};
  const std::string uk = StartEchoOrigin("uk", &uk_health);
  const std::string we = StartEchoOrigin("we");
  Settings s;  // the story: 30 s, 4, 3
  s.probe_path = "/health/deep";
  s.probe_method = "GET";
  s.pops = 2;
  s.time_scale = 300;  // 30 s = 100 ms
  StartFrontDoor({"uk=" + uk + ",priority=1", "we=" + we + ",priority=2"}, s);
  // Both POPs have a full window of successes.
  ASSERT_TRUE(Eventually([&] {
    auto snap = fd_->model().Snapshot();
    return snap.origins[0].pops[0].window.size() == 4 && snap.origins[0].pops[1].window.size() == 4;
  }));
  auto via = [&](int pop) {
    auto req = Req(http::verb::get, "/work");
    req.set("x-regionlab-pop", std::to_string(pop));
    return std::string(Call(std::move(req))["x-regionlab-origin"]);
  };
  EXPECT_EQ(via(0), "uk");
  const int64_t fault_us = SystemClock::Instance().NowMicros();
  uk_health = 503;
  ASSERT_TRUE(Eventually([&] { return via(0) == "we" && via(1) == "we"; }));
  const int64_t switched_us = SystemClock::Instance().NowMicros();
  const auto snap = fd_->model().Snapshot();
  const int64_t bound_wall_us = fd_->model().time().ToWall(snap.promise.worst_case_ms * 1000);
  // The measured switch (from the fault) is within the settings' worst case
  // (plus scheduling slack for a loaded machine).
  EXPECT_LE(switched_us - fault_us, bound_wall_us + 500'000);
  ASSERT_TRUE(snap.last_failover.has_value());
  EXPECT_EQ(snap.last_failover->origin, "uk");
  EXPECT_EQ(snap.last_failover->marked.size(), 2u);
  json report = json::parse(FailoverJson(snap));
  EXPECT_EQ(report["failover"]["origin"], "uk");
  EXPECT_EQ(report["failover"]["complete"], true);
  EXPECT_EQ(report["promise"]["worstCaseFdMs"], 90'000);
  // Admin routes over the same model.
  auto state = HandleAdmin(fd_->model(), "GET", "/frontdoor", "", "");
  ASSERT_TRUE(state);
  json st = json::parse(state->body);
  EXPECT_EQ(st["pops"][0]["routing"], json::array({"we"}));
  EXPECT_EQ(st["origins"][0]["pops"][0]["healthy"], false);
  auto events = HandleAdmin(fd_->model(), "GET", "/frontdoor/events", "type=health", "");
  ASSERT_TRUE(events);
  EXPECT_GE(json::parse(events->body)["events"].size(), 2u);
  auto metrics = HandleAdmin(fd_->model(), "GET", "/metrics", "", "");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("regionlab_frontdoor_origin_healthy{origin=\"uk\",pop=\"0\"} 0"), std::string::npos);
  // Back to healthy: traffic returns to the primary.
  uk_health = 200;
  ASSERT_TRUE(Eventually([&] { return via(0) == "uk" && via(1) == "uk"; }));
  // An admin PUT disables it: traffic moves at once.
  auto put = HandleAdmin(fd_->model(), "PUT", "/frontdoor/origins/uk", "", "{\"enabled\":false}");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 200);
  EXPECT_EQ(via(0), "we");
  EXPECT_EQ(HandleAdmin(fd_->model(), "PUT", "/frontdoor/origins/zz", "", "{\"enabled\":false}")->status, 404);
  EXPECT_EQ(HandleAdmin(fd_->model(), "PUT", "/frontdoor/origins/uk", "", "{\"enabled\":1}")->status, 400);
  EXPECT_EQ(HandleAdmin(fd_->model(), "PUT", "/frontdoor/origins/uk", "", "{\"colour\":1}")->status, 400);
}

}  // namespace
}  // namespace regionlab::frontdoor
