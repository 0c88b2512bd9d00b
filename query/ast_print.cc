// DebugString: a stable text form of the syntax tree. The grammar's golden
// tests compare against it, so changing the format means updating them.
#include <string>

#include "query/ast.h"

namespace regionlab::query {
namespace {

const char* OpName(Op op) {
  switch (op) {
    case Op::kNeg:
      return "-";
    case Op::kPlus:
      return "+";
    case Op::kBitNot:
      return "~";
    case Op::kMul:
      return "*";
    case Op::kDiv:
      return "/";
    case Op::kMod:
      return "%";
    case Op::kAdd:
      return "+";
    case Op::kSub:
      return "-";
    case Op::kLt:
      return "<";
    case Op::kLe:
      return "<=";
    case Op::kGt:
      return ">";
    case Op::kGe:
      return ">=";
    case Op::kEq:
      return "=";
    case Op::kNe:
      return "!=";
    case Op::kBitAnd:
      return "&";
    case Op::kBitXor:
      return "^";
    case Op::kBitOr:
      return "|";
    case Op::kConcat:
      return "||";
  }
  return "?";
}

const char* AggregateName(AggregateKind k) {
  switch (k) {
    case AggregateKind::kCount:
      return "COUNT";
    case AggregateKind::kSum:
      return "SUM";
    case AggregateKind::kAvg:
      return "AVG";
    case AggregateKind::kMin:
      return "MIN";
    case AggregateKind::kMax:
      return "MAX";
  }
  return "?";
}

void Print(const Expr& e, std::string* out);
void PrintQuery(const Query& q, std::string* out);

void PrintList(const char* head, const Expr& e, size_t from, std::string* out) {
  *out += "(";
  *out += head;
  for (size_t i = from; i < e.args.size(); ++i) {
    *out += ' ';
    Print(*e.args[i], out);
  }
  *out += ")";
}

void Print(const Expr& e, std::string* out) {
  switch (e.kind) {
    case ExprKind::kLiteral:
      *out += e.value.is_undefined() ? "undefined" : e.value.ToJson();
      return;
    case ExprKind::kParameter:
    case ExprKind::kName:
      *out += e.name;
      return;
    case ExprKind::kSlot:
      *out += e.name.empty() ? "$" + std::to_string(e.slot) : e.name;
      return;
    case ExprKind::kInput:
      *out += "<input>";
      return;
    case ExprKind::kProperty:
      *out += "(. ";
      Print(*e.args[0], out);
      *out += " " + e.name + ")";
      return;
    case ExprKind::kIndex:
      PrintList("[]", e, 0, out);
      return;
    case ExprKind::kUnary:
      PrintList(OpName(e.op), e, 0, out);
      return;
    case ExprKind::kBinary:
      PrintList(OpName(e.op), e, 0, out);
      return;
    case ExprKind::kAnd:
      PrintList("AND", e, 0, out);
      return;
    case ExprKind::kOr:
      PrintList("OR", e, 0, out);
      return;
    case ExprKind::kNot:
      PrintList("NOT", e, 0, out);
      return;
    case ExprKind::kBetween:
      PrintList(e.negated ? "NOT-BETWEEN" : "BETWEEN", e, 0, out);
      return;
    case ExprKind::kIn:
      PrintList(e.negated ? "NOT-IN" : "IN", e, 0, out);
      return;
    case ExprKind::kLike:
      PrintList(e.negated ? "NOT-LIKE" : "LIKE", e, 0, out);
      if (!e.name.empty()) {
        out->pop_back();
        *out += " ESCAPE " + e.name + ")";
      }
      return;
    case ExprKind::kConditional:
      PrintList("?", e, 0, out);
      return;
    case ExprKind::kCoalesce:
      PrintList("??", e, 0, out);
      return;
    case ExprKind::kCall:
      PrintList(e.name.c_str(), e, 0, out);
      return;
    case ExprKind::kAggregate:
      PrintList(AggregateName(e.aggregate), e, 0, out);
      return;
    case ExprKind::kArray: {
      *out += "[";
      for (size_t i = 0; i < e.args.size(); ++i) {
        if (i) *out += ", ";
        Print(*e.args[i], out);
      }
      *out += "]";
      return;
    }
    case ExprKind::kObject: {
      *out += "{";
      for (size_t i = 0; i < e.args.size(); ++i) {
        if (i) *out += ", ";
        *out += e.keys[i] + ": ";
        Print(*e.args[i], out);
      }
      *out += "}";
      return;
    }
    case ExprKind::kSubquery:
    case ExprKind::kExists:
    case ExprKind::kArraySubquery:
    case ExprKind::kFirst:
    case ExprKind::kLast: {
      const char* head = e.kind == ExprKind::kSubquery        ? ""
                         : e.kind == ExprKind::kExists        ? "EXISTS "
                         : e.kind == ExprKind::kArraySubquery ? "ARRAY "
                         : e.kind == ExprKind::kFirst         ? "FIRST "
                                                              : "LAST ";
      *out += "(";
      *out += head;
      PrintQuery(*e.subquery, out);
      *out += ")";
      return;
    }
  }
}

void PrintQuery(const Query& q, std::string* out) {
  *out += "SELECT";
  if (q.distinct) *out += " DISTINCT";
  if (q.top) {
    *out += " TOP ";
    Print(*q.top, out);
  }
  if (q.star) {
    *out += " *";
  } else if (q.value) {
    *out += " VALUE ";
    Print(*q.select[0].expr, out);
  } else {
    for (size_t i = 0; i < q.select.size(); ++i) {
      *out += i ? ", " : " ";
      Print(*q.select[i].expr, out);
      if (q.select[i].explicit_name) *out += " AS " + q.select[i].name;
    }
  }
  for (size_t i = 0; i < q.from.size(); ++i) {
    const FromSource& s = q.from[i];
    *out += i ? " JOIN " : " FROM ";
    if (s.iterate) *out += s.alias + " IN ";
    if (s.subquery) {
      *out += "(";
      PrintQuery(*s.subquery, out);
      *out += ")";
    } else {
      Print(*s.collection, out);
    }
    if (!s.iterate) *out += " AS " + s.alias;
  }
  if (q.where) {
    *out += " WHERE ";
    Print(*q.where, out);
  }
  if (!q.group_by.empty()) {
    *out += " GROUP BY";
    for (size_t i = 0; i < q.group_by.size(); ++i) {
      *out += i ? ", " : " ";
      Print(*q.group_by[i], out);
    }
  }
  if (!q.order_by.empty()) {
    *out += " ORDER BY";
    for (size_t i = 0; i < q.order_by.size(); ++i) {
      *out += i ? ", " : " ";
      Print(*q.order_by[i].expr, out);
      *out += q.order_by[i].descending ? " DESC" : " ASC";
    }
  }
  if (q.offset) {
    *out += " OFFSET ";
    Print(*q.offset, out);
    *out += " LIMIT ";
    Print(*q.limit, out);
  }
}

}  // namespace

std::string DebugString(const Expr& e) {
  std::string out;
  Print(e, &out);
  return out;
}

std::string DebugString(const Query& q) {
  std::string out;
  PrintQuery(q, &out);
  return out;
}

}  // namespace regionlab::query
