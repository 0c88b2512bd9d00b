// EventHub: the server-sent-events stream of the console (GET /events on the
// admin port, format in docs/console.md). Producers Publish() events; every
// subscriber is an HttpResponse::stream that the admin listener drains at the
// client's pace.
//
// Reconnects: every event has an increasing id and the last `history` events
// are kept. A subscriber that sends Last-Event-ID N gets the kept events after
// N; one without it, or whose N is no longer (or was never) kept, gets a
// `reset` event and then every kept event, so it can start its charts afresh.
//
// Slow clients: each subscriber has a queue bounded by `max_queue_bytes`.
// Publish never waits for a client; a client whose queue would overflow is
// dropped (its stream ends and the connection closes; EventSource clients
// reconnect with Last-Event-ID). `max_clients` bounds the subscribers; one
// more is refused.
//
// Thread-safe; no Beast or JSON here (events carry their data as text).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/http_types.h"

namespace regionlab::console {

struct EventHubOptions {
  // Events kept for reconnecting clients. Default: 360 (six minutes of
  // one-second metrics snapshots plus state changes).
  size_t history = 360;
  // Bytes queued for one client at most before it is dropped. Default: 8 MiB
  // (a full history is well under that).
  size_t max_queue_bytes = 8 << 20;
  // Subscribers at most. Default: 64.
  size_t max_clients = 64;
  // Sent once to every new subscriber: how long EventSource waits before it
  // reconnects. Default: 1000 ms.
  int retry_ms = 1000;
};

class EventHub {
 public:
  explicit EventHub(EventHubOptions options = {});
  ~EventHub();  // ends every stream

  // One event in the text/event-stream format: "id: N\nevent: TYPE\n" and
  // one "data: " line per line of `data`, then an empty line.
  static std::string Format(uint64_t id, std::string_view type, std::string_view data);

  // Sends an event to every subscriber; returns its id (1, 2, ...).
  uint64_t Publish(std::string_view type, std::string_view data);

  // A new subscriber (see the file comment for `last_event_id`); null when
  // there are max_clients already.
  std::shared_ptr<server::BodyStream> Subscribe(std::optional<uint64_t> last_event_id);

  // Ends every stream (at shutdown); later subscribers are refused.
  void CloseAll();

  size_t clients() const;
  uint64_t dropped() const;  // clients dropped for being too slow
  uint64_t last_id() const;

  class Client;  // a subscriber (event_hub.cc)

 private:
  void Remove(const Client* c);

  const EventHubOptions options_;
  mutable std::mutex mu_;
  bool closed_ = false;                        // guarded by mu_
  uint64_t next_id_ = 1;                       // guarded by mu_
  uint64_t dropped_ = 0;                       // guarded by mu_
  std::deque<std::pair<uint64_t, std::string>> history_;  // formatted events; guarded by mu_
  std::vector<std::shared_ptr<Client>> clients_;          // guarded by mu_
};

}  // namespace regionlab::console
