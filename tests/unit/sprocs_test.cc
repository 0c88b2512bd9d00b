// Stored procedures through the data plane: CRUD, replication to every
// region, and execution as one transaction scoped to a partition key.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/sim_cluster.h"

namespace regionlab {
namespace {

using testing::SimCluster;
using testing::SimOptions;
using Json = nlohmann::json;

const std::string kColl = "/dbs/db/colls/c";
const std::string kSprocs = kColl + "/sprocs";

class SprocsTest : public ::testing::Test {
 protected:
  SprocsTest() : sim_(Options()) {}
  static SimOptions Options() {
    SimOptions o;
    o.regions = 2;
    o.seed = 5;
    return o;
  }
  void SetUp() override {
    ASSERT_EQ(sim_.Request(0, "POST", "/dbs", R"({"id":"db"})").status, 201);
    ASSERT_EQ(sim_.Request(0, "POST", "/dbs/db/colls", R"({"id":"c","partitionKey":{"paths":["/pk"]}})").status, 201);
    ASSERT_TRUE(sim_.RunUntilQuiet());
  }
  server::HttpResponse Create(const std::string& id, const std::string& body, int region = 0) {
    return sim_.Request(region, "POST", kSprocs, Json{{"id", id}, {"body", body}}.dump());
  }
  server::HttpResponse Exec(const std::string& id, const Json& args, const std::string& pk = "a", int region = 0) {
    return sim_.Request(region, "POST", kSprocs + "/" + id, args.dump(),
                        {{"x-ms-documentdb-partitionkey", Json::array({pk}).dump()}});
  }
  server::HttpResponse ReadDoc(const std::string& id, const std::string& pk = "a", int region = 0) {
    return sim_.Request(region, "GET", kColl + "/docs/" + id, "",
                        {{"x-ms-documentdb-partitionkey", Json::array({pk}).dump()}});
  }
  SimCluster sim_;
};

TEST_F(SprocsTest, CreateReadReplaceListDeleteAndReplicate) {
  auto created = Create("hello", "function hello() { getContext().getResponse().setBody('hi'); }");
  ASSERT_EQ(created.status, 201) << created.body;
  Json sp = Json::parse(created.body);
  EXPECT_EQ(sp["id"], "hello");
  for (const char* f : {"_rid", "_self", "_etag", "_ts", "body"}) EXPECT_TRUE(sp.contains(f)) << f;
  EXPECT_EQ(Create("hello", "function x() {}").status, 409);
  EXPECT_EQ(sim_.Request(0, "POST", kSprocs, R"({"id":"nobody"})").status, 400);
  EXPECT_EQ(sim_.Request(0, "POST", kSprocs, R"({"id":"x","body":""})").status, 400);

  ASSERT_TRUE(sim_.RunUntilQuiet());
  auto elsewhere = sim_.Request(1, "GET", kSprocs + "/hello");
  ASSERT_EQ(elsewhere.status, 200);
  EXPECT_EQ(Json::parse(elsewhere.body)["_rid"], sp["_rid"]);
  EXPECT_EQ(Json::parse(Exec("hello", Json::array(), "a", 1).body), "hi");

  auto replaced = sim_.Request(1, "PUT", kSprocs + "/hello",
                               Json{{"id", "hello"}, {"body", "function h() { getContext().getResponse().setBody(2); }"}}.dump());
  ASSERT_EQ(replaced.status, 200) << replaced.body;
  ASSERT_TRUE(sim_.RunUntilQuiet());
  EXPECT_EQ(Exec("hello", Json::array()).body, "2");

  ASSERT_EQ(Create("other", "function o() {}").status, 201);
  auto list = sim_.Request(0, "GET", kSprocs);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(Json::parse(list.body)["StoredProcedures"].size(), 2u);

  EXPECT_EQ(sim_.Request(0, "DELETE", kSprocs + "/hello").status, 204);
  EXPECT_EQ(sim_.Request(0, "DELETE", kSprocs + "/hello").status, 404);
  ASSERT_TRUE(sim_.RunUntilQuiet());
  EXPECT_EQ(sim_.Request(1, "GET", kSprocs + "/hello").status, 404);
  EXPECT_EQ(Exec("hello", Json::array(), "a", 1).status, 404);
}

TEST_F(SprocsTest, ExecuteWritesReadsAndQueriesItsPartitionAsOneTransaction) {
  ASSERT_EQ(Create("bulk", R"(function bulk(n, prefix) {
      var c = getContext().getCollection();
      for (var i = 0; i < n; i++) c.createDocument(c.getSelfLink(), {id: prefix + i, pk: "a", n: i});
      var seen = 0;
      c.readDocument(c.getSelfLink() + "/docs/" + prefix + "0", {}, function (err, doc) { if (err) throw err; seen = doc.n + 1; });
      c.queryDocuments(c.getSelfLink(), {query: "SELECT VALUE COUNT(1) FROM d WHERE d.n >= @m", parameters: [{name: "@m", value: 1}]},
        function (err, rows) { if (err) throw err; getContext().getResponse().setBody({seen: seen, count: rows[0]}); });
    })")
                .status,
            201);
  auto ran = Exec("bulk", Json::array({3, "d"}));
  ASSERT_EQ(ran.status, 200) << ran.body;
  EXPECT_EQ(Json::parse(ran.body), Json({{"seen", 1}, {"count", 2}}));
  EXPECT_EQ(ReadDoc("d2").status, 200);
  ASSERT_TRUE(sim_.RunUntilQuiet());
  EXPECT_EQ(ReadDoc("d2", "a", 1).status, 200);  // replicated like any write

  // A failure after some writes commits none of them.
  ASSERT_EQ(Create("half", R"(function half() {
      var c = getContext().getCollection();
      c.createDocument(c.getSelfLink(), {id: "h1", pk: "a"});
      throw new Error("changed my mind");
    })")
                .status,
            201);
  auto failed = Exec("half", Json::array());
  EXPECT_EQ(failed.status, 400);
  EXPECT_NE(failed.body.find("changed my mind"), std::string::npos);
  EXPECT_EQ(ReadDoc("h1").status, 404);

  // Another partition key is out of reach.
  ASSERT_EQ(Create("wrongpk", R"(function w() {
      var c = getContext().getCollection();
      c.createDocument(c.getSelfLink(), {id: "x", pk: "b"});
    })")
                .status,
            201);
  EXPECT_EQ(Exec("wrongpk", Json::array()).status, 400);
  EXPECT_EQ(ReadDoc("x", "b").status, 404);
}

TEST_F(SprocsTest, AnEndlessProcedureIsStoppedAndTheRegionKeepsServing) {
  ASSERT_EQ(Create("spin", "function spin() { var c = getContext().getCollection(); "
                           "c.createDocument(c.getSelfLink(), {id: 's', pk: 'a'}); while (true) {} }")
                .status,
            201);
  auto resp = Exec("spin", Json::array());
  EXPECT_EQ(resp.status, 408) << resp.body;
  EXPECT_EQ(ReadDoc("s").status, 404);  // nothing it wrote was committed
  EXPECT_EQ(sim_.Request(0, "POST", kColl + "/docs", R"({"id":"after","pk":"a"})",
                         {{"x-ms-documentdb-partitionkey", R"(["a"])"}})
                .status,
            201);
}

TEST_F(SprocsTest, ExecuteNeedsAPartitionKeyAndAnExistingProcedure) {
  ASSERT_EQ(Create("p", "function p(x) { getContext().getResponse().setBody(x); }").status, 201);
  EXPECT_EQ(sim_.Request(0, "POST", kSprocs + "/p", "[1]").status, 400);
  EXPECT_EQ(Exec("absent", Json::array()).status, 404);
  EXPECT_EQ(Exec("p", Json::array({Json{{"a", 1}}})).body, R"({"a":1})");
}

}  // namespace
}  // namespace regionlab
