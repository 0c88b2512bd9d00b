// The evaluator: Cosmos DB semantics for expressions over Values, the
// FROM/JOIN expansion of rows, projection, and the in-memory pipeline
// (aggregation, ordering, DISTINCT, OFFSET/LIMIT/TOP) used by subqueries and
// by buffered top-level queries.
//
// One Evaluator serves one execution on one thread. It holds the frame of
// slots (one per FROM alias, GROUP BY key and aggregate in the whole query
// tree) and the current input document.
//
// Internal to server/query.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "query/ast.h"
#include "query/compiler.h"
#include "query/functions.h"
#include "query/value.h"

namespace regionlab::query {

// A non-owning reference to a callable (cheaper than std::function; it must
// not outlive the callable).
template <typename Sig>
class FunctionRef;
template <typename R, typename... A>
class FunctionRef<R(A...)> {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(F&& f)  // NOLINT: implicit by design
      : obj_(const_cast<void*>(static_cast<const void*>(&f))), call_([](void* o, A... a) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(o))(a...);
        }) {}
  R operator()(A... a) const { return call_(obj_, a...); }

 private:
  void* obj_;
  R (*call_)(void*, A...);
};

// Evaluation order of sort keys: per key, ascending or descending.
int CompareSortKeys(const std::vector<Value>& a, const std::vector<Value>& b,
                    const std::vector<OrderItem>& order);

// A text form of a value that is equal for equal values (object properties
// sorted): the key of DISTINCT and GROUP BY.
void AppendCanonical(std::string* out, const Value& v);

class Evaluator {
 public:
  Evaluator(const CompiledQuery& cq, const EvalContext& ctx);

  std::vector<Value>& slots() { return slots_; }
  void set_input(Value v) { input_ = std::move(v); }

  Value Eval(const Expr& e);

  // Calls fn for every row of q (FROM/JOIN expansion) that passes WHERE,
  // with the row's aliases in their slots. fn returns false to stop; so does
  // ForEachRow then.
  bool ForEachRow(const Query& q, FunctionRef<bool()> fn);

  // The SELECT output of the current row (undefined for SELECT VALUE of an
  // undefined expression).
  Value Project(const Query& q);

  // Runs q completely (a subquery, or a buffered top-level query over its
  // FROM-less single row) and returns at most `limit` outputs.
  std::vector<Value> RunQuery(const Query& q, size_t limit);

  const EvalContext& context() const { return ctx_; }

 private:
  const Value* Ref(const Expr& e);
  const Value& EvalRef(const Expr& e, Value& tmp) {
    if (const Value* r = Ref(e)) return *r;
    tmp = Eval(e);
    return tmp;
  }
  Value EvalBinary(const Expr& e);
  Value EvalCall(const Expr& e);
  bool Expand(const Query& q, size_t i, FunctionRef<bool()>& fn);

  EvalContext ctx_;
  std::vector<Value> slots_;
  Value input_;
};

// Collects the rows of one query and turns them into its outputs: groups and
// aggregates, ORDER BY, DISTINCT, OFFSET/LIMIT and TOP.
class Accumulator {
 public:
  // `limit`: the caller needs at most this many outputs.
  Accumulator(Evaluator& ev, const Query& q, size_t limit);

  // Takes the evaluator's current row. False when no further row can change
  // the result (a plain query that has enough outputs).
  bool AddRow();
  std::vector<Value> Finish();

 private:
  struct AggregateState {
    int64_t count = 0;
    double sum = 0;
    bool invalid = false;
    bool has = false;
    Value best;
  };
  struct Group {
    std::vector<Value> keys;
    std::vector<AggregateState> aggregates;
  };
  struct Row {
    std::vector<Value> keys;
    Value out;
  };

  Evaluator& ev_;
  const Query& q_;
  size_t limit_;
  size_t enough_;  // plain queries: rows after which nothing changes
  std::vector<Group> groups_;
  std::unordered_map<std::string, size_t> group_index_;
  std::vector<Row> rows_;
};

}  // namespace regionlab::query
