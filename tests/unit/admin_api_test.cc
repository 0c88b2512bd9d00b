// The management API as a plain function: region faults (offline, online,
// clock skew) and the shapes scripts rely on.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/cosmos_auth.h"
#include "base/encoding.h"
#include "server/admin_api.h"
#include "server/data_plane.h"
#include "tests/support/fake_clock.h"

namespace regionlab::server {
namespace {

using Json = nlohmann::json;

class AdminApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::StoreOptions so;
    so.in_memory = true;
    store_ = std::move(storage::Store::Open(so, skewed_)).value();
    region_.self = {"uksouth", "UK South", 0, "http://127.0.0.1:1/"};
    region_.account_regions = {region_.self};
    region_.account_key = std::string(kEmulatorKey);
    region_.store = store_.get();
    region_.clock = &skewed_;
    region_.clock_control = &skewed_;
    admin_.seed = 7;
    admin_.regions = {&region_};
  }

  HttpResponse Admin(const std::string& method, const std::string& path, const std::string& body = "") {
    HttpRequest req;
    req.method = method;
    req.target = req.path = path;
    req.body = body;
    return HandleAdmin(admin_, req);
  }

  HttpResponse Data(const std::string& method, const std::string& path, const std::string& body = "",
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpRequest req;
    req.method = method;
    req.target = req.path = path;
    req.body = body;
    std::string date = FormatHttpDate(skewed_.NowSeconds());
    ResourceAddress a = ResourceAddressFromPath(path);
    req.headers = {{"x-ms-date", date},
                   {"authorization", *BuildAuthorizationHeader(kEmulatorKey, method, a.type, a.link, date)}};
    for (auto& h : headers) req.headers.push_back(h);
    return HandleDataPlane(region_, req);
  }

  std::string Header(const HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (ToLower(k) == name) return v;
    }
    return "";
  }

  testing::FakeClock clock_;
  SkewedClock skewed_{clock_};
  std::unique_ptr<storage::Store> store_;
  RegionContext region_;
  AdminContext admin_;
};

TEST_F(AdminApiTest, RegionsListsNameStateSkewAndSeed) {
  auto r = Admin("GET", "/regions");
  ASSERT_EQ(r.status, 200);
  auto j = Json::parse(r.body);
  EXPECT_EQ(j["seed"], 7);
  EXPECT_EQ(j["regions"][0]["name"], "uksouth");
  EXPECT_EQ(j["regions"][0]["displayName"], "UK South");
  EXPECT_EQ(j["regions"][0]["state"], "online");
  EXPECT_EQ(j["regions"][0]["clockSkewMs"], 0);
}

TEST_F(AdminApiTest, Offline503RefusesEverythingUntilOnline) {
  ASSERT_EQ(Data("POST", "/dbs", R"({"id":"db"})").status, 201);
  ASSERT_EQ(Admin("POST", "/regions/uksouth/offline", R"({"mode":"503"})").status, 200);
  EXPECT_EQ(Data("GET", "/dbs/db").status, 503);
  EXPECT_EQ(Data("POST", "/dbs", R"({"id":"db2"})").status, 503);
  EXPECT_EQ(Data("GET", "/health/deep").status, 503);
  EXPECT_EQ(Json::parse(Admin("GET", "/regions").body)["regions"][0]["state"], "offline-503");
  ASSERT_EQ(Admin("POST", "/regions/uksouth/online").status, 200);
  EXPECT_EQ(Data("GET", "/dbs/db").status, 200);
  EXPECT_EQ(Data("GET", "/health/deep").status, 200);
}

TEST_F(AdminApiTest, Offline403RefusesWritesWithSubstatus3AndServesReads) {
  ASSERT_EQ(Data("POST", "/dbs", R"({"id":"db"})").status, 201);
  ASSERT_EQ(Admin("POST", "/regions/uksouth/offline", R"({"mode":"403"})").status, 200);
  auto w = Data("POST", "/dbs", R"({"id":"db2"})");
  EXPECT_EQ(w.status, 403);
  EXPECT_EQ(Header(w, "x-ms-substatus"), "3");
  EXPECT_EQ(Data("GET", "/dbs/db").status, 200);
  EXPECT_EQ(Data("GET", "/dbs/db2").status, 404);  // the refused write changed nothing
}

TEST_F(AdminApiTest, ClockSkewShiftsTs) {
  ASSERT_EQ(Data("POST", "/dbs", R"({"id":"a"})").status, 201);
  int64_t ts_a = Json::parse(Data("GET", "/dbs/a").body)["_ts"];
  ASSERT_EQ(Admin("POST", "/regions/uksouth/clock", R"({"skewMs":300000})").status, 200);
  ASSERT_EQ(Data("POST", "/dbs", R"({"id":"b"})").status, 201);
  int64_t ts_b = Json::parse(Data("GET", "/dbs/b").body)["_ts"];
  EXPECT_EQ(ts_b - ts_a, 300);
  EXPECT_EQ(Json::parse(Admin("GET", "/regions").body)["regions"][0]["clockSkewMs"], 300000);
}

TEST_F(AdminApiTest, BadInputIsA400AndChangesNothing) {
  EXPECT_EQ(Admin("POST", "/regions/mars/offline", R"({"mode":"503"})").status, 400);
  EXPECT_EQ(Admin("POST", "/regions/uksouth/offline", R"({"mode":"500"})").status, 400);
  EXPECT_EQ(Admin("POST", "/regions/uksouth/offline", R"({"mode":)").status, 400);
  EXPECT_EQ(Admin("POST", "/regions/uksouth/clock", R"({"skewMs":"soon"})").status, 400);
  auto j = Json::parse(Admin("GET", "/regions").body);
  EXPECT_EQ(j["regions"][0]["state"], "online");
  EXPECT_EQ(j["regions"][0]["clockSkewMs"], 0);
  auto err = Json::parse(Admin("POST", "/regions/mars/online").body);
  EXPECT_TRUE(err.contains("message"));
}

TEST_F(AdminApiTest, DigestCountsDocumentsPerContainer) {
  ASSERT_EQ(Data("POST", "/dbs", R"({"id":"billing"})").status, 201);
  ASSERT_EQ(Data("POST", "/dbs/billing/colls", R"({"id":"invoices","partitionKey":{"paths":["/pk"]}})").status, 201);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Data("POST", "/dbs/billing/colls/invoices/docs",
                   R"({"id":"i)" + std::to_string(i) + R"(","pk":"a"})", {{"x-ms-documentdb-partitionkey", R"(["a"])"}})
                  .status,
              201);
  }
  auto j = Json::parse(Admin("GET", "/digest").body);
  auto c = j["regions"][0]["containers"][0];
  EXPECT_EQ(c["database"], "billing");
  EXPECT_EQ(c["container"], "invoices");
  EXPECT_EQ(c["count"], 3);
  EXPECT_EQ(c["hash"].get<std::string>().size(), 64u);
}

}  // namespace
}  // namespace regionlab::server
