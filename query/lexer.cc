#include "query/lexer.h"

#include <charconv>
#include <cmath>
#include <cstring>

#include "query/value.h"

namespace regionlab::query {

std::string Where(int line, int column) {
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

namespace {

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  explicit Lexer(std::string_view q) : q_(q) {}

  Result<std::vector<Token>> Run() {
    std::vector<Token> out;
    while (true) {
      SkipSpaceAndComments();
      Token t;
      t.line = line_;
      t.column = column_;
      if (i_ >= q_.size()) {
        t.kind = TokenKind::kEnd;
        out.push_back(std::move(t));
        return out;
      }
      char c = q_[i_];
      if (IsIdentStart(c)) {
        size_t start = i_;
        while (i_ < q_.size() && IsIdentChar(q_[i_])) Advance();
        t.kind = TokenKind::kIdentifier;
        t.text.assign(q_.substr(start, i_ - start));
      } else if (c == '@') {
        size_t start = i_;
        Advance();
        if (i_ >= q_.size() || !IsIdentChar(q_[i_])) {
          return Error(t, "'@' must be followed by a parameter name such as @id");
        }
        while (i_ < q_.size() && IsIdentChar(q_[i_])) Advance();
        t.kind = TokenKind::kParameter;
        t.text.assign(q_.substr(start, i_ - start));
      } else if (IsDigit(c) || (c == '.' && i_ + 1 < q_.size() && IsDigit(q_[i_ + 1]))) {
        Status s = ReadNumber(&t);
        if (!s.ok()) return s;
      } else if (c == '"' || c == '\'') {
        Status s = ReadString(&t);
        if (!s.ok()) return s;
      } else {
        static const char* kSymbols[] = {"??", "!=", "<>", "<=", ">=", "||", "(", ")", "[", "]",
                                         "{",  "}",  ",",  ".",  ":",  "?",  "*", "/", "%", "+",
                                         "-",  "=",  "<",  ">",  "&",  "|",  "^", "~"};
        bool found = false;
        for (const char* sym : kSymbols) {
          size_t n = std::strlen(sym);
          if (q_.compare(i_, n, sym) == 0) {
            t.kind = TokenKind::kSymbol;
            t.text = sym;
            for (size_t k = 0; k < n; ++k) Advance();
            found = true;
            break;
          }
        }
        if (!found) {
          std::string shown =
              (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
                  ? "character code " + std::to_string(static_cast<unsigned char>(c))
                  : std::string("'") + c + "'";
          return Error(t, "unexpected " + shown);
        }
      }
      out.push_back(std::move(t));
    }
  }

 private:
  Status Error(const Token& at, const std::string& what) const {
    return Status::BadRequest("Syntax error at " + Where(at.line, at.column) + ": " + what + ".");
  }

  void Advance() {
    if (q_[i_] == '\n') {
      ++line_;
      column_ = 1;
    } else if ((static_cast<unsigned char>(q_[i_]) & 0xC0) != 0x80) {
      ++column_;  // count characters, not UTF-8 continuation bytes
    }
    ++i_;
  }

  void SkipSpaceAndComments() {
    while (i_ < q_.size()) {
      char c = q_[i_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        Advance();
      } else if (c == '-' && i_ + 1 < q_.size() && q_[i_ + 1] == '-') {
        while (i_ < q_.size() && q_[i_] != '\n') Advance();
      } else {
        return;
      }
    }
  }

  Status ReadNumber(Token* t) {
    size_t start = i_;
    t->kind = TokenKind::kNumber;
    if (q_[i_] == '0' && i_ + 1 < q_.size() && (q_[i_ + 1] == 'x' || q_[i_ + 1] == 'X')) {
      Advance();
      Advance();
      double v = 0;
      size_t digits = 0;
      while (i_ < q_.size() && HexValue(q_[i_]) >= 0) {
        v = v * 16 + HexValue(q_[i_]);
        Advance();
        ++digits;
      }
      if (digits == 0) return Error(*t, "'0x' must be followed by hexadecimal digits");
      t->number = v;
    } else {
      while (i_ < q_.size() && IsDigit(q_[i_])) Advance();
      if (i_ < q_.size() && q_[i_] == '.') {
        Advance();
        while (i_ < q_.size() && IsDigit(q_[i_])) Advance();
      }
      if (i_ < q_.size() && (q_[i_] == 'e' || q_[i_] == 'E')) {
        size_t save_i = i_;
        int save_line = line_, save_col = column_;
        Advance();
        if (i_ < q_.size() && (q_[i_] == '+' || q_[i_] == '-')) Advance();
        if (i_ < q_.size() && IsDigit(q_[i_])) {
          while (i_ < q_.size() && IsDigit(q_[i_])) Advance();
        } else {
          i_ = save_i;  // "1e" followed by no digits: the 'e' starts the next token
          line_ = save_line;
          column_ = save_col;
        }
      }
      std::string text(q_.substr(start, i_ - start));
      if (text[0] == '.') text.insert(text.begin(), '0');
      if (text.back() == '.') text.push_back('0');
      double v = 0;
      auto r = std::from_chars(text.data(), text.data() + text.size(), v);
      if (r.ec != std::errc() || !std::isfinite(v)) {
        return Error(
            *t, "the number '" + std::string(q_.substr(start, i_ - start)) + "' is out of range");
      }
      t->number = v;
    }
    if (i_ < q_.size() && IsIdentStart(q_[i_])) {
      return Error(*t, "a number must not run into a name ('" +
                           std::string(q_.substr(start, i_ - start + 1)) + "')");
    }
    t->text.assign(q_.substr(start, i_ - start));
    return Status::Ok();
  }

  Status ReadString(Token* t) {
    char quote = q_[i_];
    Advance();
    t->kind = TokenKind::kString;
    std::string& s = t->text;
    while (true) {
      if (i_ >= q_.size()) return Error(*t, "unterminated string literal");
      char c = q_[i_];
      if (c == quote) {
        Advance();
        return Status::Ok();
      }
      if (c == '\\') {
        int line = line_, col = column_;
        Advance();
        if (i_ >= q_.size()) return Error(*t, "unterminated string literal");
        char e = q_[i_];
        Advance();
        switch (e) {
          case '"':
            s.push_back('"');
            break;
          case '\'':
            s.push_back('\'');
            break;
          case '\\':
            s.push_back('\\');
            break;
          case '/':
            s.push_back('/');
            break;
          case 'b':
            s.push_back('\b');
            break;
          case 'f':
            s.push_back('\f');
            break;
          case 'n':
            s.push_back('\n');
            break;
          case 'r':
            s.push_back('\r');
            break;
          case 't':
            s.push_back('\t');
            break;
          case 'u': {
            uint32_t cp = 0;
            for (int k = 0; k < 4; ++k) {
              if (i_ >= q_.size() || HexValue(q_[i_]) < 0) {
                return Status::BadRequest("Syntax error at " + Where(line, col) +
                                          ": \\u must be followed by four hexadecimal digits.");
              }
              cp = cp * 16 + static_cast<uint32_t>(HexValue(q_[i_]));
              Advance();
            }
            if (cp >= 0xD800 && cp < 0xDC00 && i_ + 5 < q_.size() && q_[i_] == '\\' &&
                q_[i_ + 1] == 'u') {
              uint32_t lo = 0;
              bool ok = true;
              for (int k = 0; k < 4; ++k) {
                int h = HexValue(q_[i_ + 2 + k]);
                if (h < 0) ok = false;
                lo = lo * 16 + static_cast<uint32_t>(h < 0 ? 0 : h);
              }
              if (ok && lo >= 0xDC00 && lo < 0xE000) {
                for (int k = 0; k < 6; ++k) Advance();
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
              }
            }
            if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;
            AppendUtf8(&s, cp);
            break;
          }
          default:
            return Status::BadRequest("Syntax error at " + Where(line, col) +
                                      ": invalid escape sequence '\\" + std::string(1, e) +
                                      "' in a string literal.");
        }
        continue;
      }
      s.push_back(c);
      Advance();
    }
  }

  std::string_view q_;
  size_t i_ = 0;
  int line_ = 1;
  int column_ = 1;
};

}  // namespace

Result<std::vector<Token>> Tokenize(std::string_view query) { return Lexer(query).Run(); }

}  // namespace regionlab::query
