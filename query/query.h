// The Cosmos DB NoSQL query engine: the public face of server/query.
//
//   auto spec = ParseQuerySpec(request_body);            // {"query", "parameters"}
//   auto prepared = PreparedQuery::Prepare(*spec);       // parse, bind, plan; 400 on errors
//   auto pk = prepared->PartitionKeyEquality(paths);     // narrow the scan when WHERE pins the key
//   auto page = ExecutePage(*prepared, source, request); // one page + continuation
//
// Rows come from a RowSource: JSON texts in a stable order of opaque position
// keys (for documents, their storage keys). The engine streams them; only
// ORDER BY (a bounded top-k per page), GROUP BY, aggregates and DISTINCT
// hold rows in memory.
//
// Continuations are opaque to clients and mean the same thing on every
// region: a position in the source's key order plus a count of rows already
// returned from it (streaming), the sort key of the last row returned
// (ORDER BY), or an offset into the deterministic result (buffered). They
// are bound to the query text, parameters and scope that produced them.
//
// Thread-safety: a PreparedQuery is immutable and may be executed by several
// threads at once; each ExecutePage call uses its own evaluation state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "query/budget.h"
#include "query/value.h"

namespace regionlab::query {

struct CompiledQuery;
class UdfCaller;  // query/functions.h

// A source of input rows for the outermost FROM. Implementations must return
// rows in ascending position order and be safe to call from the executing
// thread; they need not be thread-safe otherwise.
class RowSource {
 public:
  virtual ~RowSource() = default;
  // fn(position, json) returns false to stop the scan.
  using RowFn = std::function<bool(std::string_view position, std::string&& json)>;
  // Visits the rows after `start_after` (exclusive; empty: from the first).
  virtual Status Scan(std::string_view start_after, const RowFn& fn) const = 0;
  // The row at exactly `position`, or nullopt if it no longer exists.
  virtual Result<std::optional<std::string>> Get(std::string_view position) const = 0;
};

// A RowSource over rows held in memory (tests, small feeds).
class VectorRowSource final : public RowSource {
 public:
  void Add(std::string position, std::string json) { rows_[std::move(position)] = std::move(json); }
  Status Scan(std::string_view start_after, const RowFn& fn) const override;
  Result<std::optional<std::string>> Get(std::string_view position) const override;

 private:
  std::map<std::string, std::string, std::less<>> rows_;
};

using Parameters = std::vector<std::pair<std::string, Value>>;

struct QuerySpec {
  std::string text;
  Parameters parameters;  // "@name" -> value
};

// Reads a query request body: {"query": "...", "parameters": [{"name": "@x",
// "value": ...}]}. 400 when it is not of that shape.
Result<QuerySpec> ParseQuerySpec(std::string_view body);

class PreparedQuery {
 public:
  // Parses, binds and plans a query. 400 with line and column on errors.
  static Result<PreparedQuery> Prepare(const QuerySpec& spec);
  // A patch condition: "FROM c WHERE <expr>" (or a full SELECT).
  static Result<PreparedQuery> PrepareCondition(std::string_view condition);

  PreparedQuery(PreparedQuery&&) noexcept;
  PreparedQuery& operator=(PreparedQuery&&) noexcept;
  ~PreparedQuery();

  // See compiler.h: the partition key values pinned by the WHERE clause.
  std::optional<std::vector<Value>> PartitionKeyEquality(
      const std::vector<std::string>& pk_paths) const;

  // True when the query yields at least one row for the single document
  // `json` (conditional patch).
  Result<bool> Matches(std::string_view json, int64_t now_micros) const;

  const CompiledQuery& compiled() const { return *compiled_; }
  // Identifies the text and parameters; part of every continuation.
  const std::string& fingerprint() const { return fingerprint_; }

 private:
  PreparedQuery(std::unique_ptr<CompiledQuery> compiled, std::string fingerprint);
  std::unique_ptr<CompiledQuery> compiled_;
  std::string fingerprint_;
};

struct PageRequest {
  // Most documents in the page; <= 0: no count limit. Default: 100 (the
  // Cosmos DB default when x-ms-max-item-count is absent).
  int64_t max_items = 100;
  // Stop adding documents once the page holds this many bytes (a page always
  // holds at least one document). Default: 4 MiB.
  size_t max_bytes = 4 * 1024 * 1024;
  // The x-ms-continuation of the previous page; empty for the first page.
  std::string continuation;
  // Names what the source covers (container, partition), so a continuation
  // cannot be replayed against another scope. Default: empty.
  std::string scope;
  // "Now" for GetCurrentDateTime and friends: the region's clock.
  int64_t now_micros = 0;
  // What the page may spend (query/budget.h). When a streaming query runs
  // out, the page ends early with a continuation (as Cosmos DB does after 5
  // seconds); a query that must see every row (ORDER BY, GROUP BY,
  // aggregates, DISTINCT) or one document whose JOINs alone exceed the
  // budget gets a 400 instead.
  BudgetLimits limits;
  // Runs udf.NAME(...) calls; null: such a query fails with 400. Must
  // outlive the call.
  UdfCaller* udfs = nullptr;
};

struct Page {
  std::vector<std::string> documents;  // JSON texts, in result order
  std::string continuation;            // empty: there are no more results
  uint64_t rows_scanned = 0;           // input rows read for this page
  uint64_t rows_evaluated = 0;         // FROM/JOIN tuples evaluated (the budget's unit)
  bool budget_exhausted = false;       // the page ended early; `continuation` resumes it
};

// Runs one page of `query` over `source`. 400 for a malformed continuation.
Result<Page> ExecutePage(const PreparedQuery& query, const RowSource& source,
                         const PageRequest& request);

// x-ms-max-item-count: absent -> 100, -1 (or any value <= 0) -> no limit.
// 400 when it is not an integer.
Result<int64_t> ParseMaxItemCount(const std::string* header);

// {"_rid": rid, "<array_name>": [docs...], "_count": n}
std::string FeedBody(std::string_view rid, std::string_view array_name,
                     const std::vector<std::string>& documents);

}  // namespace regionlab::query
