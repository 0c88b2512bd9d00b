// The compiler: binds a parsed query (names to slots, parameters to values,
// function names to built-ins, aggregates to slots) and plans its execution.
//
// Planning decides, for the outermost query:
//  - the execution mode: streaming (rows leave in scan order), ordered
//    (ORDER BY: a bounded top-k per page, continued by keyset), or buffered
//    (GROUP BY, aggregates, DISTINCT: the whole result is computed, then paged);
//  - which paths of an input document the query reads (documents are parsed
//    only that far);
//  - whether the output is the input document verbatim (SELECT * FROM c,
//    SELECT VALUE c), so the stored text is returned without re-rendering;
//  - which partition key values the WHERE clause pins by equality.
//
// Internal to server/query.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "query/ast.h"
#include "query/value.h"

namespace regionlab::query {

enum class Mode { kStreaming, kOrdered, kBuffered };

struct CompiledQuery {
  std::unique_ptr<Query> query;
  int num_slots = 0;
  Mode mode = Mode::kStreaming;
  PathSet need;                   // paths of the input document the query reads
  bool raw_output = false;        // each output row is the input document's text
  int root_slot = -1;             // slot of the first FROM source of the outermost query
  bool root_is_document = false;  // that source is the input document itself
};

using Parameters = std::vector<std::pair<std::string, Value>>;

// Binds and plans `query`. 400 with line and column on a semantic error
// (unknown alias, function or parameter, a misplaced aggregate, ...).
Result<std::unique_ptr<CompiledQuery>> Compile(std::unique_ptr<Query> query,
                                               const Parameters& params);

// Values of `pk_paths` ("/tenant", "/a/b") when the WHERE clause of the
// outermost query requires `c.<path> = <scalar literal or parameter>` for
// every one of them (in a top-level AND chain); nullopt otherwise.
std::optional<std::vector<Value>> PartitionKeyEquality(const CompiledQuery& q,
                                                       const std::vector<std::string>& pk_paths);

}  // namespace regionlab::query
