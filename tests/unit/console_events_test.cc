// The console's event stream (console/event_hub.h) and its routes: the
// text/event-stream format, reconnects with Last-Event-ID, slow clients that
// are dropped instead of slowing the publisher (also over real sockets with
// HttpServer's streamed responses), and the embedded page.
#include "console/event_hub.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin/admin_api.h"
#include "cluster/cluster.h"
#include "console/console.h"
#include "server/http_server.h"

namespace regionlab::console {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kDeadline = std::chrono::seconds(10);

// Pulls once; the piece must come within the deadline ("" = the stream ended).
std::optional<std::string> PullOnce(server::BodyStream& s) {
  auto p = std::make_shared<std::promise<std::string>>();
  auto f = p->get_future();
  s.Pull([p](std::string piece) { p->set_value(std::move(piece)); });
  if (f.wait_for(kDeadline) != std::future_status::ready) return std::nullopt;
  return f.get();
}

TEST(EventHubTest, FormatsIdTypeAndOneDataLinePerLine) {
  EXPECT_EQ(EventHub::Format(7, "metrics", "{\"a\":1}"), "id: 7\nevent: metrics\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(EventHub::Format(8, "x", "a\r\nb\nc"), "id: 8\nevent: x\ndata: a\ndata: b\ndata: c\n\n");
  EXPECT_EQ(EventHub::Format(0, "reset", ""), "event: reset\ndata: \n\n");
}

TEST(EventHubTest, NewClientGetsRetryResetAndHistoryThenLiveEvents) {
  EventHub hub({.history = 2});
  hub.Publish("metrics", "1");
  hub.Publish("metrics", "2");
  hub.Publish("state", "3");
  auto s = hub.Subscribe(std::nullopt);
  ASSERT_NE(s, nullptr);
  auto first = PullOnce(*s);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, "retry: 1000\n\nevent: reset\ndata: {\"lastEventId\":3}\n\n" + EventHub::Format(2, "metrics", "2") +
                        EventHub::Format(3, "state", "3"));
  // A pending Pull is answered by the next Publish.
  auto p = std::make_shared<std::promise<std::string>>();
  auto f = p->get_future();
  s->Pull([p](std::string piece) { p->set_value(std::move(piece)); });
  EXPECT_EQ(hub.Publish("metrics", "4"), 4u);
  ASSERT_EQ(f.wait_for(kDeadline), std::future_status::ready);
  EXPECT_EQ(f.get(), EventHub::Format(4, "metrics", "4"));
  EXPECT_EQ(hub.clients(), 1u);
}

TEST(EventHubTest, ReconnectWithLastEventIdReplaysOnlyWhatWasMissed) {
  EventHub hub({.history = 10});
  for (int i = 1; i <= 5; ++i) hub.Publish("metrics", std::to_string(i));
  auto s = hub.Subscribe(3);
  auto got = PullOnce(*s);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, "retry: 1000\n\n" + EventHub::Format(4, "metrics", "4") + EventHub::Format(5, "metrics", "5"));
  // Up to date: nothing but the retry line.
  auto s2 = hub.Subscribe(5);
  EXPECT_EQ(PullOnce(*s2), std::optional<std::string>("retry: 1000\n\n"));
}

TEST(EventHubTest, ReconnectBeyondTheHistoryOrFromAnotherRunStartsAfresh) {
  EventHub hub({.history = 3});
  for (int i = 1; i <= 10; ++i) hub.Publish("metrics", std::to_string(i));
  for (uint64_t last : {2u, 42u}) {  // too old; from a server that ran longer
    auto s = hub.Subscribe(last);
    auto got = PullOnce(*s);
    ASSERT_TRUE(got);
    EXPECT_NE(got->find("event: reset\n"), std::string::npos) << last;
    EXPECT_NE(got->find("id: 8\n"), std::string::npos);
    EXPECT_EQ(got->find("id: 7\n"), std::string::npos);
  }
}

TEST(EventHubTest, SlowClientIsDroppedAndDoesNotHoldBackTheOthers) {
  EventHub hub({.history = 4, .max_queue_bytes = 64 * 1024});
  auto slow = hub.Subscribe(std::nullopt);  // never pulls
  auto fast = hub.Subscribe(std::nullopt);
  ASSERT_TRUE(PullOnce(*fast));
  const std::string big(1000, 'x');
  const auto start = Clock::now();
  std::string received;
  for (int i = 0; i < 1000; ++i) {
    hub.Publish("metrics", big);
    auto piece = PullOnce(*fast);
    ASSERT_TRUE(piece);
    received += *piece;
  }
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(hub.dropped(), 1u);
  EXPECT_EQ(hub.clients(), 1u);
  EXPECT_NE(received.find("id: 1000\n"), std::string::npos);
  // The dropped client's stream ends (its connection closes; it reconnects).
  EXPECT_EQ(PullOnce(*slow), std::optional<std::string>(""));
}

TEST(EventHubTest, CancelledClientsAreForgottenAndCloseAllEndsStreams) {
  EventHub hub({.max_clients = 2});
  auto a = hub.Subscribe(std::nullopt);
  auto b = hub.Subscribe(std::nullopt);
  EXPECT_EQ(hub.Subscribe(std::nullopt), nullptr);  // over max_clients
  a->Cancel();
  auto c = hub.Subscribe(std::nullopt);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(PullOnce(*c));
  auto p = std::make_shared<std::promise<std::string>>();
  auto f = p->get_future();
  c->Pull([p](std::string piece) { p->set_value(std::move(piece)); });
  hub.CloseAll();
  ASSERT_EQ(f.wait_for(kDeadline), std::future_status::ready);
  EXPECT_EQ(f.get(), "");
  EXPECT_EQ(hub.Subscribe(std::nullopt), nullptr);
}

// A blocking socket client with a receive deadline.
class RawClient {
 public:
  explicit RawClient(uint16_t port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    timeval tv{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  RawClient(RawClient&& o) noexcept : fd_(std::exchange(o.fd_, -1)), connected_(o.connected_), got_(std::move(o.got_)) {}
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  void Send(const std::string& s) { (void)!::write(fd_, s.data(), s.size()); }
  // Reads until `needle` appears, the peer closes, or the deadline passes.
  bool ReadUntil(const std::string& needle) {
    const auto end = Clock::now() + kDeadline;
    char buf[65536];
    while (Clock::now() < end) {
      if (got_.find(needle) != std::string::npos) return true;
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n == 0) return got_.find(needle) != std::string::npos;
      if (n > 0) {
        got_.append(buf, static_cast<size_t>(n));
        if (got_.size() > (4u << 20)) got_.erase(0, got_.size() - (1u << 20));
      }
    }
    return false;
  }
  const std::string& got() const { return got_; }
  // Reads until `end` appears (true) or the deadline passes, counting the
  // occurrences of `needle` in `*count` as they arrive; keeps only a tail.
  bool ReadCounting(const std::string& needle, std::atomic<int>* count, const std::string& end) {
    const auto deadline = Clock::now() + kDeadline;
    char buf[65536];
    std::string window;
    while (Clock::now() < deadline) {
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n == 0) return false;
      if (n < 0) continue;
      window.append(buf, static_cast<size_t>(n));
      for (size_t at = window.find(needle); at != std::string::npos; at = window.find(needle, at + 1)) ++*count;
      if (window.find(end) != std::string::npos) return true;
      // Keep less than one needle (and, here, more than `end` less one
      // byte) for what a read splits: nothing is counted twice.
      if (window.size() >= needle.size()) window.erase(0, window.size() - (needle.size() - 1));
    }
    return false;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string got_;
};

// An io_context run by one thread, stopped and joined however the test ends.
struct IoThread {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{io.get_executor()};
  std::thread thread{[this] { io.run(); }};
  ~IoThread() {
    guard.reset();
    io.stop();
    thread.join();
  }
};

TEST(ConsoleEventsHttpTest, StreamsOverHttpAndDropsAClientThatStopsReading) {
  EventHub hub({.history = 2, .max_queue_bytes = 256 * 1024});
  IoThread io;
  auto server = server::HttpServer::Start(io.io, "127.0.0.1", 0, [&hub](server::HttpRequest& req) {
    server::HttpResponse r;
    r.content_type = "text/event-stream";
    const std::string* last = req.Header("last-event-id");
    r.stream = hub.Subscribe(last ? std::optional<uint64_t>(std::stoull(*last)) : std::nullopt);
    return r;
  });
  ASSERT_TRUE(server.ok()) << server.status().ToString();

  RawClient fast((*server)->port());
  RawClient slow((*server)->port(), 4096);
  ASSERT_TRUE(fast.connected() && slow.connected());
  fast.Send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  slow.Send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(fast.ReadUntil("retry: 1000\n\n"));
  EXPECT_NE(fast.got().find("HTTP/1.1 200 OK\r\n"), std::string::npos);
  EXPECT_NE(fast.got().find("Content-Type: text/event-stream\r\n"), std::string::npos);
  EXPECT_EQ(fast.got().find("Content-Length"), std::string::npos);
  ASSERT_TRUE(slow.ReadUntil("retry: 1000\n\n"));
  const auto subscribed = Clock::now() + kDeadline;
  while (hub.clients() < 2 && Clock::now() < subscribed) std::this_thread::yield();
  ASSERT_EQ(hub.clients(), 2u);

  // The fast client reads all the time; the slow one stops reading. 400
  // events of 32 KiB overflow what the slow one's socket buffers take and
  // then its queue; the publisher never waits.
  // The fast client keeps up: the publisher stays at most 4 events ahead of
  // what it has read (as a one-a-second publisher would be).
  bool fast_got_all = false;
  std::atomic<int> seen{0};
  std::thread reader([&] { fast_got_all = fast.ReadCounting("event: metrics\n", &seen, "data: done\n\n"); });
  const std::string big(32 * 1024, 'y');
  const auto start = Clock::now();
  for (int i = 0; i < 400; ++i) {
    while (seen.load() < i - 4 && Clock::now() - start < kDeadline) std::this_thread::yield();
    hub.Publish("metrics", big);
  }
  const uint64_t last = hub.Publish("state", "done");
  const auto publishing = Clock::now() - start;
  reader.join();
  EXPECT_LT(publishing, std::chrono::seconds(8));
  EXPECT_EQ(seen.load(), 400);
  EXPECT_TRUE(fast_got_all);
  EXPECT_EQ(hub.dropped(), 1u);
  EXPECT_EQ(hub.clients(), 1u);

  // Reconnect with Last-Event-ID: only what came after it.
  const uint64_t next = hub.Publish("state", "after");
  RawClient again((*server)->port());
  again.Send("GET /events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: " + std::to_string(last) + "\r\n\r\n");
  ASSERT_TRUE(again.ReadUntil("data: after\n\n"));
  EXPECT_EQ(again.got().find("event: reset"), std::string::npos);
  EXPECT_EQ(again.got().find("data: done"), std::string::npos);
  EXPECT_NE(again.got().find("id: " + std::to_string(next) + "\n"), std::string::npos);

  // A client that leaves while nothing is being sent is noticed at once:
  // its stream is cancelled and it no longer counts.
  EXPECT_EQ(hub.clients(), 2u);
  { RawClient gone = std::move(again); }
  const auto deadline = Clock::now() + kDeadline;
  while (hub.clients() != 1 && Clock::now() < deadline) std::this_thread::yield();
  EXPECT_EQ(hub.clients(), 1u);

  (*server)->Stop();
  hub.CloseAll();
}

TEST(ConsoleRoutesTest, ServesThePageItsAssetsAndTheEventStream) {
  admin::AdminContext admin;
  Console console(admin);
  server::HttpRequest get;
  get.method = "GET";
  get.path = get.target = "/";
  auto page = console.ServePublic(get);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->content_type.find("text/html"), std::string::npos);
  EXPECT_NE(page->body.find("regionlab console"), std::string::npos);
  get.path = get.target = "/console/assets/uPlot.iife.min.js";
  auto lib = console.ServePublic(get);
  ASSERT_TRUE(lib);
  EXPECT_EQ(lib->status, 200);
  EXPECT_NE(lib->body.find("uPlot"), std::string::npos);
  get.path = get.target = "/console/assets/nope.js";
  EXPECT_EQ(console.ServePublic(get)->status, 404);
  get.path = get.target = "/regions";
  EXPECT_FALSE(console.ServePublic(get));
  server::HttpRequest post = get;
  post.method = "POST";
  post.path = post.target = "/";
  EXPECT_FALSE(console.ServePublic(post));

  console.hub().Publish("metrics", "1");
  console.hub().Publish("metrics", "2");
  server::HttpRequest events;
  events.method = "GET";
  events.path = events.target = "/events";
  events.headers = {{"last-event-id", "1"}};
  auto r = console.ServeAuthenticated(events);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->content_type, "text/event-stream");
  ASSERT_NE(r->stream, nullptr);
  EXPECT_EQ(PullOnce(*r->stream), std::optional<std::string>("retry: 1000\n\n" + EventHub::Format(2, "metrics", "2")));
  r->stream->Cancel();
  server::HttpRequest other = events;
  other.path = other.target = "/regions";
  EXPECT_FALSE(console.ServeAuthenticated(other));

  // Another site's page cannot use the console's routes through the browser.
  server::HttpRequest cross;
  cross.method = "POST";
  cross.path = cross.target = "/console/api/regions/uksouth/dbs";
  cross.headers = {{"host", "127.0.0.1:8090"}, {"origin", "http://evil.example"}};
  auto refused = console.ServeAuthenticated(cross);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
  cross.headers = {{"host", "127.0.0.1:8090"}, {"origin", "http://127.0.0.1:8090"}};
  auto same = console.ServeAuthenticated(cross);
  ASSERT_TRUE(same);
  EXPECT_EQ(same->status, 404);  // same origin: passes, and no region uksouth is served here
}

TEST(ConsoleRoutesTest, FrontDoorPanelAsksTheExtraRoutesWithoutA404) {
  admin::AdminContext admin;
  Console console(admin);
  server::HttpRequest req;
  req.method = "GET";
  req.path = req.target = "/console/frontdoor";
  auto none = console.ServeAuthenticated(req);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 200);
  EXPECT_EQ(nlohmann::json::parse(none->body), nlohmann::json::parse(R"({"present":false})"));
  admin.extra_routes = [](server::HttpRequest& r) -> std::optional<server::HttpResponse> {
    server::HttpResponse out;
    out.body = r.path == "/frontdoor" ? R"({"origins":[]})" : R"({"failover":null})";
    return out;
  };
  auto some = console.ServeAuthenticated(req);
  ASSERT_TRUE(some);
  EXPECT_EQ(nlohmann::json::parse(some->body),
            nlohmann::json::parse(R"({"present":true,"state":{"origins":[]},"failover":{"failover":null}})"));
}

// On a non-loopback admin address the page itself is public, but the event
// stream and the data-plane forward need the admin token like every
// management route; the forward signs with the account key.
TEST(ConsoleClusterTest, PageIsPublicEventsAndForwardNeedTheAdminToken) {
  cluster::ClusterOptions o;
  o.regions = {"uksouth", "westeurope"};
  o.port = 0;
  o.admin_port = 0;
  o.admin_host = "0.0.0.0";
  o.admin_token = "s3cret";
  o.ephemeral = true;
  o.seed = 1;
  auto c = cluster::Cluster::Start(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const auto ready = nlohmann::json::parse((*c)->ReadyLine());
  ASSERT_EQ(ready["console"], ready["admin"]);
  const std::string url = ready["admin"];
  const uint16_t port = static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));

  RawClient page(port);
  page.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(page.ReadUntil("</html>"));
  EXPECT_EQ(page.got().rfind("HTTP/1.1 200 OK\r\n", 0), 0u);

  RawClient anonymous(port);
  anonymous.Send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(anonymous.ReadUntil("\r\n\r\n"));
  EXPECT_EQ(anonymous.got().rfind("HTTP/1.1 401", 0), 0u) << anonymous.got();

  RawClient events(port);
  events.Send("GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\r\n");
  ASSERT_TRUE(events.ReadUntil("event: state\n"));
  EXPECT_EQ(events.got().rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  ASSERT_TRUE(events.ReadUntil("event: metrics\n"));

  RawClient forward(port);
  forward.Send("GET /console/api/regions/westeurope/dbs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\r\n");
  ASSERT_TRUE(forward.ReadUntil("\"Databases\""));
  EXPECT_EQ(forward.got().rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_NE(forward.got().find("x-ms-request-charge"), std::string::npos);
  RawClient unknown(port);
  unknown.Send("GET /console/api/regions/nowhere/dbs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\r\n");
  ASSERT_TRUE(unknown.ReadUntil("\r\n\r\n"));
  EXPECT_EQ(unknown.got().rfind("HTTP/1.1 404", 0), 0u);
  (*c)->Stop();
}

}  // namespace
}  // namespace regionlab::console
