// Golden tests for the operators and built-in functions of the query engine:
// each case evaluates `SELECT VALUE <expr>` (no FROM: one row) and compares
// the JSON of the result, or "undefined" when the query yields nothing.
// Every function has its undefined and wrong-type cases.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "query/functions.h"
#include "query/query.h"

namespace regionlab::query {
namespace {

// 2023-11-14T22:13:20Z
constexpr int64_t kNowMicros = 1'700'000'000'000'000;

std::string Eval(const std::string& expr) {
  auto prepared = PreparedQuery::Prepare({"SELECT VALUE " + expr, {}});
  if (!prepared.ok()) return "ERROR: " + prepared.status().message();
  VectorRowSource none;
  PageRequest req;
  req.max_items = 0;
  req.now_micros = kNowMicros;
  auto page = ExecutePage(*prepared, none, req);
  if (!page.ok()) return "ERROR: " + page.status().message();
  if (page->documents.empty()) return "undefined";
  EXPECT_EQ(page->documents.size(), 1u) << expr;
  return page->documents[0];
}

struct Case {
  const char* expr;
  const char* want;
};

void RunCases(const std::vector<Case>& cases) {
  for (const Case& c : cases) EXPECT_EQ(Eval(c.expr), c.want) << "expression: " << c.expr;
}

TEST(QueryOperators, Literals) {
  RunCases({
      {"1", "1"},
      {"1.5", "1.5"},
      {"-2", "-2"},
      {"1e3", "1000"},
      {".5", "0.5"},
      {"0x1F", "31"},
      {"'it''s'",
       "ERROR: Syntax error at line 1, column 18 near string 's': unexpected string 's'; expected "
       "FROM, WHERE, GROUP "
       "BY, ORDER BY, OFFSET or the end of the query."},
      {"'a\\'b'", "\"a'b\""},
      {"\"tab\\there\"", "\"tab\\there\""},
      {"'\\u00fc'", "\"\xC3\xBC\""},
      {"true", "true"},
      {"FALSE", "false"},
      {"null", "null"},
      {"undefined", "undefined"},
      {"[1, 'a', null]", "[1,\"a\",null]"},
      {"[1, undefined, 2]", "[1,2]"},
      {"{a: 1, 'b c': [true]}", "{\"a\":1,\"b c\":[true]}"},
      {"{\"x\": undefined, \"y\": 2}", "{\"y\":2}"},
      {"{}", "{}"},
      {"[]", "[]"},
  });
}

TEST(QueryOperators, Arithmetic) {
  RunCases({
      {"1 + 2 * 3", "7"},
      {"(1 + 2) * 3", "9"},
      {"7 / 2", "3.5"},
      {"7 % 3", "1"},
      {"-7 % 3", "-1"},
      {"1 / 0", "undefined"},
      {"0 / 0", "undefined"},
      {"1 + '1'", "undefined"},
      {"1 + null", "undefined"},
      {"1 + undefined", "undefined"},
      {"-'a'", "undefined"},
      {"+3", "3"},
      {"- (2 - 5)", "3"},
      {"6 & 3", "2"},
      {"6 | 3", "7"},
      {"6 ^ 3", "5"},
      {"~5", "-6"},
      {"1.5 & 1", "undefined"},
      {"0.1 + 0.2", "0.30000000000000004"},
      {"1e300 * 1e300", "undefined"},
  });
}

TEST(QueryOperators, ComparisonAcrossTypesIsUndefined) {
  RunCases({
      {"1 = 1", "true"},
      {"1 = 1.0", "true"},
      {"1 != 2", "true"},
      {"1 <> 2", "true"},
      {"'a' < 'b'", "true"},
      {"'B' < 'a'", "true"},
      {"'a' <= 'a'", "true"},
      {"false < true", "true"},
      {"null = null", "true"},
      {"null <= null", "true"},
      {"1 = '1'", "undefined"},
      {"1 != '1'", "undefined"},
      {"1 < 'a'", "undefined"},
      {"null = false", "undefined"},
      {"undefined = undefined", "undefined"},
      {"[1, 2] = [1, 2]", "true"},
      {"[1, 2] = [2, 1]", "false"},
      {"{a: 1, b: 2} = {b: 2, a: 1}", "true"},
      {"{a: 1} = {a: 1, b: 2}", "false"},
      {"[1] < [2]", "undefined"},
      {"{a: 1} < {a: 2}", "undefined"},
      {"[1] = {a: 1}", "undefined"},
  });
}

TEST(QueryOperators, ThreeValuedLogic) {
  RunCases({
      {"true AND true", "true"},
      {"true AND false", "false"},
      {"false AND undefined", "false"},
      {"undefined AND false", "false"},
      {"true AND undefined", "undefined"},
      {"true AND 1", "undefined"},
      {"true OR undefined", "true"},
      {"undefined OR true", "true"},
      {"false OR undefined", "undefined"},
      {"false OR false", "false"},
      {"NOT true", "false"},
      {"NOT undefined", "undefined"},
      {"NOT 1", "undefined"},
      {"NOT 1 = 2", "true"},
      {"NOT (1 = '1')", "undefined"},
      {"true AND NOT false", "true"},
      {"1 = 1 AND 2 = 2 OR 1 = 2", "true"},
      {"false AND false OR true", "true"},
  });
}

TEST(QueryOperators, InBetweenLike) {
  RunCases({
      {"2 IN (1, 2, 3)", "true"},
      {"4 IN (1, 2, 3)", "false"},
      {"4 NOT IN (1, 2, 3)", "true"},
      {"'a' IN ('a', 1)", "true"},
      {"'b' IN ('a', 1)", "undefined"},
      {"'b' NOT IN ('a', 1)", "undefined"},
      {"undefined IN (1)", "undefined"},
      {"[1] IN ([1], [2])", "true"},
      {"5 BETWEEN 1 AND 10", "true"},
      {"5 BETWEEN 6 AND 10", "false"},
      {"5 NOT BETWEEN 6 AND 10", "true"},
      {"'m' BETWEEN 'a' AND 'z'", "true"},
      {"5 BETWEEN 'a' AND 10", "undefined"},
      {"5 BETWEEN 1 AND 10 AND false", "false"},
      {"'abc' LIKE 'a%'", "true"},
      {"'abc' LIKE '%c'", "true"},
      {"'abc' LIKE 'a_c'", "true"},
      {"'abc' LIKE 'a_'", "false"},
      {"'abc' LIKE '%'", "true"},
      {"'' LIKE '%'", "true"},
      {"'abc' LIKE '[a-b]bc'", "true"},
      {"'cbc' LIKE '[a-b]bc'", "false"},
      {"'cbc' LIKE '[^a-b]bc'", "true"},
      {"'a%c' LIKE 'a!%c' ESCAPE '!'", "true"},
      {"'abc' LIKE 'a!%c' ESCAPE '!'", "false"},
      {"'abc' NOT LIKE 'x%'", "true"},
      {"'ABC' LIKE 'abc'", "false"},
      {"'a\xC3\xBC' LIKE 'a_'", "true"},
      {"1 LIKE '1'", "undefined"},
      {"'aXbXc' LIKE '%b%c'", "true"},
      {"'mississippi' LIKE '%issip%'", "true"},
  });
}

TEST(QueryOperators, ConditionalCoalesceConcat) {
  RunCases({
      {"1 = 1 ? 'y' : 'n'", "\"y\""},
      {"1 = 2 ? 'y' : 'n'", "\"n\""},
      {"undefined ? 'y' : 'n'", "\"n\""},
      {"1 ? 'y' : 'n'", "\"n\""},
      {"true ? false ? 1 : 2 : 3", "2"},
      {"undefined ?? 5", "5"},
      {"null ?? 5", "null"},
      {"1 ?? 5", "1"},
      {"undefined ?? undefined ?? 3", "3"},
      {"'a' || 'b'", "\"ab\""},
      {"'a' || 1", "undefined"},
      {"'a' || 'b' || 'c'", "\"abc\""},
      {"'x' || 'y' = 'xy'", "undefined"},
      {"('x' || 'y') = 'xy'", "true"},
  });
}

TEST(QueryFunctions, TypeChecks) {
  RunCases({
      {"IS_DEFINED(1)", "true"},       {"IS_DEFINED(undefined)", "false"},
      {"IS_DEFINED({}.a)", "false"},   {"IS_NULL(null)", "true"},
      {"IS_NULL(undefined)", "false"}, {"IS_NULL(0)", "false"},
      {"IS_NUMBER(1.5)", "true"},      {"IS_NUMBER('1')", "false"},
      {"IS_STRING('')", "true"},       {"IS_STRING(undefined)", "false"},
      {"IS_BOOL(false)", "true"},      {"IS_BOOL(0)", "false"},
      {"IS_ARRAY([])", "true"},        {"IS_ARRAY({})", "false"},
      {"IS_OBJECT({})", "true"},       {"IS_OBJECT(null)", "false"},
      {"IS_PRIMITIVE(null)", "true"},  {"IS_PRIMITIVE([])", "false"},
      {"IS_INTEGER(3)", "true"},       {"IS_INTEGER(3.5)", "false"},
      {"IS_FINITE_NUMBER(1)", "true"}, {"is_defined(1)", "true"},
  });
}

TEST(QueryFunctions, Strings) {
  RunCases({
      {"CONTAINS('hello', 'ell')", "true"},
      {"CONTAINS('hello', 'ELL')", "false"},
      {"CONTAINS('hello', 'ELL', true)", "true"},
      {"CONTAINS('hello', 1)", "undefined"},
      {"CONTAINS(undefined, 'a')", "undefined"},
      {"CONTAINS('a', 'a', 'yes')", "undefined"},
      {"STARTSWITH('hello', 'he')", "true"},
      {"STARTSWITH('hello', 'HE', true)", "true"},
      {"STARTSWITH('he', 'hello')", "false"},
      {"STARTSWITH(1, 'a')", "undefined"},
      {"ENDSWITH('hello', 'lo')", "true"},
      {"ENDSWITH('hello', 'LO', true)", "true"},
      {"ENDSWITH('hello', 'x')", "false"},
      {"ENDSWITH(null, 'x')", "undefined"},
      {"StringEquals('a', 'A')", "false"},
      {"StringEquals('a', 'A', true)", "true"},
      {"LOWER('AbC')", "\"abc\""},
      {"LOWER(1)", "undefined"},
      {"UPPER('AbC')", "\"ABC\""},
      {"UPPER(undefined)", "undefined"},
      {"LENGTH('abc')", "3"},
      {"LENGTH('\xC3\xBC\xC3\xBC')", "2"},
      {"LENGTH('')", "0"},
      {"LENGTH(123)", "undefined"},
      {"SUBSTRING('hello', 1, 3)", "\"ell\""},
      {"SUBSTRING('hello', 3, 100)", "\"lo\""},
      {"SUBSTRING('hello', 10, 2)", "\"\""},
      {"SUBSTRING('hello', -1, 2)", "\"he\""},
      {"SUBSTRING('h\xC3\xBCllo', 1, 2)", "\"\xC3\xBCl\""},
      {"SUBSTRING('hello', '1', 2)", "undefined"},
      {"CONCAT('a', 'b', 'c')", "\"abc\""},
      {"CONCAT('a', 1)", "undefined"},
      {"INDEX_OF('hello', 'l')", "2"},
      {"INDEX_OF('hello', 'z')", "-1"},
      {"INDEX_OF('hello', 'l', 3)", "3"},
      {"INDEX_OF('h\xC3\xBCllo', 'l')", "2"},
      {"INDEX_OF('hello', 1)", "undefined"},
      {"REPLACE('a-b-c', '-', '+')", "\"a+b+c\""},
      {"REPLACE('abc', '', 'x')", "\"abc\""},
      {"REPLACE('abc', 'b', 1)", "undefined"},
      {"TRIM('  a b  ')", "\"a b\""},
      {"LTRIM('  a  ')", "\"a  \""},
      {"RTRIM('  a  ')", "\"  a\""},
      {"TRIM(1)", "undefined"},
      {"LEFT('hello', 2)", "\"he\""},
      {"LEFT('hello', 10)", "\"hello\""},
      {"LEFT('hello', -1)", "\"\""},
      {"RIGHT('hello', 2)", "\"lo\""},
      {"RIGHT('hello', 10)", "\"hello\""},
      {"RIGHT(1, 1)", "undefined"},
      {"REVERSE('abc')", "\"cba\""},
      {"REPLICATE('ab', 3)", "\"ababab\""},
      {"REPLICATE('ab', -1)", "undefined"},
      {"ToString(1.5)", "\"1.5\""},
      {"ToString(2)", "\"2\""},
      {"ToString(true)", "\"true\""},
      {"ToString(null)", "\"null\""},
      {"ToString('s')", "\"s\""},
      {"ToString([1, {a: 'x'}])", "\"[1,{\\\"a\\\":\\\"x\\\"}]\""},
      {"ToString(undefined)", "undefined"},
      {"StringToNumber('1.5')", "1.5"},
      {"StringToNumber(' 42 ')", "42"},
      {"StringToNumber('abc')", "undefined"},
      {"StringToNumber('\"1\"')", "undefined"},
      {"StringToNumber(1)", "undefined"},
      {"StringToBoolean('true')", "true"},
      {"StringToBoolean('TRUE')", "undefined"},
      {"StringToNull('null')", "null"},
      {"StringToArray('[1, \"a\"]')", "[1,\"a\"]"},
      {"StringToArray('{}')", "undefined"},
      {"StringToObject('{\"a\": [1]}')", "{\"a\":[1]}"},
      {"StringToObject('[1]')", "undefined"},
  });
}

TEST(QueryFunctions, Arrays) {
  RunCases({
      {"ARRAY_CONTAINS([1, 2, 3], 2)", "true"},
      {"ARRAY_CONTAINS([1, 2, 3], '2')", "false"},
      {"ARRAY_CONTAINS([{a: 1, b: 2}], {a: 1})", "false"},
      {"ARRAY_CONTAINS([{a: 1, b: 2}], {a: 1}, true)", "true"},
      {"ARRAY_CONTAINS([{a: 1, b: 2}], {a: 2}, true)", "false"},
      {"ARRAY_CONTAINS([[1]], [1])", "true"},
      {"ARRAY_CONTAINS('abc', 'a')", "undefined"},
      {"ARRAY_CONTAINS(undefined, 1)", "undefined"},
      {"ARRAY_CONTAINS([1], undefined)", "false"},
      {"ARRAY_CONTAINS_ANY([1, 2], 5, 2)", "true"},
      {"ARRAY_CONTAINS_ANY([1, 2], 5)", "false"},
      {"ARRAY_CONTAINS_ALL([1, 2, 3], 1, 3)", "true"},
      {"ARRAY_CONTAINS_ALL([1, 2, 3], 1, 4)", "false"},
      {"ARRAY_LENGTH([1, 2])", "2"},
      {"ARRAY_LENGTH([])", "0"},
      {"ARRAY_LENGTH('ab')", "undefined"},
      {"ARRAY_SLICE([1, 2, 3, 4], 1)", "[2,3,4]"},
      {"ARRAY_SLICE([1, 2, 3, 4], 1, 2)", "[2,3]"},
      {"ARRAY_SLICE([1, 2, 3, 4], -2)", "[3,4]"},
      {"ARRAY_SLICE([1, 2, 3, 4], -2, 1)", "[3]"},
      {"ARRAY_SLICE([1, 2, 3, 4], 0, 12)", "[1,2,3,4]"},
      {"ARRAY_SLICE([1, 2, 3, 4], 10)", "[]"},
      {"ARRAY_SLICE([1, 2, 3, 4], -10, 2)", "[1,2]"},
      {"ARRAY_SLICE([1, 2], 0, -1)", "[]"},
      {"ARRAY_SLICE('ab', 0)", "undefined"},
      {"ARRAY_CONCAT([1], [2, 3], [])", "[1,2,3]"},
      {"ARRAY_CONCAT([1], 2)", "undefined"},
      {"SetIntersect([1, 2, 3], [2, 3, 4])", "[2,3]"},
      {"SetUnion([1, 2], [2, 3])", "[1,2,3]"},
  });
}

TEST(QueryFunctions, Math) {
  RunCases({
      {"ABS(-2.5)", "2.5"},
      {"ABS('x')", "undefined"},
      {"CEILING(1.2)", "2"},
      {"CEILING(-1.2)", "-1"},
      {"FLOOR(1.8)", "1"},
      {"FLOOR(-1.2)", "-2"},
      {"ROUND(2.5)", "3"},
      {"ROUND(-2.5)", "-3"},
      {"ROUND(2.4)", "2"},
      {"TRUNC(2.7)", "2"},
      {"TRUNC(-2.7)", "-2"},
      {"POWER(2, 10)", "1024"},
      {"POWER(2, -1)", "0.5"},
      {"POWER('2', 2)", "undefined"},
      {"SQRT(16)", "4"},
      {"SQRT(-1)", "undefined"},
      {"SQRT(null)", "undefined"},
      {"SIGN(-3)", "-1"},
      {"SIGN(0)", "0"},
      {"SQUARE(3)", "9"},
      {"LOG10(1000)", "3"},
      {"LOG(8, 2)", "3"},
      {"EXP(0)", "1"},
      {"PI() > 3.14", "true"},
      {"ATN2(1, 0)", "0"},
      {"NumberBin(7, 5)", "5"},
  });
}

TEST(QueryFunctions, DatesUseTheRegionClock) {
  RunCases({
      {"GetCurrentDateTime()", "\"2023-11-14T22:13:20.0000000Z\""},
      {"GetCurrentTimestamp()", "1700000000000"},
      {"GetCurrentTicks()", "17000000000000000"},
      {"DateTimeAdd('dd', 1, '2020-01-31T10:00:00.0000000Z')", "\"2020-02-01T10:00:00.0000000Z\""},
      {"DateTimeAdd('mm', 1, '2020-01-31T10:00:00.0000000Z')", "\"2020-02-29T10:00:00.0000000Z\""},
      {"DateTimeAdd('yyyy', -1, '2020-02-29T00:00:00Z')", "\"2019-02-28T00:00:00.0000000Z\""},
      {"DateTimeAdd('hh', 25, '2020-01-01')", "\"2020-01-02T01:00:00.0000000Z\""},
      {"DateTimeAdd('minute', -1, '2020-01-01T00:00:00Z')", "\"2019-12-31T23:59:00.0000000Z\""},
      {"DateTimeAdd('ss', 30, '2020-01-01T00:00:45.5Z')", "\"2020-01-01T00:01:15.5000000Z\""},
      {"DateTimeAdd('ms', 1, '2020-01-01T00:00:00Z')", "\"2020-01-01T00:00:00.0010000Z\""},
      {"DateTimeAdd('mcs', 1, '2020-01-01T00:00:00Z')", "\"2020-01-01T00:00:00.0000010Z\""},
      {"DateTimeAdd('ns', 100, '2020-01-01T00:00:00Z')", "\"2020-01-01T00:00:00.0000001Z\""},
      {"DateTimeAdd('fortnight', 1, '2020-01-01')", "undefined"},
      {"DateTimeAdd('dd', 1, 'not a date')", "undefined"},
      {"DateTimeAdd('dd', '1', '2020-01-01')", "undefined"},
      {"DateTimeAdd('dd', 1, '2020-02-30')", "undefined"},
      {"DateTimeAdd('yyyy', 1, '9999-06-01')", "undefined"},
      {"DateTimeDiff('yyyy', '2019-12-31', '2020-01-01')", "1"},
      {"DateTimeDiff('mm', '2020-01-31', '2020-03-01')", "2"},
      {"DateTimeDiff('dd', '2020-01-01T23:00:00Z', '2020-01-02T01:00:00Z')", "1"},
      {"DateTimeDiff('hh', '2020-01-01T10:59:00Z', '2020-01-01T11:01:00Z')", "1"},
      {"DateTimeDiff('dd', '2020-01-05', '2020-01-01')", "-4"},
      {"DateTimeDiff('ss', '2020-01-01T00:00:00Z', '2020-01-01T00:01:00Z')", "60"},
      {"DateTimeDiff('ms', '2020-01-01T00:00:00Z', '2020-01-01T00:00:01Z')", "1000"},
      {"DateTimeDiff('ns', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00.0000001Z')", "100"},
      {"DateTimeDiff('dd', 1, '2020-01-01')", "undefined"},
      {"DateTimeDiff('dd', GetCurrentDateTime(), DateTimeAdd('dd', 3, GetCurrentDateTime()))", "3"},
      {"DateTimePart('yyyy', '2021-03-04T05:06:07.1234567Z')", "2021"},
      {"DateTimePart('mm', '2021-03-04T05:06:07.1234567Z')", "3"},
      {"DateTimePart('dd', '2021-03-04T05:06:07.1234567Z')", "4"},
      {"DateTimePart('hh', '2021-03-04T05:06:07.1234567Z')", "5"},
      {"DateTimePart('mi', '2021-03-04T05:06:07.1234567Z')", "6"},
      {"DateTimePart('ss', '2021-03-04T05:06:07.1234567Z')", "7"},
      {"DateTimePart('ms', '2021-03-04T05:06:07.1234567Z')", "123"},
      {"DateTimePart('ns', '2021-03-04T05:06:07.1234567Z')", "123456700"},
      {"DateTimeToTimestamp('1970-01-01T00:00:01Z')", "1000"},
      {"DateTimeToTicks('1970-01-01T00:00:01Z')", "10000000"},
      {"TimestampToDateTime(1700000000000)", "\"2023-11-14T22:13:20.0000000Z\""},
      {"TimestampToDateTime('x')", "undefined"},
      {"TicksToDateTime(10000000)", "\"1970-01-01T00:00:01.0000000Z\""},
      {"DateTimeFromParts(2020, 2, 29)", "\"2020-02-29T00:00:00.0000000Z\""},
      {"DateTimeFromParts(2021, 2, 29)", "undefined"},
      {"DateTimeFromParts(2020, 1, 2, 3, 4, 5, 6)", "\"2020-01-02T03:04:05.0000006Z\""},
  });
}

TEST(QueryFunctions, DateTimeParseAndFormatRoundTrip) {
  int64_t ticks = 0;
  ASSERT_TRUE(ParseDateTime("1969-12-31T23:59:59.9999999Z", &ticks));
  EXPECT_EQ(ticks, -1);
  EXPECT_EQ(FormatDateTime(ticks), "1969-12-31T23:59:59.9999999Z");
  ASSERT_TRUE(ParseDateTime("0001-01-01", &ticks));
  EXPECT_EQ(FormatDateTime(ticks), "0001-01-01T00:00:00.0000000Z");
  EXPECT_FALSE(ParseDateTime("2020-13-01", &ticks));
  EXPECT_FALSE(ParseDateTime("2020-01-01T24:00:00Z", &ticks));
  EXPECT_FALSE(ParseDateTime("2020-01-01T10:00:00.Z", &ticks));
  EXPECT_FALSE(ParseDateTime("2020-01-01 10:00:00", &ticks));
}

TEST(QueryFunctions, UnknownFunctionsAndArityAreErrors) {
  EXPECT_EQ(Eval("NOPE(1)"),
            "ERROR: Query error at line 1, column 14: 'NOPE' is not a recognized built-in function "
            "name.");
  EXPECT_EQ(
      Eval("LOWER('a', 'b')"),
      "ERROR: Query error at line 1, column 14: the function LOWER takes 1 argument(s), not 2.");
  EXPECT_EQ(Eval("SUBSTRING('a')"),
            "ERROR: Query error at line 1, column 14: the function SUBSTRING takes 3 argument(s), "
            "not 1.");
  EXPECT_EQ(Eval("CONCAT('a')"),
            "ERROR: Query error at line 1, column 14: the function CONCAT takes at least 2 "
            "argument(s), not 1.");
  // Without a UdfCaller (the server gives one: tests/unit/udf_test.cc).
  EXPECT_EQ(Eval("udf.f(1)"),
            "ERROR: This query calls a user-defined function (udf.NAME), which is not available here.");
  EXPECT_EQ(Eval("udf.(1)"), "ERROR: Syntax error at line 1, column 14 near 'udf': expected udf.NAME(arguments).");
}

}  // namespace
}  // namespace regionlab::query
