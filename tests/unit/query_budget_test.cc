// Bounded query work (query/budget.h): a streaming query that runs out of its
// page budget ends the page early with a continuation, and paging on gives
// exactly the unbounded result; a query that must see every row, or one
// document whose JOINs alone exceed the budget, is a 400 at once; a cancelled
// query stops.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "base/clock.h"
#include "query/query.h"

namespace regionlab::query {
namespace {

std::string ArrayDoc(const std::string& id, int n) {
  std::string xs;
  for (int i = 0; i < n; ++i) xs += (i ? "," : "") + std::to_string(i);
  return R"({"id":")" + id + R"(","xs":[)" + xs + "]}";
}

struct Outcome {
  std::vector<std::string> docs;
  int pages = 0;
  int early = 0;  // pages that ended on the budget
  Status error;
};

Outcome Page(const std::string& text, const RowSource& source, BudgetLimits limits) {
  Outcome out;
  auto q = PreparedQuery::Prepare({text, {}});
  EXPECT_TRUE(q.ok()) << q.status().ToString();
  PageRequest req;
  req.max_items = -1;
  req.limits = limits;
  for (;;) {
    auto page = ExecutePage(*q, source, req);
    if (!page.ok()) {
      out.error = page.status();
      return out;
    }
    ++out.pages;
    out.early += page->budget_exhausted;
    for (auto& d : page->documents) out.docs.push_back(std::move(d));
    if (page->continuation.empty() || out.pages > 10'000) return out;
    req.continuation = page->continuation;
  }
}

TEST(QueryBudgetTest, AStreamingJoinPagesOnItsBudgetAndLosesNothing) {
  VectorRowSource source;
  for (int d = 0; d < 3; ++d) source.Add("p/" + std::to_string(d), ArrayDoc("d" + std::to_string(d), 40));
  const std::string q = "SELECT VALUE [c.id, a, b] FROM c JOIN a IN c.xs JOIN b IN c.xs WHERE (a + b) % 3 = 0";
  BudgetLimits unbounded;
  Outcome full = Page(q, source, unbounded);
  ASSERT_TRUE(full.error.ok()) << full.error.ToString();
  BudgetLimits small;
  small.max_rows = 500;  // each document expands to 1,600 tuples
  Outcome paged = Page(q, source, small);
  ASSERT_TRUE(paged.error.ok()) << paged.error.ToString();
  EXPECT_GT(paged.early, 5);
  EXPECT_EQ(paged.docs, full.docs);
}

TEST(QueryBudgetTest, TheJoinCubeOverOneDocumentIsRefusedQuickly) {
  // The issue's query: 2,000^3 = 8e9 tuples, and COUNT must see them all.
  VectorRowSource source;
  source.Add("p/x", ArrayDoc("x", 2000));
  const int64_t t0 = MonotonicMicros();
  Outcome r = Page("SELECT VALUE COUNT(1) FROM c JOIN a IN c.xs JOIN b IN c.xs JOIN d IN c.xs", source, BudgetLimits{});
  const int64_t took_ms = (MonotonicMicros() - t0) / 1000;
  ASSERT_FALSE(r.error.ok());
  EXPECT_EQ(r.error.code(), StatusCode::kBadRequest);
  EXPECT_NE(r.error.message().find("budget"), std::string::npos) << r.error.message();
  EXPECT_LT(took_ms, 6000);  // bounded by the 5 s page budget at the very worst
}

TEST(QueryBudgetTest, OrderByAndGroupByThatOutgrowTheirStateAreRefused) {
  VectorRowSource source;
  for (int d = 0; d < 50; ++d) source.Add("p/" + std::to_string(100 + d), ArrayDoc("d" + std::to_string(d), 10));
  BudgetLimits limits;
  limits.max_state_entries = 20;
  Outcome g = Page("SELECT c.id, COUNT(1) AS n FROM c GROUP BY c.id", source, limits);
  EXPECT_EQ(g.error.code(), StatusCode::kBadRequest) << g.error.ToString();
  Outcome d = Page("SELECT DISTINCT VALUE [c.id, a] FROM c JOIN a IN c.xs", source, limits);
  EXPECT_EQ(d.error.code(), StatusCode::kBadRequest) << d.error.ToString();
  limits.max_state_entries = 1000;
  Outcome ok = Page("SELECT c.id, COUNT(1) AS n FROM c GROUP BY c.id", source, limits);
  EXPECT_TRUE(ok.error.ok()) << ok.error.ToString();
  EXPECT_EQ(ok.docs.size(), 50u);
}

TEST(QueryBudgetTest, ACancelledQueryStops) {
  VectorRowSource source;
  source.Add("p/x", ArrayDoc("x", 2000));
  std::atomic<bool> cancelled{true};
  BudgetLimits limits;
  limits.cancelled = &cancelled;
  Outcome r = Page("SELECT VALUE COUNT(1) FROM c JOIN a IN c.xs JOIN b IN c.xs", source, limits);
  ASSERT_FALSE(r.error.ok());
  EXPECT_NE(r.error.message().find("cancelled"), std::string::npos) << r.error.message();
}

}  // namespace
}  // namespace regionlab::query

namespace regionlab::query {
namespace {

TEST(QueryLimitsTest, QueryTextAndJoinsAsAzureLimitsThem) {
  std::string big = "SELECT * FROM c WHERE c.s = '" + std::string(512 * 1024, 'x') + "'";
  auto r = PreparedQuery::Prepare({big, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("512 KB"), std::string::npos);
  std::string joins = "SELECT VALUE 1 FROM c";
  for (int i = 0; i < 10; ++i) joins += " JOIN a" + std::to_string(i) + " IN c.xs";
  EXPECT_TRUE(PreparedQuery::Prepare({joins, {}}).ok());
  joins += " JOIN a10 IN c.xs";
  auto eleven = PreparedQuery::Prepare({joins, {}});
  ASSERT_FALSE(eleven.ok());
  EXPECT_NE(eleven.status().message().find("JOINs"), std::string::npos);
  // What held must keep holding: a 100,000-element IN list (of 300 KB: within 512 KB).
  std::string in = "SELECT * FROM c WHERE c.n IN (";
  for (int i = 0; i < 100'000; ++i) in += (i ? "," : "") + std::to_string(i % 100);
  EXPECT_TRUE(PreparedQuery::Prepare({in + ")", {}}).ok());
}

}  // namespace
}  // namespace regionlab::query
