// Conflict resolution and the conflicts feed, in one process: real regions
// (stores, data plane, replicator, PolicyHandler) over the simulated network
// with a fake clock and a seed. Each policy is checked for the same outcome
// on every region whatever the order in which concurrent versions arrive.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "base/encoding.h"
#include "conflictfeed/native_resolver.h"
#include "storage/keys.h"
#include "tests/support/sim_cluster.h"

namespace regionlab {
namespace {

using testing::SimCluster;
using testing::SimOptions;
using Json = nlohmann::json;

const std::string kColl = "/dbs/billing/colls/invoices";
const std::string kDocs = kColl + "/docs";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string StoryProcedure() {
  return ReadFile(std::string(REGIONLAB_SOURCE_DIR) + "/examples/merge-procedures/resolveInvoiceConflict.js");
}

SimOptions Opts(int regions, uint64_t seed) {
  SimOptions o;
  o.regions = regions;
  o.seed = seed;
  return o;
}

// Database, container with `policy` (JSON, may be empty) and optionally a
// stored procedure, replicated everywhere.
void MakeContainer(SimCluster& sim, const std::string& policy, const std::string& sproc_id = "",
           const std::string& sproc_body = "") {
  ASSERT_EQ(sim.Request(0, "POST", "/dbs", R"({"id":"billing"})").status, 201);
  std::string body = R"({"id":"invoices","partitionKey":{"paths":["/customer"],"kind":"Hash"})" +
                     (policy.empty() ? std::string() : ",\"conflictResolutionPolicy\":" + policy) + "}";
  auto created = sim.Request(0, "POST", "/dbs/billing/colls", body);
  ASSERT_EQ(created.status, 201) << created.body;
  if (!sproc_id.empty()) {
    Json sp = {{"id", sproc_id}, {"body", sproc_body}};
    ASSERT_EQ(sim.Request(0, "POST", kColl + "/sprocs", sp.dump()).status, 201);
  }
  ASSERT_TRUE(sim.RunUntilQuiet());
}

void Partition(SimCluster& sim) {
  for (int a = 0; a < sim.size(); ++a) {
    for (int b = 0; b < sim.size(); ++b) {
      if (a != b) sim.faults(a, b).partitioned = true;
    }
  }
}

server::HttpResponse Upsert(SimCluster& sim, int r, Json doc) {
  std::string pk = Json::array({doc["customer"]}).dump();
  return sim.Request(r, "POST", kDocs, doc.dump(),
                     {{"x-ms-documentdb-partitionkey", pk}, {"x-ms-documentdb-is-upsert", "true"}});
}

server::HttpResponse Read(SimCluster& sim, int r, const std::string& id, const std::string& customer = "acme") {
  return sim.Request(r, "GET", kDocs + "/" + id, "",
                     {{"x-ms-documentdb-partitionkey", Json::array({customer}).dump()}});
}

Json Invoice(const std::string& writer, double total, int version = 1) {
  return {{"id", "inv-1001"},
          {"customer", "acme"},
          {"total", total},
          {"version", version},
          {"homeRegion", "r0"},
          {"writtenIn", writer},
          {"idempotencyKey", "key-" + writer}};
}

// The conflicts feed of region `r`, by id.
std::map<std::string, Json> Feed(SimCluster& sim, int r) {
  auto resp = sim.Request(r, "GET", kColl + "/conflicts");
  EXPECT_EQ(resp.status, 200) << resp.body;
  std::map<std::string, Json> out;
  Json body = Json::parse(resp.body);
  for (const auto& c : body["Conflicts"]) out[c["id"].get<std::string>()] = c;
  return out;
}

// Every region serves the same document and has the same conflicts feed.
void ExpectSameEverywhere(SimCluster& sim, const std::string& what) {
  auto doc0 = Read(sim, 0, "inv-1001");
  auto feed0 = Feed(sim, 0);
  auto digest0 = sim.Digest(0);
  for (int r = 1; r < sim.size(); ++r) {
    auto doc = Read(sim, r, "inv-1001");
    EXPECT_EQ(doc.status, doc0.status) << what << ": region " << r;
    EXPECT_EQ(doc.body, doc0.body) << what << ": region " << r;
    EXPECT_EQ(Feed(sim, r), feed0) << what << ": region " << r;
    EXPECT_EQ(sim.Digest(r), digest0) << what << ": region " << r;
  }
}

// Writes `versions[i]` in region i while every region is cut off, then heals.
void ConcurrentWrites(SimCluster& sim, const std::vector<Json>& versions, int64_t gap_ms = 240) {
  Partition(sim);
  for (size_t i = 0; i < versions.size(); ++i) {
    if (i) sim.AdvanceMillis(gap_ms);
    if (versions[i].is_null()) {
      auto del = sim.Request(static_cast<int>(i), "DELETE", kDocs + "/inv-1001", "",
                             {{"x-ms-documentdb-partitionkey", R"(["acme"])"}});
      ASSERT_EQ(del.status, 204) << del.body;
    } else {
      auto put = Upsert(sim, static_cast<int>(i), versions[i]);
      ASSERT_LT(put.status, 300) << put.body;
    }
  }
  sim.HealAll();
  ASSERT_TRUE(sim.RunUntilQuiet());
}

TEST(Conflicts, LastWriterWinsOnTsKeepsTheLaterWriteSilently) {
  SimCluster sim(Opts(2, 11));
  MakeContainer(sim, "");
  ConcurrentWrites(sim, {Invoice("r0", 1284.50), Invoice("r1", 1284.49)});
  auto doc = Read(sim, 0, "inv-1001");
  ASSERT_EQ(doc.status, 200);
  EXPECT_EQ(Json::parse(doc.body)["total"], 1284.49);  // written 240 ms later: wins, even on an equal _ts
  EXPECT_TRUE(Feed(sim, 0).empty());
  EXPECT_TRUE(Feed(sim, 1).empty());
  ExpectSameEverywhere(sim, "lww");
}

TEST(Conflicts, RecordLosersPutsTheOverwrittenVersionInEveryFeed) {
  SimCluster sim(Opts(2, 12));
  MakeContainer(sim, R"({"mode":"LastWriterWins","conflictResolutionPath":"/_ts","recordLosers":true})");
  ConcurrentWrites(sim, {Invoice("r0", 1284.50), Invoice("r1", 1284.49)});
  auto feed = Feed(sim, 0);
  ASSERT_EQ(feed.size(), 1u);
  const Json& c = feed.begin()->second;
  EXPECT_EQ(c["resourceType"], "document");
  EXPECT_EQ(c["operationType"], "create");
  EXPECT_TRUE(c["content"].is_string());
  EXPECT_EQ(Json::parse(c["content"].get<std::string>())["total"], 1284.50);
  EXPECT_EQ(c["resourceId"], Json::parse(Read(sim, 0, "inv-1001").body)["_rid"]);
  EXPECT_EQ(c["regionlab"]["winner"]["_etag"], Json::parse(Read(sim, 0, "inv-1001").body)["_etag"]);
  EXPECT_EQ(c["regionlab"]["loser"]["region"], "uksouth");
  EXPECT_EQ(c["regionlab"]["winner"]["region"], "westeurope");
  for (const char* f : {"_rid", "_self", "_etag", "_ts", "conflict_lsn"}) EXPECT_TRUE(c.contains(f)) << f;
  ExpectSameEverywhere(sim, "recordLosers");

  // Read one (the SDK's route too), then delete it in region 1: gone everywhere.
  std::string id = c["id"];
  EXPECT_EQ(sim.Request(0, "GET", kColl + "/conflicts/" + id).status, 200);
  EXPECT_EQ(sim.Request(0, "GET", kColl + "/conflicts/" + id + "/conflicts").status, 200);
  EXPECT_EQ(sim.Request(1, "DELETE", kColl + "/conflicts/" + id).status, 204);
  EXPECT_EQ(sim.Request(1, "DELETE", kColl + "/conflicts/" + id).status, 404);
  ASSERT_TRUE(sim.RunUntilQuiet());
  EXPECT_TRUE(Feed(sim, 0).empty());
  EXPECT_TRUE(Feed(sim, 1).empty());
  EXPECT_EQ(sim.Request(0, "GET", kColl + "/conflicts/" + id).status, 404);
}

TEST(Conflicts, LastWriterWinsOnAPathPicksTheHighestValue) {
  SimCluster sim(Opts(2, 13));
  MakeContainer(sim, R"({"mode":"LastWriterWins","conflictResolutionPath":"/version"})");
  ConcurrentWrites(sim, {Invoice("r0", 1284.50, 7), Invoice("r1", 1284.49, 3)});
  EXPECT_EQ(Json::parse(Read(sim, 1, "inv-1001").body)["version"], 7);  // the earlier write, higher version
  ExpectSameEverywhere(sim, "path");
}

TEST(Conflicts, ADeleteWinsOverAConcurrentReplace) {
  SimCluster sim(Opts(2, 14));
  MakeContainer(sim, R"({"mode":"LastWriterWins","conflictResolutionPath":"/version"})");
  ASSERT_EQ(Upsert(sim, 0, Invoice("r0", 1.0)).status, 201);
  ASSERT_TRUE(sim.RunUntilQuiet());
  // The replace is later and has a higher version; the delete still wins.
  ConcurrentWrites(sim, {Json(), Invoice("r1", 2.0, 99)});
  EXPECT_EQ(Read(sim, 0, "inv-1001").status, 404);
  EXPECT_EQ(Read(sim, 1, "inv-1001").status, 404);
  ExpectSameEverywhere(sim, "delete");
}

TEST(Conflicts, CustomWithoutProcedureLeavesTheConflictInEveryFeed) {
  SimCluster sim(Opts(2, 15));
  MakeContainer(sim, R"({"mode":"Custom"})");
  ConcurrentWrites(sim, {Invoice("r0", 1284.50), Invoice("r1", 1284.49)});
  auto feed0 = Feed(sim, 0);
  ASSERT_EQ(feed0.size(), 1u);
  EXPECT_EQ(feed0.begin()->second["regionlab"]["policy"], "Custom");
  ExpectSameEverywhere(sim, "custom");
  // Until the application deletes it, it stays, even after more writes.
  ASSERT_EQ(Upsert(sim, 0, Invoice("r0", 1284.50, 2)).status, 200);
  ASSERT_TRUE(sim.RunUntilQuiet());
  EXPECT_EQ(Feed(sim, 1).size(), 1u);
  EXPECT_EQ(sim.Request(0, "DELETE", kColl + "/conflicts/" + feed0.begin()->first).status, 204);
  ASSERT_TRUE(sim.RunUntilQuiet());
  EXPECT_TRUE(Feed(sim, 1).empty());
}

TEST(Conflicts, TheStoryMergeProcedurePicksTheHomeRegionInvoice) {
  SimCluster sim(Opts(2, 16));
  MakeContainer(sim, R"({"mode":"Custom","conflictResolutionProcedure":"dbs/billing/colls/invoices/sprocs/resolveInvoiceConflict"})",
        "resolveInvoiceConflict", StoryProcedure());
  // r1's write is later (it would win under LWW); r0 is the home region.
  ConcurrentWrites(sim, {Invoice("r0", 1284.50), Invoice("r1", 1284.49)});
  auto doc = Read(sim, 1, "inv-1001");
  ASSERT_EQ(doc.status, 200);
  EXPECT_EQ(Json::parse(doc.body)["total"], 1284.50);
  EXPECT_EQ(Json::parse(doc.body)["writtenIn"], "r0");
  EXPECT_TRUE(Feed(sim, 0).empty());
  ExpectSameEverywhere(sim, "story procedure");
  // A later write from either region supersedes the merged version normally.
  auto fixed = Invoice("r1", 1284.50, 2);
  ASSERT_EQ(Upsert(sim, 1, fixed).status, 200);
  ASSERT_TRUE(sim.RunUntilQuiet());
  EXPECT_EQ(Json::parse(Read(sim, 0, "inv-1001").body)["version"], 2);
}

TEST(Conflicts, AThrowingOrEndlessProcedureSendsTheConflictToTheFeed) {
  for (const std::string body : {"function m(a, b, c, d) { throw new Error('no way'); }",
                                 "function m(a, b, c, d) { while (true) {} }"}) {
    SimCluster sim(Opts(2, 17));
    MakeContainer(sim, R"({"mode":"Custom","conflictResolutionProcedure":"m"})", "m", body);
    ConcurrentWrites(sim, {Invoice("r0", 1284.50), Invoice("r1", 1284.49)});
    auto feed = Feed(sim, 0);
    ASSERT_EQ(feed.size(), 1u) << body;
    EXPECT_NE(feed.begin()->second["regionlab"]["reason"].get<std::string>().find("failed"), std::string::npos);
    ExpectSameEverywhere(sim, body);
    // The region keeps serving, reads and writes.
    EXPECT_EQ(Read(sim, 0, "inv-1001").status, 200);
    EXPECT_EQ(Upsert(sim, 0, Invoice("r0", 5.0, 9)).status, 200);
  }
}

TEST(Conflicts, AMissingProcedureSendsTheConflictToTheFeed) {
  SimCluster sim(Opts(2, 18));
  MakeContainer(sim, R"({"mode":"Custom","conflictResolutionProcedure":"dbs/billing/colls/invoices/sprocs/absent"})");
  ConcurrentWrites(sim, {Invoice("r0", 1.0), Invoice("r1", 2.0)});
  ASSERT_EQ(Feed(sim, 1).size(), 1u);
  EXPECT_NE(Feed(sim, 1).begin()->second["regionlab"]["reason"].get<std::string>().find("does not exist"),
            std::string::npos);
}

TEST(Conflicts, NativeMergeFieldsCombinesTopLevelProperties) {
  SimCluster sim(Opts(2, 19));
  MakeContainer(sim, R"({"mode":"Custom","conflictResolutionProcedure":"native:merge-fields"})");
  Json a = {{"id", "inv-1001"}, {"customer", "acme"}, {"total", 1.0}, {"paid", true}};
  Json b = {{"id", "inv-1001"}, {"customer", "acme"}, {"total", 2.0}, {"note", "late"}};
  ConcurrentWrites(sim, {a, b});
  Json doc = Json::parse(Read(sim, 0, "inv-1001").body);
  EXPECT_EQ(doc["total"], 2.0);  // the later write gives the disputed field
  EXPECT_EQ(doc["paid"], true);
  EXPECT_EQ(doc["note"], "late");
  EXPECT_TRUE(Feed(sim, 0).empty());
  ExpectSameEverywhere(sim, "merge-fields");
}

TEST(Conflicts, NativeHighestKeepsTheHighestOrFeedsATie) {
  {
    SimCluster sim(Opts(2, 20));
    MakeContainer(sim, R"({"mode":"Custom","conflictResolutionProcedure":"native:highest:/version"})");
    ConcurrentWrites(sim, {Invoice("r0", 1.0, 5), Invoice("r1", 2.0, 4)});
    EXPECT_EQ(Json::parse(Read(sim, 1, "inv-1001").body)["version"], 5);
    EXPECT_TRUE(Feed(sim, 1).empty());
  }
  {
    SimCluster sim(Opts(2, 21));
    MakeContainer(sim, R"({"mode":"Custom","conflictResolutionProcedure":"native:highest:/version"})");
    ConcurrentWrites(sim, {Invoice("r0", 1.0, 5), Invoice("r1", 2.0, 5)});
    EXPECT_EQ(Feed(sim, 0).size(), 1u);
    ExpectSameEverywhere(sim, "highest tie");
  }
}

TEST(Conflicts, UnknownNativeResolverIsRefusedAtContainerCreate) {
  SimCluster sim(Opts(1, 22));
  ASSERT_EQ(sim.Request(0, "POST", "/dbs", R"({"id":"billing"})").status, 201);
  auto resp = sim.Request(0, "POST", "/dbs/billing/colls",
                          R"({"id":"x","partitionKey":{"paths":["/customer"]},"conflictResolutionPolicy":{"mode":"Custom","conflictResolutionProcedure":"native:nope"}})");
  EXPECT_EQ(resp.status, 400);
  EXPECT_NE(resp.body.find("merge-fields"), std::string::npos);  // lists what exists
  EXPECT_EQ(sim.Request(0, "GET", "/dbs/billing/colls/x").status, 404);
}

// Three regions write the same document concurrently; across many seeds
// (different delivery orders) every policy ends with one result everywhere,
// and every loser is in the feed exactly once where the policy records it.
struct PolicyCase {
  const char* name;
  std::string policy;
  size_t expected_conflicts;
  bool story_procedure;
};

TEST(Conflicts, EveryPolicyConvergesWithThreeRegionsInAnyOrder) {
  const std::vector<PolicyCase> cases = {
      {"lww", "", 0, false},
      {"lww-record", R"({"mode":"LastWriterWins","recordLosers":true})", 2, false},
      {"lww-path", R"({"mode":"LastWriterWins","conflictResolutionPath":"/version","recordLosers":true})", 2, false},
      {"custom-feed", R"({"mode":"Custom"})", 2, false},
      {"merge-fields", R"({"mode":"Custom","conflictResolutionProcedure":"native:merge-fields"})", 0, false},
      {"story", R"({"mode":"Custom","conflictResolutionProcedure":"resolveInvoiceConflict"})", 0, true},
  };
  const int seeds = 8;
  for (const auto& pc : cases) {
    std::set<std::string> winners;
    for (int seed = 1; seed <= seeds; ++seed) {
      SimOptions o = Opts(3, 1000 + seed);
      o.max_delay_ms = 200;  // wide delays: versions meet in different orders
      SimCluster sim(o);
      MakeContainer(sim, pc.policy, pc.story_procedure ? "resolveInvoiceConflict" : "",
            pc.story_procedure ? StoryProcedure() : "");
      ConcurrentWrites(sim, {Invoice("r0", 1.0, 2), Invoice("r1", 2.0, 3), Invoice("r2", 3.0, 1)},
                       /*gap_ms=*/static_cast<int64_t>(sim.rng()() % 400));
      std::string what = std::string(pc.name) + " seed " + std::to_string(seed);
      ExpectSameEverywhere(sim, what);
      EXPECT_EQ(Feed(sim, 0).size(), pc.expected_conflicts) << what;
      winners.insert(Json::parse(Read(sim, 0, "inv-1001").body)["writtenIn"].get<std::string>());
    }
    if (std::string(pc.name) == "lww-path") {
      EXPECT_EQ(winners, std::set<std::string>{"r1"});
    }
    if (std::string(pc.name) == "story") {
      EXPECT_EQ(winners, std::set<std::string>{"r0"});
    }
  }
}

}  // namespace
}  // namespace regionlab

namespace regionlab {
namespace {

// (region id, lsn) of the write that produced an _etag ("%08x-0000-0000-%04x-%012llx").
std::pair<uint32_t, uint64_t> EtagOrigin(const std::string& etag) {
  std::string e = etag.substr(1, etag.size() - 2);
  uint32_t region = static_cast<uint32_t>(std::stoul(e.substr(0, 8), nullptr, 16));
  uint64_t hi = std::stoull(e.substr(19, 4), nullptr, 16);
  uint64_t lo = std::stoull(e.substr(24), nullptr, 16);
  return {region, (hi << 48) | lo};
}

// Random upserts and deletes from every region under random faults (loss,
// duplication, reordering, partitions, crashes and restarts), then heal.
// With recordLosers every acknowledged write must end up either covered by
// the winner's history or by a version in the conflicts feed, each losing
// version in the feed exactly once, and every region the same.
TEST(Conflicts, NoAcknowledgedWriteIsLostUnderRandomFaults) {
  const int seeds = std::getenv("REGIONLAB_SIM_SEEDS") ? std::atoi(std::getenv("REGIONLAB_SIM_SEEDS")) / 5 + 1 : 12;
  size_t total_conflicts = 0;
  for (int seed = 1; seed <= seeds; ++seed) {
    SimOptions o = Opts(3, 7000 + seed);
    o.max_delay_ms = 80;
    SimCluster sim(o);
    MakeContainer(sim, R"({"mode":"LastWriterWins","recordLosers":true})");
    auto& rng = sim.rng();
    auto chance = [&](double p) { return static_cast<double>(rng() % 10000) / 10000.0 < p; };
    std::vector<std::pair<std::string, std::pair<uint32_t, uint64_t>>> acked;  // doc id -> write
    const std::vector<std::string> ids = {"inv-1", "inv-2", "inv-3"};
    for (int step = 0; step < 60; ++step) {
      if (chance(0.1)) {  // new faults on a random link
        int a = static_cast<int>(rng() % 3), b = static_cast<int>(rng() % 3);
        if (a != b) {
          auto& f = sim.faults(a, b);
          f.partitioned = chance(0.3);
          f.drop_rate = chance(0.5) ? 0.3 : 0;
          f.duplicate_rate = chance(0.5) ? 0.3 : 0;
          f.reorder_rate = chance(0.5) ? 0.3 : 0;
        }
      }
      if (chance(0.04)) {
        int r = static_cast<int>(rng() % 3);
        if (sim.up(r)) sim.Crash(r); else sim.Restart(r);
      }
      int r = static_cast<int>(rng() % 3);
      if (sim.up(r)) {
        const std::string& id = ids[rng() % ids.size()];
        if (chance(0.15)) {
          auto del = sim.Request(r, "DELETE", kDocs + "/" + id, "", {{"x-ms-documentdb-partitionkey", R"(["acme"])"}});
          if (del.status == 204) {
            // A delete's etag is not returned; the tombstone's origin is this region's last own lsn.
            acked.push_back({id, {static_cast<uint32_t>(r), sim.store(r).own_lsn()}});
          }
        } else {
          Json doc = {{"id", id}, {"customer", "acme"}, {"step", step}, {"writtenIn", r}};
          auto put = Upsert(sim, r, doc);
          ASSERT_LT(put.status, 300) << put.body;
          acked.push_back({id, EtagOrigin(Json::parse(put.body)["_etag"].get<std::string>())});
        }
      }
      sim.AdvanceMillis(static_cast<int64_t>(rng() % 60));
    }
    for (int r = 0; r < 3; ++r) sim.Restart(r);
    sim.HealAll();
    ASSERT_TRUE(sim.RunUntilQuiet()) << "seed " << seed;
    std::string what = "seed " + std::to_string(seed);
    auto digest0 = sim.Digest(0);
    auto feed0 = Feed(sim, 0);
    for (int r = 1; r < 3; ++r) {
      EXPECT_EQ(sim.Digest(r), digest0) << what;
      EXPECT_EQ(Feed(sim, r), feed0) << what;
    }
    total_conflicts += feed0.size();
    // Losing versions in the feed, by document: their vectors (region name -> counter).
    std::map<std::string, std::vector<std::map<uint32_t, uint64_t>>> lost;
    std::set<std::string> loser_etags;
    const char* names[] = {"uksouth", "westeurope", "eastus"};
    for (const auto& [cid, c] : feed0) {
      std::map<uint32_t, uint64_t> v;
      for (uint32_t i = 0; i < 3; ++i) {
        if (c["regionlab"]["loser"]["version"].contains(names[i])) {
          v[i] = c["regionlab"]["loser"]["version"][names[i]].get<uint64_t>();
        }
      }
      lost[c["regionlab"]["documentId"].get<std::string>()].push_back(v);
      EXPECT_TRUE(loser_etags.insert(c["regionlab"]["loser"]["_etag"].get<std::string>()).second)
          << what << ": a losing version is in the feed twice";
    }
    for (const auto& [id, w] : acked) {
      auto rec = sim.store(0).Get(storage::keys::Document(
          *Base64Decode(Json::parse(sim.Request(0, "GET", kColl).body)["_rid"].get<std::string>()), R"(["acme"])",
          id));
      ASSERT_TRUE(rec.ok() && rec->has_value()) << what << " " << id;
      auto covers = [&](const std::map<uint32_t, uint64_t>& v) {
        auto it = v.find(w.first);
        return it != v.end() && it->second >= w.second;
      };
      bool kept = covers((*rec)->version);
      for (const auto& v : lost[id]) kept = kept || covers(v);
      EXPECT_TRUE(kept) << what << ": write " << w.first << ":" << w.second << " of " << id
                        << " is neither in the winner's history nor in the conflicts feed";
    }
  }
  EXPECT_GT(total_conflicts, 0u) << "the faults never produced a conflict: the test checks nothing";
}

}  // namespace
}  // namespace regionlab
