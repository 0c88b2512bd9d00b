// The Front Door's memory of what happened: an event log (every probe result,
// health change, routing change and origin change, with wall-clock and
// Front-Door times) and the failover tracker (the timeline of the last
// failover). Plain data structures, driven by HealthModel under its lock; not
// thread-safe on their own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace regionlab::frontdoor {

struct Event {
  enum class Type { kProbe, kHealth, kRouting, kOrigin };
  uint64_t seq = 0;       // 1, 2, ... in order of recording
  int64_t wall_us = 0;    // wall clock, microseconds since the Unix epoch
  int64_t fd_us = 0;      // Front-Door clock, microseconds since start
  Type type = Type::kProbe;
  int pop = -1;           // -1: not about one POP (kOrigin)
  std::string origin;     // kProbe, kHealth, kOrigin
  // kProbe: the probe's outcome.
  bool ok = false;
  int http_status = 0;    // 0: no HTTP response (refused, timeout, ...)
  int64_t latency_us = 0; // wall-clock round trip
  std::string detail;     // kProbe: error text; kOrigin: what changed
  // kHealth: the new verdict and the window that produced it ("1101", newest last).
  bool healthy = false;
  std::string window;
  // kRouting: the POP's candidate origins before and after, and the mode.
  std::vector<std::string> from, to;
  std::string mode;       // "normal", "allUnhealthy", "none"
};

const char* EventTypeName(Event::Type t);

// A bounded log: the newest `capacity` events are kept.
class EventLog {
 public:
  explicit EventLog(size_t capacity = 20'000) : capacity_(capacity) {}
  // Assigns the next sequence number and appends.
  void Add(Event e);
  // Events with seq > since, oldest first, at most `limit`.
  std::vector<Event> Since(uint64_t since, size_t limit) const;
  uint64_t last_seq() const { return next_seq_ - 1; }

 private:
  size_t capacity_;
  uint64_t next_seq_ = 1;
  std::deque<Event> events_;
};

// A moment of a failover, in both clocks.
struct Moment {
  int64_t wall_us = 0;
  int64_t fd_us = 0;
};

// One failover: an origin that POPs marked unhealthy, and what traffic did.
struct Failover {
  std::string origin;                     // the origin that failed
  int first_failed_pop = -1;
  Moment first_failed_probe;              // start of the earliest probe of the failure
  struct Mark {
    int pop = 0;
    Moment at;
  };
  std::vector<Mark> marked;               // each POP marking it unhealthy, in order
  int pops_total = 0;                     // POPs that probe it
  std::optional<Moment> last_request_to_old;  // at or after first_failed_probe
  int last_request_to_old_pop = -1;
  std::optional<Moment> first_request_to_new;  // to another origin, after the first mark
  std::string new_origin;
  int first_request_to_new_pop = -1;
  uint64_t requests_to_old = 0;           // since first_failed_probe
  uint64_t failed_requests_to_old = 0;    // of those: 5xx, or no response
  std::optional<Moment> recovered;        // healthy again at every POP that marked it
};

// Builds Failover records from health changes and served requests.
class FailoverTracker {
 public:
  // POP `pop` marked `origin` unhealthy at `at`; the failure run it saw began
  // with a probe started at `run_start`. `pops_total`: POPs probing it.
  void OnUnhealthy(const std::string& origin, int pop, Moment at, Moment run_start, int pops_total);
  // POP `pop` marked `origin` healthy again.
  void OnHealthy(const std::string& origin, int pop, Moment at);
  // A request was sent to `origin` through `pop`; `status` 0 = no response.
  void OnServed(const std::string& origin, int pop, Moment at, int status);

  // The most recent failover, if any.
  const Failover* last() const { return history_.empty() ? nullptr : &history_.back(); }
  const std::deque<Failover>& history() const { return history_; }

 private:
  Failover* Open(const std::string& origin);  // the unrecovered record of origin, or null
  struct Served {
    std::string origin;
    int pop = 0;
    Moment at;
    int status = 0;
  };
  void CountServed(Failover& f, const Served& s);
  std::deque<Failover> history_;  // at most 16
  // The latest requests, so that a failover opened when a POP marks an origin
  // unhealthy also counts the requests sent to it since its first failed probe.
  std::deque<Served> recent_;     // at most kRecent
  static constexpr size_t kRecent = 65'536;
  // POPs currently holding each open record's origin unhealthy.
  std::vector<std::pair<std::string, std::vector<int>>> down_;
};

}  // namespace regionlab::frontdoor
