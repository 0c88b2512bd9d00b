// Property: in the in-process simulation, random writes in two regions to a few shared ids,
// across partitions, are all accounted for by the history checker once the cluster is quiet.
#include "admin/check.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/sim_cluster.h"

namespace regionlab {
namespace {

using Json = nlohmann::json;

std::string RunHistory(uint64_t seed, admin::CheckReport* out) {
  testing::SimOptions o;
  o.regions = 2;
  o.seed = seed;
  testing::SimCluster sim(o);
  sim.Request(0, "POST", "/dbs", R"({"id":"db"})");
  sim.Request(0, "POST", "/dbs/db/colls",
              R"({"id":"c","partitionKey":{"paths":["/pk"]},
                  "conflictResolutionPolicy":{"mode":"LastWriterWins","conflictResolutionPath":"/_ts","recordLosers":true}})");
  sim.RunUntilQuiet();
  std::string history;
  auto& rng = sim.rng();
  for (int step = 0; step < 400; ++step) {
    if (step % 50 == 25) sim.faults(0, 1).partitioned = sim.faults(1, 0).partitioned = true;
    if (step % 50 == 0) sim.HealAll();
    const int r = static_cast<int>(rng() % 2);
    const std::string id = "d" + std::to_string(rng() % 3);
    const int kind = static_cast<int>(rng() % 3);
    server::HttpResponse resp;
    if (kind == 0) {
      resp = sim.Request(r, "POST", "/dbs/db/colls/c/docs", Json{{"id", id}, {"pk", "p"}, {"s", step}}.dump(),
                         {{"x-ms-documentdb-partitionkey", R"(["p"])"}, {"x-ms-documentdb-is-upsert", "true"}});
    } else if (kind == 1) {
      resp = sim.Request(r, "PUT", "/dbs/db/colls/c/docs/" + id, Json{{"id", id}, {"pk", "p"}, {"s", step}}.dump(),
                         {{"x-ms-documentdb-partitionkey", R"(["p"])"}});
    } else {
      resp = sim.Request(r, "DELETE", "/dbs/db/colls/c/docs/" + id, "", {{"x-ms-documentdb-partitionkey", R"(["p"])"}});
    }
    if (resp.status / 100 == 2) {
      std::string etag;
      for (const auto& [k, v] : resp.headers) {
        if (k == "etag") etag = v;
      }
      history += Json{{"database", "db"}, {"container", "c"}, {"id", id}, {"partitionKey", "p"}, {"etag", etag}}.dump() + "\n";
    }
    sim.AdvanceMillis(static_cast<int64_t>(rng() % 400));
  }
  sim.HealAll();
  sim.RunUntilQuiet();
  std::vector<server::RegionContext*> regions = {&sim.context(0), &sim.context(1)};
  auto report = admin::CheckHistory(regions, history);
  if (!report.ok()) return report.status().ToString();
  *out = *report;
  std::string lost;
  for (const auto& f : report->lost) lost += f.region + " " + f.id + " " + f.etag + ": " + f.detail + "\n";
  return lost;
}

TEST(CheckPropertyTest, RandomConflictingWritesAreAllAccountedFor) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    admin::CheckReport report;
    std::string lost = RunHistory(seed, &report);
    EXPECT_EQ(lost, "") << "seed " << seed;
    EXPECT_TRUE(report.pending.empty()) << "seed " << seed;
    EXPECT_TRUE(report.divergent.empty()) << "seed " << seed;
  }
}

}  // namespace
}  // namespace regionlab
