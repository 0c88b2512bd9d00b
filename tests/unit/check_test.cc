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
  void Record(const std::string& id, const std::string& etag, const std::string& session = "") {
    Json line = {{"database", "db"}, {"container", "c"}, {"id", id}, {"partitionKey", "p"}, {"etag", etag}};
    if (!session.empty()) line["session"] = session;
    history_ += line.dump() + "\n";
  }
  // A read in region r, recorded with its x-regionlab-version, as the recorder does.
  void Read(int r, const std::string& id, const std::string& session) {
    auto resp = sim_.Request(r, "GET", "/dbs/db/colls/c/docs/" + id, "", {{"x-ms-documentdb-partitionkey", R"(["p"])"}});
    Json line = {{"op", "read"}, {"database", "db"}, {"container", "c"}, {"id", id}, {"partitionKey", "p"},
                 {"session", session}, {"status", resp.status}};
    for (const auto& [k, v] : resp.headers) {
      if (k == "x-regionlab-version") line["version"] = v;
      if (k == "etag" && resp.status == 200) line["etag"] = v;
    }
    history_ += line.dump() + "\n";
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

TEST_F(CheckTest, SessionGuaranteesAreCheckedAndAStaleReadIsReported) {
  // s1 writes in uksouth and reads in westeurope once replicated: read-your-writes holds.
  Json doc = {{"id", "a"}, {"pk", "p"}, {"v", 1}};
  auto w = sim_.Request(0, "POST", "/dbs/db/colls/c/docs", doc.dump(), {{"x-ms-documentdb-partitionkey", R"(["p"])"}});
  ASSERT_EQ(w.status, 201);
  Record("a", Json::parse(w.body)["_etag"], "s1");
  ASSERT_TRUE(sim_.RunUntilQuiet());
  Read(1, "a", "s1");
  Read(0, "a", "s1");
  admin::CheckReport r = Check();
  EXPECT_TRUE(r.ok()) << (r.session_violations.empty() ? "" : r.session_violations[0]);
  EXPECT_EQ(r.reads, 2u);

  // A planted stale read: s2 updates it in uksouth and reads westeurope before replication.
  sim_.faults(0, 1).partitioned = sim_.faults(1, 0).partitioned = true;
  doc["v"] = 2;
  auto w2 = sim_.Request(0, "POST", "/dbs/db/colls/c/docs", doc.dump(),
                         {{"x-ms-documentdb-partitionkey", R"(["p"])"}, {"x-ms-documentdb-is-upsert", "true"}});
  ASSERT_EQ(w2.status, 200);
  Record("a", Json::parse(w2.body)["_etag"], "s2");
  Read(0, "a", "s2");
  Read(1, "a", "s2");
  sim_.HealAll();
  ASSERT_TRUE(sim_.RunUntilQuiet());
  r = Check();
  ASSERT_EQ(r.session_violations.size(), 2u);
  EXPECT_NE(r.session_violations[0].find("read-your-writes: session s2"), std::string::npos) << r.session_violations[0];
  EXPECT_NE(r.session_violations[1].find("monotonic reads: session s2"), std::string::npos) << r.session_violations[1];
  EXPECT_TRUE(r.lost.empty());
}

TEST_F(CheckTest, AConflictRecordedTwiceIsReported) {
  sim_.faults(0, 1).partitioned = sim_.faults(1, 0).partitioned = true;
  ASSERT_NO_FATAL_FAILURE(Upsert(0, "inv", 1));
  sim_.AdvanceMillis(1500);
  ASSERT_NO_FATAL_FAILURE(Upsert(1, "inv", 2));
  sim_.HealAll();
  ASSERT_TRUE(sim_.RunUntilQuiet());
  admin::CheckReport r = Check();
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.in_conflicts, 2u);
  // A planted bug: the same loser recorded under a second conflict id in uksouth.
  auto coll = sim_.store(0).Get(storage::keys::Container("db", "c"));
  const std::string coll_rid = *Base64Decode((*coll)->rid);
  std::optional<std::pair<std::string, storage::Record>> conflict;
  ASSERT_TRUE(sim_.store(0).Scan(storage::keys::ConflictPrefix(coll_rid), "", false, [&](std::string_view k, storage::Record&& c) {
    conflict.emplace(std::string(k), std::move(c));
    return false;
  }).ok());
  ASSERT_TRUE(conflict.has_value());
  ASSERT_TRUE(sim_.store(0).Write([&](const storage::WriteContext&) -> Result<storage::WriteSet> {
    storage::WriteSet set;
    set.puts.emplace_back(conflict->first + "-copy", conflict->second);
    set.origin_region = 1;
    set.origin_lsn = 1;
    return set;
  }).ok());
  r = Check();
  ASSERT_EQ(r.duplicate_conflicts.size(), 1u);
  EXPECT_NE(r.duplicate_conflicts[0].find("uksouth"), std::string::npos) << r.duplicate_conflicts[0];
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace regionlab
