#include "frontdoor/events.h"

#include <algorithm>

namespace regionlab::frontdoor {

const char* EventTypeName(Event::Type t) {
  switch (t) {
    case Event::Type::kProbe:
      return "probe";
    case Event::Type::kHealth:
      return "health";
    case Event::Type::kRouting:
      return "routing";
    case Event::Type::kOrigin:
      return "origin";
  }
  return "unknown";
}

void EventLog::Add(Event e) {
  e.seq = next_seq_++;
  events_.push_back(std::move(e));
  while (events_.size() > capacity_) events_.pop_front();
}

std::vector<Event> EventLog::Since(uint64_t since, size_t limit) const {
  std::vector<Event> out;
  // Sequence numbers are consecutive: index of seq s is s - front.seq.
  if (events_.empty()) return out;
  const uint64_t first = events_.front().seq;
  size_t i = since < first ? 0 : static_cast<size_t>(since - first + 1);
  for (; i < events_.size() && out.size() < limit; ++i) out.push_back(events_[i]);
  return out;
}

Failover* FailoverTracker::Open(const std::string& origin) {
  for (auto it = history_.rbegin(); it != history_.rend(); ++it) {
    if (it->origin == origin && !it->recovered) return &*it;
  }
  return nullptr;
}

void FailoverTracker::OnUnhealthy(const std::string& origin, int pop, Moment at, Moment run_start,
                                  int pops_total) {
  Failover* f = Open(origin);
  if (f == nullptr) {
    history_.emplace_back();
    while (history_.size() > 16) history_.pop_front();
    f = &history_.back();
    f->origin = origin;
    f->first_failed_probe = run_start;
    f->first_failed_pop = pop;
    down_.erase(std::remove_if(down_.begin(), down_.end(), [&](const auto& d) { return d.first == origin; }),
                down_.end());
    down_.emplace_back(origin, std::vector<int>{});
    for (const Served& r : recent_) {
      if (r.origin == origin && r.at.wall_us >= run_start.wall_us) CountServed(*f, r);
    }
  } else if (run_start.wall_us < f->first_failed_probe.wall_us) {
    f->first_failed_probe = run_start;
    f->first_failed_pop = pop;
  }
  f->pops_total = pops_total;
  bool already = false;
  for (const auto& m : f->marked) already |= m.pop == pop;
  if (!already) f->marked.push_back({pop, at});
  for (auto& [name, pops] : down_) {
    if (name == origin && std::find(pops.begin(), pops.end(), pop) == pops.end()) pops.push_back(pop);
  }
}

void FailoverTracker::OnHealthy(const std::string& origin, int pop, Moment at) {
  Failover* f = Open(origin);
  if (f == nullptr) return;
  for (auto it = down_.begin(); it != down_.end(); ++it) {
    if (it->first != origin) continue;
    it->second.erase(std::remove(it->second.begin(), it->second.end(), pop), it->second.end());
    if (it->second.empty()) {
      f->recovered = at;
      down_.erase(it);
    }
    return;
  }
}

void FailoverTracker::CountServed(Failover& f, const Served& s) {
  if (s.origin == f.origin) {
    if (s.at.wall_us < f.first_failed_probe.wall_us) return;
    if (!f.last_request_to_old || f.last_request_to_old->wall_us <= s.at.wall_us) {
      f.last_request_to_old = s.at;
      f.last_request_to_old_pop = s.pop;
    }
    ++f.requests_to_old;
    if (s.status == 0 || s.status >= 500) ++f.failed_requests_to_old;
  } else if (!f.marked.empty() && s.at.wall_us >= f.marked.front().at.wall_us &&
             (!f.first_request_to_new || s.at.wall_us < f.first_request_to_new->wall_us)) {
    f.first_request_to_new = s.at;
    f.new_origin = s.origin;
    f.first_request_to_new_pop = s.pop;
  }
}

void FailoverTracker::OnServed(const std::string& origin, int pop, Moment at, int status) {
  Served s{origin, pop, at, status};
  for (Failover& f : history_) {
    if (f.recovered && f.recovered->wall_us <= at.wall_us) continue;
    CountServed(f, s);
  }
  recent_.push_back(std::move(s));
  while (recent_.size() > kRecent) recent_.pop_front();
}

}  // namespace regionlab::frontdoor
