#include "client/http_client.h"

#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <optional>

#include "base/encoding.h"
#include "tls/contexts.h"

namespace regionlab::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

const std::string* FindHeader(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && ToLower(k) == ToLower(name)) return &v;
  }
  return nullptr;
}

std::string HttpEndpoint::HostHeader() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + port;
}

Result<HttpEndpoint> ParseHttpEndpoint(std::string_view url) {
  std::string lower = ToLower(url);
  const bool tls = lower.rfind("https://", 0) == 0;
  if (!tls && lower.rfind("http://", 0) != 0) {
    return Status::BadRequest("endpoint must start with http:// or https://: " + std::string(url));
  }
  std::string_view rest = url.substr(tls ? 8 : 7);
  std::string_view authority = rest.substr(0, rest.find('/'));
  std::string_view path =
      authority.size() < rest.size() ? rest.substr(authority.size()) : std::string_view();
  if (!path.empty() && path != "/") {
    return Status::BadRequest("endpoint must not have a path: " + std::string(url));
  }
  HttpEndpoint ep;
  ep.tls = tls;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Status::BadRequest("bad IPv6 literal in endpoint: " + std::string(url));
    }
    ep.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return Status::BadRequest("bad endpoint: " + std::string(url));
      }
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    ep.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (ep.host.empty()) return Status::BadRequest("endpoint has no host: " + std::string(url));
  if (port.empty()) {
    ep.port = tls ? "443" : "80";
  } else {
    for (char c : port) {
      if (c < '0' || c > '9')
        return Status::BadRequest("bad port in endpoint: " + std::string(url));
    }
    if (port.size() > 5 || std::stoi(std::string(port)) > 65535 ||
        std::stoi(std::string(port)) == 0) {
      return Status::BadRequest("bad port in endpoint: " + std::string(url));
    }
    ep.port = std::string(port);
  }
  return ep;
}

namespace {

// Errors that mean "the peer closed or reset the connection".
bool IsConnectionClosed(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted;
}

}  // namespace

// All asynchronous operations run on a private io_context, driven to
// completion by the calling thread: Beast's tcp_stream enforces timeouts only
// on asynchronous operations.
struct HttpClient::Impl {
  // Beast reads into the buffer's free capacity (at least 512 bytes) and the
  // parser consumes each read, so a buffer that started empty would read a
  // response 512 bytes at a time.
  static constexpr size_t kReadBufferBytes = 64 * 1024;
  Impl(const HttpEndpoint& ep, HttpClientOptions opts) : endpoint(ep), options(opts) {
    buffer.reserve(kReadBufferBytes);
  }

  const HttpEndpoint& endpoint;
  HttpClientOptions options;
  asio::io_context ioc;
  // The connection: `stream` (http) or `tls_stream` (https); engaged = open.
  std::optional<beast::tcp_stream> stream;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_stream;
  std::shared_ptr<asio::ssl::context> tls_context;  // made on the first https connect
  beast::flat_buffer buffer;
  int requests_on_connection = 0;
  int connections_opened = 0;

  std::string Where() const { return endpoint.host + ":" + endpoint.port; }

  // Runs the io_context until the pending operation's handler has run.
  void Drive() {
    ioc.restart();
    ioc.run();
  }

  bool open() const { return stream.has_value() || tls_stream.has_value(); }
  beast::tcp_stream& Lowest() { return tls_stream ? beast::get_lowest_layer(*tls_stream) : *stream; }
  // Calls f with the open connection's stream, whichever it is.
  template <class F>
  void WithStream(F&& f) {
    if (tls_stream) {
      f(*tls_stream);
    } else {
      f(*stream);
    }
  }

  void CloseConnection() {
    if (open()) {
      error_code ignored;
      Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
      Lowest().socket().close(ignored);
      stream.reset();
      tls_stream.reset();
    }
    buffer.clear();
    requests_on_connection = 0;
  }

  // True if the idle kept-alive connection has become readable: the server
  // closed it (EOF/RST) or sent something unsolicited. Either way it is unusable.
  bool IdleConnectionBroken() {
    pollfd pfd{};
    pfd.fd = Lowest().socket().native_handle();
    pfd.events = POLLIN;
    int n = ::poll(&pfd, 1, 0);
    return n != 0;  // readable, hung up, error, or poll failed
  }

  Status Connect() {
    CloseConnection();
    tcp::resolver resolver(ioc);
    error_code ec;
    auto results = resolver.resolve(endpoint.host, endpoint.port, ec);
    if (ec) {
      return Status::Unavailable("resolve " + Where() + ": " + ec.message());
    }
    if (endpoint.tls && !tls_context) {
      TlsFiles files;
      files.ca_file = options.ca_file;
      auto ctx = tls::MakeClientContext(files);
      if (!ctx.ok()) return ctx.status();
      tls_context = std::move(ctx).value();
    }
    beast::tcp_stream* tcp_layer = nullptr;
    if (endpoint.tls) {
      tcp_layer = &beast::get_lowest_layer(tls_stream.emplace(ioc, *tls_context));
    } else {
      tcp_layer = &stream.emplace(ioc);
    }
    tcp_layer->expires_after(options.connect_timeout);
    error_code connect_ec;
    tcp_layer->async_connect(results, [&](const error_code& e, const tcp::endpoint&) { connect_ec = e; });
    Drive();
    if (connect_ec) {
      CloseConnection();
      if (connect_ec == beast::error::timeout) {
        return Status::Unavailable("connect " + Where() + ": timed out after " +
                                   std::to_string(options.connect_timeout.count()) + " ms");
      }
      return Status::Unavailable("connect " + Where() + ": " + connect_ec.message());
    }
    tcp_layer->socket().set_option(tcp::no_delay(true), ec);
    if (endpoint.tls) {
      Status st = Handshake();
      if (!st.ok()) {
        CloseConnection();
        return st;
      }
    }
    ++connections_opened;
    return Status::Ok();
  }

  // TLS: server name indication and a host-name check (RFC 2818 rules, IP
  // addresses included), then the handshake, within connect_timeout.
  Status Handshake() {
    SSL* ssl = tls_stream->native_handle();
    error_code ip_ec;
    asio::ip::make_address(endpoint.host, ip_ec);
    if (ip_ec) SSL_set_tlsext_host_name(ssl, endpoint.host.c_str());
    tls_stream->set_verify_callback(asio::ssl::host_name_verification(endpoint.host));
    error_code hs_ec;
    tls_stream->async_handshake(asio::ssl::stream_base::client, [&](const error_code& e) { hs_ec = e; });
    Drive();
    if (!hs_ec) return Status::Ok();
    std::string why = hs_ec.message();
    const long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      why = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify) +
            (options.ca_file.empty() ? " (trust the server's CA with --ca-cert FILE)"
                                     : " (CA file " + options.ca_file + ")");
    }
    return Status::Unavailable("TLS handshake with " + Where() + ": " + why);
  }

  // One attempt on the current connection. `*retryable` is set when the
  // failure means the server had closed the connection before answering.
  Result<HttpClientResponse> Attempt(const http::request<http::string_body>& req, bool* retryable) {
    *retryable = false;
    const bool reused = requests_on_connection > 0;
    Lowest().expires_after(options.request_timeout);

    error_code write_ec;
    WithStream([&](auto& s) { http::async_write(s, req, [&](const error_code& e, size_t) { write_ec = e; }); });
    Drive();

    http::response_parser<http::string_body> parser;
    parser.body_limit(options.max_response_body);
    parser.header_limit(1u << 20);
    if (req.method() == http::verb::head) parser.skip(true);
    error_code read_ec;
    if (!write_ec) {
      WithStream([&](auto& s) {
        http::async_read(s, buffer, parser, [&](const error_code& e, size_t) { read_ec = e; });
      });
      Drive();
    }
    error_code ec = write_ec ? write_ec : read_ec;
    if (ec) {
      CloseConnection();
      if (ec == beast::error::timeout) {
        return Status::Unavailable(
            std::string(req.method_string()) + " " + std::string(req.target()) + " on " + Where() +
            ": timed out after " + std::to_string(options.request_timeout.count()) + " ms");
      }
      if (ec == http::error::body_limit) {
        return Status::Internal("response body from " + Where() + " exceeds " +
                                std::to_string(options.max_response_body) + " bytes");
      }
      *retryable = reused && IsConnectionClosed(ec) && !parser.got_some();
      bool transport = IsConnectionClosed(ec) || ec == http::error::partial_message ||
                       ec.category() != make_error_code(http::error::end_of_stream).category();
      std::string what = std::string(req.method_string()) + " " + std::string(req.target()) +
                         " on " + Where() + ": " + ec.message();
      if (transport) return Status::Unavailable(what);
      return Status::Internal("malformed response: " + what);
    }

    ++requests_on_connection;
    http::response<http::string_body> res = parser.release();
    HttpClientResponse out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      beast::string_view name = field.name_string();
      out.headers.emplace_back(ToLower(std::string_view(name.data(), name.size())),
                               std::string(field.value()));
    }
    out.body = std::move(res.body());
    if (!res.keep_alive()) CloseConnection();
    return out;
  }
};

HttpClient::HttpClient(HttpEndpoint endpoint, HttpClientOptions options)
    : endpoint_(std::move(endpoint)), impl_(std::make_unique<Impl>(endpoint_, options)) {}

HttpClient::~HttpClient() { impl_->CloseConnection(); }

void HttpClient::Close() { impl_->CloseConnection(); }

int HttpClient::connections_opened() const { return impl_->connections_opened; }

Result<HttpClientResponse> HttpClient::Send(std::string_view method, std::string_view target,
                                            const HttpHeaders& headers, std::string_view body) {
  http::request<http::string_body> req;
  req.version(11);
  req.method_string(beast::string_view(method.data(), method.size()));
  req.target(beast::string_view(target.data(), target.size()));
  for (const auto& [name, value] : headers) {
    std::string lower = ToLower(name);
    if (lower == "host" || lower == "content-length" || lower == "transfer-encoding" ||
        lower == "connection") {
      continue;
    }
    req.insert(name, value);
  }
  req.set(http::field::host, endpoint_.HostHeader());
  req.keep_alive(true);
  req.body().assign(body.data(), body.size());
  req.prepare_payload();

  if (impl_->open() && impl_->IdleConnectionBroken()) impl_->CloseConnection();
  for (int attempt = 0;; ++attempt) {
    if (!impl_->open()) RL_RETURN_IF_ERROR(impl_->Connect());
    bool retryable = false;
    Result<HttpClientResponse> r = impl_->Attempt(req, &retryable);
    if (r.ok() || !retryable || attempt > 0) return r;
  }
}

}  // namespace regionlab::client
