// Time to live: the expiry rules (container defaultTtl, item ttl, -1), what
// readers see at the moment of expiry, the purge, and regions with skewed
// clocks converging when an update made in one region extends a life that
// another region has already ended.
#include "server/ttl.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "storage/types.h"
#include "tests/support/sim_cluster.h"

namespace regionlab {
namespace {

using Json = nlohmann::json;
using storage::ExpiresAtSeconds;
using testing::SimCluster;

storage::Record Doc(int64_t ts, int64_t item_ttl) {
  storage::Record r;
  r.kind = storage::RecordKind::kDocument;
  r.ts = ts;
  r.ttl = item_ttl;
  return r;
}

TEST(TtlRulesTest, ContainerDefaultAndItemTtl) {
  // TTL off on the container: nothing expires, an item's ttl is ignored.
  EXPECT_EQ(ExpiresAtSeconds(Doc(100, 0), std::nullopt), std::nullopt);
  EXPECT_EQ(ExpiresAtSeconds(Doc(100, 5), std::nullopt), std::nullopt);
  // -1: on, but items live forever unless they set their own ttl.
  EXPECT_EQ(ExpiresAtSeconds(Doc(100, 0), -1), std::nullopt);
  EXPECT_EQ(ExpiresAtSeconds(Doc(100, 5), -1), 105);
  // n: items expire n seconds after their last write; an item's ttl overrides, -1 never.
  EXPECT_EQ(ExpiresAtSeconds(Doc(100, 0), 10), 110);
  EXPECT_EQ(ExpiresAtSeconds(Doc(100, 3), 10), 103);
  EXPECT_EQ(ExpiresAtSeconds(Doc(100, 30), 10), 130);
  EXPECT_EQ(ExpiresAtSeconds(Doc(100, -1), 10), std::nullopt);
  // Expired from the second it reaches, not before.
  EXPECT_FALSE(storage::IsExpired(Doc(100, 0), 10, 109'999'999));
  EXPECT_TRUE(storage::IsExpired(Doc(100, 0), 10, 110'000'000));
  storage::Record tomb = Doc(100, 0);
  tomb.tombstone = true;
  EXPECT_EQ(ExpiresAtSeconds(tomb, 10), std::nullopt);
}

const std::vector<std::pair<std::string, std::string>> kPk = {{"x-ms-documentdb-partitionkey", R"(["p"])"}};

server::HttpResponse Create(SimCluster& sim, int r, Json doc) {
  doc["pk"] = "p";
  return sim.Request(r, "POST", "/dbs/db/colls/c/docs", doc.dump(), kPk);
}
int Read(SimCluster& sim, int r, const std::string& id) {
  return sim.Request(r, "GET", "/dbs/db/colls/c/docs/" + id, "", kPk).status;
}
int64_t Count(SimCluster& sim, int r) {
  auto resp = sim.Request(r, "POST", "/dbs/db/colls/c/docs", R"({"query":"SELECT VALUE COUNT(1) FROM c"})",
                          {{"x-ms-documentdb-isquery", "true"}, {"content-type", "application/query+json"}});
  EXPECT_EQ(resp.status, 200) << resp.body;
  return Json::parse(resp.body)["Documents"][0].get<int64_t>();
}
size_t FeedCount(SimCluster& sim, int r) {
  auto resp = sim.Request(r, "GET", "/dbs/db/colls/c/docs");
  EXPECT_EQ(resp.status, 200) << resp.body;
  return Json::parse(resp.body)["Documents"].size();
}

void CreateContainer(SimCluster& sim, const std::string& container_extra) {
  ASSERT_EQ(sim.Request(0, "POST", "/dbs", R"({"id":"db"})").status, 201);
  std::string coll = R"({"id":"c","partitionKey":{"paths":["/pk"],"kind":"Hash"})" + container_extra + "}";
  auto r = sim.Request(0, "POST", "/dbs/db/colls", coll);
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_TRUE(sim.RunUntilQuiet());
}

testing::SimOptions Options() {
  testing::SimOptions o;
  o.regions = 2;
  o.seed = 3;
  return o;
}

TEST(TtlTest, ExpiredItemsVanishFromReadsQueriesAndFeedsAtOnceAndArePurged) {
  SimCluster sim(Options());
  ASSERT_NO_FATAL_FAILURE(CreateContainer(sim, R"(,"defaultTtl":10)"));
  ASSERT_EQ(Create(sim, 0, {{"id", "a"}}).status, 201);
  ASSERT_EQ(Create(sim, 0, {{"id", "forever"}, {"ttl", -1}}).status, 201);
  ASSERT_EQ(Create(sim, 0, {{"id", "short"}, {"ttl", 3}}).status, 201);
  ASSERT_EQ(Count(sim, 0), 3);

  sim.AdvanceMillis(3000);
  EXPECT_EQ(Read(sim, 0, "short"), 404);
  EXPECT_EQ(Read(sim, 0, "a"), 200);
  EXPECT_EQ(Count(sim, 0), 2);
  EXPECT_EQ(FeedCount(sim, 0), 2u);

  sim.AdvanceMillis(7000);
  EXPECT_EQ(Read(sim, 0, "a"), 404);
  EXPECT_EQ(Count(sim, 0), 1);
  // An expired item cannot be replaced or deleted; a create makes a new one.
  EXPECT_EQ(sim.Request(0, "PUT", "/dbs/db/colls/c/docs/a", R"({"id":"a","pk":"p"})", kPk).status, 404);
  EXPECT_EQ(sim.Request(0, "DELETE", "/dbs/db/colls/c/docs/short", "", kPk).status, 404);

  // Nothing was purged yet: the records are still in the store.
  auto purged = server::PurgeExpired(sim.context(0));
  ASSERT_TRUE(purged.ok()) << purged.status().ToString();
  EXPECT_EQ(*purged, 2u);
  EXPECT_EQ(*server::PurgeExpired(sim.context(0)), 0u);
  EXPECT_EQ(Create(sim, 0, {{"id", "a"}, {"v", 2}}).status, 201);
  EXPECT_EQ(Read(sim, 0, "a"), 200);
}

TEST(TtlTest, ItemTtlIsIgnoredWhenTheContainerHasNoTtl) {
  SimCluster sim(Options());
  ASSERT_NO_FATAL_FAILURE(CreateContainer(sim, ""));
  ASSERT_EQ(Create(sim, 0, {{"id", "a"}, {"ttl", 1}}).status, 201);
  sim.AdvanceMillis(5000);
  EXPECT_EQ(Read(sim, 0, "a"), 200);
  EXPECT_EQ(*server::PurgeExpired(sim.context(0)), 0u);
}

TEST(TtlTest, InvalidTtlsAreRefusedAndChangeNothing) {
  SimCluster sim(Options());
  ASSERT_NO_FATAL_FAILURE(CreateContainer(sim, R"(,"defaultTtl":-1)"));
  for (const char* ttl : {"0", "null", "\"5\"", "1.5", "-2", "2147483648"}) {
    auto r = sim.Request(0, "POST", "/dbs/db/colls/c/docs", std::string(R"({"id":"a","pk":"p","ttl":)") + ttl + "}", kPk);
    EXPECT_EQ(r.status, 400) << ttl << ": " << r.body;
    EXPECT_NE(r.body.find("ttl"), std::string::npos) << r.body;
  }
  EXPECT_EQ(Read(sim, 0, "a"), 404);
  auto bad = sim.Request(0, "POST", "/dbs/db/colls", R"({"id":"c0","partitionKey":{"paths":["/pk"]},"defaultTtl":0})");
  EXPECT_EQ(bad.status, 400) << bad.body;
  // A patch that would set an invalid ttl is refused too.
  ASSERT_EQ(Create(sim, 0, {{"id", "b"}}).status, 201);
  auto patch = sim.Request(0, "PATCH", "/dbs/db/colls/c/docs/b",
                           R"({"operations":[{"op":"set","path":"/ttl","value":0}]})", kPk);
  EXPECT_EQ(patch.status, 400) << patch.body;
}

TEST(TtlTest, AnUpdateThatExtendsALifeWinsOverAnotherRegionsEarlierPurgeAndRegionsConverge) {
  SimCluster sim(Options());
  sim.SetSkewMillis(1, 4000);  // westeurope's clock runs 4 s ahead
  ASSERT_NO_FATAL_FAILURE(CreateContainer(sim, R"(,"defaultTtl":10)"));
  ASSERT_EQ(Create(sim, 0, {{"id", "a"}, {"v", 1}}).status, 201);
  ASSERT_TRUE(sim.RunUntilQuiet(5000));
  ASSERT_EQ(Read(sim, 1, "a"), 200);

  // 7 s later: expired on westeurope's clock (11 s after the write), not on uksouth's.
  sim.AdvanceMillis(7000);
  EXPECT_EQ(Read(sim, 1, "a"), 404);
  EXPECT_EQ(Read(sim, 0, "a"), 200);
  ASSERT_EQ(*server::PurgeExpired(sim.context(1)), 1u);

  // uksouth updates it in time: a new life of 10 s from now.
  auto up = sim.Request(0, "POST", "/dbs/db/colls/c/docs", R"({"id":"a","pk":"p","v":2})",
                        {{"x-ms-documentdb-partitionkey", R"(["p"])"}, {"x-ms-documentdb-is-upsert", "true"}});
  ASSERT_EQ(up.status, 200) << up.body;
  ASSERT_TRUE(sim.RunUntilQuiet(5000));
  // The update has seen the purged version: it simply replaces the purge.
  auto read = sim.Request(1, "GET", "/dbs/db/colls/c/docs/a", "", kPk);
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(Json::parse(read.body)["v"], 2);
  auto conflicts = sim.Request(1, "GET", "/dbs/db/colls/c/conflicts");
  EXPECT_EQ(Json::parse(conflicts.body)["Conflicts"].size(), 0u) << conflicts.body;

  // Both regions end its second life on their own clocks; then they are equal.
  sim.AdvanceMillis(11000);
  EXPECT_EQ(Read(sim, 0, "a"), 404);
  EXPECT_EQ(*server::PurgeExpired(sim.context(0)), 1u);
  EXPECT_EQ(*server::PurgeExpired(sim.context(1)), 1u);
  ASSERT_TRUE(sim.RunUntilQuiet(5000));
  auto d0 = sim.Digest(0), d1 = sim.Digest(1);
  ASSERT_EQ(d0.size(), 1u);
  ASSERT_EQ(d1.size(), 1u);
  EXPECT_EQ(d0[0].hash, d1[0].hash);
  EXPECT_EQ(d0[0].count, 0u);

  // The all-versions change feed shows each purge as a delete marked as an expiry.
  auto feed = sim.Request(1, "GET", "/dbs/db/colls/c/docs", "",
                          {{"a-im", "Full-Fidelity Feed"}, {"x-ms-cosmos-changefeed-wire-format-version", "2021-09-15"}});
  ASSERT_EQ(feed.status, 200) << feed.body;
  int expiries = 0;
  const Json page = Json::parse(feed.body);
  for (const auto& item : page["Documents"]) {
    if (item["metadata"].value("timeToLiveExpired", false)) {
      ++expiries;
      EXPECT_EQ(item["metadata"]["operationType"], "delete");
      EXPECT_EQ(item["metadata"]["id"], "a");
    }
  }
  EXPECT_EQ(expiries, 2);
}

}  // namespace
}  // namespace regionlab
