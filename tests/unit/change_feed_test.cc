// The change feed (GET .../docs with A-IM): start points, scopes, paging, 304,
// latest-version dedup, all-versions-and-deletes, and continuations that move
// between regions without missing a change. Single-region cases run on a
// TestRegion; multi-region ones on a SimCluster (real stores, data plane and
// replicator over a simulated network).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "server/handlers.h"
#include "storage/keys.h"
#include "tests/support/sim_cluster.h"
#include "tests/support/test_region.h"

namespace regionlab {
namespace {

using Json = nlohmann::json;
using server::HttpResponse;
using testing::FindHeader;
using testing::Headers;
using testing::SimCluster;
using testing::SimOptions;
using testing::TestRegion;

const std::string kColl = "/dbs/db/colls/c";
const std::string kDocs = kColl + "/docs";
const Headers kLatest = {{"a-im", "Incremental Feed"}};
const Headers kAllVersions = {{"a-im", "Full-Fidelity Feed"},
                              {"x-ms-cosmos-changefeed-wire-format-version", "2021-09-15"}};

std::string Describe(const HttpResponse& r) { return "HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 400); }

Headers Plus(Headers a, const Headers& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Headers Pk(const std::string& pk) { return {{"x-ms-documentdb-partitionkey", Json::array({pk}).dump()}}; }

// One response of the change feed, parsed.
struct Page {
  int status = 0;
  bool caught_up = false;  // x-regionlab-changefeed-caught-up
  std::string etag;
  std::vector<Json> docs;
};

Page ToPage(const HttpResponse& r) {
  Page p;
  p.status = r.status;
  if (const std::string* e = FindHeader(r, "etag")) p.etag = *e;
  if (const std::string* c = FindHeader(r, "x-regionlab-changefeed-caught-up")) p.caught_up = *c == "true";
  if (r.status == 304) {
    EXPECT_TRUE(p.caught_up);
  }
  if (r.status == 200) {
    Json body = Json::parse(r.body);
    EXPECT_EQ(body["_count"].get<size_t>(), body["Documents"].size());
    for (auto& d : body["Documents"]) p.docs.push_back(d);
  } else {
    EXPECT_EQ(r.status, 304) << Describe(r);
    EXPECT_TRUE(r.body.empty());
  }
  EXPECT_FALSE(p.etag.empty()) << "a change feed response always carries an etag";
  return p;
}

Headers Continue(const std::string& etag) { return {{"if-none-match", etag}}; }
Headers MaxItems(int n) { return {{"x-ms-max-item-count", std::to_string(n)}}; }

std::vector<std::string> Ids(const std::vector<Json>& docs) {
  std::vector<std::string> ids;
  for (const Json& d : docs) ids.push_back(d["id"].get<std::string>());
  return ids;
}

// ---------------------------------------------------------------- one region

class ChangeFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestRegion::Options options;
    options.account_regions = {"uksouth", "westeurope"};
    auto r = TestRegion::Create(options);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    region_ = std::move(r).value();
    ASSERT_EQ(Call("POST", "/dbs", R"({"id":"db"})").status, 201);
    ASSERT_EQ(Call("POST", "/dbs/db/colls", R"({"id":"c","partitionKey":{"paths":["/pk"],"kind":"Hash"}})").status,
              201);
  }

  HttpResponse Call(std::string method, std::string path, std::string body = "", const Headers& headers = {}) {
    return region_->Call(std::move(method), std::move(path), std::move(body), headers);
  }
  void Upsert(const std::string& id, const std::string& pk, Json extra = Json::object()) {
    extra["id"] = id;
    extra["pk"] = pk;
    HttpResponse r = Call("POST", kDocs, extra.dump(), Plus(Pk(pk), {{"x-ms-documentdb-is-upsert", "true"}}));
    ASSERT_TRUE(r.status == 200 || r.status == 201) << Describe(r);
  }
  void Delete(const std::string& id, const std::string& pk) {
    ASSERT_EQ(Call("DELETE", kDocs + "/" + id, "", Pk(pk)).status, 204);
  }
  Page Feed(const Headers& headers, const Headers& mode = kLatest) {
    return ToPage(Call("GET", kDocs, "", Plus(mode, headers)));
  }
  // Reads pages until a 304; returns every document, in order.
  std::vector<Json> Drain(std::string* etag, const Headers& extra = {}, int* pages = nullptr,
                          const Headers& mode = kLatest) {
    std::vector<Json> all;
    for (int i = 0; i < 1000; ++i) {
      Headers h = extra;
      if (!etag->empty()) h = Plus(h, Continue(*etag));
      Page p = Feed(h, mode);
      *etag = p.etag;
      if (p.status == 304) return all;
      if (pages) ++*pages;
      all.insert(all.end(), p.docs.begin(), p.docs.end());
    }
    ADD_FAILURE() << "the feed never ran dry";
    return all;
  }

  std::unique_ptr<TestRegion> region_;
};

TEST_F(ChangeFeedTest, FromTheBeginningEachDocumentOnceAtItsLatestVersion) {
  Upsert("a", "p1", {{"v", 1}});
  Upsert("b", "p1", {{"v", 1}});
  Upsert("c", "p2", {{"v", 1}});
  Upsert("b", "p1", {{"v", 2}});
  Upsert("b", "p1", {{"v", 3}});
  Page p = Feed({});
  ASSERT_EQ(p.status, 200);
  // In the order their latest versions were written.
  EXPECT_EQ(Ids(p.docs), (std::vector<std::string>{"a", "c", "b"}));
  EXPECT_EQ(p.docs[2]["v"], 3);
  for (const Json& d : p.docs) {
    for (const char* prop : {"_rid", "_self", "_etag", "_ts", "_lsn"}) EXPECT_TRUE(d.contains(prop)) << prop;
  }
  // Then nothing new: 304, empty body, and an etag to continue from.
  HttpResponse again = Call("GET", kDocs, "", Plus(kLatest, Continue(p.etag)));
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  ASSERT_NE(FindHeader(again, "etag"), nullptr);
}

TEST_F(ChangeFeedTest, DeletedDocumentsAreNotShownInLatestVersionMode) {
  Upsert("a", "p", {{"v", 1}});
  Upsert("b", "p", {{"v", 1}});
  Delete("a", "p");
  Page p = Feed({});
  EXPECT_EQ(Ids(p.docs), (std::vector<std::string>{"b"}));
}

TEST_F(ChangeFeedTest, PagesByMaxItemCountWithoutLossOrRepeat) {
  for (int i = 0; i < 25; ++i) Upsert("d" + std::to_string(100 + i), "p" + std::to_string(i % 3));
  std::string etag;
  int pages = 0;
  std::vector<Json> all = Drain(&etag, MaxItems(7), &pages);
  EXPECT_EQ(pages, 4);  // 7 + 7 + 7 + 4
  std::vector<std::string> ids = Ids(all);
  std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(ids.size(), 25u);
  EXPECT_EQ(unique.size(), 25u);
  // New writes continue from there, and only they come.
  Upsert("d105", "p2", {{"v", 2}});
  Upsert("new", "p0");
  std::vector<Json> later = Drain(&etag, MaxItems(7));
  EXPECT_EQ(Ids(later), (std::vector<std::string>{"d105", "new"}));
  EXPECT_EQ(later[0]["v"], 2);
}

TEST_F(ChangeFeedTest, UpdatesDuringPagingComeAgainAtTheirNewPositionOnly) {
  for (int i = 0; i < 10; ++i) Upsert("d" + std::to_string(i), "p");
  Page first = Feed(MaxItems(5));
  ASSERT_EQ(Ids(first.docs), (std::vector<std::string>{"d0", "d1", "d2", "d3", "d4"}));
  Upsert("d1", "p", {{"v", 2}});  // already delivered: comes again, at its new version
  Upsert("d7", "p", {{"v", 2}});  // not delivered yet: comes once, at its new version
  std::string etag = first.etag;
  std::vector<Json> rest = Drain(&etag, MaxItems(5));
  EXPECT_EQ(Ids(rest), (std::vector<std::string>{"d5", "d6", "d8", "d9", "d1", "d7"}));
  EXPECT_EQ(rest[4]["v"], 2);
  EXPECT_EQ(rest[5]["v"], 2);
}

TEST_F(ChangeFeedTest, StartFromNowSeesOnlyLaterChanges) {
  Upsert("old", "p");
  Upsert("old2", "p");
  Page now = Feed({{"if-none-match", "*"}});
  EXPECT_EQ(now.status, 304);
  Upsert("new", "p");
  Upsert("old", "p", {{"v", 2}});
  std::string etag = now.etag;
  std::vector<Json> docs = Drain(&etag);
  EXPECT_EQ(Ids(docs), (std::vector<std::string>{"new", "old"}));
}

TEST_F(ChangeFeedTest, StartFromATime) {
  Upsert("before", "p");
  region_->clock().AdvanceMillis(10'000);
  int64_t start = region_->clock().NowSeconds();
  region_->clock().AdvanceMillis(1'000);
  Upsert("after", "p");
  Page p = Feed({{"if-modified-since", FormatHttpDate(start)}});
  EXPECT_EQ(Ids(p.docs), (std::vector<std::string>{"after"}));
  // A time before every write is the beginning; one after every write, nothing.
  EXPECT_EQ(Feed({{"if-modified-since", FormatHttpDate(start - 3600)}}).docs.size(), 2u);
  Page future = Feed({{"if-modified-since", FormatHttpDate(start + 3600)}});
  EXPECT_EQ(future.status, 304);
  // The before-document, changed after the start time, comes.
  Upsert("before", "p", {{"v", 2}});
  std::string etag = p.etag;
  EXPECT_EQ(Ids(Drain(&etag)), (std::vector<std::string>{"before"}));
}

TEST_F(ChangeFeedTest, ScopedToOnePartitionKeyOrTheRange) {
  Upsert("x1", "x");
  Upsert("y1", "y");
  Upsert("x2", "x");
  Page px = Feed(Pk("x"));
  EXPECT_EQ(Ids(px.docs), (std::vector<std::string>{"x1", "x2"}));
  Page range = Feed({{"x-ms-documentdb-partitionkeyrangeid", "0"}});
  EXPECT_EQ(Ids(range.docs), (std::vector<std::string>{"x1", "y1", "x2"}));
  Upsert("y2", "y");
  Upsert("x3", "x");
  std::string etag = px.etag;
  EXPECT_EQ(Ids(Drain(&etag, Pk("x"))), (std::vector<std::string>{"x3"}));
  // A partition's continuation does not serve the whole container, nor another partition.
  HttpResponse wrong = Call("GET", kDocs, "", Plus(kLatest, Continue(px.etag)));
  EXPECT_EQ(wrong.status, 400) << Describe(wrong);
  wrong = Call("GET", kDocs, "", Plus(Plus(kLatest, Pk("y")), Continue(px.etag)));
  EXPECT_EQ(wrong.status, 400) << Describe(wrong);
  // Only range "0" exists.
  HttpResponse bad_range = Call("GET", kDocs, "", Plus(kLatest, {{"x-ms-documentdb-partitionkeyrangeid", "1"}}));
  EXPECT_EQ(bad_range.status, 400) << Describe(bad_range);
}

TEST_F(ChangeFeedTest, MalformedRequestsAre400WithAJsonBody) {
  for (const Headers& h : std::vector<Headers>{
           Plus(kLatest, Continue("\"not-a-token\"")),
           Plus(kLatest, {{"if-modified-since", "yesterday"}}),
           {{"a-im", "Something Else"}},
       }) {
    HttpResponse r = Call("GET", kDocs, "", h);
    EXPECT_EQ(r.status, 400) << Describe(r);
    Json body = Json::parse(r.body);
    EXPECT_TRUE(body.contains("message"));
  }
  // A latest-version token is not an all-versions token.
  Upsert("a", "p");
  Page p = Feed({});
  HttpResponse r = Call("GET", kDocs, "", Plus(kAllVersions, Continue(p.etag)));
  EXPECT_EQ(r.status, 400) << Describe(r);
}

TEST_F(ChangeFeedTest, AllVersionsAndDeletesListsEveryWriteWithItsMetadata) {
  Upsert("a", "p", {{"v", 1}});
  Upsert("a", "p", {{"v", 2}});
  Upsert("b", "q", {{"v", 1}});
  Delete("a", "p");
  std::string etag;
  std::vector<Json> items = Drain(&etag, {}, nullptr, kAllVersions);
  ASSERT_EQ(items.size(), 4u);
  std::vector<std::string> ops;
  for (const Json& it : items) ops.push_back(it["metadata"]["operationType"]);
  EXPECT_EQ(ops, (std::vector<std::string>{"create", "replace", "create", "delete"}));
  EXPECT_EQ(items[1]["current"]["v"], 2);
  const Json& del = items[3];
  EXPECT_EQ(del["metadata"]["id"], "a");
  EXPECT_EQ(del["metadata"]["partitionKey"], (Json{{"pk", "p"}}));
  EXPECT_TRUE(del["current"].empty());
  uint64_t last_lsn = 0;
  for (const Json& it : items) {
    const Json& m = it["metadata"];
    EXPECT_EQ(m["region"], "uksouth");
    EXPECT_GT(m["lsn"].get<uint64_t>(), last_lsn);
    last_lsn = m["lsn"];
    EXPECT_TRUE(m.contains("crts"));
    EXPECT_EQ(m["versionVector"], (Json{{"uksouth", m["originLsn"]}}));
  }
  // Paged one by one, the same four, then 304.
  std::string paged_etag;
  std::vector<Json> paged = Drain(&paged_etag, MaxItems(1), nullptr, kAllVersions);
  EXPECT_EQ(paged, items);
  // From now: only later writes.
  Page now = Feed({{"if-none-match", "*"}}, kAllVersions);
  EXPECT_EQ(now.status, 304);
  Upsert("b", "q", {{"v", 2}});
  std::string now_etag = now.etag;
  std::vector<Json> later = Drain(&now_etag, {}, nullptr, kAllVersions);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0]["metadata"]["operationType"], "replace");
  // Scoped to a partition key.
  std::string pk_etag;
  EXPECT_EQ(Drain(&pk_etag, Pk("q"), nullptr, kAllVersions).size(), 2u);
}

TEST_F(ChangeFeedTest, DroppedContainerLeavesNoChangesBehind) {
  Upsert("a", "p");
  ASSERT_EQ(Call("DELETE", kColl).status, 204);
  ASSERT_EQ(Call("POST", "/dbs/db/colls", R"({"id":"c","partitionKey":{"paths":["/pk"],"kind":"Hash"}})").status,
            201);
  EXPECT_EQ(Feed({}).status, 304);
  Upsert("b", "p");
  EXPECT_EQ(Ids(Feed({}).docs), (std::vector<std::string>{"b"}));
}

// The index holds exactly one entry per live document, whatever happened to it.
TEST_F(ChangeFeedTest, IndexHasOneEntryPerLiveDocument) {
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 20; ++i) Upsert("d" + std::to_string(i), "p" + std::to_string(i % 4), {{"r", round}});
  }
  for (int i = 0; i < 20; i += 3) Delete("d" + std::to_string(i), "p" + std::to_string(i % 4));
  Upsert("d0", "p0", {{"r", 9}});  // re-created after its delete
  auto coll = Json::parse(Call("GET", kColl).body);
  std::string coll_rid = *server::RidBytes(coll["_rid"].get<std::string>());
  // Every index entry (the filter sees stale ones too, which the walk would
  // skip when loading), against the live documents.
  std::map<std::string, int> entries;
  std::map<std::string, uint64_t> entry_lsn;
  ASSERT_TRUE(region_->store()
                  .ScanChanges(
                      coll_rid, 0, "",
                      [&](const storage::DocumentChange& c) {
                        entries[c.key]++;
                        entry_lsn[c.key] = c.local_lsn;
                        return storage::ChangeAction::kSkip;
                      },
                      [](const storage::DocumentChange&, storage::Record&&) { return true; })
                  .ok());
  EXPECT_EQ(entries.size(), 20u - 7u + 1u);
  for (const auto& [key, n] : entries) {
    EXPECT_EQ(n, 1);
    auto rec = region_->store().Get(key);
    ASSERT_TRUE(rec.ok() && rec->has_value());
    EXPECT_FALSE((*rec)->tombstone) << (*rec)->id;
    EXPECT_EQ((*rec)->local_lsn, entry_lsn[key]) << (*rec)->id;
  }
}

// ---------------------------------------------------------------- several regions

SimOptions Opts(int regions, uint64_t seed) {
  SimOptions o;
  o.regions = regions;
  o.seed = seed;
  return o;
}

void SetupContainer(SimCluster& sim) {
  ASSERT_EQ(sim.Request(0, "POST", "/dbs", R"({"id":"db"})").status, 201);
  ASSERT_EQ(sim.Request(0, "POST", "/dbs/db/colls", R"({"id":"c","partitionKey":{"paths":["/pk"],"kind":"Hash"}})")
                .status,
            201);
  ASSERT_TRUE(sim.RunUntilQuiet());
}

HttpResponse SimUpsert(SimCluster& sim, int r, const std::string& id, const std::string& pk, Json extra = Json::object()) {
  extra["id"] = id;
  extra["pk"] = pk;
  return sim.Request(r, "POST", kDocs, extra.dump(), Plus(Pk(pk), {{"x-ms-documentdb-is-upsert", "true"}}));
}

Page SimFeed(SimCluster& sim, int r, const Headers& headers, const Headers& mode = kLatest) {
  return ToPage(sim.Request(r, "GET", kDocs, "", Plus(mode, headers)));
}

// Documents and their etags in region r.
std::map<std::string, std::string> State(SimCluster& sim, int r) {
  HttpResponse resp = sim.Request(r, "GET", kDocs, "", MaxItems(-1));
  EXPECT_EQ(resp.status, 200);
  std::map<std::string, std::string> out;
  Json body = Json::parse(resp.body);
  for (auto& d : body["Documents"]) out[d["id"].get<std::string>()] = d["_etag"].get<std::string>();
  EXPECT_FALSE(out.empty() && resp.body.find("\"id\"") != std::string::npos);
  return out;
}

// A reader: every version delivered, per document id.
struct Reader {
  std::string etag;
  std::map<std::string, std::set<std::string>> seen;  // id -> etags delivered
  // id -> vectors of the versions delivered, of the losers they beat, and of
  // the deletes and losers in regions drained
  std::map<std::string, std::vector<storage::VersionVector>> seen_versions;
  size_t delivered = 0;
  std::vector<std::string> log;  // one line per page, for failure messages
  // One page from region r; returns false on 304.
  bool Next(SimCluster& sim, int r, int max_items, const Headers& extra = {}) {
    Headers h = Plus(MaxItems(max_items), extra);
    if (!etag.empty()) h = Plus(h, Continue(etag));
    Page p = SimFeed(sim, r, h);
    std::string line = "r" + std::to_string(r) + " " + std::to_string(p.status) + " " +
                       Base64Decode(p.etag.substr(1, p.etag.size() - 2)).value_or("?") + ":";
    for (const Json& d : p.docs) line += " " + d["id"].get<std::string>() + "@" + d["_etag"].get<std::string>();
    log.push_back(line);
    etag = p.etag;
    std::string coll_rid;
    for (const Json& d : p.docs) {
      std::string id = d["id"];
      seen[id].insert(d["_etag"].get<std::string>());
      ++delivered;
      // The delivered version's vector, from the store that served it (unchanged since).
      if (coll_rid.empty()) {
        Json coll = Json::parse(sim.Request(r, "GET", kColl).body);
        coll_rid = *server::RidBytes(coll["_rid"].get<std::string>());
      }
      auto rec = sim.store(r).Get(storage::keys::Document(coll_rid, Json::array({d["pk"]}).dump(), id));
      if (rec.ok() && rec->has_value() && (*rec)->etag == d["_etag"]) {
        // It, and the concurrent versions it won against (its siblings).
        seen_versions[id].push_back((*rec)->version);
        for (const auto& sib : (*rec)->siblings) seen_versions[id].push_back(sib.version);
      }
    }
    if (p.caught_up) {
      // The reader has passed every delete and every conflict resolution of
      // region r.
      Json coll = Json::parse(sim.Request(r, "GET", kColl).body);
      std::string prefix = storage::keys::DocumentPrefix(*server::RidBytes(coll["_rid"].get<std::string>()));
      EXPECT_TRUE(sim.store(r)
                      .Scan(prefix, "", /*include_tombstones=*/true,
                            [&](std::string_view, storage::Record&& rec) {
                              if (rec.tombstone) seen_versions[rec.id].push_back(rec.version);
                              for (const auto& sib : rec.siblings) seen_versions[rec.id].push_back(sib.version);
                              return true;
                            })
                      .ok());
    }
    return p.status == 200;
  }
  void Drain(SimCluster& sim, int r, int max_items) {
    for (int i = 0; i < 1000 && Next(sim, r, max_items); ++i) {
    }
  }
  // Every document of region r, at its version there, has been delivered.
  void ExpectHasSeenAllOf(SimCluster& sim, int r, const std::string& when) { Check(sim, r, when, false); }
  // The same, except versions that some region has already superseded by a
  // delete or by a concurrent version that won the conflict: the latest-version
  // feed shows neither deletes nor conflict losers, on one region or several
  // (docs/design.md, "Change feed").
  void ExpectHasSeenAllOrSuperseded(SimCluster& sim, int r, const std::string& when) { Check(sim, r, when, true); }

  void Check(SimCluster& sim, int r, const std::string& when, bool allow_superseded) {
    std::string coll_rid;
    if (allow_superseded) {
      Json coll = Json::parse(sim.Request(r, "GET", kColl).body);
      coll_rid = *server::RidBytes(coll["_rid"].get<std::string>());
    }
    for (const auto& [id, etag_there] : State(sim, r)) {
      if (seen[id].count(etag_there)) continue;
      if (allow_superseded &&
          Superseded(sim, storage::keys::Document(coll_rid, Json::array({"p" + id}).dump(), id), r,
                     seen_versions[id])) {
        continue;
      }
      ADD_FAILURE() << when << ": document " << id << " at " << etag_there << " in region " << r
                    << " was never delivered" << History(sim, id);
    }
  }

  // The reader's requests and every region's record of `id`, for a failure message.
  std::string History(SimCluster& sim, const std::string& id) {
    std::string out = "\nreader (page: region, answer, continuation, documents):";
    for (const std::string& line : log) out += "\n  " + line;
    Json coll = Json::parse(sim.Request(0, "GET", kColl).body);
    std::string key = storage::keys::Document(*server::RidBytes(coll["_rid"].get<std::string>()),
                                              Json::array({"p" + id}).dump(), id);
    auto describe = [](const storage::Record& v) {
      std::string d = v.etag + (v.tombstone ? " deleted" : "") + " {";
      for (const auto& [region, n] : v.version) d += std::to_string(region) + ":" + std::to_string(n) + " ";
      return d + "}";
    };
    for (int q = 0; q < sim.size(); ++q) {
      auto rec = sim.store(q).Get(key);
      if (!rec.ok() || !rec->has_value()) continue;
      out += "\nregion " + std::to_string(q) + " (local lsn " + std::to_string((*rec)->local_lsn) + "): " + describe(**rec);
      for (const auto& sib : (*rec)->siblings) out += " + sibling " + describe(sib);
    }
    return out;
  }

  // True when region r's version of `key` is dominated by a version the reader
  // was delivered, or by one that such a version beat in a conflict, or by a
  // delete or conflict loser of a region the reader has drained.
  static bool Superseded(SimCluster& sim, const std::string& key, int r,
                         const std::vector<storage::VersionVector>& known) {
    auto mine = sim.store(r).Get(key);
    if (!mine.ok() || !mine->has_value()) return false;
    const storage::Record& v = **mine;
    for (const auto& u : known) {
      bool dominates = true;
      for (const auto& [region, n] : v.version) {
        auto it = u.find(region);
        if (it == u.end() || it->second < n) dominates = false;
      }
      if (dominates) return true;
    }
    return false;
  }
};

// The case a naive "position + applied vector" continuation misses: a document
// the reader has not reached yet on A is updated there; B never receives the
// update (A is cut off, say lost); the reader moves to B. B still has the
// document's old version, which the reader never saw: it must come.
TEST(ChangeFeedSim, ContinuationMovedToAnotherRegionMissesNothing) {
  SimCluster sim(Opts(2, 11));
  SetupContainer(sim);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(SimUpsert(sim, 0, "x" + std::to_string(i), "p").status, 201);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(SimUpsert(sim, 1, "y" + std::to_string(i), "q").status, 201);
  ASSERT_TRUE(sim.RunUntilQuiet());

  sim.faults(0, 1).partitioned = true;
  sim.faults(1, 0).partitioned = true;
  // x0 moves to the end of A's change order before the reader starts: on A
  // the reader will meet it only there; B keeps its old version.
  ASSERT_EQ(SimUpsert(sim, 0, "x0", "p", {{"v", 2}}).status, 200);
  Reader reader;
  ASSERT_TRUE(reader.Next(sim, 0, 5));  // 5 of 14 documents, read on A
  EXPECT_FALSE(reader.seen.count("x0"));
  ASSERT_EQ(SimUpsert(sim, 0, "x1", "p", {{"v", 2}}).status, 200);  // delivered already; A only
  ASSERT_EQ(SimUpsert(sim, 0, "x8", "p", {{"v", 2}}).status, 200);  // not reached yet; A only
  ASSERT_EQ(SimUpsert(sim, 1, "y9", "q").status, 201);              // B only
  ASSERT_EQ(SimUpsert(sim, 1, "x2", "p", {{"v", 3}}).status, 200);  // B only
  sim.AdvanceMillis(100);

  // The client fails over to B with A's continuation, and reads B dry.
  reader.Drain(sim, 1, 3);
  reader.ExpectHasSeenAllOf(sim, 1, "after failing over to B");
  // When the regions meet again, the merged versions come too, on B...
  sim.HealAll();
  ASSERT_TRUE(sim.RunUntilQuiet());
  reader.Drain(sim, 1, 3);
  reader.ExpectHasSeenAllOf(sim, 1, "after healing");
  // ... and moving back to A misses nothing either.
  ASSERT_EQ(SimUpsert(sim, 0, "z", "p").status, 201);
  reader.Drain(sim, 0, 3);
  reader.ExpectHasSeenAllOf(sim, 0, "back on A");
}

// A reader that has caught up on A (304) and moves to B gets only what is new.
TEST(ChangeFeedSim, CaughtUpReaderMovingRegionGetsNoDuplicates) {
  SimCluster sim(Opts(2, 12));
  SetupContainer(sim);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(SimUpsert(sim, i % 2, "d" + std::to_string(i), "p").status, 201);
  ASSERT_TRUE(sim.RunUntilQuiet());
  Reader reader;
  reader.Drain(sim, 0, 6);
  EXPECT_EQ(reader.delivered, 20u);
  ASSERT_EQ(SimUpsert(sim, 0, "new-a", "p").status, 201);
  ASSERT_EQ(SimUpsert(sim, 1, "new-b", "p").status, 201);
  ASSERT_EQ(SimUpsert(sim, 1, "d3", "p", {{"v", 2}}).status, 200);
  ASSERT_TRUE(sim.RunUntilQuiet());
  reader.Drain(sim, 1, 6);
  EXPECT_EQ(reader.delivered, 23u) << "only the three changes after the 304 on A";
  reader.ExpectHasSeenAllOf(sim, 1, "on B");
}

// Randomised: writes and deletes on three regions with links partitioned and
// healed at random; the reader hops between regions after every page.
// Whenever it has drained a region, every document there has been delivered
// at its version there, or superseded: dominated by a version the reader got,
// or by a delete or conflict loser it passed (see docs/design.md); after
// healing, every final version, strictly.
// Region r's change-feed index holds exactly one entry per live document of
// the container, at the local lsn its stored version has (no stale entry, none
// missing), whatever mix of local writes, replication and conflicts led there.
void ExpectIndexExact(SimCluster& sim, int r, const std::string& where) {
  Json coll = Json::parse(sim.Request(r, "GET", kColl).body);
  std::string coll_rid = *server::RidBytes(coll["_rid"].get<std::string>());
  std::map<std::string, uint64_t> live;
  ASSERT_TRUE(sim.store(r)
                  .Scan(storage::keys::DocumentPrefix(coll_rid), "", /*include_tombstones=*/false,
                        [&](std::string_view key, storage::Record&& rec) {
                          live[std::string(key)] = rec.local_lsn;
                          return true;
                        })
                  .ok());
  std::map<std::string, uint64_t> indexed;
  ASSERT_TRUE(sim.store(r)
                  .ScanChanges(
                      coll_rid, 0, "",
                      [&](const storage::DocumentChange& c) {
                        EXPECT_TRUE(indexed.emplace(c.key, c.local_lsn).second) << "two entries; " << where;
                        return storage::ChangeAction::kSkip;
                      },
                      [](const storage::DocumentChange&, storage::Record&&) { return true; })
                  .ok());
  EXPECT_EQ(indexed, live) << "region " << r << "; " << where;
}

TEST(ChangeFeedSim, HoppingReaderNeverMissesAVersion) {
  // REGIONLAB_CF_SEEDS=N runs more seeds.
  const char* env = std::getenv("REGIONLAB_CF_SEEDS");
  const uint64_t seeds = env ? std::strtoull(env, nullptr, 10) : 20;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    SimCluster sim(Opts(3, seed));
    SetupContainer(sim);
    std::mt19937_64& rng = sim.rng();
    Reader reader;
    for (int step = 0; step < 60; ++step) {
      int r = static_cast<int>(rng() % 3);
      std::string id = "d" + std::to_string(rng() % 15);
      std::string pk = "p" + id;
      if (rng() % 6 == 0) {
        sim.Request(r, "DELETE", kDocs + "/" + id, "", Pk(pk));
      } else {
        SimUpsert(sim, r, id, pk, {{"step", step}});
      }
      if (rng() % 10 == 0) {
        int a = static_cast<int>(rng() % 3), b = static_cast<int>(rng() % 3);
        if (a != b) sim.faults(a, b).partitioned = !sim.faults(a, b).partitioned;
      }
      sim.AdvanceMillis(static_cast<int64_t>(rng() % 30));
      int reader_region = static_cast<int>(rng() % 3);
      if (!reader.Next(sim, reader_region, 1 + static_cast<int>(rng() % 4))) {
        reader.ExpectHasSeenAllOrSuperseded(sim, reader_region,
                                            "seed " + std::to_string(seed) + " step " + std::to_string(step));
      }
    }
    sim.HealAll();
    ASSERT_TRUE(sim.RunUntilQuiet());
    for (int r = 0; r < 3; ++r) {
      reader.Drain(sim, r, 4);
      reader.ExpectHasSeenAllOf(sim, r, "seed " + std::to_string(seed) + " after heal");
      ExpectIndexExact(sim, r, "seed " + std::to_string(seed));
    }
    if (HasFailure()) {
      ADD_FAILURE() << "seed " << seed;
      return;
    }
  }
}

// A replicated batch stores many documents at one local lsn; pages of any size
// must walk through them without skipping or repeating one.
TEST(ChangeFeedSim, PagesSplitDocumentsStoredByOneBatch) {
  SimCluster sim(Opts(2, 13));
  SetupContainer(sim);
  sim.faults(0, 1).partitioned = true;
  for (int i = 0; i < 30; ++i) ASSERT_EQ(SimUpsert(sim, 0, "d" + std::to_string(i), "p" + std::to_string(i % 5)).status, 201);
  sim.AdvanceMillis(100);
  sim.HealAll();
  ASSERT_TRUE(sim.RunUntilQuiet());
  // Region 1 stored (most of) them in one batch: check that, then page.
  auto coll = Json::parse(sim.Request(1, "GET", kColl).body);
  std::string coll_rid = *server::RidBytes(coll["_rid"].get<std::string>());
  std::map<uint64_t, int> per_lsn;
  ASSERT_TRUE(sim.store(1)
                  .ScanChanges(
                      coll_rid, 0, "", [&](const storage::DocumentChange& c) {
                        per_lsn[c.local_lsn]++;
                        return storage::ChangeAction::kSkip;
                      },
                      [](const storage::DocumentChange&, storage::Record&&) { return true; })
                  .ok());
  int largest = 0;
  for (auto [lsn, n] : per_lsn) largest = std::max(largest, n);
  EXPECT_GT(largest, 5) << "expected a batch of documents at one local lsn";
  for (int page = 1; page <= 4; ++page) {
    Reader reader;
    reader.Drain(sim, 1, page);
    EXPECT_EQ(reader.delivered, 30u) << "page size " << page;
    EXPECT_EQ(reader.seen.size(), 30u) << "page size " << page;
    // One partition's feed: the same, for its 6 documents.
    Reader partition;
    for (int i = 0; i < 100 && partition.Next(sim, 1, page, Pk("p2")); ++i) {
    }
    EXPECT_EQ(partition.delivered, 6u) << "page size " << page;
    EXPECT_EQ(partition.seen.size(), 6u) << "page size " << page;
  }
}

// All versions and deletes across regions: every write, with the region that
// made it and its version vector, and a continuation that moves region.
TEST(ChangeFeedSim, AllVersionsAcrossRegions) {
  SimCluster sim(Opts(2, 14));
  SetupContainer(sim);
  ASSERT_EQ(SimUpsert(sim, 0, "a", "p", {{"v", 1}}).status, 201);
  ASSERT_TRUE(sim.RunUntilQuiet());
  ASSERT_EQ(SimUpsert(sim, 1, "a", "p", {{"v", 2}}).status, 200);  // replace in westeurope
  ASSERT_EQ(SimUpsert(sim, 0, "b", "p", {{"v", 1}}).status, 201);
  ASSERT_TRUE(sim.RunUntilQuiet());
  ASSERT_EQ(sim.Request(1, "DELETE", kDocs + "/b", "", Pk("p")).status, 204);
  ASSERT_EQ(SimUpsert(sim, 0, "c", "p").status, 201);
  ASSERT_TRUE(sim.RunUntilQuiet());

  // Every write, from either region's log.
  for (int r = 0; r < 2; ++r) {
    std::string etag;
    std::vector<Json> items;
    for (int i = 0; i < 100; ++i) {
      Headers h = MaxItems(100);
      if (!etag.empty()) h = Plus(h, Continue(etag));
      Page p = SimFeed(sim, r, h, kAllVersions);
      etag = p.etag;
      if (p.status == 304) break;
      items.insert(items.end(), p.docs.begin(), p.docs.end());
    }
    std::map<std::string, Json> got;  // "id:operation:region" -> metadata
    for (const Json& it : items) {
      const Json& m = it["metadata"];
      std::string name = m["id"].get<std::string>() + ":" + m["operationType"].get<std::string>() + ":" +
                         m["region"].get<std::string>();
      EXPECT_TRUE(got.emplace(name, m).second) << "listed twice: " << name << " in region " << r;
    }
    std::vector<std::string> names;
    for (const auto& [name, m] : got) names.push_back(name);
    EXPECT_EQ(names, (std::vector<std::string>{"a:create:uksouth", "a:replace:westeurope", "b:create:uksouth",
                                               "b:delete:westeurope", "c:create:uksouth"}))
        << "region " << r;
    // Each region lists them in its own log order; the replace in westeurope
    // descends from the create in uksouth.
    const Json& vv = got["a:replace:westeurope"]["versionVector"];
    EXPECT_EQ(vv["uksouth"], got["a:create:uksouth"]["originLsn"]);
    EXPECT_EQ(vv["westeurope"], got["a:replace:westeurope"]["originLsn"]);
    EXPECT_EQ(got["b:delete:westeurope"]["versionVector"]["uksouth"], got["b:create:uksouth"]["originLsn"]);
  }

  // A continuation moves: two items read on A, the rest on B, nothing lost.
  std::set<std::string> seen;
  Page p = SimFeed(sim, 0, MaxItems(2), kAllVersions);
  for (const Json& it : p.docs) seen.insert(it["metadata"]["region"].get<std::string>() + "@" + it["metadata"]["originLsn"].dump());
  std::string etag = p.etag;
  for (int i = 0; i < 100; ++i) {
    Page q = SimFeed(sim, 1, Plus(MaxItems(2), Continue(etag)), kAllVersions);
    etag = q.etag;
    if (q.status == 304) break;
    for (const Json& it : q.docs) seen.insert(it["metadata"]["region"].get<std::string>() + "@" + it["metadata"]["originLsn"].dump());
  }
  EXPECT_EQ(seen.size(), 5u);
}

}  // namespace
}  // namespace regionlab

namespace regionlab {
namespace {

// Timing, not a check: run with --gtest_also_run_disabled_tests
// (REGIONLAB_CF_BENCH_DOCS=N documents, default 20000).
TEST(ChangeFeedBench, DISABLED_PollCost) {
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  const char* env = std::getenv("REGIONLAB_CF_BENCH_DOCS");
  const int n = env ? std::atoi(env) : 20000;
  TestRegion::Options options;
  options.account_regions = {"uksouth", "westeurope"};
  auto region = std::move(TestRegion::Create(options)).value();
  ASSERT_EQ(region->Call("POST", "/dbs", R"({"id":"db"})").status, 201);
  ASSERT_EQ(region->Call("POST", "/dbs/db/colls", R"({"id":"c","partitionKey":{"paths":["/pk"],"kind":"Hash"}})").status, 201);
  std::string payload(150, 'x');
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    std::string pk = "p" + std::to_string(i % 100);
    Json doc = {{"id", "d" + std::to_string(i)}, {"pk", pk}, {"payload", payload}};
    ASSERT_EQ(region->Call("POST", kDocs, doc.dump(), Pk(pk)).status, 201);
  }
  auto t1 = Clock::now();
  printf("%d creates: %.0f ms (%.1f us each, through the data plane)\n", n, ms(t1 - t0), ms(t1 - t0) * 1000 / n);
  auto get = [&](const Headers& h) { return region->Call("GET", kDocs, "", Plus(kLatest, h)); };
  // Drain from the beginning in pages of 1000.
  t0 = Clock::now();
  std::string etag;
  size_t total = 0;
  int pages = 0;
  for (;;) {
    Headers h = MaxItems(1000);
    if (!etag.empty()) h = Plus(h, Continue(etag));
    HttpResponse r = get(h);
    etag = *FindHeader(r, "etag");
    if (r.status == 304) break;
    total += Json::parse(r.body)["_count"].get<size_t>();
    ++pages;
  }
  t1 = Clock::now();
  printf("drain %zu docs in %d pages of 1000: %.0f ms (%.2f ms per page)\n", total, pages, ms(t1 - t0), ms(t1 - t0) / pages);
  // A caught-up poll: nothing new.
  t0 = Clock::now();
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(get(Continue(etag)).status, 304);
  t1 = Clock::now();
  printf("caught-up poll (304): %.3f ms\n", ms(t1 - t0) / 1000);
  // One change, then a poll that finds it.
  Json doc = {{"id", "d7"}, {"pk", "p7"}, {"payload", "changed"}};
  ASSERT_EQ(region->Call("POST", kDocs, doc.dump(), Plus(Pk("p7"), {{"x-ms-documentdb-is-upsert", "true"}})).status, 200);
  t0 = Clock::now();
  HttpResponse one = get(Continue(etag));
  t1 = Clock::now();
  ASSERT_EQ(one.status, 200);
  printf("poll finding 1 change: %.3f ms\n", ms(t1 - t0));
  // First page from the beginning, 100 items.
  t0 = Clock::now();
  ASSERT_EQ(get(MaxItems(100)).status, 200);
  t1 = Clock::now();
  printf("first page from the beginning (100 items): %.3f ms\n", ms(t1 - t0));
  // A caught-up token arriving from another region: every index entry is checked once.
  std::string text = *Base64Decode(etag.substr(1, etag.size() - 2));
  size_t bar = 0;
  for (int i = 0; i < 3; ++i) bar = text.find('|', bar + 1);  // "cf1|L|scope|region"
  std::string foreign = text.substr(0, bar + 1) + "1" + text.substr(text.find('|', bar + 1));
  // Its vector names region 0's writes; as region 1's view of them it covers everything here.
  t0 = Clock::now();
  HttpResponse f = get(Continue("\"" + Base64Encode(foreign) + "\""));
  t1 = Clock::now();
  printf("token from another region (checks %d entries, delivers %s): %.1f ms\n", n,
         f.status == 200 ? Json::parse(f.body)["_count"].dump().c_str() : "0", ms(t1 - t0));
  // A partition key's feed from the beginning (1% of the documents).
  t0 = Clock::now();
  HttpResponse p = get(Plus(MaxItems(1000), Pk("p3")));
  t1 = Clock::now();
  printf("one partition (%zu docs) from the beginning: %.1f ms\n", Json::parse(p.body)["_count"].get<size_t>(), ms(t1 - t0));
}

}  // namespace
}  // namespace regionlab
