// The Front Door health model on a fake clock: samples and thresholds,
// priorities, the latency band, weights, every origin unhealthy, re-enabling,
// POP phases, time scale, and the failover timeline.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "frontdoor/health.h"
#include "frontdoor/settings.h"
#include "tests/support/fake_clock.h"

namespace regionlab::frontdoor {
namespace {

using testing::FakeClock;

OriginConfig Origin(std::string name, int priority = 1, int weight = 50, bool enabled = true) {
  OriginConfig o;
  o.name = name;
  o.url = "http://127.0.0.1:1/";
  o.priority = priority;
  o.weight = weight;
  o.enabled = enabled;
  return o;
}

struct Result_ {
  bool ok = true;
  int64_t latency_ms = 1;
};

class Harness {
 public:
  explicit Harness(Settings s, std::vector<OriginConfig> origins) {
    auto m = HealthModel::Create(s, std::move(origins), clock);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    model = std::move(*m);
  }
  // Advances the clock to the next POP round and answers its probes: origins
  // not in `results` succeed with 1 ms. Returns the POPs that probed.
  std::vector<int> Round(const std::map<std::string, Result_>& results = {}) {
    clock.SetMicros(std::max(clock.NowMicros(), model->NextProbeWallMicros()));
    std::vector<int> pops;
    for (const ProbeTask& t : model->TakeDueProbes()) {
      if (pops.empty() || pops.back() != t.pop) pops.push_back(t.pop);
      Result_ r;
      if (auto it = results.find(t.origin); it != results.end()) r = it->second;
      ProbeOutcome o;
      o.ok = r.ok;
      o.http_status = r.ok ? 200 : 503;
      o.latency_us = r.latency_ms * 1000;
      model->RecordProbe(t, o);
    }
    return pops;
  }
  bool Healthy(const std::string& origin, int pop = 0) {
    for (const auto& o : model->Snapshot().origins) {
      if (o.config.name == origin) return o.pops[pop].healthy;
    }
    ADD_FAILURE() << "no origin " << origin;
    return false;
  }
  std::map<std::string, int> Spread(int n, int pop = 0) {
    std::map<std::string, int> m;
    for (int i = 0; i < n; ++i) ++m[model->Route(pop).origin];
    return m;
  }
  FakeClock clock;
  std::unique_ptr<HealthModel> model;
};

TEST(FrontDoorSettings, ParsesOriginSpecs) {
  auto o = ParseOriginSpec("uk=http://127.0.0.1:8081,priority=2,weight=700,enabled=false");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->name, "uk");
  EXPECT_EQ(o->url, "http://127.0.0.1:8081");
  EXPECT_EQ(o->priority, 2);
  EXPECT_EQ(o->weight, 700);
  EXPECT_FALSE(o->enabled);
  auto d = ParseOriginSpec("we=http://localhost:8082/");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->priority, 1);
  EXPECT_EQ(d->weight, 50);
  EXPECT_TRUE(d->enabled);
  for (const char* bad : {"noequals", "=http://a:1", "a=https://x:1", "a=http://x:1/path", "a=http://x:1,priority=0",
                          "a=http://x:1,weight=1001", "a=http://x:1,enabled=maybe", "a=http://x:1,colour=red",
                          "a b=http://x:1"}) {
    EXPECT_FALSE(ParseOriginSpec(bad).ok()) << bad;
  }
}

TEST(FrontDoorSettings, ValidatesAndComputesThePromise) {
  Settings s;  // 30 s, 4, 3
  EXPECT_TRUE(s.Validate().ok());
  FailoverPromise p = ComputePromise(s);
  EXPECT_EQ(p.failures_needed, 2);
  EXPECT_EQ(p.best_case_ms, 30'000);
  EXPECT_EQ(p.worst_case_ms, 90'000);  // 2 x 30 s + a 30 s probe timeout
  EXPECT_EQ(p.pop_spread_ms, 0);
  s.pops = 4;
  s.probe_timeout_ms = 5'000;
  p = ComputePromise(s);
  EXPECT_EQ(p.worst_case_ms, 65'000);
  EXPECT_EQ(p.pop_spread_ms, 35'000);
  s.successful_samples_required = 5;
  EXPECT_FALSE(s.Validate().ok());
  s.successful_samples_required = 3;
  s.probe_method = "POST";
  EXPECT_FALSE(s.Validate().ok());
  s.probe_method = "GET";
  s.time_scale = 0;
  EXPECT_FALSE(s.Validate().ok());
}

TEST(FrontDoorHealth, RejectsDuplicateOriginsAndEmptyGroups) {
  FakeClock clock;
  EXPECT_FALSE(HealthModel::Create(Settings{}, {}, clock).ok());
  EXPECT_FALSE(HealthModel::Create(Settings{}, {Origin("a"), Origin("a")}, clock).ok());
}

TEST(FrontDoorHealth, HealthyWhileEnoughOfTheLastSamplesSucceed) {
  Harness h(Settings{}, {Origin("a"), Origin("b", 2)});
  h.Round();
  h.Round();
  h.Round();
  h.Round();
  EXPECT_TRUE(h.Healthy("a"));
  h.Round({{"a", {false}}});  // window 1110: 3 of 4
  EXPECT_TRUE(h.Healthy("a"));
  EXPECT_EQ(h.model->Route(0).origin, "a");
  h.Round({{"a", {false}}});  // 1100: 2 of 4
  EXPECT_FALSE(h.Healthy("a"));
  EXPECT_EQ(h.model->Route(0).origin, "b");
  h.Round();  // 1001
  h.Round();  // 0011
  EXPECT_FALSE(h.Healthy("a"));
  h.Round();  // 0111
  EXPECT_TRUE(h.Healthy("a"));
  EXPECT_EQ(h.model->Route(0).origin, "a");
  // The event log saw both changes and the routing changes.
  int health = 0, routing = 0;
  for (const Event& e : h.model->Events(0, 1000)) {
    health += e.type == Event::Type::kHealth;
    routing += e.type == Event::Type::kRouting;
  }
  EXPECT_EQ(health, 2);
  EXPECT_EQ(routing, 2);
}

TEST(FrontDoorHealth, LowestPriorityValueWinsAmongHealthy) {
  Harness h(Settings{}, {Origin("p2", 2), Origin("p1", 1), Origin("p3", 3)});
  EXPECT_EQ(h.Spread(10), (std::map<std::string, int>{{"p1", 10}}));
  for (int i = 0; i < 2; ++i) h.Round({{"p1", {false}}});
  EXPECT_EQ(h.Spread(10), (std::map<std::string, int>{{"p2", 10}}));
  for (int i = 0; i < 2; ++i) h.Round({{"p1", {false}}, {"p2", {false}}});
  EXPECT_EQ(h.Spread(10), (std::map<std::string, int>{{"p3", 10}}));
  RouteDecision d = h.model->Route(0);
  EXPECT_EQ(d.mode, RouteDecision::Mode::kNormal);
}

TEST(FrontDoorHealth, EveryOriginUnhealthyRoutesRoundRobinToAllEnabled) {
  Harness h(Settings{}, {Origin("a", 1, 900), Origin("b", 2, 100), Origin("off", 1, 50, false)});
  for (int i = 0; i < 2; ++i) h.Round({{"a", {false}}, {"b", {false}}});
  RouteDecision d = h.model->Route(0);
  EXPECT_EQ(d.mode, RouteDecision::Mode::kAllUnhealthy);
  EXPECT_EQ(d.origin, "a");
  // Round robin, weights and priorities aside; never the disabled origin.
  EXPECT_EQ(h.Spread(8), (std::map<std::string, int>{{"a", 4}, {"b", 4}}));
}

TEST(FrontDoorHealth, NoEnabledOriginRoutesNowhere) {
  Harness h(Settings{}, {Origin("a")});
  ASSERT_TRUE(h.model->UpdateOrigin("a", {.enabled = false}).ok());
  RouteDecision d = h.model->Route(0);
  EXPECT_EQ(d.mode, RouteDecision::Mode::kNone);
  EXPECT_TRUE(d.origin.empty());
  EXPECT_TRUE(h.model->TakeDueProbes().empty());
}

TEST(FrontDoorHealth, LatencyBandKeepsOriginsWithinAdditionalLatencyOfTheFastest) {
  Settings s;
  s.additional_latency_ms = 30;
  // The example of Azure's routing-methods page: 15, 30 and 60 ms with a 30 ms band.
  Harness h(s, {Origin("A"), Origin("B"), Origin("D"), Origin("F", 2)});
  h.Round({{"A", {true, 15}}, {"B", {true, 30}}, {"D", {true, 60}}, {"F", {true, 1}}});
  auto spread = h.Spread(100);
  EXPECT_EQ(spread.count("D"), 0u);
  EXPECT_EQ(spread.count("F"), 0u);  // faster, but priority 2
  EXPECT_EQ(spread["A"], 50);
  EXPECT_EQ(spread["B"], 50);
  // Latency 0 ms band: only the fastest.
  Settings z;
  z.additional_latency_ms = 0;
  Harness hz(z, {Origin("A"), Origin("B")});
  hz.Round({{"A", {true, 15}}, {"B", {true, 30}}});
  EXPECT_EQ(hz.Spread(10), (std::map<std::string, int>{{"A", 10}}));
}

TEST(FrontDoorHealth, WeightsSpreadExactlyInRatio) {
  Harness h(Settings{}, {Origin("A", 1, 5), Origin("B", 1, 8)});
  EXPECT_EQ(h.Spread(13), (std::map<std::string, int>{{"A", 5}, {"B", 8}}));
  EXPECT_EQ(h.Spread(130), (std::map<std::string, int>{{"A", 50}, {"B", 80}}));
  // Smooth: never more than two A in a row with 5:8.
  std::string seq;
  for (int i = 0; i < 13; ++i) seq += h.model->Route(0).origin;
  EXPECT_EQ(seq.find("AAA"), std::string::npos) << seq;
}

TEST(FrontDoorHealth, ReEnabledOriginStartsFreshAsConfigured) {
  Harness h(Settings{}, {Origin("a"), Origin("b", 2)});
  for (int i = 0; i < 2; ++i) h.Round({{"a", {false}}});
  EXPECT_FALSE(h.Healthy("a"));
  ASSERT_TRUE(h.model->UpdateOrigin("a", {.enabled = false}).ok());
  EXPECT_EQ(h.Spread(4), (std::map<std::string, int>{{"b", 4}}));
  ASSERT_TRUE(h.model->UpdateOrigin("a", {.enabled = true}).ok());
  // Default: a re-enabled origin starts healthy with an empty window.
  EXPECT_TRUE(h.Healthy("a"));
  EXPECT_EQ(h.Spread(4), (std::map<std::string, int>{{"a", 4}}));
  EXPECT_TRUE(h.model->Snapshot().origins[0].pops[0].window.empty());
  EXPECT_EQ(h.model->UpdateOrigin("nope", {.enabled = true}).code(), StatusCode::kNotFound);
  EXPECT_EQ(h.model->UpdateOrigin("a", {.weight = 0}).code(), StatusCode::kBadRequest);

  Settings cautious;
  cautious.new_origin_healthy = false;
  Harness c(cautious, {Origin("a"), Origin("b", 2)});
  EXPECT_FALSE(c.Healthy("a"));
  EXPECT_EQ(c.model->Route(0).mode, RouteDecision::Mode::kAllUnhealthy);
  c.Round();
  c.Round();
  EXPECT_FALSE(c.Healthy("a"));
  c.Round();  // three successes
  EXPECT_TRUE(c.Healthy("a"));
  EXPECT_EQ(c.model->Route(0).origin, "a");
}

TEST(FrontDoorHealth, ProbesSentBeforeADisableDoNotCount) {
  Harness h(Settings{}, {Origin("a"), Origin("b", 2)});
  h.clock.SetMicros(h.model->NextProbeWallMicros());
  std::vector<ProbeTask> tasks = h.model->TakeDueProbes();
  ASSERT_EQ(tasks.size(), 2u);
  ASSERT_TRUE(h.model->UpdateOrigin("a", {.enabled = false}).ok());
  ASSERT_TRUE(h.model->UpdateOrigin("a", {.enabled = true}).ok());
  h.model->RecordProbe(tasks[0], ProbeOutcome{false, 503, 1000, ""});
  EXPECT_TRUE(h.model->Snapshot().origins[0].pops[0].window.empty());
}

TEST(FrontDoorHealth, PopsProbeOnStaggeredPhases) {
  Settings s;
  s.pops = 3;  // interval 30 s: phases 0, 10, 20 s
  Harness h(s, {Origin("a")});
  const int64_t t0 = h.clock.NowMicros();
  EXPECT_EQ(h.Round(), std::vector<int>{0});
  EXPECT_EQ(h.clock.NowMicros() - t0, 0);
  EXPECT_EQ(h.Round(), std::vector<int>{1});
  EXPECT_EQ(h.clock.NowMicros() - t0, 10'000'000);
  EXPECT_EQ(h.Round(), std::vector<int>{2});
  EXPECT_EQ(h.clock.NowMicros() - t0, 20'000'000);
  EXPECT_EQ(h.Round(), std::vector<int>{0});
  EXPECT_EQ(h.clock.NowMicros() - t0, 30'000'000);
  // A model that falls far behind skips rounds rather than bursting.
  h.clock.AdvanceMillis(95'000);
  const auto tasks = h.model->TakeDueProbes();
  EXPECT_EQ(tasks.size(), 3u);  // each POP once
  auto snap = h.model->Snapshot();
  for (const auto& p : snap.pops) {
    EXPECT_GT(p.next_probe_fd_us, snap.fd_now_us);
    EXPECT_EQ((p.next_probe_fd_us - p.phase_fd_us) % 30'000'000, 0);
  }
}

TEST(FrontDoorHealth, PopsDecideOnTheirOwnSamples) {
  Settings s;
  s.pops = 2;
  Harness h(s, {Origin("a"), Origin("b", 2)});
  // "a" fails from now on: POP 0 probes first, so it switches first.
  for (int i = 0; i < 4; ++i) h.Round({{"a", {false}}});
  EXPECT_FALSE(h.Healthy("a", 0));
  EXPECT_FALSE(h.Healthy("a", 1));
  auto events = h.model->Events(0, 1000);
  std::vector<int> marks;
  for (const Event& e : events) {
    if (e.type == Event::Type::kHealth && !e.healthy) marks.push_back(e.pop);
  }
  EXPECT_EQ(marks, (std::vector<int>{0, 1}));
}

TEST(FrontDoorHealth, TimeScaleRunsIntervalsFaster) {
  Settings s;
  s.time_scale = 60;  // 30 s of Front-Door time = 0.5 s
  s.pops = 2;
  Harness h(s, {Origin("a")});
  const int64_t t0 = h.clock.NowMicros();
  h.Round();
  h.Round();
  EXPECT_EQ(h.clock.NowMicros() - t0, 250'000);  // POP 1's phase: 15 s / 60
  h.Round();
  EXPECT_EQ(h.clock.NowMicros() - t0, 500'000);
  const auto events = h.model->Events(0, 10);
  ASSERT_FALSE(events.empty());
  const Event& last = events.back();
  EXPECT_EQ(last.wall_us - t0, 500'000);
  EXPECT_EQ(last.fd_us, 30'000'000);
}

TEST(FrontDoorHealth, PopForUsesTheHeaderOrTheClientAddress) {
  Settings s;
  s.pops = 4;
  Harness h(s, {Origin("a")});
  const std::string two = "2", bad = "4", junk = "x";
  EXPECT_EQ(*h.model->PopFor("127.0.0.1:5000", &two), 2);
  EXPECT_FALSE(h.model->PopFor("127.0.0.1:5000", &bad).ok());
  EXPECT_FALSE(h.model->PopFor("127.0.0.1:5000", &junk).ok());
  EXPECT_EQ(*h.model->PopFor("10.1.2.3:5000", nullptr), *h.model->PopFor("10.1.2.3:6001", nullptr));
  EXPECT_EQ(*h.model->PopFor("[::1]:5000", nullptr), *h.model->PopFor("[::1]:6001", nullptr));
  std::set<int> seen;
  for (int i = 0; i < 64; ++i) seen.insert(*h.model->PopFor("10.0.0." + std::to_string(i) + ":1", nullptr));
  EXPECT_EQ(seen.size(), 4u);
}

TEST(FrontDoorHealth, FailoverTimelineFollowsProbesAndRequests) {
  Settings s;
  s.pops = 2;
  s.time_scale = 1;
  Harness h(s, {Origin("old", 1), Origin("new", 2)});
  for (int i = 0; i < 4; ++i) h.Round();  // both POPs: full windows of successes
  auto serve = [&](int pop) {
    RouteDecision d = h.model->Route(pop);
    h.model->RecordServed(pop, d.origin, h.clock.NowMicros(), d.origin == "old" ? 503 : 200);
    return d.origin;
  };
  const int64_t fault = h.clock.NowMicros() + 1;
  h.Round({{"old", {false}}});  // POP 0 first failure (t = 60 s)
  const int64_t first_failure = h.clock.NowMicros();
  EXPECT_EQ(serve(0), "old");
  h.Round({{"old", {false}}});  // POP 1 first failure
  EXPECT_EQ(serve(1), "old");
  h.Round({{"old", {false}}});  // POP 0 second failure: unhealthy
  EXPECT_EQ(serve(0), "new");
  const int64_t first_new = h.clock.NowMicros();
  EXPECT_EQ(serve(1), "old");
  h.clock.AdvanceMillis(1);
  EXPECT_EQ(serve(1), "old");
  const int64_t last_old = h.clock.NowMicros();
  h.Round({{"old", {false}}});  // POP 1 second failure: unhealthy
  EXPECT_EQ(serve(1), "new");

  const auto snap = h.model->Snapshot();
  ASSERT_TRUE(snap.last_failover.has_value());
  const Failover& f = *snap.last_failover;
  EXPECT_EQ(f.origin, "old");
  EXPECT_EQ(f.first_failed_probe.wall_us, first_failure);
  EXPECT_EQ(f.first_failed_pop, 0);
  ASSERT_EQ(f.marked.size(), 2u);
  EXPECT_EQ(f.marked[0].pop, 0);
  EXPECT_EQ(f.marked[1].pop, 1);
  ASSERT_TRUE(f.last_request_to_old && f.first_request_to_new);
  EXPECT_EQ(f.last_request_to_old->wall_us, last_old);
  EXPECT_EQ(f.first_request_to_new->wall_us, first_new);
  EXPECT_EQ(f.new_origin, "new");
  EXPECT_EQ(f.requests_to_old, 4u);
  EXPECT_EQ(f.failed_requests_to_old, 4u);
  // Within what the settings promise, measured from the fault.
  EXPECT_LE(f.marked.back().at.fd_us - h.model->time().FdSinceStart(fault), snap.promise.worst_case_ms * 1000);
  EXPECT_FALSE(f.recovered.has_value());
  for (int i = 0; i < 6; ++i) h.Round();
  EXPECT_TRUE(h.model->Snapshot().last_failover->recovered.has_value());
}

}  // namespace
}  // namespace regionlab::frontdoor
