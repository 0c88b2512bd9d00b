// Console: the web console on the admin port (docs/console.md).
//
//   GET /, GET /console/assets/NAME   the page and its files, embedded in the
//                                     binary at build time (console/assets.h);
//                                     served without authentication: they hold
//                                     no secret, and everything the page does
//                                     goes through the authenticated routes
//   GET /events                       server-sent events (console/event_hub.h):
//                                     a `metrics` snapshot every second
//                                     (regions, links, operations per second)
//                                     and a `state` event whenever regions,
//                                     faults or the scenario change
//   /console/api/regions/{r}/PATH     the page's data-plane requests, forwarded
//                                     to region r's endpoint and signed with the
//                                     account key by the server (the page never
//                                     holds the key)
//
// Every control of the page calls the management API itself; nothing here
// changes the cluster.
//
// Threads: the Console owns two small io_contexts with their own threads: one
// runs the sampler, the other the forwarded requests (the admin listener
// offloads those there, see workers()), so a slow forward never delays a
// snapshot. ServePublic/ServeAuthenticated/AfterRequest are
// thread-safe. Start, then Stop before the regions are torn down.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "console/event_hub.h"
#include "server/http_types.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace regionlab::admin {
struct AdminContext;
}  // namespace regionlab::admin

namespace regionlab::console {

struct ConsoleOptions {
  // Period of the metrics snapshots. Default: 1 s.
  std::chrono::milliseconds interval{1000};
  // Threads for the forwarded data-plane requests (the sampler has its own).
  // Default: 2.
  int threads = 2;
  // Upper bound on one forwarded data-plane request. Default: 15 s.
  std::chrono::milliseconds forward_timeout{15000};
  // The CA (PEM file) that https region endpoints chain to (`--tls`).
  // Empty: the system's trust store.
  std::string ca_file;
  EventHubOptions hub;
};

class Console {
 public:
  // `admin` is not owned and must outlive the Console.
  Console(admin::AdminContext& admin, ConsoleOptions options = {});
  ~Console();  // stops

  void Start();
  // Stops the sampler, ends every event stream, joins the threads. Idempotent.
  void Stop();

  // The page and its assets; nullopt: not one of them.
  std::optional<server::HttpResponse> ServePublic(const server::HttpRequest& request) const;
  // GET /events and /console/api/...; call after authentication. nullopt:
  // not a console route.
  std::optional<server::HttpResponse> ServeAuthenticated(server::HttpRequest& request);
  // Called with every answered management request: a successful change
  // publishes the new state at once instead of at the next tick.
  void AfterRequest(const server::HttpRequest& request, const server::HttpResponse& response);

  // Requests the admin listener should run on workers() (the forwards).
  static bool IsSlow(const server::HttpRequest& request);
  boost::asio::io_context& workers();

  EventHub& hub();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace regionlab::console
