#include "query/parser.h"

#include <algorithm>
#include <cstring>

#include "query/lexer.h"

namespace regionlab::query {
namespace {

// Words that cannot name an alias or a property without brackets or a '.'.
constexpr const char* kReserved[] = {
    "SELECT", "FROM",   "WHERE",     "AND",      "OR",   "NOT",    "IN",    "BETWEEN",
    "LIKE",   "ESCAPE", "AS",        "VALUE",    "TOP",  "ORDER",  "BY",    "ASC",
    "DESC",   "OFFSET", "LIMIT",     "GROUP",    "JOIN", "EXISTS", "ARRAY", "TRUE",
    "FALSE",  "NULL",   "UNDEFINED", "DISTINCT", "UDF",
};

constexpr int kMaxNesting = 128;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 'a' + 'A');
    if (x != y) return false;
  }
  return true;
}

bool IsReserved(std::string_view word) {
  for (const char* r : kReserved) {
    if (EqualsIgnoreCase(word, r)) return true;
  }
  return false;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  Result<std::unique_ptr<Query>> ParseTopLevel() {
    if (!IsKeyword(Peek(), "SELECT")) {
      if (Peek().kind == TokenKind::kEnd)
        return Fail("the query is empty; it must start with SELECT");
      return Fail("a query must start with SELECT");
    }
    auto q = ParseQueryBody();
    if (!q.ok()) return q;
    if (Peek().kind != TokenKind::kEnd) {
      return Fail("unexpected " + Describe(Peek()) +
                  "; expected FROM, WHERE, GROUP BY, ORDER BY, OFFSET or the end of the query");
    }
    return q;
  }

  Result<std::unique_ptr<Query>> ParseConditionTopLevel() {
    if (IsKeyword(Peek(), "SELECT")) return ParseTopLevel();
    if (!IsKeyword(Peek(), "FROM")) {
      return Fail("a patch condition must have the form \"FROM c WHERE <condition>\"");
    }
    auto q = std::make_unique<Query>();
    q->line = Peek().line;
    q->column = Peek().column;
    q->value = true;
    SelectItem item;
    item.expr = std::make_unique<Expr>();
    item.expr->kind = ExprKind::kLiteral;
    item.expr->value = Value::Bool(true);
    q->select.push_back(std::move(item));
    Next();
    if (!ParseFrom(q.get())) return Error();
    if (AcceptKeyword("WHERE")) {
      q->where = ParseExpr();
      if (!q->where) return Error();
    }
    if (Peek().kind != TokenKind::kEnd) {
      return Fail("unexpected " + Describe(Peek()) +
                  " in the patch condition (expected WHERE or the end)");
    }
    return q;
  }

 private:
  // ---- token helpers ----
  const Token& Peek(size_t ahead = 0) const { return t_[std::min(pos_ + ahead, t_.size() - 1)]; }
  const Token& Next() {
    const Token& tok = t_[pos_];
    if (pos_ + 1 < t_.size()) ++pos_;
    return tok;
  }
  static bool IsKeyword(const Token& tok, const char* kw) {
    return tok.kind == TokenKind::kIdentifier && EqualsIgnoreCase(tok.text, kw);
  }
  static bool IsSymbol(const Token& tok, const char* sym) {
    return tok.kind == TokenKind::kSymbol && tok.text == sym;
  }
  bool AcceptKeyword(const char* kw) {
    if (!IsKeyword(Peek(), kw)) return false;
    Next();
    return true;
  }
  bool AcceptSymbol(const char* sym) {
    if (!IsSymbol(Peek(), sym)) return false;
    Next();
    return true;
  }
  static std::string Describe(const Token& tok) {
    switch (tok.kind) {
      case TokenKind::kEnd:
        return "end of the query";
      case TokenKind::kString:
        return "string '" + tok.text + "'";
      default:
        return "'" + tok.text + "'";
    }
  }

  // Records the first error (with the position of the current token) and
  // returns false / nullptr so callers can unwind.
  bool SetError(const std::string& what) { return SetErrorAt(Peek(), what); }
  bool SetErrorAt(const Token& at, const std::string& what) {
    if (error_.empty()) {
      error_ = "Syntax error at " + Where(at.line, at.column);
      if (at.kind == TokenKind::kEnd) {
        error_ += " (end of the query)";
      } else {
        error_ += " near " + Describe(at);
      }
      error_ += ": " + what + ".";
    }
    return false;
  }
  Status Error() const { return Status::BadRequest(error_.empty() ? "Syntax error." : error_); }
  Status Fail(const std::string& what) {
    SetError(what);
    return Error();
  }
  bool ExpectSymbol(const char* sym, const char* context) {
    if (AcceptSymbol(sym)) return true;
    return SetError(std::string("expected '") + sym + "' " + context);
  }
  bool ExpectKeyword(const char* kw, const char* context) {
    if (AcceptKeyword(kw)) return true;
    return SetError(std::string("expected ") + kw + " " + context);
  }

  // A name usable as an alias: an identifier that is not reserved.
  bool IsName(const Token& tok) const {
    return tok.kind == TokenKind::kIdentifier && !IsReserved(tok.text);
  }

  // Positions an operator node at the start of its left operand, so errors
  // about it point where the expression begins.
  static ExprPtr AtStart(ExprPtr e) {
    if (!e->args.empty()) {
      e->line = e->args[0]->line;
      e->column = e->args[0]->column;
    }
    return e;
  }

  ExprPtr NewExpr(ExprKind kind, const Token& at) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = at.line;
    e->column = at.column;
    return e;
  }

  struct DepthGuard {
    Parser* p;
    bool ok;
    explicit DepthGuard(Parser* parser) : p(parser), ok(++parser->depth_ <= kMaxNesting) {
      if (!ok) p->SetError("the query is nested too deeply");
    }
    ~DepthGuard() { --p->depth_; }
  };

  // ---- queries ----

  Result<std::unique_ptr<Query>> ParseQueryBody() {
    auto q = std::make_unique<Query>();
    const Token& select = Peek();
    q->line = select.line;
    q->column = select.column;
    if (!ExpectKeyword("SELECT", "to start a query")) return Error();
    if (AcceptKeyword("DISTINCT")) q->distinct = true;
    if (IsKeyword(Peek(), "TOP")) {
      Next();
      q->top = ParseCount("TOP");
      if (!q->top) return Error();
    }
    if (!ParseSelection(q.get())) return Error();
    if (AcceptKeyword("FROM")) {
      if (!ParseFrom(q.get())) return Error();
    }
    if (AcceptKeyword("WHERE")) {
      q->where = ParseExpr();
      if (!q->where) return Error();
    }
    if (IsKeyword(Peek(), "GROUP")) {
      Next();
      if (!ExpectKeyword("BY", "after GROUP")) return Error();
      do {
        ExprPtr e = ParseExpr();
        if (!e) return Error();
        q->group_by.push_back(std::move(e));
      } while (AcceptSymbol(","));
    }
    if (IsKeyword(Peek(), "ORDER")) {
      Next();
      if (!ExpectKeyword("BY", "after ORDER")) return Error();
      do {
        OrderItem item;
        item.expr = ParseExpr();
        if (!item.expr) return Error();
        if (AcceptKeyword("DESC")) {
          item.descending = true;
        } else {
          AcceptKeyword("ASC");
        }
        q->order_by.push_back(std::move(item));
      } while (AcceptSymbol(","));
    }
    if (IsKeyword(Peek(), "OFFSET")) {
      Next();
      q->offset = ParseCount("OFFSET");
      if (!q->offset) return Error();
      if (!ExpectKeyword("LIMIT", "after OFFSET n (OFFSET and LIMIT go together)")) return Error();
      q->limit = ParseCount("LIMIT");
      if (!q->limit) return Error();
    } else if (IsKeyword(Peek(), "LIMIT")) {
      return Fail("LIMIT needs OFFSET before it: write OFFSET 0 LIMIT n");
    }
    return q;
  }

  // A number or a parameter, after TOP, OFFSET or LIMIT.
  ExprPtr ParseCount(const char* what) {
    const Token& tok = Peek();
    if (tok.kind == TokenKind::kNumber) {
      ExprPtr e = NewExpr(ExprKind::kLiteral, tok);
      e->value = Value::Number(tok.number);
      Next();
      return e;
    }
    if (tok.kind == TokenKind::kParameter) {
      ExprPtr e = NewExpr(ExprKind::kParameter, tok);
      e->name = tok.text;
      Next();
      return e;
    }
    SetError(std::string("expected a number or a @parameter after ") + what);
    return nullptr;
  }

  bool ParseSelection(Query* q) {
    if (AcceptSymbol("*")) {
      q->star = true;
      if (IsSymbol(Peek(), ",")) return SetError("'*' must be the only item of the SELECT list");
      return true;
    }
    if (AcceptKeyword("VALUE")) {
      q->value = true;
      if (IsSymbol(Peek(), "*"))
        return SetError("SELECT VALUE * is not valid: write SELECT * or SELECT VALUE c");
      SelectItem item;
      item.expr = ParseExpr();
      if (!item.expr) return false;
      q->select.push_back(std::move(item));
      if (IsSymbol(Peek(), ",")) return SetError("SELECT VALUE takes exactly one expression");
      return true;
    }
    if (Peek().kind == TokenKind::kEnd || IsKeyword(Peek(), "FROM")) {
      return SetError("expected '*', VALUE or an expression after SELECT");
    }
    do {
      SelectItem item;
      item.expr = ParseExpr();
      if (!item.expr) return false;
      if (AcceptKeyword("AS")) {
        if (!IsName(Peek())) return SetError("expected a name after AS");
        item.name = Next().text;
        item.explicit_name = true;
      } else if (IsName(Peek())) {
        item.name = Next().text;
        item.explicit_name = true;
      }
      q->select.push_back(std::move(item));
    } while (AcceptSymbol(","));
    if (IsSymbol(Peek(), "*")) return SetError("'*' must be the only item of the SELECT list");
    return true;
  }

  bool ParseFrom(Query* q) {
    if (!ParseSource(q)) return false;
    while (AcceptKeyword("JOIN")) {
      if (!ParseSource(q)) return false;
    }
    return true;
  }

  bool ParseSource(Query* q) {
    FromSource src;
    const Token& start = Peek();
    src.line = start.line;
    src.column = start.column;
    if (IsName(Peek()) && IsKeyword(Peek(1), "IN")) {
      src.alias = Next().text;
      Next();  // IN
      src.iterate = true;
      if (!ParseCollection(&src)) return false;
    } else {
      if (!ParseCollection(&src)) return false;
      if (AcceptKeyword("AS")) {
        if (!IsName(Peek())) return SetError("expected an alias after AS");
        src.alias = Next().text;
      } else if (IsName(Peek())) {
        src.alias = Next().text;
      } else if (src.subquery) {
        return SetErrorAt(start, "a subquery in FROM needs an alias: (SELECT ...) AS name");
      } else {
        // No alias: the last name of the path names it (FROM c, FROM c.children).
        const Expr* e = src.collection.get();
        if (e->kind == ExprKind::kProperty || e->kind == ExprKind::kName) {
          src.alias = e->name;
        } else if (e->kind == ExprKind::kIndex && e->args[1]->value.is_string()) {
          src.alias = e->args[1]->value.as_string();
        } else {
          return SetErrorAt(start, "this FROM source needs an alias: add AS name");
        }
      }
    }
    q->from.push_back(std::move(src));
    return true;
  }

  // name ('.' name | '[' number ']' | '[' string ']')*  or  '(' query ')'
  bool ParseCollection(FromSource* src) {
    if (IsSymbol(Peek(), "(") && IsKeyword(Peek(1), "SELECT")) {
      DepthGuard guard(this);
      if (!guard.ok) return false;
      Next();
      auto sub = ParseQueryBody();
      if (!sub.ok()) return false;
      src->subquery = std::move(*sub);
      return ExpectSymbol(")", "to close the subquery");
    }
    if (!IsName(Peek())) {
      if (Peek().kind == TokenKind::kIdentifier)
        return SetError("a keyword cannot name a FROM source");
      return SetError("expected a container name or alias");
    }
    const Token& name = Next();
    ExprPtr e = NewExpr(ExprKind::kName, name);
    e->name = name.text;
    while (true) {
      const Token& tok = Peek();
      if (IsSymbol(tok, ".")) {
        Next();
        if (Peek().kind != TokenKind::kIdentifier)
          return SetError("expected a property name after '.'");
        ExprPtr p = NewExpr(ExprKind::kProperty, tok);
        p->name = Next().text;
        p->args.push_back(std::move(e));
        e = AtStart(std::move(p));
      } else if (IsSymbol(tok, "[")) {
        Next();
        const Token& idx = Peek();
        if (idx.kind != TokenKind::kNumber && idx.kind != TokenKind::kString) {
          return SetError("a FROM path takes only a number or a string in brackets");
        }
        ExprPtr lit = NewExpr(ExprKind::kLiteral, idx);
        lit->value =
            idx.kind == TokenKind::kNumber ? Value::Number(idx.number) : Value::String(idx.text);
        Next();
        if (!ExpectSymbol("]", "after the index")) return false;
        ExprPtr p = NewExpr(ExprKind::kIndex, tok);
        p->args.push_back(std::move(e));
        p->args.push_back(std::move(lit));
        e = AtStart(std::move(p));
      } else {
        break;
      }
    }
    src->collection = std::move(e);
    return true;
  }

  // ---- expressions ----

  ExprPtr ParseExpr() {
    DepthGuard guard(this);
    if (!guard.ok) return nullptr;
    ExprPtr cond = ParseCoalesce();
    if (!cond) return nullptr;
    if (IsSymbol(Peek(), "?")) {
      const Token& q = Next();
      ExprPtr e = NewExpr(ExprKind::kConditional, q);
      ExprPtr a = ParseExpr();
      if (!a) return nullptr;
      if (!ExpectSymbol(":", "in the conditional expression (cond ? a : b)")) return nullptr;
      ExprPtr b = ParseExpr();
      if (!b) return nullptr;
      e->args.push_back(std::move(cond));
      e->args.push_back(std::move(a));
      e->args.push_back(std::move(b));
      return AtStart(std::move(e));
    }
    return cond;
  }

  ExprPtr ParseCoalesce() {
    ExprPtr left = ParseOr();
    if (!left) return nullptr;
    if (IsSymbol(Peek(), "??")) {
      DepthGuard guard(this);
      if (!guard.ok) return nullptr;
      const Token& op = Next();
      ExprPtr right = ParseCoalesce();
      if (!right) return nullptr;
      ExprPtr e = NewExpr(ExprKind::kCoalesce, op);
      e->args.push_back(std::move(left));
      e->args.push_back(std::move(right));
      return AtStart(std::move(e));
    }
    return left;
  }

  ExprPtr ParseOr() {
    ExprPtr left = ParseAnd();
    if (!left) return nullptr;
    while (IsKeyword(Peek(), "OR")) {
      const Token& op = Next();
      ExprPtr right = ParseAnd();
      if (!right) return nullptr;
      ExprPtr e = NewExpr(ExprKind::kOr, op);
      e->args.push_back(std::move(left));
      e->args.push_back(std::move(right));
      left = AtStart(std::move(e));
    }
    return left;
  }

  ExprPtr ParseAnd() {
    ExprPtr left = ParseNot();
    if (!left) return nullptr;
    while (IsKeyword(Peek(), "AND")) {
      const Token& op = Next();
      ExprPtr right = ParseNot();
      if (!right) return nullptr;
      ExprPtr e = NewExpr(ExprKind::kAnd, op);
      e->args.push_back(std::move(left));
      e->args.push_back(std::move(right));
      left = AtStart(std::move(e));
    }
    return left;
  }

  ExprPtr ParseNot() {
    if (IsKeyword(Peek(), "NOT")) {
      DepthGuard guard(this);
      if (!guard.ok) return nullptr;
      const Token& op = Next();
      ExprPtr inner = ParseNot();
      if (!inner) return nullptr;
      ExprPtr e = NewExpr(ExprKind::kNot, op);
      e->args.push_back(std::move(inner));
      return e;
    }
    return ParsePredicate();
  }

  ExprPtr ParsePredicate() {
    ExprPtr left = ParseBinary(0);
    if (!left) return nullptr;
    bool negated = false;
    size_t save = pos_;
    if (IsKeyword(Peek(), "NOT") &&
        (IsKeyword(Peek(1), "IN") || IsKeyword(Peek(1), "BETWEEN") || IsKeyword(Peek(1), "LIKE"))) {
      Next();
      negated = true;
    }
    const Token& op = Peek();
    if (IsKeyword(op, "IN")) {
      Next();
      ExprPtr e = NewExpr(ExprKind::kIn, op);
      e->negated = negated;
      e->args.push_back(std::move(left));
      if (!ExpectSymbol("(", "after IN (write IN (a, b, ...))")) return nullptr;
      if (IsSymbol(Peek(), ")")) {
        SetError("IN needs at least one value");
        return nullptr;
      }
      do {
        ExprPtr v = ParseExpr();
        if (!v) return nullptr;
        e->args.push_back(std::move(v));
      } while (AcceptSymbol(","));
      if (!ExpectSymbol(")", "to close the IN list")) return nullptr;
      return AtStart(std::move(e));
    }
    if (IsKeyword(op, "BETWEEN")) {
      Next();
      ExprPtr e = NewExpr(ExprKind::kBetween, op);
      e->negated = negated;
      ExprPtr lo = ParseBinary(0);
      if (!lo) return nullptr;
      if (!ExpectKeyword("AND", "in BETWEEN low AND high")) return nullptr;
      ExprPtr hi = ParseBinary(0);
      if (!hi) return nullptr;
      e->args.push_back(std::move(left));
      e->args.push_back(std::move(lo));
      e->args.push_back(std::move(hi));
      return AtStart(std::move(e));
    }
    if (IsKeyword(op, "LIKE")) {
      Next();
      ExprPtr e = NewExpr(ExprKind::kLike, op);
      e->negated = negated;
      ExprPtr pattern = ParseBinary(0);
      if (!pattern) return nullptr;
      e->args.push_back(std::move(left));
      e->args.push_back(std::move(pattern));
      if (AcceptKeyword("ESCAPE")) {
        const Token& esc = Peek();
        if (esc.kind != TokenKind::kString || esc.text.size() != 1) {
          SetError("ESCAPE takes a string of exactly one character, such as ESCAPE '!'");
          return nullptr;
        }
        e->name = Next().text;
      }
      return AtStart(std::move(e));
    }
    pos_ = save;
    return left;
  }

  // Binary operator levels, loosest first (the Cosmos DB grammar's order).
  struct Level {
    const char* symbols[4];
  };
  static constexpr int kLevels = 8;
  static const Level* Levels() {
    static const Level kTable[kLevels] = {
        {{"||", nullptr}},
        {{"|", nullptr}},
        {{"^", nullptr}},
        {{"&", nullptr}},
        {{"=", "!=", "<>", nullptr}},
        {{"<", "<=", ">", ">="}},
        {{"+", "-", nullptr}},
        {{"*", "/", "%", nullptr}},
    };
    return kTable;
  }
  static Op SymbolOp(const std::string& s) {
    if (s == "||") return Op::kConcat;
    if (s == "|") return Op::kBitOr;
    if (s == "^") return Op::kBitXor;
    if (s == "&") return Op::kBitAnd;
    if (s == "=") return Op::kEq;
    if (s == "!=" || s == "<>") return Op::kNe;
    if (s == "<") return Op::kLt;
    if (s == "<=") return Op::kLe;
    if (s == ">") return Op::kGt;
    if (s == ">=") return Op::kGe;
    if (s == "+") return Op::kAdd;
    if (s == "-") return Op::kSub;
    if (s == "*") return Op::kMul;
    if (s == "/") return Op::kDiv;
    return Op::kMod;
  }
  bool AtLevel(int level) const {
    const Token& tok = Peek();
    if (tok.kind != TokenKind::kSymbol) return false;
    for (const char* s : Levels()[level].symbols) {
      if (s && tok.text == s) return true;
    }
    return false;
  }

  ExprPtr ParseBinary(int level) {
    if (level == kLevels) return ParseUnary();
    ExprPtr left = ParseBinary(level + 1);
    if (!left) return nullptr;
    while (AtLevel(level)) {
      const Token& op = Next();
      ExprPtr right = ParseBinary(level + 1);
      if (!right) return nullptr;
      ExprPtr e = NewExpr(ExprKind::kBinary, op);
      e->op = SymbolOp(op.text);
      e->args.push_back(std::move(left));
      e->args.push_back(std::move(right));
      left = AtStart(std::move(e));
    }
    return left;
  }

  ExprPtr ParseUnary() {
    const Token& tok = Peek();
    bool minus = IsSymbol(tok, "-"), plus = IsSymbol(tok, "+"), tilde = IsSymbol(tok, "~");
    bool is_not = IsKeyword(tok, "NOT");
    if (minus || plus || tilde || is_not) {
      DepthGuard guard(this);
      if (!guard.ok) return nullptr;
      Next();
      // Fold a minus sign into a number literal right away.
      if (minus && Peek().kind == TokenKind::kNumber && !IsSymbol(Peek(1), ".") &&
          !IsSymbol(Peek(1), "[")) {
        ExprPtr lit = NewExpr(ExprKind::kLiteral, tok);
        lit->value = Value::Number(-Next().number);
        return lit;
      }
      ExprPtr inner = ParseUnary();
      if (!inner) return nullptr;
      ExprPtr e = NewExpr(is_not ? ExprKind::kNot : ExprKind::kUnary, tok);
      e->op = minus ? Op::kNeg : (plus ? Op::kPlus : Op::kBitNot);
      e->args.push_back(std::move(inner));
      return e;
    }
    return ParsePostfix();
  }

  ExprPtr ParsePostfix() {
    ExprPtr e = ParsePrimary();
    if (!e) return nullptr;
    while (true) {
      const Token& tok = Peek();
      if (IsSymbol(tok, ".")) {
        Next();
        if (Peek().kind != TokenKind::kIdentifier) {
          SetError("expected a property name after '.'");
          return nullptr;
        }
        ExprPtr p = NewExpr(ExprKind::kProperty, tok);
        p->name = Next().text;
        p->args.push_back(std::move(e));
        e = AtStart(std::move(p));
      } else if (IsSymbol(tok, "[")) {
        DepthGuard guard(this);
        if (!guard.ok) return nullptr;
        Next();
        ExprPtr idx = ParseExpr();
        if (!idx) return nullptr;
        if (!ExpectSymbol("]", "to close the index")) return nullptr;
        ExprPtr p = NewExpr(ExprKind::kIndex, tok);
        p->args.push_back(std::move(e));
        p->args.push_back(std::move(idx));
        e = AtStart(std::move(p));
      } else {
        return e;
      }
    }
  }

  ExprPtr ParseSubqueryCall(ExprKind kind, const Token& at) {
    DepthGuard guard(this);
    if (!guard.ok) return nullptr;
    if (!ExpectSymbol("(", "before the subquery")) return nullptr;
    if (!IsKeyword(Peek(), "SELECT")) {
      SetError("expected a subquery (SELECT ...)");
      return nullptr;
    }
    auto sub = ParseQueryBody();
    if (!sub.ok()) return nullptr;
    if (!ExpectSymbol(")", "to close the subquery")) return nullptr;
    ExprPtr e = NewExpr(kind, at);
    e->subquery = std::move(*sub);
    return e;
  }

  ExprPtr ParsePrimary() {
    const Token& tok = Peek();
    switch (tok.kind) {
      case TokenKind::kNumber: {
        ExprPtr e = NewExpr(ExprKind::kLiteral, tok);
        e->value = Value::Number(tok.number);
        Next();
        return e;
      }
      case TokenKind::kString: {
        ExprPtr e = NewExpr(ExprKind::kLiteral, tok);
        e->value = Value::String(tok.text);
        Next();
        return e;
      }
      case TokenKind::kParameter: {
        ExprPtr e = NewExpr(ExprKind::kParameter, tok);
        e->name = tok.text;
        Next();
        return e;
      }
      case TokenKind::kEnd:
        SetError("the query ends where an expression was expected");
        return nullptr;
      case TokenKind::kSymbol:
        return ParseSymbolPrimary();
      case TokenKind::kIdentifier:
        break;
    }
    // Identifiers and keywords.
    if (IsKeyword(tok, "true") || IsKeyword(tok, "false")) {
      ExprPtr e = NewExpr(ExprKind::kLiteral, tok);
      e->value = Value::Bool(IsKeyword(tok, "true"));
      Next();
      return e;
    }
    if (IsKeyword(tok, "null")) {
      ExprPtr e = NewExpr(ExprKind::kLiteral, tok);
      e->value = Value::Null();
      Next();
      return e;
    }
    if (IsKeyword(tok, "undefined")) {
      ExprPtr e = NewExpr(ExprKind::kLiteral, tok);
      Next();
      return e;
    }
    if (IsKeyword(tok, "EXISTS")) {
      Next();
      return ParseSubqueryCall(ExprKind::kExists, tok);
    }
    if (IsKeyword(tok, "ARRAY")) {
      Next();
      return ParseSubqueryCall(ExprKind::kArraySubquery, tok);
    }
    if ((IsKeyword(tok, "FIRST") || IsKeyword(tok, "LAST")) && IsSymbol(Peek(1), "(") &&
        IsKeyword(Peek(2), "SELECT")) {
      Next();
      return ParseSubqueryCall(IsKeyword(tok, "FIRST") ? ExprKind::kFirst : ExprKind::kLast, tok);
    }
    if (IsKeyword(tok, "udf") && IsSymbol(Peek(1), ".")) {
      // udf.NAME(args): a call of the container's user-defined function NAME.
      const Token& name = Peek(2);
      if (name.kind != TokenKind::kIdentifier || !IsSymbol(Peek(3), "(")) {
        SetError("expected udf.NAME(arguments)");
        return nullptr;
      }
      Next();
      Next();
      Next();
      Next();
      DepthGuard guard(this);
      if (!guard.ok) return nullptr;
      ExprPtr e = NewExpr(ExprKind::kCall, tok);
      e->name = "udf." + name.text;
      if (!AcceptSymbol(")")) {
        do {
          ExprPtr a = ParseExpr();
          if (!a) return nullptr;
          e->args.push_back(std::move(a));
        } while (AcceptSymbol(","));
        if (!ExpectSymbol(")", "to close the argument list")) return nullptr;
      }
      return e;
    }
    if (IsReserved(tok.text)) {
      SetError("the keyword " + tok.text + " cannot start an expression");
      return nullptr;
    }
    Next();
    if (IsSymbol(Peek(), "(")) {
      DepthGuard guard(this);
      if (!guard.ok) return nullptr;
      Next();
      ExprPtr e = NewExpr(ExprKind::kCall, tok);
      e->name = tok.text;
      if (!AcceptSymbol(")")) {
        do {
          ExprPtr a = ParseExpr();
          if (!a) return nullptr;
          e->args.push_back(std::move(a));
        } while (AcceptSymbol(","));
        if (!ExpectSymbol(")", "to close the argument list")) return nullptr;
      }
      return e;
    }
    ExprPtr e = NewExpr(ExprKind::kName, tok);
    e->name = tok.text;
    return e;
  }

  ExprPtr ParseSymbolPrimary() {
    const Token& tok = Peek();
    if (IsSymbol(tok, "(")) {
      DepthGuard guard(this);
      if (!guard.ok) return nullptr;
      if (IsKeyword(Peek(1), "SELECT")) {
        Next();
        auto sub = ParseQueryBody();
        if (!sub.ok()) return nullptr;
        if (!ExpectSymbol(")", "to close the subquery")) return nullptr;
        ExprPtr e = NewExpr(ExprKind::kSubquery, tok);
        e->subquery = std::move(*sub);
        return e;
      }
      Next();
      ExprPtr e = ParseExpr();
      if (!e) return nullptr;
      if (!ExpectSymbol(")", "to close the parenthesis")) return nullptr;
      return e;
    }
    if (IsSymbol(tok, "[")) {
      DepthGuard guard(this);
      if (!guard.ok) return nullptr;
      Next();
      ExprPtr e = NewExpr(ExprKind::kArray, tok);
      if (!AcceptSymbol("]")) {
        do {
          ExprPtr a = ParseExpr();
          if (!a) return nullptr;
          e->args.push_back(std::move(a));
        } while (AcceptSymbol(","));
        if (!ExpectSymbol("]", "to close the array")) return nullptr;
      }
      return e;
    }
    if (IsSymbol(tok, "{")) {
      DepthGuard guard(this);
      if (!guard.ok) return nullptr;
      Next();
      ExprPtr e = NewExpr(ExprKind::kObject, tok);
      if (!AcceptSymbol("}")) {
        do {
          const Token& key = Peek();
          if (key.kind != TokenKind::kString && key.kind != TokenKind::kIdentifier) {
            SetError("expected a property name in the object");
            return nullptr;
          }
          std::string name = Next().text;
          if (std::find(e->keys.begin(), e->keys.end(), name) != e->keys.end()) {
            SetErrorAt(key, "the object has the property '" + name + "' twice");
            return nullptr;
          }
          if (!ExpectSymbol(":", "after the property name")) return nullptr;
          ExprPtr v = ParseExpr();
          if (!v) return nullptr;
          e->keys.push_back(std::move(name));
          e->args.push_back(std::move(v));
        } while (AcceptSymbol(","));
        if (!ExpectSymbol("}", "to close the object")) return nullptr;
      }
      return e;
    }
    SetError("expected an expression");
    return nullptr;
  }

  std::vector<Token> t_;
  size_t pos_ = 0;
  int depth_ = 0;
  std::string error_;
};

}  // namespace

Result<std::unique_ptr<Query>> ParseQuery(std::string_view text) {
  auto tokens = Tokenize(text);
  if (!tokens.ok()) return tokens.status();
  Parser p(std::move(*tokens));
  return p.ParseTopLevel();
}

Result<std::unique_ptr<Query>> ParseCondition(std::string_view text) {
  auto tokens = Tokenize(text);
  if (!tokens.ok()) return tokens.status();
  Parser p(std::move(*tokens));
  return p.ParseConditionTopLevel();
}

}  // namespace regionlab::query
