// Group commit over HTTP (base/deferred_work.h): on disk, a write handled on a
// region's io thread leaves its WAL flush until just before its answer, so
// that the writes of one event-loop turn share one write(2). On a real
// in-process cluster (two regions on disk, real HTTP and replication over
// TCP), with clients writing concurrently, what a client relies on stays:
// every create is acknowledged, the session token of each answer covers the
// write it acknowledges (although the store publishes its lsn only at the
// flush), and every acknowledged document reaches the other region. Nothing sleeps to
// let something happen: waits poll a condition until a deadline.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/cosmos_client.h"
#include "client/http_client.h"
#include "cluster/cluster.h"
#include "tests/support/running_cluster.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_for.h"

namespace regionlab {
namespace {

using regionlab::testing::RunningCluster;
using regionlab::testing::StartCluster;
using regionlab::testing::TempDir;
using regionlab::testing::WaitFor;

// The region's own-write entry of "0:1#<own>#0=..#1=..": the number after
// the first '#'.
uint64_t OwnEntry(const std::string& token) {
  const size_t a = token.find('#');
  const size_t b = token.find('#', a + 1);
  if (a == std::string::npos) return 0;
  return std::stoull(token.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1));
}

TEST(GroupCommitTest, ConcurrentCreatesOnDiskAreAcknowledgedWithTheirSessionTokensAndReplicated) {
  TempDir dir("regionlab_group_commit");
  ASSERT_FALSE(dir.path().empty());
  cluster::ClusterOptions o;
  o.port = 0;
  o.admin_port = 0;
  o.data_dir = dir.path();
  o.seed = 5;
  auto started = StartCluster(o);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  const RunningCluster& running = *started;
  ASSERT_EQ(running.endpoints.size(), 2u);
  {
    auto c = running.Client(0);
    ASSERT_EQ(c->CreateDatabase("db")->status, 201);
    ASSERT_EQ(c->CreateContainer("db", R"({"id":"c","partitionKey":{"paths":["/pk"],"kind":"Hash"}})")->status, 201);
  }

  // Read your writes across regions. Once the other region has every write
  // so far, the regions are partitioned and one more document is created:
  // its session token, sent with a read to the other region, must make that
  // region say it has not caught up (404 with sub-status 1002, which the SDK
  // retries elsewhere or later). A plain 404 would mean that the token missed
  // the write it acknowledged.
  {
    auto admin_ep = client::ParseHttpEndpoint(running.admin);
    ASSERT_TRUE(admin_ep.ok());
    client::HttpClient admin(*admin_ep);
    auto writer = running.Client(0);
    auto reader = running.Client(1);
    for (int i = 0; i < 3; ++i) {
      const std::string before = "before-" + std::to_string(i), after = "after-" + std::to_string(i);
      ASSERT_EQ(writer->CreateDocument("db", "c", R"(["ryw"])", R"({"id":")" + before + R"(","pk":"ryw"})")->status, 201);
      ASSERT_TRUE(WaitFor([&] {
        auto r = reader->ReadDocument("db", "c", before, R"(["ryw"])");
        return r.ok() && r->status == 200;
      }));
      auto cut = admin.Send("POST", "/partition", {{"Content-Type", "application/json"}},
                            R"({"groups":[["uksouth"],["westeurope"]]})");
      ASSERT_TRUE(cut.ok() && cut->status == 200);
      auto w = writer->CreateDocument("db", "c", R"(["ryw"])", R"({"id":")" + after + R"(","pk":"ryw"})");
      ASSERT_TRUE(w.ok()) << w.status().ToString();
      ASSERT_EQ(w->status, 201) << w->body;
      const std::string* token = w->Header("x-ms-session-token");
      ASSERT_NE(token, nullptr);
      client::RequestOptions ro;
      ro.session_token = *token;
      auto r = reader->ReadDocument("db", "c", after, R"(["ryw"])", ro);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      const std::string* sub = r->Header("x-ms-substatus");
      EXPECT_EQ(r->status, 404) << r->body;
      EXPECT_TRUE(sub != nullptr && *sub == "1002") << "token " << *token << ": " << r->body;
      auto heal = admin.Send("POST", "/heal", {{"Content-Type", "application/json"}}, "{}");
      ASSERT_TRUE(heal.ok() && heal->status == 200);
    }
  }

  constexpr int kClients = 8, kCreates = 40;
  std::atomic<int> acknowledged{0}, token_covers{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      auto c = running.Client(0);
      uint64_t previous_own = 0;
      for (int i = 0; i < kCreates; ++i) {
        const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        const std::string pk = "p" + std::to_string(i % 5);
        auto r = c->CreateDocument("db", "c", "[\"" + pk + "\"]",
                                   R"({"id":")" + id + R"(","pk":")" + pk + R"(","n":)" + std::to_string(i) + "}");
        if (!r.ok() || r->status != 201) continue;
        ++acknowledged;
        const std::string* token = r->Header("x-ms-session-token");
        if (token == nullptr) continue;
        // Other clients' creates interleave: strictly more than this
        // client's previous create, never the same.
        const uint64_t own = OwnEntry(*token);
        if (own > previous_own) ++token_covers;
        previous_own = own;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(acknowledged.load(), kClients * kCreates);
  EXPECT_EQ(token_covers.load(), kClients * kCreates);

  // Every acknowledged create reaches the other region (the commit listener,
  // deferred with the flush, still announces each write to replication).
  auto other = running.Client(1);
  for (int t = 0; t < kClients; ++t) {
    for (int i : {0, 13, 26, kCreates - 1}) {
      const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
      const std::string pk = "[\"p" + std::to_string(i % 5) + "\"]";
      EXPECT_TRUE(WaitFor([&] {
        auto r = other->ReadDocument("db", "c", id, pk);
        return r.ok() && r->status == 200;
      })) << id;
    }
  }
  running.cluster->Stop();
}

}  // namespace
}  // namespace regionlab
