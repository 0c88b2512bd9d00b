// Triggers in the data plane: a pre-trigger's body change, a post-trigger's
// writes committed in the same log entry as the operation (so they replicate
// together), and a throwing trigger that commits nothing at all.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "storage/store.h"
#include "tests/support/sim_cluster.h"

namespace regionlab {
namespace {

using Json = nlohmann::json;
using testing::SimCluster;

const std::vector<std::pair<std::string, std::string>> kPk = {{"x-ms-documentdb-partitionkey", R"(["p"])"}};

class TriggersTest : public ::testing::Test {
 protected:
  TriggersTest() : sim_(Options()) {}
  static testing::SimOptions Options() {
    testing::SimOptions o;
    o.regions = 2;
    o.seed = 17;
    return o;
  }
  void SetUp() override {
    ASSERT_EQ(sim_.Request(0, "POST", "/dbs", R"({"id":"db"})").status, 201);
    ASSERT_EQ(sim_.Request(0, "POST", "/dbs/db/colls", R"({"id":"c","partitionKey":{"paths":["/pk"]}})").status, 201);
    Json pre = {{"id", "stamp"}, {"triggerType", "Pre"}, {"triggerOperation", "All"},
                {"body", "function () { var r = getContext().getRequest(); var d = r.getBody(); d.stamped = 1; r.setBody(d); }"}};
    Json audit = {{"id", "audit"}, {"triggerType", "post"}, {"triggerOperation", "all"},
                  {"body", "function () { var c = getContext().getCollection(); var d = getContext().getResponse().getBody();"
                           " c.createDocument(c.getSelfLink(), {id: 'audit-' + d.id, pk: d.pk}); }"}};
    Json fail = {{"id", "fail"}, {"triggerType", "post"}, {"triggerOperation", "all"},
                 {"body", "function () { var c = getContext().getCollection();"
                          " c.createDocument(c.getSelfLink(), {id: 'side', pk: 'p'}); throw new Error('no'); }"}};
    for (const Json& t : {pre, audit, fail}) {
      auto r = sim_.Request(0, "POST", "/dbs/db/colls/c/triggers", t.dump());
      ASSERT_EQ(r.status, 201) << r.body;
    }
    ASSERT_TRUE(sim_.RunUntilQuiet());
  }
  server::HttpResponse Create(const std::string& id, std::vector<std::pair<std::string, std::string>> triggers) {
    auto headers = kPk;
    headers.insert(headers.end(), triggers.begin(), triggers.end());
    return sim_.Request(0, "POST", "/dbs/db/colls/c/docs", Json{{"id", id}, {"pk", "p"}}.dump(), headers);
  }
  int Read(int r, const std::string& id) { return sim_.Request(r, "GET", "/dbs/db/colls/c/docs/" + id, "", kPk).status; }
  SimCluster sim_;
};

TEST_F(TriggersTest, PreAndPostTriggersCommitWithTheOperationInOneLogEntry) {
  const uint64_t before = sim_.store(0).last_lsn();
  auto r = Create("a", {{"x-ms-documentdb-pre-trigger-include", "stamp"},
                        {"x-ms-documentdb-post-trigger-include", "audit"}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Json::parse(r.body)["stamped"], 1);
  EXPECT_EQ(sim_.store(0).last_lsn(), before + 1) << "the document and the audit record are one write";
  auto log = sim_.store(0).ReadLog(before + 1, 10);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ(log->front().records.size(), 2u);
  ASSERT_TRUE(sim_.RunUntilQuiet());
  EXPECT_EQ(Read(1, "a"), 200);
  EXPECT_EQ(Read(1, "audit-a"), 200);
}

TEST_F(TriggersTest, AThrowingTriggerCommitsNothing) {
  const uint64_t before = sim_.store(0).last_lsn();
  auto r = Create("b", {{"x-ms-documentdb-pre-trigger-include", "stamp"},
                        {"x-ms-documentdb-post-trigger-include", "audit,fail"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("no"), std::string::npos) << r.body;
  EXPECT_EQ(sim_.store(0).last_lsn(), before);
  EXPECT_EQ(Read(0, "b"), 404);
  EXPECT_EQ(Read(0, "audit-b"), 404);
  EXPECT_EQ(Read(0, "side"), 404);
  // An unknown trigger, or one for another kind, is refused before anything runs.
  EXPECT_EQ(Create("c", {{"x-ms-documentdb-pre-trigger-include", "nope"}}).status, 400);
  EXPECT_EQ(Create("c", {{"x-ms-documentdb-pre-trigger-include", "audit"}}).status, 400);
  EXPECT_EQ(sim_.store(0).last_lsn(), before);
}

}  // namespace
}  // namespace regionlab
