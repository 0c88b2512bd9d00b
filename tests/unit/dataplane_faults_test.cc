// Data-plane faults: rule matching and seeded decisions (DataPlaneFaults),
// what a region answers under a rule and what its request log says
// (HandleDataPlane through TestRegion), and the management API's rules
// (validation that changes nothing, DELETE, /heal, scenario steps, the log).
#include "server/dataplane_faults.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "admin/admin_api.h"
#include "server/data_plane.h"
#include "tests/support/test_region.h"

namespace regionlab {
namespace {

using Json = nlohmann::json;
using server::DataPlaneDecision;
using server::DataPlaneFaults;
using server::DataPlaneRule;
using server::HttpResponse;
using server::RequestClass;

RequestClass Req(std::string op, std::string db = "billing", std::string coll = "invoices", std::string pk = "") {
  RequestClass c;
  c.operation = std::move(op);
  c.resource_type = "docs";
  c.database = std::move(db);
  c.container = std::move(coll);
  c.partition_key = std::move(pk);
  c.partition_key_range = "0";
  c.write = c.operation == "write";
  return c;
}

TEST(DataPlaneFaultsTest, FirstMatchingRuleActsAndAbsentFieldsMatchAnything) {
  DataPlaneFaults f;
  DataPlaneRule slow_reads;
  slow_reads.operation = "read";
  slow_reads.container = "invoices";
  slow_reads.delay_ms = 300;
  DataPlaneRule acme_writes;
  acme_writes.operation = "write";
  acme_writes.partition_key = "\"acme\"";
  acme_writes.status = 503;
  DataPlaneRule everything;
  everything.status = 429;
  everything.sub_status = 3200;
  f.Set({slow_reads, acme_writes, everything}, 7, 0);

  DataPlaneDecision d = f.Decide(Req("read"));
  EXPECT_EQ(d.rule, 0);
  EXPECT_EQ(d.delay_ms, 300);
  EXPECT_EQ(d.status, 0);
  d = f.Decide(Req("write", "billing", "invoices", "\"acme\""));
  EXPECT_EQ(d.rule, 1);
  EXPECT_EQ(d.status, 503);
  d = f.Decide(Req("write", "billing", "invoices", "\"globex\""));
  EXPECT_EQ(d.rule, 2);
  EXPECT_EQ(d.status, 429);
  EXPECT_EQ(d.retry_after_ms, 100);  // a 429 always says when to retry
  d = f.Decide(Req("read", "billing", "orders"));
  EXPECT_EQ(d.rule, 2);

  auto stats = f.Stats();
  ASSERT_EQ(stats.size(), 3u);
  EXPECT_EQ(stats[0].matched, 1u);
  EXPECT_EQ(stats[1].matched, 1u);
  EXPECT_EQ(stats[2].matched, 2u);
  EXPECT_EQ(stats[2].injected, 2u);

  f.Set({}, 7, 0);
  EXPECT_TRUE(f.empty());
  EXPECT_EQ(f.Decide(Req("read")).rule, -1);
}

TEST(DataPlaneFaultsTest, WritesOnlyLeavesReadsAlone) {
  DataPlaneFaults f;
  DataPlaneRule r;
  r.writes_only = true;
  r.status = 503;
  f.Set({r}, 1, 0);
  EXPECT_EQ(f.Decide(Req("read")).rule, -1);
  EXPECT_EQ(f.Decide(Req("query")).rule, -1);
  EXPECT_EQ(f.Decide(Req("write")).status, 503);
}

TEST(DataPlaneFaultsTest, RateDrawsComeFromTheSeed) {
  DataPlaneRule r;
  r.rate = 0.3;
  r.status = 503;
  r.delay_ms = 100;
  r.jitter_ms = 50;
  auto run = [&](uint64_t seed, uint32_t region) {
    DataPlaneFaults f;
    f.Set({r}, seed, region);
    std::vector<int64_t> out;
    for (int i = 0; i < 2000; ++i) {
      DataPlaneDecision d = f.Decide(Req("read"));
      out.push_back(d.rule < 0 ? -1 : d.delay_ms);
    }
    return out;
  };
  const auto a = run(42, 0), b = run(42, 0), c = run(43, 0), d = run(42, 1);
  EXPECT_EQ(a, b);  // same seed, same requests: same decisions
  EXPECT_NE(a, c);
  EXPECT_NE(a, d);  // each region has its own stream
  const auto hits = std::count_if(a.begin(), a.end(), [](int64_t v) { return v >= 0; });
  EXPECT_GT(hits, 2000 * 0.3 - 120);
  EXPECT_LT(hits, 2000 * 0.3 + 120);
  for (int64_t v : a) {
    if (v >= 0) {
      EXPECT_GE(v, 50);
      EXPECT_LE(v, 150);
    }
  }
}

TEST(RequestLogTest, KeepsTheMostRecentEntriesOldestFirst) {
  server::RequestLog log(3);
  for (int i = 0; i < 5; ++i) {
    server::RequestLogEntry e;
    e.status = 200 + i;
    log.Add(e);
  }
  auto last = log.Last(10);
  ASSERT_EQ(last.size(), 3u);
  EXPECT_EQ(last[0].status, 202);
  EXPECT_EQ(last[2].status, 204);
  ASSERT_EQ(log.Last(1).size(), 1u);
  EXPECT_EQ(log.Last(1)[0].status, 204);
}

// ---- a region under rules, through its data plane

class DataPlaneRegionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    region_ = std::move(testing::TestRegion::Create()).value();
    ASSERT_EQ(region_->Call("POST", "/dbs", R"({"id":"billing"})").status, 201);
    ASSERT_EQ(region_->Call("POST", "/dbs/billing/colls",
                            R"({"id":"invoices","partitionKey":{"paths":["/customer"],"kind":"Hash"}})")
                  .status,
              201);
    admin_.regions.push_back(&region_->context());
    admin_.seed = 11;
  }

  HttpResponse Admin(const std::string& method, const std::string& path, const std::string& body = "",
                     const std::string& query = "") {
    server::HttpRequest req;
    req.method = method;
    req.target = req.path = path;
    req.query = query;
    req.body = body;
    return admin::HandleAdmin(admin_, req);
  }

  HttpResponse Create(const std::string& id, const std::string& customer, testing::Headers extra = {}) {
    extra.push_back({"x-ms-documentdb-partitionkey", "[\"" + customer + "\"]"});
    return region_->Call("POST", "/dbs/billing/colls/invoices/docs",
                         R"({"id":")" + id + R"(","customer":")" + customer + R"("})", extra);
  }
  HttpResponse Read(const std::string& id, const std::string& customer) {
    return region_->Call("GET", "/dbs/billing/colls/invoices/docs/" + id, "",
                         {{"x-ms-documentdb-partitionkey", "[\"" + customer + "\"]"}});
  }

  std::unique_ptr<testing::TestRegion> region_;
  admin::AdminContext admin_;
};

TEST_F(DataPlaneRegionTest, WritesOnlyRuleFailsWritesWithA503AndChangesNothing) {
  ASSERT_EQ(Create("inv-1", "acme").status, 201);
  auto put = Admin("PUT", "/regions/uksouth/dataplane", R"({"rules":[{"writesOnly":true}]})");
  ASSERT_EQ(put.status, 200) << put.body;
  HttpResponse w = Create("inv-2", "acme");
  EXPECT_EQ(w.status, 503);
  Json body = Json::parse(w.body);
  EXPECT_EQ(body["code"], "ServiceUnavailable");
  EXPECT_NE(body["message"].get<std::string>().find("Injected"), std::string::npos);
  EXPECT_EQ(Read("inv-1", "acme").status, 200);  // reads work
  EXPECT_EQ(Read("inv-2", "acme").status, 404);  // the refused write left nothing
  // /health/deep writes to the store: it fails too, as a deep health check should.
  EXPECT_EQ(region_->Call("GET", "/health/deep").status, 503);
  ASSERT_EQ(Admin("DELETE", "/regions/uksouth/dataplane").status, 200);
  EXPECT_EQ(Create("inv-2", "acme").status, 201);
}

TEST_F(DataPlaneRegionTest, StatusRuleAnswersCosmosShapedWithSubStatusAndRetryAfter) {
  ASSERT_EQ(Admin("PUT", "/regions/uksouth/dataplane",
                  R"({"rules":[{"operation":"write","partitionKey":"acme","status":429,"subStatus":3200,"retryAfterMs":250},
                               {"operation":"read","status":410,"subStatus":1002}]})")
                .status,
            200);
  HttpResponse w = Create("inv-1", "acme");
  EXPECT_EQ(w.status, 429);
  ASSERT_NE(testing::FindHeader(w, "x-ms-substatus"), nullptr);
  EXPECT_EQ(*testing::FindHeader(w, "x-ms-substatus"), "3200");
  ASSERT_NE(testing::FindHeader(w, "x-ms-retry-after-ms"), nullptr);
  EXPECT_EQ(*testing::FindHeader(w, "x-ms-retry-after-ms"), "250");
  EXPECT_EQ(Create("inv-2", "globex").status, 201);  // another partition key is not matched
  HttpResponse r = Read("inv-2", "globex");
  EXPECT_EQ(r.status, 410);
  EXPECT_EQ(Json::parse(r.body)["code"], "Gone");
}

TEST_F(DataPlaneRegionTest, DelayResetAndHangAreLeftToTheHttpLayer) {
  ASSERT_EQ(Admin("PUT", "/regions/uksouth/dataplane",
                  R"({"rules":[{"operation":"read","delayMs":300},{"operation":"query","reset":true},
                               {"operation":"feed","hang":true}]})")
                .status,
            200);
  ASSERT_EQ(Create("inv-1", "acme").status, 201);
  HttpResponse r = Read("inv-1", "acme");
  EXPECT_EQ(r.status, 200);  // processed now, answered 300 ms later by the server
  EXPECT_EQ(r.delay_ms, 300);
  HttpResponse q = region_->Call("POST", "/dbs/billing/colls/invoices/docs", R"({"query":"SELECT * FROM c"})",
                                 {{"x-ms-documentdb-isquery", "true"}, {"content-type", "application/query+json"}});
  EXPECT_EQ(q.disposition, HttpResponse::Disposition::kReset);
  HttpResponse feed = region_->Call("GET", "/dbs/billing/colls/invoices/docs");
  EXPECT_EQ(feed.disposition, HttpResponse::Disposition::kHang);
}

TEST_F(DataPlaneRegionTest, RequestLogTellsWhatTheClientSentAndWhatItGot) {
  ASSERT_EQ(Admin("PUT", "/regions/uksouth/dataplane", R"({"rules":[{"operation":"write","status":503}]})").status,
            200);
  EXPECT_EQ(Create("inv-1", "acme", {{"x-ms-client-request-id", "req-1"}, {"user-agent", "app/1.0"}}).status, 503);
  EXPECT_EQ(Read("inv-1", "acme").status, 404);
  auto log = Admin("GET", "/regions/uksouth/requests", "", "last=2");
  ASSERT_EQ(log.status, 200) << log.body;
  Json j = Json::parse(log.body)["requests"];
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["operation"], "write");
  EXPECT_EQ(j[0]["status"], 503);
  EXPECT_EQ(j[0]["rule"], 0);
  EXPECT_EQ(j[0]["clientRequestId"], "req-1");
  EXPECT_EQ(j[0]["userAgent"], "app/1.0");
  EXPECT_EQ(j[0]["partitionKey"], "\"acme\"");
  EXPECT_EQ(j[1]["operation"], "read");
  EXPECT_EQ(j[1]["status"], 404);
  EXPECT_TRUE(j[1]["rule"].is_null());
  EXPECT_EQ(Admin("GET", "/regions/uksouth/requests", "", "last=0").status, 400);
  EXPECT_EQ(Admin("GET", "/regions/uksouth/requests", "", "last=x").status, 400);

  Json regions = Json::parse(Admin("GET", "/regions").body);
  EXPECT_EQ(regions["regions"][0]["dataplane"][0]["matched"], 1);
  EXPECT_EQ(regions["regions"][0]["dataplane"][0]["injected"], 1);
  EXPECT_NE(Admin("GET", "/metrics").body.find("regionlab_dataplane_rule_injected_total{region=\"uksouth\",rule=\"0\"} 1"),
            std::string::npos);
}

TEST_F(DataPlaneRegionTest, BadRulesAreRefusedAndChangeNothing) {
  ASSERT_EQ(Admin("PUT", "/regions/uksouth/dataplane", R"({"rules":[{"operation":"read","delayMs":100}]})").status,
            200);
  const std::string before = Admin("GET", "/regions").body;
  for (const char* bad : {
           R"({"rules":[{"operation":"reads","status":503}]})",   // unknown operation
           R"({"rules":[{"status":200}]})",                        // not an error
           R"({"rules":[{"rate":1.5,"status":503}]})",             // rate out of range
           R"({"rules":[{"operation":"read"}]})",                  // no action
           R"({"rules":[{"status":503,"reset":true}]})",           // two answers
           R"({"rules":[{"subStatus":3200}]})",                    // a sub-status without a status
           R"({"rules":[{"delayMs":-1}]})",                        // negative
           R"({"rules":[{"statuss":503}]})",                       // unknown key
           R"({"rules":[{"writesOnly":true,"operation":"read"}]})",  // contradiction
           R"({"rules":{}})",
           R"([1])",
           R"(not json)",
       }) {
    HttpResponse r = Admin("PUT", "/regions/uksouth/dataplane", bad);
    EXPECT_EQ(r.status, 400) << bad << " -> " << r.body;
    EXPECT_TRUE(Json::parse(r.body, nullptr, false).contains("message")) << r.body;
  }
  EXPECT_EQ(Admin("GET", "/regions").body, before);
  EXPECT_EQ(Admin("PUT", "/regions/nowhere/dataplane", R"({"rules":[]})").status, 400);  // unknown region
}

TEST_F(DataPlaneRegionTest, HealRemovesDataPlaneRulesToo) {
  ASSERT_EQ(Admin("PUT", "/regions/uksouth/dataplane", R"({"rules":[{"status":503}]})").status, 200);
  EXPECT_EQ(Create("inv-1", "acme").status, 503);
  ASSERT_EQ(Admin("POST", "/heal").status, 200);
  EXPECT_EQ(Create("inv-1", "acme").status, 201);
}

}  // namespace
}  // namespace regionlab
