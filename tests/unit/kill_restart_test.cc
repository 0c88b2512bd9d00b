// Kill and restart of a region while both regions take writes, as the soak's
// chaos loop does it (examples/history-recorder/soak.mjs), on a real
// in-process cluster (cluster::Cluster, two regions on loopback, real HTTP and
// replication over TCP). It asserts what a management client sees: every call
// is answered on one kept-alive connection (the server never closes it under
// a kill or a restart), and what a data-plane client sees: the live region
// keeps answering, the restarted one answers again. Run under the sanitizers
// (scripts/sanitize.sh) it is also the in-process test of a region's teardown
// racing its own requests and replication. Nothing sleeps to let something
// happen: waits poll a condition until a deadline.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/cosmos_client.h"
#include "client/http_client.h"
#include "cluster/cluster.h"
#include "tests/support/running_cluster.h"
#include "tests/support/wait_for.h"

namespace regionlab {
namespace {

using Json = nlohmann::json;

using regionlab::testing::RunningCluster;
using regionlab::testing::StartCluster;
using regionlab::testing::WaitFor;

TEST(KillRestartTest, AdminConnectionSurvivesKillAndRestartUnderWrites) {
  cluster::ClusterOptions o;
  o.port = 0;
  o.admin_port = 0;
  o.ephemeral = true;
  o.seed = 11;
  auto started = StartCluster(o);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  const RunningCluster& running = *started;
  ASSERT_EQ(running.endpoints.size(), 2u);

  auto admin_ep = client::ParseHttpEndpoint(running.admin);
  ASSERT_TRUE(admin_ep.ok());
  client::HttpClient admin(*admin_ep);
  auto post = [&](const std::string& path) {
    auto r = admin.Send("POST", path, {{"Content-Type", "application/json"}}, "{}");
    EXPECT_TRUE(r.ok()) << "POST " << path << ": " << r.status().ToString();
    if (r.ok()) {
      EXPECT_EQ(r->status, 200) << "POST " << path << ": " << r->body;
    }
  };

  {
    auto c = running.Client(0);
    ASSERT_EQ(c->CreateDatabase("db")->status, 201);
    ASSERT_EQ(c->CreateContainer("db", R"({"id":"c","partitionKey":{"paths":["/pk"],"kind":"Hash"}})")->status, 201);
  }
  // The container reaches the other region by replication.
  {
    auto c = running.Client(1);
    ASSERT_TRUE(WaitFor([&] {
      auto r = c->ReadContainer("db", "c");
      return r.ok() && r->status == 200;
    }));
  }

  // One writer per region, upserting until told to stop; a killed region
  // refuses (connection errors), which the writer shrugs off as the soak does.
  std::atomic<bool> stop{false};
  std::atomic<int> acked[2] = {0, 0};
  std::vector<std::thread> writers;
  for (int r = 0; r < 2; ++r) {
    writers.emplace_back([&, r] {
      auto c = running.Client(r);
      for (int i = 0; !stop.load(); ++i) {
        const std::string body = Json{{"id", "d" + std::to_string(i % 8)}, {"pk", "p"}, {"v", i}}.dump();
        auto res = c->UpsertDocument("db", "c", R"(["p"])", body);
        if (res.ok() && res->status < 300) acked[r]++;
      }
    });
  }

  for (int cycle = 0; cycle < 6; ++cycle) {
    const std::string region = cycle % 2 == 0 ? "westeurope" : "uksouth";
    const int live = cycle % 2 == 0 ? 0 : 1;
    const int before = acked[live].load();
    post("/regions/" + region + "/kill");
    // The other region keeps taking writes while this one is down.
    EXPECT_TRUE(WaitFor([&] { return acked[live].load() > before + 5; })) << "cycle " << cycle;
    post("/regions/" + region + "/restart");
    const int killed = 1 - live;
    const int after = acked[killed].load();
    EXPECT_TRUE(WaitFor([&] { return acked[killed].load() > after + 5; })) << "cycle " << cycle;
  }
  stop = true;
  for (auto& t : writers) t.join();

  // Every management call went over the first connection.
  EXPECT_EQ(admin.connections_opened(), 1);
  running.cluster->Stop();
}

}  // namespace
}  // namespace regionlab
