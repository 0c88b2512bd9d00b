// replication/link_shaper: the fault model's decisions are a pure function of
// (seed, link, generation, the frames submitted), every link has its own
// stream, and each fault does what docs/chaos.md says.
#include "replication/link_shaper.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace regionlab::replication {
namespace {

// The decisions for `n` frames of 300 bytes submitted 1 ms apart, as text.
std::vector<std::string> Decisions(LinkShaperCore& core, int n, int64_t start = 1'000'000, int64_t step = 1000) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    auto d = core.Decide(start + i * step, 300);
    std::string s = d.dropped ? "drop" : std::to_string(d.copies);
    for (int c = 0; c < d.copies; ++c) {
      s += " " + std::to_string(d.copy[c].release_micros) + (d.copy[c].reordered ? "r" : "");
    }
    out.push_back(s);
  }
  return out;
}

LinkFaults Everything() {
  LinkFaults f;
  f.delay_ms = 240;
  f.jitter_ms = 10;
  f.drop_rate = 0.2;
  f.duplicate_rate = 0.3;
  f.reorder_rate = 0.2;
  f.bandwidth_kbps = 500;
  return f;
}

TEST(LinkShaperTest, SameSeedLinkAndGenerationGiveTheSameDecisions) {
  LinkShaperCore a, b;
  a.Reset(Everything(), LinkStreamSeed(7, "uksouth", "westeurope", 0));
  b.Reset(Everything(), LinkStreamSeed(7, "uksouth", "westeurope", 0));
  EXPECT_EQ(Decisions(a, 2000), Decisions(b, 2000));
}

TEST(LinkShaperTest, EveryLinkSeedAndGenerationHasItsOwnStream) {
  auto decisions = [](uint64_t seed, const char* from, const char* to, uint64_t gen) {
    LinkShaperCore c;
    c.Reset(Everything(), LinkStreamSeed(seed, from, to, gen));
    return Decisions(c, 200);
  };
  const auto base = decisions(7, "uksouth", "westeurope", 0);
  EXPECT_NE(base, decisions(8, "uksouth", "westeurope", 0));   // another seed
  EXPECT_NE(base, decisions(7, "westeurope", "uksouth", 0));   // the other direction
  EXPECT_NE(base, decisions(7, "uksouth", "eastus", 0));       // another link
  EXPECT_NE(base, decisions(7, "uksouth", "westeurope", 1));   // after a fault change
  EXPECT_NE(LinkStreamSeed(7, "ab", "c", 0), LinkStreamSeed(7, "a", "bc", 0));  // names do not run together
}

TEST(LinkShaperTest, ActivityOnOneLinkDoesNotShiftAnother) {
  // Two links of one region, as the transport keeps them: the decisions of
  // uksouth -> westeurope are the same whether or not uksouth -> eastus sees
  // traffic or changes its faults in between.
  LinkShaperCore we1, we2, us;
  we1.Reset(Everything(), LinkStreamSeed(7, "uksouth", "westeurope", 0));
  we2.Reset(Everything(), LinkStreamSeed(7, "uksouth", "westeurope", 0));
  us.Reset(Everything(), LinkStreamSeed(7, "uksouth", "eastus", 0));
  std::vector<std::string> alone = Decisions(we1, 500);
  std::vector<std::string> interleaved;
  for (int i = 0; i < 500; ++i) {
    Decisions(us, 3, 1'000'000 + i * 1000, 100);
    if (i == 250) us.Reset(LinkFaults{}, LinkStreamSeed(7, "uksouth", "eastus", 1));
    auto one = Decisions(we2, 1, 1'000'000 + i * 1000);
    interleaved.push_back(one[0]);
  }
  EXPECT_EQ(alone, interleaved);
}

TEST(LinkShaperTest, HealthyLinkPassesEveryFrameAtOnceInOrder) {
  LinkShaperCore c;
  for (int i = 0; i < 100; ++i) {
    auto d = c.Decide(1000 + i, 100);
    ASSERT_FALSE(d.dropped);
    ASSERT_EQ(d.copies, 1);
    EXPECT_EQ(d.copy[0].release_micros, 1000 + i);
    EXPECT_FALSE(d.copy[0].reordered);
  }
}

TEST(LinkShaperTest, PartitionDropsEverything) {
  LinkFaults f;
  f.partitioned = true;
  f.delay_ms = 5;
  LinkShaperCore c;
  c.Reset(f, 1);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(c.Decide(i, 10).dropped);
}

TEST(LinkShaperTest, RatesAreRoughlyWhatWasAskedFor) {
  LinkFaults f;
  f.drop_rate = 0.3;
  f.duplicate_rate = 0.5;
  f.reorder_rate = 0.2;
  LinkShaperCore c;
  c.Reset(f, LinkStreamSeed(42, "a", "b", 0));
  const int n = 20000;
  int dropped = 0, duplicated = 0, copies = 0, reordered = 0;
  for (int i = 0; i < n; ++i) {
    auto d = c.Decide(i * 100, 10);
    dropped += d.dropped;
    duplicated += d.copies == 2;
    for (int k = 0; k < d.copies; ++k) reordered += d.copy[k].reordered;
    copies += d.copies;
  }
  EXPECT_NEAR(dropped / double(n), 0.3, 0.02);
  EXPECT_NEAR(duplicated / double(n - dropped), 0.5, 0.02);
  EXPECT_NEAR(reordered / double(copies), 0.2, 0.02);
}

TEST(LinkShaperTest, DelayAndJitterStayInBoundsAndKeepFifoOrder) {
  LinkFaults f;
  f.delay_ms = 240;
  f.jitter_ms = 10;
  LinkShaperCore c;
  c.Reset(f, 3);
  int64_t prev = 0;
  int64_t lo = INT64_MAX, hi = 0;
  for (int i = 0; i < 5000; ++i) {
    int64_t now = 1'000'000 + i * 100'000;  // far apart: FIFO never binds
    auto d = c.Decide(now, 10);
    ASSERT_EQ(d.copies, 1);
    int64_t delay = d.copy[0].release_micros - now;
    lo = std::min(lo, delay);
    hi = std::max(hi, delay);
    EXPECT_GE(d.copy[0].release_micros, prev);
    prev = d.copy[0].release_micros;
  }
  EXPECT_GE(lo, 230'000);
  EXPECT_LE(hi, 250'000);
  EXPECT_LT(lo, 232'000);  // the whole range is used
  EXPECT_GT(hi, 248'000);
  // Frames sent back to back never overtake each other (one connection).
  prev = 0;
  for (int i = 0; i < 1000; ++i) {
    auto d = c.Decide(10'000'000'000 + i * 10, 10);
    EXPECT_GE(d.copy[0].release_micros, prev);
    prev = d.copy[0].release_micros;
  }
}

TEST(LinkShaperTest, ReorderedFramesAreOvertakenByLaterOnes) {
  LinkFaults f;
  f.reorder_rate = 0.5;
  LinkShaperCore c;
  c.Reset(f, 11);
  std::vector<std::pair<int64_t, int>> releases;  // (release, submit order)
  for (int i = 0; i < 200; ++i) {
    auto d = c.Decide(1'000'000 + i * 1000, 10);  // 1 ms apart: inside the 20 ms hold
    releases.push_back({d.copy[0].release_micros, i});
  }
  std::stable_sort(releases.begin(), releases.end());
  int out_of_order = 0;
  for (size_t i = 0; i < releases.size(); ++i) out_of_order += releases[i].second != static_cast<int>(i);
  EXPECT_GT(out_of_order, 50);
}

TEST(LinkShaperTest, BandwidthQueuesFramesBehindATokenBucket) {
  LinkFaults f;
  f.bandwidth_kbps = 1;  // 1024 bytes per second
  LinkShaperCore c;
  c.Reset(f, 5);
  int64_t last = 0;
  for (int i = 0; i < 10; ++i) last = c.Decide(0, 512).copy[0].release_micros;
  EXPECT_EQ(last, 5'000'000);  // 5120 bytes at 1024 B/s
  // Idle time is not banked: a frame after a pause waits only for itself.
  EXPECT_EQ(c.Decide(60'000'000, 1024).copy[0].release_micros, 61'000'000);
}

TEST(LinkShaperTest, HealingADelayKeepsFramesInOrder) {
  LinkFaults f;
  f.delay_ms = 240;
  LinkShaperCore c;
  c.Reset(f, 1);
  int64_t held = c.Decide(0, 10).copy[0].release_micros;
  EXPECT_EQ(held, 240'000);
  c.Reset(LinkFaults{}, 2);
  // The next frame does not overtake the one still held.
  EXPECT_EQ(c.Decide(1000, 10).copy[0].release_micros, 240'000);
  EXPECT_EQ(c.Decide(300'000, 10).copy[0].release_micros, 300'000);
}

TEST(LinkShaperTest, DescribeListsTheFaultsInForce) {
  EXPECT_EQ(LinkFaults{}.Describe(), "-");
  LinkFaults f;
  f.delay_ms = 240;
  f.drop_rate = 0.3;
  f.partitioned = true;
  EXPECT_EQ(f.Describe(), "partitioned delay=240ms drop=0.3");
  EXPECT_FALSE(LinkFaults{}.Any());
  EXPECT_TRUE(f.Any());
}

}  // namespace
}  // namespace regionlab::replication
