// The management API as a plain function: region faults (offline, online,
// clock skew) and the shapes scripts rely on.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/cosmos_auth.h"
#include "base/encoding.h"
#include "admin/admin_api.h"
#include "server/data_plane.h"
#include "tests/support/fake_clock.h"

#include <map>
#include <set>
#include <tuple>

namespace regionlab::admin {
using namespace regionlab::server;  // RegionContext, HttpRequest, ...  (NOLINT)
namespace {

using Json = nlohmann::json;

class AdminApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::StoreOptions so;
    so.in_memory = true;
    store_ = std::move(storage::Store::Open(so, skewed_)).value();
    region_.self = {"uksouth", "UK South", 0, "http://127.0.0.1:1/"};
    region_.account_regions = {region_.self};
    region_.account_key = std::string(kEmulatorKey);
    region_.store = store_.get();
    region_.clock = &skewed_;
    region_.clock_control = &skewed_;
    admin_.seed = 7;
    admin_.regions = {&region_};
  }

  HttpResponse Admin(const std::string& method, const std::string& path, const std::string& body = "") {
    HttpRequest req;
    req.method = method;
    req.target = req.path = path;
    req.body = body;
    return HandleAdmin(admin_, req);
  }

  HttpResponse Data(const std::string& method, const std::string& path, const std::string& body = "",
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpRequest req;
    req.method = method;
    req.target = req.path = path;
    req.body = body;
    std::string date = FormatHttpDate(skewed_.NowSeconds());
    ResourceAddress a = ResourceAddressFromPath(path);
    req.headers = {{"x-ms-date", date},
                   {"authorization", *BuildAuthorizationHeader(kEmulatorKey, method, a.type, a.link, date)}};
    for (auto& h : headers) req.headers.push_back(h);
    return HandleDataPlane(region_, req);
  }

  std::string Header(const HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (ToLower(k) == name) return v;
    }
    return "";
  }

  testing::FakeClock clock_;
  SkewedClock skewed_{clock_};
  std::unique_ptr<storage::Store> store_;
  RegionContext region_;
  AdminContext admin_;
};

TEST_F(AdminApiTest, RegionsListsNameStateSkewAndSeed) {
  auto r = Admin("GET", "/regions");
  ASSERT_EQ(r.status, 200);
  auto j = Json::parse(r.body);
  EXPECT_EQ(j["seed"], 7);
  EXPECT_EQ(j["regions"][0]["name"], "uksouth");
  EXPECT_EQ(j["regions"][0]["displayName"], "UK South");
  EXPECT_EQ(j["regions"][0]["state"], "online");
  EXPECT_EQ(j["regions"][0]["clockSkewMs"], 0);
}

TEST_F(AdminApiTest, Offline503RefusesEverythingUntilOnline) {
  ASSERT_EQ(Data("POST", "/dbs", R"({"id":"db"})").status, 201);
  ASSERT_EQ(Admin("POST", "/regions/uksouth/offline", R"({"mode":"503"})").status, 200);
  EXPECT_EQ(Data("GET", "/dbs/db").status, 503);
  EXPECT_EQ(Data("POST", "/dbs", R"({"id":"db2"})").status, 503);
  EXPECT_EQ(Data("GET", "/health/deep").status, 503);
  EXPECT_EQ(Json::parse(Admin("GET", "/regions").body)["regions"][0]["state"], "offline-503");
  ASSERT_EQ(Admin("POST", "/regions/uksouth/online").status, 200);
  EXPECT_EQ(Data("GET", "/dbs/db").status, 200);
  EXPECT_EQ(Data("GET", "/health/deep").status, 200);
}

TEST_F(AdminApiTest, Offline403RefusesWritesWithSubstatus3AndServesReads) {
  ASSERT_EQ(Data("POST", "/dbs", R"({"id":"db"})").status, 201);
  ASSERT_EQ(Admin("POST", "/regions/uksouth/offline", R"({"mode":"403"})").status, 200);
  auto w = Data("POST", "/dbs", R"({"id":"db2"})");
  EXPECT_EQ(w.status, 403);
  EXPECT_EQ(Header(w, "x-ms-substatus"), "3");
  EXPECT_EQ(Data("GET", "/dbs/db").status, 200);
  EXPECT_EQ(Data("GET", "/dbs/db2").status, 404);  // the refused write changed nothing
}

TEST_F(AdminApiTest, ClockSkewShiftsTs) {
  ASSERT_EQ(Data("POST", "/dbs", R"({"id":"a"})").status, 201);
  int64_t ts_a = Json::parse(Data("GET", "/dbs/a").body)["_ts"];
  ASSERT_EQ(Admin("POST", "/regions/uksouth/clock", R"({"skewMs":300000})").status, 200);
  ASSERT_EQ(Data("POST", "/dbs", R"({"id":"b"})").status, 201);
  int64_t ts_b = Json::parse(Data("GET", "/dbs/b").body)["_ts"];
  EXPECT_EQ(ts_b - ts_a, 300);
  EXPECT_EQ(Json::parse(Admin("GET", "/regions").body)["regions"][0]["clockSkewMs"], 300000);
}

TEST_F(AdminApiTest, BadInputIsA400AndChangesNothing) {
  EXPECT_EQ(Admin("POST", "/regions/mars/offline", R"({"mode":"503"})").status, 400);
  EXPECT_EQ(Admin("POST", "/regions/uksouth/offline", R"({"mode":"500"})").status, 400);
  EXPECT_EQ(Admin("POST", "/regions/uksouth/offline", R"({"mode":)").status, 400);
  EXPECT_EQ(Admin("POST", "/regions/uksouth/clock", R"({"skewMs":"soon"})").status, 400);
  auto j = Json::parse(Admin("GET", "/regions").body);
  EXPECT_EQ(j["regions"][0]["state"], "online");
  EXPECT_EQ(j["regions"][0]["clockSkewMs"], 0);
  auto err = Json::parse(Admin("POST", "/regions/mars/online").body);
  EXPECT_TRUE(err.contains("message"));
}

TEST_F(AdminApiTest, DigestCountsDocumentsPerContainer) {
  ASSERT_EQ(Data("POST", "/dbs", R"({"id":"billing"})").status, 201);
  ASSERT_EQ(Data("POST", "/dbs/billing/colls", R"({"id":"invoices","partitionKey":{"paths":["/pk"]}})").status, 201);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Data("POST", "/dbs/billing/colls/invoices/docs",
                   R"({"id":"i)" + std::to_string(i) + R"(","pk":"a"})", {{"x-ms-documentdb-partitionkey", R"(["a"])"}})
                  .status,
              201);
  }
  auto j = Json::parse(Admin("GET", "/digest").body);
  auto c = j["regions"][0]["containers"][0];
  EXPECT_EQ(c["database"], "billing");
  EXPECT_EQ(c["container"], "invoices");
  EXPECT_EQ(c["count"], 3);
  EXPECT_EQ(c["hash"].get<std::string>().size(), 64u);
}

}  // namespace
}  // namespace regionlab::admin

// ---------------------------------------------------------------- faults

namespace regionlab::admin {
using namespace regionlab::server;  // RegionContext, HttpRequest, ...  (NOLINT)
namespace {

// A RegionControl that records what the management API asks for and runs
// scheduled scenario steps when the test says so.
class FakeControl final : public RegionControl {
 public:
  void ApplyLinkFaults(uint32_t from, uint32_t to, const replication::LinkFaults& f) override {
    applied[{from, to}] = f;
    ++apply_calls;
  }
  replication::LinkShaperStats LinkStats(uint32_t from, uint32_t to) const override {
    replication::LinkShaperStats s;
    s.frames = 100 + from * 10 + to;
    s.dropped = 7;
    return s;
  }
  bool Running(uint32_t region) const override { return !killed.count(region); }
  Status Kill(uint32_t region) override {
    killed.insert(region);
    ++kills;
    return Status::Ok();
  }
  Status Restart(uint32_t region) override {
    killed.erase(region);
    ++restarts;
    return Status::Ok();
  }
  void RunAfter(std::chrono::milliseconds delay, std::function<void()> fn) override {
    scheduled.push_back({delay.count(), std::move(fn)});
  }
  // Runs the scheduled callbacks (and those they schedule) in order.
  std::vector<int64_t> RunAll() {
    std::vector<int64_t> delays;
    while (!scheduled.empty()) {
      auto next = std::move(scheduled.front());
      scheduled.erase(scheduled.begin());
      delays.push_back(next.first);
      next.second();
    }
    return delays;
  }

  std::map<std::pair<uint32_t, uint32_t>, replication::LinkFaults> applied;
  int apply_calls = 0, kills = 0, restarts = 0;
  std::set<uint32_t> killed;
  std::vector<std::pair<int64_t, std::function<void()>>> scheduled;
};

class AdminFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* names[] = {"uksouth", "westeurope", "eastus"};
    std::vector<RegionInfo> infos;
    for (uint32_t i = 0; i < 3; ++i) {
      infos.push_back({names[i], DisplayNameFor(names[i]), i, "http://127.0.0.1:" + std::to_string(8081 + i) + "/"});
    }
    for (uint32_t i = 0; i < 3; ++i) {
      clocks_[i] = std::make_unique<SkewedClock>(clock_);
      storage::StoreOptions so;
      so.in_memory = true;
      so.region_id = i;
      stores_[i] = std::move(storage::Store::Open(so, *clocks_[i])).value();
      auto& r = regions_[i];
      r.self = infos[i];
      r.account_regions = infos;
      r.account_key = std::string(kEmulatorKey);
      r.store = stores_[i].get();
      r.clock = clocks_[i].get();
      r.clock_control = clocks_[i].get();
      admin_.regions.push_back(&r);
    }
    admin_.seed = 7;
    admin_.control = &control_;
  }

  HttpResponse Admin(const std::string& method, const std::string& path, const std::string& body = "") {
    HttpRequest req;
    req.method = method;
    req.target = req.path = path;
    req.body = body;
    return HandleAdmin(admin_, req);
  }
  Json Ok(const std::string& method, const std::string& path, const std::string& body = "") {
    auto r = Admin(method, path, body);
    EXPECT_EQ(r.status / 100, 2) << method << " " << path << " " << body << " -> " << r.status << " " << r.body;
    return Json::parse(r.body, nullptr, false);
  }
  Json Link(const std::string& from, const std::string& to) {
    Json all = Ok("GET", "/links");
    for (const auto& l : all["links"]) {
      if (l["from"] == from && l["to"] == to) return l;
    }
    ADD_FAILURE() << "no link " << from << " -> " << to;
    return Json();
  }
  replication::LinkFaults Applied(uint32_t from, uint32_t to) { return control_.applied[{from, to}]; }
  std::string State(int i) { return Ok("GET", "/regions")["regions"][i]["state"]; }
  // Everything observable about faults: every link's faults, every region's state and skew.
  std::string Snapshot() {
    Json links = Ok("GET", "/links")["links"];
    Json out = Json::array();
    for (const auto& l : links) out.push_back({l["from"], l["to"], l["faults"]});
    Json regions = Ok("GET", "/regions");
    for (const auto& r : regions["regions"]) out.push_back({r["name"], r["state"], r["clockSkewMs"]});
    out.push_back(Ok("GET", "/scenario"));
    return out.dump();
  }

  testing::FakeClock clock_;
  std::unique_ptr<SkewedClock> clocks_[3];
  std::unique_ptr<storage::Store> stores_[3];
  RegionContext regions_[3];
  FakeControl control_;
  AdminContext admin_;
};

TEST_F(AdminFaultsTest, PutLinkSetsTheWholeFaultSetOfOneDirection) {
  auto j = Ok("PUT", "/links/uksouth/westeurope",
              R"({"delayMs":240,"jitterMs":10,"dropRate":0.25,"duplicateRate":0.5,"reorderRate":0.125,"bandwidthKBps":64})");
  EXPECT_EQ(j["faults"]["delayMs"], 240);
  auto f = Applied(0, 1);
  EXPECT_EQ(f.delay_ms, 240);
  EXPECT_EQ(f.jitter_ms, 10);
  EXPECT_DOUBLE_EQ(f.drop_rate, 0.25);
  EXPECT_DOUBLE_EQ(f.duplicate_rate, 0.5);
  EXPECT_DOUBLE_EQ(f.reorder_rate, 0.125);
  EXPECT_EQ(f.bandwidth_kbps, 64);
  EXPECT_FALSE(f.partitioned);
  EXPECT_EQ(control_.applied.count(std::make_pair(1u, 0u)), 0u);  // the other direction is untouched
  auto link = Link("uksouth", "westeurope");
  EXPECT_EQ(link["faults"]["jitterMs"], 10);
  EXPECT_EQ(link["framesShaped"], 101);
  EXPECT_EQ(link["framesDropped"], 7);
  EXPECT_EQ(Link("westeurope", "uksouth")["faults"]["delayMs"], 0);
  // A PUT replaces the whole set: absent fields are 0/false.
  Ok("PUT", "/links/uksouth/westeurope", R"({"partitioned":true})");
  f = Applied(0, 1);
  EXPECT_TRUE(f.partitioned);
  EXPECT_EQ(f.delay_ms, 0);
  EXPECT_EQ(f.drop_rate, 0);
  // DELETE heals the link.
  Ok("DELETE", "/links/uksouth/westeurope");
  EXPECT_FALSE(Applied(0, 1).Any());
  EXPECT_EQ(Link("uksouth", "westeurope")["faults"]["partitioned"], false);
}

TEST_F(AdminFaultsTest, BadFaultInputIsA400WithAMessageAndChangesNothing) {
  Ok("PUT", "/links/uksouth/westeurope", R"({"delayMs":5})");
  Ok("POST", "/regions/eastus/offline", R"({"mode":"403"})");
  const std::string before = Snapshot();
  const int calls = control_.apply_calls;
  const std::vector<std::tuple<std::string, std::string, std::string>> bad = {
      {"PUT", "/links/mars/westeurope", R"({"delayMs":1})"},
      {"PUT", "/links/uksouth/mars", R"({"delayMs":1})"},
      {"PUT", "/links/uksouth/uksouth", R"({"delayMs":1})"},
      {"PUT", "/links/uksouth/westeurope", R"({"delayMs":-1})"},
      {"PUT", "/links/uksouth/westeurope", R"({"jitterMs":-5})"},
      {"PUT", "/links/uksouth/westeurope", R"({"bandwidthKBps":-1})"},
      {"PUT", "/links/uksouth/westeurope", R"({"dropRate":1.5})"},
      {"PUT", "/links/uksouth/westeurope", R"({"duplicateRate":-0.1})"},
      {"PUT", "/links/uksouth/westeurope", R"({"reorderRate":2})"},
      {"PUT", "/links/uksouth/westeurope", R"({"delayMs":"240ms"})"},
      {"PUT", "/links/uksouth/westeurope", R"({"delayMs":2.5})"},
      {"PUT", "/links/uksouth/westeurope", R"({"dropRate":"0.3"})"},
      {"PUT", "/links/uksouth/westeurope", R"({"partitioned":"yes"})"},
      {"PUT", "/links/uksouth/westeurope", R"({"delay":240})"},
      {"PUT", "/links/uksouth/westeurope", R"({"delayMs":24)"},
      {"PUT", "/links/uksouth/westeurope", R"([240])"},
      {"PUT", "/links/uksouth/westeurope", R"({"delayMs":99999999999})"},
      {"DELETE", "/links/uksouth/uksouth", ""},
      {"DELETE", "/links/mars/uksouth", ""},
      {"POST", "/partition", R"({"groups":[["uksouth"],["mars"]]})"},
      {"POST", "/partition", R"({"groups":[["uksouth","westeurope"]]})"},
      {"POST", "/partition", R"({"groups":[["uksouth"],["uksouth","westeurope"]]})"},
      {"POST", "/partition", R"({"groups":[["uksouth"],[]]})"},
      {"POST", "/partition", R"({"groups":["uksouth","westeurope"]})"},
      {"POST", "/partition", R"({"groups":[["uksouth"],[7]]})"},
      {"POST", "/partition", R"({"group":[["uksouth"],["westeurope"]]})"},
      {"POST", "/partition", ""},
      {"POST", "/partition", "nonsense"},
      {"POST", "/regions/mars/kill", ""},
      {"POST", "/regions/uksouth/kill", R"({"now":true})"},
      {"POST", "/regions/uksouth/clock", R"({"skewMs":"300"})"},
      {"POST", "/regions/uksouth/clock", R"({"skewMs":300,"extra":1})"},
      {"POST", "/regions/uksouth/offline", R"({"mode":"500"})"},
      {"POST", "/heal", "{"},
      {"POST", "/scenario", "{"},
      {"POST", "/scenario", R"({"atMs":0,"heal":true})"},
  };
  for (const auto& [method, path, body] : bad) {
    auto r = Admin(method, path, body);
    EXPECT_EQ(r.status, 400) << method << " " << path << " " << body << " -> " << r.body;
    auto j = Json::parse(r.body, nullptr, false);
    EXPECT_TRUE(j.is_object() && j.contains("code") && j.contains("message") && j["message"].is_string() &&
                !j["message"].get<std::string>().empty())
        << r.body;
  }
  EXPECT_EQ(Snapshot(), before);
  EXPECT_EQ(control_.apply_calls, calls);
  EXPECT_EQ(control_.kills, 0);
  EXPECT_TRUE(control_.scheduled.empty());
}

TEST_F(AdminFaultsTest, PartitionCutsEveryLinkBetweenGroupsBothWays) {
  auto j = Ok("POST", "/partition", R"({"groups":[["uksouth"],["westeurope","eastus"]]})");
  EXPECT_EQ(j["cut"].size(), 4u);
  auto partitioned = [&](const char* a, const char* b) { return Link(a, b)["faults"]["partitioned"].get<bool>(); };
  EXPECT_TRUE(partitioned("uksouth", "westeurope"));
  EXPECT_TRUE(partitioned("westeurope", "uksouth"));
  EXPECT_TRUE(partitioned("uksouth", "eastus"));
  EXPECT_TRUE(partitioned("eastus", "uksouth"));
  EXPECT_FALSE(partitioned("westeurope", "eastus"));  // same group
  EXPECT_FALSE(partitioned("eastus", "westeurope"));
  EXPECT_TRUE(Applied(2, 0).partitioned);
  // Link faults and the partition combine; DELETE heals one link of the cut.
  Ok("PUT", "/links/westeurope/eastus", R"({"delayMs":50})");
  Ok("DELETE", "/links/uksouth/eastus");
  EXPECT_FALSE(partitioned("uksouth", "eastus"));
  EXPECT_TRUE(partitioned("eastus", "uksouth"));
  // A PUT replaces the link's whole fault set, the cut included.
  Ok("PUT", "/links/westeurope/uksouth", R"({"delayMs":10})");
  EXPECT_FALSE(partitioned("westeurope", "uksouth"));
  // A new partition replaces the old one; explicit link faults stay.
  Ok("POST", "/partition", R"({"groups":[["westeurope"],["eastus"]]})");
  EXPECT_FALSE(partitioned("uksouth", "westeurope"));
  EXPECT_FALSE(partitioned("eastus", "uksouth"));
  EXPECT_TRUE(partitioned("westeurope", "eastus"));
  EXPECT_TRUE(partitioned("eastus", "westeurope"));
  EXPECT_EQ(Link("westeurope", "eastus")["faults"]["delayMs"], 50);
  EXPECT_EQ(Link("westeurope", "uksouth")["faults"]["delayMs"], 10);
  // Regions not listed form no cut.
  EXPECT_FALSE(partitioned("uksouth", "eastus"));
}

TEST_F(AdminFaultsTest, HealRemovesEveryFaultEverywhere) {
  Ok("PUT", "/links/uksouth/westeurope", R"({"delayMs":240,"dropRate":0.5})");
  Ok("POST", "/partition", R"({"groups":[["uksouth","westeurope"],["eastus"]]})");
  Ok("POST", "/regions/westeurope/offline", R"({"mode":"503"})");
  Ok("POST", "/regions/eastus/clock", R"({"skewMs":-300})");
  Ok("POST", "/regions/uksouth/kill");
  EXPECT_EQ(State(0), "killed");
  auto j = Ok("POST", "/heal");
  EXPECT_EQ(j["restarted"], Json::array({"uksouth"}));
  Json links = Ok("GET", "/links");
  for (const auto& l : links["links"]) {
    EXPECT_EQ(l["faults"], Link("uksouth", "eastus")["faults"]) << l.dump();
    EXPECT_EQ(l["faults"]["partitioned"], false);
    EXPECT_EQ(l["faults"]["delayMs"], 0);
  }
  for (const auto& [link, f] : control_.applied) EXPECT_FALSE(f.Any()) << link.first << "->" << link.second;
  Json regions = Ok("GET", "/regions");
  for (const auto& r : regions["regions"]) {
    EXPECT_EQ(r["state"], "online") << r.dump();
    EXPECT_EQ(r["clockSkewMs"], 0) << r.dump();
  }
}

TEST_F(AdminFaultsTest, KillAndRestartAndTheRequestsAKilledRegionRefuses) {
  Ok("POST", "/regions/westeurope/kill");
  EXPECT_EQ(State(1), "killed");
  EXPECT_EQ(control_.kills, 1);
  for (const auto& [path, body] : std::vector<std::pair<std::string, std::string>>{
           {"/regions/westeurope/kill", ""},
           {"/regions/westeurope/offline", R"({"mode":"503"})"},
           {"/regions/westeurope/online", ""},
           {"/regions/westeurope/clock", R"({"skewMs":5})"}}) {
    auto r = Admin("POST", path, body);
    EXPECT_EQ(r.status, 409) << path << " " << r.body;
    EXPECT_NE(Json::parse(r.body)["message"].get<std::string>().find("killed"), std::string::npos) << r.body;
  }
  EXPECT_EQ(control_.kills, 1);
  // Link faults from a killed region are kept (and applied on its restart).
  Ok("PUT", "/links/westeurope/uksouth", R"({"delayMs":5})");
  EXPECT_EQ(Link("westeurope", "uksouth")["fromState"], "killed");
  EXPECT_EQ(Link("uksouth", "westeurope")["toState"], "killed");
  Ok("POST", "/regions/westeurope/restart");
  EXPECT_EQ(State(1), "online");
  auto again = Admin("POST", "/regions/westeurope/restart");
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_EQ(control_.restarts, 1);
}

TEST_F(AdminFaultsTest, ScenarioIsValidatedWholeThenRunOnTheTimer) {
  // One bad step anywhere: 400, nothing scheduled, nothing changed.
  const std::string before = Snapshot();
  for (const char* bad : {
           R"([{"atMs":0,"heal":true},{"atMs":10,"put":{"from":"uksouth","to":"mars","delayMs":1}}])",
           R"([{"atMs":0,"put":{"from":"uksouth","to":"westeurope","delayMs":-1}}])",
           R"([{"atMs":-5,"heal":true}])",
           R"([{"heal":true}])",
           R"([{"atMs":0}])",
           R"([{"atMs":0,"heal":true,"partition":{"groups":[["uksouth"],["eastus"]]}}])",
           R"([{"atMs":0,"explode":true}])",
           R"([{"atMs":0,"region":{"name":"uksouth","offline":"500"}}])",
           R"([{"atMs":0,"region":{"name":"uksouth"}}])",
           R"([{"atMs":0,"clock":{"region":"uksouth","skewMs":"x"}}])",
           R"([{"atMs":0,"restart":{"region":"uksouth"}}])",
           R"([{"atMs":0,"kill":{"region":"uksouth"}},{"atMs":5,"kill":{"region":"uksouth"}}])",
           R"([{"atMs":0,"kill":{"region":"uksouth"}},{"atMs":5,"region":{"name":"uksouth","online":true}}])",
           R"([{"atMs":0,"delete":{"from":"uksouth"}}])",
           R"([{"atMs":0,"heal":false}])",
           R"("heal")",
       }) {
    auto r = Admin("POST", "/scenario", bad);
    EXPECT_EQ(r.status, 400) << bad << " -> " << r.body;
  }
  EXPECT_TRUE(control_.scheduled.empty());
  EXPECT_EQ(Snapshot(), before);

  auto r = Admin("POST", "/scenario", R"([
      {"atMs": 0, "put": {"from": "uksouth", "to": "westeurope", "delayMs": 240}},
      {"atMs": 2000, "partition": {"groups": [["uksouth"], ["westeurope"]]}},
      {"atMs": 5000, "heal": true},
      {"atMs": 6000, "region": {"name": "westeurope", "offline": "403"}},
      {"atMs": 8000, "region": {"name": "westeurope", "online": true}},
      {"atMs": 9000, "clock": {"region": "westeurope", "skewMs": 300}},
      {"atMs": 9500, "delete": {"from": "uksouth", "to": "westeurope"}},
      {"atMs": 10000, "kill": {"region": "eastus"}},
      {"atMs": 11000, "restart": {"region": "eastus"}},
      {"atMs": 12000, "region": {"name": "uksouth", "offline": "503"}}])");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(Json::parse(r.body)["steps"], 10);
  EXPECT_EQ(Ok("GET", "/scenario")["done"], 0);
  EXPECT_EQ(State(0), "online");  // nothing runs before the timer fires
  // Step by step.
  ASSERT_EQ(control_.scheduled.size(), 1u);
  auto step = [&] {
    ASSERT_FALSE(control_.scheduled.empty());
    auto next = std::move(control_.scheduled.front());
    control_.scheduled.erase(control_.scheduled.begin());
    next.second();
  };
  step();
  EXPECT_EQ(Applied(0, 1).delay_ms, 240);
  step();
  EXPECT_TRUE(Applied(1, 0).partitioned);
  step();
  EXPECT_FALSE(Applied(0, 1).Any());
  step();
  EXPECT_EQ(State(1), "offline-403");
  step();
  EXPECT_EQ(State(1), "online");
  step();
  EXPECT_EQ(Ok("GET", "/regions")["regions"][1]["clockSkewMs"], 300);
  step();
  step();
  EXPECT_EQ(State(2), "killed");
  step();
  EXPECT_EQ(State(2), "online");
  step();
  EXPECT_EQ(State(0), "offline-503");
  EXPECT_TRUE(control_.scheduled.empty());
  auto progress = Ok("GET", "/scenario");
  EXPECT_EQ(progress["done"], 10);
  EXPECT_EQ(progress["running"], false);
  EXPECT_TRUE(progress["errors"].empty());
}

TEST_F(AdminFaultsTest, ScenarioStepsRunInTimeOrderAtTheirOffsets) {
  auto r = Admin("POST", "/scenario", R"([{"atMs":300,"heal":true},{"atMs":100,"region":{"name":"uksouth","offline":"503"}}])");
  ASSERT_EQ(r.status, 202) << r.body;
  ASSERT_EQ(control_.scheduled.size(), 1u);
  EXPECT_GT(control_.scheduled[0].first, 50);  // ~100 ms from now
  EXPECT_LE(control_.scheduled[0].first, 100);
  control_.scheduled[0].second();
  control_.scheduled.erase(control_.scheduled.begin());
  EXPECT_EQ(State(0), "offline-503");
  ASSERT_EQ(control_.scheduled.size(), 1u);
  EXPECT_GT(control_.scheduled[0].first, 100);  // ~300 ms after the start
  // A newer scenario cancels the rest of the older one.
  ASSERT_EQ(Admin("POST", "/scenario", "[]").status, 202);
  control_.RunAll();
  EXPECT_EQ(State(0), "offline-503");  // the older heal never ran
}

TEST_F(AdminFaultsTest, MetricsExportTheLinkCountersAndFaults) {
  Ok("PUT", "/links/uksouth/westeurope", R"({"delayMs":240,"dropRate":0.3})");
  auto r = Admin("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("regionlab_link_frames_dropped_total{from=\"uksouth\",to=\"westeurope\"} 7"), std::string::npos);
  EXPECT_NE(r.body.find("regionlab_link_frames_total{from=\"westeurope\",to=\"eastus\"} 112"), std::string::npos);
  EXPECT_NE(r.body.find("regionlab_link_fault_delay_seconds{from=\"uksouth\",to=\"westeurope\"} 0.24"), std::string::npos);
  EXPECT_NE(r.body.find("regionlab_link_fault_drop_ratio{from=\"uksouth\",to=\"westeurope\"} 0.3"), std::string::npos);
  EXPECT_NE(r.body.find("regionlab_link_partitioned{from=\"uksouth\",to=\"westeurope\"} 0"), std::string::npos);
  EXPECT_NE(r.body.find("# TYPE regionlab_link_frames_queued gauge"), std::string::npos);
  EXPECT_NE(r.body.find("regionlab_link_retransmits_total{from=\"uksouth\",to=\"westeurope\"}"), std::string::npos);
}

}  // namespace
}  // namespace regionlab::admin
