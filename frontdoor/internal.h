// Private to frontdoor/: what the proxy sessions and the probers share, and
// their coroutines. Beast and Asio live here, not in front_door.h.
#pragma once

#include <utility>  // before Asio: boost/asio/awaitable.hpp (1.74) uses std::exchange

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <string>

#include "base/clock.h"
#include "frontdoor/health.h"

namespace regionlab::frontdoor::internal {

struct Shared {
  Shared(HealthModel& m, const Clock& c, boost::asio::io_context& i) : model(m), clock(c), io(i) {}
  HealthModel& model;
  const Clock& clock;
  boost::asio::io_context& io;
  std::chrono::seconds idle_timeout{300};
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> request_counter{0};

  // Wall-clock duration of a Front-Door duration in milliseconds (at least 1 ms).
  std::chrono::microseconds Scaled(int64_t fd_ms) const {
    const int64_t us = model.time().ToWall(fd_ms * 1000);
    return std::chrono::microseconds(us < 1000 ? 1000 : us);
  }
  // A new x-azure-ref value: "<UTC time>-<16 hex>".
  std::string NextRequestRef();
};

// Serves one client connection until it closes (proxy.cc).
boost::asio::awaitable<void> ServeClient(boost::asio::ip::tcp::socket socket, std::shared_ptr<Shared> shared);

// Sends the probes of every POP round until the io_context stops (prober.cc).
boost::asio::awaitable<void> RunProbers(std::shared_ptr<Shared> shared);

}  // namespace regionlab::frontdoor::internal
