// The Cosmos DB data plane as a plain function (server::HandleDataPlane) on an
// in-memory store with a fake clock: authentication, the account document,
// databases, containers, documents, patch, paging, system properties, the
// headers the SDKs depend on, and the offline states the chaos API sets.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <atomic>
#include <vector>

#include "base/cosmos_auth.h"
#include "base/encoding.h"
#include "server/data_plane.h"
#include "server/handlers.h"
#include "server/region_context.h"
#include "tests/support/test_region.h"

namespace regionlab::server {
namespace {

using Json = nlohmann::json;
using regionlab::testing::FindHeader;
using regionlab::testing::Headers;
using regionlab::testing::TestRegion;

constexpr char kDocs[] = "/dbs/db/colls/c/docs";

std::string Header(const HttpResponse& r, std::string_view name) {
  const std::string* v = FindHeader(r, name);
  return v ? *v : std::string();
}

std::string Describe(const HttpResponse& r) {
  return "HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 400);
}

Json ParseBody(const HttpResponse& r) {
  Json j = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "body is not JSON: " << Describe(r);
  return j.is_discarded() ? Json() : j;
}

// Every error the SDK sees must be a JSON object with a string code and message.
void ExpectJsonError(const HttpResponse& r, int status) {
  EXPECT_EQ(r.status, status) << Describe(r);
  Json j = Json::parse(r.body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << "error body is not a JSON object: " << Describe(r);
  ASSERT_TRUE(j.contains("code") && j["code"].is_string()) << Describe(r);
  ASSERT_TRUE(j.contains("message") && j["message"].is_string()) << Describe(r);
  EXPECT_FALSE(j["message"].get<std::string>().empty());
}

Headers Pk(const std::string& value_json) { return {{"x-ms-documentdb-partitionkey", "[" + value_json + "]"}}; }

Headers Plus(Headers a, const Headers& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class DataPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestRegion::Options options;
    options.account_regions = {"uksouth", "westeurope", "eastus"};
    options.self_id = 1;
    auto r = TestRegion::Create(options);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    region_ = std::move(r).value();
  }

  HttpResponse Call(std::string method, std::string path, std::string body = "", const Headers& headers = {}) {
    return region_->Call(std::move(method), std::move(path), std::move(body), headers);
  }

  void CreateDatabase(const std::string& id) {
    HttpResponse r = Call("POST", "/dbs", Json{{"id", id}}.dump());
    ASSERT_EQ(r.status, 201) << Describe(r);
  }

  // A container partitioned on /pk.
  void CreateContainer(const std::string& db, const std::string& id, const std::string& pk_path = "/pk") {
    Json body = {{"id", id}, {"partitionKey", {{"paths", {pk_path}}, {"kind", "Hash"}}}};
    HttpResponse r = Call("POST", "/dbs/" + db + "/colls", body.dump());
    ASSERT_EQ(r.status, 201) << Describe(r);
  }

  // db/c with partition key /pk.
  void CreateDefaultContainer() {
    ASSERT_NO_FATAL_FAILURE(CreateDatabase("db"));
    ASSERT_NO_FATAL_FAILURE(CreateContainer("db", "c"));
  }

  HttpResponse CreateDoc(const Json& doc, const Headers& extra = {}) {
    return Call("POST", kDocs, doc.dump(), Plus(Pk(doc.value("pk", Json()).dump()), extra));
  }
  HttpResponse ReadDoc(const std::string& id, const std::string& pk_json, const Headers& extra = {}) {
    return Call("GET", std::string(kDocs) + "/" + id, "", Plus(Pk(pk_json), extra));
  }
  Json ReadDocBody(const std::string& id, const std::string& pk_json) {
    HttpResponse r = ReadDoc(id, pk_json);
    EXPECT_EQ(r.status, 200) << Describe(r);
    return ParseBody(r);
  }
  HttpResponse Patch(const std::string& id, const std::string& pk_json, const Json& ops,
                     const Headers& extra = {}) {
    return Call("PATCH", std::string(kDocs) + "/" + id, ops.dump(), Plus(Pk(pk_json), extra));
  }

  std::unique_ptr<TestRegion> region_;
};

// ---------------------------------------------------------------- authentication

TEST_F(DataPlaneTest, SignedRequestIsAccepted) {
  HttpResponse r = Call("GET", "/");
  EXPECT_EQ(r.status, 200) << Describe(r);
}

TEST_F(DataPlaneTest, MissingAuthorizationIs401) {
  HttpRequest req = region_->UnsignedRequest("GET", "/");
  req.headers.emplace_back("x-ms-date", FormatHttpDate(region_->clock().NowSeconds()));
  ExpectJsonError(region_->Send(req), 401);
}

TEST_F(DataPlaneTest, MissingDateIs401) {
  HttpRequest req = region_->Request("GET", "/");
  std::erase_if(req.headers, [](const auto& h) { return h.first == "x-ms-date"; });
  ExpectJsonError(region_->Send(req), 401);
}

TEST_F(DataPlaneTest, WrongSignatureIs401) {
  std::string date = FormatHttpDate(region_->clock().NowSeconds());
  // Signed with another key.
  std::string other_key = Base64Encode("not the account key, 32 bytes..");
  HttpRequest req = region_->UnsignedRequest("GET", "/dbs");
  req.headers.emplace_back("x-ms-date", date);
  req.headers.emplace_back("authorization", *BuildAuthorizationHeader(other_key, "GET", "dbs", "", date));
  ExpectJsonError(region_->Send(req), 401);

  // Signed with the right key for another resource link.
  HttpRequest other_link = region_->UnsignedRequest("GET", "/dbs/a");
  other_link.headers.emplace_back("x-ms-date", date);
  other_link.headers.emplace_back("authorization",
                                  *BuildAuthorizationHeader(kEmulatorKey, "GET", "dbs", "dbs/b", date));
  ExpectJsonError(region_->Send(other_link), 401);

  // Signed for GET, sent as DELETE.
  HttpRequest verb = region_->Request("GET", "/dbs/a");
  verb.method = "DELETE";
  ExpectJsonError(region_->Send(verb), 401);

  // The signature's '+' turned into a space by form decoding must not pass.
  HttpRequest form = region_->Request("GET", "/dbs");
  for (auto& [k, v] : form.headers) {
    if (k == "authorization") v = "type=master&ver=1.0&sig=garbage+sig";
  }
  ExpectJsonError(region_->Send(form), 401);

  // Nothing was changed by the rejected DELETE.
  EXPECT_EQ(Call("GET", "/dbs").status, 200);
}

TEST_F(DataPlaneTest, UnauthorizedWriteChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  HttpRequest req = region_->Request("POST", kDocs, R"({"id":"x","pk":"a"})", Pk("\"a\""));
  for (auto& [k, v] : req.headers) {
    if (k == "x-ms-date") v = FormatHttpDate(region_->clock().NowSeconds() - 1);  // signature no longer matches
  }
  ExpectJsonError(region_->Send(req), 401);
  EXPECT_EQ(ReadDoc("x", "\"a\"").status, 404);
}

TEST_F(DataPlaneTest, DateMoreThan15MinutesAwayIs401) {
  const int64_t now = region_->clock().NowMicros();
  auto dated = [&](int64_t offset_seconds) {
    region_->clock().SetMicros(now + offset_seconds * 1'000'000);
    HttpRequest req = region_->Request("GET", "/dbs");  // dated by the moved clock
    region_->clock().SetMicros(now);
    return region_->Send(req);
  };
  ExpectJsonError(dated(-16 * 60), 401);
  ExpectJsonError(dated(+16 * 60), 401);
  EXPECT_EQ(dated(-14 * 60).status, 200);
  EXPECT_EQ(dated(+14 * 60).status, 200);
}

TEST_F(DataPlaneTest, ARepeatedSignatureIsStillCheckedForItsDateAndItsExactBytes) {
  // The first request verifies the HMAC and remembers it (server/signature_cache.h).
  HttpRequest req = region_->Request("GET", "/dbs");
  ASSERT_EQ(region_->Send(req).status, 200);
  EXPECT_EQ(region_->Send(req).status, 200) << "the same signed request again";

  // Same method, path and date, another signature: not in the cache, and wrong.
  HttpRequest forged = req;
  for (auto& [k, v] : forged.headers) {
    if (k == "authorization") v = *BuildAuthorizationHeader(Base64Encode("not the account key, 32 bytes.."), "GET", "dbs", "", *req.Header("x-ms-date"));
  }
  ExpectJsonError(region_->Send(forged), 401);

  // The same signature on another path or verb is not the cached one.
  HttpRequest other_path = req;
  other_path.path = other_path.target = "/offers";
  ExpectJsonError(region_->Send(other_path), 401);
  HttpRequest other_verb = req;
  other_verb.method = "POST";
  ExpectJsonError(region_->Send(other_verb), 401);

  // Sixteen minutes later the cached signature is too old, as any other.
  region_->clock().SetMicros(region_->clock().NowMicros() + 16 * 60 * 1'000'000LL);
  ExpectJsonError(region_->Send(req), 401);
}

TEST_F(DataPlaneTest, PathsWithSpacesAndUnicodeAuthenticateAndRoute) {
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  const std::string id = "a b\xC3\xBC+c";
  HttpResponse c = CreateDoc({{"id", id}, {"pk", "p"}});
  ASSERT_EQ(c.status, 201) << Describe(c);
  HttpResponse r = ReadDoc(id, "\"p\"");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(ParseBody(r)["id"], id);
}

// ---------------------------------------------------------------- account

TEST_F(DataPlaneTest, AccountDocumentListsEveryRegionWithSelfFirst) {
  HttpResponse r = Call("GET", "/");
  ASSERT_EQ(r.status, 200) << Describe(r);
  Json a = ParseBody(r);
  EXPECT_NE(a.value("id", ""), "localhost");
  EXPECT_FALSE(a.value("id", "").empty());
  EXPECT_EQ(a["enableMultipleWriteLocations"], true);
  EXPECT_FALSE(a.contains("enablePerPartitionFailoverBehavior"));
  EXPECT_TRUE(a["queryEngineConfiguration"].is_string());
  EXPECT_TRUE(a["userConsistencyPolicy"].contains("defaultConsistencyLevel"));
  for (const char* list : {"writableLocations", "readableLocations"}) {
    SCOPED_TRACE(list);
    ASSERT_TRUE(a[list].is_array());
    ASSERT_EQ(a[list].size(), 3u);
    EXPECT_EQ(a[list][0]["name"], "West Europe");
    EXPECT_EQ(a[list][0]["databaseAccountEndpoint"], region_->context().self.endpoint);
    std::set<std::string> names;
    for (const auto& loc : a[list]) {
      names.insert(loc["name"].get<std::string>());
      EXPECT_FALSE(loc["databaseAccountEndpoint"].get<std::string>().empty());
    }
    EXPECT_EQ(names, (std::set<std::string>{"UK South", "West Europe", "East US"}));
  }
}

// ---------------------------------------------------------------- databases

TEST_F(DataPlaneTest, DatabaseCreateThenConflict) {
  HttpResponse r = Call("POST", "/dbs", R"({"id":"db"})");
  ASSERT_EQ(r.status, 201) << Describe(r);
  Json db = ParseBody(r);
  EXPECT_EQ(db["id"], "db");
  for (const char* p : {"_rid", "_self", "_etag", "_ts"}) EXPECT_TRUE(db.contains(p)) << p;
  EXPECT_EQ(Header(r, "etag"), db["_etag"]);

  ExpectJsonError(Call("POST", "/dbs", R"({"id":"db"})"), 409);

  HttpResponse get = Call("GET", "/dbs/db");
  ASSERT_EQ(get.status, 200) << Describe(get);
  EXPECT_EQ(ParseBody(get)["_rid"], db["_rid"]);
  ExpectJsonError(Call("GET", "/dbs/missing"), 404);

  HttpResponse list = Call("GET", "/dbs");
  ASSERT_EQ(list.status, 200);
  Json l = ParseBody(list);
  ASSERT_EQ(l["Databases"].size(), 1u);
  EXPECT_EQ(l["Databases"][0]["id"], "db");
  EXPECT_EQ(l["_count"], 1);
}

TEST_F(DataPlaneTest, InvalidDatabaseBodiesAre400) {
  ExpectJsonError(Call("POST", "/dbs", R"({"id":"a/b"})"), 400);
  ExpectJsonError(Call("POST", "/dbs", R"({"id":"a "})"), 400);
  ExpectJsonError(Call("POST", "/dbs", R"({"name":"x"})"), 400);
  ExpectJsonError(Call("POST", "/dbs", R"({"id":)"), 400);
  ExpectJsonError(Call("POST", "/dbs", ""), 400);
  EXPECT_EQ(ParseBody(Call("GET", "/dbs"))["Databases"].size(), 0u);
}

// ---------------------------------------------------------------- containers

TEST_F(DataPlaneTest, ContainerCreateFillsDefaults) {
  ASSERT_NO_FATAL_FAILURE(CreateDatabase("db"));
  HttpResponse r = Call("POST", "/dbs/db/colls", R"({"id":"c","partitionKey":{"paths":["/pk"]}})");
  ASSERT_EQ(r.status, 201) << Describe(r);
  Json c = ParseBody(r);
  EXPECT_EQ(c["id"], "c");
  EXPECT_EQ(c["partitionKey"]["paths"], Json::array({"/pk"}));
  EXPECT_EQ(c["partitionKey"]["kind"], "Hash");
  EXPECT_EQ(c["partitionKey"]["version"], 2);
  EXPECT_EQ(c["conflictResolutionPolicy"]["mode"], "LastWriterWins");
  EXPECT_EQ(c["conflictResolutionPolicy"]["conflictResolutionPath"], "/_ts");
  EXPECT_TRUE(c.contains("indexingPolicy"));
  for (const char* p : {"_rid", "_self", "_etag", "_ts", "_docs", "_sprocs", "_triggers", "_udfs", "_conflicts"}) {
    EXPECT_TRUE(c.contains(p)) << p;
  }
  EXPECT_EQ(Header(r, "etag"), c["_etag"]);

  // Read back the same shape.
  HttpResponse get = Call("GET", "/dbs/db/colls/c");
  ASSERT_EQ(get.status, 200) << Describe(get);
  EXPECT_EQ(ParseBody(get)["conflictResolutionPolicy"], c["conflictResolutionPolicy"]);

  ExpectJsonError(Call("POST", "/dbs/db/colls", R"({"id":"c","partitionKey":{"paths":["/pk"]}})"), 409);
  ExpectJsonError(Call("POST", "/dbs/nodb/colls", R"({"id":"c","partitionKey":{"paths":["/pk"]}})"), 404);
}

TEST_F(DataPlaneTest, ContainerWithoutPartitionKeyUsesTheSdkDefault) {
  ASSERT_NO_FATAL_FAILURE(CreateDatabase("db"));
  HttpResponse r = Call("POST", "/dbs/db/colls", R"({"id":"nopk"})");
  ASSERT_EQ(r.status, 201) << Describe(r);
  EXPECT_EQ(ParseBody(r)["partitionKey"]["paths"], Json::array({"/_partitionKey"}));
}

TEST_F(DataPlaneTest, ContainerPolicyCannotChangeOnReplace) {
  ASSERT_NO_FATAL_FAILURE(CreateDatabase("db"));
  Json body = {{"id", "c"},
               {"partitionKey", {{"paths", {"/pk"}}, {"kind", "Hash"}}},
               {"conflictResolutionPolicy", {{"mode", "LastWriterWins"}, {"conflictResolutionPath", "/score"}}}};
  ASSERT_EQ(Call("POST", "/dbs/db/colls", body.dump()).status, 201);

  Json changed = body;
  changed["conflictResolutionPolicy"] = {{"mode", "LastWriterWins"}, {"conflictResolutionPath", "/_ts"}};
  ExpectJsonError(Call("PUT", "/dbs/db/colls/c", changed.dump()), 400);
  changed["conflictResolutionPolicy"] = {{"mode", "Custom"}, {"conflictResolutionProcedure", ""}};
  ExpectJsonError(Call("PUT", "/dbs/db/colls/c", changed.dump()), 400);
  Json other_pk = body;
  other_pk["partitionKey"] = {{"paths", {"/other"}}, {"kind", "Hash"}};
  ExpectJsonError(Call("PUT", "/dbs/db/colls/c", other_pk.dump()), 400);

  Json c = ParseBody(Call("GET", "/dbs/db/colls/c"));
  EXPECT_EQ(c["conflictResolutionPolicy"]["conflictResolutionPath"], "/score");
  EXPECT_EQ(c["partitionKey"]["paths"], Json::array({"/pk"}));

  // A replace that keeps the policy is accepted (so the 400s above are about the policy).
  Json same = body;
  same["defaultTtl"] = 3600;
  HttpResponse ok = Call("PUT", "/dbs/db/colls/c", same.dump());
  ASSERT_EQ(ok.status, 200) << Describe(ok);
  EXPECT_EQ(ParseBody(ok)["defaultTtl"], 3600);
  EXPECT_EQ(ParseBody(ok)["conflictResolutionPolicy"]["conflictResolutionPath"], "/score");
}

TEST_F(DataPlaneTest, HierarchicalPartitionKeyHasAtMostThreePaths) {
  ASSERT_NO_FATAL_FAILURE(CreateDatabase("db"));
  Json four = {{"id", "h4"}, {"partitionKey", {{"paths", {"/a", "/b", "/c", "/d"}}, {"kind", "MultiHash"}, {"version", 2}}}};
  ExpectJsonError(Call("POST", "/dbs/db/colls", four.dump()), 400);
  ExpectJsonError(Call("GET", "/dbs/db/colls/h4"), 404);
  Json three = {{"id", "h3"}, {"partitionKey", {{"paths", {"/a", "/b", "/c"}}, {"kind", "MultiHash"}, {"version", 2}}}};
  HttpResponse r = Call("POST", "/dbs/db/colls", three.dump());
  ASSERT_EQ(r.status, 201) << Describe(r);
  EXPECT_EQ(ParseBody(r)["partitionKey"]["kind"], "MultiHash");
  // Hash with two paths is malformed.
  Json hash2 = {{"id", "x"}, {"partitionKey", {{"paths", {"/a", "/b"}}, {"kind", "Hash"}}}};
  ExpectJsonError(Call("POST", "/dbs/db/colls", hash2.dump()), 400);
}

TEST_F(DataPlaneTest, InvalidContainerIdsAre400) {
  ASSERT_NO_FATAL_FAILURE(CreateDatabase("db"));
  for (const char* id : {"a/b", "a\\b", "a?b", "a#b", "trailing "}) {
    Json body = {{"id", id}, {"partitionKey", {{"paths", {"/pk"}}}}};
    ExpectJsonError(Call("POST", "/dbs/db/colls", body.dump()), 400);
  }
}

// ---------------------------------------------------------------- documents

TEST_F(DataPlaneTest, DocumentCrud) {
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  HttpResponse c = CreateDoc({{"id", "d1"}, {"pk", "a"}, {"v", 1}});
  ASSERT_EQ(c.status, 201) << Describe(c);
  Json created = ParseBody(c);
  EXPECT_EQ(created["v"], 1);

  HttpResponse r = ReadDoc("d1", "\"a\"");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(ParseBody(r), created);

  // Wrong partition key: a different document.
  ExpectJsonError(ReadDoc("d1", "\"b\""), 404);

  region_->clock().AdvanceMillis(2000);
  HttpResponse put = Call("PUT", std::string(kDocs) + "/d1", R"({"id":"d1","pk":"a","v":2})", Pk("\"a\""));
  ASSERT_EQ(put.status, 200) << Describe(put);
  Json replaced = ParseBody(put);
  EXPECT_EQ(replaced["v"], 2);
  EXPECT_NE(replaced["_etag"], created["_etag"]);
  EXPECT_EQ(replaced["_rid"], created["_rid"]);
  EXPECT_EQ(replaced["_ts"], created["_ts"].get<int64_t>() + 2);
  EXPECT_EQ(ReadDocBody("d1", "\"a\"")["v"], 2);

  HttpResponse del = Call("DELETE", std::string(kDocs) + "/d1", "", Pk("\"a\""));
  EXPECT_EQ(del.status, 204) << Describe(del);
  EXPECT_TRUE(del.body.empty());
  ExpectJsonError(ReadDoc("d1", "\"a\""), 404);
  ExpectJsonError(Call("DELETE", std::string(kDocs) + "/d1", "", Pk("\"a\"")), 404);
  ExpectJsonError(Call("PUT", std::string(kDocs) + "/d1", R"({"id":"d1","pk":"a"})", Pk("\"a\"")), 404);

  // The id can be reused after a delete.
  EXPECT_EQ(CreateDoc({{"id", "d1"}, {"pk", "a"}}).status, 201);
}

TEST_F(DataPlaneTest, CreateExistingIs409AndKeepsTheOriginal) {
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  ASSERT_EQ(CreateDoc({{"id", "d"}, {"pk", "a"}, {"v", 1}}).status, 201);
  ExpectJsonError(CreateDoc({{"id", "d"}, {"pk", "a"}, {"v", 2}}), 409);
  EXPECT_EQ(ReadDocBody("d", "\"a\"")["v"], 1);
  // Same id, other partition key: another document.
  EXPECT_EQ(CreateDoc({{"id", "d"}, {"pk", "b"}, {"v", 3}}).status, 201);
}

TEST_F(DataPlaneTest, UpsertCreatesThenReplaces) {
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  Headers upsert = {{"x-ms-documentdb-is-upsert", "true"}};
  HttpResponse first = CreateDoc({{"id", "u"}, {"pk", "a"}, {"v", 1}}, upsert);
  ASSERT_EQ(first.status, 201) << Describe(first);
  HttpResponse second = CreateDoc({{"id", "u"}, {"pk", "a"}, {"v", 2}}, upsert);
  ASSERT_EQ(second.status, 200) << Describe(second);
  EXPECT_EQ(ParseBody(second)["v"], 2);
  EXPECT_NE(ParseBody(second)["_etag"], ParseBody(first)["_etag"]);
  EXPECT_EQ(ReadDocBody("u", "\"a\"")["v"], 2);
}

TEST_F(DataPlaneTest, IfMatchMismatchIs412AndChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  HttpResponse c = CreateDoc({{"id", "d"}, {"pk", "a"}, {"v", 1}});
  ASSERT_EQ(c.status, 201);
  const std::string etag = Header(c, "etag");
  const Headers stale = {{"if-match", "\"00000000-0000-0000-0000-000000000000\""}};
  const std::string path = std::string(kDocs) + "/d";
  const uint64_t lsn = region_->store().last_lsn();

  ExpectJsonError(Call("PUT", path, R"({"id":"d","pk":"a","v":2})", Plus(Pk("\"a\""), stale)), 412);
  ExpectJsonError(Patch("d", "\"a\"", Json::array({{{"op", "set"}, {"path", "/v"}, {"value", 3}}}), stale), 412);
  ExpectJsonError(Call("DELETE", path, "", Plus(Pk("\"a\""), stale)), 412);
  ExpectJsonError(CreateDoc({{"id", "d"}, {"pk", "a"}, {"v", 4}},
                            Plus({{"x-ms-documentdb-is-upsert", "true"}}, stale)),
                  412);

  Json now = ReadDocBody("d", "\"a\"");
  EXPECT_EQ(now["v"], 1);
  EXPECT_EQ(now["_etag"], etag);
  EXPECT_EQ(region_->store().last_lsn(), lsn) << "a refused write reached the log";

  // With the current etag the write goes through.
  HttpResponse ok = Call("PUT", path, R"({"id":"d","pk":"a","v":5})", Plus(Pk("\"a\""), {{"if-match", etag}}));
  EXPECT_EQ(ok.status, 200) << Describe(ok);
  // And the old etag is now stale.
  ExpectJsonError(Call("DELETE", path, "", Plus(Pk("\"a\""), {{"if-match", etag}})), 412);
}

TEST_F(DataPlaneTest, IfNoneMatchCurrentEtagIs304) {
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  HttpResponse c = CreateDoc({{"id", "d"}, {"pk", "a"}});
  ASSERT_EQ(c.status, 201);
  const std::string etag = Header(c, "etag");
  HttpResponse r = ReadDoc("d", "\"a\"", {{"if-none-match", etag}});
  EXPECT_EQ(r.status, 304) << Describe(r);
  EXPECT_TRUE(r.body.empty());
  HttpResponse stale = ReadDoc("d", "\"a\"", {{"if-none-match", "\"something-else\""}});
  EXPECT_EQ(stale.status, 200) << Describe(stale);
}

TEST_F(DataPlaneTest, PartitionKeyHeaderMustMatchTheBody) {
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  HttpResponse r = Call("POST", kDocs, R"({"id":"d","pk":"a"})", Pk("\"b\""));
  ExpectJsonError(r, 400);
  ExpectJsonError(ReadDoc("d", "\"a\""), 404);
  ExpectJsonError(ReadDoc("d", "\"b\""), 404);
  // Numbers compare by value: 5 and 5.0 are one partition key.
  EXPECT_EQ(Call("POST", kDocs, R"({"id":"n","pk":5})", Pk("5.0")).status, 201);
  EXPECT_EQ(ReadDoc("n", "5").status, 200);
  // Point reads need the header.
  ExpectJsonError(Call("GET", std::string(kDocs) + "/n"), 400);
}

TEST_F(DataPlaneTest, InvalidDocumentIdsAre400) {
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  for (std::string id : {std::string("a/b"), std::string("a\\b"), std::string("a?b"), std::string("a#b"),
                         std::string("trailing "), std::string(""), std::string(256, 'x')}) {
    SCOPED_TRACE("id '" + id.substr(0, 20) + "'");
    ExpectJsonError(CreateDoc({{"id", id}, {"pk", "a"}}), 400);
  }
  ExpectJsonError(CreateDoc({{"id", 5}, {"pk", "a"}}), 400);
  ExpectJsonError(CreateDoc({{"pk", "a"}}), 400);
  ExpectJsonError(Call("POST", kDocs, "[1,2]", Pk("\"a\"")), 400);
  EXPECT_EQ(ParseBody(Call("GET", kDocs))["_count"], 0);
  // The longest valid id.
  EXPECT_EQ(CreateDoc({{"id", std::string(255, 'x')}, {"pk", "a"}}).status, 201);
}

TEST_F(DataPlaneTest, DocumentOver2MBIs413) {
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  Json big = {{"id", "big"}, {"pk", "a"}, {"blob", std::string(2 * 1024 * 1024, 'x')}};
  ExpectJsonError(CreateDoc(big), 413);
  ExpectJsonError(CreateDoc(big, {{"x-ms-documentdb-is-upsert", "true"}}), 413);
  ExpectJsonError(ReadDoc("big", "\"a\""), 404);
  // Just under the limit is fine.
  Json fits = {{"id", "fits"}, {"pk", "a"}, {"blob", std::string(2 * 1024 * 1024 - 100, 'x')}};
  HttpResponse ok = CreateDoc(fits);
  EXPECT_EQ(ok.status, 201) << Describe(ok);
  ExpectJsonError(Call("PUT", std::string(kDocs) + "/fits", Json{{"id", "fits"}, {"pk", "a"}, {"blob", std::string(2 * 1024 * 1024, 'y')}}.dump(), Pk("\"a\"")), 413);
}

TEST_F(DataPlaneTest, MalformedJsonIs400WithJsonError) {
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  ExpectJsonError(Call("POST", kDocs, R"({"id":"d","pk":"a")", Pk("\"a\"")), 400);
  ExpectJsonError(Call("POST", kDocs, "not json", Pk("\"a\"")), 400);
  ExpectJsonError(Call("POST", "/dbs/db/colls", "{'id':'x'}"), 400);
  ASSERT_EQ(CreateDoc({{"id", "d"}, {"pk", "a"}}).status, 201);
  ExpectJsonError(Call("PATCH", std::string(kDocs) + "/d", "[{", Pk("\"a\"")), 400);
  ExpectJsonError(Call("GET", kDocs, "", {{"x-ms-documentdb-partitionkey", "not-json"}}), 400);
}

TEST_F(DataPlaneTest, UnknownRouteIs404Json) {
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  ExpectJsonError(Call("GET", "/nothing"), 404);
  ExpectJsonError(Call("GET", "/dbs/db/users/nobody"), 404);  // users exist now; this one does not
  ExpectJsonError(Call("GET", "/dbs/db/colls/c/docs/x/attachments"), 404);
  ExpectJsonError(Call("GET", "/dbs/db/colls/missing/docs"), 404);
}

// ---------------------------------------------------------------- patch

class PatchTest : public DataPlaneTest {
 protected:
  void SetUp() override {
    DataPlaneTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
    HttpResponse c = CreateDoc(Json::parse(
        R"({"id":"p","pk":"a","a":1,"arr":[1,2,3],"obj":{"x":1},"n":5,"f":1.5,"old":"v","s":"str"})"));
    ASSERT_EQ(c.status, 201) << Describe(c);
    original_ = ParseBody(c);
  }
  // A patch that must fail with 400 and leave the document exactly as it was.
  void ExpectRefused(const Json& ops) {
    SCOPED_TRACE(ops.dump());
    ExpectJsonError(Patch("p", "\"a\"", ops), 400);
    EXPECT_EQ(ReadDocBody("p", "\"a\""), original_);
  }
  Json original_;
};

TEST_F(PatchTest, AllOperationsApplyInOrder) {
  region_->clock().AdvanceMillis(3000);
  Json ops = Json::array({
      {{"op", "add"}, {"path", "/new"}, {"value", "v"}},
      {{"op", "add"}, {"path", "/arr/1"}, {"value", 9}},  // array add inserts
      {{"op", "add"}, {"path", "/arr/-"}, {"value", 4}},  // '-' appends
      {{"op", "set"}, {"path", "/a"}, {"value", 2}},
      {{"op", "set"}, {"path", "/obj/y"}, {"value", true}},
      {{"op", "replace"}, {"path", "/obj/x"}, {"value", 10}},
      {{"op", "remove"}, {"path", "/old"}},
      {{"op", "incr"}, {"path", "/n"}, {"value", 3}},
      {{"op", "incr"}, {"path", "/f"}, {"value", 0.5}},
      {{"op", "move"}, {"from", "/new"}, {"path", "/moved"}},
  });
  HttpResponse r = Patch("p", "\"a\"", ops);
  ASSERT_EQ(r.status, 200) << Describe(r);
  Json d = ParseBody(r);
  EXPECT_EQ(d["a"], 2);
  EXPECT_EQ(d["arr"], Json::array({1, 9, 2, 3, 4}));
  EXPECT_EQ(d["obj"], (Json{{"x", 10}, {"y", true}}));
  EXPECT_FALSE(d.contains("old"));
  EXPECT_EQ(d["n"], 8);
  EXPECT_TRUE(d["n"].is_number_integer());
  EXPECT_DOUBLE_EQ(d["f"].get<double>(), 2.0);
  EXPECT_FALSE(d.contains("new"));
  EXPECT_EQ(d["moved"], "v");
  EXPECT_EQ(d["id"], "p");
  EXPECT_EQ(d["pk"], "a");
  EXPECT_NE(d["_etag"], original_["_etag"]);
  EXPECT_EQ(d["_ts"], region_->clock().NowSeconds());
  EXPECT_EQ(Header(r, "etag"), d["_etag"]);
  EXPECT_EQ(ReadDocBody("p", "\"a\""), d);
}

TEST_F(PatchTest, ObjectFormWithOperationsArray) {
  Json body = {{"operations", Json::array({{{"op", "incr"}, {"path", "/n"}, {"value", -5}}})}};
  HttpResponse r = Patch("p", "\"a\"", body);
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(ParseBody(r)["n"], 0);
}

TEST_F(PatchTest, IncrOnMissingPathCreatesIt) {
  HttpResponse r = Patch("p", "\"a\"", Json::array({{{"op", "incr"}, {"path", "/counter"}, {"value", 1}}}));
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(ParseBody(r)["counter"], 1);
}

// A patch is applied before the write to the version it reads, and that work
// is reused only if the version is unchanged when the write runs: two threads
// incrementing one counter, interleaved with replaces of the document, never
// lose an increment or resurrect a replaced field.
TEST_F(PatchTest, ConcurrentPatchesAndReplacesLoseNothing) {
  constexpr int kPerThread = 300;
  const std::string path = std::string(kDocs) + "/p";
  const HttpRequest incr = region_->Request(
      "PATCH", path, Json::array({{{"op", "incr"}, {"path", "/n"}, {"value", 1}}}).dump(), Pk("\"a\""));
  std::atomic<int> failures{0};
  auto patcher = [&] {
    for (int i = 0; i < kPerThread; ++i) {
      HttpRequest req = incr;
      if (region_->Send(req).status != 200) ++failures;
    }
  };
  // Replaces keep n (read, then replace if unchanged) but change "gen", so a
  // patch rendered from a stale version would bring an old "gen" back.
  std::atomic<int> generation{0};
  auto replacer = [&] {
    // Each generation is retried until its replace wins (412: a patch came
    // between the read and the replace); once the patchers are done, it does.
    for (int i = 1; i <= 100 && failures == 0;) {
      HttpRequest read = region_->Request("GET", path, "", Pk("\"a\""));
      HttpResponse cur = region_->Send(read);
      if (cur.status != 200) { ++failures; break; }
      Json doc = Json::parse(cur.body);
      doc["gen"] = i;
      HttpRequest put = region_->Request("PUT", path, doc.dump(), Plus(Pk("\"a\""), {{"if-match", doc["_etag"]}}));
      const int status = region_->Send(put).status;
      if (status == 200) {
        generation = i++;
      } else if (status != 412) {
        ++failures;
      }
    }
  };
  std::thread a(patcher), b(patcher), c(replacer);
  a.join();
  b.join();
  c.join();
  EXPECT_EQ(failures.load(), 0);
  Json final_doc = ReadDocBody("p", "\"a\"");
  EXPECT_EQ(final_doc["n"], 5 + 2 * kPerThread);
  EXPECT_EQ(final_doc.value("gen", 0), 100);
  EXPECT_EQ(generation.load(), 100);
}

TEST_F(PatchTest, FailingOperationLeavesDocumentUnchanged) {
  // The first operations would succeed; the last fails; none may stick.
  ExpectRefused(Json::array({{{"op", "set"}, {"path", "/a"}, {"value", 100}},
                             {{"op", "remove"}, {"path", "/old"}},
                             {{"op", "remove"}, {"path", "/does-not-exist"}}}));
  ExpectRefused(Json::array({{{"op", "incr"}, {"path", "/n"}, {"value", 1}},
                             {{"op", "replace"}, {"path", "/missing"}, {"value", 1}}}));
  ExpectRefused(Json::array({{{"op", "set"}, {"path", "/a"}, {"value", 100}},
                             {{"op", "incr"}, {"path", "/s"}, {"value", 1}}}));
  ExpectRefused(Json::array({{{"op", "set"}, {"path", "/a"}, {"value", 100}},
                             {{"op", "move"}, {"from", "/nope"}, {"path", "/x"}}}));
  ExpectRefused(Json::array({{{"op", "set"}, {"path", "/a"}, {"value", 100}},
                             {{"op", "add"}, {"path", "/no/parent"}, {"value", 1}}}));
  ExpectRefused(Json::array({{{"op", "set"}, {"path", "/a"}, {"value", 100}}, {{"op", "frobnicate"}, {"path", "/a"}}}));
  ExpectRefused(Json::array({{{"op", "set"}, {"path", "/a"}}}));  // no value
  ExpectRefused(Json::array());
}

TEST_F(PatchTest, IdAndPartitionKeyAreImmutable) {
  ExpectRefused(Json::array({{{"op", "set"}, {"path", "/id"}, {"value", "other"}}}));
  ExpectRefused(Json::array({{{"op", "remove"}, {"path", "/id"}}}));
  ExpectRefused(Json::array({{{"op", "set"}, {"path", "/pk"}, {"value", "b"}}}));
  ExpectRefused(Json::array({{{"op", "replace"}, {"path", "/pk"}, {"value", "b"}}}));
  ExpectRefused(Json::array({{{"op", "remove"}, {"path", "/pk"}}}));
  ExpectRefused(Json::array({{{"op", "move"}, {"from", "/pk"}, {"path", "/x"}}}));
  ExpectRefused(Json::array({{{"op", "move"}, {"from", "/a"}, {"path", "/id"}}}));
  ExpectRefused(Json::array({{{"op", "set"}, {"path", "/_etag"}, {"value", "x"}}}));
}

TEST_F(PatchTest, NestedPartitionKeyPathIsImmutable) {
  ASSERT_NO_FATAL_FAILURE(CreateContainer("db", "nested", "/tenant/id"));
  const std::string docs = "/dbs/db/colls/nested/docs";
  HttpResponse c = Call("POST", docs, R"({"id":"t","tenant":{"id":"acme","name":"A"}})", Pk("\"acme\""));
  ASSERT_EQ(c.status, 201) << Describe(c);
  ExpectJsonError(Call("PATCH", docs + "/t", R"([{"op":"set","path":"/tenant","value":{}}])", Pk("\"acme\"")), 400);
  ExpectJsonError(Call("PATCH", docs + "/t", R"([{"op":"set","path":"/tenant/id","value":"x"}])", Pk("\"acme\"")), 400);
  HttpResponse ok = Call("PATCH", docs + "/t", R"([{"op":"set","path":"/tenant/name","value":"B"}])", Pk("\"acme\""));
  ASSERT_EQ(ok.status, 200) << Describe(ok);
  EXPECT_EQ(ParseBody(ok)["tenant"], (Json{{"id", "acme"}, {"name", "B"}}));
}

TEST_F(PatchTest, MissingDocumentIs404) {
  ExpectJsonError(Patch("nope", "\"a\"", Json::array({{{"op", "set"}, {"path", "/a"}, {"value", 1}}})), 404);
}

// ---------------------------------------------------------------- read feed

TEST_F(DataPlaneTest, ReadFeedPagesReturnEveryDocumentOnce) {
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  std::set<std::string> want;
  for (int i = 0; i < 23; ++i) {
    std::string id = "doc" + std::to_string(i);
    ASSERT_EQ(CreateDoc({{"id", id}, {"pk", "p" + std::to_string(i % 4)}}).status, 201);
    want.insert(id);
  }
  // Another container's documents must not leak into the feed.
  ASSERT_NO_FATAL_FAILURE(CreateContainer("db", "other"));
  ASSERT_EQ(Call("POST", "/dbs/db/colls/other/docs", R"({"id":"stray","pk":"p0"})", Pk("\"p0\"")).status, 201);

  std::vector<std::string> got;
  std::string continuation;
  int pages = 0;
  do {
    Headers h = {{"x-ms-max-item-count", "5"}};
    if (!continuation.empty()) h.emplace_back("x-ms-continuation", continuation);
    HttpResponse r = Call("GET", kDocs, "", h);
    ASSERT_EQ(r.status, 200) << Describe(r);
    Json page = ParseBody(r);
    ASSERT_TRUE(page["Documents"].is_array());
    EXPECT_LE(page["Documents"].size(), 5u);
    EXPECT_EQ(page["_count"], page["Documents"].size());
    EXPECT_EQ(Header(r, "x-ms-item-count"), std::to_string(page["Documents"].size()));
    for (const auto& d : page["Documents"]) got.push_back(d["id"].get<std::string>());
    continuation = Header(r, "x-ms-continuation");
    ASSERT_LT(++pages, 20) << "paging does not terminate";
  } while (!continuation.empty());
  EXPECT_EQ(pages, 5);
  std::vector<std::string> sorted = got;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "a document came twice";
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), want);
  EXPECT_EQ(got.size(), want.size());
}

TEST_F(DataPlaneTest, ReadFeedScopedToOnePartitionKey) {
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  for (int i = 0; i < 7; ++i) {
    ASSERT_EQ(CreateDoc({{"id", "d" + std::to_string(i)}, {"pk", i % 2 ? "odd" : "even"}}).status, 201);
  }
  std::vector<std::string> got;
  std::string continuation;
  for (int pages = 0; pages < 10; ++pages) {
    Headers h = Plus(Pk("\"odd\""), {{"x-ms-max-item-count", "2"}});
    if (!continuation.empty()) h.emplace_back("x-ms-continuation", continuation);
    HttpResponse r = Call("GET", kDocs, "", h);
    ASSERT_EQ(r.status, 200) << Describe(r);
    const Json page = ParseBody(r);
    for (const auto& d : page["Documents"]) {
      EXPECT_EQ(d["pk"], "odd");
      got.push_back(d["id"]);
    }
    continuation = Header(r, "x-ms-continuation");
    if (continuation.empty()) break;
  }
  EXPECT_EQ(got, (std::vector<std::string>{"d1", "d3", "d5"}));
}

TEST_F(DataPlaneTest, ReadFeedRejectsForeignContinuation) {
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  ExpectJsonError(Call("GET", kDocs, "", {{"x-ms-continuation", Base64Encode("Dsomething-else")}}), 400);
  ExpectJsonError(Call("GET", kDocs, "", {{"x-ms-continuation", "!!!"}}), 400);
}

// ---------------------------------------------------------------- cascades

TEST_F(DataPlaneTest, DatabaseDeleteCascades) {
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  ASSERT_NO_FATAL_FAILURE(CreateContainer("db", "c2"));
  ASSERT_EQ(CreateDoc({{"id", "d"}, {"pk", "a"}}).status, 201);
  ASSERT_EQ(Call("POST", "/dbs/db/colls/c2/docs", R"({"id":"e","pk":"a"})", Pk("\"a\"")).status, 201);
  // A database that is not deleted keeps its content.
  ASSERT_NO_FATAL_FAILURE(CreateDatabase("keep"));
  ASSERT_NO_FATAL_FAILURE(CreateContainer("keep", "c"));
  ASSERT_EQ(Call("POST", "/dbs/keep/colls/c/docs", R"({"id":"k","pk":"a"})", Pk("\"a\"")).status, 201);

  HttpResponse del = Call("DELETE", "/dbs/db");
  ASSERT_EQ(del.status, 204) << Describe(del);
  EXPECT_TRUE(del.body.empty());
  ExpectJsonError(Call("GET", "/dbs/db"), 404);
  ExpectJsonError(Call("GET", "/dbs/db/colls/c"), 404);
  ExpectJsonError(Call("GET", "/dbs/db/colls/c2"), 404);
  ExpectJsonError(ReadDoc("d", "\"a\""), 404);
  ExpectJsonError(Call("DELETE", "/dbs/db"), 404);

  // Recreating the same names does not resurrect anything.
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  ExpectJsonError(ReadDoc("d", "\"a\""), 404);
  EXPECT_EQ(ParseBody(Call("GET", kDocs))["_count"], 0);
  Json colls = ParseBody(Call("GET", "/dbs/db/colls"));
  ASSERT_EQ(colls["DocumentCollections"].size(), 1u);
  EXPECT_EQ(colls["DocumentCollections"][0]["id"], "c");
  ASSERT_NO_FATAL_FAILURE(CreateContainer("db", "c2"));
  EXPECT_EQ(ParseBody(Call("GET", "/dbs/db/colls/c2/docs"))["_count"], 0);

  EXPECT_EQ(Call("GET", "/dbs/keep/colls/c/docs/k", "", Pk("\"a\"")).status, 200);
}

TEST_F(DataPlaneTest, ContainerDeleteCascades) {
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  ASSERT_EQ(CreateDoc({{"id", "d"}, {"pk", "a"}}).status, 201);
  ASSERT_EQ(Call("DELETE", "/dbs/db/colls/c").status, 204);
  ExpectJsonError(Call("GET", "/dbs/db/colls/c"), 404);
  ExpectJsonError(ReadDoc("d", "\"a\""), 404);
  ASSERT_NO_FATAL_FAILURE(CreateContainer("db", "c"));
  ExpectJsonError(ReadDoc("d", "\"a\""), 404);
  EXPECT_EQ(Call("GET", "/dbs/db").status, 200);
}

// ---------------------------------------------------------------- system properties and headers

TEST_F(DataPlaneTest, SystemPropertiesAreSetByTheServer) {
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  region_->clock().SetMicros(1'712'345'678'900'000);
  // Client-supplied system properties are ignored.
  HttpResponse r = CreateDoc({{"id", "d"}, {"pk", "a"}, {"_ts", 1}, {"_etag", "\"mine\""}, {"_rid", "x"}});
  ASSERT_EQ(r.status, 201) << Describe(r);
  Json d = ParseBody(r);
  for (const char* p : {"_rid", "_self", "_etag", "_ts", "_attachments"}) {
    EXPECT_TRUE(d.contains(p)) << p;
  }
  EXPECT_EQ(d["_ts"], 1712345678);
  EXPECT_NE(d["_etag"], "\"mine\"");
  EXPECT_NE(d["_rid"], "x");
  EXPECT_EQ(Header(r, "etag"), d["_etag"]);
  Json coll = ParseBody(Call("GET", "/dbs/db/colls/c"));
  const std::string self = d["_self"];
  EXPECT_TRUE(self.starts_with(coll["_self"].get<std::string>() + "docs/")) << self;
  EXPECT_TRUE(self.ends_with("/"));

  HttpResponse read = ReadDoc("d", "\"a\"");
  EXPECT_EQ(Header(read, "etag"), ParseBody(read)["_etag"]);

  region_->clock().AdvanceMillis(61'000);
  HttpResponse upd = CreateDoc({{"id", "d"}, {"pk", "a"}}, {{"x-ms-documentdb-is-upsert", "true"}});
  ASSERT_EQ(upd.status, 200);
  EXPECT_EQ(ParseBody(upd)["_ts"], 1712345678 + 61);
  EXPECT_EQ(Header(upd, "etag"), ParseBody(upd)["_etag"]);
}

TEST_F(DataPlaneTest, DocumentRidExtendsItsContainerRid) {
  // Cosmos rids are hierarchical: a document's _rid starts with the 8 bytes of
  // its container's _rid, written in the rid alphabet ('/' as '-').
  ASSERT_NO_FATAL_FAILURE(CreateDatabase("db"));
  int checked_with_dash = 0;
  for (int i = 0; i < 40; ++i) {
    std::string coll = "c" + std::to_string(i);
    ASSERT_NO_FATAL_FAILURE(CreateContainer("db", coll));
    std::string coll_rid = ParseBody(Call("GET", "/dbs/db/colls/" + coll))["_rid"];
    HttpResponse r = Call("POST", "/dbs/db/colls/" + coll + "/docs", R"({"id":"d","pk":"a"})", Pk("\"a\""));
    ASSERT_EQ(r.status, 201);
    std::string doc_rid = ParseBody(r)["_rid"];
    // 8 bytes are 10 full base64 characters plus 4 bits.
    EXPECT_EQ(doc_rid.substr(0, 10), coll_rid.substr(0, 10)) << "container " << coll;
    if (coll_rid.substr(0, 10).find('-') != std::string::npos) ++checked_with_dash;
  }
  EXPECT_GT(checked_with_dash, 0) << "no container rid exercised the '-' character";
}

TEST_F(DataPlaneTest, DocumentResponsesCarrySessionTokenAndContentPath) {
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  const std::string coll_rid = ParseBody(Call("GET", "/dbs/db/colls/c"))["_rid"];
  const std::regex uuid("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$");

  std::vector<std::pair<std::string, HttpResponse>> responses;
  responses.emplace_back("create", CreateDoc({{"id", "d"}, {"pk", "a"}}));
  responses.emplace_back("read", ReadDoc("d", "\"a\""));
  responses.emplace_back("replace", Call("PUT", std::string(kDocs) + "/d", R"({"id":"d","pk":"a","v":1})", Pk("\"a\"")));
  responses.emplace_back("patch", Patch("d", "\"a\"", Json::array({{{"op", "set"}, {"path", "/v"}, {"value", 2}}})));
  responses.emplace_back("feed", Call("GET", kDocs));
  responses.emplace_back("delete", Call("DELETE", std::string(kDocs) + "/d", "", Pk("\"a\"")));
  uint64_t previous = 0;
  for (const auto& [what, r] : responses) {
    SCOPED_TRACE(what);
    EXPECT_LT(r.status, 300) << Describe(r);
    EXPECT_EQ(Header(r, "x-ms-content-path"), coll_rid);
    const std::string token = Header(r, "x-ms-session-token");
    // <pkRangeId>:<version>#<globalLsn>#<regionId>=<lsn>... naming every
    // region of the account (0, 1, 2), or the SDK's token merge throws.
    std::smatch m;
    ASSERT_TRUE(std::regex_match(token, m, std::regex(R"(^\d+:\d+#\d+#0=\d+#1=(\d+)#2=\d+$)"))) << token;
    // This region's (id 1) entry moves forward with each of its writes and
    // stays put on reads, so a session read after a write can be served.
    uint64_t self = std::stoull(m[1]);
    if (what == "read" || what == "feed") {
      EXPECT_EQ(self, previous) << token;
    } else {
      EXPECT_GT(self, previous) << token;
    }
    previous = self;
    EXPECT_TRUE(std::regex_match(Header(r, "x-ms-activity-id"), uuid)) << Header(r, "x-ms-activity-id");
    const std::string charge = Header(r, "x-ms-request-charge");
    ASSERT_FALSE(charge.empty());
    EXPECT_GT(std::stod(charge), 0.0);
  }
}

// An etag is a quoted GUID-shaped string: the region id, then the lsn's top
// 16 bits and its low 48 bits, in lowercase hex (as printf would write it).
TEST(EtagTest, RegionAndLsnInLowercaseHexAsPrintfWritesThem) {
  for (uint32_t region : {0u, 1u, 0xabcdefu, 0xffffffffu}) {
    for (uint64_t lsn : {uint64_t{0}, uint64_t{1}, uint64_t{0x1234567890abcdefULL}, ~uint64_t{0}, uint64_t{1} << 48}) {
      char expected[64];
      std::snprintf(expected, sizeof expected, "\"%08x-0000-0000-%04x-%012llx\"", region,
                    unsigned((lsn >> 48) & 0xffff), static_cast<unsigned long long>(lsn & 0xffffffffffffULL));
      EXPECT_EQ(server::MakeEtag(region, lsn), expected) << region << " " << lsn;
    }
  }
}

// ---------------------------------------------------------------- offline states

TEST_F(DataPlaneTest, Offline503RefusesEverything) {
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  ASSERT_EQ(CreateDoc({{"id", "d"}, {"pk", "a"}}).status, 201);
  const uint64_t lsn = region_->store().last_lsn();
  region_->context().state = RegionState::kOffline503;
  ExpectJsonError(Call("GET", "/"), 503);
  ExpectJsonError(Call("GET", "/dbs"), 503);
  ExpectJsonError(Call("GET", "/dbs/db/colls/c"), 503);
  ExpectJsonError(ReadDoc("d", "\"a\""), 503);
  ExpectJsonError(Call("GET", kDocs), 503);
  ExpectJsonError(CreateDoc({{"id", "e"}, {"pk", "a"}}), 503);
  ExpectJsonError(Call("DELETE", std::string(kDocs) + "/d", "", Pk("\"a\"")), 503);
  ExpectJsonError(Call("POST", "/dbs", R"({"id":"x"})"), 503);
  EXPECT_EQ(region_->store().last_lsn(), lsn);

  region_->context().state = RegionState::kOnline;
  EXPECT_EQ(ReadDoc("d", "\"a\"").status, 200);
  ExpectJsonError(ReadDoc("e", "\"a\""), 404);
}

TEST_F(DataPlaneTest, Offline403RefusesWritesWithSubstatus3AndServesReads) {
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  ASSERT_EQ(CreateDoc({{"id", "d"}, {"pk", "a"}, {"v", 1}}).status, 201);
  const uint64_t lsn = region_->store().last_lsn();
  region_->context().state = RegionState::kOffline403;

  std::vector<std::pair<std::string, HttpResponse>> writes;
  writes.emplace_back("create", CreateDoc({{"id", "e"}, {"pk", "a"}}));
  writes.emplace_back("upsert", CreateDoc({{"id", "d"}, {"pk", "a"}}, {{"x-ms-documentdb-is-upsert", "true"}}));
  writes.emplace_back("replace", Call("PUT", std::string(kDocs) + "/d", R"({"id":"d","pk":"a","v":2})", Pk("\"a\"")));
  writes.emplace_back("patch", Patch("d", "\"a\"", Json::array({{{"op", "set"}, {"path", "/v"}, {"value", 3}}})));
  writes.emplace_back("delete", Call("DELETE", std::string(kDocs) + "/d", "", Pk("\"a\"")));
  writes.emplace_back("create db", Call("POST", "/dbs", R"({"id":"x"})"));
  writes.emplace_back("delete db", Call("DELETE", "/dbs/db"));
  for (const auto& [what, r] : writes) {
    SCOPED_TRACE(what);
    ExpectJsonError(r, 403);
    EXPECT_EQ(Header(r, "x-ms-substatus"), "3");
  }
  EXPECT_EQ(region_->store().last_lsn(), lsn);

  EXPECT_EQ(Call("GET", "/").status, 200);
  EXPECT_EQ(Call("GET", "/dbs/db").status, 200);
  EXPECT_EQ(Call("GET", "/dbs/db/colls/c").status, 200);
  EXPECT_EQ(Call("GET", "/dbs/db/colls/c/pkranges").status, 200);
  HttpResponse read = ReadDoc("d", "\"a\"");
  ASSERT_EQ(read.status, 200) << Describe(read);
  EXPECT_EQ(ParseBody(read)["v"], 1);
  HttpResponse feed = Call("GET", kDocs);
  ASSERT_EQ(feed.status, 200);
  EXPECT_EQ(ParseBody(feed)["_count"], 1);
  // items.readAll() / queries are POSTs but reads.
  HttpResponse query = Call("POST", kDocs, R"({"query":"SELECT * FROM c","parameters":[]})",
                            {{"x-ms-documentdb-isquery", "true"}, {"content-type", "application/query+json"}});
  EXPECT_EQ(query.status, 200) << Describe(query);
}

// The JS SDK's query-plan request (ClientContext.getQueryPlan) is a POST with
// x-ms-cosmos-is-query-plan-request: True but *without* x-ms-documentdb-isquery.
// It is a read: a region that only refuses writes must answer it, otherwise
// the SDK treats 403/3 on a read as the region being unavailable for reads.
TEST_F(DataPlaneTest, Offline403ServesQueryPlanRequests) {
  ASSERT_NO_FATAL_FAILURE(CreateDefaultContainer());
  const Headers plan = {{"x-ms-cosmos-is-query-plan-request", "True"},
                        {"content-type", "application/query+json"},
                        {"x-ms-cosmos-supported-query-features", "NonValueAggregate, Aggregate"}};
  const std::string body = R"({"query":"SELECT * FROM c"})";
  ASSERT_EQ(Call("POST", kDocs, body, plan).status, 200);
  region_->context().state = RegionState::kOffline403;
  HttpResponse r = Call("POST", kDocs, body, plan);
  EXPECT_EQ(r.status, 200) << Describe(r);
}

TEST_F(DataPlaneTest, DeepHealthReflectsState) {
  HttpRequest req = region_->UnsignedRequest("GET", "/health/deep");
  HttpResponse ok = region_->Send(req);
  ASSERT_EQ(ok.status, 200) << Describe(ok);
  EXPECT_EQ(ParseBody(ok)["status"], "ok");

  region_->context().state = RegionState::kOffline503;
  req = region_->UnsignedRequest("GET", "/health/deep");
  ExpectJsonError(region_->Send(req), 503);

  region_->context().state = RegionState::kOffline403;
  req = region_->UnsignedRequest("GET", "/health/deep");
  ExpectJsonError(region_->Send(req), 503);

  region_->context().state = RegionState::kOnline;
  req = region_->UnsignedRequest("GET", "/health/deep");
  EXPECT_EQ(region_->Send(req).status, 200);

  // HEAD too: Azure Front Door's default probe method.
  req = region_->UnsignedRequest("HEAD", "/health/deep");
  EXPECT_EQ(region_->Send(req).status, 200);
  region_->context().state = RegionState::kOffline503;
  req = region_->UnsignedRequest("HEAD", "/health/deep");
  EXPECT_EQ(region_->Send(req).status, 503);
}

// The partition key header's fast path (a plain string key, no JSON parse)
// gives exactly what the parser gives, and everything else still goes
// through the parser and its errors.
TEST(PartitionKeyHeaderTest, PlainStringKeysCanonicaliseLikeTheParser) {
  for (const char* h : {R"(["p0"])", R"(["a b-c_d.e"])", R"([""])", R"(["{x}[y]:z,"])"}) {
    ASSERT_TRUE(IsPlainStringKey(h)) << h;
    auto got = CanonicalPartitionKey(h, 1);
    ASSERT_TRUE(got.ok()) << h;
    EXPECT_EQ(*got, Json::parse(h).dump()) << h;
  }
  for (const char* h : {R"(["a\"b"])", R"(["a\b"])", "[\"caf\xc3\xa9\"]", R"([ "p0" ])", R"(["a","b"])", R"([1])",
                        R"(["p0")", R"(p0"])", R"(["x"]])"}) {
    EXPECT_FALSE(IsPlainStringKey(h)) << h;
  }
  EXPECT_EQ(*CanonicalPartitionKey(R"([ "p0" ])", 1), R"(["p0"])");
  EXPECT_EQ(*CanonicalPartitionKey(R"(["caf\u00e9"])", 1), "[\"caf\xc3\xa9\"]");
  EXPECT_FALSE(CanonicalPartitionKey(R"(["x"]])", 1).ok());
  EXPECT_FALSE(CanonicalPartitionKey(R"(["p0"])", 2).ok()) << "a one-value key for a two-path container";
}

}  // namespace
}  // namespace regionlab::server
