// scripting: runs Cosmos-style JavaScript stored procedures (and merge
// procedures) in an embedded Duktape engine, isolated in a short-lived child
// process so that a procedure that loops forever or allocates without bound
// can be stopped: the parent kills the child when the time budget runs out,
// and the child's allocator refuses memory beyond the memory budget.
//
// The procedure reaches data only through DataAccess, which the parent
// implements; the child asks for every read and write over a socket, so the
// parent's store is never touched from the child. A procedure sees no clock
// (Date throws) and no randomness (Math.random throws).
//
// Processes: procedure processes are forked (never exec'd) by a small helper
// process, itself forked from the server once; forking the server per run
// would cost in proportion to its memory (see spawn.h). Call StartHelper()
// early in main, while the process is still small; otherwise the first Run
// starts the helper from wherever the server is by then. If the helper
// cannot be used, Run forks the server directly. Either way every procedure
// process is killed and gone before Run returns.
//
// The JavaScript API (getContext(), __, console.log) follows the Cosmos
// server-side API; see child.cc for the exact surface. The language is what
// Duktape 2.7 compiles: ES5.1 plus some ES2015 built-ins (no arrow
// functions, let, classes or template literals).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace regionlab::scripting {

struct Budget {
  // Wall time for the whole run: starting the process, the procedure, and
  // the DataAccess calls it makes (a DataAccess call is not interrupted; the
  // run fails after it when the time is up).
  int64_t time_ms = 1000;
  // Heap the JavaScript engine may hold, counted by its allocator. The engine
  // and the API take ~130 KB of it before the procedure starts, so budgets
  // below ~150 KB always fail with TooLarge.
  size_t memory_bytes = 64u * 1024 * 1024;
};

// What getContext().getCollection() reaches. All calls concern one container
// and one partition key; documents are JSON texts. A document is named by
// `ref`: the last segment of the link the procedure passed (after "docs/",
// trailing slash removed), which is either the document's id (links like
// "dbs/d/colls/c/docs/invoice-1") or its _rid (links taken from `_self`);
// the implementation resolves both. Implementations should buffer writes and
// commit them only when Run succeeds: a stored procedure is a transaction.
// Implementations return
// Cosmos-shaped Status errors (NotFound, Conflict, PreconditionFailed,
// BadRequest...), which the procedure's callback sees as
// err = {number: <http status>, message: <text>}.
class DataAccess {
 public:
  virtual ~DataAccess() = default;
  // "dbs/<db>/colls/<coll>" (what getSelfLink() returns).
  virtual std::string SelfLink() const = 0;
  // The document with this id, or nullopt when there is none.
  virtual Result<std::optional<std::string>> Read(const std::string& ref) = 0;
  // Runs a query ({"query": "...", "parameters": [...]}, as JSON text);
  // returns the matching documents (or projected values) as JSON texts.
  virtual Result<std::vector<std::string>> Query(const std::string& query_spec_json) = 0;
  // Each returns the stored document (with system properties) as JSON.
  virtual Result<std::string> Create(const std::string& doc_json) = 0;
  virtual Result<std::string> Upsert(const std::string& doc_json) = 0;
  virtual Result<std::string> Replace(const std::string& ref, const std::string& doc_json,
                                      const std::optional<std::string>& if_match_etag) = 0;
  virtual Status Delete(const std::string& ref,
                        const std::optional<std::string>& if_match_etag) = 0;
};

struct Outcome {
  // What getContext().getResponse().setBody(...) was given last, as JSON;
  // "null" if it was never called.
  std::string body_json = "null";
  // Text passed to console.log (joined with newlines), for diagnostics.
  std::string log;
};

// Runs `source` — a stored procedure body: a function declaration
// (`function name(a, b) {...}`) or expression — by calling that function with
// the elements of `args_json` (a JSON array) as arguments.
//
// Errors (Status codes):
//   BadRequest   the source does not compile, is not a function, the
//                arguments are not a JSON array, or the procedure threw
//                (message holds the JavaScript error text);
//   Unavailable  the time budget ran out (the child was killed) — message
//                says "time budget";
//   TooLarge     the memory budget ran out;
//   Internal     the child could not be started or died otherwise (also
//                Unavailable if the helper process is stuck).
// The BadRequest message for a thrown value reads "Encountered exception
// while executing JavaScript. Exception = <text>", where <text> is
// String(error) (e.g. "Error: boom"), with " (status N)" for errors that
// carry a Cosmos status and " (line N)" for errors raised in the procedure.
// A DataAccess error that the procedure does not handle (it throws from its
// callback) surfaces as BadRequest with the thrown text.
//
// DataAccess errors reach the procedure as an Error with err.number = the
// HTTP status of the Status code (404, 409, 412, 400, 413, 429, 503, 500...),
// err.message = the Status message and err.body = the JSON text
// {"code": <StatusCodeName>, "message": ...}; a Read that finds nothing is a
// 404. With no callback, the collection method throws that Error. DataAccess
// methods are called on the thread that called Run, one at a time, only while
// Run runs. Run is safe to call from several threads at once.
Result<Outcome> Run(std::string_view source, std::string_view args_json, DataAccess& data,
                    const Budget& budget = {});

// Starts the helper process that forks procedure processes, if it is not
// running. Optional; cheapest when called early in main, before the server
// grows (opening stores, starting threads). Safe to call more than once.
void StartHelper();

}  // namespace regionlab::scripting
