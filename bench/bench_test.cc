// Unit tests of the benchmark harness's pieces (the end-to-end run is the
// bench_smoke ctest).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <vector>

#include "bench/histogram.h"
#include "bench/report.h"
#include "bench/server_process.h"
#include "bench/workload.h"

namespace regionlab::bench {
namespace {

TEST(LatencyHistogramTest, BucketsAreContiguousAndCoverTheRange) {
  uint64_t expected_low = 0;
  for (size_t i = 0; i < LatencyHistogram::BucketCount(); ++i) {
    ASSERT_EQ(LatencyHistogram::BucketLow(i), expected_low) << i;
    ASSERT_GE(LatencyHistogram::BucketHigh(i), LatencyHistogram::BucketLow(i)) << i;
    expected_low = LatencyHistogram::BucketHigh(i) + 1;
  }
  EXPECT_EQ(expected_low - 1, LatencyHistogram::kMaxValue);
}

TEST(LatencyHistogramTest, ValuesLandInTheirBucket) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t v = rng() >> (rng() % 64);
    const uint64_t c = std::min(v, LatencyHistogram::kMaxValue);
    const size_t b = LatencyHistogram::BucketIndex(v);
    ASSERT_LT(b, LatencyHistogram::BucketCount());
    ASSERT_LE(LatencyHistogram::BucketLow(b), c);
    ASSERT_GE(LatencyHistogram::BucketHigh(b), c);
    // Relative width below 1/128.
    ASSERT_LE(LatencyHistogram::BucketHigh(b) - LatencyHistogram::BucketLow(b),
              LatencyHistogram::BucketLow(b) / LatencyHistogram::kSubBuckets);
  }
}

TEST(LatencyHistogramTest, PercentilesMatchExactOnesWithinPrecision) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(13.0, 1.0);  // around 0.4 ms in ns
  LatencyHistogram a, b;
  std::vector<uint64_t> all;
  for (int i = 0; i < 200000; ++i) {
    const uint64_t v = static_cast<uint64_t>(dist(rng));
    all.push_back(v);
    (i % 2 ? a : b).Record(v);
  }
  a.Merge(b);
  std::sort(all.begin(), all.end());
  ASSERT_EQ(a.count(), all.size());
  EXPECT_EQ(a.min(), all.front());
  EXPECT_EQ(a.max(), all.back());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const size_t rank = static_cast<size_t>(std::ceil(q * all.size()));
    const double exact = static_cast<double>(all[rank - 1]);
    EXPECT_NEAR(static_cast<double>(a.Percentile(q)), exact, exact / 100) << q;
  }
  EXPECT_EQ(a.Percentile(1.0), all.back());
}

TEST(LatencyHistogramTest, EmptyAndSmall) {
  LatencyHistogram h;
  EXPECT_EQ(h.Percentile(0.5), 0u);
  EXPECT_EQ(h.count(), 0u);
  h.Record(5);
  h.Record(7);
  EXPECT_EQ(h.Percentile(0.5), 5u);
  EXPECT_EQ(h.Percentile(0.99), 7u);
  EXPECT_DOUBLE_EQ(h.mean(), 6.0);
}

TEST(ReadyLineTest, ParsesTheProductShape) {
  auto r = ParseReadyLine(
      R"({"event":"ready","admin":"http://127.0.0.1:8090/","regions":[{"name":"UK South","endpoint":"http://127.0.0.1:8081/"}]})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->admin, "http://127.0.0.1:8090/");
  ASSERT_EQ(r->regions.size(), 1u);
  EXPECT_EQ(r->regions[0].name, "UK South");
  EXPECT_EQ(r->regions[0].endpoint, "http://127.0.0.1:8081/");
}

TEST(ReadyLineTest, RejectsOtherLines) {
  EXPECT_FALSE(ParseReadyLine("starting").ok());
  EXPECT_FALSE(ParseReadyLine(R"({"event":"stopping"})").ok());
  EXPECT_FALSE(ParseReadyLine(R"({"event":"ready","regions":[]})").ok());
}

TEST(ProcTest, ParsesStatus) {
  ProcMemory m = ParseProcStatus("Name:\tregionlab\nVmHWM:\t   20480 kB\nVmRSS:\t   14884 kB\nThreads:\t7\n");
  EXPECT_EQ(m.rss_kb, 14884);
  EXPECT_EQ(m.hwm_kb, 20480);
  EXPECT_EQ(m.threads, 7);
  EXPECT_EQ(ParseProcStatus("Name: x\n").rss_kb, -1);
}

TEST(ProcTest, ReadsOwnProcess) {
  auto m = ReadProcMemory(getpid());
  ASSERT_TRUE(m.ok());
  EXPECT_GT(m->rss_kb, 0);
  EXPECT_GE(m->hwm_kb, m->rss_kb);
  auto cpu = ReadProcCpu(getpid());
  ASSERT_TRUE(cpu.ok());
  EXPECT_GE(cpu->user, 0.0);
  EXPECT_GE(cpu->sys, 0.0);
}

TEST(ServerProcessTest, ReportsAChildThatExitsBeforeReady) {
  SpawnOptions o;
  o.binary = "/bin/sh";
  o.args = {"-c", "echo not-ready; exit 4"};
  auto p = ServerProcess::Spawn(o);
  ASSERT_FALSE(p.ok());
}

TEST(ServerProcessTest, ReadsTheReadyLineAndStops) {
  SpawnOptions o;
  o.binary = "/bin/sh";
  o.args = {"-c",
            R"(echo '{"event":"ready","admin":"","regions":[{"name":"x","endpoint":"http://127.0.0.1:1/"}]}'; exec sleep 30)"};
  auto p = ServerProcess::Spawn(o);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ((*p)->ready().regions.at(0).endpoint, "http://127.0.0.1:1/");
  EXPECT_GT((*p)->time_to_ready().count(), 0);
  auto code = (*p)->Stop(std::chrono::seconds(5));
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  EXPECT_EQ(*code, 128 + SIGTERM);
}

// --rate paces the load: a 1-second phase at 100 creates/s sends at most 100
// (plus one per connection), against a real region.
TEST(WorkloadTest, RatePacesTheOperations) {
  SpawnOptions o;
  o.binary = REGIONLAB_BINARY_FOR_BENCH_TEST;
  o.args = {"--log-level", "warn", "up", "--regions", "uksouth", "--port", "0", "--admin-port", "0", "--ephemeral"};
  auto server = ServerProcess::Spawn(o);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  WorkloadOptions w;
  w.endpoint = (*server)->ready().regions.at(0).endpoint;
  w.connections = 2;
  w.duration_s = 1;
  w.warmup_s = 0;
  w.rate = 100;
  Workload load(w);
  ASSERT_TRUE(load.Setup().ok());
  auto r = load.Measure(PhaseKind::kCreate);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->errors, 0u);
  EXPECT_LE(r->ok, 102u);  // paced: never more than the rate allows
  EXPECT_GE(r->ok, 50u);   // and not starved (each create takes ~1 ms here)
  ASSERT_TRUE((*server)->Stop(std::chrono::seconds(5)).ok());
}

TEST(CpuListTest, Parses) {
  auto a = ParseCpuList("0-2,5");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, (std::vector<int>{0, 1, 2, 5}));
  EXPECT_FALSE(ParseCpuList("").ok());
  EXPECT_FALSE(ParseCpuList("2-1").ok());
  EXPECT_FALSE(ParseCpuList("x").ok());
}

TEST(ReportTest, QuantileIsNearestRank) {
  EXPECT_EQ(Quantile({5, 1, 3, 2, 4}, 0.5), 3);
  EXPECT_EQ(Quantile({5, 1, 3, 2, 4}, 0.9), 5);
  EXPECT_EQ(Quantile({5, 1, 3, 2, 4}, 0), 1);
  EXPECT_EQ(Quantile({}, 0.5), 0);
}

TEST(ReportTest, ChecksTargets) {
  RunReport r;
  r.time_to_ready_ms = 20;
  r.idle_rss_kb = 50 * 1024;
  PhaseReport create;
  create.result.kind = PhaseKind::kCreate;
  create.result.ok = 120000;
  create.result.elapsed_s = 10;
  for (int i = 0; i < 100; ++i) create.result.latency.Record(1000000);
  r.phases.push_back(create);
  auto checks = r.CheckTargets();
  ASSERT_EQ(checks.size(), 4u);
  EXPECT_TRUE(checks[0].met);   // 20 ms < 150 ms
  EXPECT_FALSE(checks[1].met);  // 50 MiB >= 40 MiB
  EXPECT_TRUE(checks[2].met);   // 12000/s >= 10000/s
  EXPECT_TRUE(checks[3].met);   // p99 1 ms < 10 ms
  EXPECT_FALSE(r.AllTargetsMet());
  EXPECT_NE(r.ToJson().find("\"allTargetsMet\":false"), std::string::npos);
}

}  // namespace
}  // namespace regionlab::bench
