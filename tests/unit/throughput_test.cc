// The request-charge model and the throughput governor (token bucket per
// offer) on a fake clock.
#include "server/charge.h"
#include "server/throughput.h"

#include <gtest/gtest.h>

#include "tests/support/fake_clock.h"

namespace regionlab::server {
namespace {

TEST(ChargeTest, FollowsAzuresPublishedTable) {
  EXPECT_DOUBLE_EQ(ReadCharge(200), 1.0);
  EXPECT_DOUBLE_EQ(ReadCharge(1024), 1.0);
  EXPECT_NEAR(ReadCharge(100 * 1024), 7.68, 0.01);  // between the table's 64 KB (4.76) and 128 KB (9.95)
  EXPECT_DOUBLE_EQ(CreateCharge(1024), 4.95);
  EXPECT_DOUBLE_EQ(CreateCharge(128 * 1024), 48.19);
  EXPECT_DOUBLE_EQ(CreateCharge(2 * 1024 * 1024), 1250.0);
  EXPECT_DOUBLE_EQ(ReplaceCharge(1024), 2 * 4.95);
  // Monotonic in size, between the table's points too.
  double last_read = 0, last_write = 0;
  for (size_t bytes = 100; bytes <= 2 * 1024 * 1024; bytes = bytes * 5 / 4) {
    EXPECT_GE(ReadCharge(bytes), last_read) << bytes;
    EXPECT_GE(CreateCharge(bytes), last_write) << bytes;
    last_read = ReadCharge(bytes);
    last_write = CreateCharge(bytes);
  }
  // Queries: a floor, then what they examine and return.
  EXPECT_DOUBLE_EQ(QueryCharge(0, 0), 2.3);
  EXPECT_GT(QueryCharge(1000, 0), QueryCharge(10, 0));
  EXPECT_GT(QueryCharge(10, 100 * 1024), QueryCharge(10, 1024));
  EXPECT_DOUBLE_EQ(RoundCharge(5.714), 5.71);
}

TEST(ThroughputGovernorTest, AdmitsASecondsWorthThenThrottlesUntilRefilled) {
  testing::FakeClock clock;
  ThroughputGovernor g(clock);
  // 400 RU/s: eighty 5-RU writes in a burst spend the second's budget.
  int admitted = 0;
  for (int i = 0; i < 100; ++i) {
    if (g.Admit("c", 400)) break;
    g.Charge("c", 5);
    ++admitted;
  }
  EXPECT_EQ(admitted, 80);
  auto wait = g.Admit("c", 400);
  ASSERT_TRUE(wait.has_value());
  EXPECT_GE(*wait, 1);
  EXPECT_EQ(g.throttled(), 2u);
  // After the wait it says, one more request goes through.
  clock.AdvanceMillis(*wait);
  EXPECT_FALSE(g.Admit("c", 400).has_value());
  // A big request takes the bucket deep below zero: the wait grows with it.
  g.Charge("c", 800);
  auto long_wait = g.Admit("c", 400);
  ASSERT_TRUE(long_wait.has_value());
  EXPECT_NEAR(static_cast<double>(*long_wait), 2000, 15);
  // Budgets are independent; an idle bucket refills to one second, not more.
  EXPECT_FALSE(g.Admit("other", 400).has_value());
  clock.AdvanceMillis(60'000);
  int burst = 0;
  while (!g.Admit("c", 400)) {
    g.Charge("c", 5);
    ++burst;
  }
  EXPECT_EQ(burst, 80);
}

TEST(ThroughputGovernorTest, ARaisedOfferTakesEffectAtOnce) {
  testing::FakeClock clock;
  ThroughputGovernor g(clock);
  ASSERT_FALSE(g.Admit("c", 400));
  g.Charge("c", 400);
  EXPECT_TRUE(g.Admit("c", 400).has_value());
  clock.AdvanceMillis(100);  // 40 RU refilled at the old rate... and the offer is now 4000 RU/s
  EXPECT_FALSE(g.Admit("c", 4000).has_value());
}

}  // namespace
}  // namespace regionlab::server
