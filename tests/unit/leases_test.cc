// Fenced leases (server/leases.h, docs/leases.md) on a real in-process
// cluster: cluster::Cluster with two or three regions on loopback (real HTTP
// listeners, real replication over TCP, the default threads per region, the
// LeaseService wired as `regionlab up` wires it), driven through the C++
// CosmosClient and the management API (clock skew, partitions, offline,
// kill/restart). Nothing sleeps to let something happen: every wait polls a
// condition until a deadline; expiry is driven by skewing the home region's
// clock, not by waiting for it.
#include "server/leases.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/cosmos_auth.h"
#include "base/encoding.h"
#include "client/cosmos_client.h"
#include "client/http_client.h"
#include "cluster/cluster.h"
#include "tests/support/running_cluster.h"
#include "tests/support/wait_for.h"

namespace regionlab {
namespace {

using client::CosmosClient;
using client::CosmosResponse;
using Json = nlohmann::json;
using namespace std::chrono_literals;

constexpr auto kDeadline = 20s;

using regionlab::testing::WaitFor;

std::string Describe(const Result<CosmosResponse>& r) {
  if (!r.ok()) return "transport error: " + r.status().ToString();
  return "HTTP " + std::to_string(r->status) + " " + r->body;
}

Json BodyOf(const CosmosResponse& r) { return Json::parse(r.body, nullptr, false); }

// A cluster of `regions` (the first is every lease's home region) in this process.
class LeaseCluster {
 public:
  static std::unique_ptr<LeaseCluster> Start(std::vector<std::string> regions) {
    cluster::ClusterOptions o;
    o.regions = regions;
    o.port = 0;
    o.admin_port = 0;
    o.ephemeral = true;
    o.seed = 7;
    auto running = testing::StartCluster(o);
    EXPECT_TRUE(running.ok()) << running.status().ToString();
    if (!running.ok()) return nullptr;
    auto lc = std::unique_ptr<LeaseCluster>(new LeaseCluster());
    lc->running_ = std::move(*running);
    lc->names_ = regions;
    for (size_t i = 0; i < regions.size(); ++i) lc->clients_.push_back(lc->NewClient(static_cast<int>(i)));
    auto ep = client::ParseHttpEndpoint(lc->running_.admin);
    EXPECT_TRUE(ep.ok());
    lc->admin_ = std::make_unique<client::HttpClient>(*ep);
    EXPECT_TRUE(lc->WaitLinksUp());
    return lc;
  }

  ~LeaseCluster() {
    clients_.clear();
    if (running_.cluster) running_.cluster->Stop();
  }

  // A new client of region `r` (one per thread: clients are not thread-safe).
  std::unique_ptr<CosmosClient> NewClient(int r) const { return running_.Client(r); }
  CosmosClient& C(int r) { return *clients_[r]; }
  const std::string& Name(int r) const { return names_[r]; }

  // A management API call; returns the HTTP status (0 on a transport error).
  int Admin(const std::string& method, const std::string& path, const std::string& body = "{}") {
    client::HttpHeaders h = {{"Content-Type", "application/json"}};
    auto r = admin_->Send(method, path, h, method == "GET" ? "" : body);
    if (!r.ok()) {
      ADD_FAILURE() << method << " " << path << ": " << r.status().ToString();
      return 0;
    }
    EXPECT_LT(r->status, 300) << method << " " << path << " " << body << " -> " << r->status << " " << r->body;
    return r->status;
  }
  void Partition(const std::vector<std::vector<std::string>>& groups) {
    Admin("POST", "/partition", Json{{"groups", groups}}.dump());
  }
  void Heal() { Admin("POST", "/heal"); }
  // Every replication link connected (GET /links), as after a start or a restart.
  bool WaitLinksUp() {
    return WaitFor([&] {
      auto r = admin_->Send("GET", "/links", {}, "");
      if (!r.ok() || r->status != 200) return false;
      Json j = Json::parse(r->body, nullptr, false);
      if (!j.is_object() || !j["links"].is_array()) return false;
      size_t n = names_.size();
      if (j["links"].size() != n * (n - 1)) return false;
      for (const auto& l : j["links"]) {
        if (l.value("connected", false) != true) return false;
      }
      return true;
    });
  }
  void Skew(int r, int64_t ms) { Admin("POST", "/regions/" + Name(r) + "/clock", Json{{"skewMs", ms}}.dump()); }

 private:
  LeaseCluster() = default;
  testing::RunningCluster running_;
  std::vector<std::string> names_;
  std::vector<std::unique_ptr<CosmosClient>> clients_;
  std::unique_ptr<client::HttpClient> admin_;
};

// Repeats `op` while it answers 429 (too many forwards waiting) or, with
// `retry_503`, 503 (home unreachable), until the deadline.
Result<CosmosResponse> Retrying(const std::function<Result<CosmosResponse>()>& op, bool retry_503 = false,
                                std::chrono::milliseconds deadline = kDeadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (true) {
    auto r = op();
    bool again = r.ok() && (r->status == 429 || (retry_503 && r->status == 503));
    if (!again || std::chrono::steady_clock::now() > until) return r;
    std::this_thread::sleep_for(10ms);
  }
}

uint64_t TokenOf(const Result<CosmosResponse>& r) {
  EXPECT_TRUE(r.ok() && r->status == 200) << Describe(r);
  if (!r.ok()) return 0;
  auto lease = client::ParseLease(*r);
  EXPECT_TRUE(lease.ok()) << lease.status().ToString();
  return lease.ok() ? lease->token : 0;
}

// The token region `r` reports for `name` (0 when it knows none).
uint64_t ReplicaToken(CosmosClient& c, const std::string& name) {
  auto r = c.GetLease(name);
  if (!r.ok() || r->status != 200) return 0;
  auto lease = client::ParseLease(*r);
  return lease.ok() ? lease->token : 0;
}

// ------------------------------------------------------------------ basics

TEST(LeasesTest, AcquireRenewReleaseAtHomeAndForwarded) {
  auto lc = LeaseCluster::Start({"uksouth", "westeurope"});
  ASSERT_TRUE(lc);
  // At the home region.
  auto a = lc->C(0).AcquireLease("orders", "w1", 10000);
  ASSERT_TRUE(a.ok() && a->status == 200) << Describe(a);
  Json j = BodyOf(*a);
  EXPECT_EQ(j["name"], "orders");
  EXPECT_EQ(j["owner"], "w1");
  EXPECT_EQ(j["token"], 1);
  EXPECT_GT(j["expiresAtMs"].get<int64_t>(), 0);
  ASSERT_NE(a->Header("x-regionlab-lease-home"), nullptr);
  EXPECT_EQ(*a->Header("x-regionlab-lease-home"), "uksouth");

  // Forwarded from westeurope: held by w1.
  auto b = Retrying([&] { return lc->C(1).AcquireLease("orders", "w2", 10000); });
  ASSERT_TRUE(b.ok() && b->status == 409) << Describe(b);
  EXPECT_EQ(BodyOf(*b)["owner"], "w1");
  EXPECT_EQ(BodyOf(*b)["code"], "Conflict");

  // The holder acquiring again (e.g. a retry after a lost reply) keeps its
  // token and extends the expiry.
  auto again = Retrying([&] { return lc->C(1).AcquireLease("orders", "w1", 20000); });
  EXPECT_EQ(TokenOf(again), 1u);
  EXPECT_GT(BodyOf(*again)["expiresAtMs"].get<int64_t>(), j["expiresAtMs"].get<int64_t>());

  auto renew = Retrying([&] { return lc->C(1).RenewLease("orders", "w1", 1, 5000); });
  EXPECT_EQ(TokenOf(renew), 1u);
  EXPECT_EQ(BodyOf(*renew)["ttlMs"], 5000);

  auto rel = Retrying([&] { return lc->C(1).ReleaseLease("orders", "w1", 1); });
  ASSERT_TRUE(rel.ok() && rel->status == 204) << Describe(rel);
  EXPECT_TRUE(rel->body.empty());
  auto rel2 = Retrying([&] { return lc->C(1).ReleaseLease("orders", "w1", 1); });
  EXPECT_TRUE(rel2.ok() && rel2->status == 204) << "release is idempotent: " << Describe(rel2);

  // GET at home: the truth. Released: no owner, not held, the token stays.
  auto g = lc->C(0).GetLease("orders");
  ASSERT_TRUE(g.ok() && g->status == 200) << Describe(g);
  EXPECT_TRUE(BodyOf(*g)["owner"].is_null());
  EXPECT_EQ(BodyOf(*g)["held"], false);
  EXPECT_EQ(BodyOf(*g)["token"], 1);
  EXPECT_EQ(*g->Header("x-regionlab-lease-source"), "home");
  auto missing = lc->C(1).GetLease("never-acquired");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404) << missing->body;
}

TEST(LeasesTest, TokensStrictlyIncreaseAndStaleRenewOrReleaseIs409) {
  auto lc = LeaseCluster::Start({"uksouth", "westeurope", "eastus"});
  ASSERT_TRUE(lc);
  uint64_t t1 = TokenOf(Retrying([&] { return lc->C(2).AcquireLease("jobs", "w1", 60000); }));
  ASSERT_EQ(204, Retrying([&] { return lc->C(2).ReleaseLease("jobs", "w1", t1); })->status);
  // The previous holder re-acquiring after its release gets a new token too.
  uint64_t t2 = TokenOf(Retrying([&] { return lc->C(1).AcquireLease("jobs", "w1", 60000); }));
  EXPECT_GT(t2, t1);
  ASSERT_EQ(204, Retrying([&] { return lc->C(0).ReleaseLease("jobs", "w1", t2); })->status);
  uint64_t t3 = TokenOf(Retrying([&] { return lc->C(1).AcquireLease("jobs", "w2", 60000); }));
  EXPECT_GT(t3, t2);

  // The old holder's token is stale everywhere: renew and release are 409.
  for (int r = 0; r < 3; ++r) {
    auto renew = Retrying([&] { return lc->C(r).RenewLease("jobs", "w1", t2); });
    ASSERT_TRUE(renew.ok());
    EXPECT_EQ(renew->status, 409) << lc->Name(r) << ": " << renew->body;
    EXPECT_EQ(BodyOf(*renew)["owner"], "w2");
    auto release = Retrying([&] { return lc->C(r).ReleaseLease("jobs", "w1", t2); });
    ASSERT_TRUE(release.ok());
    EXPECT_EQ(release->status, 409) << lc->Name(r) << ": " << release->body;
    // The right owner with a wrong token, too.
    auto wrong = Retrying([&] { return lc->C(r).RenewLease("jobs", "w2", t2); });
    EXPECT_EQ(wrong->status, 409) << wrong->body;
  }
  auto ok = Retrying([&] { return lc->C(2).RenewLease("jobs", "w2", t3); });
  EXPECT_EQ(TokenOf(ok), t3);

  // The lease record replicates: every region learns the newest token.
  for (int r = 0; r < 3; ++r) {
    EXPECT_TRUE(WaitFor([&] { return ReplicaToken(lc->C(r), "jobs") == t3; })) << lc->Name(r);
  }
}

TEST(LeasesTest, RequestsAreValidatedAndSignedAsLeases) {
  auto lc = LeaseCluster::Start({"uksouth", "westeurope"});
  ASSERT_TRUE(lc);
  CosmosClient& c = lc->C(1);
  auto bad_owner = c.Request("POST", "/_regionlab/leases/x/acquire", R"({"ttlMs":1000})", {},
                             ResourceAddress{"leases", "leases/x"});
  EXPECT_EQ(bad_owner->status, 400) << bad_owner->body;
  auto bad_ttl = c.Request("POST", "/_regionlab/leases/x/acquire", R"({"owner":"w","ttlMs":0})", {},
                           ResourceAddress{"leases", "leases/x"});
  EXPECT_EQ(bad_ttl->status, 400) << bad_ttl->body;
  auto no_token = c.Request("POST", "/_regionlab/leases/x/renew", R"({"owner":"w"})", {},
                            ResourceAddress{"leases", "leases/x"});
  EXPECT_EQ(no_token->status, 400) << no_token->body;
  auto bad_op = c.Request("POST", "/_regionlab/leases/x/steal", R"({"owner":"w"})", {},
                          ResourceAddress{"leases", "leases/x"});
  EXPECT_EQ(bad_op->status, 404) << bad_op->body;
  // Signed as the path would suggest (type "x", link the whole path): 401.
  auto naive = c.Request("POST", "/_regionlab/leases/x/acquire", R"({"owner":"w","ttlMs":1000})");
  EXPECT_EQ(naive->status, 401) << naive->body;
  EXPECT_NE(naive->body.find("leases/x"), std::string::npos) << naive->body;
  // Default ttl when none is given.
  auto dflt = Retrying([&] {
    return c.Request("POST", "/_regionlab/leases/x/acquire", R"({"owner":"w"})", {},
                     ResourceAddress{"leases", "leases/x"});
  });
  ASSERT_EQ(dflt->status, 200) << dflt->body;
  EXPECT_EQ(BodyOf(*dflt)["ttlMs"], 10000);
}

// ------------------------------------------------------------ one holder

TEST(LeasesTest, OneHolderUnderConcurrentAcquiresFromEveryRegion) {
  auto lc = LeaseCluster::Start({"uksouth", "westeurope", "eastus"});
  ASSERT_TRUE(lc);
  constexpr int kPerRegion = 4;
  std::mutex mu;
  std::vector<std::string> winners;
  std::map<int, int> statuses;
  std::vector<std::thread> threads;
  std::atomic<bool> go{false};
  for (int r = 0; r < 3; ++r) {
    for (int i = 0; i < kPerRegion; ++i) {
      threads.emplace_back([&, r, i] {
        auto c = lc->NewClient(r);
        std::string owner = "w-" + lc->Name(r) + "-" + std::to_string(i);
        while (!go.load()) std::this_thread::yield();
        auto res = Retrying([&] { return c->AcquireLease("singleton", owner, 60000); });
        std::lock_guard<std::mutex> lock(mu);
        statuses[res.ok() ? res->status : -1]++;
        if (res.ok() && res->status == 200) winners.push_back(owner);
      });
    }
  }
  go = true;
  for (auto& t : threads) t.join();
  ASSERT_EQ(winners.size(), 1u) << "200s: " << statuses[200] << ", 409s: " << statuses[409];
  EXPECT_EQ(statuses[409], 3 * kPerRegion - 1);
  // Every region converges on that one holder.
  for (int r = 0; r < 3; ++r) {
    EXPECT_TRUE(WaitFor([&] {
      auto g = lc->C(r).GetLease("singleton");
      return g.ok() && g->status == 200 && BodyOf(*g)["owner"] == winners[0] && BodyOf(*g)["token"] == 1;
    })) << lc->Name(r);
  }
}

// Forwarding handlers block an io thread while they wait for the home
// region's reply, which arrives on the same io threads: far more concurrent
// forwards than io threads must neither deadlock nor time out.
TEST(LeasesTest, ManyConcurrentForwardsNeverStarveTheReplyPath) {
  auto lc = LeaseCluster::Start({"uksouth", "westeurope"});
  ASSERT_TRUE(lc);
  constexpr int kThreads = 12, kRounds = 5;
  std::mutex mu;
  std::map<int, int> statuses;
  int64_t slowest_ms = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto c = lc->NewClient(1);
      std::string name = "busy-" + std::to_string(i % 3);
      std::string owner = "w" + std::to_string(i);
      for (int k = 0; k < kRounds; ++k) {
        auto t0 = std::chrono::steady_clock::now();
        auto res = c->AcquireLease(name, owner, 60000);
        int64_t took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
        int status = res.ok() ? res->status : -1;
        if (status == 200) {
          auto rel = c->ReleaseLease(name, owner, BodyOf(*res)["token"].get<uint64_t>());
          while (rel.ok() && rel->status == 429) rel = c->ReleaseLease(name, owner, BodyOf(*res)["token"].get<uint64_t>());
          EXPECT_TRUE(rel.ok() && rel->status == 204) << Describe(rel);
        }
        std::lock_guard<std::mutex> lock(mu);
        statuses[status]++;
        slowest_ms = std::max(slowest_ms, took);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::string summary;
  for (auto [s, n] : statuses) summary += std::to_string(s) + ":" + std::to_string(n) + " ";
  EXPECT_EQ(statuses.count(503), 0u) << summary;
  EXPECT_EQ(statuses.count(-1), 0u) << summary;
  EXPECT_GT(statuses[200], 0) << summary;
  EXPECT_LT(slowest_ms, 1500) << "a forward waited (nearly) for the timeout: " << summary;
  for (auto [s, n] : statuses) EXPECT_TRUE(s == 200 || s == 409 || s == 429) << summary;
}

// --------------------------------------------------------------- expiry

TEST(LeasesTest, ExpiryIsJudgedByTheHomeRegionsClock) {
  auto lc = LeaseCluster::Start({"uksouth", "westeurope"});
  ASSERT_TRUE(lc);
  uint64_t t1 = TokenOf(Retrying([&] { return lc->C(1).AcquireLease("cron", "w1", 5000); }));
  ASSERT_GT(t1, 0u);
  // The forwarding region's clock does not matter.
  lc->Skew(1, 60000);
  auto held = Retrying([&] { return lc->C(1).AcquireLease("cron", "w2", 5000); });
  EXPECT_EQ(held->status, 409) << held->body;
  lc->Skew(1, 0);
  // The home region's clock moves past the expiry.
  lc->Skew(0, 6000);
  auto renew = Retrying([&] { return lc->C(1).RenewLease("cron", "w1", t1); });
  EXPECT_EQ(renew->status, 409) << "an expired lease cannot be renewed: " << renew->body;
  EXPECT_NE(renew->body.find("expired"), std::string::npos) << renew->body;
  auto g = lc->C(0).GetLease("cron");
  EXPECT_EQ(BodyOf(*g)["held"], false) << g->body;
  uint64_t t2 = TokenOf(Retrying([&] { return lc->C(1).AcquireLease("cron", "w2", 5000); }));
  EXPECT_EQ(t2, t1 + 1);
  // The expired holder's release is refused now that another holds it.
  EXPECT_EQ(Retrying([&] { return lc->C(0).ReleaseLease("cron", "w1", t1); })->status, 409);
  // And w1, acquiring after expiry, would get yet another token (after w2 expires).
  lc->Skew(0, 12000);
  uint64_t t3 = TokenOf(Retrying([&] { return lc->C(0).AcquireLease("cron", "w1", 5000); }));
  EXPECT_EQ(t3, t2 + 1);
}

// ------------------------------------------------------ restarts and cuts

TEST(LeasesTest, TokensSurviveARestartOfTheHomeRegion) {
  auto lc = LeaseCluster::Start({"uksouth", "westeurope"});
  ASSERT_TRUE(lc);
  uint64_t t1 = TokenOf(Retrying([&] { return lc->C(1).AcquireLease("ledger", "w1", 60000); }));
  ASSERT_EQ(204, Retrying([&] { return lc->C(1).ReleaseLease("ledger", "w1", t1); })->status);
  uint64_t t2 = TokenOf(Retrying([&] { return lc->C(1).AcquireLease("ledger", "w2", 60000); }));
  ASSERT_EQ(t2, t1 + 1);
  // The grant reaches westeurope's replica by replication: wait for it
  // before cutting the home region off.
  ASSERT_TRUE(WaitFor([&] { return ReplicaToken(lc->C(1), "ledger") == t2; }));

  lc->Admin("POST", "/regions/uksouth/kill");
  // Home down: nothing can be granted, from anywhere.
  auto down = lc->C(1).AcquireLease("ledger", "w3", 60000);
  ASSERT_TRUE(down.ok());
  EXPECT_EQ(down->status, 503) << down->body;
  EXPECT_NE(down->body.find("cannot reach the lease's home region"), std::string::npos) << down->body;
  // The replica still answers GET with what it knows.
  EXPECT_EQ(ReplicaToken(lc->C(1), "ledger"), t2);

  lc->Admin("POST", "/regions/uksouth/restart");
  ASSERT_TRUE(lc->WaitLinksUp());
  // The home region reloads the lease from its store: w2 still holds it, and
  // the next holder's token is above every token granted before the restart.
  auto held = Retrying([&] { return lc->C(1).AcquireLease("ledger", "w3", 60000); }, /*retry_503=*/true);
  ASSERT_TRUE(held.ok() && held->status == 409) << Describe(held);
  EXPECT_EQ(BodyOf(*held)["owner"], "w2");
  ASSERT_EQ(204, Retrying([&] { return lc->C(0).ReleaseLease("ledger", "w2", t2); }, true)->status);
  uint64_t t3 = TokenOf(Retrying([&] { return lc->C(0).AcquireLease("ledger", "w3", 60000); }, true));
  EXPECT_EQ(t3, t2 + 1);
}

// A region has one HTTP thread by default: an acquire that waits for a slow
// home region waits on a worker thread, and the region keeps answering its
// other requests meanwhile.
TEST(LeasesTest, AForwardWaitingForTheHomeRegionHoldsUpNoOtherRequest) {
  auto lc = LeaseCluster::Start({"uksouth", "westeurope"});
  ASSERT_TRUE(lc);
  // westeurope's forward takes 3 s to reach the home region: longer than the
  // forward deadline (2 s), so the acquire answers 503 after 2 s.
  lc->Admin("PUT", "/links/westeurope/uksouth", R"({"delayMs":3000})");
  std::atomic<bool> acquire_done{false};
  Result<CosmosResponse> acquired = Status::Internal("not run");
  const auto started = std::chrono::steady_clock::now();
  std::thread acquirer([&] {
    auto client = lc->NewClient(1);
    acquired = client->AcquireLease("slow", "w1", 60000);
    acquire_done = true;
  });
  // Reads sent to westeurope from 0.5 s on, while the forward waits: each is
  // answered before the acquire is.
  int answered_while_waiting = 0;
  while (!acquire_done) {
    const auto sent = std::chrono::steady_clock::now();
    auto r = lc->C(1).GetAccount();
    ASSERT_TRUE(r.ok() && r->status == 200) << Describe(r);
    if (sent - started >= 500ms && sent - started < 1500ms) {
      EXPECT_FALSE(acquire_done) << "a read sent " << (sent - started) / 1ms
                                 << " ms after the acquire waited for the acquire's answer";
      ++answered_while_waiting;
    }
  }
  acquirer.join();
  ASSERT_TRUE(acquired.ok()) << Describe(acquired);
  EXPECT_EQ(acquired->status, 503) << acquired->body;
  EXPECT_GE(std::chrono::steady_clock::now() - started, 2s);  // it did wait for the home region
  EXPECT_GT(answered_while_waiting, 0);
}

TEST(LeasesTest, ARegionCutOffFromHomeAnswers503AndNeverGrantsTwice) {
  auto lc = LeaseCluster::Start({"uksouth", "westeurope", "eastus"});
  ASSERT_TRUE(lc);
  uint64_t t1 = TokenOf(lc->C(0).AcquireLease("primary", "uk-worker", 60000));
  ASSERT_EQ(t1, 1u);
  ASSERT_TRUE(WaitFor([&] { return ReplicaToken(lc->C(1), "primary") == t1; }));

  lc->Partition({{"uksouth", "eastus"}, {"westeurope"}});
  // westeurope cannot reach the home region: 503 after the forward deadline
  // (or at once when its link is seen down), never a grant.
  for (const char* owner : {"eu-worker", "uk-worker"}) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = lc->C(1).AcquireLease("primary", owner, 60000);
    auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(r.ok()) << Describe(r);
    EXPECT_EQ(r->status, 503) << r->body;
    EXPECT_EQ(BodyOf(*r)["code"], "ServiceUnavailable");
    EXPECT_NE(r->body.find("cannot reach the lease's home region uksouth"), std::string::npos) << r->body;
    EXPECT_LT(took, 5s);
  }
  auto other = lc->C(1).AcquireLease("fresh-lease", "eu-worker", 60000);
  EXPECT_EQ(other->status, 503) << "not even a lease nobody holds: " << other->body;
  // Reads still answer from the local replica.
  auto g = lc->C(1).GetLease("primary");
  ASSERT_TRUE(g.ok() && g->status == 200) << Describe(g);
  EXPECT_EQ(BodyOf(*g)["owner"], "uk-worker");
  EXPECT_EQ(*g->Header("x-regionlab-lease-source"), "replica");
  // The side with the home region carries on.
  EXPECT_EQ(TokenOf(Retrying([&] { return lc->C(2).RenewLease("primary", "uk-worker", t1); })), t1);
  EXPECT_EQ(Retrying([&] { return lc->C(2).AcquireLease("primary", "us-worker", 60000); })->status, 409);

  lc->Heal();
  auto after = Retrying([&] { return lc->C(1).AcquireLease("primary", "eu-worker", 60000); }, /*retry_503=*/true);
  ASSERT_TRUE(after.ok()) << Describe(after);
  EXPECT_EQ(after->status, 409) << after->body;
  EXPECT_EQ(BodyOf(*after)["owner"], "uk-worker");
  // Still one lease, one token: nothing was granted on the cut-off side.
  auto home = lc->C(0).GetLease("primary");
  EXPECT_EQ(BodyOf(*home)["token"], t1);
  auto fresh = lc->C(0).GetLease("fresh-lease");
  EXPECT_EQ(fresh->status, 404) << fresh->body;
}

TEST(LeasesTest, OfflineRegionsAnswerLeaseRequestsLikeOtherRequests) {
  auto lc = LeaseCluster::Start({"uksouth", "westeurope"});
  ASSERT_TRUE(lc);
  ASSERT_EQ(200, lc->C(0).AcquireLease("svc", "w1", 60000)->status);
  ASSERT_TRUE(WaitFor([&] { return ReplicaToken(lc->C(1), "svc") == 1; }));

  lc->Admin("POST", "/regions/westeurope/offline", R"({"mode":"403"})");
  auto w = lc->C(1).AcquireLease("svc", "w2", 60000);
  EXPECT_EQ(w->status, 403) << w->body;
  EXPECT_EQ(w->substatus, 3);
  EXPECT_EQ(lc->C(1).GetLease("svc")->status, 200);
  lc->Admin("POST", "/regions/westeurope/offline", R"({"mode":"503"})");
  EXPECT_EQ(lc->C(1).GetLease("svc")->status, 503);
  lc->Admin("POST", "/regions/westeurope/online");

  // The home region offline: it grants nothing, not even to forwarded requests.
  lc->Admin("POST", "/regions/uksouth/offline", R"({"mode":"503"})");
  auto fwd = Retrying([&] { return lc->C(1).AcquireLease("svc2", "w1", 60000); });
  EXPECT_EQ(fwd->status, 503) << fwd->body;
  EXPECT_NE(fwd->body.find("offline"), std::string::npos) << fwd->body;
  lc->Admin("POST", "/regions/uksouth/online");
  EXPECT_EQ(Retrying([&] { return lc->C(1).AcquireLease("svc2", "w1", 60000); })->status, 200);
}

// ------------------------------------------------------------- fencing

constexpr char kDb[] = "fencedb";
constexpr char kColl[] = "orders";

void CreateContainer(LeaseCluster& lc) {
  auto db = lc.C(0).CreateDatabase(kDb);
  ASSERT_TRUE(db.ok() && db->status == 201) << Describe(db);
  auto coll = lc.C(0).CreateContainer(kDb, R"({"id":"orders","partitionKey":{"paths":["/pk"],"kind":"Hash"}})");
  ASSERT_TRUE(coll.ok() && coll->status == 201) << Describe(coll);
  for (int r = 1; r < 2; ++r) {
    ASSERT_TRUE(WaitFor([&] {
      auto c = lc.C(r).ReadContainer(kDb, kColl);
      return c.ok() && c->status == 200;
    }));
  }
}

client::RequestOptions Fence(const std::string& name, uint64_t token) {
  client::RequestOptions o;
  o.fence = client::FenceValue(name, token);
  return o;
}

TEST(LeasesTest, FencedWritesWithAStaleTokenAre412) {
  auto lc = LeaseCluster::Start({"uksouth", "westeurope"});
  ASSERT_TRUE(lc);
  CreateContainer(*lc);
  const std::string pk = R"(["a"])";
  uint64_t t1 = TokenOf(Retrying([&] { return lc->C(1).AcquireLease("writer", "w1", 5000); }));
  // The current token passes, in either region (westeurope learnt it from the
  // reply it forwarded; uksouth decided it).
  auto c1 = lc->C(1).CreateDocument(kDb, kColl, pk, R"({"id":"o1","pk":"a","by":"w1"})", Fence("writer", t1));
  ASSERT_TRUE(c1.ok() && c1->status == 201) << Describe(c1);
  auto c0 = lc->C(0).UpsertDocument(kDb, kColl, pk, R"({"id":"o0","pk":"a","by":"w1"})", Fence("writer", t1));
  ASSERT_TRUE(c0.ok() && c0->status == 201) << Describe(c0);

  // w1 stalls; its lease expires (home clock) and w2 takes over.
  lc->Skew(0, 6000);
  uint64_t t2 = TokenOf(Retrying([&] { return lc->C(0).AcquireLease("writer", "w2", 60000); }));
  ASSERT_EQ(t2, t1 + 1);
  // uksouth knows t2 at once; westeurope once the lease record replicates.
  ASSERT_TRUE(WaitFor([&] { return ReplicaToken(lc->C(1), "writer") == t2; }));

  for (int r = 0; r < 2; ++r) {
    CosmosClient& c = lc->C(r);
    std::vector<std::pair<std::string, Result<CosmosResponse>>> stale;
    stale.emplace_back("create", c.CreateDocument(kDb, kColl, pk, R"({"id":"late","pk":"a"})", Fence("writer", t1)));
    stale.emplace_back("upsert", c.UpsertDocument(kDb, kColl, pk, R"({"id":"o1","pk":"a","by":"late"})", Fence("writer", t1)));
    stale.emplace_back("replace", c.ReplaceDocument(kDb, kColl, "o1", pk, R"({"id":"o1","pk":"a","by":"late"})", Fence("writer", t1)));
    stale.emplace_back("patch", c.PatchDocument(kDb, kColl, "o1", pk, R"([{"op":"set","path":"/by","value":"late"}])", Fence("writer", t1)));
    stale.emplace_back("delete", c.DeleteDocument(kDb, kColl, "o1", pk, Fence("writer", t1)));
    for (auto& [what, res] : stale) {
      ASSERT_TRUE(res.ok()) << what;
      EXPECT_EQ(res->status, 412) << lc->Name(r) << " " << what << ": " << res->body;
      EXPECT_EQ(BodyOf(*res)["code"], "PreconditionFailed") << res->body;
      EXPECT_NE(res->body.find("stale"), std::string::npos) << res->body;
    }
    // Nothing was written.
    auto doc = c.ReadDocument(kDb, kColl, "o1", pk);
    ASSERT_EQ(doc->status, 200);
    EXPECT_NE(BodyOf(*doc)["by"], "late");
    EXPECT_EQ(c.ReadDocument(kDb, kColl, "late", pk)->status, 404);
    // Reads are not fenced.
    auto read = c.ReadDocument(kDb, kColl, "o1", pk, Fence("writer", t1));
    EXPECT_EQ(read->status, 200);
    // The new token passes.
    auto ok = c.UpsertDocument(kDb, kColl, pk, R"({"id":"o1","pk":"a","by":"w2"})", Fence("writer", t2));
    EXPECT_EQ(ok->status, 200) << ok->body;
    // A newer token than the region knows passes too (it may not have arrived yet).
    auto ahead = c.UpsertDocument(kDb, kColl, pk, R"({"id":"o2","pk":"a"})", Fence("writer", t2 + 5));
    EXPECT_LT(ahead->status, 300) << ahead->body;
    // A lease nobody ever acquired fences nothing.
    auto unknown = c.UpsertDocument(kDb, kColl, pk, R"({"id":"o3","pk":"a"})", Fence("no-such-lease", 1));
    EXPECT_LT(unknown->status, 300) << unknown->body;
  }
  // A malformed fence header is a 400.
  client::RequestOptions bad;
  bad.fence = "writer";
  auto b = lc->C(0).UpsertDocument(kDb, kColl, pk, R"({"id":"o4","pk":"a"})", bad);
  EXPECT_EQ(b->status, 400) << b->body;
  bad.fence = "writer:x7";
  EXPECT_EQ(lc->C(0).UpsertDocument(kDb, kColl, pk, R"({"id":"o4","pk":"a"})", bad)->status, 400);
}

// -------------------------------------- the lease-container weakness

// A change-feed-processor style lease container: each lease is a document,
// taken by replacing it with If-Match on the etag read. Within a region the
// compare-and-swap is exact; across a partition both regions' swaps succeed,
// and after the heal last-writer-wins keeps one: the other acquisition is
// silently rolled back. The fenced lease of the same name is never granted
// on the cut-off side.
TEST(LeasesTest, LeaseContainerDocumentsCanBeWonTwiceDuringAPartition) {
  auto lc = LeaseCluster::Start({"uksouth", "westeurope"});
  ASSERT_TRUE(lc);
  ASSERT_EQ(201, lc->C(0).CreateDatabase("app")->status);
  ASSERT_EQ(201, lc->C(0).CreateContainer("app", R"({"id":"leases","partitionKey":{"paths":["/id"],"kind":"Hash"}})")->status);
  const std::string pk = R"(["lease-0"])";
  ASSERT_EQ(201, lc->C(0).CreateDocument("app", "leases", pk, R"({"id":"lease-0","owner":null})")->status);
  std::string etag;
  ASSERT_TRUE(WaitFor([&] {
    auto a = lc->C(0).ReadDocument("app", "leases", "lease-0", pk);
    auto b = lc->C(1).ReadDocument("app", "leases", "lease-0", pk);
    if (!a.ok() || !b.ok() || a->status != 200 || b->status != 200 || a->etag != b->etag) return false;
    etag = a->etag;
    return true;
  }));

  // Within one region, the compare-and-swap admits one winner.
  {
    client::RequestOptions im;
    im.if_match = etag;
    auto x = lc->C(0).ReplaceDocument("app", "leases", "lease-0", pk, R"({"id":"lease-0","owner":"probe"})", im);
    ASSERT_EQ(x->status, 200) << x->body;
    auto y = lc->C(0).ReplaceDocument("app", "leases", "lease-0", pk, R"({"id":"lease-0","owner":"probe2"})", im);
    EXPECT_EQ(y->status, 412) << "the second swap on the same etag loses: " << y->body;
    auto back = lc->C(0).ReplaceDocument("app", "leases", "lease-0", pk, R"({"id":"lease-0","owner":null})");
    ASSERT_EQ(back->status, 200);
    ASSERT_TRUE(WaitFor([&] {
      auto a = lc->C(0).ReadDocument("app", "leases", "lease-0", pk);
      auto b = lc->C(1).ReadDocument("app", "leases", "lease-0", pk);
      if (!a.ok() || !b.ok() || a->status != 200 || b->status != 200 || a->etag != b->etag) return false;
      etag = a->etag;
      return true;
    }));
  }

  lc->Partition({{"uksouth"}, {"westeurope"}});
  client::RequestOptions im;
  im.if_match = etag;
  auto uk = lc->C(0).ReplaceDocument("app", "leases", "lease-0", pk, R"({"id":"lease-0","owner":"uk-worker"})", im);
  auto eu = lc->C(1).ReplaceDocument("app", "leases", "lease-0", pk, R"({"id":"lease-0","owner":"eu-worker"})", im);
  ASSERT_TRUE(uk.ok() && eu.ok());
  EXPECT_EQ(uk->status, 200) << "uksouth's swap: " << uk->body;
  EXPECT_EQ(eu->status, 200) << "westeurope's swap: " << eu->body;  // both "won"

  // Meanwhile the fenced lease is granted on the home side only.
  EXPECT_EQ(lc->C(0).AcquireLease("lease-0", "uk-worker", 60000)->status, 200);
  EXPECT_EQ(lc->C(1).AcquireLease("lease-0", "eu-worker", 60000)->status, 503);

  lc->Heal();
  std::string owner;
  ASSERT_TRUE(WaitFor([&] {
    auto a = lc->C(0).ReadDocument("app", "leases", "lease-0", pk);
    auto b = lc->C(1).ReadDocument("app", "leases", "lease-0", pk);
    if (!a.ok() || !b.ok() || a->status != 200 || b->status != 200 || a->etag != b->etag) return false;
    owner = BodyOf(*a)["owner"].get<std::string>();
    return true;
  }));
  EXPECT_TRUE(owner == "uk-worker" || owner == "eu-worker") << owner;
  // One of the two acquisitions was rolled back: its worker believes it owns
  // the lease, the store says otherwise.
  const std::string rolled_back = owner == "uk-worker" ? "eu-worker" : "uk-worker";
  SCOPED_TRACE("kept " + owner + ", rolled back " + rolled_back);
  auto eu_after = lc->C(1).ReadDocument("app", "leases", "lease-0", pk);
  EXPECT_EQ(BodyOf(*eu_after)["owner"], owner);
}

}  // namespace
}  // namespace regionlab
