// Resource tokens on a fake clock: what a permission's token covers (its
// resource, partition key and mode), its expiry, and a permission deleted
// or narrowed after the token was issued.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/encoding.h"
#include "tests/support/sim_cluster.h"

namespace regionlab {
namespace {

using Json = nlohmann::json;
using testing::SimCluster;

class PermissionsTest : public ::testing::Test {
 protected:
  PermissionsTest() : sim_(Options()) {}
  static testing::SimOptions Options() {
    testing::SimOptions o;
    o.regions = 1;
    o.seed = 5;
    return o;
  }
  void SetUp() override {
    ASSERT_EQ(sim_.Request(0, "POST", "/dbs", R"({"id":"db"})").status, 201);
    ASSERT_EQ(sim_.Request(0, "POST", "/dbs/db/colls", R"({"id":"c","partitionKey":{"paths":["/t"]}})").status, 201);
    for (const char* t : {"A", "B"}) {
      Json doc = {{"id", std::string("d") + t}, {"t", t}};
      ASSERT_EQ(sim_.Request(0, "POST", "/dbs/db/colls/c/docs", doc.dump(),
                             {{"x-ms-documentdb-partitionkey", Json::array({t}).dump()}})
                    .status,
                201);
    }
    ASSERT_EQ(sim_.Request(0, "POST", "/dbs/db/users", R"({"id":"u"})").status, 201);
  }
  // Creates permission `body` (with an expiry of `expiry_s`) and returns its token.
  std::string Grant(const Json& body, int expiry_s = 3600) {
    auto r = sim_.Request(0, "POST", "/dbs/db/users/u/permissions", body.dump(),
                          {{"x-ms-documentdb-expiry-seconds", std::to_string(expiry_s)}});
    EXPECT_EQ(r.status, 201) << r.body;
    return Json::parse(r.body)["_token"].get<std::string>();
  }
  int ReadAs(const std::string& token, const std::string& id, const std::string& pk) {
    return sim_.Request(0, "GET", "/dbs/db/colls/c/docs/" + id, "",
                        {{"authorization", PercentEncodeComponent(token)},
                         {"x-ms-documentdb-partitionkey", Json::array({pk}).dump()}})
        .status;
  }
  int CreateAs(const std::string& token, const std::string& id, const std::string& pk) {
    Json doc = {{"id", id}, {"t", pk}};
    return sim_.Request(0, "POST", "/dbs/db/colls/c/docs", doc.dump(),
                        {{"authorization", PercentEncodeComponent(token)},
                         {"x-ms-documentdb-partitionkey", Json::array({pk}).dump()}})
        .status;
  }
  SimCluster sim_;
};

TEST_F(PermissionsTest, ATokenCoversItsResourcePartitionKeyAndMode) {
  const std::string read_a =
      Grant({{"id", "ra"}, {"permissionMode", "Read"}, {"resource", "dbs/db/colls/c"}, {"resourcePartitionKey", {"A"}}});
  EXPECT_EQ(ReadAs(read_a, "dA", "A"), 200);
  EXPECT_EQ(ReadAs(read_a, "dB", "B"), 403);
  EXPECT_EQ(CreateAs(read_a, "n1", "A"), 403);
  const std::string all = Grant({{"id", "all"}, {"permissionMode", "all"}, {"resource", "dbs/db/colls/c"}});
  EXPECT_EQ(ReadAs(all, "dB", "B"), 200);
  EXPECT_EQ(CreateAs(all, "n1", "B"), 201);
  const std::string one_doc = Grant({{"id", "doc"}, {"permissionMode", "Read"}, {"resource", "dbs/db/colls/c/docs/dA"}});
  EXPECT_EQ(ReadAs(one_doc, "dA", "A"), 200);
  EXPECT_EQ(ReadAs(one_doc, "n1", "B"), 403);
  // Users and permissions are the account key's business.
  auto users = sim_.Request(0, "GET", "/dbs/db/users", "", {{"authorization", PercentEncodeComponent(all)}});
  EXPECT_EQ(users.status, 403);
}

TEST_F(PermissionsTest, TokensExpireAndFollowTheirPermission) {
  const std::string t = Grant({{"id", "p"}, {"permissionMode", "All"}, {"resource", "dbs/db/colls/c"}}, 60);
  EXPECT_EQ(ReadAs(t, "dA", "A"), 200);
  sim_.AdvanceMillis(61'000);
  EXPECT_EQ(ReadAs(t, "dA", "A"), 401);
  // A fresh read of the permission gives a fresh token.
  auto again = sim_.Request(0, "GET", "/dbs/db/users/u/permissions/p");
  ASSERT_EQ(again.status, 200);
  const std::string fresh = Json::parse(again.body)["_token"];
  EXPECT_EQ(CreateAs(fresh, "n2", "A"), 201);
  // Narrowed to Read: the same token can no longer write.
  ASSERT_EQ(sim_.Request(0, "PUT", "/dbs/db/users/u/permissions/p",
                         R"({"id":"p","permissionMode":"Read","resource":"dbs/db/colls/c"})")
                .status,
            200);
  EXPECT_EQ(CreateAs(fresh, "n3", "A"), 403);
  EXPECT_EQ(ReadAs(fresh, "dA", "A"), 200);
  // Deleting the user deletes its permissions: the token is dead.
  ASSERT_EQ(sim_.Request(0, "DELETE", "/dbs/db/users/u").status, 204);
  EXPECT_EQ(ReadAs(fresh, "dA", "A"), 401);
  // A token from another account key is refused.
  std::string forged = fresh;
  forged[forged.find("sig=") + 4] ^= 1;
  EXPECT_EQ(ReadAs(forged, "dA", "A"), 401);
}

}  // namespace
}  // namespace regionlab
