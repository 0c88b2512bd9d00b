#include "frontdoor/front_door.h"

#include <spdlog/spdlog.h>

#include "frontdoor/internal.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <thread>

namespace regionlab::frontdoor {

namespace net = boost::asio;
using tcp = net::ip::tcp;

struct FrontDoor::Impl {
  net::io_context io;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work{io.get_executor()};
  tcp::acceptor acceptor{io};
  std::shared_ptr<internal::Shared> shared;
  std::vector<std::thread> threads;
  std::mutex stop_mu;
  bool stopped = false;
};

namespace {

net::awaitable<void> AcceptLoop(tcp::acceptor& acceptor, std::shared_ptr<internal::Shared> sh) {
  for (;;) {
    boost::beast::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(net::make_strand(sh->io),
                                                        net::redirect_error(net::use_awaitable, ec));
    if (sh->stopping.load() || ec == net::error::operation_aborted) co_return;
    if (ec) {
      spdlog::warn("frontdoor accept failed: {}", ec.message());
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto ex = socket.get_executor();
    net::co_spawn(ex, internal::ServeClient(std::move(socket), sh), net::detached);
  }
}

}  // namespace

Result<std::unique_ptr<FrontDoor>> FrontDoor::Start(FrontDoorOptions options, const Clock& clock) {
  auto model = HealthModel::Create(options.settings, options.origins, clock);
  if (!model.ok()) return model.status();
  auto impl = std::make_unique<Impl>();
  boost::beast::error_code ec;
  const std::string where = options.host + ":" + std::to_string(options.port);
  const auto addr = net::ip::make_address(options.host, ec);
  if (ec) return Status::BadRequest("cannot listen on " + where + ": not an IP address");
  const tcp::endpoint ep(addr, options.port);
  auto fail = [&](const char* what) {
    return Status::Unavailable("cannot listen on " + where + ": " + what + ": " + ec.message());
  };
  impl->acceptor.open(ep.protocol(), ec);
  if (ec) return fail("open");
  impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  impl->acceptor.bind(ep, ec);
  if (ec) return fail("bind");
  impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  const uint16_t port = impl->acceptor.local_endpoint(ec).port();
  if (ec) return fail("local_endpoint");

  impl->shared = std::make_shared<internal::Shared>(**model, clock, impl->io);
  impl->shared->idle_timeout = std::chrono::seconds(std::max(1, options.idle_timeout_seconds));
  net::co_spawn(impl->io, AcceptLoop(impl->acceptor, impl->shared), net::detached);
  net::co_spawn(net::make_strand(impl->io), internal::RunProbers(impl->shared), net::detached);
  const int threads = std::max(1, options.threads);
  for (int i = 0; i < threads; ++i) {
    impl->threads.emplace_back([io = &impl->io] {
      for (;;) {
        try {
          io->run();
          return;
        } catch (const std::exception& e) {  // a coroutine that threw: log and keep serving
          spdlog::error("frontdoor io thread: {}", e.what());
        }
      }
    });
  }
  spdlog::info("frontdoor listening on {}:{} ({} origins, {} POPs, time scale {})", options.host, port,
               options.origins.size(), options.settings.pops, options.settings.time_scale);
  return std::unique_ptr<FrontDoor>(new FrontDoor(std::move(*model), std::move(impl), port));
}

FrontDoor::FrontDoor(std::unique_ptr<HealthModel> model, std::unique_ptr<Impl> impl, uint16_t port)
    : model_(std::move(model)), impl_(std::move(impl)), port_(port) {}

FrontDoor::~FrontDoor() { Stop(); }

void FrontDoor::Stop() {
  std::lock_guard<std::mutex> lock(impl_->stop_mu);
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->shared->stopping.store(true);
  net::post(impl_->io, [this] {
    boost::beast::error_code ec;
    impl_->acceptor.close(ec);
  });
  impl_->work.reset();
  impl_->io.stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
}

}  // namespace regionlab::frontdoor
