// Recursive-descent parser for the Cosmos DB NoSQL query dialect.
//
//   query      := SELECT [DISTINCT] [TOP n] selection [FROM from] [WHERE expr]
//                 [GROUP BY expr, ...] [ORDER BY expr [ASC|DESC], ...]
//                 [OFFSET n LIMIT m]                  n, m: number or @parameter
//   selection  := '*' | VALUE expr | expr [[AS] name], ...
//   from       := source (JOIN source)*
//   source     := name IN collection | collection [[AS] name]
//   collection := name ('.' name | '[' number ']' | '[' string ']')* | '(' query ')'
//   condition  := FROM from [WHERE expr]            (a conditional patch)
//
//   expr       := coalesce ['?' expr ':' expr]
//   coalesce   := or ['??' coalesce]
//   or         := and (OR and)*
//   and        := not (AND not)*
//   not        := NOT not | predicate
//   predicate  := concat [[NOT] IN '(' expr, ... ')' | [NOT] BETWEEN concat AND concat
//                 | [NOT] LIKE concat [ESCAPE string]]
//   concat     := bitor ('||' bitor)*
//   bitor      := bitxor ('|' bitxor)*      bitxor := bitand ('^' bitand)*
//   bitand     := equality ('&' equality)*
//   equality   := relation (('=' | '!=' | '<>') relation)*
//   relation   := additive (('<' | '<=' | '>' | '>=') additive)*
//   additive   := term (('+' | '-') term)*
//   term       := unary (('*' | '/' | '%') unary)*
//   unary      := ('-' | '+' | '~' | NOT) unary | postfix
//   postfix    := primary ('.' name | '[' expr ']')*
//   primary    := literal | @param | name | [udf.]name '(' args ')' | '[' exprs ']'
//                 | '{' (name|string) ':' expr, ... '}' | '(' expr ')' | '(' query ')'
//                 | EXISTS '(' query ')' | ARRAY '(' query ')' | FIRST|LAST '(' query ')'
//   literal    := number | string | true | false | null | undefined
//
// Keywords are case-insensitive. The binary operator levels follow the Cosmos
// DB grammar (string concatenation binds loosest); NOT follows SQL: it binds
// looser than comparisons, so NOT c.a = 1 means NOT (c.a = 1).
#pragma once

#include <memory>
#include <string_view>

#include "base/status.h"
#include "query/ast.h"

namespace regionlab::query {

// Parses a full query. 400 with line and column on a syntax error.
Result<std::unique_ptr<Query>> ParseQuery(std::string_view text);

// Parses a patch condition "FROM c WHERE ..." into a query equivalent to
// "SELECT VALUE true FROM c WHERE ...". A full "SELECT ... FROM c WHERE ..."
// is accepted too.
Result<std::unique_ptr<Query>> ParseCondition(std::string_view text);

}  // namespace regionlab::query
