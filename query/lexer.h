// Lexer for the Cosmos DB NoSQL query dialect.
//
// Tokens carry their 1-based line and column so that every syntax error can
// say where it is. Keywords are not a separate token kind: they are
// identifiers, recognised case-insensitively by the parser, which lets a
// keyword serve as a property name after '.' (c.value, c.order).
//
//   identifier := [A-Za-z_][A-Za-z0-9_]*
//   parameter  := '@' identifier
//   number     := digits ['.' digits*] [exponent] | '.' digits [exponent]
//                 | '0x' hexdigits
//   string     := '"' ... '"' | '\'' ... '\''   (JSON escapes, plus \')
//   comment    := '--' to end of line
//   symbols    := ( ) [ ] { } , . : ? ?? * / % + - = != <> < <= > >= & | ^ ~ ||
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace regionlab::query {

enum class TokenKind { kEnd, kIdentifier, kParameter, kNumber, kString, kSymbol };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;   // identifier/parameter name (with '@'), decoded string, symbol, number text
  double number = 0;  // kNumber
  int line = 1;
  int column = 1;
};

// Splits `query` into tokens, the last one kEnd. A 400 with line and column
// when the text holds something that is no token (an unterminated string, a
// stray character).
Result<std::vector<Token>> Tokenize(std::string_view query);

// "line 2, column 7"
std::string Where(int line, int column);

}  // namespace regionlab::query
