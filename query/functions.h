// Built-in scalar functions of the Cosmos DB NoSQL dialect.
//
// Every function is total: an argument of the wrong type yields undefined
// (which a WHERE clause treats as "not true"), never an error. Names are
// case-insensitive. String positions and lengths count Unicode code points.
//
// Internal to query/ (families in functions_*.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "query/value.h"

namespace regionlab::query {

// What a function may read besides its arguments. `now_micros` is fixed for
// one query execution (every row sees the same "now"), taken from the
// region's clock by the caller.
class WorkBudget;  // query/budget.h

// Calls user-defined functions (udf.NAME(...) in a query) for the engine.
// Implemented outside the query module (the server runs them in the
// JavaScript sandbox). Used by one thread at a time.
class UdfCaller {
 public:
  virtual ~UdfCaller() = default;
  // The value of udf.`name`(args). On failure (no such function, it threw,
  // its budget ran out) returns undefined and records the error: status()
  // then stays non-OK and the engine ends the page with it.
  virtual Value Call(const std::string& name, const Value* args, int n) = 0;
  virtual const Status& status() const = 0;
};

struct EvalContext {
  int64_t now_micros = 0;
  // Spent once per FROM/JOIN tuple; null: unbounded (subquery-free helpers).
  WorkBudget* budget = nullptr;
  // Null: a query that calls a UDF fails with 400.
  UdfCaller* udfs = nullptr;
};

struct Builtin {
  const char* name;  // canonical spelling, as in the Cosmos DB documentation
  int min_args;
  int max_args;  // -1: no limit
  Value (*fn)(const Value* args, int n, const EvalContext& ctx);
};

// The built-in called `name` (any case), or nullptr.
const Builtin* FindBuiltin(std::string_view name);

// True for COUNT, SUM, AVG, MIN and MAX (any case).
bool IsAggregateName(std::string_view name);

// Date helpers shared with the tests: "YYYY-MM-DDThh:mm:ss.fffffffZ" <->
// ticks (100 ns) since the Unix epoch.
bool ParseDateTime(std::string_view text, int64_t* ticks);
std::string FormatDateTime(int64_t ticks);

// LIKE matching with % and _ wildcards, [abc] / [a-f] / [^...] classes and an
// optional escape character (0: none).
bool LikeMatch(std::string_view text, std::string_view pattern, uint32_t escape);

}  // namespace regionlab::query
