// Tests of client/: CosmosClient and HttpClient against a tiny HTTP server on
// loopback that records what it receives and answers with canned responses.

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/cosmos_auth.h"
#include "base/encoding.h"
#include "client/cosmos_client.h"
#include "client/http_client.h"
#include "gtest/gtest.h"

namespace regionlab::client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

// ---------------------------------------------------------------------------
// FakeServer

struct Received {
  int connection = 0;  // 1-based index of the TCP connection it arrived on
  std::string method;
  std::string target;   // as on the wire
  HttpHeaders headers;  // names lower-cased
  std::string body;

  const std::string* Header(std::string_view name) const { return FindHeader(headers, name); }
  std::string Path() const { return target.substr(0, target.find('?')); }
};

enum class Action {
  kRespond,                     // answer, keep the connection
  kRespondWithConnectionClose,  // answer with "Connection: close", then close
  kRespondThenClose,            // answer (keep-alive), then silently close
  kCloseWithoutResponse,        // read the request, close without answering
  kHang,                        // read the request, never answer
};

struct Canned {
  int status = 200;
  HttpHeaders headers;
  std::string body = "{}";
  Action action = Action::kRespond;
};

class FakeServer {
 public:
  using Handler = std::function<Canned(const Received&)>;

  explicit FakeServer(Handler handler = nullptr)
      : handler_(handler ? std::move(handler) : [](const Received&) { return Canned{}; }),
        acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~FakeServer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    cv_.notify_all();
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);  // wakes accept()
    accept_thread_.join();
    for (auto& t : conn_threads_) t.join();
  }

  int port() const { return acceptor_.local_endpoint().port(); }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port()) + "/"; }

  std::vector<Received> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  int connections() {
    std::lock_guard<std::mutex> lock(mu_);
    return connections_;
  }
  // Waits (with a generous deadline) until the server has closed `n` connections.
  bool WaitForServerCloses(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return server_closes_ >= n; });
  }

 private:
  void AcceptLoop() {
    while (true) {
      tcp::socket socket(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      std::lock_guard<std::mutex> lock(mu_);
      if (ec || stopping_) return;
      int index = ++connections_;
      open_fds_.push_back(socket.native_handle());
      conn_threads_.emplace_back(
          [this, index, s = std::move(socket)]() mutable { Serve(std::move(s), index); });
    }
  }

  void Serve(tcp::socket socket, int index) {
    beast::flat_buffer buffer;
    bool server_closed = false;
    while (true) {
      http::request<http::string_body> req;
      boost::system::error_code ec;
      http::read(socket, buffer, req, ec);
      if (ec) break;
      Received r;
      r.connection = index;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      for (const auto& f : req) {
        beast::string_view name = f.name_string();
        r.headers.emplace_back(ToLower(std::string_view(name.data(), name.size())),
                               std::string(f.value()));
      }
      r.body = req.body();
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(r);
      }
      Canned c = handler_(r);
      if (c.action == Action::kCloseWithoutResponse) {
        server_closed = true;
        break;
      }
      if (c.action == Action::kHang) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_; });
        break;
      }
      http::response<http::string_body> res{static_cast<http::status>(c.status), 11};
      for (const auto& [k, v] : c.headers) res.insert(k, v);
      if (!c.body.empty()) res.set(http::field::content_type, "application/json");
      res.body() = c.body;
      res.keep_alive(c.action != Action::kRespondWithConnectionClose);
      res.prepare_payload();
      http::write(socket, res, ec);
      if (ec) break;
      if (c.action != Action::kRespond) {
        server_closed = true;
        break;
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    open_fds_.erase(std::find(open_fds_.begin(), open_fds_.end(), socket.native_handle()));
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    if (server_closed) ++server_closes_;
    cv_.notify_all();
  }

  Handler handler_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread accept_thread_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  int connections_ = 0;
  int server_closes_ = 0;
  std::vector<int> open_fds_;
  std::vector<std::thread> conn_threads_;
  std::vector<Received> requests_;
};

class FixedClock final : public Clock {
 public:
  explicit FixedClock(int64_t seconds) : micros_(seconds * 1000000) {}
  int64_t NowMicros() const override { return micros_; }

 private:
  int64_t micros_;
};

// Recomputes the signature the way a server does: from the received verb,
// x-ms-date and percent-decoded path.
void ExpectValidSignature(const Received& r, std::string_view key = kEmulatorKey) {
  const std::string* auth = r.Header("authorization");
  ASSERT_NE(auth, nullptr) << r.target;
  const std::string* date = r.Header("x-ms-date");
  ASSERT_NE(date, nullptr) << r.target;
  EXPECT_TRUE(ParseHttpDate(*date).has_value()) << *date;
  auto parsed = ParseAuthorizationHeader(*auth);
  ASSERT_TRUE(parsed.has_value()) << *auth;
  EXPECT_EQ(parsed->type, "master");
  EXPECT_EQ(parsed->version, "1.0");
  ResourceAddress addr = ResourceAddressFromPath(PercentDecode(r.Path()));
  auto expected = ComputeMasterSignature(key, r.method, addr.type, addr.link, *date);
  ASSERT_TRUE(expected.has_value());
  EXPECT_EQ(parsed->signature, *expected) << r.method << " " << r.target;
}

std::string SignatureOf(const Received& r) {
  const std::string* auth = r.Header("authorization");
  if (!auth) return "";
  auto parsed = ParseAuthorizationHeader(*auth);
  return parsed ? parsed->signature : "";
}

CosmosClientOptions Options(const FakeServer& server) {
  CosmosClientOptions o;
  o.endpoint = server.endpoint();
  o.timeout = std::chrono::seconds(10);
  return o;
}

// ---------------------------------------------------------------------------
// Signing

TEST(CosmosClientTest, EveryRequestCarriesAValidSignature) {
  FakeServer server;
  CosmosClient client(Options(server));
  ASSERT_TRUE(client.GetAccount().ok());
  ASSERT_TRUE(client.CreateDatabase("d").ok());
  ASSERT_TRUE(client.ReadDatabase("d").ok());
  ASSERT_TRUE(client.ListDatabases().ok());
  ASSERT_TRUE(client.CreateContainer("d", R"({"id":"c"})").ok());
  ASSERT_TRUE(client.ReadContainer("d", "c").ok());
  ASSERT_TRUE(client.ListContainers("d").ok());
  ASSERT_TRUE(client.ReplaceContainer("d", "c", R"({"id":"c"})").ok());
  ASSERT_TRUE(client.ReadPartitionKeyRanges("d", "c").ok());
  ASSERT_TRUE(client.CreateDocument("d", "c", R"(["a"])", R"({"id":"x"})").ok());
  ASSERT_TRUE(client.UpsertDocument("d", "c", R"(["a"])", R"({"id":"x"})").ok());
  ASSERT_TRUE(client.ReadDocument("d", "c", "x", R"(["a"])").ok());
  ASSERT_TRUE(client.ReplaceDocument("d", "c", "x", R"(["a"])", R"({"id":"x"})").ok());
  ASSERT_TRUE(client.PatchDocument("d", "c", "x", R"(["a"])", "[]").ok());
  ASSERT_TRUE(client.ReadFeed("d", "c").ok());
  ASSERT_TRUE(client.Query("d", "c", MakeQueryBody("SELECT * FROM c")).ok());
  ASSERT_TRUE(client.DeleteDocument("d", "c", "x", R"(["a"])").ok());
  ASSERT_TRUE(client.DeleteContainer("d", "c").ok());
  ASSERT_TRUE(client.DeleteDatabase("d").ok());

  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 19u);
  for (const auto& r : reqs) {
    ExpectValidSignature(r);
    ASSERT_NE(r.Header("x-ms-version"), nullptr);
    EXPECT_EQ(*r.Header("x-ms-version"), "2020-07-15");
  }
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"GET", "/"},
      {"POST", "/dbs"},
      {"GET", "/dbs/d"},
      {"GET", "/dbs"},
      {"POST", "/dbs/d/colls"},
      {"GET", "/dbs/d/colls/c"},
      {"GET", "/dbs/d/colls"},
      {"PUT", "/dbs/d/colls/c"},
      {"GET", "/dbs/d/colls/c/pkranges"},
      {"POST", "/dbs/d/colls/c/docs"},
      {"POST", "/dbs/d/colls/c/docs"},
      {"GET", "/dbs/d/colls/c/docs/x"},
      {"PUT", "/dbs/d/colls/c/docs/x"},
      {"PATCH", "/dbs/d/colls/c/docs/x"},
      {"GET", "/dbs/d/colls/c/docs"},
      {"POST", "/dbs/d/colls/c/docs"},
      {"DELETE", "/dbs/d/colls/c/docs/x"},
      {"DELETE", "/dbs/d/colls/c"},
      {"DELETE", "/dbs/d"},
  };
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(reqs[i].method, expected[i].first) << i;
    EXPECT_EQ(reqs[i].target, expected[i].second) << i;
  }
}

TEST(CosmosClientTest, SignsWithTheClockDateAndTheDerivedTypeAndLink) {
  FakeServer server;
  FixedClock clock(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
  CosmosClientOptions o = Options(server);
  o.clock = &clock;
  CosmosClient client(o);
  ASSERT_TRUE(client.CreateDocument("d", "c", R"(["a"])", "{}").ok());
  ASSERT_TRUE(client.ReadDocument("d", "c", "x", R"(["a"])").ok());
  ASSERT_TRUE(client.GetAccount().ok());
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  const std::string date = "Sun, 06 Nov 1994 08:49:37 GMT";
  for (const auto& r : reqs) EXPECT_EQ(*r.Header("x-ms-date"), date);
  EXPECT_EQ(SignatureOf(reqs[0]),
            *ComputeMasterSignature(kEmulatorKey, "post", "docs", "dbs/d/colls/c", date));
  EXPECT_EQ(SignatureOf(reqs[1]),
            *ComputeMasterSignature(kEmulatorKey, "get", "docs", "dbs/d/colls/c/docs/x", date));
  EXPECT_EQ(SignatureOf(reqs[2]), *ComputeMasterSignature(kEmulatorKey, "get", "", "", date));
  // The header is encodeURIComponent("type=master&ver=1.0&sig=...").
  EXPECT_EQ(*reqs[2].Header("authorization"),
            *BuildAuthorizationHeader(kEmulatorKey, "GET", "", "", date));
}

TEST(CosmosClientTest, SignsWithTheConfiguredKey) {
  FakeServer server;
  CosmosClientOptions o = Options(server);
  o.key = Base64Encode("another secret key");
  CosmosClient client(o);
  ASSERT_TRUE(client.ReadDatabase("d").ok());
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  ExpectValidSignature(reqs[0], o.key);
  EXPECT_NE(SignatureOf(reqs[0]), *ComputeMasterSignature(kEmulatorKey, "GET", "dbs", "dbs/d",
                                                          *reqs[0].Header("x-ms-date")));
}

TEST(CosmosClientTest, InvalidKeyFailsEveryRequest) {
  FakeServer server;
  CosmosClientOptions o = Options(server);
  o.key = "not base64 !!";
  CosmosClient client(o);
  auto r = client.GetAccount();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().Is(StatusCode::kBadRequest));
  EXPECT_EQ(server.requests().size(), 0u);
}

TEST(CosmosClientTest, PathsArePercentEncodedOnTheWireButSignedUnencoded) {
  FakeServer server;
  FixedClock clock(1700000000);
  CosmosClientOptions o = Options(server);
  o.clock = &clock;
  CosmosClient client(o);
  ASSERT_TRUE(client.ReadDocument("my db", "c\xC3\xB6ll", "a b\xE2\x82\xAC%", R"(["a"])").ok());
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/dbs/my%20db/colls/c%C3%B6ll/docs/a%20b%E2%82%AC%25");
  const std::string date = FormatHttpDate(1700000000);
  EXPECT_EQ(SignatureOf(reqs[0]),
            *ComputeMasterSignature(kEmulatorKey, "GET", "docs",
                                    "dbs/my db/colls/c\xC3\xB6ll/docs/a b\xE2\x82\xAC%", date));
  ExpectValidSignature(reqs[0]);
}

// ---------------------------------------------------------------------------
// Headers and bodies

TEST(CosmosClientTest, DocumentOperationsSendTheirHeaders) {
  FakeServer server;
  CosmosClient client(Options(server));
  RequestOptions ro;
  ro.if_match = "\"etag-1\"";
  ro.session_token = "0:1#5";
  ro.extra_headers = {{"x-ms-consistency-level", "Session"}};
  ASSERT_TRUE(client.CreateDocument("d", "c", R"(["a"])", R"({"id":"x"})").ok());
  ASSERT_TRUE(client.UpsertDocument("d", "c", "[5]", R"({"id":"x"})", ro).ok());
  ASSERT_TRUE(
      client.PatchDocument("d", "c", "x", "[null]", R"([{"op":"set","path":"/a","value":1}])")
          .ok());
  FeedOptions fo;
  fo.max_item_count = 7;
  fo.continuation = "tok-1";
  fo.partition_key = R"(["p"])";
  ASSERT_TRUE(client.ReadFeed("d", "c", fo).ok());
  const std::string q = MakeQueryBody("SELECT * FROM c WHERE c.a = @a", {{"@a", "1"}});
  ASSERT_TRUE(client.Query("d", "c", q).ok());
  RequestOptions none_match;
  none_match.if_none_match = "*";
  ASSERT_TRUE(client.ReadDocument("d", "c", "x", "[{}]", none_match).ok());

  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 6u);
  // Create
  EXPECT_EQ(*reqs[0].Header("x-ms-documentdb-partitionkey"), R"(["a"])");
  EXPECT_EQ(reqs[0].Header("x-ms-documentdb-is-upsert"), nullptr);
  EXPECT_EQ(*reqs[0].Header("content-type"), "application/json");
  EXPECT_EQ(reqs[0].body, R"({"id":"x"})");
  // Upsert
  EXPECT_EQ(*reqs[1].Header("x-ms-documentdb-partitionkey"), "[5]");
  EXPECT_EQ(*reqs[1].Header("x-ms-documentdb-is-upsert"), "true");
  EXPECT_EQ(*reqs[1].Header("if-match"), "\"etag-1\"");
  EXPECT_EQ(*reqs[1].Header("x-ms-session-token"), "0:1#5");
  EXPECT_EQ(*reqs[1].Header("x-ms-consistency-level"), "Session");
  // Patch: no content type, ops as given.
  EXPECT_EQ(reqs[2].method, "PATCH");
  EXPECT_EQ(*reqs[2].Header("x-ms-documentdb-partitionkey"), "[null]");
  EXPECT_EQ(reqs[2].Header("content-type"), nullptr);
  EXPECT_EQ(reqs[2].body, R"([{"op":"set","path":"/a","value":1}])");
  // Read feed
  EXPECT_EQ(reqs[3].method, "GET");
  EXPECT_EQ(*reqs[3].Header("x-ms-max-item-count"), "7");
  EXPECT_EQ(*reqs[3].Header("x-ms-continuation"), "tok-1");
  EXPECT_EQ(*reqs[3].Header("x-ms-documentdb-partitionkey"), R"(["p"])");
  EXPECT_EQ(reqs[3].Header("x-ms-documentdb-isquery"), nullptr);
  // Query
  EXPECT_EQ(reqs[4].method, "POST");
  EXPECT_EQ(reqs[4].target, "/dbs/d/colls/c/docs");
  EXPECT_EQ(*reqs[4].Header("x-ms-documentdb-isquery"), "true");
  EXPECT_EQ(*reqs[4].Header("content-type"), "application/query+json");
  EXPECT_EQ(*reqs[4].Header("x-ms-documentdb-query-enablecrosspartition"), "true");
  EXPECT_EQ(reqs[4].Header("x-ms-documentdb-partitionkey"), nullptr);
  json qb = json::parse(reqs[4].body);
  EXPECT_EQ(qb["query"], "SELECT * FROM c WHERE c.a = @a");
  EXPECT_EQ(qb["parameters"][0]["name"], "@a");
  EXPECT_EQ(qb["parameters"][0]["value"], 1);
  // If-None-Match
  EXPECT_EQ(*reqs[5].Header("if-none-match"), "*");
  EXPECT_EQ(*reqs[5].Header("x-ms-documentdb-partitionkey"), "[{}]");
  EXPECT_EQ(reqs[5].Header("if-match"), nullptr);
}

TEST(CosmosClientTest, CreateDatabaseSendsAnIdBody) {
  FakeServer server;
  CosmosClient client(Options(server));
  ASSERT_TRUE(client.CreateDatabase("we\"ird db").ok());
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(json::parse(reqs[0].body), json({{"id", "we\"ird db"}}));
  EXPECT_EQ(*reqs[0].Header("content-type"), "application/json");
  EXPECT_EQ(*reqs[0].Header("host"), "127.0.0.1:" + std::to_string(server.port()));
}

TEST(CosmosClientTest, ResponseHeadersAreSurfaced) {
  FakeServer server([](const Received&) {
    Canned c;
    c.status = 201;
    c.headers = {{"etag", "\"00000a00-0000\""},
                 {"x-ms-continuation", "next-page"},
                 {"x-ms-session-token", "0:-1#12#1=12"},
                 {"x-ms-request-charge", "6.29"},
                 {"x-ms-substatus", "0"},
                 {"X-Ms-Activity-Id", "5b2d7c0e-0000-0000-0000-000000000000"}};
    c.body = R"({"id":"x","_etag":"\"00000a00-0000\""})";
    return c;
  });
  CosmosClient client(Options(server));
  auto r = client.CreateDocument("d", "c", R"(["a"])", R"({"id":"x"})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 201);
  EXPECT_TRUE(r->ok());
  EXPECT_EQ(r->etag, "\"00000a00-0000\"");
  EXPECT_EQ(r->continuation, "next-page");
  EXPECT_EQ(r->session_token, "0:-1#12#1=12");
  EXPECT_DOUBLE_EQ(r->request_charge, 6.29);
  EXPECT_EQ(r->substatus, 0);
  EXPECT_EQ(r->body, R"({"id":"x","_etag":"\"00000a00-0000\""})");
  ASSERT_NE(r->Header("x-ms-activity-id"), nullptr);
  EXPECT_EQ(*r->Header("X-MS-ACTIVITY-ID"), "5b2d7c0e-0000-0000-0000-000000000000");
  bool found = false;
  for (const auto& [k, v] : r->headers) found |= (k == "x-ms-activity-id");
  EXPECT_TRUE(found) << "header names are lower-cased";
}

TEST(CosmosClientTest, NotFoundIsAResponseNotAnError) {
  FakeServer server([](const Received&) {
    Canned c;
    c.status = 404;
    c.headers = {{"x-ms-substatus", "1002"}};
    c.body = R"({"code":"NotFound","message":"Resource Not Found"})";
    return c;
  });
  CosmosClient client(Options(server));
  auto r = client.ReadDocument("d", "c", "missing", R"(["a"])");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 404);
  EXPECT_FALSE(r->ok());
  EXPECT_EQ(r->substatus, 1002);
  Status st = StatusFromResponse(*r);
  EXPECT_TRUE(st.Is(StatusCode::kNotFound));
  EXPECT_EQ(st.substatus(), 1002);
  EXPECT_EQ(st.message(), "Resource Not Found");
  // The connection is still usable after an error response.
  ASSERT_TRUE(client.GetAccount().ok());
  EXPECT_EQ(server.connections(), 1);
}

TEST(CosmosClientTest, StatusFromResponseMapsCodes) {
  CosmosResponse r;
  r.status = 200;
  EXPECT_TRUE(StatusFromResponse(r).ok());
  r.status = 304;
  EXPECT_TRUE(StatusFromResponse(r).Is(StatusCode::kNotModified));
  r.status = 403;
  r.substatus = 3;
  r.body = R"({"code":"Forbidden","message":"write forbidden"})";
  Status st = StatusFromResponse(r);
  EXPECT_TRUE(st.Is(StatusCode::kForbidden));
  EXPECT_EQ(st.substatus(), 3);
  r.status = 412;
  EXPECT_TRUE(StatusFromResponse(r).Is(StatusCode::kPreconditionFailed));
  r.status = 429;
  EXPECT_TRUE(StatusFromResponse(r).Is(StatusCode::kTooManyRequests));
  r.status = 503;
  r.body = "";
  EXPECT_TRUE(StatusFromResponse(r).Is(StatusCode::kUnavailable));
  r.status = 500;
  EXPECT_TRUE(StatusFromResponse(r).Is(StatusCode::kInternal));
}

// ---------------------------------------------------------------------------
// Generic requests

TEST(CosmosClientTest, GenericRequestSignsDerivedOrOverriddenAddress) {
  FakeServer server;
  FixedClock clock(1700000000);
  CosmosClientOptions o = Options(server);
  o.clock = &clock;
  CosmosClient client(o);
  const std::string date = FormatHttpDate(1700000000);

  ASSERT_TRUE(client
                  .Request("POST", "/_regionlab/leases/x/acquire", R"({"owner":"a"})", {},
                           ResourceAddress{"leases", "leases/x"})
                  .ok());
  ASSERT_TRUE(client.Request("GET", "/dbs/a b/colls/c?feed=1&x=%20").ok());
  ASSERT_TRUE(client
                  .Request("GET", "/dbs/d/colls/c/conflicts/k/conflicts", {},
                           {{"x-ms-documentdb-partitionkey", R"(["a"])"}},
                           ResourceAddress{"users", "dbs/d/colls/c/conflicts/k"})
                  .ok());

  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].target, "/_regionlab/leases/x/acquire");
  EXPECT_EQ(SignatureOf(reqs[0]),
            *ComputeMasterSignature(kEmulatorKey, "POST", "leases", "leases/x", date));
  EXPECT_EQ(reqs[0].body, R"({"owner":"a"})");
  EXPECT_EQ(*reqs[0].Header("content-type"), "application/json");

  EXPECT_EQ(reqs[1].target, "/dbs/a%20b/colls/c?feed=1&x=%20");
  EXPECT_EQ(SignatureOf(reqs[1]),
            *ComputeMasterSignature(kEmulatorKey, "GET", "colls", "dbs/a b/colls/c", date));
  ExpectValidSignature(reqs[1]);

  EXPECT_EQ(SignatureOf(reqs[2]), *ComputeMasterSignature(kEmulatorKey, "GET", "users",
                                                          "dbs/d/colls/c/conflicts/k", date));
  EXPECT_EQ(*reqs[2].Header("x-ms-documentdb-partitionkey"), R"(["a"])");
}

TEST(CosmosClientTest, CallerHeadersOverrideDefaults) {
  FakeServer server;
  CosmosClient client(Options(server));
  ASSERT_TRUE(
      client
          .Request("GET", "/dbs", {}, {{"x-ms-version", "2018-09-17"}, {"authorization", "bogus"}})
          .ok());
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(*reqs[0].Header("x-ms-version"), "2018-09-17");
  EXPECT_EQ(*reqs[0].Header("authorization"), "bogus");
  int versions = 0;
  for (const auto& [k, v] : reqs[0].headers) versions += (k == "x-ms-version");
  EXPECT_EQ(versions, 1);
}

// ---------------------------------------------------------------------------
// ReadAllDocuments

TEST(CosmosClientTest, ReadAllDocumentsFollowsContinuations) {
  FakeServer server([](const Received& r) {
    const std::string* cont = r.Header("x-ms-continuation");
    Canned c;
    if (!cont) {
      c.body = R"({"_rid":"r","Documents":[{"id":"1"},{"id":"2"}],"_count":2})";
      c.headers = {{"x-ms-continuation", "p2"}};
    } else if (*cont == "p2") {
      c.body = R"({"_rid":"r","Documents":[],"_count":0})";
      c.headers = {{"x-ms-continuation", "p3"}};
    } else {
      c.body = R"({"_rid":"r","Documents":[{"id":"3"}],"_count":1})";
    }
    return c;
  });
  CosmosClient client(Options(server));
  auto all = client.ReadAllDocuments("d", "c", R"(["k"])");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  json docs = json::parse(*all);
  ASSERT_TRUE(docs.is_array());
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0]["id"], "1");
  EXPECT_EQ(docs[2]["id"], "3");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  for (const auto& r : reqs) {
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.target, "/dbs/d/colls/c/docs");
    EXPECT_EQ(*r.Header("x-ms-documentdb-partitionkey"), R"(["k"])");
  }
  EXPECT_EQ(reqs[0].Header("x-ms-continuation"), nullptr);
  EXPECT_EQ(*reqs[2].Header("x-ms-continuation"), "p3");
  EXPECT_EQ(server.connections(), 1);
}

TEST(CosmosClientTest, ReadAllDocumentsReportsAnErrorPage) {
  FakeServer server([](const Received&) {
    Canned c;
    c.status = 404;
    c.body = R"({"code":"NotFound","message":"no such container"})";
    return c;
  });
  CosmosClient client(Options(server));
  auto all = client.ReadAllDocuments("d", "nope");
  ASSERT_FALSE(all.ok());
  EXPECT_TRUE(all.status().Is(StatusCode::kNotFound));
  EXPECT_EQ(all.status().message(), "no such container");
}

TEST(CosmosClientTest, ReadAllDocumentsStopsOnAStuckContinuation) {
  FakeServer server([](const Received&) {
    Canned c;
    c.body = R"({"Documents":[{"id":"1"}]})";
    c.headers = {{"x-ms-continuation", "same"}};
    return c;
  });
  CosmosClient client(Options(server));
  auto all = client.ReadAllDocuments("d", "c");
  ASSERT_FALSE(all.ok());
  EXPECT_TRUE(all.status().Is(StatusCode::kInternal));
  EXPECT_EQ(server.requests().size(), 2u);
}

// ---------------------------------------------------------------------------
// Connection management

TEST(CosmosClientTest, KeepAliveReusesOneConnection) {
  FakeServer server;
  CosmosClient client(Options(server));
  ASSERT_TRUE(client.GetAccount().ok());
  ASSERT_TRUE(client.ListDatabases().ok());
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].connection, 1);
  EXPECT_EQ(reqs[1].connection, 1);
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(client.connections_opened(), 1);
}

TEST(CosmosClientTest, ReconnectsAfterTheServerClosedAnIdleConnection) {
  std::atomic<int> n{0};
  FakeServer server([&n](const Received&) {
    Canned c;
    if (n++ == 0) c.action = Action::kRespondThenClose;  // silently, no Connection: close
    return c;
  });
  CosmosClient client(Options(server));
  ASSERT_TRUE(client.GetAccount().ok());
  ASSERT_TRUE(server.WaitForServerCloses(1));
  auto r = client.ListDatabases();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[1].connection, 2);
  EXPECT_EQ(client.connections_opened(), 2);
}

TEST(CosmosClientTest, RetriesOnceWhenAReusedConnectionDropsTheRequest) {
  std::atomic<int> n{0};
  FakeServer server([&n](const Received&) {
    Canned c;
    if (n++ == 1) c.action = Action::kCloseWithoutResponse;
    return c;
  });
  CosmosClient client(Options(server));
  ASSERT_TRUE(client.GetAccount().ok());
  auto r = client.ReadDatabase("d");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[1].connection, 1);
  EXPECT_EQ(reqs[2].connection, 2);
  EXPECT_EQ(reqs[2].target, "/dbs/d");
  ExpectValidSignature(reqs[2]);
}

TEST(CosmosClientTest, DoesNotRetryOnAFreshConnection) {
  FakeServer server([](const Received&) {
    Canned c;
    c.action = Action::kCloseWithoutResponse;
    return c;
  });
  CosmosClient client(Options(server));
  auto r = client.GetAccount();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().Is(StatusCode::kUnavailable)) << r.status().ToString();
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(CosmosClientTest, ConnectionCloseHeaderMeansANewConnectionNextTime) {
  std::atomic<int> n{0};
  FakeServer server([&n](const Received&) {
    Canned c;
    if (n++ == 0) c.action = Action::kRespondWithConnectionClose;
    return c;
  });
  CosmosClient client(Options(server));
  ASSERT_TRUE(client.GetAccount().ok());
  ASSERT_TRUE(client.GetAccount().ok());
  ASSERT_TRUE(client.GetAccount().ok());
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].connection, 1);
  EXPECT_EQ(reqs[1].connection, 2);
  EXPECT_EQ(reqs[2].connection, 2);
}

TEST(CosmosClientTest, RefusedConnectionIsAnErrorStatus) {
  int port;
  {
    asio::io_context ioc;
    tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }  // closed: nothing listens on `port` now
  CosmosClientOptions o;
  o.endpoint = "http://127.0.0.1:" + std::to_string(port) + "/";
  CosmosClient client(o);
  auto r = client.GetAccount();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().Is(StatusCode::kUnavailable)) << r.status().ToString();
  EXPECT_NE(r.status().message().find("refused"), std::string::npos) << r.status().message();
}

TEST(CosmosClientTest, RequestTimeoutIsAnErrorStatus) {
  FakeServer server([](const Received&) {
    Canned c;
    c.action = Action::kHang;
    return c;
  });
  CosmosClientOptions o = Options(server);
  o.timeout = std::chrono::milliseconds(200);
  CosmosClient client(o);
  auto r = client.GetAccount();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().Is(StatusCode::kUnavailable));
  EXPECT_NE(r.status().message().find("timed out"), std::string::npos) << r.status().message();
}

TEST(CosmosClientTest, BadEndpointFailsEveryRequest) {
  CosmosClientOptions o;
  o.endpoint = "ftp://example.documents.azure.com:443/";
  CosmosClient client(o);
  auto r = client.GetAccount();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().Is(StatusCode::kBadRequest));
  EXPECT_NE(r.status().message().find("must start with http:// or https://"), std::string::npos);
  EXPECT_EQ(client.connections_opened(), 0);
}

// ---------------------------------------------------------------------------
// HttpClient and helpers

TEST(HttpEndpointTest, Parses) {
  auto a = ParseHttpEndpoint("http://127.0.0.1:8081/");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, "8081");
  EXPECT_EQ(a->HostHeader(), "127.0.0.1:8081");
  auto b = ParseHttpEndpoint("HTTP://localhost");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "localhost");
  EXPECT_EQ(b->port, "80");
  auto c = ParseHttpEndpoint("http://[::1]:9000");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, "9000");
  EXPECT_EQ(c->HostHeader(), "[::1]:9000");
  EXPECT_TRUE(ParseHttpEndpoint("https://x:443/").ok());
  EXPECT_FALSE(ParseHttpEndpoint("ftp://x/").ok());
  EXPECT_FALSE(ParseHttpEndpoint("http://:80/").ok());
  EXPECT_FALSE(ParseHttpEndpoint("http://x:abc/").ok());
  EXPECT_FALSE(ParseHttpEndpoint("http://x:70000/").ok());
  EXPECT_FALSE(ParseHttpEndpoint("http://x:80/some/path").ok());
}

TEST(HttpClientTest, SendsMethodTargetHeadersAndBody) {
  FakeServer server([](const Received& r) {
    Canned c;
    c.status = 204;
    c.body = "";
    return c;
  });
  auto ep = ParseHttpEndpoint(server.endpoint());
  ASSERT_TRUE(ep.ok());
  HttpClient http(*ep);
  auto r = http.Send("MKCOL", "/x%20y?z=1", {{"X-Custom", "v"}, {"Host", "ignored"}}, "payload");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 204);
  EXPECT_TRUE(r->body.empty());
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "MKCOL");
  EXPECT_EQ(reqs[0].target, "/x%20y?z=1");
  EXPECT_EQ(*reqs[0].Header("x-custom"), "v");
  EXPECT_EQ(*reqs[0].Header("host"), ep->HostHeader());
  EXPECT_EQ(reqs[0].body, "payload");
}

TEST(CosmosClientTest, MakeQueryBodyBuildsParameters) {
  json q = json::parse(MakeQueryBody("SELECT * FROM c WHERE c.a = @a AND c.b = @b",
                                     {{"@a", R"("x")"}, {"@b", "not json"}}));
  EXPECT_EQ(q["query"], "SELECT * FROM c WHERE c.a = @a AND c.b = @b");
  ASSERT_EQ(q["parameters"].size(), 2u);
  EXPECT_EQ(q["parameters"][0]["value"], "x");
  EXPECT_EQ(q["parameters"][1]["value"], "not json");
  json empty = json::parse(MakeQueryBody("SELECT 1"));
  EXPECT_TRUE(empty["parameters"].is_array());
  EXPECT_TRUE(empty["parameters"].empty());
}

}  // namespace
}  // namespace regionlab::client
