// The syntax tree of a Cosmos DB NoSQL query, as the parser builds it and the
// binder (compiler.cc) resolves it: names become slots, parameters become
// literals, function names become built-ins, and in aggregate queries the
// SELECT list is rewritten to read group keys and aggregate results.
//
// Internal to server/query.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "query/value.h"

namespace regionlab::query {

struct Query;
struct Expr;
struct Builtin;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind : uint8_t {
  kLiteral,        // value
  kParameter,      // name "@x"; a literal after binding
  kName,           // an identifier; a kSlot after binding
  kSlot,           // slot: a FROM alias, a GROUP BY key or an aggregate result
  kInput,          // the input document of the outermost FROM
  kProperty,       // args[0] . name
  kIndex,          // args[0] [ args[1] ]
  kUnary,          // op args[0]
  kBinary,         // args[0] op args[1]
  kAnd,            // args[0] AND args[1]
  kOr,             // args[0] OR args[1]
  kNot,            // NOT args[0]
  kBetween,        // args[0] [NOT] BETWEEN args[1] AND args[2]
  kIn,             // args[0] [NOT] IN (args[1..])
  kLike,           // args[0] [NOT] LIKE args[1] [ESCAPE name]
  kConditional,    // args[0] ? args[1] : args[2]
  kCoalesce,       // args[0] ?? args[1]
  kCall,           // name(args); fn after binding
  kAggregate,      // COUNT/SUM/AVG/MIN/MAX(args[0]); a kSlot after binding
  kArray,          // [args...]
  kObject,         // {keys[i]: args[i]}
  kSubquery,       // (SELECT ...): its first value
  kExists,         // EXISTS(SELECT ...)
  kArraySubquery,  // ARRAY(SELECT ...)
  kFirst,          // FIRST(SELECT ...)
  kLast,           // LAST(SELECT ...)
};

enum class Op : uint8_t {
  kNeg,
  kPlus,
  kBitNot,  // unary
  kMul,
  kDiv,
  kMod,
  kAdd,
  kSub,  // arithmetic
  kLt,
  kLe,
  kGt,
  kGe,
  kEq,
  kNe,  // comparison
  kBitAnd,
  kBitXor,
  kBitOr,
  kConcat,  // bitwise, string concatenation
};

enum class AggregateKind : uint8_t { kCount, kSum, kAvg, kMin, kMax };

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  int line = 0;
  int column = 0;
  Value value;           // kLiteral
  std::string name;      // kName, kParameter, kProperty, kCall, kLike (escape)
  Op op = Op::kAdd;      // kUnary, kBinary
  bool negated = false;  // NOT BETWEEN / NOT IN / NOT LIKE
  int slot = -1;         // kSlot
  AggregateKind aggregate = AggregateKind::kCount;  // kAggregate
  const Builtin* fn = nullptr;                      // kCall, after binding
  std::vector<ExprPtr> args;
  std::vector<std::string> keys;    // kObject
  std::unique_ptr<Query> subquery;  // kSubquery, kExists, kArraySubquery, kFirst, kLast
};

// One source of the FROM clause: the first one, then one per JOIN.
//   <collection> [[AS] alias]       binds alias to the collection's value
//   alias IN <collection>           binds alias to each element of it
struct FromSource {
  std::string alias;
  int slot = -1;
  bool iterate = false;
  ExprPtr collection;               // a path; rooted at kInput for the outermost source
  std::unique_ptr<Query> subquery;  // a (SELECT ...) collection: iterates its results
  int line = 0;
  int column = 0;
};

struct SelectItem {
  ExprPtr expr;
  std::string name;  // output property name
  bool explicit_name = false;
};

struct OrderItem {
  ExprPtr expr;
  bool descending = false;
};

struct AggregateSlot {
  AggregateKind kind;
  ExprPtr arg;
  int slot;
};

struct Query {
  int line = 0;
  int column = 0;
  bool distinct = false;
  bool star = false;   // SELECT *
  bool value = false;  // SELECT VALUE select[0].expr
  ExprPtr top;         // literal or parameter; number after binding
  std::vector<SelectItem> select;
  std::vector<FromSource> from;  // empty: no FROM clause
  ExprPtr where;
  std::vector<ExprPtr> group_by;
  std::vector<OrderItem> order_by;
  ExprPtr offset;  // OFFSET n LIMIT m
  ExprPtr limit;

  // Filled by the binder.
  std::optional<int64_t> top_n, offset_n, limit_n;
  bool aggregated = false;       // GROUP BY or aggregates: one output per group
  std::vector<int> group_slots;  // slot of each GROUP BY key
  std::vector<AggregateSlot> aggregates;
};

// A compact S-expression form, for tests and logs: (= (. c a) 1).
std::string DebugString(const Expr& e);
std::string DebugString(const Query& q);

}  // namespace regionlab::query
