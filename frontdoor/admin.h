// The Front Door's admin routes as a plain function from request to reply, so
// that any HTTP server can serve them (the CLI serves them on --admin-port):
//
//   GET /frontdoor                  settings, what they promise, origins with
//                                   counters and each POP's window and verdict,
//                                   each POP's routing decision, last failover
//   GET /frontdoor/events[?since=SEQ][&limit=N][&type=probe,health,routing,origin]
//   GET /frontdoor/failover         the last failover's timeline and the bound
//   PUT /frontdoor/origins/{name}   {"enabled":false,"priority":2,"weight":100}
//   GET /metrics, GET /frontdoor/metrics   Prometheus text
//   GET /health                     200
//
// Shapes: docs/frontdoor.md. Thread-safe (the model is).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "frontdoor/health.h"

namespace regionlab::frontdoor {

struct AdminReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// The reply for one of the routes above, or nullopt for any other path.
// Bad input is a 400 with {"code","message"} and changes nothing.
std::optional<AdminReply> HandleAdmin(HealthModel& model, std::string_view method, std::string_view path,
                                      std::string_view query, std::string_view body);

// The JSON documents behind GET /frontdoor and GET /frontdoor/failover.
std::string StateJson(const ModelSnapshot& snap);
std::string FailoverJson(const ModelSnapshot& snap);
std::string MetricsText(const ModelSnapshot& snap);

}  // namespace regionlab::frontdoor
