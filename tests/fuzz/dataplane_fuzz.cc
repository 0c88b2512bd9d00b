// Fuzz target for a region's data plane as a client reaches it: the first
// byte picks what the rest is — a document body (create), patch operations,
// a query body, or a whole raw HTTP request parsed by Beast and handed to the
// data plane — signed with the account key, against an in-memory region. Any
// input must give a well-formed HTTP answer (status 2xx-5xx, JSON body for
// errors), never a crash, a hang or a stack overflow.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "server/data_plane.h"
#include "tests/support/test_region.h"

namespace {

using regionlab::testing::TestRegion;

TestRegion& Region() {
  static std::unique_ptr<TestRegion> region = [] {
    auto r = std::move(TestRegion::Create()).value();
    r->Call("POST", "/dbs", R"({"id":"d"})");
    r->Call("POST", "/dbs/d/colls", R"({"id":"c","partitionKey":{"paths":["/pk"],"kind":"Hash"}})");
    r->Call("POST", "/dbs/d/colls/c/docs", R"({"id":"p","pk":"a","n":1,"o":{"x":[1,2]}})",
            {{"x-ms-documentdb-partitionkey", R"(["a"])"}});
    return r;
  }();
  return *region;
}

void Check(const regionlab::server::HttpResponse& r) {
  if (r.status < 200 || r.status > 599) std::abort();
  if (r.status >= 400 && nlohmann::json::parse(r.body, nullptr, false).is_discarded()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  TestRegion& region = Region();
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const regionlab::testing::Headers pk = {{"x-ms-documentdb-partitionkey", R"(["a"])"}};
  switch (data[0] % 4) {
    case 0:
      Check(region.Call("POST", "/dbs/d/colls/c/docs", body, {{"x-ms-documentdb-partitionkey", R"(["a"])"},
                                                               {"x-ms-documentdb-is-upsert", "true"}}));
      break;
    case 1:
      Check(region.Call("PATCH", "/dbs/d/colls/c/docs/p", body, pk));
      break;
    case 2:
      Check(region.Call("POST", "/dbs/d/colls/c/docs", body,
                        {{"x-ms-documentdb-isquery", "true"}, {"content-type", "application/query+json"}}));
      break;
    case 3: {
      namespace http = boost::beast::http;
      http::request_parser<http::string_body> parser;
      parser.header_limit(64 * 1024);
      parser.body_limit(1 << 20);
      boost::beast::error_code ec;
      parser.put(boost::asio::buffer(body), ec);
      if (!ec) parser.put_eof(ec);
      if (ec || !parser.is_done()) break;
      auto msg = parser.release();
      auto req = region.Request(std::string(msg.method_string()), std::string(msg.target()), msg.body());
      for (const auto& f : msg) {
        std::string name(f.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (name != "authorization" && name != "x-ms-date") req.headers.emplace_back(name, std::string(f.value()));
      }
      Check(region.Send(req));
      break;
    }
  }
  return 0;
}
