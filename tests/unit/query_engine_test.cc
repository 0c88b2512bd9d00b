// The query engine end to end over an in-memory RowSource: results of every
// construct, Cosmos DB's undefined and mixed-type semantics, and paging (any
// page size and byte budget yields the same rows; continuations travel
// between sources holding the same data and are refused elsewhere).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "query/query.h"
#include "query/value.h"

namespace regionlab::query {
namespace {

constexpr int64_t kNowMicros = 1'700'000'000'000'000;

// Positions sort like storage keys: partition, then id.
const std::vector<std::pair<std::string, std::string>> kDocs = {
    {"a/a1", R"({"id":"a1","pk":"a","n":3,"name":"carol","tags":["x"],"addr":{"city":"Leeds"},)"
             R"("items":[{"sku":"s1","qty":2},{"sku":"s2","qty":1}]})"},
    {"a/a2",
     R"({"id":"a2","pk":"a","n":1,"name":"alice","tags":["x","y"],"addr":{"city":"York"},"items":[]})"},
    {"b/b1", R"({"id":"b1","pk":"b","n":2,"name":"bob","tags":[],"addr":{"city":"Leeds"},)"
             R"("items":[{"sku":"s1","qty":5}]})"},
    {"b/b2", R"({"id":"b2","pk":"b","n":5,"name":"dave","addr":{"city":"Hull"}})"},
    {"c/c1", R"({"id":"c1","pk":"c","n":"4","name":"erin","tags":["y"]})"},
    {"c/c2", R"({"id":"c2","pk":"c","n":null,"name":"Frank","odd key":{"v":1}})"},
    {"c/c3", R"({"id":"c3","pk":"c","name":"gina","flag":true})"},
};

VectorRowSource Source(const std::vector<std::pair<std::string, std::string>>& docs = kDocs) {
  VectorRowSource s;
  for (const auto& [k, v] : docs) s.Add(k, v);
  return s;
}

struct Outcome {
  std::vector<std::string> docs;
  int pages = 0;
  std::string error;
};

Outcome Query(const std::string& text, Parameters params = {}, int64_t page_size = 0,
              size_t max_bytes = 4 << 20, const RowSource* source = nullptr) {
  Outcome run;
  static const VectorRowSource kSource = Source();
  if (!source) source = &kSource;
  auto prepared = PreparedQuery::Prepare({text, std::move(params)});
  if (!prepared.ok()) {
    run.error = prepared.status().message();
    return run;
  }
  PageRequest req;
  req.max_items = page_size;
  req.max_bytes = max_bytes;
  req.now_micros = kNowMicros;
  req.scope = "test";
  while (true) {
    auto page = ExecutePage(*prepared, *source, req);
    if (!page.ok()) {
      run.error = page.status().message();
      return run;
    }
    ++run.pages;
    if (run.pages > 1) {
      EXPECT_FALSE(page->documents.empty()) << text << ": empty page " << run.pages;
    }
    run.docs.insert(run.docs.end(), page->documents.begin(), page->documents.end());
    if (page->continuation.empty()) break;
    EXPECT_LT(run.pages, 1000) << text;
    if (run.pages >= 1000) break;
    req.continuation = page->continuation;
  }
  return run;
}

std::string Join(const std::vector<std::string>& docs) {
  std::string out = "[";
  for (size_t i = 0; i < docs.size(); ++i) {
    if (i) out += ",";
    out += docs[i];
  }
  return out + "]";
}

std::string Q(const std::string& text, Parameters params = {}) {
  Outcome r = Query(text, std::move(params));
  if (!r.error.empty()) return "ERROR: " + r.error;
  return Join(r.docs);
}

TEST(QueryEngine, SelectStarReturnsStoredTextVerbatim) {
  Outcome r = Query("SELECT * FROM c WHERE c.id = 'a2'");
  ASSERT_EQ(r.docs.size(), 1u);
  EXPECT_EQ(r.docs[0], kDocs[1].second);
  EXPECT_EQ(Q("SELECT VALUE c FROM c WHERE c.id = 'b2'"), "[" + kDocs[3].second + "]");
}

TEST(QueryEngine, FiltersAndProjections) {
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c WHERE c.n > 2"), R"(["a1","b2"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c WHERE c.n >= @min AND c.pk = @pk",
              {{"@min", Value::Number(2)}, {"@pk", Value::String("b")}}),
            R"(["b1","b2"])");
  EXPECT_EQ(Q("SELECT c.id, c.addr.city FROM c WHERE c.pk = 'a'"),
            R"([{"id":"a1","city":"Leeds"},{"id":"a2","city":"York"}])");
  EXPECT_EQ(Q("SELECT c.id, c.addr.city AS town, c.n * 2 AS twice, c.name || '!' FROM c WHERE c.id "
              "IN ('a1', 'c1')"),
            R"([{"id":"a1","town":"Leeds","twice":6,"$1":"carol!"},{"id":"c1","$1":"erin!"}])");
  EXPECT_EQ(Q("SELECT c[\"odd key\"].v, c[\"odd key\"] FROM c WHERE IS_DEFINED(c[\"odd key\"])"),
            R"([{"v":1,"odd key":{"v":1}}])");
  EXPECT_EQ(Q("SELECT VALUE {id: c.id, first: c.tags[0]} FROM c WHERE ARRAY_LENGTH(c.tags) > 0"),
            R"([{"id":"a1","first":"x"},{"id":"a2","first":"x"},{"id":"c1","first":"y"}])");
  EXPECT_EQ(Q("SELECT VALUE [c.id, c.n] FROM c WHERE c.pk = 'c'"),
            R"([["c1","4"],["c2",null],["c3"]])");
  EXPECT_EQ(Q("SELECT c.id FROM c WHERE c.pk = 'c' AND NOT IS_DEFINED(c.n)"), R"([{"id":"c3"}])");
  EXPECT_EQ(Q("SELECT c.nothing FROM c WHERE c.id = 'a1'"), R"([{}])");
  EXPECT_EQ(Q("SELECT VALUE c.tags FROM c WHERE c.pk = 'b'"), R"([[]])");
  EXPECT_EQ(Q("SELECT c FROM c WHERE c.id = 'b2'"), "[{\"c\":" + kDocs[3].second + "}]");
  EXPECT_EQ(Q("SELECT VALUE c.name FROM c WHERE c.name LIKE '%a%' AND NOT STARTSWITH(c.name, 'g')"),
            R"(["carol","alice","dave","Frank"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c WHERE c.n BETWEEN 2 AND 4"), R"(["a1","b1"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c WHERE c.flag"), R"(["c3"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c WHERE c.n ?? 0 = 0"), R"(["c3"])");
  EXPECT_EQ(Q("SELECT VALUE (c.n > 2 ? 'big' : 'small') FROM c WHERE c.pk = 'a'"),
            R"(["big","small"])");
}

TEST(QueryEngine, CrossTypeComparisonsFilterRowsOut) {
  // "4" is a string: neither > 2 nor <= 2; null and undefined never compare.
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c WHERE c.n > 2"), R"(["a1","b2"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c WHERE NOT (c.n > 2)"), R"(["a2","b1"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c WHERE c.n = '4'"), R"(["c1"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c WHERE c.n != 3"), R"(["a2","b1","b2"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c WHERE c.n = null"), R"(["c2"])");
}

TEST(QueryEngine, OrderByUsesCosmosTypeOrder) {
  // undefined < null < boolean < number < string.
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c ORDER BY c.n"), R"(["c3","c2","a2","b1","a1","b2","c1"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c ORDER BY c.n DESC"),
            R"(["c1","b2","a1","b1","a2","c2","c3"])");
  EXPECT_EQ(Q("SELECT VALUE c.name FROM c ORDER BY c.name"),
            R"(["Frank","alice","bob","carol","dave","erin","gina"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c ORDER BY c.addr.city, c.n DESC"),
            R"(["c1","c2","c3","b2","a1","b1","a2"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c ORDER BY c.pk DESC, c.id ASC"),
            R"(["c1","c2","c3","b1","b2","a1","a2"])");
  EXPECT_EQ(Q("SELECT c.id FROM c WHERE IS_NUMBER(c.n) ORDER BY c.n * -1"),
            R"([{"id":"b2"},{"id":"a1"},{"id":"b1"},{"id":"a2"}])");
  EXPECT_EQ(Q("SELECT TOP 2 VALUE c.id FROM c ORDER BY c.name DESC"), R"(["c3","c1"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c ORDER BY c.id OFFSET 2 LIMIT 3"), R"(["b1","b2","c1"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c ORDER BY c.id OFFSET 6 LIMIT 3"), R"(["c3"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c ORDER BY c.id OFFSET 9 LIMIT 3"), R"([])");
  EXPECT_EQ(Q("SELECT VALUE c.n FROM c ORDER BY c.id"), R"([3,1,2,5,"4",null])");
}

TEST(QueryEngine, TopOffsetLimitWithoutOrder) {
  EXPECT_EQ(Q("SELECT TOP 3 VALUE c.id FROM c"), R"(["a1","a2","b1"])");
  EXPECT_EQ(Q("SELECT TOP 0 VALUE c.id FROM c"), R"([])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c OFFSET 5 LIMIT 10"), R"(["c2","c3"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c OFFSET 1 LIMIT 0"), R"([])");
  EXPECT_EQ(Q("SELECT TOP @n VALUE c.id FROM c", {{"@n", Value::Number(1)}}), R"(["a1"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c OFFSET @o LIMIT @l",
              {{"@o", Value::Number(1)}, {"@l", Value::Number(1)}}),
            R"(["a2"])");
}

TEST(QueryEngine, JoinsAndInIterate) {
  EXPECT_EQ(Q("SELECT c.id, t FROM c JOIN t IN c.tags"),
            R"([{"id":"a1","t":"x"},{"id":"a2","t":"x"},{"id":"a2","t":"y"},{"id":"c1","t":"y"}])");
  EXPECT_EQ(Q("SELECT VALUE i.sku FROM c JOIN i IN c.items WHERE i.qty > 1"), R"(["s1","s1"])");
  EXPECT_EQ(Q("SELECT c.id, t, i.sku FROM c JOIN t IN c.tags JOIN i IN c.items"),
            R"([{"id":"a1","t":"x","sku":"s1"},{"id":"a1","t":"x","sku":"s2"}])");
  EXPECT_EQ(Q("SELECT * FROM i IN c.items"),
            R"([{"sku":"s1","qty":2},{"sku":"s2","qty":1},{"sku":"s1","qty":5}])");
  EXPECT_EQ(Q("SELECT VALUE x.qty FROM x IN c.items WHERE x.sku = 's1'"), R"([2,5])");
  EXPECT_EQ(Q("SELECT VALUE a.city FROM c.addr a WHERE a.city != 'Leeds'"), R"(["York","Hull"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c JOIN c.addr a WHERE a.city = 'Hull'"), R"(["b2"])");
  EXPECT_EQ(Q("SELECT VALUE t FROM c JOIN t IN c.tags ORDER BY t DESC, c.id"),
            R"(["y","y","x","x"])");
  EXPECT_EQ(Q("SELECT c.id, t FROM c JOIN (SELECT VALUE t FROM t IN c.tags WHERE t = 'y') AS t"),
            R"([{"id":"a2","t":"y"},{"id":"c1","t":"y"}])");
}

TEST(QueryEngine, GroupByAndAggregates) {
  EXPECT_EQ(Q("SELECT VALUE COUNT(1) FROM c"), "[7]");
  EXPECT_EQ(Q("SELECT VALUE COUNT(c.n) FROM c"), "[6]");
  EXPECT_EQ(Q("SELECT VALUE SUM(c.n) FROM c"), "[]");  // "4" and null make SUM undefined
  EXPECT_EQ(Q("SELECT VALUE SUM(c.n) FROM c WHERE IS_NUMBER(c.n)"), "[11]");
  EXPECT_EQ(Q("SELECT VALUE AVG(c.n) FROM c WHERE IS_NUMBER(c.n)"), "[2.75]");
  EXPECT_EQ(Q("SELECT VALUE MIN(c.n) FROM c"), "[null]");
  EXPECT_EQ(Q("SELECT VALUE MAX(c.n) FROM c"), R"(["4"])");
  EXPECT_EQ(Q("SELECT VALUE MAX(c.n) FROM c WHERE IS_NUMBER(c.n)"), "[5]");
  EXPECT_EQ(Q("SELECT VALUE MIN(c.tags) FROM c"), "[]");
  EXPECT_EQ(Q("SELECT VALUE COUNT(1) FROM c WHERE false"), "[0]");
  EXPECT_EQ(Q("SELECT VALUE SUM(c.n) FROM c WHERE false"), "[0]");
  EXPECT_EQ(Q("SELECT VALUE AVG(c.n) FROM c WHERE false"), "[]");
  EXPECT_EQ(Q("SELECT VALUE MAX(c.n) FROM c WHERE false"), "[]");
  EXPECT_EQ(Q("SELECT COUNT(1) AS n, MAX(c.n) AS m FROM c WHERE false"), R"([{"n":0}])");
  EXPECT_EQ(Q("SELECT COUNT(1) AS n, MIN(c.name) AS first FROM c"), R"([{"n":7,"first":"Frank"}])");
  EXPECT_EQ(Q("SELECT COUNT(1), SUM(c.n) FROM c WHERE IS_NUMBER(c.n)"), R"([{"$1":4,"$2":11}])");
  EXPECT_EQ(Q("SELECT c.pk, COUNT(1) AS n, SUM(c.n) AS s FROM c GROUP BY c.pk"),
            R"([{"pk":"a","n":2,"s":4},{"pk":"b","n":2,"s":7},{"pk":"c","n":3}])");
  EXPECT_EQ(Q("SELECT VALUE {city: c.addr.city, n: COUNT(1)} FROM c GROUP BY c.addr.city"),
            R"([{"city":"Leeds","n":2},{"city":"York","n":1},{"city":"Hull","n":1},{"n":3}])");
  EXPECT_EQ(
      Q("SELECT LOWER(SUBSTRING(c.name, 0, 1)) AS initial, COUNT(1) AS n FROM c "
        "WHERE c.pk != 'a' GROUP BY LOWER(SUBSTRING(c.name, 0, 1))"),
      R"([{"initial":"b","n":1},{"initial":"d","n":1},{"initial":"e","n":1},{"initial":"f","n":1},)"
      R"({"initial":"g","n":1}])");
  EXPECT_EQ(Q("SELECT t AS tag, COUNT(1) AS n FROM c JOIN t IN c.tags GROUP BY t"),
            R"([{"tag":"x","n":2},{"tag":"y","n":2}])");
  EXPECT_EQ(Q("SELECT VALUE c.pk FROM c GROUP BY c.pk"), R"(["a","b","c"])");
  EXPECT_EQ(
      Q("SELECT c.pk, c.addr.city FROM c WHERE c.pk != 'c' GROUP BY c.pk, c.addr.city"),
      R"([{"pk":"a","city":"Leeds"},{"pk":"a","city":"York"},{"pk":"b","city":"Leeds"},{"pk":"b","city":"Hull"}])");
  EXPECT_EQ(Q("SELECT TOP 1 c.pk FROM c GROUP BY c.pk"), R"([{"pk":"a"}])");
  EXPECT_EQ(Q("SELECT VALUE COUNT(1) + 1 FROM c"), "[8]");
  EXPECT_EQ(Q("SELECT VALUE ROUND(AVG(c.n)) FROM c WHERE IS_NUMBER(c.n)"), "[3]");
}

TEST(QueryEngine, Distinct) {
  EXPECT_EQ(Q("SELECT DISTINCT VALUE c.addr.city FROM c"), R"(["Leeds","York","Hull"])");
  EXPECT_EQ(Q("SELECT DISTINCT c.pk FROM c"), R"([{"pk":"a"},{"pk":"b"},{"pk":"c"}])");
  EXPECT_EQ(Q("SELECT DISTINCT VALUE t FROM c JOIN t IN c.tags ORDER BY t DESC"), R"(["y","x"])");
  EXPECT_EQ(Q("SELECT DISTINCT VALUE {a: c.pk = 'a', b: 1} FROM c"),
            R"([{"a":true,"b":1},{"a":false,"b":1}])");
  EXPECT_EQ(Q("SELECT DISTINCT TOP 2 VALUE c.pk FROM c"), R"(["a","b"])");
  Outcome all = Query("SELECT DISTINCT * FROM c");
  EXPECT_EQ(all.docs.size(), 7u);
}

TEST(QueryEngine, Subqueries) {
  EXPECT_EQ(
      Q("SELECT VALUE c.id FROM c WHERE EXISTS(SELECT VALUE t FROM t IN c.tags WHERE t = 'y')"),
      R"(["a2","c1"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c WHERE NOT EXISTS(SELECT VALUE t FROM t IN c.tags)"),
            R"(["b1","b2","c2","c3"])");
  EXPECT_EQ(Q("SELECT c.id, (SELECT VALUE COUNT(1) FROM t IN c.tags) AS n FROM c WHERE c.pk = 'a'"),
            R"([{"id":"a1","n":1},{"id":"a2","n":2}])");
  EXPECT_EQ(Q("SELECT c.id, (SELECT VALUE SUM(i.qty) FROM i IN c.items) AS qty FROM c WHERE "
              "IS_DEFINED(c.items)"),
            R"([{"id":"a1","qty":3},{"id":"a2","qty":0},{"id":"b1","qty":5}])");
  EXPECT_EQ(Q("SELECT VALUE ARRAY(SELECT VALUE i.sku FROM i IN c.items ORDER BY i.qty) FROM c "
              "WHERE c.id = 'a1'"),
            R"([["s2","s1"]])");
  EXPECT_EQ(Q("SELECT VALUE (SELECT VALUE t FROM t IN c.tags) FROM c WHERE c.id = 'a2'"),
            R"(["x"])");
  EXPECT_EQ(Q("SELECT VALUE LAST(SELECT VALUE t FROM t IN c.tags) FROM c WHERE c.id = 'a2'"),
            R"(["y"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c WHERE (SELECT VALUE MAX(i.qty) FROM i IN c.items) > 2"),
            R"(["b1"])");
  EXPECT_EQ(Q("SELECT VALUE (SELECT VALUE i.qty FROM i IN c.items WHERE i.qty > 0 ORDER BY i.qty "
              "DESC OFFSET 1 "
              "LIMIT 1) FROM c WHERE c.id = 'a1'"),
            "[1]");
  EXPECT_EQ(Q("SELECT VALUE ARRAY(SELECT DISTINCT VALUE LEFT(t, 0) FROM t IN c.tags) FROM c WHERE "
              "c.id = 'a2'"),
            R"([[""]])");
  EXPECT_EQ(Q("SELECT VALUE ARRAY(SELECT LEFT(t, 0) AS v, COUNT(1) AS n FROM t IN c.tags GROUP BY "
              "LEFT(t, 0)) "
              "FROM c WHERE c.id = 'a2'"),
            R"([[{"v":"","n":2}]])");
  // A FROM collection is a path, as in Cosmos DB: literals are not collections.
  EXPECT_NE(Q("SELECT VALUE (SELECT VALUE x FROM x IN [1, 2])")
                .find("expected a container name or alias"),
            std::string::npos);
}

TEST(QueryEngine, NoFromClause) {
  EXPECT_EQ(Q("SELECT 1 AS one, 'x' AS s"), R"([{"one":1,"s":"x"}])");
  EXPECT_EQ(Q("SELECT VALUE 1 WHERE false"), "[]");
  EXPECT_EQ(Q("SELECT VALUE GetCurrentTimestamp()"), "[1700000000000]");
}

TEST(QueryEngine, PagingYieldsTheSameRowsForEveryPageSize) {
  const std::vector<std::string> queries = {
      "SELECT * FROM c",
      "SELECT VALUE c.id FROM c WHERE c.pk != 'b'",
      "SELECT c.id, t FROM c JOIN t IN c.tags",
      "SELECT VALUE i FROM c JOIN t IN c.tags JOIN i IN c.items",
      "SELECT VALUE c.tags FROM c",
      "SELECT * FROM c ORDER BY c.n",
      "SELECT c.id FROM c ORDER BY c.pk DESC, c.name",
      "SELECT VALUE t FROM c JOIN t IN c.tags ORDER BY t",
      "SELECT VALUE c.n FROM c ORDER BY c.n DESC",
      "SELECT TOP 4 * FROM c",
      "SELECT TOP 4 VALUE c.id FROM c ORDER BY c.name",
      "SELECT VALUE c.id FROM c OFFSET 2 LIMIT 3",
      "SELECT VALUE c.id FROM c ORDER BY c.id DESC OFFSET 1 LIMIT 4",
      "SELECT VALUE c.id FROM c JOIN t IN c.tags ORDER BY c.id OFFSET 1 LIMIT 2",
      "SELECT c.pk, COUNT(1) AS n FROM c GROUP BY c.pk",
      "SELECT DISTINCT VALUE c.pk FROM c",
      "SELECT VALUE COUNT(1) FROM c",
  };
  for (const std::string& q : queries) {
    Outcome all = Query(q);
    ASSERT_TRUE(all.error.empty()) << q << ": " << all.error;
    EXPECT_EQ(all.pages, 1) << q;
    for (int64_t size : {1, 2, 3, 5}) {
      Outcome paged = Query(q, {}, size);
      ASSERT_TRUE(paged.error.empty()) << q << ": " << paged.error;
      EXPECT_EQ(Join(paged.docs), Join(all.docs)) << q << " with pages of " << size;
      size_t expected_pages =
          all.docs.empty() ? 1 : (all.docs.size() + static_cast<size_t>(size) - 1) / size;
      EXPECT_EQ(static_cast<size_t>(paged.pages), expected_pages) << q << " with pages of " << size;
    }
    // A tiny byte budget: one document per page.
    Outcome tiny = Query(q, {}, 0, 1);
    EXPECT_EQ(Join(tiny.docs), Join(all.docs)) << q << " with a 1-byte page budget";
  }
}

TEST(QueryEngine, ContinuationsWorkOnAnySourceWithTheSameData) {
  VectorRowSource region_a = Source();
  VectorRowSource region_b = Source();
  for (const std::string text :
       {"SELECT VALUE c.id FROM c", "SELECT VALUE c.id FROM c ORDER BY c.name",
        "SELECT VALUE c.pk FROM c GROUP BY c.pk", "SELECT VALUE t FROM c JOIN t IN c.tags"}) {
    auto q = PreparedQuery::Prepare({text, {}});
    ASSERT_TRUE(q.ok());
    PageRequest req;
    req.max_items = 2;
    req.scope = "coll";
    auto first = ExecutePage(*q, region_a, req);
    ASSERT_TRUE(first.ok());
    ASSERT_FALSE(first->continuation.empty()) << text;
    req.continuation = first->continuation;
    auto on_a = ExecutePage(*q, region_a, req);
    auto on_b = ExecutePage(*q, region_b, req);
    ASSERT_TRUE(on_a.ok() && on_b.ok()) << text;
    EXPECT_EQ(Join(on_a->documents), Join(on_b->documents)) << text;
    EXPECT_EQ(on_a->continuation, on_b->continuation) << text;
  }
}

TEST(QueryEngine, StreamingResumesWhenTheLastRowWasDeleted) {
  auto q = PreparedQuery::Prepare({"SELECT VALUE c.id FROM c", {}});
  ASSERT_TRUE(q.ok());
  VectorRowSource full = Source();
  PageRequest req;
  req.max_items = 2;
  auto first = ExecutePage(*q, full, req);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(Join(first->documents), R"(["a1","a2"])");
  // The continuation points at b1 (the next row); b1 is deleted before the next page.
  auto without_b1 = kDocs;
  without_b1.erase(without_b1.begin() + 2);
  VectorRowSource changed = Source(without_b1);
  req.continuation = first->continuation;
  auto second = ExecutePage(*q, changed, req);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(Join(second->documents), R"(["b2","c1"])");
}

TEST(QueryEngine, ForeignOrMalformedContinuationsAreRefused) {
  auto q1 = PreparedQuery::Prepare({"SELECT VALUE c.id FROM c", {}});
  auto q2 = PreparedQuery::Prepare({"SELECT VALUE c.id FROM c WHERE c.n > 0", {}});
  auto q3 = PreparedQuery::Prepare({"SELECT VALUE c.id FROM c ORDER BY c.id", {}});
  ASSERT_TRUE(q1.ok() && q2.ok() && q3.ok());
  VectorRowSource s = Source();
  PageRequest req;
  req.max_items = 1;
  req.scope = "one";
  auto first = ExecutePage(*q1, s, req);
  ASSERT_TRUE(first.ok());
  PageRequest next = req;
  next.continuation = first->continuation;
  EXPECT_TRUE(ExecutePage(*q1, s, next).ok());
  auto other_query = ExecutePage(*q2, s, next);
  EXPECT_EQ(other_query.status().code(), StatusCode::kBadRequest);
  EXPECT_NE(other_query.status().message().find("was not issued for this query"),
            std::string::npos);
  EXPECT_FALSE(ExecutePage(*q3, s, next).ok());
  next.scope = "two";
  EXPECT_FALSE(ExecutePage(*q1, s, next).ok());
  next.scope = "one";
  for (const std::string bad : {"garbage!", "e30=", "eyJ2IjoxfQ=="}) {
    next.continuation = bad;
    auto r = ExecutePage(*q1, s, next);
    EXPECT_EQ(r.status().code(), StatusCode::kBadRequest) << bad;
  }
}

TEST(QueryEngine, ParametersOfEveryType) {
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c WHERE c.tags = @t", {{"@t", *ParseJson(R"(["x","y"])")}}),
            R"(["a2"])");
  EXPECT_EQ(
      Q("SELECT VALUE c.id FROM c WHERE c.addr = @a", {{"@a", *ParseJson(R"({"city":"Hull"})")}}),
      R"(["b2"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c WHERE c.flag = @f", {{"@f", Value::Bool(true)}}),
            R"(["c3"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c WHERE c.n = @n", {{"@n", Value::Null()}}), R"(["c2"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c WHERE ARRAY_CONTAINS(@ids, c.id)",
              {{"@ids", *ParseJson(R"(["b1","c3"])")}}),
            R"(["b1","c3"])");
  EXPECT_EQ(Q("SELECT VALUE c.id FROM c WHERE c[@k] = 5", {{"@k", Value::String("n")}}),
            R"(["b2"])");
}

TEST(QueryEngine, ConditionsForPatch) {
  auto cond = [](const std::string& text, const std::string& doc) -> std::string {
    auto q = PreparedQuery::PrepareCondition(text);
    if (!q.ok()) return "ERROR: " + q.status().message();
    auto m = q->Matches(doc, kNowMicros);
    if (!m.ok()) return "ERROR: " + m.status().message();
    return *m ? "true" : "false";
  };
  const std::string doc = kDocs[0].second;
  EXPECT_EQ(cond("FROM c WHERE c.n = 3", doc), "true");
  EXPECT_EQ(cond("from c where c.n > 3", doc), "false");
  EXPECT_EQ(cond("FROM c WHERE c.missing = 1", doc), "false");
  EXPECT_EQ(cond("FROM c WHERE ARRAY_CONTAINS(c.tags, 'x') AND c.addr.city = 'Leeds'", doc),
            "true");
  EXPECT_EQ(cond("FROM c WHERE EXISTS(SELECT VALUE i FROM i IN c.items WHERE i.qty > 1)", doc),
            "true");
  EXPECT_EQ(cond("FROM c", doc), "true");
  EXPECT_EQ(cond("FROM c JOIN t IN c.tags WHERE t = 'z'", doc), "false");
  EXPECT_EQ(cond("SELECT * FROM c WHERE c.n = 3", doc), "true");
  EXPECT_EQ(cond("WHERE c.n = 3", doc),
            "ERROR: Syntax error at line 1, column 1 near 'WHERE': a patch condition must have the "
            "form \"FROM c "
            "WHERE <condition>\".");
  EXPECT_EQ(cond("FROM c WHERE c.n = ", doc),
            "ERROR: Syntax error at line 1, column 20 (end of the query): the query ends where an "
            "expression was "
            "expected.");
  EXPECT_EQ(cond("FROM c WHERE d.n = 1", doc),
            "ERROR: Query error at line 1, column 14: identifier 'd' could not be resolved; it is "
            "not an alias of "
            "FROM.");
}

TEST(QueryEngine, RequestBodies) {
  auto spec = ParseQuerySpec(
      R"({"query":"SELECT * FROM c WHERE c.id = @id","parameters":[{"name":"@id","value":"x"}]})");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->text, "SELECT * FROM c WHERE c.id = @id");
  ASSERT_EQ(spec->parameters.size(), 1u);
  EXPECT_EQ(spec->parameters[0].first, "@id");
  EXPECT_EQ(spec->parameters[0].second.ToJson(), "\"x\"");
  EXPECT_TRUE(ParseQuerySpec(R"({"query":"SELECT 1","parameters":null})").ok());
  EXPECT_TRUE(ParseQuerySpec(R"({"query":"SELECT 1","parameters":[]})").ok());
  EXPECT_FALSE(ParseQuerySpec(R"({"query":1})").ok());
  EXPECT_FALSE(ParseQuerySpec(R"("SELECT 1")").ok());
  EXPECT_FALSE(ParseQuerySpec(R"({"query":"SELECT 1","parameters":{}})").ok());
  EXPECT_FALSE(ParseQuerySpec(R"({"query":"SELECT 1","parameters":[{"value":1}]})").ok());
  EXPECT_FALSE(ParseQuerySpec("{not json").ok());

  EXPECT_EQ(*ParseMaxItemCount(nullptr), 100);
  std::string h = "-1";
  EXPECT_EQ(*ParseMaxItemCount(&h), 0);
  h = "25";
  EXPECT_EQ(*ParseMaxItemCount(&h), 25);
  h = "ten";
  EXPECT_FALSE(ParseMaxItemCount(&h).ok());
  EXPECT_EQ(FeedBody("rid", "Documents", {"1", "{}"}),
            R"({"_rid":"rid","Documents":[1,{}],"_count":2})");
}

TEST(QueryValue, JsonRoundTripAndProjection) {
  const std::string text =
      R"({"a":1,"b":[1,2,{"c":"\u00fc\n\"q\""}],"d":{"e":null,"f":true,"g":-1.5e-3},"h":"\ud83d\ude00"})";
  auto v = ParseJson(text);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->ToJson(),
            "{\"a\":1,\"b\":[1,2,{\"c\":\"\xC3\xBC\\n\\\"q\\\"\"}],\"d\":{\"e\":null,\"f\":true,"
            "\"g\":-0.0015},"
            "\"h\":\"\xF0\x9F\x98\x80\"}");
  PathSet need;
  need.Child("d")->Child("f")->MarkWhole();
  need.Child("b");  // a path through an array: skipped
  auto p = ParseJsonProjected(text, need);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->ToJson(), R"({"d":{"f":true}})");
  for (const char* bad :
       {"", "{", "{\"a\":}", "[1,]", "{\"a\" 1}", "tru", "\"\\x\"", "{} x", "01x", "\"a"}) {
    EXPECT_FALSE(ParseJson(bad).ok()) << bad;
  }
  EXPECT_EQ(ParseJson("1e400")->ToJson(), "");  // not finite: undefined
  EXPECT_EQ(ParseJson("123456789012")->ToJson(), "123456789012");
  EXPECT_EQ(ParseJson("-0")->ToJson(), "0");
  EXPECT_EQ(ParseJson("1e21")->ToJson(), "1e+21");
}

TEST(QueryValue, TotalOrderAcrossTypes) {
  std::vector<Value> ordered = {Value(),           Value::Null(),      Value::Bool(false),
                                Value::Bool(true), Value::Number(-1),  Value::Number(2),
                                Value::String(""), Value::String("a"), Value::String("b"),
                                *ParseJson("[]"),  *ParseJson("[1]"),  *ParseJson("{}")};
  for (size_t i = 0; i < ordered.size(); ++i) {
    for (size_t j = 0; j < ordered.size(); ++j) {
      int c = CompareTotal(ordered[i], ordered[j]);
      EXPECT_EQ(c < 0, i < j) << i << " vs " << j;
      EXPECT_EQ(c == 0, i == j) << i << " vs " << j;
    }
  }
}

}  // namespace
}  // namespace regionlab::query
