// HttpServer over real loopback sockets. The server's io_context runs on two
// threads; the test's client is Beast on its own io_context, driven to
// completion for each operation under a deadline (no sleeps).
#include "server/http_server.h"

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
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "base/deferred_work.h"

namespace regionlab::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr auto kDeadline = std::chrono::seconds(10);

using Response = http::response<http::string_body>;

// A blocking HTTP client: each call runs one asynchronous Beast operation on a
// private io_context until it completes or the deadline closes the stream
// (then the call returns beast::error::timeout).
class Client {
 public:
  beast::error_code Connect(uint16_t port) {
    return RunOp([&](auto done) {
      stream_.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                            [done](beast::error_code ec) mutable { done(ec, 0); });
    });
  }

  beast::error_code Send(http::request<http::string_body> req) {
    if (req.find(http::field::host) == req.end()) req.set(http::field::host, "127.0.0.1");
    req.prepare_payload();
    request_ = std::move(req);
    return RunOp([&](auto done) { http::async_write(stream_, request_, done); });
  }

  beast::error_code SendRaw(std::string data) {
    raw_ = std::move(data);
    return RunOp([&](auto done) { net::async_write(stream_, net::buffer(raw_), done); });
  }

  beast::error_code Receive(Response& res) {
    res = {};
    return RunOp([&](auto done) { http::async_read(stream_, buffer_, res, done); });
  }

  // Reads raw bytes until the server closes the connection.
  beast::error_code ReadToEof(std::string& out) {
    out = beast::buffers_to_string(buffer_.data());  // what an earlier read left over
    buffer_.consume(buffer_.size());
    beast::error_code ec = RunOp([&](auto done) {
      net::async_read(stream_, net::dynamic_buffer(out), net::transfer_all(), done);
    });
    return ec == net::error::eof ? beast::error_code() : ec;
  }

  // Send + Receive; returns the first error.
  beast::error_code RoundTrip(http::request<http::string_body> req, Response& res) {
    if (auto ec = Send(std::move(req))) return ec;
    return Receive(res);
  }

  std::string LocalEndpoint() const {
    const auto ep = stream_.socket().local_endpoint();
    return ep.address().to_string() + ":" + std::to_string(ep.port());
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
  std::string raw_;
};

http::request<http::string_body> Get(std::string target, unsigned version = 11) {
  return http::request<http::string_body>(http::verb::get, target, version);
}

http::request<http::string_body> Post(std::string target, std::string body) {
  http::request<http::string_body> req(http::verb::post, target, 11);
  req.body() = std::move(body);
  return req;
}

// Answers 200 with the request path as the body.
HttpResponse EchoPath(HttpRequest& req) {
  HttpResponse res;
  res.body = req.path;
  res.content_type = "text/plain";
  return res;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  void TearDown() override { StopAcceptingIo(); }

  // Destroys the server while the io_context still runs, then stops it. A
  // test with its own session io_contexts calls this before they go: an
  // aborted accept's socket belongs to one of them.
  void StopAcceptingIo() {
    server_.reset();
    work_.reset();
    io_.stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  void StartServer(HttpHandler handler, HttpServerOptions options = {}) {
    auto started = HttpServer::Start(io_, "127.0.0.1", 0, std::move(handler), std::move(options));
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    server_ = std::move(started).value();
  }

  // `clients` threads, each on its own connection, POST `requests` distinct
  // bodies to /echo one after another; returns how many came back unchanged.
  int EchoFromClients(int clients, int requests) {
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        Client client;
        if (client.Connect(server_->port())) return;
        for (int i = 0; i < requests; ++i) {
          const std::string body = std::to_string(c) + "/" + std::to_string(i);
          Response res;
          if (client.RoundTrip(Post("/echo", body), res)) return;
          if (res.body() == body) ++ok;
        }
      });
    }
    for (auto& t : threads) t.join();
    return ok.load();
  }

  net::io_context io_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_{
      net::make_work_guard(io_)};
  std::vector<std::thread> threads_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, DeliversRequestFieldsToTheHandler) {
  std::mutex mu;
  std::optional<HttpRequest> seen;
  StartServer([&](HttpRequest& req) {
    std::lock_guard<std::mutex> lock(mu);
    seen = req;
    HttpResponse res;
    res.body = "{}";
    return res;
  });

  Client client;
  ASSERT_FALSE(client.Connect(server_->port()));
  auto req = Post("/docs/a%20b%C3%BC?x=1&y=%20z", R"({"id":"a b"})");
  req.set("X-Ms-Date", "Tue, 01 Nov 1994 08:12:31 GMT");
  req.set(http::field::content_type, "application/json");
  Response res;
  ASSERT_FALSE(client.RoundTrip(req, res));
  EXPECT_EQ(res.result_int(), 200);

  std::lock_guard<std::mutex> lock(mu);
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->method, "POST");
  EXPECT_EQ(seen->target, "/docs/a%20b%C3%BC?x=1&y=%20z");
  EXPECT_EQ(seen->path, "/docs/a b\xC3\xBC");
  EXPECT_EQ(seen->query, "x=1&y=%20z");
  EXPECT_EQ(seen->body, R"({"id":"a b"})");
  EXPECT_EQ(seen->HeaderOr("x-ms-date", ""), "Tue, 01 Nov 1994 08:12:31 GMT");
  EXPECT_EQ(seen->HeaderOr("content-type", ""), "application/json");
  EXPECT_EQ(seen->HeaderOr("content-length", ""), "12");
  for (const auto& [name, value] : seen->headers) {
    for (char c : name) EXPECT_FALSE(c >= 'A' && c <= 'Z') << name;
  }
  EXPECT_EQ(seen->remote, client.LocalEndpoint());
}

TEST_F(HttpServerTest, PathWithoutQueryHasEmptyQuery) {
  std::mutex mu;
  std::string query = "unset";
  std::string method;
  StartServer([&](HttpRequest& req) {
    std::lock_guard<std::mutex> lock(mu);
    query = req.query;
    method = req.method;
    return HttpResponse{};
  });
  Client client;
  ASSERT_FALSE(client.Connect(server_->port()));
  Response res;
  ASSERT_FALSE(
      client.RoundTrip(http::request<http::string_body>(http::verb::delete_, "/x", 11), res));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(query, "");
  EXPECT_EQ(method, "DELETE");
}

TEST_F(HttpServerTest, WritesStatusHeadersAndFraming) {
  StartServer([](HttpRequest& req) {
    HttpResponse res;
    if (req.path == "/empty") {
      res.status = 202;
      res.SetHeader("x-ms-activity-id", "abc");
      return res;
    }
    res.status = 201;
    res.body = R"({"id":"1"})";
    res.SetHeader("etag", "\"0001\"");
    return res;
  });
  Client client;
  ASSERT_FALSE(client.Connect(server_->port()));

  Response res;
  ASSERT_FALSE(client.RoundTrip(Get("/full"), res));
  EXPECT_EQ(res.result_int(), 201);
  EXPECT_EQ(res.body(), R"({"id":"1"})");
  EXPECT_EQ(res[http::field::content_type], "application/json");
  EXPECT_EQ(res[http::field::content_length], "10");
  EXPECT_EQ(res[http::field::server], "regionlab");
  EXPECT_EQ(res[http::field::etag], "\"0001\"");
  EXPECT_TRUE(res.keep_alive());

  ASSERT_FALSE(client.RoundTrip(Get("/empty"), res));
  EXPECT_EQ(res.result_int(), 202);
  EXPECT_EQ(res.body(), "");
  EXPECT_EQ(res[http::field::content_length], "0");
  EXPECT_EQ(res.find(http::field::content_type), res.end());
  EXPECT_EQ(res["x-ms-activity-id"], "abc");
}

TEST_F(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  std::mutex mu;
  std::vector<std::string> remotes;
  StartServer([&](HttpRequest& req) {
    std::lock_guard<std::mutex> lock(mu);
    remotes.push_back(req.remote);
    return EchoPath(req);
  });
  Client client;
  ASSERT_FALSE(client.Connect(server_->port()));
  Response res;
  ASSERT_FALSE(client.RoundTrip(Get("/one"), res));
  EXPECT_EQ(res.body(), "/one");
  EXPECT_TRUE(res.keep_alive());
  ASSERT_FALSE(client.RoundTrip(Get("/two"), res));
  EXPECT_EQ(res.body(), "/two");

  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(remotes.size(), 2u);
  EXPECT_EQ(remotes[0], remotes[1]);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer(EchoPath);
  Client client;
  ASSERT_FALSE(client.Connect(server_->port()));
  ASSERT_FALSE(
      client.SendRaw("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                     "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                     "GET /c HTTP/1.1\r\nHost: x\r\n\r\n"));
  for (const char* want : {"/a", "/b", "/c"}) {
    Response res;
    ASSERT_FALSE(client.Receive(res));
    EXPECT_EQ(res.body(), want);
  }
}

// A plain answer is written at once while it fits the socket's buffer; the
// rest of a larger one follows asynchronously, in order, before the answer to
// the next (pipelined) request.
TEST_F(HttpServerTest, AnswerLargerThanTheSocketBufferArrivesWholeAndInOrder) {
  std::string big(16 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = char('a' + (i * 7 + i / 4096) % 26);
  StartServer([&big](HttpRequest& req) {
    if (req.path != "/big") return EchoPath(req);
    HttpResponse res;
    res.body = big;
    return res;
  });
  Client client;
  ASSERT_FALSE(client.Connect(server_->port()));
  ASSERT_FALSE(client.SendRaw("GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n"));
  Response res;
  ASSERT_FALSE(client.Receive(res));
  EXPECT_EQ(res.body().size(), big.size());
  EXPECT_TRUE(res.body() == big);
  ASSERT_FALSE(client.Receive(res));
  EXPECT_EQ(res.body(), "/after");
}

// A body that comes after its header, in pieces, is read to its end.
TEST_F(HttpServerTest, BodyArrivingInPiecesIsReadWhole) {
  StartServer([](HttpRequest& req) {
    HttpResponse res;
    res.body = req.body;
    return res;
  });
  Client client;
  ASSERT_FALSE(client.Connect(server_->port()));
  ASSERT_FALSE(client.SendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123"));
  ASSERT_FALSE(client.SendRaw("456"));
  ASSERT_FALSE(client.SendRaw("789GET /next HTTP/1.1\r\nHost: x\r\n\r\n"));
  Response res;
  ASSERT_FALSE(client.Receive(res));
  EXPECT_EQ(res.body(), "0123456789");
  ASSERT_FALSE(client.Receive(res));
  EXPECT_EQ(res.body(), "");  // the GET's (empty) body, answered in turn
}

TEST_F(HttpServerTest, BodyOverTheLimitGets413AndTheConnectionCloses) {
  std::atomic<int> calls{0};
  HttpServerOptions options;
  options.body_limit = 1024;
  StartServer(
      [&](HttpRequest& req) {
        ++calls;
        return EchoPath(req);
      },
      options);

  {  // exactly at the limit: served
    Client client;
    ASSERT_FALSE(client.Connect(server_->port()));
    Response res;
    ASSERT_FALSE(client.RoundTrip(Post("/ok", std::string(1024, 'x')), res));
    EXPECT_EQ(res.result_int(), 200);
  }
  {  // over it, announced by Content-Length
    Client client;
    ASSERT_FALSE(client.Connect(server_->port()));
    Response res;
    ASSERT_FALSE(client.RoundTrip(Post("/big", std::string(2048, 'x')), res));
    EXPECT_EQ(res.result_int(), 413);
    EXPECT_EQ(res[http::field::content_type], "application/json");
    EXPECT_NE(res.body().find(R"("code":"RequestEntityTooLarge")"), std::string::npos)
        << res.body();
    EXPECT_NE(res.body().find(R"("message":")"), std::string::npos) << res.body();
    EXPECT_FALSE(res.keep_alive());
    Response next;
    EXPECT_EQ(client.Receive(next), http::error::end_of_stream);
  }
  {  // far over it: the client is still sending when the 413 is written, and
     // must read the 413 rather than a connection reset
    Client client;
    ASSERT_FALSE(client.Connect(server_->port()));
    Response res;
    ASSERT_FALSE(client.RoundTrip(Post("/huge", std::string(2 * 1024 * 1024, 'z')), res));
    EXPECT_EQ(res.result_int(), 413);
  }
  {  // over it, in a chunked body
    Client client;
    ASSERT_FALSE(client.Connect(server_->port()));
    const std::string chunk(800, 'y');
    ASSERT_FALSE(
        client.SendRaw("POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "320\r\n" +
                       chunk + "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n"));
    Response res;
    ASSERT_FALSE(client.Receive(res));
    EXPECT_EQ(res.result_int(), 413);
    EXPECT_NE(res.body().find("RequestEntityTooLarge"), std::string::npos);
  }
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(HttpServerTest, ThrowingHandlerGets500AndTheServerKeepsServing) {
  StartServer([](HttpRequest& req) -> HttpResponse {
    if (req.path == "/throw") throw std::runtime_error("boom \"quoted\"");
    if (req.path == "/throw-int") throw 42;
    return EchoPath(req);
  });
  Client client;
  ASSERT_FALSE(client.Connect(server_->port()));
  Response res;
  ASSERT_FALSE(client.RoundTrip(Get("/throw"), res));
  EXPECT_EQ(res.result_int(), 500);
  EXPECT_EQ(res[http::field::content_type], "application/json");
  EXPECT_NE(res.body().find(R"("code":"InternalServerError")"), std::string::npos) << res.body();
  EXPECT_NE(res.body().find(R"(boom \"quoted\")"), std::string::npos) << res.body();

  ASSERT_FALSE(client.RoundTrip(Get("/throw-int"), res));
  EXPECT_EQ(res.result_int(), 500);

  ASSERT_FALSE(client.RoundTrip(Get("/after"), res));  // same connection
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "/after");

  Client other;
  ASSERT_FALSE(other.Connect(server_->port()));
  ASSERT_FALSE(other.RoundTrip(Get("/other"), res));
  EXPECT_EQ(res.body(), "/other");
}

TEST_F(HttpServerTest, DeferredWorkRunsAfterTheHandlerAndBeforeTheAnswer) {
  // A handler's store writes leave their WAL flush to the request's
  // DeferScope (base/deferred_work.h): the server runs that work after the
  // handler returned and only then answers; work that fails turns the answer
  // into its error.
  std::atomic<int> ran{0};
  std::atomic<bool> handler_done{false}, ran_after_handler{false};
  StartServer([&](HttpRequest& req) -> HttpResponse {
    handler_done = false;
    const bool fail = req.path == "/fail";
    const bool deferred = DeferScope::Defer([&, fail]() -> Status {
      ran_after_handler = handler_done.load();
      ++ran;
      return fail ? Status::Unavailable("the WAL could not be written") : Status::Ok();
    });
    HttpResponse res = EchoPath(req);
    res.body += deferred ? " deferred" : " not deferred";
    handler_done = true;
    return res;
  });
  Client client;
  ASSERT_FALSE(client.Connect(server_->port()));
  Response res;
  ASSERT_FALSE(client.RoundTrip(Get("/ok"), res));
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "/ok deferred");
  EXPECT_EQ(ran.load(), 1);  // before the answer arrived
  EXPECT_TRUE(ran_after_handler.load());

  ASSERT_FALSE(client.RoundTrip(Get("/fail"), res));
  EXPECT_EQ(res.result_int(), 503);
  EXPECT_NE(res.body().find("the WAL could not be written"), std::string::npos) << res.body();
  EXPECT_EQ(ran.load(), 2);

  ASSERT_FALSE(client.RoundTrip(Get("/after"), res));  // the connection goes on
  EXPECT_EQ(res.body(), "/after deferred");
  EXPECT_EQ(ran.load(), 3);
}

TEST_F(HttpServerTest, NoBodyOn204And304) {
  StartServer([](HttpRequest& req) {
    HttpResponse res;
    res.status = req.path == "/204" ? 204 : 304;
    res.body = "must-not-be-sent";
    res.SetHeader("etag", "\"e\"");
    return res;
  });
  Client client;
  ASSERT_FALSE(client.Connect(server_->port()));
  ASSERT_FALSE(
      client.SendRaw("DELETE /204 HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /304 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::string raw;
  ASSERT_FALSE(client.ReadToEof(raw));
  EXPECT_EQ(raw.find("must-not-be-sent"), std::string::npos) << raw;
  EXPECT_EQ(raw.find("Content-Length"), std::string::npos) << raw;
  EXPECT_EQ(raw.find("Content-Type"), std::string::npos) << raw;
  const size_t second = raw.find("HTTP/1.1 304");
  ASSERT_NE(second, std::string::npos) << raw;
  EXPECT_EQ(raw.rfind("HTTP/1.1 204", 0), 0u) << raw;
  EXPECT_EQ(raw.substr(second - 4, 4), "\r\n\r\n") << raw;   // 204 ends at its header
  EXPECT_EQ(raw.substr(raw.size() - 4), "\r\n\r\n") << raw;  // and so does 304
}

TEST_F(HttpServerTest, HeadGetsTheLengthButNoBody) {
  StartServer(EchoPath);
  Client client;
  ASSERT_FALSE(client.Connect(server_->port()));
  ASSERT_FALSE(client.SendRaw("HEAD /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::string raw;
  ASSERT_FALSE(client.ReadToEof(raw));
  EXPECT_NE(raw.find("Content-Length: 6\r\n"), std::string::npos) << raw;
  EXPECT_EQ(raw.substr(raw.size() - 4), "\r\n\r\n") << raw;
}

TEST_F(HttpServerTest, ClientConnectionCloseAndHttp10AreHonoured) {
  StartServer(EchoPath);
  {
    Client client;
    ASSERT_FALSE(client.Connect(server_->port()));
    auto req = Get("/close");
    req.keep_alive(false);
    Response res;
    ASSERT_FALSE(client.RoundTrip(req, res));
    EXPECT_FALSE(res.keep_alive());
    EXPECT_EQ(client.Receive(res), http::error::end_of_stream);
  }
  {  // HTTP/1.0 closes by default
    Client client;
    ASSERT_FALSE(client.Connect(server_->port()));
    Response res;
    ASSERT_FALSE(client.RoundTrip(Get("/ten", 10), res));
    EXPECT_EQ(res.version(), 10u);
    EXPECT_EQ(res.body(), "/ten");
    EXPECT_EQ(client.Receive(res), http::error::end_of_stream);
  }
  {  // HTTP/1.0 with Connection: keep-alive stays open
    Client client;
    ASSERT_FALSE(client.Connect(server_->port()));
    auto req = Get("/ten-ka", 10);
    req.keep_alive(true);
    Response res;
    ASSERT_FALSE(client.RoundTrip(req, res));
    EXPECT_TRUE(res.keep_alive());
    ASSERT_FALSE(client.RoundTrip(req, res));
    EXPECT_EQ(res.body(), "/ten-ka");
  }
}

TEST_F(HttpServerTest, HandlerCloseEndsTheConnection) {
  StartServer([](HttpRequest& req) {
    HttpResponse res = EchoPath(req);
    res.close = true;
    return res;
  });
  Client client;
  ASSERT_FALSE(client.Connect(server_->port()));
  Response res;
  ASSERT_FALSE(client.RoundTrip(Get("/bye"), res));
  EXPECT_EQ(res.body(), "/bye");
  EXPECT_FALSE(res.keep_alive());
  EXPECT_EQ(client.Receive(res), http::error::end_of_stream);
}

TEST_F(HttpServerTest, ExpectContinueGets100BeforeTheBody) {
  std::mutex mu;
  std::string body;
  StartServer([&](HttpRequest& req) {
    std::lock_guard<std::mutex> lock(mu);
    body = req.body;
    return EchoPath(req);
  });
  Client client;
  ASSERT_FALSE(client.Connect(server_->port()));
  ASSERT_FALSE(client.SendRaw(
      "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  Response interim;
  ASSERT_FALSE(client.Receive(interim));
  EXPECT_EQ(interim.result_int(), 100);
  ASSERT_FALSE(client.SendRaw("hello"));
  Response res;
  ASSERT_FALSE(client.Receive(res));
  EXPECT_EQ(res.result_int(), 200);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(body, "hello");
}

TEST_F(HttpServerTest, MalformedRequestGets400) {
  std::atomic<int> calls{0};
  StartServer([&](HttpRequest& req) {
    ++calls;
    return EchoPath(req);
  });
  Client client;
  ASSERT_FALSE(client.Connect(server_->port()));
  ASSERT_FALSE(client.SendRaw("GET /x HTTP/9\r\n\r\n"));
  Response res;
  ASSERT_FALSE(client.Receive(res));
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_NE(res.body().find(R"("code":"BadRequest")"), std::string::npos) << res.body();
  EXPECT_EQ(client.Receive(res), http::error::end_of_stream);
  EXPECT_EQ(calls.load(), 0);
}

TEST_F(HttpServerTest, PortZeroPicksAFreePort) {
  StartServer(EchoPath);
  EXPECT_NE(server_->port(), 0);
  auto second = HttpServer::Start(io_, "127.0.0.1", 0, EchoPath);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_NE((*second)->port(), 0);
  EXPECT_NE((*second)->port(), server_->port());
  for (uint16_t port : {server_->port(), (*second)->port()}) {
    Client client;
    ASSERT_FALSE(client.Connect(port));
    Response res;
    ASSERT_FALSE(client.RoundTrip(Get("/p"), res));
    EXPECT_EQ(res.body(), "/p");
  }
}

TEST_F(HttpServerTest, PortInUseIsAnError) {
  StartServer(EchoPath);
  auto second = HttpServer::Start(io_, "127.0.0.1", server_->port(), EchoPath);
  ASSERT_FALSE(second.ok());
  const std::string where = "127.0.0.1:" + std::to_string(server_->port());
  EXPECT_NE(second.status().message().find(where), std::string::npos) << second.status().ToString();
}

TEST_F(HttpServerTest, UnresolvableHostIsAnError) {
  auto started = HttpServer::Start(io_, "no-such-host.invalid", 0, EchoPath);
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.status().message().find("no-such-host.invalid:0"), std::string::npos)
      << started.status().ToString();
}

TEST_F(HttpServerTest, StopClosesIdleKeepAliveConnectionsAndStopsAccepting) {
  std::atomic<int> calls{0};
  StartServer([&](HttpRequest& req) {
    ++calls;
    return EchoPath(req);
  });
  const uint16_t port = server_->port();
  Client idle;
  ASSERT_FALSE(idle.Connect(port));
  Response res;
  ASSERT_FALSE(idle.RoundTrip(Get("/before"), res));
  EXPECT_TRUE(res.keep_alive());

  server_->Stop();
  server_->Stop();  // idempotent
  EXPECT_EQ(idle.Receive(res), http::error::end_of_stream);

  // Not served any more: either the connection is refused or it is closed
  // without an answer.
  Client late;
  if (!late.Connect(port)) {
    EXPECT_TRUE(late.RoundTrip(Get("/after"), res));
  }
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(HttpServerTest, DestroyingTheServerClosesConnections) {
  StartServer(EchoPath);
  Client idle;
  ASSERT_FALSE(idle.Connect(server_->port()));
  Response res;
  ASSERT_FALSE(idle.RoundTrip(Get("/x"), res));
  server_.reset();  // the io_context keeps running
  EXPECT_EQ(idle.Receive(res), http::error::end_of_stream);
}

TEST_F(HttpServerTest, StopFromManyThreadsIsSafe) {
  StartServer(EchoPath);
  std::vector<Client> clients(4);
  for (auto& c : clients) ASSERT_FALSE(c.Connect(server_->port()));
  std::vector<std::thread> stoppers;
  for (int i = 0; i < 4; ++i) stoppers.emplace_back([this] { server_->Stop(); });
  for (auto& t : stoppers) t.join();
  for (auto& c : clients) {
    Response res;
    EXPECT_TRUE(c.Receive(res));  // closed: end_of_stream, or a reset
  }
}

TEST_F(HttpServerTest, IdleConnectionsTimeOut) {
  HttpServerOptions options;
  options.idle_timeout_seconds = 1;
  StartServer(EchoPath, options);
  Client client;
  ASSERT_FALSE(client.Connect(server_->port()));
  Response res;
  ASSERT_FALSE(client.RoundTrip(Get("/x"), res));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(client.Receive(res), http::error::end_of_stream);  // within kDeadline
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
}

TEST_F(HttpServerTest, ServesConcurrentClients) {
  std::atomic<int> calls{0};
  StartServer([&](HttpRequest& req) {
    ++calls;
    HttpResponse res;
    res.body = req.body;
    return res;
  });
  constexpr int kClients = 8;
  constexpr int kRequests = 25;
  EXPECT_EQ(EchoFromClients(kClients, kRequests), kClients * kRequests);
  EXPECT_EQ(calls.load(), kClients * kRequests);
}

// HttpServerOptions::session_ios: connections are spread over the given
// io_contexts in turn, each run by its own thread; every request is answered
// on its connection's context, and Stop() closes connections on all of them.
TEST_F(HttpServerTest, SessionIoContextsShareTheConnections) {
  constexpr int kContexts = 2;
  std::vector<std::unique_ptr<net::io_context>> ios;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  std::vector<std::thread> runners;
  std::vector<std::thread::id> runner_ids(kContexts);
  for (int i = 0; i < kContexts; ++i) {
    ios.push_back(std::make_unique<net::io_context>(1));
    guards.push_back(net::make_work_guard(*ios.back()));
  }
  for (int i = 0; i < kContexts; ++i) {
    runners.emplace_back([&ios, i] { ios[i]->run(); });
    runner_ids[i] = runners.back().get_id();
  }
  std::mutex mu;
  std::map<std::thread::id, int> calls_by_thread;
  HttpServerOptions options;
  for (auto& io : ios) options.session_ios.push_back(io.get());
  StartServer(
      [&](HttpRequest& req) {
        {
          std::lock_guard<std::mutex> lock(mu);
          ++calls_by_thread[std::this_thread::get_id()];
        }
        HttpResponse res;
        res.body = req.body;
        return res;
      },
      options);
  constexpr int kClients = 4;
  constexpr int kRequests = 10;
  EXPECT_EQ(EchoFromClients(kClients, kRequests), kClients * kRequests);
  {
    std::lock_guard<std::mutex> lock(mu);
    // Four connections over two contexts in turn: two each, none on the
    // accepting io_context's threads.
    ASSERT_EQ(calls_by_thread.size(), 2u);
    for (const auto& id : runner_ids) EXPECT_EQ(calls_by_thread[id], 2 * kRequests);
  }
  // An idle kept-alive connection on a session context is closed by Stop().
  Client idle;
  ASSERT_FALSE(idle.Connect(server_->port()));
  Response res;
  ASSERT_FALSE(idle.RoundTrip(Get("/x"), res));
  server_->Stop();
  std::string rest;
  EXPECT_FALSE(idle.ReadToEof(rest));
  StopAcceptingIo();
  guards.clear();
  for (auto& io : ios) io->stop();
  for (auto& t : runners) t.join();
}

// Injected faults (HttpResponse::delay_ms / disposition): a delayed answer
// does not hold an io thread, a reset closes without answering, a hang never
// answers but lets the server stop.
TEST_F(HttpServerTest, DelayedAnswerArrivesLaterWithoutBlockingOtherConnections) {
  StartServer([&](HttpRequest& req) {
    HttpResponse res;
    res.body = "{\"path\":\"" + req.path + "\"}";
    if (req.path == "/slow") res.delay_ms = 400;
    return res;
  });
  // Two io threads: three slow requests in flight would starve a fourth
  // request if delays blocked threads.
  std::vector<std::unique_ptr<Client>> slow;
  for (int i = 0; i < 3; ++i) {
    slow.push_back(std::make_unique<Client>());
    ASSERT_FALSE(slow.back()->Connect(server_->port()));
    ASSERT_FALSE(slow.back()->Send(Get("/slow")));
  }
  Client fast;
  ASSERT_FALSE(fast.Connect(server_->port()));
  const auto t0 = std::chrono::steady_clock::now();
  Response res;
  ASSERT_FALSE(fast.RoundTrip(Get("/fast"), res));
  EXPECT_EQ(res.body(), "{\"path\":\"/fast\"}");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(350));
  for (auto& c : slow) {
    ASSERT_FALSE(c->Receive(res));
    EXPECT_EQ(res.body(), "{\"path\":\"/slow\"}");
  }
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(350));
}

TEST_F(HttpServerTest, ResetClosesTheConnectionWithoutAnAnswer) {
  StartServer([&](HttpRequest&) {
    HttpResponse res;
    res.disposition = HttpResponse::Disposition::kReset;
    return res;
  });
  Client client;
  ASSERT_FALSE(client.Connect(server_->port()));
  Response res;
  beast::error_code ec = client.RoundTrip(Get("/"), res);
  ASSERT_TRUE(ec);
  EXPECT_NE(ec, beast::error::timeout);  // closed at once, not left hanging
}

TEST_F(HttpServerTest, HangNeverAnswersAndStopStillCloses) {
  std::atomic<int> calls{0};
  StartServer([&](HttpRequest&) {
    ++calls;
    HttpResponse res;
    res.disposition = HttpResponse::Disposition::kHang;
    return res;
  });
  Client client;
  ASSERT_FALSE(client.Connect(server_->port()));
  ASSERT_FALSE(client.Send(Get("/")));
  // The handler ran and chose to hang; the hang holds no thread, so another
  // connection is answered by a handler call too.
  Client other;
  ASSERT_FALSE(other.Connect(server_->port()));
  ASSERT_FALSE(other.Send(Get("/")));
  for (auto until = std::chrono::steady_clock::now() + kDeadline;
       calls.load() < 2 && std::chrono::steady_clock::now() < until;) {
    std::this_thread::yield();
  }
  ASSERT_EQ(calls.load(), 2);
  // Stop closes the hanging connection: the client sees the close, no answer.
  server_->Stop();
  std::string rest;
  EXPECT_FALSE(client.ReadToEof(rest));
  EXPECT_EQ(rest, "");
}


// Offloaded handlers (HttpServerOptions::offload) run on another io_context:
// two slow ones do not stop the io threads from answering a quick request,
// and a client that closes its connection sets HttpRequest::cancelled.
TEST_F(HttpServerTest, OffloadedHandlersLeaveTheIoThreadsFreeAndSeeTheirClientLeave) {
  net::io_context work;
  auto guard = net::make_work_guard(work);
  std::vector<std::thread> workers;
  for (int i = 0; i < 2; ++i) workers.emplace_back([&] { work.run(); });
  std::atomic<int> running{0};
  std::atomic<bool> saw_cancel{false};
  HttpServerOptions options;
  options.offload = [](const HttpRequest& r) { return r.path == "/slow"; };
  options.offload_io = &work;
  StartServer(
      [&](HttpRequest& req) {
        HttpResponse res;
        if (req.path == "/slow") {
          ++running;
          // Runs until its client goes away (bounded by the test's deadline).
          const auto until = std::chrono::steady_clock::now() + kDeadline;
          while (!(req.cancelled && req.cancelled->load()) && std::chrono::steady_clock::now() < until) {
            std::this_thread::yield();
          }
          if (req.cancelled && req.cancelled->load()) saw_cancel = true;
          --running;
        }
        res.body = "{}";
        return res;
      },
      options);
  auto slow1 = std::make_unique<Client>(), slow2 = std::make_unique<Client>();
  ASSERT_FALSE(slow1->Connect(server_->port()));
  ASSERT_FALSE(slow1->Send(Get("/slow")));
  ASSERT_FALSE(slow2->Connect(server_->port()));
  ASSERT_FALSE(slow2->Send(Get("/slow")));
  for (auto until = std::chrono::steady_clock::now() + kDeadline;
       running.load() < 2 && std::chrono::steady_clock::now() < until;) {
    std::this_thread::yield();
  }
  ASSERT_EQ(running.load(), 2);
  Client fast;
  ASSERT_FALSE(fast.Connect(server_->port()));
  Response res;
  ASSERT_FALSE(fast.RoundTrip(Get("/fast"), res));  // both io threads are free
  EXPECT_EQ(res.result_int(), 200);
  slow1.reset();  // the clients leave: their handlers are told
  slow2.reset();
  for (auto until = std::chrono::steady_clock::now() + kDeadline;
       running.load() > 0 && std::chrono::steady_clock::now() < until;) {
    std::this_thread::yield();
  }
  EXPECT_EQ(running.load(), 0);
  EXPECT_TRUE(saw_cancel.load());
  server_.reset();
  guard.reset();
  for (auto& t : workers) t.join();
}


TEST_F(HttpServerTest, ConnectionsAndOffloadedRequestsAreCappedWithRetryAfter) {
  net::io_context work;
  auto guard = net::make_work_guard(work);
  std::thread worker([&] { work.run(); });
  std::atomic<bool> release{false};
  std::atomic<int> running{0};
  HttpServerOptions options;
  options.max_connections = 3;
  options.max_offloaded = 1;
  options.offload = [](const HttpRequest& r) { return r.path == "/slow"; };
  options.offload_io = &work;
  StartServer(
      [&](HttpRequest& req) {
        if (req.path == "/slow") {
          ++running;
          const auto until = std::chrono::steady_clock::now() + kDeadline;
          while (!release.load() && std::chrono::steady_clock::now() < until) std::this_thread::yield();
        }
        HttpResponse res;
        res.body = "{}";
        return res;
      },
      options);
  Client a, b;
  ASSERT_FALSE(a.Connect(server_->port()));
  ASSERT_FALSE(a.Send(Get("/slow")));
  for (auto until = std::chrono::steady_clock::now() + kDeadline;
       running.load() < 1 && std::chrono::steady_clock::now() < until;) {
    std::this_thread::yield();
  }
  ASSERT_EQ(running.load(), 1);
  Response res;
  ASSERT_FALSE(b.Connect(server_->port()));
  ASSERT_FALSE(b.RoundTrip(Get("/slow"), res));  // a second heavy request: refused, not queued
  EXPECT_EQ(res.result_int(), 429);
  EXPECT_EQ(res["x-ms-retry-after-ms"], "100");
  ASSERT_FALSE(b.RoundTrip(Get("/fast"), res));  // light requests are not capped
  EXPECT_EQ(res.result_int(), 200);

  Client c, d;  // a, b, c are open: d is one too many
  ASSERT_FALSE(c.Connect(server_->port()));
  ASSERT_FALSE(c.RoundTrip(Get("/fast"), res));
  EXPECT_EQ(res.result_int(), 200);
  ASSERT_FALSE(d.Connect(server_->port()));
  ASSERT_FALSE(d.Receive(res));  // answered without a request
  EXPECT_EQ(res.result_int(), 503);
  EXPECT_FALSE(res["x-ms-retry-after-ms"].empty());
  std::string rest;
  EXPECT_FALSE(d.ReadToEof(rest));  // and closed

  release = true;
  ASSERT_FALSE(a.Receive(res));
  EXPECT_EQ(res.result_int(), 200);
  server_.reset();
  guard.reset();
  worker.join();
}

}  // namespace
}  // namespace regionlab::server
