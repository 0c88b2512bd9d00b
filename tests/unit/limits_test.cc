// Limits that keep one request from taking a region down: JSON nesting depth
// (Azure's 128 levels) checked without recursion before any parser sees a
// body, on the data plane and the management API.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>

#include "admin/admin_api.h"
#include "base/cosmos_auth.h"
#include "base/encoding.h"
#include "base/json_depth.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_region.h"

namespace regionlab {
namespace {

std::string Nested(int depth, char open = '[', char close = ']', std::string inner = "1") {
  return std::string(depth, open) + inner + std::string(depth, close);
}

TEST(JsonDepthTest, CountsBracketsOutsideStrings) {
  EXPECT_EQ(JsonNestingDepth("1"), 0);
  EXPECT_EQ(JsonNestingDepth("{}"), 1);
  EXPECT_EQ(JsonNestingDepth(R"({"a":[1,{"b":[]}],"c":{}})"), 4);
  EXPECT_EQ(JsonNestingDepth(R"({"a":"[[[[{{{{"})"), 1);         // brackets in strings do not count
  EXPECT_EQ(JsonNestingDepth(R"({"a":"\"[[[","b":[[]]})"), 3);   // nor after an escaped quote
  EXPECT_EQ(JsonNestingDepth(R"(["\\",[[]]])"), 3);              // an escaped backslash ends the escape
  EXPECT_EQ(JsonNestingDepth(Nested(128)), 128);
  EXPECT_TRUE(JsonDepthWithin(Nested(128)));
  EXPECT_FALSE(JsonDepthWithin(Nested(129)));
  // A million levels: one pass, no recursion, stops at the limit.
  EXPECT_EQ(JsonNestingDepth(Nested(1'000'000), 128), 129);
}

// The byte-at-a-time scan JsonNestingDepth replaced (it now crosses strings
// with memchr): the same depth for any text, valid JSON or not.
int ReferenceDepth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest && (deepest = depth) > limit) return limit + 1;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

TEST(JsonDepthTest, RandomTextsGetTheDepthOfAByteAtATimeScan) {
  std::mt19937_64 rng(17);
  const char alphabet[] = {'"', '\\', '[', ']', '{', '}', 'a', ',', '"', '\\'};
  for (int i = 0; i < 200'000; ++i) {
    std::string text(rng() % 40, ' ');
    for (char& c : text) c = alphabet[rng() % sizeof(alphabet)];
    const int limit = 1 + static_cast<int>(rng() % 6);
    ASSERT_EQ(JsonNestingDepth(text, limit), ReferenceDepth(text, limit)) << text << " limit " << limit;
  }
}

class LimitsRegionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    region_ = std::move(testing::TestRegion::Create()).value();
    ASSERT_EQ(region_->Call("POST", "/dbs", R"({"id":"d"})").status, 201);
    ASSERT_EQ(region_->Call("POST", "/dbs/d/colls", R"({"id":"c","partitionKey":{"paths":["/pk"],"kind":"Hash"}})")
                  .status,
              201);
  }
  server::HttpResponse Create(const std::string& body) {
    return region_->Call("POST", "/dbs/d/colls/c/docs", body, {{"x-ms-documentdb-partitionkey", R"(["a"])"}});
  }
  std::unique_ptr<testing::TestRegion> region_;
};

TEST_F(LimitsRegionTest, DocumentsNestedDeeperThan128LevelsAreRefusedAndNothingIsStored) {
  auto ok = Create(R"({"id":"d128","pk":"a","v":)" + Nested(127) + "}");
  EXPECT_EQ(ok.status, 201) << ok.body;
  // 100,000 levels (the body that used to kill the process): a 400, at once.
  auto deep = Create(R"({"id":"deep","pk":"a","v":)" + Nested(100'000) + "}");
  EXPECT_EQ(deep.status, 400);
  EXPECT_NE(deep.body.find("128"), std::string::npos) << deep.body;
  EXPECT_EQ(region_->Call("GET", "/dbs/d/colls/c/docs/deep", "", {{"x-ms-documentdb-partitionkey", R"(["a"])"}}).status,
            404);
  auto objects = Create(R"({"id":"deep2","pk":"a","v":)" + Nested(129, '{', '}', "") + "}");
  EXPECT_EQ(objects.status, 400);
}

TEST_F(LimitsRegionTest, DeepPatchOperationsAndQueryParametersAreRefused) {
  ASSERT_EQ(Create(R"({"id":"p","pk":"a"})").status, 201);
  auto patch = region_->Call("PATCH", "/dbs/d/colls/c/docs/p",
                             R"([{"op":"set","path":"/v","value":)" + Nested(50'000) + "}]",
                             {{"x-ms-documentdb-partitionkey", R"(["a"])"}});
  EXPECT_EQ(patch.status, 400);
  auto query = region_->Call(
      "POST", "/dbs/d/colls/c/docs",
      R"({"query":"SELECT * FROM c WHERE c.v = @v","parameters":[{"name":"@v","value":)" + Nested(50'000) + "}]}",
      {{"x-ms-documentdb-isquery", "true"}, {"content-type", "application/query+json"}});
  EXPECT_EQ(query.status, 400);
}

TEST(AdminLimitsTest, DeepManagementBodiesAreRefused) {
  admin::AdminContext admin;
  server::HttpRequest req;
  req.method = "POST";
  req.target = req.path = "/scenario";
  req.body = Nested(200'000);
  auto r = admin::HandleAdmin(admin, req);
  EXPECT_EQ(r.status, 400);
}

}  // namespace
}  // namespace regionlab

namespace regionlab {
namespace {

class AdminAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    admin_.require_auth = true;
    admin_.key = std::string(kEmulatorKey);
    admin_.token = "s3cret";
    admin_.clock = &clock_;
    clock_.SetMicros(int64_t{1'790'000'000} * 1'000'000);
  }
  server::HttpResponse Get(const std::string& path, std::vector<std::pair<std::string, std::string>> headers) {
    server::HttpRequest req;
    req.method = "GET";
    req.target = req.path = path;
    req.headers = std::move(headers);
    return admin::HandleAdmin(admin_, req);
  }
  std::vector<std::pair<std::string, std::string>> Signed(const std::string& method, const std::string& link,
                                                          std::string_view key = kEmulatorKey) {
    const std::string date = FormatHttpDate(clock_.NowSeconds());
    return {{"x-ms-date", date}, {"authorization", *BuildAuthorizationHeader(key, method, "admin", link, date)}};
  }
  testing::FakeClock clock_;
  admin::AdminContext admin_;
};

TEST_F(AdminAuthTest, OffLoopbackEveryRequestNeedsTheKeyOrTheToken) {
  EXPECT_EQ(Get("/health", {}).status, 401);
  EXPECT_EQ(Get("/health", {{"authorization", "Bearer s3cret"}}).status, 200);
  EXPECT_EQ(Get("/health", {{"authorization", "Bearer wrong"}}).status, 401);
  EXPECT_EQ(Get("/health", Signed("GET", "health")).status, 200);
  EXPECT_EQ(Get("/regions", Signed("GET", "health")).status, 401);  // signed for another path
  const std::string other_key = "dGhpcyBpcyBhbm90aGVyIGtleSBvZiBzaXh0ZWVuIGJ5dGVz";
  EXPECT_EQ(Get("/health", Signed("GET", "health", other_key)).status, 401);
  auto stale = Signed("GET", "health");
  clock_.AdvanceMicros(int64_t{16} * 60 * 1'000'000);
  EXPECT_EQ(Get("/health", stale).status, 401);  // x-ms-date over 15 minutes old
  admin_.token.clear();
  EXPECT_EQ(Get("/health", {{"authorization", "Bearer "}}).status, 401);  // no token configured
}

TEST(AdminAuthHostTest, LoopbackAddressesAreRecognised) {
  EXPECT_TRUE(admin::IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(admin::IsLoopbackHost("127.1.2.3"));
  EXPECT_TRUE(admin::IsLoopbackHost("::1"));
  EXPECT_TRUE(admin::IsLoopbackHost("localhost"));
  EXPECT_FALSE(admin::IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(admin::IsLoopbackHost("::"));
  EXPECT_FALSE(admin::IsLoopbackHost("10.0.0.5"));
}

}  // namespace
}  // namespace regionlab

namespace regionlab {
namespace {

TEST(ConsistencyTest, ARequestMayOnlyRelaxTheAccountsConsistency) {
  auto region = std::move(testing::TestRegion::Create()).value();
  auto get = [&](const std::string& level) {
    return region->Call("GET", "/dbs", "", {{"x-ms-consistency-level", level}}).status;
  };
  EXPECT_EQ(get("Session"), 200);
  EXPECT_EQ(get("Eventual"), 200);
  EXPECT_EQ(get("ConsistentPrefix"), 200);
  EXPECT_EQ(get("Strong"), 400);  // a multi-write account offers neither
  EXPECT_EQ(get("BoundedStaleness"), 400);
  EXPECT_EQ(get("Sometimes"), 400);
  region->context().default_consistency = "Eventual";
  EXPECT_EQ(get("Session"), 400);  // stronger than the account's
  EXPECT_EQ(get("Eventual"), 200);
  auto account = region->Call("GET", "/");
  EXPECT_NE(account.body.find("\"defaultConsistencyLevel\":\"Eventual\""), std::string::npos) << account.body;
}

}  // namespace
}  // namespace regionlab
