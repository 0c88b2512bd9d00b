// The probers: one coroutine schedules every POP's rounds from the model
// (HealthModel::TakeDueProbes); each probe runs as its own coroutine on its
// own strand, with a new connection, as Azure's probes do.
#include "frontdoor/internal.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace regionlab::frontdoor::internal {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

net::awaitable<ProbeOutcome> SendProbe(std::shared_ptr<Shared> sh, const ProbeTask& task) {
  const Settings& s = sh->model.settings();
  ProbeOutcome out;
  auto hp = SplitOriginUrl(task.url);
  if (!hp.ok()) {
    out.error = hp.status().message();
    co_return out;
  }
  const int64_t start = MonotonicMicros();
  auto ex = co_await net::this_coro::executor;
  beast::tcp_stream stream(ex);
  // One deadline for the whole exchange: resolving, connecting, writing, reading.
  stream.expires_after(sh->Scaled(s.EffectiveProbeTimeoutMs()));
  beast::error_code ec;
  tcp::resolver resolver(ex);
  auto endpoints = co_await resolver.async_resolve(hp->host, hp->port, net::redirect_error(net::use_awaitable, ec));
  if (!ec) co_await stream.async_connect(endpoints, net::redirect_error(net::use_awaitable, ec));
  http::request<http::empty_body> req;
  if (!ec) {
    req.method(s.probe_method == "GET" ? http::verb::get : http::verb::head);
    req.target(s.probe_path);
    req.version(11);
    req.set(http::field::host, hp->host.find(':') != std::string::npos ? "[" + hp->host + "]:" + hp->port
                                                                        : hp->host + ":" + hp->port);
    req.set(http::field::user_agent, "Edge Health Probe");
    req.keep_alive(false);
    co_await http::async_write(stream, req, net::redirect_error(net::use_awaitable, ec));
  }
  if (!ec) {
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    if (req.method() == http::verb::head) parser.skip(true);
    co_await http::async_read(stream, buf, parser, net::redirect_error(net::use_awaitable, ec));
    if (!ec || (parser.is_header_done() && ec == http::error::body_limit)) {
      out.http_status = static_cast<int>(parser.get().result_int());
      out.ok = out.http_status == 200;
      if (!out.ok) out.error = "HTTP " + std::to_string(out.http_status);
      ec = {};
    }
  }
  out.latency_us = MonotonicMicros() - start;
  if (ec) {
    out.error = ec == beast::error::timeout ? "timeout" : ec.message();
    out.ok = false;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  co_return out;
}

net::awaitable<void> ProbeOne(std::shared_ptr<Shared> sh, ProbeTask task) {
  ProbeOutcome out = co_await SendProbe(sh, task);
  if (sh->stopping.load()) co_return;
  spdlog::debug("frontdoor probe pop {} {}: {} {} {} us {}", task.pop, task.origin, out.ok ? "ok" : "FAILED",
                out.http_status, out.latency_us, out.error);
  sh->model.RecordProbe(task, out);
}

}  // namespace

net::awaitable<void> RunProbers(std::shared_ptr<Shared> sh) {
  auto ex = co_await net::this_coro::executor;
  net::steady_timer timer(ex);
  while (!sh->stopping.load()) {
    for (ProbeTask& t : sh->model.TakeDueProbes()) {
      net::co_spawn(net::make_strand(sh->io), ProbeOne(sh, std::move(t)), net::detached);
    }
    // Wall-clock based schedule; wake at least every 100 ms so that a clock
    // step or a re-enabled origin never waits long.
    const int64_t wait_us =
        std::clamp<int64_t>(sh->model.NextProbeWallMicros() - sh->clock.NowMicros(), 0, 100'000);
    timer.expires_after(std::chrono::microseconds(wait_us));
    beast::error_code ec;
    co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
}

}  // namespace regionlab::frontdoor::internal
