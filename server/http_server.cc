// HttpServer, after Boost.Beast's example/http/server/async (boost-1.74.0).
//
// Shape:
//   Listener  owns the acceptor (on its own strand) and accepts connections;
//             each accepted socket becomes a Session, on the next session
//             io_context (run by one thread) or on a new strand.
//   Session   one connection: read a request, call the handler, write the
//             response, repeat while keep-alive. All of its work runs on its
//             executor, one handler at a time (the "strand" below); it keeps
//             itself alive with shared_from_this() in every pending completion
//             handler, as in the Beast example.
//   ServerState  what the Listener and the Sessions share: the handler, the
//             options, the stopped flag and the registry of live sessions
//             (weak_ptrs, guarded by a mutex) that Stop() walks to close them.
//             Held by shared_ptr, so it outlives the HttpServer object while any
//             connection is still open.
//
// A session's life on its strand (phase_):
//   kReading    waiting for a request header, then its body
//   kContinue   writing "100 Continue" for a request that asked for it
//   kWriting    writing a response
//   kStreaming  writing a streamed response (HttpResponse::stream) piece by
//               piece; a wait on the socket notices the client leaving
//   kLingering  after a response that ends the connection: our side is shut
//               down for sending and what the client still sends is read and
//               dropped for a short while, so a client still uploading (e.g. an
//               oversized body) reads our 413 instead of a connection reset
//   kClosed     the socket is closed; the session dies with its last handler
// Stop() closes a session at once when it is reading or lingering; a session
// writing a response closes when the write ends.
//
// Errors are error_codes; nothing here throws into the io_context: the handler
// is called inside try/catch, and a throwing handler yields a 500.
#include "server/http_server.h"

#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/http.hpp>
#include <array>
#include <cerrno>
#include <chrono>
#include <exception>
#include <mutex>
#include <optional>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/deferred_work.h"
#include "base/encoding.h"
#include "server/errors.h"
#include "tls/contexts.h"

namespace regionlab::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// Largest request header accepted (Beast's default is 8 KiB; Cosmos session
// and continuation tokens travel in headers and can be long).
constexpr uint32_t kHeaderLimit = 64 * 1024;
// How long, and how much, a closing connection keeps reading and dropping what
// the client still sends (see kLingering above).
constexpr auto kLingerTimeout = std::chrono::seconds(2);
constexpr size_t kLingerMaxBytes = 4 * 1024 * 1024;
constexpr size_t kLingerChunk = 64 * 1024;
// How long a client has to complete the TLS handshake.
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
// Pause before accepting again after an accept error such as EMFILE.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);
// A kept-alive connection keeps its response buffer up to this size between
// requests (larger ones, e.g. a query page, are released).
constexpr size_t kKeepBufferBytes = 64 * 1024;
// A connection's read buffer starts at this capacity. Beast asks the socket
// for the buffer's free capacity (at least 512 bytes), and its parser consumes
// each read, so a buffer that started empty stayed at 512 bytes for good: a
// create of a 1 KB document took three recvmsg calls (docs/benchmarks.md,
// session 14). 8 KiB holds a typical request, header and body, in one read.
constexpr size_t kReadBufferBytes = 8 * 1024;

std::string_view ToStd(beast::string_view s) { return {s.data(), s.size()}; }

std::string ToUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
  }
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = char(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

void AppendNumber(std::string& out, uint64_t n) {
  char buf[24];
  char* end = buf + sizeof buf;
  char* p = end;
  do {
    *--p = char('0' + n % 10);
    n /= 10;
  } while (n != 0);
  out.append(p, end);
}

std::string EndpointString(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  if (addr.is_v6()) return "[" + addr.to_string() + "]:" + std::to_string(ep.port());
  return addr.to_string() + ":" + std::to_string(ep.port());
}

std::string HostPortString(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::string JsonEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 8);
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  return out;
}

// A JSON error response in the Cosmos shape: {"code":...,"message":...}.
HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.body = "{\"code\":\"" + JsonEscape(code) + "\",\"message\":\"" + JsonEscape(message) + "\"}";
  r.content_type = "application/json";
  return r;
}

// A header name or value that would break the framing of the response.
bool SafeHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c <= ' ' || c == ':' || c == 0x7f) return false;
  }
  return true;
}
bool SafeHeaderValue(std::string_view value) {
  // One pass (find_first_of searches the three-character set once per byte).
  bool safe = true;
  for (char c : value) safe &= c != '\r' && c != '\n' && c != '\0';
  return safe;
}

HttpRequest ToHttpRequest(http::request<http::string_body>&& msg, const std::string& remote) {
  HttpRequest r;
  r.method = ToUpper(ToStd(msg.method_string()));
  const std::string_view target = ToStd(msg.target());
  r.target = std::string(target);
  const size_t q = target.find('?');
  r.path = PercentDecode(target.substr(0, q));
  if (q != std::string_view::npos) r.query = std::string(target.substr(q + 1));
  r.headers.reserve(std::distance(msg.begin(), msg.end()));
  for (const auto& field : msg) {
    r.headers.emplace_back(ToLower(ToStd(field.name_string())), std::string(ToStd(field.value())));
  }
  r.body = std::move(msg.body());
  r.remote = remote;
  return r;
}

// What ServerState and Stop() know of a session, whatever its stream.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Asks the session to close (see the file comment). Thread-safe.
  virtual void Close() = 0;
};

struct ServerState {
  ServerState(HttpHandler h, HttpServerOptions o) : handler(std::move(h)), options(std::move(o)) {}

  // Adds a live session; false (and nothing added) once the server is stopped.
  enum class Admit { kYes, kStopped, kFull };
  Admit Register(const std::shared_ptr<SessionBase>& s) {
    std::lock_guard<std::mutex> lock(mu);
    if (stopped.load()) return Admit::kStopped;
    if (sessions.size() >= options.max_connections) return Admit::kFull;
    sessions.emplace(s.get(), s);
    return Admit::kYes;
  }
  void Unregister(const SessionBase* s) {
    std::lock_guard<std::mutex> lock(mu);
    sessions.erase(s);
  }

  const HttpHandler handler;
  const HttpServerOptions options;
  std::shared_ptr<net::ssl::context> tls;  // set before the first accept when options.tls is

  std::mutex mu;
  // Set once, under mu; read without it on the I/O paths.
  std::atomic<bool> stopped{false};
  std::atomic<size_t> offloaded{0};  // offloaded requests running or queued
  std::unordered_map<const SessionBase*, std::weak_ptr<SessionBase>> sessions;  // guarded by mu
};

// A plain connection on a session io_context (HttpServerOptions::session_ios):
// its executor is that io_context's own, not the type-erased any_io_executor
// of beast::tcp_stream, whose copies and destructions in every asynchronous
// operation cost 2-3% of a request (docs/benchmarks.md, session 17).
using SessionIoStream = beast::basic_stream<tcp, net::io_context::executor_type>;

template <class Stream>
struct IsTlsStream : std::false_type {};
template <class Next>
struct IsTlsStream<beast::ssl_stream<Next>> : std::true_type {};

// One connection over `Stream`: SessionIoStream or beast::tcp_stream (plain
// HTTP), or beast::ssl_stream<beast::tcp_stream> (HTTPS: the first bytes are
// checked for a TLS handshake, which then runs before the first request).
template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = IsTlsStream<Stream>::value;
  using LowestLayer = std::remove_reference_t<decltype(beast::get_lowest_layer(std::declval<Stream&>()))>;
  using Socket = typename LowestLayer::socket_type;

 public:
  Session(Socket&& socket, std::shared_ptr<ServerState> state)
      : stream_(MakeStream(std::move(socket), *state)), state_(std::move(state)) {
    buffer_.reserve(kReadBufferBytes);
    beast::error_code ec;
    // Respond writes plain answers synchronously, and must not block doing so.
    if constexpr (!kTls) Lowest().socket().non_blocking(true, ec);
    const tcp::endpoint ep = Lowest().socket().remote_endpoint(ec);
    remote_ = ec ? std::string("unknown") : EndpointString(ep);
  }

  ~Session() { state_->Unregister(this); }

  // Called once, right after construction (on the listener's strand; no
  // operation of this session is pending yet).
  void Run() {
    switch (state_->Register(this->shared_from_this())) {
      case ServerState::Admit::kYes:
        break;
      case ServerState::Admit::kStopped:
        CloseSocket();
        return;
      case ServerState::Admit::kFull: {
        // Over the connection cap: say so and close, without reading.
        spdlog::warn("http {}: over {} connections; answered 503", remote_, state_->options.max_connections);
        HttpResponse busy = ErrorResponse(503, "ServiceUnavailable",
                                          "too many connections (" + std::to_string(state_->options.max_connections) +
                                              "); retry later");
        busy.SetHeader("x-ms-retry-after-ms", "500");
        busy.close = true;
        busy_ = std::move(busy);
        break;
      }
    }
    if constexpr (kTls) {
      net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::Detect, this->shared_from_this()));
    } else if (busy_) {
      net::dispatch(stream_.get_executor(), [self = this->shared_from_this()]() mutable {
        self->Respond(std::move(*self->busy_), 11, false, false);
      });
    } else {
      net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::DoRead, this->shared_from_this()));
    }
  }

  // Asks the session to close (see the file comment). Thread-safe.
  void Close() override {
    net::post(stream_.get_executor(),
              beast::bind_front_handler(&Session::OnStop, this->shared_from_this()));
  }

 private:
  enum class Phase {
    kStarting, kReading, kContinue, kOffloaded, kSettling, kDelaying, kHanging, kWriting, kStreaming, kLingering,
    kClosed
  };

  std::chrono::seconds IdleTimeout() const {
    return std::chrono::seconds(std::max(1, state_->options.idle_timeout_seconds));
  }

  static Stream MakeStream(Socket&& socket, ServerState& state) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *state.tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  LowestLayer& Lowest() { return beast::get_lowest_layer(stream_); }

  // ---- HTTPS only: the handshake, or a plain-HTTP request refused ----

  void Detect() {
    phase_ = Phase::kReading;
    Lowest().expires_after(std::min<std::chrono::seconds>(IdleTimeout(), kHandshakeTimeout));
    beast::async_detect_ssl(Lowest(), buffer_, beast::bind_front_handler(&Session::OnDetect, this->shared_from_this()));
  }

  void OnDetect(beast::error_code ec, bool is_tls) {
    if (ec || state_->stopped.load()) return CloseSocket();
    if (!is_tls) return RefusePlainHttp();
    if constexpr (kTls) {
      stream_.async_handshake(net::ssl::stream_base::server, buffer_.data(),
                              beast::bind_front_handler(&Session::OnHandshake, this->shared_from_this()));
    }
  }

  void OnHandshake(beast::error_code ec, size_t used) {
    if (ec) {
      spdlog::debug("http {}: TLS handshake failed: {}", remote_, ec.message());
      return CloseSocket();
    }
    tls_up_ = true;
    buffer_.consume(used);
    if (busy_) return Respond(std::move(*busy_), 11, false, false);
    DoRead();
  }

  // Plain HTTP sent to an HTTPS port: answered in plain HTTP, as nginx does,
  // so that the client (or the person reading its error) learns why.
  void RefusePlainHttp() {
    spdlog::debug("http {}: plain HTTP on an HTTPS port; answered 400", remote_);
    const std::string body =
        "{\"code\":\"BadRequest\",\"message\":\"this port serves HTTPS only (regionlab --tls): use https:// and "
        "trust the CA at /_explorer/emulator.pem\"}";
    plain_refusal_ = "HTTP/1.1 400 Bad Request\r\nServer: " + state_->options.server_name +
                     "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\nConnection: close\r\n\r\n" + body;
    phase_ = Phase::kWriting;
    Lowest().expires_after(IdleTimeout());
    net::async_write(Lowest(), net::buffer(plain_refusal_),
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->CloseSocket();
                       self->Linger();
                     });
  }

  void DoRead() {
    if (state_->stopped.load()) return CloseSocket();
    phase_ = Phase::kReading;
    parser_.emplace();
    parser_->body_limit(static_cast<uint64_t>(state_->options.body_limit));
    parser_->header_limit(kHeaderLimit);
    Lowest().expires_after(IdleTimeout());
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnReadHeader, this->shared_from_this()));
  }

  void OnReadHeader(beast::error_code ec, size_t /*bytes*/) {
    if (ec) return OnReadError(ec);
    const auto& req = parser_->get();
    if (req.version() >= 11 && EqualsIgnoreCase(ToStd(req[http::field::expect]), "100-continue")) {
      phase_ = Phase::kContinue;
      continue_res_ = {};
      continue_res_.result(http::status::continue_);
      continue_res_.version(req.version());
      Lowest().expires_after(IdleTimeout());
      http::async_write(stream_, continue_res_,
                        beast::bind_front_handler(&Session::OnContinueWritten, this->shared_from_this()));
      return;
    }
    ReadBody();
  }

  void OnContinueWritten(beast::error_code ec, size_t /*bytes*/) {
    if (ec || state_->stopped.load()) return CloseSocket();
    ReadBody();
  }

  void ReadBody() {
    phase_ = Phase::kReading;
    // The body usually came in the header's read (or there is none): parsed
    // here from the buffer, the request goes on at once instead of through
    // another asynchronous read and the completion it posts.
    beast::error_code ec;
    if (ParseBuffered(ec)) return OnRead(ec, 0);
    Lowest().expires_after(IdleTimeout());
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, this->shared_from_this()));
  }

  // Feeds the bytes already in buffer_ to the parser. True when the message
  // is complete, or malformed (`ec`); false when it needs bytes not read yet.
  bool ParseBuffered(beast::error_code& ec) {
    while (!parser_->is_done()) {
      if (buffer_.size() == 0) return false;
      const size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) {
        ec = {};
        return false;
      }
      if (ec) return true;
      if (used == 0) return false;
    }
    return true;
  }

  void OnRead(beast::error_code ec, size_t /*bytes*/) {
    if (ec) return OnReadError(ec);
    // No handler call starts once Stop() has returned.
    if (state_->stopped.load()) return CloseSocket();

    http::request<http::string_body> msg = parser_->release();
    const unsigned version = msg.version();
    const bool keep_alive = msg.keep_alive();
    const bool head = msg.method() == http::verb::head;
    HttpRequest req = ToHttpRequest(std::move(msg), remote_);
    std::string method = req.method;
    std::string target = req.target;

    const HttpServerOptions& o = state_->options;
    if (o.offload_io && o.offload && o.offload(req)) return Offload(std::move(req), version, head, keep_alive);

    // Every answer is posted behind the requests already read in this
    // event-loop turn, and sent when its turn in the queue comes:
    // - Group commit across the connections of this io thread: the handler's
    //   store writes leave their WAL flush to `scope`, so the first of these
    //   answers to run flushes every write appended meanwhile
    //   (base/deferred_work.h).
    // - The answers of one turn leave together. A client (or a load
    //   generator) blocked on its sockets is woken once for them rather than
    //   once per answer, and each wake-up of a sleeping thread on another CPU
    //   costs the sender an inter-processor interrupt: sent one by one as
    //   each handler returned, creates woke wrk 0.66 times per request and
    //   spent nearly a third of the io thread in sendmsg (docs/benchmarks.md,
    //   session 16).
    DeferScope scope;
    const bool timed = spdlog::should_log(spdlog::level::debug);
    const auto started = timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
    HttpResponse res = CallHandler(req, method, target);
    std::vector<DeferScope::Work> work = scope.Take();
    if (timed) {
      const auto micros =
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
      spdlog::debug("http {} {} {} -> {} ({} bytes, {} us)", remote_, method, target, res.status, res.body.size(),
                    micros);
    }
    phase_ = Phase::kSettling;
    net::post(stream_.get_executor(), [self = this->shared_from_this(), work = std::move(work), res = std::move(res),
                                       version, head, keep_alive]() mutable {
      // Always run: the writes are in the store whether or not the answer goes out.
      if (Status s = DeferScope::RunAll(work); !s.ok()) {
        spdlog::error("http {}: a write was not made durable: {}", self->remote_, s.ToString());
        res = server::ErrorResponse(s);
      }
      if (self->state_->stopped.load() || self->phase_ != Phase::kSettling) return self->CloseSocket();
      self->Finish(std::move(res), version, head, keep_alive);
    });
  }

  // Runs the handler on the offload io_context; the answer comes back to the
  // strand. Meanwhile the socket is watched: a client that closes it cancels
  // the request (HttpRequest::cancelled).
  void Offload(HttpRequest req, unsigned version, bool head, bool keep_alive) {
    if (state_->offloaded.fetch_add(1) >= state_->options.max_offloaded) {
      state_->offloaded.fetch_sub(1);
      HttpResponse busy = ErrorResponse(429, "TooManyRequests",
                                        "more than " + std::to_string(state_->options.max_offloaded) +
                                            " queries, feeds and scripts in progress in this region; retry later");
      busy.SetHeader("x-ms-retry-after-ms", "100");
      busy.SetHeader("x-ms-substatus", "3200");
      return Finish(std::move(busy), version, head, keep_alive);
    }
    phase_ = Phase::kOffloaded;
    auto cancelled = std::make_shared<std::atomic<bool>>(false);
    req.cancelled = cancelled;
    WatchForClose(cancelled);
    net::post(*state_->options.offload_io, [self = this->shared_from_this(), req = std::move(req), version, head,
                                           keep_alive]() mutable {
      std::string method = req.method, target = req.target;
      HttpResponse res = self->state_->stopped.load()
                             ? ErrorResponse(503, "ServiceUnavailable", "the server is stopping")
                             : self->CallHandler(req, method, target);
      self->state_->offloaded.fetch_sub(1);
      net::post(self->stream_.get_executor(), [self, res = std::move(res), version, head, keep_alive]() mutable {
        if (self->phase_ != Phase::kOffloaded) return;  // closed meanwhile
        beast::error_code ignored;
        self->Lowest().socket().cancel(ignored);  // the close watch
        self->Finish(std::move(res), version, head, keep_alive);
      });
    });
  }

  void WatchForClose(const std::shared_ptr<std::atomic<bool>>& cancelled) {
    Lowest().socket().async_wait(tcp::socket::wait_read, [self = this->shared_from_this(), cancelled](beast::error_code ec) {
      if (ec || self->phase_ != Phase::kOffloaded) return;
      // Readable: either the peer closed (recv says 0 or fails) or it sent
      // the next request early (pipelining); only the first cancels.
      char c;
      const ssize_t n = ::recv(self->Lowest().socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) cancelled->store(true);
    });
  }

  // Sends the handler's answer as it asks: now, later, never, or a reset.
  void Finish(HttpResponse res, unsigned version, bool head, bool keep_alive) {
    switch (res.disposition) {
      case HttpResponse::Disposition::kReset:
        return ResetSocket();
      case HttpResponse::Disposition::kHang:
        return Hang();
      case HttpResponse::Disposition::kAnswer:
        break;
    }
    if (res.delay_ms > 0) {
      // Answer later without holding the io thread.
      phase_ = Phase::kDelaying;
      delay_timer_.expires_after(std::chrono::milliseconds(res.delay_ms));
      delay_timer_.async_wait([self = this->shared_from_this(), res = std::move(res), version, head,
                               keep_alive](beast::error_code ec) mutable {
        if (ec || self->state_->stopped.load() || self->phase_ != Phase::kDelaying) return self->CloseSocket();
        self->Respond(std::move(res), version, head, keep_alive);
      });
      return;
    }
    Respond(std::move(res), version, head, keep_alive);
  }

  // An injected "reset": close at once with SO_LINGER 0, so the peer sees a
  // connection reset instead of an orderly close.
  void ResetSocket() {
    beast::error_code ec;
    Lowest().socket().set_option(net::socket_base::linger(true, 0), ec);
    phase_ = Phase::kClosed;
    Lowest().close();
  }

  // An injected "hang": never answer; read and drop whatever the client sends
  // until it closes the connection (or Stop closes it).
  void Hang() {
    phase_ = Phase::kHanging;
    buffer_.consume(buffer_.size());
    Lowest().expires_never();
    DoHangRead();
  }
  void DoHangRead() {
    stream_.async_read_some(buffer_.prepare(kLingerChunk), [self = this->shared_from_this()](beast::error_code ec, size_t) {
      self->buffer_.consume(self->buffer_.size());
      if (ec || self->state_->stopped.load()) return self->CloseSocket();
      self->DoHangRead();
    });
  }

  HttpResponse CallHandler(HttpRequest& req, const std::string& method,
                           const std::string& target) noexcept {
    try {
      try {
        return state_->handler(req);
      } catch (const std::exception& e) {
        spdlog::error("http handler failed on {} {} from {}: {}", method, target, remote_,
                      e.what());
        return ErrorResponse(500, "InternalServerError",
                             std::string("internal error: ") + e.what());
      } catch (...) {
        spdlog::error("http handler failed on {} {} from {}: unknown exception", method, target,
                      remote_);
        return ErrorResponse(500, "InternalServerError", "internal error: unknown exception");
      }
    } catch (...) {
      // Logging or building the error response failed (e.g. out of memory).
      HttpResponse r;
      r.status = 500;
      r.close = true;
      return r;
    }
  }

  // Read failures: the peer went away, the timer fired, Stop() closed the
  // socket, or the request is bad (answered, then the connection is closed).
  void OnReadError(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
        ec == net::error::operation_aborted || ec == beast::error::timeout ||
        state_->stopped.load()) {
      return CloseSocket();
    }
    const unsigned version = parser_ && parser_->is_header_done() ? parser_->get().version() : 11;
    if (ec == http::error::body_limit) {
      spdlog::debug("http {}: request body over the limit of {} bytes", remote_,
                    state_->options.body_limit);
      return Respond(ErrorResponse(413, "RequestEntityTooLarge",
                                   "request body exceeds the limit of " +
                                       std::to_string(state_->options.body_limit) + " bytes"),
                     version, /*head=*/false, /*keep_alive=*/false);
    }
    if (ec == http::error::header_limit) {
      spdlog::debug("http {}: request header over the limit of {} bytes", remote_, kHeaderLimit);
      return Respond(ErrorResponse(431, "RequestHeaderFieldsTooLarge",
                                   "request header exceeds the limit of " +
                                       std::to_string(kHeaderLimit) + " bytes"),
                     version, /*head=*/false, /*keep_alive=*/false);
    }
    if (&ec.category() == &http::make_error_code(http::error::bad_method).category()) {
      spdlog::debug("http {}: malformed request: {}", remote_, ec.message());
      return Respond(ErrorResponse(400, "BadRequest", "malformed HTTP request: " + ec.message()),
                     version, /*head=*/false, /*keep_alive=*/false);
    }
    spdlog::debug("http {}: read failed: {}", remote_, ec.message());
    CloseSocket();
  }

  // Turns `hr` into res_ and writes it. The connection stays open only if the
  // client wants keep-alive, the handler did not ask to close, and the server
  // is not stopping.
  void Respond(HttpResponse hr, unsigned version, bool head, bool keep_alive) {
    if (hr.status < 200 || hr.status > 599) {
      spdlog::error("http handler returned invalid status {} to {}", hr.status, remote_);
      hr = ErrorResponse(500, "InternalServerError",
                         "handler returned invalid status " + std::to_string(hr.status));
    }
    if (hr.stream) return StartStream(std::move(hr), version, head);
    // The status line and the header are written by hand into one string and
    // sent with the body as two buffers (one sendmsg): Beast's fields would
    // allocate a node per header and its serializer walks them again.
    std::string& h = out_head_;
    h.clear();
    h.reserve(512 + 64 * hr.headers.size());
    h += version >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ";
    AppendNumber(h, static_cast<uint64_t>(hr.status));
    h += ' ';
    const beast::string_view reason = http::obsolete_reason(static_cast<http::status>(hr.status));
    h.append(reason.data(), reason.size());
    h += "\r\n";

    bool close = hr.close;
    bool has_content_type = false;
    bool has_server = false;
    const bool bodyless_status = hr.status == 204 || hr.status == 304;
    for (const auto& [name, value] : hr.headers) {
      if (!SafeHeaderName(name) || !SafeHeaderValue(value)) {
        spdlog::warn("http response to {}: dropped malformed header '{}'", remote_, name);
        continue;
      }
      if (EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "transfer-encoding")) continue;  // we frame
      if (EqualsIgnoreCase(name, "connection")) {
        if (EqualsIgnoreCase(value, "close")) close = true;
        continue;
      }
      if (EqualsIgnoreCase(name, "content-type")) {
        // No body and no Content-Length on 204/304 (RFC 9110 8.6; for 304 a
        // length would have to be that of the full representation).
        if (bodyless_status) continue;
        has_content_type = true;
      }
      if (EqualsIgnoreCase(name, "server")) has_server = true;
      h.append(name).append(": ").append(value).append("\r\n");
    }
    if (!has_server) h.append("Server: ").append(state_->options.server_name).append("\r\n");
    if (!bodyless_status) {
      if (!hr.body.empty() && !has_content_type && !hr.content_type.empty()) {
        h.append("Content-Type: ").append(hr.content_type).append("\r\n");
      }
      h += "Content-Length: ";
      AppendNumber(h, hr.body.size());
      h += "\r\n";
    }
    // HTTP/1.1 is persistent unless it says close; HTTP/1.0 only if it says keep-alive.
    out_keep_alive_ = keep_alive && !close && !state_->stopped.load();
    if (version >= 11 && !out_keep_alive_) h += "Connection: close\r\n";
    if (version < 11 && out_keep_alive_) h += "Connection: keep-alive\r\n";
    h += "\r\n";
    out_body_.clear();
    if (!head && !bodyless_status) out_body_ = std::move(hr.body);  // HEAD: the length, not the bytes

    phase_ = Phase::kWriting;
    std::array<net::const_buffer, 2> buffers{net::buffer(out_head_), net::buffer(out_body_)};
    if constexpr (!kTls) {
      // Plain HTTP: the answer almost always fits the socket's send buffer,
      // so it is written here (the socket is non-blocking) rather than by an
      // asynchronous write; what does not fit goes on asynchronously. The
      // next read still starts from a posted handler, behind this turn's
      // other answers: started at once, its first recvmsg would come before
      // the client could have answered and fail (EAGAIN) every time, one
      // more system call per request (docs/benchmarks.md, session 17).
      beast::error_code ec;
      const size_t total = out_head_.size() + out_body_.size();
      const size_t sent = Lowest().socket().write_some(buffers, ec);
      if (!ec && sent == total) {
        return net::post(stream_.get_executor(), [self = this->shared_from_this(), sent] { self->OnWrite({}, sent); });
      }
      if (ec && ec != net::error::would_block && ec != net::error::try_again) return OnWrite(ec, 0);
      if (!ec) {
        const size_t in_head = std::min(sent, out_head_.size());
        buffers = {net::buffer(out_head_) + in_head, net::buffer(out_body_) + (sent - in_head)};
      }
    }
    Lowest().expires_after(IdleTimeout());
    net::async_write(stream_, buffers,
                     beast::bind_front_handler(&Session::OnWrite, this->shared_from_this()));
  }

  // A streamed response: the header, then each piece the stream hands over,
  // one write in flight at a time, until the stream ends, the client leaves
  // or a write takes longer than the idle timeout.
  void StartStream(HttpResponse hr, unsigned version, bool head) {
    std::string h = version >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ";
    h += std::to_string(hr.status) + " " +
         std::string(ToStd(http::obsolete_reason(static_cast<http::status>(hr.status)))) + "\r\n";
    bool has_content_type = false, has_server = false;
    for (const auto& [name, value] : hr.headers) {
      const std::string lower = ToLower(name);
      if (!SafeHeaderName(name) || !SafeHeaderValue(value) || lower == "content-length" ||
          lower == "transfer-encoding" || lower == "connection") {
        continue;
      }
      has_content_type = has_content_type || lower == "content-type";
      has_server = has_server || lower == "server";
      h += name + ": " + value + "\r\n";
    }
    if (!has_server) h += "Server: " + state_->options.server_name + "\r\n";
    if (!has_content_type && !hr.content_type.empty()) h += "Content-Type: " + hr.content_type + "\r\n";
    h += "Connection: close\r\n\r\n";
    body_stream_ = std::move(hr.stream);
    stream_head_only_ = head;
    phase_ = Phase::kStreaming;
    WatchStreamClose();
    WriteStreamPiece(std::move(h));
  }

  void WriteStreamPiece(std::string piece) {
    stream_piece_ = std::move(piece);
    Lowest().expires_after(IdleTimeout());
    net::async_write(stream_, net::buffer(stream_piece_),
                     beast::bind_front_handler(&Session::OnStreamWrite, this->shared_from_this()));
  }

  void OnStreamWrite(beast::error_code ec, size_t /*bytes*/) {
    if (phase_ != Phase::kStreaming) return;
    if (ec || state_->stopped.load() || stream_head_only_) return EndStream();
    Lowest().expires_never();
    body_stream_->Pull([self = this->shared_from_this()](std::string piece) {
      net::post(self->stream_.get_executor(),
                [self, piece = std::move(piece)]() mutable { self->OnStreamPiece(std::move(piece)); });
    });
  }

  void OnStreamPiece(std::string piece) {
    if (phase_ != Phase::kStreaming) return;
    if (piece.empty()) return EndStream();
    WriteStreamPiece(std::move(piece));
  }

  // Whatever the client sends on a streaming connection is dropped (over
  // HTTPS: raw, the connection is never read again); its close (or a reset)
  // ends the stream.
  void WatchStreamClose() {
    Lowest().socket().async_wait(tcp::socket::wait_read, [self = this->shared_from_this()](beast::error_code ec) {
      if (ec || self->phase_ != Phase::kStreaming) return;
      char buf[512];
      const ssize_t n = ::recv(self->Lowest().socket().native_handle(), buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return self->EndStream();
      self->WatchStreamClose();
    });
  }

  void EndStream() {
    if (phase_ != Phase::kStreaming) return;
    if (auto s = std::move(body_stream_)) s->Cancel();
    CloseSocket();
  }

  void OnWrite(beast::error_code ec, size_t /*bytes*/) {
    if (ec) {
      spdlog::debug("http {}: write failed: {}", remote_, ec.message());
      return CloseSocket();
    }
    if (state_->stopped.load()) return CloseSocket();
    if (!out_keep_alive_) return Linger();
    if (out_body_.capacity() > kKeepBufferBytes) std::string().swap(out_body_);
    DoRead();  // the next request may already be in buffer_ (pipelining)
  }

  void Linger() {
    phase_ = Phase::kLingering;
    if constexpr (kTls) {
      if (tls_up_) {
        // close_notify, then wait (briefly) for the client's.
        Lowest().expires_after(kLingerTimeout);
        stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->CloseSocket(); });
        return;
      }
    }
    beast::error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return CloseSocket();
    buffer_.consume(buffer_.size());
    lingered_ = 0;
    Lowest().expires_after(kLingerTimeout);
    DoDrain();
  }

  void DoDrain() {
    Lowest().async_read_some(buffer_.prepare(kLingerChunk),
                            beast::bind_front_handler(&Session::OnDrain, this->shared_from_this()));
  }

  void OnDrain(beast::error_code ec, size_t bytes) {
    lingered_ += bytes;
    if (ec || lingered_ >= kLingerMaxBytes || state_->stopped.load()) return CloseSocket();
    DoDrain();
  }

  // Posted by Close(); runs on the strand.
  void OnStop() {
    if (phase_ == Phase::kReading || phase_ == Phase::kLingering || phase_ == Phase::kHanging ||
        phase_ == Phase::kOffloaded) {
      CloseSocket();  // an offloaded handler's answer is dropped
    }
    if (phase_ == Phase::kDelaying) delay_timer_.cancel();  // its handler closes
    if (phase_ == Phase::kStreaming) EndStream();
    // kStarting: DoRead sees the stopped flag. kContinue / kWriting: the write
    // completion sees it. kSettling: the posted answer sees it. kClosed:
    // nothing to do.
  }

  void CloseSocket() {
    phase_ = Phase::kClosed;
    beast::error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    Lowest().close();
  }

  Stream stream_;
  net::steady_timer delay_timer_{stream_.get_executor()};  // injected delays
  beast::flat_buffer buffer_;
  std::shared_ptr<ServerState> state_;
  std::string remote_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::empty_body> continue_res_;
  std::string out_head_;  // the response being written: status line and header,
  std::string out_body_;  // and body
  bool out_keep_alive_ = false;
  Phase phase_ = Phase::kStarting;
  size_t lingered_ = 0;
  std::optional<HttpResponse> busy_;  // over the connection cap: the only answer
  bool tls_up_ = false;               // HTTPS: the handshake completed
  std::string plain_refusal_;         // HTTPS: the answer to a plain-HTTP request
  std::shared_ptr<BodyStream> body_stream_;  // kStreaming
  std::string stream_piece_;                 // the piece being written
  bool stream_head_only_ = false;            // a HEAD request: the header only
};

}  // namespace

class HttpServer::Listener : public std::enable_shared_from_this<HttpServer::Listener> {
 public:
  Listener(net::io_context& io, std::shared_ptr<ServerState> state)
      : io_(io),
        acceptor_(net::make_strand(io)),
        retry_timer_(acceptor_.get_executor()),
        state_(std::move(state)) {}

  // Opens, binds and listens; synchronous, before any asynchronous operation.
  Status Open(const std::string& host, uint16_t port) {
    const std::string where = HostPortString(host, port);
    beast::error_code ec;
    tcp::endpoint endpoint;
    const net::ip::address addr = net::ip::make_address(host, ec);
    if (!ec) {
      endpoint = tcp::endpoint(addr, port);
    } else {
      tcp::resolver resolver(io_);
      const auto results = resolver.resolve(host, std::to_string(port), ec);
      if (ec || results.empty()) {
        return Status::Unavailable("cannot listen on " + where +
                                   ": resolve: " + (ec ? ec.message() : std::string("no address")));
      }
      endpoint = results.begin()->endpoint();
      for (const auto& r : results) {  // prefer IPv4, as clients of "localhost" usually try it
        if (r.endpoint().address().is_v4()) {
          endpoint = r.endpoint();
          break;
        }
      }
    }
    auto fail = [&](const char* what) {
      beast::error_code ignored;
      acceptor_.close(ignored);
      return Status::Unavailable("cannot listen on " + where + ": " + what + ": " + ec.message());
    };
    acceptor_.open(endpoint.protocol(), ec);
    if (ec) return fail("open");
    acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (ec) return fail("set_option");
    acceptor_.bind(endpoint, ec);
    if (ec) return fail("bind");
    acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return fail("listen");
    const tcp::endpoint local = acceptor_.local_endpoint(ec);
    if (ec) return fail("local_endpoint");
    port_ = local.port();
    spdlog::debug("http listening on {}", EndpointString(local));
    return Status::Ok();
  }

  uint16_t port() const { return port_; }

  void Run() {
    net::dispatch(acceptor_.get_executor(),
                  beast::bind_front_handler(&Listener::DoAccept, shared_from_this()));
  }

  void Stop() {
    std::vector<std::weak_ptr<SessionBase>> sessions;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      if (state_->stopped.load()) return;
      state_->stopped.store(true);
      sessions.reserve(state_->sessions.size());
      for (const auto& [ptr, weak] : state_->sessions) sessions.push_back(weak);
    }
    net::post(acceptor_.get_executor(),
              beast::bind_front_handler(&Listener::OnStop, shared_from_this()));
    for (const auto& weak : sessions) {
      if (auto s = weak.lock()) s->Close();
    }
  }

 private:
  void DoAccept() {
    if (state_->stopped.load()) return;
    // A connection goes to the next session io_context when there are some
    // (HttpServerOptions::session_ios): one thread runs each, so its handlers
    // are already serial and it needs no strand (whose lock, shared state and
    // type-erased copies cost about 3% of a request), and a plain one keeps
    // the io_context's executor type (SessionIoStream). On the io_context
    // given to Start, which may have several threads, it gets its own strand.
    const auto& ios = state_->options.session_ios;
    if (!ios.empty()) {
      acceptor_.async_accept(ios[next_io_++ % ios.size()]->get_executor(),
                             [self = shared_from_this()](beast::error_code ec, SessionIoStream::socket_type socket) {
                               self->OnAccept(ec, std::move(socket));
                             });
    } else {
      acceptor_.async_accept(net::make_strand(io_), [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
        self->OnAccept(ec, std::move(socket));
      });
    }
  }

  template <class Socket>
  void OnAccept(beast::error_code ec, Socket socket) {
    if (state_->stopped.load() || ec == net::error::operation_aborted) {
      beast::error_code ignored;
      socket.close(ignored);
      return;
    }
    if (ec) {
      if (ec == net::error::connection_aborted) return DoAccept();
      spdlog::warn("http accept on port {} failed: {}; retrying", port_, ec.message());
      retry_timer_.expires_after(kAcceptRetryDelay);
      retry_timer_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
        if (!wait_ec) self->DoAccept();
      });
      return;
    }
    beast::error_code opt_ec;
    socket.set_option(tcp::no_delay(true), opt_ec);
    if (state_->tls) {
      std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(tcp::socket(std::move(socket)), state_)->Run();
    } else if constexpr (std::is_same_v<Socket, SessionIoStream::socket_type>) {
      std::make_shared<Session<SessionIoStream>>(std::move(socket), state_)->Run();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(std::move(socket), state_)->Run();
    }
    DoAccept();
  }

  void OnStop() {
    beast::error_code ec;
    acceptor_.close(ec);
    try {
      retry_timer_.cancel();
    } catch (...) {  // cancel() reports failure by exception; nothing to do about it
    }
  }

  net::io_context& io_;
  size_t next_io_ = 0;  // the session io_context of the next connection (on the acceptor's strand)
  tcp::acceptor acceptor_;
  net::steady_timer retry_timer_;
  std::shared_ptr<ServerState> state_;
  uint16_t port_ = 0;
};

Result<std::unique_ptr<HttpServer>> HttpServer::Start(boost::asio::io_context& io,
                                                      const std::string& host, uint16_t port,
                                                      HttpHandler handler,
                                                      HttpServerOptions options) {
  auto state = std::make_shared<ServerState>(std::move(handler), std::move(options));
  if (state->options.tls.enabled()) {
    auto ctx = tls::MakeServerContext(state->options.tls, /*require_client_certificate=*/false);
    if (!ctx.ok()) return ctx.status();
    state->tls = std::move(ctx).value();
  }
  auto listener = std::make_shared<Listener>(io, std::move(state));
  Status st = listener->Open(host, port);
  if (!st.ok()) return st;
  listener->Run();
  const uint16_t bound = listener->port();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(listener), bound));
}

HttpServer::HttpServer(std::shared_ptr<Listener> listener, uint16_t port)
    : listener_(std::move(listener)), port_(port) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() { listener_->Stop(); }

}  // namespace regionlab::server
