// TestRegion: one region's data plane in-process, for tests that call
// server::HandleDataPlane as a plain function (no sockets, no threads).
//
// It owns a FakeClock, an in-memory Store and the RegionContext wired to them,
// and builds requests signed the way the Cosmos SDKs sign them (master key,
// x-ms-date from the fake clock). Not thread-safe; one per test.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "server/http_types.h"
#include "server/region_context.h"
#include "storage/store.h"
#include "tests/support/fake_clock.h"

namespace regionlab::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

class TestRegion {
 public:
  struct Options {
    // Short Azure names of the account's regions, by id (index).
    std::vector<std::string> account_regions = {"uksouth"};
    // Which of them this region is.
    uint32_t self_id = 0;
  };

  // Opens an in-memory store; fails only if RocksDB does.
  static Result<std::unique_ptr<TestRegion>> Create(const Options& options);
  static Result<std::unique_ptr<TestRegion>> Create() { return Create(Options()); }
  ~TestRegion();
  TestRegion(const TestRegion&) = delete;
  TestRegion& operator=(const TestRegion&) = delete;

  server::RegionContext& context() { return context_; }
  storage::Store& store() { return *store_; }
  FakeClock& clock() { return clock_; }

  // A request for `method` on the decoded `path` ("/dbs/d/colls/c/docs"),
  // signed with the account key and dated by the fake clock. `headers` names
  // must be lower-case; they are added after the signing headers.
  server::HttpRequest Request(std::string method, std::string path, std::string body = "",
                              const Headers& headers = {}) const;
  // The same, unsigned: no authorization and no x-ms-date.
  server::HttpRequest UnsignedRequest(std::string method, std::string path, std::string body = "",
                                      const Headers& headers = {}) const;

  // Runs the request through server::HandleDataPlane.
  server::HttpResponse Send(server::HttpRequest& request);
  // Request + Send.
  server::HttpResponse Call(std::string method, std::string path, std::string body = "",
                            const Headers& headers = {});

 private:
  TestRegion() = default;
  FakeClock clock_;
  std::unique_ptr<storage::Store> store_;
  server::RegionContext context_;
};

// The value of the first response header named `name` (case-insensitive), or
// nullptr.
const std::string* FindHeader(const server::HttpResponse& response, std::string_view name);

}  // namespace regionlab::testing
