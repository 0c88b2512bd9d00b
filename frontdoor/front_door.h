// FrontDoor: the running emulator. It owns an io_context and its threads, the
// reverse proxy's listener, the probers of every POP and the HealthModel they
// share (docs/frontdoor.md).
//
//  - Proxy: HTTP/1.1 on its own port. Each request is served by one POP
//    (`x-regionlab-pop: N`, else a hash of the client's address), routed by
//    the model, and forwarded with its method, target, headers and body
//    (streamed, not buffered) plus `x-forwarded-for`, `x-forwarded-host`,
//    `x-forwarded-proto` and an `x-azure-ref` request id; the origin's
//    response comes back streamed with `x-regionlab-origin: NAME`,
//    `x-regionlab-pop` and `x-azure-ref`. Keep-alive with the client; one new
//    origin connection per request. An origin that cannot be connected to is
//    skipped for the next candidate; none reachable = 503. No response header
//    within the origin timeout = 504; an origin that closes before its
//    response header = 502; one that fails in the middle of its body = the
//    client's connection is closed (its response is cut short).
//  - Probers: every POP round, one probe per enabled origin: a new
//    connection, `probe_method probe_path` with `User-Agent: Edge Health
//    Probe`; success = 200 within the probe timeout.
//
// Threads: Start() runs the io_context on `threads` threads; every connection
// and probe runs as a coroutine on its own strand. Stop() (or the destructor)
// closes the listener, stops the io_context and joins the threads; requests
// in flight are cut. Thread-safe.
//
// Beast and Asio stay out of this header.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "frontdoor/health.h"
#include "frontdoor/settings.h"

namespace regionlab::frontdoor {

struct FrontDoorOptions {
  Settings settings;
  std::vector<OriginConfig> origins;
  // Where the proxy listens (port 0: pick a free port). Default 127.0.0.1:0.
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  // io_context threads. Default 2.
  int threads = 2;
  // A client connection idle this long between requests is closed (wall
  // seconds, not scaled). Default 300.
  int idle_timeout_seconds = 300;
};

class FrontDoor {
 public:
  // Validates the options, binds the listener and starts the threads.
  // `clock` (the wall clock; SystemClock in production) must outlive the
  // FrontDoor. BadRequest for bad settings or origins; Unavailable when the
  // port cannot be bound.
  static Result<std::unique_ptr<FrontDoor>> Start(FrontDoorOptions options, const Clock& clock);

  ~FrontDoor();
  FrontDoor(const FrontDoor&) = delete;
  FrontDoor& operator=(const FrontDoor&) = delete;

  uint16_t port() const { return port_; }
  HealthModel& model() { return *model_; }

  void Stop();

 private:
  struct Impl;
  FrontDoor(std::unique_ptr<HealthModel> model, std::unique_ptr<Impl> impl, uint16_t port);

  std::unique_ptr<HealthModel> model_;
  std::unique_ptr<Impl> impl_;
  uint16_t port_;
};

}  // namespace regionlab::frontdoor
