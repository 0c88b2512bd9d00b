#include "query/evaluator.h"

#include "query/budget.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>

namespace regionlab::query {
namespace {

const Value kUndefined;

Value Bool3(int v) {
  return v < 0 ? Value() : Value::Bool(v == 1);
}  // -1 undefined, 0 false, 1 true
int Truth(const Value& v) { return v.is_bool() ? (v.as_bool() ? 1 : 0) : -1; }

// Comparison with Cosmos semantics: undefined unless both sides have the same
// type; < <= > >= are undefined for arrays and objects.
int Compare3(Op op, const Value& a, const Value& b) {
  if (a.is_undefined() || b.is_undefined() || a.type() != b.type()) return -1;
  if (op == Op::kEq) return DeepEquals(a, b) ? 1 : 0;
  if (op == Op::kNe) return DeepEquals(a, b) ? 0 : 1;
  if (a.is_array() || a.is_object()) return -1;
  int c = CompareTotal(a, b);
  switch (op) {
    case Op::kLt:
      return c < 0;
    case Op::kLe:
      return c <= 0;
    case Op::kGt:
      return c > 0;
    case Op::kGe:
      return c >= 0;
    default:
      return -1;
  }
}

bool ToInteger(const Value& v, int64_t* out) {
  if (!v.is_number()) return false;
  double d = v.as_number();
  if (d != std::trunc(d) || std::fabs(d) > 9.0e18) return false;
  *out = static_cast<int64_t>(d);
  return true;
}

}  // namespace

void AppendCanonical(std::string* out, const Value& v) {
  switch (v.type()) {
    case Type::kUndefined:
      out->push_back('u');
      return;
    case Type::kArray: {
      out->push_back('[');
      for (const Value& e : v.as_array()) {
        AppendCanonical(out, e);
        out->push_back(',');
      }
      out->push_back(']');
      return;
    }
    case Type::kObject: {
      std::vector<const std::pair<std::string, Value>*> members;
      for (const auto& m : v.as_object()) {
        if (m.second.is_defined()) members.push_back(&m);
      }
      std::sort(members.begin(), members.end(),
                [](auto* a, auto* b) { return a->first < b->first; });
      out->push_back('{');
      for (auto* m : members) {
        AppendJsonString(out, m->first);
        out->push_back(':');
        AppendCanonical(out, m->second);
        out->push_back(',');
      }
      out->push_back('}');
      return;
    }
    default:
      v.AppendJson(out);
  }
}

int CompareSortKeys(const std::vector<Value>& a, const std::vector<Value>& b,
                    const std::vector<OrderItem>& order) {
  for (size_t i = 0; i < a.size(); ++i) {
    int c = CompareTotal(a[i], b[i]);
    if (c != 0) return order[i].descending ? -c : c;
  }
  return 0;
}

Evaluator::Evaluator(const CompiledQuery& cq, const EvalContext& ctx)
    : ctx_(ctx), slots_(static_cast<size_t>(cq.num_slots)) {}

const Value* Evaluator::Ref(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kLiteral:
      return &e.value;
    case ExprKind::kSlot:
      return &slots_[static_cast<size_t>(e.slot)];
    case ExprKind::kInput:
      return &input_;
    case ExprKind::kProperty: {
      const Value* base = Ref(*e.args[0]);
      if (!base) return nullptr;
      const Value* m = base->Find(e.name);
      return m ? m : &kUndefined;
    }
    case ExprKind::kIndex: {
      if (e.args[1]->kind != ExprKind::kLiteral) return nullptr;
      const Value* base = Ref(*e.args[0]);
      if (!base) return nullptr;
      const Value& idx = e.args[1]->value;
      if (idx.is_string()) {
        const Value* m = base->Find(idx.as_string());
        return m ? m : &kUndefined;
      }
      if (idx.is_number() && base->is_array()) {
        double d = idx.as_number();
        const Array& arr = base->as_array();
        if (d >= 0 && d == std::floor(d) && d < static_cast<double>(arr.size()))
          return &arr[static_cast<size_t>(d)];
      }
      return &kUndefined;
    }
    default:
      return nullptr;
  }
}

Value Evaluator::Eval(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kLiteral:
      return e.value;
    case ExprKind::kSlot:
      return slots_[static_cast<size_t>(e.slot)];
    case ExprKind::kInput:
      return input_;
    case ExprKind::kProperty: {
      Value tmp;
      return EvalRef(*e.args[0], tmp).Member(e.name);
    }
    case ExprKind::kIndex: {
      Value tb, ti;
      const Value& base = EvalRef(*e.args[0], tb);
      const Value& idx = EvalRef(*e.args[1], ti);
      if (idx.is_string()) return base.Member(idx.as_string());
      if (idx.is_number()) return base.Element(idx.as_number());
      return Value();
    }
    case ExprKind::kUnary: {
      Value tmp;
      const Value& v = EvalRef(*e.args[0], tmp);
      if (!v.is_number()) return Value();
      if (e.op == Op::kNeg) return Value::Number(-v.as_number());
      if (e.op == Op::kPlus) return v;
      int64_t i;
      if (!ToInteger(v, &i)) return Value();
      return Value::Number(static_cast<double>(~i));
    }
    case ExprKind::kNot: {
      Value tmp;
      int t = Truth(EvalRef(*e.args[0], tmp));
      return t < 0 ? Value() : Value::Bool(t == 0);
    }
    case ExprKind::kAnd: {
      Value tmp;
      int l = Truth(EvalRef(*e.args[0], tmp));
      if (l == 0) return Value::Bool(false);
      int r = Truth(EvalRef(*e.args[1], tmp));
      if (r == 0) return Value::Bool(false);
      return (l == 1 && r == 1) ? Value::Bool(true) : Value();
    }
    case ExprKind::kOr: {
      Value tmp;
      int l = Truth(EvalRef(*e.args[0], tmp));
      if (l == 1) return Value::Bool(true);
      int r = Truth(EvalRef(*e.args[1], tmp));
      if (r == 1) return Value::Bool(true);
      return (l == 0 && r == 0) ? Value::Bool(false) : Value();
    }
    case ExprKind::kBinary:
      return EvalBinary(e);
    case ExprKind::kBetween: {
      Value tx, tl, th;
      const Value& x = EvalRef(*e.args[0], tx);
      int lo = Compare3(Op::kGe, x, EvalRef(*e.args[1], tl));
      int hi = Compare3(Op::kLe, x, EvalRef(*e.args[2], th));
      int r = (lo == 0 || hi == 0) ? 0 : ((lo == 1 && hi == 1) ? 1 : -1);
      if (e.negated && r >= 0) r = 1 - r;
      return Bool3(r);
    }
    case ExprKind::kIn: {
      // x IN (a, b) is x = a OR x = b, with three-valued logic.
      Value tx, tv;
      const Value& x = EvalRef(*e.args[0], tx);
      int r = 0;
      for (size_t i = 1; i < e.args.size() && r != 1; ++i) {
        int c = Compare3(Op::kEq, x, EvalRef(*e.args[i], tv));
        if (c == 1) r = 1;
        if (c < 0) r = -1;
      }
      if (e.negated && r >= 0) r = 1 - r;
      return Bool3(r);
    }
    case ExprKind::kLike: {
      Value ts, tp;
      const Value& s = EvalRef(*e.args[0], ts);
      const Value& p = EvalRef(*e.args[1], tp);
      if (!s.is_string() || !p.is_string()) return Value();
      uint32_t esc = e.name.empty() ? 0 : static_cast<unsigned char>(e.name[0]);
      bool m = LikeMatch(s.as_string(), p.as_string(), esc);
      return Value::Bool(m != e.negated);
    }
    case ExprKind::kConditional: {
      Value tmp;
      return EvalRef(*e.args[0], tmp).is_true() ? Eval(*e.args[1]) : Eval(*e.args[2]);
    }
    case ExprKind::kCoalesce: {
      Value l = Eval(*e.args[0]);
      return l.is_defined() ? l : Eval(*e.args[1]);
    }
    case ExprKind::kCall:
      return EvalCall(e);
    case ExprKind::kArray: {
      Array a;
      a.reserve(e.args.size());
      for (const auto& x : e.args) {
        Value v = Eval(*x);
        if (v.is_defined()) a.push_back(std::move(v));
      }
      return Value::MakeArray(std::move(a));
    }
    case ExprKind::kObject: {
      Object o;
      o.reserve(e.args.size());
      for (size_t i = 0; i < e.args.size(); ++i) {
        Value v = Eval(*e.args[i]);
        if (v.is_defined()) o.emplace_back(e.keys[i], std::move(v));
      }
      return Value::MakeObject(std::move(o));
    }
    case ExprKind::kSubquery: {
      std::vector<Value> r = RunQuery(*e.subquery, 1);
      return r.empty() ? Value() : std::move(r[0]);
    }
    case ExprKind::kExists:
      return Value::Bool(!RunQuery(*e.subquery, 1).empty());
    case ExprKind::kArraySubquery:
      return Value::MakeArray(RunQuery(*e.subquery, std::numeric_limits<size_t>::max()));
    case ExprKind::kFirst: {
      std::vector<Value> r = RunQuery(*e.subquery, 1);
      return r.empty() ? Value() : std::move(r[0]);
    }
    case ExprKind::kLast: {
      std::vector<Value> r = RunQuery(*e.subquery, std::numeric_limits<size_t>::max());
      return r.empty() ? Value() : std::move(r.back());
    }
    case ExprKind::kParameter:
    case ExprKind::kName:
    case ExprKind::kAggregate:
      break;  // replaced by the binder
  }
  return Value();
}

Value Evaluator::EvalBinary(const Expr& e) {
  Value ta, tb;
  const Value& a = EvalRef(*e.args[0], ta);
  const Value& b = EvalRef(*e.args[1], tb);
  switch (e.op) {
    case Op::kEq:
    case Op::kNe:
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe:
      return Bool3(Compare3(e.op, a, b));
    case Op::kConcat:
      if (!a.is_string() || !b.is_string()) return Value();
      return Value::String(a.as_string() + b.as_string());
    case Op::kAdd:
    case Op::kSub:
    case Op::kMul:
    case Op::kDiv:
    case Op::kMod: {
      if (!a.is_number() || !b.is_number()) return Value();
      double x = a.as_number(), y = b.as_number();
      switch (e.op) {
        case Op::kAdd:
          return Value::Number(x + y);
        case Op::kSub:
          return Value::Number(x - y);
        case Op::kMul:
          return Value::Number(x * y);
        case Op::kDiv:
          return Value::Number(x / y);  // x/0 is not finite: undefined
        default:
          return Value::Number(std::fmod(x, y));
      }
    }
    case Op::kBitAnd:
    case Op::kBitOr:
    case Op::kBitXor: {
      int64_t x, y;
      if (!ToInteger(a, &x) || !ToInteger(b, &y)) return Value();
      int64_t r = e.op == Op::kBitAnd ? (x & y) : e.op == Op::kBitOr ? (x | y) : (x ^ y);
      return Value::Number(static_cast<double>(r));
    }
    default:
      return Value();
  }
}

Value Evaluator::EvalCall(const Expr& e) {
  size_t n = e.args.size();
  if (!e.fn) {  // udf.NAME(...)
    std::vector<Value> args(n);
    for (size_t i = 0; i < n; ++i) args[i] = Eval(*e.args[i]);
    if (!ctx_.udfs) {
      if (ctx_.budget) ctx_.budget->Fail();
      return Value();
    }
    Value v = ctx_.udfs->Call(e.name.substr(4), args.data(), static_cast<int>(n));
    if (!ctx_.udfs->status().ok() && ctx_.budget) ctx_.budget->Fail();
    return v;
  }
  if (n <= 4) {
    Value args[4];
    for (size_t i = 0; i < n; ++i) args[i] = Eval(*e.args[i]);
    return e.fn->fn(args, static_cast<int>(n), ctx_);
  }
  std::vector<Value> args(n);
  for (size_t i = 0; i < n; ++i) args[i] = Eval(*e.args[i]);
  return e.fn->fn(args.data(), static_cast<int>(n), ctx_);
}

bool Evaluator::ForEachRow(const Query& q, FunctionRef<bool()> fn) { return Expand(q, 0, fn); }

bool Evaluator::Expand(const Query& q, size_t i, FunctionRef<bool()>& fn) {
  if (i == q.from.size()) {
    if (ctx_.budget && !ctx_.budget->Spend()) return false;
    if (q.where) {
      Value tmp;
      if (!EvalRef(*q.where, tmp).is_true()) return true;
    }
    return fn();
  }
  const FromSource& s = q.from[i];
  size_t slot = static_cast<size_t>(s.slot);
  if (s.subquery) {
    std::vector<Value> values = RunQuery(*s.subquery, std::numeric_limits<size_t>::max());
    for (Value& v : values) {
      slots_[slot] = std::move(v);
      if (!Expand(q, i + 1, fn)) return false;
    }
    return true;
  }
  Value v = Eval(*s.collection);
  if (s.iterate) {
    if (!v.is_array()) return true;
    for (const Value& element : v.as_array()) {
      slots_[slot] = element;
      if (!Expand(q, i + 1, fn)) return false;
    }
    return true;
  }
  if (v.is_undefined()) return true;
  slots_[slot] = std::move(v);
  return Expand(q, i + 1, fn);
}

Value Evaluator::Project(const Query& q) {
  if (q.star) return slots_[static_cast<size_t>(q.from[0].slot)];
  if (q.value) return Eval(*q.select[0].expr);
  Object o;
  o.reserve(q.select.size());
  for (const SelectItem& item : q.select) {
    Value v = Eval(*item.expr);
    if (v.is_defined()) o.emplace_back(item.name, std::move(v));
  }
  return Value::MakeObject(std::move(o));
}

std::vector<Value> Evaluator::RunQuery(const Query& q, size_t limit) {
  Accumulator acc(*this, q, limit);
  ForEachRow(q, [&] { return acc.AddRow(); });
  return acc.Finish();
}

// ---- Accumulator ----

Accumulator::Accumulator(Evaluator& ev, const Query& q, size_t limit)
    : ev_(ev), q_(q), limit_(limit) {
  constexpr size_t kAll = std::numeric_limits<size_t>::max();
  size_t wanted = limit;
  if (q.top_n) wanted = std::min(wanted, static_cast<size_t>(*q.top_n));
  if (q.limit_n) wanted = std::min(wanted, static_cast<size_t>(*q.limit_n));
  size_t offset = q.offset_n ? static_cast<size_t>(*q.offset_n) : 0;
  enough_ = wanted > kAll - offset ? kAll : wanted + offset;
}

bool Accumulator::AddRow() {
  if (q_.aggregated) {
    size_t index = 0;
    if (q_.group_by.empty()) {
      if (groups_.empty())
        groups_.push_back({{}, std::vector<AggregateState>(q_.aggregates.size())});
    } else {
      std::vector<Value> keys;
      keys.reserve(q_.group_by.size());
      std::string key;
      for (const auto& g : q_.group_by) {
        keys.push_back(ev_.Eval(*g));
        AppendCanonical(&key, keys.back());
        key.push_back('\x1f');
      }
      auto it = group_index_.find(key);
      if (it == group_index_.end()) {
        if (ev_.context().budget && !ev_.context().budget->Hold(groups_.size() + 1)) return false;
        it = group_index_.emplace(std::move(key), groups_.size()).first;
        groups_.push_back({std::move(keys), std::vector<AggregateState>(q_.aggregates.size())});
      }
      index = it->second;
    }
    Group& group = groups_[index];
    for (size_t i = 0; i < q_.aggregates.size(); ++i) {
      const AggregateSlot& agg = q_.aggregates[i];
      AggregateState& st = group.aggregates[i];
      if (st.invalid) continue;
      Value v = ev_.Eval(*agg.arg);
      if (v.is_undefined()) continue;
      switch (agg.kind) {
        case AggregateKind::kCount:
          ++st.count;
          break;
        case AggregateKind::kSum:
        case AggregateKind::kAvg:
          if (!v.is_number()) {
            st.invalid = true;
          } else {
            st.sum += v.as_number();
            ++st.count;
          }
          break;
        case AggregateKind::kMin:
        case AggregateKind::kMax:
          if (v.is_array() || v.is_object()) {
            st.invalid = true;
          } else if (!st.has || (agg.kind == AggregateKind::kMin ? CompareTotal(v, st.best) < 0
                                                                 : CompareTotal(v, st.best) > 0)) {
            st.best = std::move(v);
            st.has = true;
          }
          break;
      }
    }
    return true;
  }
  Value out = ev_.Project(q_);
  if (out.is_undefined()) return true;
  Row row;
  for (const auto& o : q_.order_by) row.keys.push_back(ev_.Eval(*o.expr));
  row.out = std::move(out);
  if (ev_.context().budget && !ev_.context().budget->Hold(rows_.size() + 1)) return false;
  rows_.push_back(std::move(row));
  return !(q_.order_by.empty() && !q_.distinct && rows_.size() >= enough_);
}

std::vector<Value> Accumulator::Finish() {
  std::vector<Value> outs;
  if (q_.aggregated) {
    if (groups_.empty() && q_.group_by.empty()) {
      groups_.push_back({{}, std::vector<AggregateState>(q_.aggregates.size())});
    }
    auto& slots = ev_.slots();
    for (Group& g : groups_) {
      for (size_t i = 0; i < g.keys.size(); ++i)
        slots[static_cast<size_t>(q_.group_slots[i])] = g.keys[i];
      for (size_t i = 0; i < q_.aggregates.size(); ++i) {
        const AggregateSlot& agg = q_.aggregates[i];
        AggregateState& st = g.aggregates[i];
        Value r;
        if (!st.invalid) {
          switch (agg.kind) {
            case AggregateKind::kCount:
              r = Value::Number(static_cast<double>(st.count));
              break;
            case AggregateKind::kSum:
              r = Value::Number(st.sum);
              break;
            case AggregateKind::kAvg:
              if (st.count > 0) r = Value::Number(st.sum / static_cast<double>(st.count));
              break;
            case AggregateKind::kMin:
            case AggregateKind::kMax:
              if (st.has) r = st.best;
              break;
          }
        }
        slots[static_cast<size_t>(agg.slot)] = std::move(r);
      }
      Value out = ev_.Project(q_);
      if (out.is_defined()) outs.push_back(std::move(out));
    }
  } else {
    if (!q_.order_by.empty()) {
      std::stable_sort(rows_.begin(), rows_.end(), [&](const Row& a, const Row& b) {
        return CompareSortKeys(a.keys, b.keys, q_.order_by) < 0;
      });
    }
    outs.reserve(rows_.size());
    for (Row& r : rows_) outs.push_back(std::move(r.out));
  }
  if (q_.distinct) {
    std::unordered_set<std::string> seen;
    std::vector<Value> unique;
    for (Value& v : outs) {
      std::string key;
      AppendCanonical(&key, v);
      if (seen.insert(std::move(key)).second) unique.push_back(std::move(v));
    }
    outs = std::move(unique);
  }
  size_t offset = q_.offset_n ? static_cast<size_t>(*q_.offset_n) : 0;
  size_t count = limit_;
  if (q_.top_n) count = std::min(count, static_cast<size_t>(*q_.top_n));
  if (q_.limit_n) count = std::min(count, static_cast<size_t>(*q_.limit_n));
  if (offset >= outs.size()) return {};
  size_t end = outs.size() - offset < count ? outs.size() : offset + count;
  return std::vector<Value>(
      std::make_move_iterator(outs.begin() + static_cast<std::ptrdiff_t>(offset)),
      std::make_move_iterator(outs.begin() + static_cast<std::ptrdiff_t>(end)));
}

}  // namespace regionlab::query
