// The reverse proxy: one coroutine per client connection, on its own strand
// (the connection to the origin shares it). Errors are error_codes
// (redirect_error); nothing throws into the io_context.
//
// Per request:
//   read the header  -> pick the POP and route (HealthModel)
//   connect          -> the routed origin, else its fallbacks; none: 503
//   forward          -> header, then the body in 64 KiB pieces as it arrives
//                       (Beast's buffer_body relay)
//   read the answer  -> timeout before the header: 504; closed before it: 502
//   relay it back    -> header (+ x-regionlab-origin ...), body piece by piece;
//                       an origin failing mid-body cuts the client connection
#include "frontdoor/internal.h"

#include <spdlog/spdlog.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <ctime>
#include <limits>
#include <optional>

#include "base/encoding.h"
#include "base/hash.h"

namespace regionlab::frontdoor::internal {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

std::string Shared::NextRequestRef() {
  const uint64_t n = request_counter.fetch_add(1) + 1;
  const int64_t now_us = clock.NowMicros();
  std::time_t secs = static_cast<std::time_t>(now_us / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  const uint64_t h = Fnv1a64(std::to_string(n) + "/" + std::to_string(model.time().wall_epoch_us));
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return std::string(stamp) + "-" + hex;
}

namespace {

constexpr size_t kPiece = 64 * 1024;
// Beast reads into a flat buffer's free capacity, at least 512 bytes, and its
// parser consumes each read: a buffer that starts empty stays at 512 bytes, and
// a 100 KB response took 200 reads. These start larger (see server/
// http_server.cc, kReadBufferBytes).
constexpr size_t kClientReadBytes = 8 * 1024;
constexpr size_t kOriginReadBytes = 64 * 1024;
// Most of a request body read and dropped to keep a connection after an error answer.
constexpr size_t kMaxDrain = 1024 * 1024;
constexpr uint32_t kHeaderLimit = 64 * 1024;
// No limit on bodies passing through (Beast 1.74 compares the content length
// with an empty optional limit as "over the limit", so a number, not none).
constexpr uint64_t kNoBodyLimit = std::numeric_limits<uint64_t>::max();

auto Await(beast::error_code& ec) { return net::redirect_error(net::use_awaitable, ec); }

std::string JsonEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

// Hop-by-hop headers (RFC 9110 7.6.1) and the ones named by Connection.
void StripHopByHop(http::fields& f) {
  std::vector<std::string> named;
  for (auto part : SplitList(std::string_view(f[http::field::connection].data(), f[http::field::connection].size()))) {
    named.push_back(ToLower(part));
  }
  for (const auto& n : named) {
    if (n != "close" && n != "keep-alive") f.erase(n);
  }
  for (auto field : {http::field::connection, http::field::keep_alive, http::field::proxy_authenticate,
                     http::field::proxy_authorization, http::field::te, http::field::trailer, http::field::upgrade}) {
    f.erase(field);
  }
  f.erase("proxy-connection");
}

std::string ClientIp(const tcp::socket& s) {
  beast::error_code ec;
  const auto ep = s.remote_endpoint(ec);
  if (ec) return "unknown";
  return ep.address().to_string();
}

class Session {
 public:
  Session(tcp::socket socket, std::shared_ptr<Shared> sh) : client_(std::move(socket)), sh_(std::move(sh)) {
    cbuf_.reserve(kClientReadBytes);
    ip_ = ClientIp(client_.socket());
    beast::error_code ec;
    const auto ep = client_.socket().remote_endpoint(ec);
    remote_ = ec ? ip_ : ip_ + ":" + std::to_string(ep.port());
  }

  net::awaitable<void> Run() {
    for (;;) {
      if (sh_->stopping.load()) break;
      const bool again = co_await OneRequest();
      if (!again) break;
    }
    Close();
  }

 private:
  void Close() {
    beast::error_code ec;
    client_.socket().shutdown(tcp::socket::shutdown_both, ec);
    client_.close();
  }

  // Writes a small response of our own. Returns false when the connection
  // must end (not keep-alive, or the write failed).
  net::awaitable<bool> Reply(unsigned version, int status, std::string_view code, const std::string& message,
                             bool keep_alive, const std::string& ref, int pop, const std::string& origin = "") {
    http::response<http::string_body> res;
    res.version(version);
    res.result(static_cast<unsigned>(status));
    res.set(http::field::server, "regionlab-frontdoor");
    res.set(http::field::content_type, "application/json");
    res.set("x-azure-ref", ref);
    if (pop >= 0) res.set("x-regionlab-pop", std::to_string(pop));
    if (!origin.empty()) res.set("x-regionlab-origin", origin);  // the origin that failed
    res.body() = "{\"code\":\"" + std::string(code) + "\",\"message\":\"" + JsonEscape(message) + "\"}";
    res.prepare_payload();
    res.keep_alive(keep_alive);
    client_.expires_after(sh_->idle_timeout);
    beast::error_code ec;
    co_await http::async_write(client_, res, Await(ec));
    co_return !ec && keep_alive;
  }

  // Reads and drops the rest of the request body (so that the connection can
  // serve the next request). False (the connection must close) when the
  // client waits for "100 Continue" before sending it, or when more than
  // kMaxDrain bytes remain.
  net::awaitable<bool> DrainBody(http::request_parser<http::buffer_body>& p) {
    if (p.is_done()) co_return true;
    if (beast::iequals(p.get()[http::field::expect], "100-continue")) co_return false;
    if (p.content_length() && *p.content_length() > kMaxDrain) co_return false;
    beast::error_code ec;
    size_t drained = 0;
    while (!p.is_done()) {
      p.get().body().data = piece_.get();
      p.get().body().size = kPiece;
      client_.expires_after(sh_->idle_timeout);
      co_await http::async_read_some(client_, cbuf_, p, Await(ec));
      if (ec == http::error::need_buffer) ec = {};
      if (ec) co_return false;
      drained += kPiece - p.get().body().size;
      if (drained > kMaxDrain) co_return false;
    }
    co_return true;
  }

  net::awaitable<bool> OneRequest() {
    beast::error_code ec;
    http::request_parser<http::buffer_body> req_p;
    req_p.header_limit(kHeaderLimit);
    req_p.body_limit(kNoBodyLimit);
    client_.expires_after(sh_->idle_timeout);
    co_await http::async_read_header(client_, cbuf_, req_p, Await(ec));
    const std::string ref = sh_->NextRequestRef();
    if (ec) {
      if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
          ec == net::error::eof || ec == net::error::connection_reset || ec == http::error::partial_message) {
        co_return false;
      }
      co_await Reply(11, 400, "BadRequest", "malformed HTTP request: " + ec.message(), false, ref, -1);
      co_return false;
    }
    auto& req = req_p.get();
    const unsigned version = req.version();
    bool keep_alive = req.keep_alive();

    // POP and route.
    const auto pop_hdr = req.find("x-regionlab-pop");
    std::optional<std::string> pop_value;
    if (pop_hdr != req.end()) pop_value = std::string(pop_hdr->value());
    auto pop = sh_->model.PopFor(remote_, pop_value ? &*pop_value : nullptr);
    if (!pop.ok()) {
      const bool drained = co_await DrainBody(req_p);
      co_return co_await Reply(version, 400, "BadRequest", pop.status().message(), keep_alive && drained, ref, -1);
    }
    const int64_t routed_at = sh_->clock.NowMicros();
    RouteDecision route = sh_->model.Route(*pop);
    if (route.mode == RouteDecision::Mode::kNone) {
      const bool drained = co_await DrainBody(req_p);
      co_return co_await Reply(version, 503, "ServiceUnavailable", "no origin is enabled in the origin group",
                               keep_alive && drained, ref, *pop);
    }

    // Connect: the routed origin, else the fallbacks.
    const auto timeout = sh_->Scaled(sh_->model.settings().origin_timeout_ms);
    std::optional<beast::tcp_stream> origin_slot;
    std::vector<std::pair<std::string, std::string>> tries = {{route.origin, route.url}};
    tries.insert(tries.end(), route.fallbacks.begin(), route.fallbacks.end());
    std::string served, served_host, tried;
    for (const auto& [name, url] : tries) {
      auto hp = SplitOriginUrl(url);
      if (!hp.ok()) continue;
      tcp::resolver resolver(client_.get_executor());
      origin_slot.emplace(client_.get_executor());
      origin_slot->expires_after(timeout);
      auto eps = co_await resolver.async_resolve(hp->host, hp->port, Await(ec));
      if (!ec) co_await origin_slot->async_connect(eps, Await(ec));
      if (!ec) {
        served = name;
        served_host = hp->host.find(':') != std::string::npos ? "[" + hp->host + "]:" + hp->port
                                                              : hp->host + ":" + hp->port;
        break;
      }
      spdlog::debug("frontdoor {}: origin {} unreachable: {}", ref, name, ec.message());
      tried += (tried.empty() ? "" : ", ") + name;
      sh_->model.RecordServed(*pop, name, routed_at, 0);
      origin_slot.reset();
    }
    if (served.empty()) {
      const bool drained = co_await DrainBody(req_p);
      co_return co_await Reply(version, 503, "ServiceUnavailable", "no origin could be reached (tried " + tried + ")",
                               keep_alive && drained, ref, *pop);
    }
    beast::tcp_stream& origin = *origin_slot;

    // Forward the request header, then its body as it arrives.
    if (version >= 11 && beast::iequals(req[http::field::expect], "100-continue")) {
      req.erase(http::field::expect);
      http::response<http::empty_body> cont{http::status::continue_, version};
      client_.expires_after(sh_->idle_timeout);
      co_await http::async_write(client_, cont, Await(ec));
      if (ec) co_return false;
    }
    const std::string original_host(req[http::field::host]);
    StripHopByHop(req);
    const auto xff = req.find("x-forwarded-for");
    const std::string forwarded_for = xff != req.end() ? std::string(xff->value()) + ", " + ip_ : ip_;
    req.set("x-forwarded-for", forwarded_for);
    if (!original_host.empty()) req.set("x-forwarded-host", original_host);
    req.set("x-forwarded-proto", "http");
    req.set("x-azure-ref", ref);
    req.set("x-regionlab-pop", std::to_string(*pop));
    req.set(http::field::host, served_host);
    req.keep_alive(false);
    const bool is_head = req.method() == http::verb::head;
    {
      http::request_serializer<http::buffer_body> sr{req};
      origin.expires_after(timeout);
      co_await http::async_write_header(origin, sr, Await(ec));
      char* const piece = piece_.get();
      while (!ec) {
        if (!req_p.is_done()) {
          req.body().data = piece;
          req.body().size = kPiece;
          client_.expires_after(sh_->idle_timeout);
          // read_some: forward what has arrived, however little.
          co_await http::async_read_some(client_, cbuf_, req_p, Await(ec));
          if (ec == http::error::need_buffer) ec = {};
          if (ec) {  // the client went away mid-body
            sh_->model.RecordServed(*pop, served, routed_at, 0);
            co_return false;
          }
          req.body().size = kPiece - req.body().size;
          req.body().data = piece;
          req.body().more = !req_p.is_done();
          if (req.body().size == 0 && req.body().more) continue;  // only framing was parsed
        } else {
          req.body().data = nullptr;
          req.body().size = 0;
          req.body().more = false;
        }
        origin.expires_after(timeout);
        co_await http::async_write(origin, sr, Await(ec));
        if (ec == http::error::need_buffer) ec = {};
        if (sr.is_done()) break;
      }
    }
    if (ec) {
      // Writing to the origin failed: say so if its answer cannot come.
      spdlog::debug("frontdoor {}: sending to origin {} failed: {}", ref, served, ec.message());
      sh_->model.RecordServed(*pop, served, routed_at, 0);
      const bool drained = co_await DrainBody(req_p);
      co_return co_await Reply(version, 502, "BadGateway", "sending the request to origin " + served +
                               " failed: " + ec.message(), keep_alive && drained, ref, *pop, served);
    }

    // Read the response header (skipping interim 1xx answers).
    beast::flat_buffer obuf;
    obuf.reserve(kOriginReadBytes);
    std::optional<http::response_parser<http::buffer_body>> res_p;
    for (;;) {
      res_p.emplace();
      res_p->header_limit(kHeaderLimit);
      res_p->body_limit(kNoBodyLimit);
      if (is_head) res_p->skip(true);
      origin.expires_after(timeout);
      co_await http::async_read_header(origin, obuf, *res_p, Await(ec));
      if (ec) break;
      const unsigned code = res_p->get().result_int();
      if (code >= 200 || code == 101) break;
    }
    if (ec) {
      sh_->model.RecordServed(*pop, served, routed_at, 0);
      if (ec == beast::error::timeout) {
        co_return co_await Reply(version, 504, "GatewayTimeout", "origin " + served + " did not answer within " +
                                 std::to_string(sh_->model.settings().origin_timeout_ms) + " ms (Front-Door time)",
                                 keep_alive, ref, *pop, served);
      }
      co_return co_await Reply(version, 502, "BadGateway",
                               "origin " + served + " closed the connection without a response: " + ec.message(),
                               keep_alive, ref, *pop, served);
    }
    auto& res = res_p->get();
    const int status = static_cast<int>(res.result_int());
    StripHopByHop(res);
    res.set("x-regionlab-origin", served);
    res.set("x-regionlab-pop", std::to_string(*pop));
    res.set("x-azure-ref", ref);
    res.version(version);
    const bool bodyless = is_head || status == 204 || status == 304 || status < 200;
    if (!bodyless && !res.has_content_length() && !res.chunked()) {
      if (version >= 11) {
        res.chunked(true);
      } else {
        keep_alive = false;
      }
    } else if (!bodyless && version < 11 && res.chunked()) {
      res.chunked(false);  // an HTTP/1.0 client: the body ends when the connection does
      keep_alive = false;
    }
    res.keep_alive(keep_alive);
    sh_->model.RecordServed(*pop, served, routed_at, status);

    http::response_serializer<http::buffer_body> sr{res};
    client_.expires_after(sh_->idle_timeout);
    co_await http::async_write_header(client_, sr, Await(ec));
    if (ec) co_return false;
    if (bodyless) {
      co_return keep_alive;
    }
    char* const piece = piece_.get();
    for (;;) {
      if (!res_p->is_done()) {
        res.body().data = piece;
        res.body().size = kPiece;
        origin.expires_after(timeout);
        co_await http::async_read_some(origin, obuf, *res_p, Await(ec));
        if (ec == http::error::need_buffer) ec = {};
        if (ec) {
          // The origin failed mid-response: the client's response cannot be
          // completed, so its connection ends here.
          spdlog::debug("frontdoor {}: origin {} failed mid-response: {}", ref, served, ec.message());
          co_return false;
        }
        res.body().size = kPiece - res.body().size;
        res.body().data = piece;
        res.body().more = !res_p->is_done();
        if (res.body().size == 0 && res.body().more) continue;  // only framing was parsed
      } else {
        res.body().data = nullptr;
        res.body().size = 0;
        res.body().more = false;
      }
      client_.expires_after(sh_->idle_timeout);
      co_await http::async_write(client_, sr, Await(ec));
      if (ec == http::error::need_buffer) ec = {};
      if (ec) co_return false;
      if (sr.is_done()) break;
    }
    co_return keep_alive;
  }

  beast::tcp_stream client_;
  std::shared_ptr<Shared> sh_;
  beast::flat_buffer cbuf_;
  std::unique_ptr<char[]> piece_{new char[kPiece]};  // one body piece in flight
  std::string ip_, remote_;
};

}  // namespace

net::awaitable<void> ServeClient(tcp::socket socket, std::shared_ptr<Shared> shared) {
  Session s(std::move(socket), std::move(shared));
  co_await s.Run();
}

}  // namespace regionlab::frontdoor::internal
