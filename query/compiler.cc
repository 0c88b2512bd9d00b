#include "query/compiler.h"

#include <algorithm>
#include <cmath>

#include "query/functions.h"
#include "query/lexer.h"

namespace regionlab::query {
namespace {

Status SemanticError(int line, int column, const std::string& what) {
  return Status::BadRequest("Query error at " + Where(line, column) + ": " + what + ".");
}

struct Scope {
  const Scope* parent = nullptr;
  std::vector<std::pair<std::string, int>> names;

  int Lookup(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent) {
      for (auto it = s->names.rbegin(); it != s->names.rend(); ++it) {
        if (it->first == name) return it->second;
      }
    }
    return -1;
  }
};

AggregateKind AggregateKindOf(const std::string& name) {
  std::string up = name;
  for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (up == "COUNT") return AggregateKind::kCount;
  if (up == "SUM") return AggregateKind::kSum;
  if (up == "AVG") return AggregateKind::kAvg;
  if (up == "MIN") return AggregateKind::kMin;
  return AggregateKind::kMax;
}

bool StructEq(const Expr& a, const Expr& b) {
  if (a.kind != b.kind || a.op != b.op || a.name != b.name || a.negated != b.negated ||
      a.slot != b.slot || a.fn != b.fn || a.keys != b.keys || a.args.size() != b.args.size() ||
      a.aggregate != b.aggregate) {
    return false;
  }
  if (a.kind == ExprKind::kLiteral &&
      (a.value.type() != b.value.type() || !DeepEquals(a.value, b.value))) {
    return false;
  }
  if (a.subquery || b.subquery) return false;
  for (size_t i = 0; i < a.args.size(); ++i) {
    if (!StructEq(*a.args[i], *b.args[i])) return false;
  }
  return true;
}

// True if anything in `e` (subqueries included) reads one of `slots`.
bool RefersTo(const Expr& e, const std::vector<int>& slots);
bool QueryRefersTo(const Query& q, const std::vector<int>& slots) {
  auto check = [&](const ExprPtr& e) { return e && RefersTo(*e, slots); };
  for (const auto& s : q.from) {
    if (check(s.collection) || (s.subquery && QueryRefersTo(*s.subquery, slots))) return true;
  }
  if (check(q.where)) return true;
  for (const auto& i : q.select) {
    if (check(i.expr)) return true;
  }
  for (const auto& g : q.group_by) {
    if (check(g)) return true;
  }
  for (const auto& o : q.order_by) {
    if (check(o.expr)) return true;
  }
  for (const auto& a : q.aggregates) {
    if (check(a.arg)) return true;
  }
  return false;
}
bool RefersTo(const Expr& e, const std::vector<int>& slots) {
  if (e.kind == ExprKind::kSlot && std::find(slots.begin(), slots.end(), e.slot) != slots.end())
    return true;
  for (const auto& a : e.args) {
    if (RefersTo(*a, slots)) return true;
  }
  return e.subquery && QueryRefersTo(*e.subquery, slots);
}

class Binder {
 public:
  explicit Binder(const Parameters& params) : params_(params) {}
  int num_slots() const { return next_slot_; }

  Status BindQuery(Query& q, const Scope* outer, bool outermost) {
    Scope scope;
    scope.parent = outer;
    std::vector<int> own;
    for (size_t i = 0; i < q.from.size(); ++i) {
      FromSource& src = q.from[i];
      if (src.subquery) {
        if (outermost && i == 0) {
          return SemanticError(
              src.line, src.column,
              "a subquery as the first FROM source is not supported; query the container "
              "directly (FROM c) and use JOIN (SELECT ...) for per-document subqueries");
        }
        RL_RETURN_IF_ERROR(BindQuery(*src.subquery, &scope, false));
      } else if (outermost && i == 0) {
        // The container itself: its name is free (FROM c, FROM root r,
        // FROM Families.children); the path below it is literal.
        Expr* e = src.collection.get();
        while (e->kind != ExprKind::kName) e = e->args[0].get();
        e->kind = ExprKind::kInput;
      } else {
        RL_RETURN_IF_ERROR(BindExpr(src.collection, scope, nullptr, "FROM"));
      }
      for (const auto& [name, slot] : scope.names) {
        if (name == src.alias) {
          return SemanticError(src.line, src.column,
                               "the alias '" + src.alias + "' is defined twice in FROM");
        }
      }
      src.slot = next_slot_++;
      scope.names.emplace_back(src.alias, src.slot);
      own.push_back(src.slot);
    }
    if (q.star) {
      if (q.from.empty()) return SemanticError(q.line, q.column, "'SELECT *' needs a FROM clause");
      if (q.from.size() > 1) {
        return SemanticError(
            q.line, q.column,
            "'SELECT *' is only valid with a single input set; with JOIN, select the aliases "
            "or properties you want");
      }
    }
    if (q.where) RL_RETURN_IF_ERROR(BindExpr(q.where, scope, nullptr, "WHERE"));
    for (auto& g : q.group_by) {
      RL_RETURN_IF_ERROR(BindExpr(g, scope, nullptr, "GROUP BY"));
      if (g->kind == ExprKind::kLiteral) {
        return SemanticError(g->line, g->column,
                             "GROUP BY needs an expression over the input, not a constant");
      }
    }
    bool saw_aggregate = false;
    int unnamed = 0;
    for (auto& item : q.select) {
      RL_RETURN_IF_ERROR(BindExpr(item.expr, scope, &saw_aggregate, "SELECT"));
      if (q.value || item.explicit_name) continue;
      const Expr& e = *item.expr;
      if (e.kind == ExprKind::kProperty || e.kind == ExprKind::kSlot) {
        item.name = e.name;
      } else if (e.kind == ExprKind::kIndex && e.args[1]->kind == ExprKind::kLiteral &&
                 e.args[1]->value.is_string()) {
        item.name = e.args[1]->value.as_string();
      } else {
        item.name = "$" + std::to_string(++unnamed);
      }
    }
    if (!q.value) {
      for (size_t i = 0; i < q.select.size(); ++i) {
        for (size_t j = 0; j < i; ++j) {
          if (q.select[i].name == q.select[j].name) {
            const Expr& e = *q.select[i].expr;
            return SemanticError(e.line, e.column,
                                 "the SELECT list has two outputs named '" + q.select[i].name +
                                     "'; give one of them another name with AS");
          }
        }
      }
    }
    for (auto& o : q.order_by) RL_RETURN_IF_ERROR(BindExpr(o.expr, scope, nullptr, "ORDER BY"));
    RL_RETURN_IF_ERROR(ResolveCount(q.top, "TOP", &q.top_n));
    RL_RETURN_IF_ERROR(ResolveCount(q.offset, "OFFSET", &q.offset_n));
    RL_RETURN_IF_ERROR(ResolveCount(q.limit, "LIMIT", &q.limit_n));
    if (q.top && q.offset) {
      return SemanticError(q.top->line, q.top->column,
                           "TOP cannot be combined with OFFSET ... LIMIT; use one of them");
    }

    q.aggregated = saw_aggregate || !q.group_by.empty();
    if (q.aggregated) {
      if (q.star)
        return SemanticError(q.line, q.column,
                             "'SELECT *' cannot be combined with GROUP BY or aggregates");
      if (!q.order_by.empty()) {
        const Expr& e = *q.order_by[0].expr;
        return SemanticError(
            e.line, e.column,
            "ORDER BY cannot be combined with GROUP BY or aggregate functions (Cosmos DB does not "
            "support it either)");
      }
      for (size_t i = 0; i < q.group_by.size(); ++i) q.group_slots.push_back(next_slot_++);
      for (auto& item : q.select) RL_RETURN_IF_ERROR(RewriteAggregated(q, item.expr, own));
    }
    return Status::Ok();
  }

 private:
  // Binds `e` in `scope`. `saw_aggregate` is non-null where aggregates are
  // allowed (the SELECT list) and is set when one is found.
  Status BindExpr(ExprPtr& e, const Scope& scope, bool* saw_aggregate, const char* clause) {
    switch (e->kind) {
      case ExprKind::kParameter: {
        for (const auto& [name, value] : params_) {
          if (name == e->name) {
            e->kind = ExprKind::kLiteral;
            e->value = value;
            return Status::Ok();
          }
        }
        return SemanticError(e->line, e->column,
                             "the parameter " + e->name + " has no value: add {\"name\": \"" +
                                 e->name + "\", \"value\": ...} to 'parameters'");
      }
      case ExprKind::kName: {
        int slot = scope.Lookup(e->name);
        if (slot < 0) {
          return SemanticError(
              e->line, e->column,
              "identifier '" + e->name + "' could not be resolved; it is not an alias of FROM");
        }
        e->kind = ExprKind::kSlot;
        e->slot = slot;
        return Status::Ok();
      }
      case ExprKind::kCall: {
        if (IsAggregateName(e->name)) {
          if (!saw_aggregate) {
            return SemanticError(
                e->line, e->column,
                "the aggregate function " + e->name + " cannot be used in " + clause +
                    (std::string(clause) == "SELECT" ? " inside another aggregate"
                                                     : "; aggregates belong in the SELECT list"));
          }
          if (e->args.size() != 1) {
            return SemanticError(e->line, e->column,
                                 "the aggregate function " + e->name + " takes one argument");
          }
          e->kind = ExprKind::kAggregate;
          e->aggregate = AggregateKindOf(e->name);
          *saw_aggregate = true;
          return BindExpr(e->args[0], scope, nullptr, "SELECT");
        }
        if (e->name.starts_with("udf.")) {
          e->fn = nullptr;  // a user-defined function: EvalContext::udfs calls it
          break;
        }
        const Builtin* fn = FindBuiltin(e->name);
        if (!fn) {
          return SemanticError(e->line, e->column,
                               "'" + e->name + "' is not a recognized built-in function name");
        }
        int n = static_cast<int>(e->args.size());
        if (n < fn->min_args || (fn->max_args >= 0 && n > fn->max_args)) {
          std::string want = fn->min_args == fn->max_args ? std::to_string(fn->min_args)
                             : fn->max_args < 0 ? "at least " + std::to_string(fn->min_args)
                                                : std::to_string(fn->min_args) + " to " +
                                                      std::to_string(fn->max_args);
          return SemanticError(e->line, e->column,
                               "the function " + std::string(fn->name) + " takes " + want +
                                   " argument(s), not " + std::to_string(n));
        }
        e->fn = fn;
        break;
      }
      case ExprKind::kSubquery:
      case ExprKind::kExists:
      case ExprKind::kArraySubquery:
      case ExprKind::kFirst:
      case ExprKind::kLast:
        return BindQuery(*e->subquery, &scope, false);
      default:
        break;
    }
    for (auto& a : e->args) RL_RETURN_IF_ERROR(BindExpr(a, scope, saw_aggregate, clause));
    return Status::Ok();
  }

  Status ResolveCount(ExprPtr& e, const char* what, std::optional<int64_t>* out) {
    if (!e) return Status::Ok();
    if (e->kind == ExprKind::kParameter) {
      Scope none;
      RL_RETURN_IF_ERROR(BindExpr(e, none, nullptr, what));
    }
    const Value& v = e->value;
    constexpr double kMaxCount = 9007199254740992.0;  // 2^53
    if (!v.is_number() || v.as_number() < 0 || v.as_number() > kMaxCount ||
        v.as_number() != std::floor(v.as_number())) {
      return SemanticError(e->line, e->column,
                           std::string(what) + " takes a non-negative integer, not " +
                               (v.is_undefined() ? "undefined" : v.ToJson()));
    }
    *out = static_cast<int64_t>(v.as_number());
    return Status::Ok();
  }

  Status RewriteAggregated(Query& q, ExprPtr& e, const std::vector<int>& own) {
    for (size_t i = 0; i < q.group_by.size(); ++i) {
      if (StructEq(*e, *q.group_by[i])) {
        auto ref = std::make_unique<Expr>();
        ref->kind = ExprKind::kSlot;
        ref->slot = q.group_slots[i];
        ref->line = e->line;
        ref->column = e->column;
        ref->name = e->name;
        e = std::move(ref);
        return Status::Ok();
      }
    }
    if (e->kind == ExprKind::kAggregate) {
      int slot = next_slot_++;
      q.aggregates.push_back({e->aggregate, std::move(e->args[0]), slot});
      e->kind = ExprKind::kSlot;
      e->slot = slot;
      e->args.clear();
      return Status::Ok();
    }
    if (e->kind == ExprKind::kSlot && std::find(own.begin(), own.end(), e->slot) != own.end()) {
      return SemanticError(
          e->line, e->column,
          "'" + e->name + "' must be inside an aggregate function or match a GROUP BY expression");
    }
    if (e->subquery && QueryRefersTo(*e->subquery, own)) {
      return SemanticError(
          e->line, e->column,
          "a subquery in the SELECT list of a GROUP BY or aggregate query cannot refer to the "
          "FROM aliases");
    }
    for (auto& a : e->args) RL_RETURN_IF_ERROR(RewriteAggregated(q, a, own));
    return Status::Ok();
  }

  const Parameters& params_;
  int next_slot_ = 0;
};

// ---- planning ----

// The property path of `e` below the slot `slot`, when `e` is a chain of
// constant property accesses (c.a.b, c["a"]) on that slot.
bool PathOf(const Expr& e, int slot, std::vector<std::string>* path) {
  if (e.kind == ExprKind::kSlot) return e.slot == slot;
  if (e.kind == ExprKind::kProperty) {
    if (!PathOf(*e.args[0], slot, path)) return false;
    path->push_back(e.name);
    return true;
  }
  if (e.kind == ExprKind::kIndex && e.args[1]->kind == ExprKind::kLiteral &&
      e.args[1]->value.is_string()) {
    if (!PathOf(*e.args[0], slot, path)) return false;
    path->push_back(e.args[1]->value.as_string());
    return true;
  }
  return false;
}

class NeedAnalysis {
 public:
  NeedAnalysis(PathSet* need, int root_slot, std::vector<std::string> base)
      : need_(need), slot_(root_slot), base_(std::move(base)) {}

  void Mark(const std::vector<std::string>& path) {
    PathSet* node = need_;
    for (const auto& p : base_) {
      if (node->whole) return;
      node = node->Child(p);
    }
    for (const auto& p : path) {
      if (node->whole) return;
      node = node->Child(p);
    }
    node->MarkWhole();
  }

  void Walk(const Expr& e) {
    if (slot_ >= 0) {
      std::vector<std::string> path;
      if (PathOf(e, slot_, &path)) {
        Mark(path);
        return;
      }
    }
    for (const auto& a : e.args) Walk(*a);
    if (e.subquery) WalkQuery(*e.subquery, false);
  }

  void WalkQuery(const Query& q, bool skip_select) {
    for (const auto& s : q.from) {
      if (s.collection && s.collection->kind != ExprKind::kInput && !HasInput(*s.collection))
        Walk(*s.collection);
      if (s.subquery) WalkQuery(*s.subquery, false);
    }
    if (q.where) Walk(*q.where);
    if (!skip_select) {
      for (const auto& i : q.select) Walk(*i.expr);
    }
    for (const auto& g : q.group_by) Walk(*g);
    for (const auto& o : q.order_by) Walk(*o.expr);
    for (const auto& a : q.aggregates) Walk(*a.arg);
  }

  static bool HasInput(const Expr& e) {
    if (e.kind == ExprKind::kInput) return true;
    for (const auto& a : e.args) {
      if (HasInput(*a)) return true;
    }
    return false;
  }

 private:
  PathSet* need_;
  int slot_;
  std::vector<std::string> base_;
};

// The constant path of the outermost FROM collection below the document.
bool InputPath(const Expr& e, std::vector<std::string>* path) {
  if (e.kind == ExprKind::kInput) return true;
  if (!InputPath(*e.args[0], path)) return false;
  if (e.kind == ExprKind::kProperty) {
    path->push_back(e.name);
    return true;
  }
  if (e.kind == ExprKind::kIndex && e.args[1]->value.is_string()) {
    path->push_back(e.args[1]->value.as_string());
    return true;
  }
  return false;  // a numeric index: not a property path
}

}  // namespace

Result<std::unique_ptr<CompiledQuery>> Compile(std::unique_ptr<Query> query,
                                               const Parameters& params) {
  Binder binder(params);
  RL_RETURN_IF_ERROR(binder.BindQuery(*query, nullptr, true));
  auto cq = std::make_unique<CompiledQuery>();
  cq->num_slots = binder.num_slots();
  const Query& q = *query;
  if (q.aggregated || q.distinct || q.from.empty()) {
    cq->mode = Mode::kBuffered;
  } else if (!q.order_by.empty()) {
    cq->mode = Mode::kOrdered;
  } else {
    cq->mode = Mode::kStreaming;
  }
  if (!q.from.empty()) {
    const FromSource& root = q.from[0];
    cq->root_slot = root.slot;
    cq->root_is_document = !root.iterate && root.collection->kind == ExprKind::kInput;
    if (cq->mode != Mode::kBuffered && cq->root_is_document) {
      cq->raw_output = q.star || (q.value && q.select[0].expr->kind == ExprKind::kSlot &&
                                  q.select[0].expr->slot == root.slot);
    }
    std::vector<std::string> base;
    bool constant_path = InputPath(*root.collection, &base);
    if (!constant_path) {
      cq->need.MarkWhole();
    } else if (root.iterate) {
      NeedAnalysis(&cq->need, -1, {}).Mark(base);
      NeedAnalysis(&cq->need, -1, {}).WalkQuery(q, false);
    } else {
      NeedAnalysis analysis(&cq->need, root.slot, base);
      analysis.WalkQuery(q, cq->raw_output);
      if (q.star && !cq->raw_output) analysis.Mark({});  // SELECT * renders the whole source
    }
  }
  cq->query = std::move(query);
  return cq;
}

std::optional<std::vector<Value>> PartitionKeyEquality(const CompiledQuery& cq,
                                                       const std::vector<std::string>& pk_paths) {
  const Query& q = *cq.query;
  if (!cq.root_is_document || !q.where || pk_paths.empty()) return std::nullopt;
  std::vector<const Expr*> conjuncts;
  std::vector<const Expr*> stack = {q.where.get()};
  while (!stack.empty()) {
    const Expr* e = stack.back();
    stack.pop_back();
    if (e->kind == ExprKind::kAnd) {
      stack.push_back(e->args[1].get());
      stack.push_back(e->args[0].get());
    } else {
      conjuncts.push_back(e);
    }
  }
  std::vector<Value> values;
  for (const std::string& pk : pk_paths) {
    std::vector<std::string> want;
    size_t i = 1;
    while (i <= pk.size()) {
      size_t j = pk.find('/', i);
      if (j == std::string::npos) j = pk.size();
      want.push_back(pk.substr(i, j - i));
      i = j + 1;
    }
    std::optional<Value> found;
    for (const Expr* c : conjuncts) {
      if (c->kind != ExprKind::kBinary || c->op != Op::kEq) continue;
      for (int side = 0; side < 2 && !found; ++side) {
        const Expr& path_side = *c->args[side];
        const Expr& value_side = *c->args[1 - side];
        std::vector<std::string> path;
        if (value_side.kind != ExprKind::kLiteral || !PathOf(path_side, cq.root_slot, &path) ||
            path != want) {
          continue;
        }
        const Value& v = value_side.value;
        if (v.is_string() || v.is_number() || v.is_bool() || v.is_null()) found = v;
      }
      if (found) break;
    }
    if (!found) return std::nullopt;
    values.push_back(*found);
  }
  return values;
}

}  // namespace regionlab::query
