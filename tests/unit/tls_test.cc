// --tls: the local CA (tls/local_ca.h), and HttpServer + HttpClient over
// HTTPS on loopback (trusted, untrusted, wrong host name, plain HTTP to the
// TLS port, keep-alive). The replication side is in tcp_transport_test.cc.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/http_client.h"
#include "server/http_server.h"
#include "tls/local_ca.h"

namespace regionlab {
namespace {

namespace fs = std::filesystem;
namespace net = boost::asio;

class TlsDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("regionlab-tls-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Dir() const { return dir_.string(); }
  fs::path dir_;
};

std::string Slurp(const std::string& path) {
  auto r = tls::ReadTextFile(path);
  return r.ok() ? *r : std::string();
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  ::stat(path.c_str(), &st);
  return st.st_mode & 0777;
}

TEST_F(TlsDir, CreatesACaAndALeafForTheNamesWithPrivateKeysKeptPrivate) {
  auto files = tls::EnsureLocalCertificates(Dir(), {"localhost", "127.0.0.1", "::1", "myhost"});
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(files->ca_file, (dir_ / "ca.pem").string());
  EXPECT_EQ(files->cert_file, (dir_ / "server.pem").string());
  EXPECT_EQ(files->key_file, (dir_ / "server-key.pem").string());
  EXPECT_EQ(ModeOf(files->key_file), 0600u);
  EXPECT_EQ(ModeOf((dir_ / "ca-key.pem").string()), 0600u);
  EXPECT_EQ(ModeOf(Dir()), 0700u);
  auto names = tls::CertificateNames(files->cert_file);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"DNS:localhost", "IP:127.0.0.1", "IP:0:0:0:0:0:0:0:1", "DNS:myhost"}));
}

TEST_F(TlsDir, KeepsTheCaAndLeafAcrossStartsAndReissuesOnlyTheLeafForNewNames) {
  auto first = tls::EnsureLocalCertificates(Dir(), {"localhost", "127.0.0.1"});
  ASSERT_TRUE(first.ok());
  const std::string ca = Slurp(first->ca_file), leaf = Slurp(first->cert_file);
  auto again = tls::EnsureLocalCertificates(Dir(), {"localhost", "127.0.0.1"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Slurp(again->ca_file), ca);
  EXPECT_EQ(Slurp(again->cert_file), leaf) << "an unchanged leaf is not reissued";

  // --host 10.1.2.3 now: the leaf must cover it; the CA a user trusted stays.
  auto moved = tls::EnsureLocalCertificates(Dir(), {"localhost", "127.0.0.1", "10.1.2.3"});
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(Slurp(moved->ca_file), ca);
  EXPECT_NE(Slurp(moved->cert_file), leaf);
  auto names = tls::CertificateNames(moved->cert_file);
  ASSERT_TRUE(names.ok());
  EXPECT_NE(std::find(names->begin(), names->end(), "IP:10.1.2.3"), names->end());
}

TEST_F(TlsDir, ACaKeyWithoutItsCertificateIsAClearError) {
  auto first = tls::EnsureLocalCertificates(Dir(), {"localhost"});
  ASSERT_TRUE(first.ok());
  fs::remove(first->ca_file);
  auto again = tls::EnsureLocalCertificates(Dir(), {"localhost"});
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("remove the directory"), std::string::npos) << again.status().message();
}

TEST(TlsNames, DefaultNamesCoverLoopbackTheHostAndASpecificBindAddress) {
  auto names = tls::DefaultNames("10.0.0.7");
  EXPECT_EQ(names[0], "localhost");
  EXPECT_EQ(names[1], "127.0.0.1");
  EXPECT_EQ(names[2], "::1");
  EXPECT_EQ(names.back(), "10.0.0.7");
  auto wildcard = tls::DefaultNames("0.0.0.0");
  EXPECT_EQ(std::count(wildcard.begin(), wildcard.end(), "0.0.0.0"), 0);
  auto loop = tls::DefaultNames("127.0.0.1");
  EXPECT_EQ(std::count(loop.begin(), loop.end(), "127.0.0.1"), 1);
}

// ------------------------------------------------------------ HTTPS server

class HttpsTest : public TlsDir {
 protected:
  void SetUp() override {
    TlsDir::SetUp();
    auto files = tls::EnsureLocalCertificates(Dir(), {"localhost", "127.0.0.1"});
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    files_ = *files;
    server::HttpServerOptions o;
    o.tls = files_;
    auto s = server::HttpServer::Start(
        io_, "127.0.0.1", 0,
        [](server::HttpRequest& req) {
          server::HttpResponse r;
          r.status = 200;
          r.body = "{\"path\":\"" + req.path + "\"}";
          r.content_type = "application/json";
          return r;
        },
        o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (server_) server_->Stop();
    work_.reset();
    if (thread_.joinable()) thread_.join();
    server_.reset();
    TlsDir::TearDown();
  }
  client::HttpEndpoint Endpoint(const std::string& host) const {
    auto ep = client::ParseHttpEndpoint("https://" + host + ":" + std::to_string(server_->port()) + "/");
    EXPECT_TRUE(ep.ok());
    return *ep;
  }
  client::HttpClientOptions Trusting() const {
    client::HttpClientOptions o;
    o.ca_file = files_.ca_file;
    o.connect_timeout = std::chrono::seconds(5);
    o.request_timeout = std::chrono::seconds(5);
    return o;
  }

  TlsFiles files_;
  net::io_context io_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_{io_.get_executor()};
  std::unique_ptr<server::HttpServer> server_;
  std::thread thread_;
};

TEST_F(HttpsTest, AClientTrustingTheCaIsServedOnOneKeptAliveConnection) {
  client::HttpClient c(Endpoint("127.0.0.1"), Trusting());
  for (int i = 0; i < 3; ++i) {
    auto r = c.Send("GET", "/dbs/" + std::to_string(i), {}, "");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "{\"path\":\"/dbs/" + std::to_string(i) + "\"}");
  }
  EXPECT_EQ(c.connections_opened(), 1);
  client::HttpClient by_name(Endpoint("localhost"), Trusting());
  auto named = by_name.Send("POST", "/x", {{"Content-Type", "application/json"}}, std::string(100'000, ' '));
  ASSERT_TRUE(named.ok()) << named.status().ToString();
  EXPECT_EQ(named->status, 200);
}

TEST_F(HttpsTest, AClientThatDoesNotTrustTheCaIsRefusedAndToldWhy) {
  client::HttpClientOptions o = Trusting();
  o.ca_file.clear();  // the system's trust store knows nothing of our CA
  client::HttpClient c(Endpoint("127.0.0.1"), o);
  auto r = c.Send("GET", "/", {}, "");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("certificate verify failed"), std::string::npos) << r.status().message();
}

TEST_F(HttpsTest, ANameTheCertificateDoesNotCoverIsRefused) {
  // A server whose certificate covers only elsewhere.example, reached as
  // 127.0.0.1 by a client that trusts its CA: the chain is good, the name is not.
  auto other = tls::EnsureLocalCertificates((dir_ / "other").string(), {"elsewhere.example"});
  ASSERT_TRUE(other.ok());
  server::HttpServerOptions o;
  o.tls = *other;
  auto s = server::HttpServer::Start(io_, "127.0.0.1", 0, [](server::HttpRequest&) { return server::HttpResponse{}; }, o);
  ASSERT_TRUE(s.ok());
  client::HttpClientOptions co = Trusting();
  co.ca_file = other->ca_file;
  auto ep = client::ParseHttpEndpoint("https://127.0.0.1:" + std::to_string((*s)->port()) + "/");
  ASSERT_TRUE(ep.ok());
  client::HttpClient c(*ep, co);
  auto r = c.Send("GET", "/", {}, "");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("certificate verify failed"), std::string::npos) << r.status().message();
  (*s)->Stop();
}

TEST_F(HttpsTest, PlainHttpOnTheTlsPortIsAnsweredWithAClear400) {
  auto ep = client::ParseHttpEndpoint("http://127.0.0.1:" + std::to_string(server_->port()) + "/");
  ASSERT_TRUE(ep.ok());
  client::HttpClient c(*ep);
  auto r = c.Send("GET", "/dbs", {}, "");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("serves HTTPS only"), std::string::npos) << r->body;
  const std::string* close = r->Header("connection");
  ASSERT_NE(close, nullptr);
  EXPECT_EQ(*close, "close");
}

TEST_F(HttpsTest, ACertificateThatDoesNotLoadFailsStart) {
  server::HttpServerOptions o;
  o.tls = files_;
  o.tls.key_file = files_.ca_file;  // not a key
  net::io_context io;
  auto s = server::HttpServer::Start(io, "127.0.0.1", 0, [](server::HttpRequest&) { return server::HttpResponse{}; }, o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("private key"), std::string::npos) << s.status().message();
}

TEST(HttpsEndpoint, HttpsUrlsParseWithPort443ByDefault) {
  auto ep = client::ParseHttpEndpoint("https://localhost/");
  ASSERT_TRUE(ep.ok());
  EXPECT_TRUE(ep->tls);
  EXPECT_EQ(ep->port, "443");
  auto plain = client::ParseHttpEndpoint("http://localhost:8081");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->tls);
  EXPECT_FALSE(client::ParseHttpEndpoint("ftp://localhost/").ok());
}

}  // namespace
}  // namespace regionlab
