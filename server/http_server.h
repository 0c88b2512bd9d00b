// HttpServer: the HTTP/1.1 transport of a region's endpoint and of the admin API.
//
// It accepts TCP connections on an io_context the caller owns and runs, parses
// requests with Boost.Beast, hands each one to an HttpHandler as a plain
// HttpRequest, and writes the returned HttpResponse back. It knows nothing of
// Cosmos or of statuses; the handler decides everything about the reply.
//
// Model (Boost.Beast example/http/server/async): one io_context run by N
// threads, a strand per connection (or session io_contexts of one thread
// each: HttpServerOptions::session_ios), one request at a time per connection
// (pipelined requests are read in order), errors as error_code. The handler is
// called on the connection's strand, so it runs on one of the io_context
// threads and must be thread-safe: different connections call it concurrently.
// No exception escapes into the io_context: a handler that throws yields a 500.
//
// Lifetime: the server's shared state outlives the HttpServer object while
// connections are still open, so destroying a stopped server while the
// io_context keeps running is safe. The HttpServer must be destroyed before the
// io_context. A handler call already in progress when Stop() runs may finish
// after Stop() returns; no new handler call starts once Stop() has returned. A
// caller that destroys what the handler uses must first stop (or join) the
// io_context threads.
//
// HTTPS (options.tls): the same, over beast::ssl_stream; the handshake runs
// on the connection's strand before the first request.
//
// Beast and Asio stay out of this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/tls_files.h"
#include "server/http_types.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace regionlab::server {

struct HttpServerOptions {
  // Largest request body accepted, in bytes. A larger body (announced by
  // Content-Length or reached while reading a chunked body) is answered with
  // 413 and a JSON body {"code":"RequestEntityTooLarge","message":...}, and the
  // connection is closed. Default: 16 MiB.
  size_t body_limit = 16 * 1024 * 1024;

  // Value of the Server header of every response. Default: "regionlab".
  std::string server_name = "regionlab";

  // A connection that sends nothing for this long while the server waits for a
  // request (or that takes longer than this to send one request, or to accept
  // one response) is closed. Default: 300 seconds.
  int idle_timeout_seconds = 300;

  // Requests for which `offload` returns true are handled on `offload_io`'s
  // threads instead of the connection's io thread, so that slow handlers
  // (queries, feeds, scripts) never hold the threads that accept connections
  // and answer point reads. While one runs, a client that closes its
  // connection sets HttpRequest::cancelled. The caller runs `offload_io` and
  // keeps it alive until the server is destroyed. Default: none.
  std::function<bool(const HttpRequest&)> offload;
  boost::asio::io_context* offload_io = nullptr;

  // When set, accepted connections are spread over these io_contexts in
  // turn instead of running on the one given to Start (which then only
  // accepts). Each must be run by exactly one thread: connections on them
  // get no strand. A connection's handlers then never wake or wait for
  // another thread, and two connections on different contexts never contend
  // for one scheduler (on two cores this halved the CPU of a point read;
  // docs/benchmarks.md). The caller runs them and keeps them alive until the
  // server is destroyed. Default: none.
  std::vector<boost::asio::io_context*> session_ios;

  // Open connections at most; one more is answered 503 (a Cosmos-shaped
  // body, `x-ms-retry-after-ms`) and closed. Default: 1024.
  size_t max_connections = 1024;
  // Offloaded requests running or queued at most; one more is answered 429
  // with `x-ms-retry-after-ms` (the SDKs retry it) instead of queueing
  // without bound. Default: 64.
  size_t max_offloaded = 64;

  // HTTPS when set: every connection must start with a TLS handshake
  // (TLS 1.2+, this certificate and key); plain HTTP sent to the port is
  // answered 400 in plain text and closed. Start() fails if the files do not
  // load. Default: plain HTTP.
  TlsFiles tls;
};

class HttpServer {
 public:
  // Binds host:port (port 0 = pick a free port) and starts accepting on `io`.
  // `host` is an IP address ("127.0.0.1", "0.0.0.0", "::") or a name that
  // resolves to one ("localhost"). Does not run `io`; the caller runs it on its
  // threads. Returns an error Status naming host:port if resolving, binding or
  // listening fails (e.g. the address is in use).
  static Result<std::unique_ptr<HttpServer>> Start(boost::asio::io_context& io,
                                                   const std::string& host, uint16_t port,
                                                   HttpHandler handler,
                                                   HttpServerOptions options = {});

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Stops (see Stop()).
  ~HttpServer();

  // The bound port (the one picked when Start was given port 0).
  uint16_t port() const { return port_; }

  // Stops accepting and closes every open connection: idle ones at once, one
  // whose response is being written once the write ends. In-flight handler
  // calls may finish. Returns without waiting for the closes, which run on the
  // io_context. Thread-safe and idempotent.
  void Stop();

 private:
  class Listener;  // the acceptor and the state shared with the connections

  HttpServer(std::shared_ptr<Listener> listener, uint16_t port);

  std::shared_ptr<Listener> listener_;
  uint16_t port_;
};

}  // namespace regionlab::server
