// The history checker (POST /check): a history of acknowledged writes made in
// two regions, across a partition with conflicts, is fully accounted for;
// writes a region has not applied yet are pending; and planted bugs — an
// etag never issued, a version overwritten by one that does not cover it —
// are reported as lost.
#include "admin/check.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/encoding.h"
#include "storage/keys.h"
#include "tests/support/sim_cluster.h"

namespace regionlab {
namespace {

using Json = nlohmann::json;
using testing::SimCluster;

class CheckTest : public ::testing::Test {
 protected:
  CheckTest() : sim_(Options()) {}
  static testing::SimOptions Options() {
    testing::SimOptions o;
    o.regions = 2;
    o.seed = 23;
    return o;
  }
  void SetUp() override {
    ASSERT_EQ(sim_.Request(0, "POST", "/dbs", R"({"id":"db"})").status, 201);
    auto c = sim_.Request(0, "POST", "/dbs/db/colls",
                          R"({"id":"c","partitionKey":{"paths":["/pk"]},
                              "conflictResolutionPolicy":{"mode":"LastWriterWins","conflictResolutionPath":"/_ts","recordLosers":true}})");
    ASSERT_EQ(c.status, 201) << c.body;
    ASSERT_TRUE(sim_.RunUntilQuiet());
  }
  // An upsert in region r, recorded in the history when acknowledged.
  void Upsert(int r, const std::string& id, int v) {
    Json doc = {{"id", id}, {"pk", "p"}, {"v", v}};
    auto resp = sim_.Request(r, "POST", "/dbs/db/colls/c/docs", doc.dump(),
                             {{"x-ms-documentdb-partitionkey", R"(["p"])"}, {"x-ms-documentdb-is-upsert", "true"}});
    ASSERT_EQ(resp.status / 100, 2) << resp.body;
    Record(id, Json::parse(resp.body)["_etag"]);
  }
  void Delete(int r, const std::string& id) {
    auto resp = sim_.Request(r, "DELETE", "/dbs/db/colls/c/docs/" + id, "", {{"x-ms-documentdb-partitionkey", R"(["p"])"}});
    ASSERT_EQ(resp.status, 204) << resp.body;
    std::string etag;
    for (const auto& [k, v] : resp.headers) {
      if (k == "etag") etag = v;
    }
    ASSERT_FALSE(etag.empty());
    Record(id, etag);
  }
  void Record(const std::string& id, const std::string& etag) {
    history_ += Json{{"database", "db"}, {"container", "c"}, {"id", id}, {"partitionKey", "p"}, {"etag", etag}}.dump();
    history_ += "\n";
  }
  admin::CheckReport Check() {
    std::vector<server::RegionContext*> regions = {&sim_.context(0), &sim_.context(1)};
    auto report = admin::CheckHistory(regions, history_);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : admin::CheckReport{};
  }
  SimCluster sim_;
  std::string history_;
};

TEST_F(CheckTest, AHistoryWithConflictsIsFullyAccountedFor) {
  for (int i = 0; i < 5; ++i) ASSERT_NO_FATAL_FAILURE(Upsert(i % 2, "d" + std::to_string(i), i));
  ASSERT_NO_FATAL_FAILURE(Upsert(0, "d0", 10));  // supersedes the first
  ASSERT_NO_FATAL_FAILURE(Delete(1, "d1"));
  ASSERT_TRUE(sim_.RunUntilQuiet());
  sim_.faults(0, 1).partitioned = sim_.faults(1, 0).partitioned = true;
  ASSERT_NO_FATAL_FAILURE(Upsert(0, "inv", 1));
  sim_.AdvanceMillis(240);
  ASSERT_NO_FATAL_FAILURE(Upsert(1, "inv", 2));
  sim_.HealAll();
  ASSERT_TRUE(sim_.RunUntilQuiet());

  admin::CheckReport r = Check();
  EXPECT_TRUE(r.ok()) << (r.lost.empty() ? "" : r.lost[0].detail);
  EXPECT_EQ(r.writes, 9u);
  EXPECT_EQ(r.current + r.superseded + r.in_conflicts, 18u);  // every write, in both regions
  EXPECT_EQ(r.in_conflicts, 2u) << "the story's losing invoice, recorded in both regions";
  EXPECT_GE(r.superseded, 2u);
}

TEST_F(CheckTest, WritesNotYetReplicatedArePendingNotLost) {
  sim_.faults(0, 1).partitioned = sim_.faults(1, 0).partitioned = true;
  ASSERT_NO_FATAL_FAILURE(Upsert(0, "a", 1));
  admin::CheckReport r = Check();
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.pending.size(), 1u);
  EXPECT_EQ(r.pending[0].region, "westeurope");
  EXPECT_TRUE(r.lost.empty());
  sim_.HealAll();
  ASSERT_TRUE(sim_.RunUntilQuiet());
  EXPECT_TRUE(Check().ok());
}

TEST_F(CheckTest, PlantedBugsAreReportedAsLost) {
  ASSERT_NO_FATAL_FAILURE(Upsert(0, "a", 1));
  ASSERT_TRUE(sim_.RunUntilQuiet());
  // 1. An acknowledgement the region never gave.
  const std::string before_ghost = history_;
  Record("ghost", "\"00000000-0000-0000-0000-0000000fffff\"");
  admin::CheckReport r = Check();
  ASSERT_EQ(r.lost.size(), 1u);
  EXPECT_EQ(r.lost[0].id, "ghost");
  history_ = before_ghost;
  EXPECT_TRUE(Check().ok());

  // 2. A buggy apply in westeurope: the document overwritten by a version
  //    that does not cover the acknowledged write.
  storage::Store& store = sim_.store(1);
  std::string key;
  auto coll = store.Get(storage::keys::Container("db", "c"));
  ASSERT_TRUE(coll.ok() && coll->has_value());
  const std::string coll_rid = *Base64Decode((*coll)->rid);
  key = storage::keys::Document(coll_rid, R"(["p"])", "a");
  auto cur = store.Get(key);
  ASSERT_TRUE(cur.ok() && cur->has_value());
  ASSERT_TRUE(store.Write([&](const storage::WriteContext&) -> Result<storage::WriteSet> {
    storage::Record bad = **cur;
    bad.version = {{1, 1}};
    bad.etag = "\"00000001-0000-0000-0000-000000000001\"";
    storage::WriteSet set;
    set.puts.emplace_back(key, bad);
    set.origin_region = 1;
    set.origin_lsn = 1;
    return set;
  }).ok());
  r = Check();
  ASSERT_EQ(r.lost.size(), 1u);
  EXPECT_EQ(r.lost[0].region, "westeurope");
  EXPECT_EQ(r.lost[0].id, "a");
  EXPECT_EQ(r.divergent.size(), 1u);
}

}  // namespace
}  // namespace regionlab
