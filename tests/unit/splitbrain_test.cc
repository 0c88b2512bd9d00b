// The split-brain report on histories made in the in-process simulation:
// concurrent writes in two regions (a partition), ordered ones (replicated in
// time, then overwritten), writes farther apart than the window, and the
// filters; the same report from either region's log.
#include "admin/splitbrain.h"

#include "admin/admin_api.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/sim_cluster.h"

namespace regionlab {
namespace {

using Json = nlohmann::json;
using testing::SimCluster;

server::HttpResponse Put(SimCluster& sim, int r, const std::string& id, int v) {
  Json doc = {{"id", id}, {"pk", "p"}, {"v", v}};
  return sim.Request(r, "POST", "/dbs/db/colls/c/docs", doc.dump(),
                     {{"x-ms-documentdb-partitionkey", R"(["p"])"}, {"x-ms-documentdb-is-upsert", "true"}});
}

testing::SimOptions Options(uint64_t seed) {
  testing::SimOptions o;
  o.regions = 2;
  o.seed = seed;
  return o;
}

void CreateContainer(SimCluster& sim) {
  ASSERT_EQ(sim.Request(0, "POST", "/dbs", R"({"id":"db"})").status, 201);
  ASSERT_EQ(sim.Request(0, "POST", "/dbs/db/colls", R"({"id":"c","partitionKey":{"paths":["/pk"],"kind":"Hash"}})").status,
            201);
  ASSERT_TRUE(sim.RunUntilQuiet());
}

const admin::SplitBrainDocument* Find(const std::vector<admin::SplitBrainDocument>& docs, const std::string& id) {
  for (const auto& d : docs) {
    if (d.id == id) return &d;
  }
  return nullptr;
}

TEST(SplitBrainTest, ReportsWritesInTwoRegionsWithinTheWindowAndWhetherTheyWereConcurrent) {
  SimCluster sim(Options(9));
  ASSERT_NO_FATAL_FAILURE(CreateContainer(sim));

  // Concurrent: the story's invoice, written on both sides of a partition 240 ms apart.
  sim.faults(0, 1).partitioned = sim.faults(1, 0).partitioned = true;
  ASSERT_EQ(Put(sim, 0, "inv-1", 1).status / 100, 2);
  sim.AdvanceMillis(240);
  ASSERT_EQ(Put(sim, 1, "inv-1", 2).status / 100, 2);
  sim.HealAll();
  ASSERT_TRUE(sim.RunUntilQuiet());
  sim.AdvanceMillis(5000);

  // Ordered: written in region 0, replicated, then overwritten in region 1 within the window.
  ASSERT_EQ(Put(sim, 0, "inv-2", 1).status / 100, 2);
  ASSERT_TRUE(sim.RunUntilQuiet());
  ASSERT_EQ(Put(sim, 1, "inv-2", 2).status / 100, 2);
  ASSERT_TRUE(sim.RunUntilQuiet());
  sim.AdvanceMillis(5000);

  // Far apart: not a split brain at a 1 s window.
  ASSERT_EQ(Put(sim, 0, "inv-3", 1).status / 100, 2);
  ASSERT_TRUE(sim.RunUntilQuiet());
  sim.AdvanceMillis(3000);
  ASSERT_EQ(Put(sim, 1, "inv-3", 2).status / 100, 2);
  // One region only.
  ASSERT_EQ(Put(sim, 0, "inv-4", 1).status / 100, 2);
  ASSERT_EQ(Put(sim, 0, "inv-4", 2).status / 100, 2);
  ASSERT_TRUE(sim.RunUntilQuiet());

  admin::SplitBrainOptions opts;
  for (int r = 0; r < 2; ++r) {  // each region's log tells the whole story
    auto docs = admin::FindSplitBrain({&sim.store(r)}, opts);
    ASSERT_TRUE(docs.ok()) << docs.status().ToString();
    const auto* conc = Find(*docs, "inv-1");
    ASSERT_NE(conc, nullptr) << "region " << r;
    EXPECT_EQ(conc->database, "db");
    EXPECT_EQ(conc->container, "c");
    ASSERT_EQ(conc->writes.size(), 2u);
    EXPECT_EQ(conc->writes[0].region, 0u);
    EXPECT_EQ(conc->writes[1].region, 1u);
    EXPECT_EQ(conc->writes[1].time_ms - conc->writes[0].time_ms, 240);
    EXPECT_TRUE(conc->writes[0].concurrent && conc->writes[1].concurrent);
    const auto* ordered = Find(*docs, "inv-2");
    ASSERT_NE(ordered, nullptr);
    ASSERT_EQ(ordered->writes.size(), 2u);
    EXPECT_FALSE(ordered->writes[0].concurrent || ordered->writes[1].concurrent);
    EXPECT_EQ(Find(*docs, "inv-3"), nullptr);
    EXPECT_EQ(Find(*docs, "inv-4"), nullptr);
  }
  opts.window_ms = 5000;
  auto wide = admin::FindSplitBrain({&sim.store(0), &sim.store(1)}, opts);
  ASSERT_TRUE(wide.ok());
  EXPECT_NE(Find(*wide, "inv-3"), nullptr);
  ASSERT_NE(Find(*wide, "inv-1"), nullptr);
  EXPECT_EQ(Find(*wide, "inv-1")->writes.size(), 2u);  // the same versions in two logs count once
  opts.container = "other";
  auto none = admin::FindSplitBrain({&sim.store(0)}, opts);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}


TEST(SplitBrainTest, TheMetricsCounterCountsEachSplitWriteOnceAcrossScrapes) {
  SimCluster sim(Options(4));
  ASSERT_NO_FATAL_FAILURE(CreateContainer(sim));
  server::RegionContext ctx;
  ctx.store = &sim.store(1);
  admin::AdminContext admin;
  admin.regions.push_back(&ctx);
  auto metric = [&] {
    server::HttpRequest req;
    req.method = "GET";
    req.target = req.path = "/metrics";
    const std::string body = admin::HandleAdmin(admin, req).body;
    const std::string name = "regionlab_splitbrain_writes_total{database=\"db\",container=\"c\"} ";
    const size_t at = body.find(name);
    return at == std::string::npos ? std::string("absent") : body.substr(at + name.size(), body.find('\n', at) - at - name.size());
  };
  EXPECT_EQ(metric(), "absent");
  sim.faults(0, 1).partitioned = sim.faults(1, 0).partitioned = true;
  ASSERT_EQ(Put(sim, 0, "inv-1", 1).status / 100, 2);
  sim.AdvanceMillis(240);
  ASSERT_EQ(Put(sim, 1, "inv-1", 2).status / 100, 2);
  EXPECT_EQ(metric(), "absent");  // region 1 has not seen region 0's write yet
  sim.HealAll();
  ASSERT_TRUE(sim.RunUntilQuiet());
  EXPECT_EQ(metric(), "2");  // both writes of the pair
  EXPECT_EQ(metric(), "2");  // counted once
  sim.AdvanceMillis(5000);
  ASSERT_EQ(Put(sim, 0, "inv-1", 3).status / 100, 2);  // alone: not a split write
  ASSERT_TRUE(sim.RunUntilQuiet());
  EXPECT_EQ(metric(), "2");
}

}  // namespace
}  // namespace regionlab
