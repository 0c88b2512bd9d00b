// User-defined functions: the runner that answers a query page's udf.NAME()
// calls from one sandbox process, and queries through the data plane that
// call them (in SELECT and WHERE, replicated to the other region), fail with
// 400 naming the function when it throws or runs past its budget, and name
// an unknown function.
#include "server/udf_runner.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "query/value.h"
#include "tests/support/sim_cluster.h"

namespace regionlab {
namespace {

using Json = nlohmann::json;

query::Value Num(double d) { return query::Value::Number(d); }

TEST(UdfRunnerTest, AnswersEveryCallOfAPageFromOneSandbox) {
  server::UdfRunner r({{"tax", "function tax(x) { return x * 1.2; }"},
                       {"tag", "function (a, b) { return {a: a, b: b || null}; }"}},
                      5000);
  for (int i = 1; i <= 50; ++i) {
    query::Value arg = Num(i * 10);
    query::Value v = r.Call("tax", &arg, 1);
    ASSERT_TRUE(r.status().ok()) << r.status().ToString();
    ASSERT_TRUE(v.is_number()) << v.ToJson();
    EXPECT_NEAR(v.as_number(), i * 12.0, 1e-9);
  }
  query::Value args[2] = {*query::ParseJson("\"x\""), query::Value()};
  EXPECT_EQ(r.Call("tag", args, 2).ToJson(), R"({"a":"x","b":null})");
  EXPECT_EQ(r.calls(), 51);
}

TEST(UdfRunnerTest, AThrowingOrUnknownOrEndlessFunctionFailsWithItsName) {
  {
    server::UdfRunner r({{"boom", "function boom() { throw new Error('no tax for you'); }"}}, 5000);
    query::Value v = r.Call("boom", nullptr, 0);
    EXPECT_FALSE(v.is_defined());
    EXPECT_EQ(r.status().code(), StatusCode::kBadRequest);
    EXPECT_NE(r.status().message().find("udf.boom"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("no tax for you"), std::string::npos) << r.status().message();
  }
  {
    server::UdfRunner r({}, 5000);
    r.Call("nope", nullptr, 0);
    EXPECT_NE(r.status().message().find("Unknown user-defined function 'udf.nope'"), std::string::npos);
  }
  {
    server::UdfRunner r({{"spin", "function spin() { for (;;) {} }"}}, 300);
    r.Call("spin", nullptr, 0);
    EXPECT_EQ(r.status().code(), StatusCode::kBadRequest);
    EXPECT_NE(r.status().message().find("udf.spin"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("time budget"), std::string::npos) << r.status().message();
  }
}

testing::SimOptions Options() {
  testing::SimOptions o;
  o.regions = 2;
  o.seed = 11;
  return o;
}

server::HttpResponse Query(testing::SimCluster& sim, int r, const std::string& q) {
  return sim.Request(r, "POST", "/dbs/db/colls/c/docs", Json{{"query", q}, {"parameters", Json::array()}}.dump(),
                     {{"x-ms-documentdb-isquery", "true"}, {"content-type", "application/query+json"}});
}

TEST(UdfQueryTest, QueriesCallTheContainersFunctionsInEveryRegion) {
  testing::SimCluster sim(Options());
  ASSERT_EQ(sim.Request(0, "POST", "/dbs", R"({"id":"db"})").status, 201);
  ASSERT_EQ(sim.Request(0, "POST", "/dbs/db/colls", R"({"id":"c","partitionKey":{"paths":["/pk"]}})").status, 201);
  for (int i = 1; i <= 5; ++i) {
    Json doc = {{"id", "inv-" + std::to_string(i)}, {"pk", "a"}, {"total", i * 100}};
    ASSERT_EQ(sim.Request(0, "POST", "/dbs/db/colls/c/docs", doc.dump(), {{"x-ms-documentdb-partitionkey", R"(["a"])"}}).status,
              201);
  }
  auto created = sim.Request(0, "POST", "/dbs/db/colls/c/udfs",
                             R"({"id":"withTax","body":"function withTax(x) { return x * 1.2; }"})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(Json::parse(created.body)["id"], "withTax");
  ASSERT_TRUE(sim.RunUntilQuiet());

  for (int r : {0, 1}) {
    auto resp = Query(sim, r, "SELECT VALUE udf.withTax(c.total) FROM c WHERE udf.withTax(c.total) > 400");
    ASSERT_EQ(resp.status, 200) << resp.body;
    EXPECT_EQ(Json::parse(resp.body)["Documents"], Json::parse("[480.0, 600.0]")) << "region " << r;
  }
  auto unknown = Query(sim, 0, "SELECT VALUE udf.missing(c.total) FROM c");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("udf.missing"), std::string::npos) << unknown.body;

  ASSERT_EQ(sim.Request(0, "POST", "/dbs/db/colls/c/udfs",
                        R"({"id":"bad","body":"function bad(x) { if (x > 300) throw new Error('too big: ' + x); return x; }"})")
                .status,
            201);
  auto thrown = Query(sim, 0, "SELECT VALUE udf.bad(c.total) FROM c");
  EXPECT_EQ(thrown.status, 400);
  EXPECT_NE(thrown.body.find("udf.bad"), std::string::npos) << thrown.body;
  EXPECT_NE(thrown.body.find("too big: 400"), std::string::npos) << thrown.body;

  // A deleted function is gone for queries too.
  ASSERT_EQ(sim.Request(0, "DELETE", "/dbs/db/colls/c/udfs/withTax").status, 204);
  EXPECT_EQ(Query(sim, 0, "SELECT VALUE udf.withTax(1) FROM c").status, 400);
}

}  // namespace
}  // namespace regionlab
