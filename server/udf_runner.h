// UdfRunner: runs the udf.NAME(...) calls of one query page in the
// JavaScript sandbox (scripting/). The first call starts one sandbox process
// for the page, which then answers every call of the page in turn (a driver
// procedure asks for the next call through the DataAccess channel and hands
// back the result), so a page pays for one process however many rows it
// calls a function on. The process runs under the page's time budget and the
// sandbox's memory budget: a function that loops forever or allocates
// without bound fails the query with 400 naming it, and the process is gone
// before the page returns. Functions see no data, no clock, no randomness.
//
// Thread-safety: Call() from one thread (the query's); the sandbox runs on a
// thread of the runner's own, joined by the destructor.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/status.h"
#include "query/functions.h"

namespace regionlab::storage {
class Store;
}

namespace regionlab::server {

class UdfRunner final : public query::UdfCaller {
 public:
  // `sources`: function name -> its JavaScript ("function f(x) { ... }").
  // `budget_ms`: wall time for the whole page's calls.
  UdfRunner(std::map<std::string, std::string> sources, int64_t budget_ms);
  ~UdfRunner() override;
  UdfRunner(const UdfRunner&) = delete;
  UdfRunner& operator=(const UdfRunner&) = delete;

  query::Value Call(const std::string& name, const query::Value* args, int n) override;
  const Status& status() const override { return status_; }

  // Calls made (for tests).
  int calls() const { return calls_; }

 private:
  class Channel;
  void Fail(Status s);

  std::map<std::string, std::string> sources_;
  int64_t budget_ms_;
  Status status_;
  int calls_ = 0;

  // Shared with the sandbox thread, under mu_.
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::string> request_;  // the next call, {"n": name, "a": [args]}
  std::optional<std::string> reply_;    // its result, {"v": value} | {"u": true} | {"e": "text"}
  bool closing_ = false;                // the page is done: the driver returns
  bool ended_ = false;                  // the sandbox run is over
  Status run_status_;                   // how it ended
  std::unique_ptr<Channel> channel_;
  std::thread session_;
};

// The user-defined functions of container `coll_rid_bytes` (name -> source).
Result<std::map<std::string, std::string>> LoadUdfSources(const storage::Store& store,
                                                          const std::string& coll_rid_bytes);

}  // namespace regionlab::server
