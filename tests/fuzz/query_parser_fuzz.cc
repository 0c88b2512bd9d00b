// libFuzzer target for the query front end: any byte string must produce a
// query or a 400, never a crash, a hang or unbounded recursion. Inputs that
// compile are also run once (no FROM source: an empty one) to exercise the
// binder, the planner and the evaluator on odd trees.
//
//   build/tests/fuzz/query_parser_fuzz -max_total_time=60 tests/fuzz/corpus
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "query/query.h"

// An input "<query>\x01<continuation>" also feeds a forged continuation to the
// query, which must be refused or honoured, never trusted blindly.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace regionlab::query;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view text = input.substr(0, input.find('\x01'));
  std::string_view forged =
      text.size() < input.size() ? input.substr(text.size() + 1) : std::string_view();
  auto prepared = PreparedQuery::Prepare({std::string(text), {{"@p", Value::Number(1)}}});
  if (prepared.ok()) {
    VectorRowSource source;
    source.Add("k1", R"({"id":"a","n":1,"tags":["x",2,null],"o":{"p":[1,{"q":"r"}]}})");
    source.Add("k2", R"({"id":"b","n":"2","tags":[],"o":null})");
    PageRequest req;
    req.max_items = 1;
    auto page = ExecutePage(*prepared, source, req);
    if (page.ok() && !page->continuation.empty()) {
      req.continuation = page->continuation;
      (void)ExecutePage(*prepared, source, req);
    }
    if (!forged.empty()) {
      req.continuation = std::string(forged);
      (void)ExecutePage(*prepared, source, req);
    }
  }
  (void)PreparedQuery::PrepareCondition(text);
  return 0;
}
