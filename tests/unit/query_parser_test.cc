// Golden tests for the grammar: each query parses to an expected S-expression
// form (DebugString), and each malformed query fails with a message that says
// what and where (line, column).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "query/compiler.h"
#include "query/lexer.h"
#include "query/parser.h"
#include "query/query.h"

namespace regionlab::query {
namespace {

std::string Parse(const std::string& text) {
  auto q = ParseQuery(text);
  if (!q.ok()) return "ERROR: " + q.status().message();
  return DebugString(**q);
}

// Parse + bind + plan; returns "ok" or the error message.
std::string Prepare(const std::string& text, Parameters params = {}) {
  auto q = PreparedQuery::Prepare({text, std::move(params)});
  return q.ok() ? "ok" : q.status().message();
}

struct Golden {
  const char* query;
  const char* tree;
};

TEST(QueryGrammar, Golden) {
  const std::vector<Golden> cases = {
      {"SELECT * FROM c", "SELECT * FROM c AS c"},
      {"select * from c", "SELECT * FROM c AS c"},
      {"SeLeCt VaLuE c.id FrOm c", "SELECT VALUE (. c id) FROM c AS c"},
      {"SELECT * FROM root r", "SELECT * FROM root AS r"},
      {"SELECT * FROM Families.children", "SELECT * FROM (. Families children) AS children"},
      {"SELECT * FROM c.a[\"b c\"] AS x", "SELECT * FROM ([] (. c a) \"b c\") AS x"},
      {"SELECT * FROM c IN c.items", "SELECT * FROM c IN (. c items)"},
      {"SELECT c.id, t FROM c JOIN t IN c.tags",
       "SELECT (. c id), t FROM c AS c JOIN t IN (. c tags)"},
      {"SELECT c.id AS i, c.n num FROM c", "SELECT (. c id) AS i, (. c n) AS num FROM c AS c"},
      {"SELECT c[\"odd key\"], c.a.b.c FROM c",
       "SELECT ([] c \"odd key\"), (. (. (. c a) b) c) FROM c AS c"},
      {"SELECT DISTINCT TOP 5 VALUE c.x FROM c", "SELECT DISTINCT TOP 5 VALUE (. c x) FROM c AS c"},
      {"SELECT TOP @n * FROM c", "SELECT TOP @n * FROM c AS c"},
      {"SELECT * FROM c WHERE c.a = 1 AND c.b = 2 OR c.c = 3",
       "SELECT * FROM c AS c WHERE (OR (AND (= (. c a) 1) (= (. c b) 2)) (= (. c c) 3))"},
      {"SELECT * FROM c WHERE c.a = 1 OR c.b = 2 AND c.c = 3",
       "SELECT * FROM c AS c WHERE (OR (= (. c a) 1) (AND (= (. c b) 2) (= (. c c) 3)))"},
      {"SELECT * FROM c WHERE NOT c.a = 1 AND c.b",
       "SELECT * FROM c AS c WHERE (AND (NOT (= (. c a) 1)) (. c b))"},
      {"SELECT * FROM c WHERE NOT NOT c.a", "SELECT * FROM c AS c WHERE (NOT (NOT (. c a)))"},
      {"SELECT VALUE 1 + 2 * 3 - 4 / 5 % 6", "SELECT VALUE (- (+ 1 (* 2 3)) (% (/ 4 5) 6))"},
      {"SELECT VALUE -c.a * 2", "SELECT VALUE (* (- (. c a)) 2)"},
      {"SELECT VALUE 1 < 2 = true", "SELECT VALUE (= (< 1 2) true)"},
      {"SELECT VALUE 1 | 2 ^ 3 & 4", "SELECT VALUE (| 1 (^ 2 (& 3 4)))"},
      {"SELECT VALUE 'a' || 'b' = 'c'", "SELECT VALUE (|| \"a\" (= \"b\" \"c\"))"},
      {"SELECT VALUE a ?? b ?? c", "SELECT VALUE (?? a (?? b c))"},
      {"SELECT VALUE a ? b : c ? d : e", "SELECT VALUE (? a b (? c d e))"},
      {"SELECT VALUE a ?? b ? c : d", "SELECT VALUE (? (?? a b) c d)"},
      {"SELECT VALUE x BETWEEN 1 AND 2 AND y", "SELECT VALUE (AND (BETWEEN x 1 2) y)"},
      {"SELECT VALUE x NOT BETWEEN 1 + 1 AND 5", "SELECT VALUE (NOT-BETWEEN x (+ 1 1) 5)"},
      {"SELECT VALUE x IN (1, 'a', y)", "SELECT VALUE (IN x 1 \"a\" y)"},
      {"SELECT VALUE x NOT IN (1)", "SELECT VALUE (NOT-IN x 1)"},
      {"SELECT VALUE x LIKE 'a%' ESCAPE '!'", "SELECT VALUE (LIKE x \"a%\" ESCAPE !)"},
      {"SELECT VALUE x NOT LIKE 'a%'", "SELECT VALUE (NOT-LIKE x \"a%\")"},
      {"SELECT VALUE [1, [2], {}]", "SELECT VALUE [1, [2], {}]"},
      {"SELECT VALUE {a: 1, \"b\": c.d}", "SELECT VALUE {a: 1, b: (. c d)}"},
      {"SELECT VALUE c.arr[0].x", "SELECT VALUE (. ([] (. c arr) 0) x)"},
      {"SELECT VALUE c[@key]", "SELECT VALUE ([] c @key)"},
      {"SELECT VALUE c.value", "SELECT VALUE (. c value)"},
      {"SELECT VALUE c.order.by", "SELECT VALUE (. (. c order) by)"},
      {"SELECT VALUE LOWER(c.name)", "SELECT VALUE (LOWER (. c name))"},
      {"SELECT VALUE GetCurrentDateTime()", "SELECT VALUE (GetCurrentDateTime)"},
      {"SELECT VALUE LEFT(c.s, 2)", "SELECT VALUE (LEFT (. c s) 2)"},
      {"SELECT VALUE COUNT(1) FROM c", "SELECT VALUE (COUNT 1) FROM c AS c"},
      {"SELECT VALUE EXISTS(SELECT VALUE t FROM t IN c.tags WHERE t = 'x')",
       "SELECT VALUE (EXISTS SELECT VALUE t FROM t IN (. c tags) WHERE (= t \"x\"))"},
      {"SELECT VALUE (SELECT VALUE MAX(t) FROM t IN c.n)",
       "SELECT VALUE (SELECT VALUE (MAX t) FROM t IN (. c n))"},
      {"SELECT VALUE ARRAY(SELECT VALUE t.x FROM t IN c.items)",
       "SELECT VALUE (ARRAY SELECT VALUE (. t x) FROM t IN (. c items))"},
      {"SELECT VALUE FIRST(SELECT VALUE 1)", "SELECT VALUE (FIRST SELECT VALUE 1)"},
      {"SELECT * FROM c JOIN (SELECT VALUE t FROM t IN c.tags) AS t",
       "SELECT * FROM c AS c JOIN (SELECT VALUE t FROM t IN (. c tags)) AS t"},
      {"SELECT c.a, COUNT(1) AS n FROM c GROUP BY c.a",
       "SELECT (. c a), (COUNT 1) AS n FROM c AS c GROUP BY (. c a)"},
      {"SELECT * FROM c ORDER BY c.a, c.b DESC, c.c ASC",
       "SELECT * FROM c AS c ORDER BY (. c a) ASC, (. c b) DESC, (. c c) ASC"},
      {"SELECT * FROM c OFFSET 10 LIMIT @l", "SELECT * FROM c AS c OFFSET 10 LIMIT @l"},
      {"SELECT VALUE 1 -- a comment\n + 2", "SELECT VALUE (+ 1 2)"},
      {"SELECT VALUE true AND false", "SELECT VALUE (AND true false)"},
      {"SELECT VALUE [undefined, null]", "SELECT VALUE [undefined, null]"},
      {"SELECT VALUE 1 = NOT true", "SELECT VALUE (= 1 (NOT true))"},
      {"SELECT VALUE c.a-1", "SELECT VALUE (- (. c a) 1)"},
      {"SELECT VALUE 2-1", "SELECT VALUE (- 2 1)"},
  };
  for (const Golden& g : cases) EXPECT_EQ(Parse(g.query), g.tree) << "query: " << g.query;
}

TEST(QueryGrammar, SyntaxErrorsSayWhatAndWhere) {
  const std::vector<Golden> cases = {
      {"SELEKT * FROM c",
       "ERROR: Syntax error at line 1, column 1 near 'SELEKT': a query must start with SELECT."},
      {"",
       "ERROR: Syntax error at line 1, column 1 (end of the query): the query is empty; it must "
       "start with SELECT."},
      {"SELECT * FORM c",
       "ERROR: Syntax error at line 1, column 10 near 'FORM': unexpected 'FORM'; expected FROM, "
       "WHERE, GROUP BY, "
       "ORDER BY, OFFSET or the end of the query."},
      {"SELECT * FROM c WHERE",
       "ERROR: Syntax error at line 1, column 22 (end of the query): the query ends where an "
       "expression was expected."},
      {"SELECT *\nFROM c\nWHERE c.a = = 1",
       "ERROR: Syntax error at line 3, column 13 near '=': expected an expression."},
      {"SELECT * FROM c WHERE c.a = 'open",
       "ERROR: Syntax error at line 1, column 29: unterminated string literal."},
      {"SELECT * FROM c WHERE c.a # 1",
       "ERROR: Syntax error at line 1, column 27: unexpected '#'."},
      {"SELECT * FROM c WHERE (c.a = 1",
       "ERROR: Syntax error at line 1, column 31 (end of the query): expected ')' to close the "
       "parenthesis."},
      {"SELECT *, c.id FROM c",
       "ERROR: Syntax error at line 1, column 9 near ',': '*' must be the only item of the SELECT "
       "list."},
      {"SELECT FROM c",
       "ERROR: Syntax error at line 1, column 8 near 'FROM': expected '*', VALUE or an expression "
       "after SELECT."},
      {"SELECT VALUE * FROM c",
       "ERROR: Syntax error at line 1, column 14 near '*': SELECT VALUE * is not valid: write "
       "SELECT * or SELECT VALUE c."},
      {"SELECT * FROM c ORDER c.a",
       "ERROR: Syntax error at line 1, column 23 near 'c': expected BY after ORDER."},
      {"SELECT * FROM c LIMIT 5",
       "ERROR: Syntax error at line 1, column 17 near 'LIMIT': LIMIT needs OFFSET before it: write "
       "OFFSET 0 LIMIT n."},
      {"SELECT * FROM c OFFSET 5",
       "ERROR: Syntax error at line 1, column 25 (end of the query): expected LIMIT after OFFSET n "
       "(OFFSET and LIMIT go together)."},
      {"SELECT TOP c.x * FROM c",
       "ERROR: Syntax error at line 1, column 12 near 'c': expected a number or a @parameter after "
       "TOP."},
      {"SELECT * FROM c WHERE c.a IN ()",
       "ERROR: Syntax error at line 1, column 31 near ')': IN needs at least one value."},
      {"SELECT * FROM c WHERE c.a LIKE 'x' ESCAPE '!!'",
       "ERROR: Syntax error at line 1, column 43 near string '!!': ESCAPE takes a string of "
       "exactly one character, such as ESCAPE '!'."},
      {"SELECT VALUE {a: 1, a: 2}",
       "ERROR: Syntax error at line 1, column 21 near 'a': the object has the property 'a' twice."},
      {"SELECT * FROM (SELECT * FROM c)",
       "ERROR: Syntax error at line 1, column 15 near '(': a subquery in FROM needs an alias: "
       "(SELECT ...) AS name."},
      {"SELECT VALUE 1e",
       "ERROR: Syntax error at line 1, column 14: a number must not run into a name ('1e')."},
      {"SELECT VALUE '\\q'",
       "ERROR: Syntax error at line 1, column 15: invalid escape sequence '\\q' in a string "
       "literal."},
      {"SELECT VALUE @",
       "ERROR: Syntax error at line 1, column 14: '@' must be followed by a parameter name such as "
       "@id."},
      {"SELECT * FROM c WHERE SELECT",
       "ERROR: Syntax error at line 1, column 23 near 'SELECT': the keyword SELECT cannot start an "
       "expression."},
      {"SELECT * FROM c JOIN",
       "ERROR: Syntax error at line 1, column 21 (end of the query): expected a container name or "
       "alias."},
      {"SELECT VALUE EXISTS(1)",
       "ERROR: Syntax error at line 1, column 21 near '1': expected a subquery (SELECT ...)."},
  };
  for (const Golden& g : cases) EXPECT_EQ(Parse(g.query), g.tree) << "query: " << g.query;
}

TEST(QueryGrammar, ColumnsCountCharactersNotBytes) {
  EXPECT_EQ(Parse("SELECT VALUE '\xC3\xBC\xC3\xBC' #"),
            "ERROR: Syntax error at line 1, column 19: unexpected '#'.");
}

TEST(QueryGrammar, DeepNestingIsAnErrorNotACrash) {
  std::string deep = "SELECT VALUE " + std::string(5000, '(') + "1" + std::string(5000, ')');
  EXPECT_NE(Parse(deep).find("nested too deeply"), std::string::npos);
  std::string nots = "SELECT VALUE ";
  for (int i = 0; i < 5000; ++i) nots += "NOT ";
  nots += "true";
  EXPECT_NE(Parse(nots).find("nested too deeply"), std::string::npos);
  std::string minus = "SELECT VALUE ";
  for (int i = 0; i < 5000; ++i) minus += "- ";
  minus += "1";
  EXPECT_NE(Parse(minus).find("nested too deeply"), std::string::npos);
}

TEST(QuerySemantics, ErrorsSayWhatAndWhere) {
  EXPECT_EQ(Prepare("SELECT * FROM c WHERE d.x = 1"),
            "Query error at line 1, column 23: identifier 'd' could not be resolved; it is not an "
            "alias of FROM.");
  EXPECT_EQ(Prepare("SELECT * FROM c WHERE c.x = @missing"),
            "Query error at line 1, column 29: the parameter @missing has no value: add {\"name\": "
            "\"@missing\", "
            "\"value\": ...} to 'parameters'.");
  EXPECT_EQ(Prepare("SELECT * FROM c JOIN t IN c.tags"),
            "Query error at line 1, column 1: 'SELECT *' is only valid with a single input set; "
            "with JOIN, select the "
            "aliases or properties you want.");
  EXPECT_EQ(Prepare("SELECT *"),
            "Query error at line 1, column 1: 'SELECT *' needs a FROM clause.");
  EXPECT_EQ(Prepare("SELECT * FROM c WHERE COUNT(1) > 1"),
            "Query error at line 1, column 23: the aggregate function COUNT cannot be used in "
            "WHERE; aggregates belong "
            "in the SELECT list.");
  EXPECT_EQ(Prepare("SELECT VALUE MAX(COUNT(1)) FROM c"),
            "Query error at line 1, column 18: the aggregate function COUNT cannot be used in "
            "SELECT inside another "
            "aggregate.");
  EXPECT_EQ(Prepare("SELECT c.id, COUNT(1) FROM c"),
            "Query error at line 1, column 8: 'c' must be inside an aggregate function or match a "
            "GROUP BY "
            "expression.");
  EXPECT_EQ(Prepare("SELECT c.a, c.b FROM c GROUP BY c.a"),
            "Query error at line 1, column 13: 'c' must be inside an aggregate function or match a "
            "GROUP BY "
            "expression.");
  EXPECT_EQ(Prepare("SELECT COUNT(1) FROM c ORDER BY c.a"),
            "Query error at line 1, column 33: ORDER BY cannot be combined with GROUP BY or "
            "aggregate functions "
            "(Cosmos DB does not support it either).");
  EXPECT_EQ(Prepare("SELECT c.a, c.a FROM c"),
            "Query error at line 1, column 13: the SELECT list has two outputs named 'a'; give one "
            "of them another "
            "name with AS.");
  EXPECT_EQ(Prepare("SELECT * FROM c JOIN c IN c.tags"),
            "Query error at line 1, column 22: the alias 'c' is defined twice in FROM.");
  EXPECT_EQ(
      Prepare("SELECT TOP -1 * FROM c"),
      "Syntax error at line 1, column 12 near '-': expected a number or a @parameter after TOP.");
  EXPECT_EQ(Prepare("SELECT TOP @n * FROM c", {{"@n", Value::String("5")}}),
            "Query error at line 1, column 12: TOP takes a non-negative integer, not \"5\".");
  EXPECT_EQ(Prepare("SELECT * FROM c OFFSET 1.5 LIMIT 2"),
            "Query error at line 1, column 24: OFFSET takes a non-negative integer, not 1.5.");
  EXPECT_EQ(Prepare("SELECT TOP 1 * FROM c OFFSET 1 LIMIT 2"),
            "Query error at line 1, column 12: TOP cannot be combined with OFFSET ... LIMIT; use "
            "one of them.");
  EXPECT_EQ(Prepare("SELECT * FROM (SELECT VALUE 1) AS x"),
            "Query error at line 1, column 15: a subquery as the first FROM source is not "
            "supported; query the "
            "container directly (FROM c) and use JOIN (SELECT ...) for per-document subqueries.");
  EXPECT_EQ(Prepare("SELECT VALUE (SELECT VALUE x FROM x IN d.tags) FROM c"),
            "Query error at line 1, column 40: identifier 'd' could not be resolved; it is not an "
            "alias of FROM.");
  EXPECT_EQ(Prepare("SELECT c.a, COUNT(1) AS n FROM c GROUP BY c.a"), "ok");
  EXPECT_EQ(Prepare("SELECT VALUE {k: c.a, n: COUNT(1)} FROM c GROUP BY c.a"), "ok");
  EXPECT_EQ(Prepare("SELECT LOWER(c.a) AS k, MAX(c.n) FROM c GROUP BY LOWER(c.a)"), "ok");
  EXPECT_EQ(Prepare("SELECT TOP @n * FROM c", {{"@n", Value::Number(5)}}), "ok");
  EXPECT_EQ(Prepare("SELECT c.id, (SELECT VALUE COUNT(1) FROM t IN c.tags) AS n FROM c"), "ok");
}

TEST(QueryPlanner, PartitionKeyEqualityIsPushedDown) {
  auto pk = [](const std::string& text, std::vector<std::string> paths,
               Parameters params = {}) -> std::string {
    auto q = PreparedQuery::Prepare({text, std::move(params)});
    if (!q.ok()) return "ERROR " + q.status().message();
    auto v = q->PartitionKeyEquality(paths);
    if (!v) return "none";
    std::string out;
    for (const Value& x : *v) out += x.ToJson() + ";";
    return out;
  };
  EXPECT_EQ(pk("SELECT * FROM c WHERE c.pk = 'a'", {"/pk"}), "\"a\";");
  EXPECT_EQ(pk("SELECT * FROM c WHERE 'a' = c.pk AND c.n > 1", {"/pk"}), "\"a\";");
  EXPECT_EQ(pk("SELECT * FROM c WHERE c.n > 1 AND (c.pk = @p AND true)", {"/pk"},
               {{"@p", Value::Number(5)}}),
            "5;");
  EXPECT_EQ(pk("SELECT * FROM c WHERE c.t.id = 'x' AND c.k = null", {"/t/id", "/k"}),
            "\"x\";null;");
  EXPECT_EQ(pk("SELECT * FROM c WHERE c[\"pk\"] = true", {"/pk"}), "true;");
  EXPECT_EQ(pk("SELECT * FROM c WHERE c.pk = 'a' OR c.n = 1", {"/pk"}), "none");
  EXPECT_EQ(pk("SELECT * FROM c WHERE c.pk != 'a'", {"/pk"}), "none");
  EXPECT_EQ(pk("SELECT * FROM c WHERE c.pk = ['a']", {"/pk"}), "none");
  EXPECT_EQ(pk("SELECT * FROM c WHERE c.t.id = 'x'", {"/t/id", "/k"}), "none");
  EXPECT_EQ(pk("SELECT * FROM c", {"/pk"}), "none");
  EXPECT_EQ(pk("SELECT * FROM x IN c.items WHERE x.pk = 'a'", {"/pk"}), "none");
  EXPECT_EQ(pk("SELECT * FROM c WHERE NOT (c.pk = 'a')", {"/pk"}), "none");
}

TEST(QueryPlanner, ModesAndProjection) {
  std::vector<PreparedQuery> keep;  // the plans below are read by reference
  auto compiled = [&](const std::string& text) -> const PreparedQuery& {
    auto q = PreparedQuery::Prepare({text, {}});
    EXPECT_TRUE(q.ok()) << q.status().message();
    keep.push_back(std::move(*q));
    return keep.back();
  };
  keep.reserve(32);
  EXPECT_EQ(compiled("SELECT * FROM c WHERE c.a = 1").compiled().mode, Mode::kStreaming);
  EXPECT_TRUE(compiled("SELECT * FROM c WHERE c.a = 1").compiled().raw_output);
  EXPECT_TRUE(compiled("SELECT VALUE c FROM c").compiled().raw_output);
  EXPECT_FALSE(compiled("SELECT VALUE c.a FROM c").compiled().raw_output);
  EXPECT_FALSE(compiled("SELECT * FROM c.a").compiled().raw_output);
  EXPECT_EQ(compiled("SELECT * FROM c ORDER BY c.a").compiled().mode, Mode::kOrdered);
  EXPECT_EQ(compiled("SELECT DISTINCT * FROM c").compiled().mode, Mode::kBuffered);
  EXPECT_FALSE(compiled("SELECT DISTINCT * FROM c").compiled().raw_output);
  EXPECT_EQ(compiled("SELECT VALUE COUNT(1) FROM c").compiled().mode, Mode::kBuffered);
  EXPECT_EQ(compiled("SELECT VALUE 1").compiled().mode, Mode::kBuffered);

  // Only the paths the query reads are parsed.
  const PathSet& need =
      compiled("SELECT * FROM c WHERE c.a.b = 1 AND c.x > 2 ORDER BY c.s").compiled().need;
  EXPECT_FALSE(need.whole);
  ASSERT_NE(need.Find("a"), nullptr);
  EXPECT_FALSE(need.Find("a")->whole);
  EXPECT_TRUE(need.Find("a")->Find("b")->whole);
  EXPECT_TRUE(need.Find("x")->whole);
  EXPECT_TRUE(need.Find("s")->whole);
  EXPECT_EQ(need.Find("id"), nullptr);
  EXPECT_TRUE(compiled("SELECT VALUE c.a FROM c WHERE IS_OBJECT(c)").compiled().need.whole);
  EXPECT_TRUE(compiled("SELECT VALUE c[c.k] FROM c").compiled().need.whole);
  const PathSet& joins =
      compiled("SELECT VALUE t FROM c JOIN t IN c.tags WHERE c.n > 1").compiled().need;
  EXPECT_TRUE(joins.Find("tags")->whole);
  EXPECT_TRUE(joins.Find("n")->whole);
  const PathSet& in = compiled("SELECT VALUE x.a FROM x IN c.items").compiled().need;
  EXPECT_TRUE(in.Find("items")->whole);
  EXPECT_EQ(in.children.size(), 1u);
}

}  // namespace
}  // namespace regionlab::query
