#include "tests/support/test_region.h"

#include "base/cosmos_auth.h"
#include "base/encoding.h"
#include "server/data_plane.h"

namespace regionlab::testing {

Result<std::unique_ptr<TestRegion>> TestRegion::Create(const Options& options) {
  if (options.self_id >= options.account_regions.size()) {
    return Status::BadRequest("self_id is not an index of account_regions");
  }
  std::unique_ptr<TestRegion> region(new TestRegion());
  storage::StoreOptions store_options;
  store_options.in_memory = true;
  store_options.region_id = options.self_id;
  auto store = storage::Store::Open(store_options, region->clock_);
  if (!store.ok()) return store.status();
  region->store_ = std::move(store).value();

  server::RegionContext& ctx = region->context_;
  for (uint32_t i = 0; i < options.account_regions.size(); ++i) {
    server::RegionInfo info;
    info.name = options.account_regions[i];
    info.display_name = server::DisplayNameFor(info.name);
    info.id = i;
    info.endpoint = "http://127.0.0.1:" + std::to_string(18081 + i) + "/";
    ctx.account_regions.push_back(info);
  }
  ctx.self = ctx.account_regions[options.self_id];
  ctx.account_key = std::string(kEmulatorKey);
  ctx.store = region->store_.get();
  ctx.clock = &region->clock_;
  return Result<std::unique_ptr<TestRegion>>(std::move(region));
}

TestRegion::~TestRegion() = default;

server::HttpRequest TestRegion::UnsignedRequest(std::string method, std::string path,
                                                std::string body, const Headers& headers) const {
  server::HttpRequest req;
  req.method = std::move(method);
  req.target = PercentEncodePath(path);
  req.path = std::move(path);
  req.body = std::move(body);
  req.remote = "127.0.0.1:1";
  for (const auto& h : headers) req.headers.push_back(h);
  return req;
}

server::HttpRequest TestRegion::Request(std::string method, std::string path, std::string body,
                                        const Headers& headers) const {
  server::HttpRequest req = UnsignedRequest(std::move(method), std::move(path), std::move(body));
  std::string date = FormatHttpDate(clock_.NowSeconds());
  ResourceAddress addr = ResourceAddressFromPath(req.path);
  auto auth = BuildAuthorizationHeader(context_.account_key, req.method, addr.type, addr.link, date);
  req.headers.emplace_back("x-ms-date", date);
  req.headers.emplace_back("authorization", auth.value_or(""));
  req.headers.emplace_back("x-ms-version", "2020-07-15");
  for (const auto& h : headers) req.headers.push_back(h);
  return req;
}

server::HttpResponse TestRegion::Send(server::HttpRequest& request) {
  return server::HandleDataPlane(context_, request);
}

server::HttpResponse TestRegion::Call(std::string method, std::string path, std::string body,
                                      const Headers& headers) {
  server::HttpRequest req = Request(std::move(method), std::move(path), std::move(body), headers);
  return Send(req);
}

const std::string* FindHeader(const server::HttpResponse& response, std::string_view name) {
  std::string lower = ToLower(name);
  for (const auto& [k, v] : response.headers) {
    if (ToLower(k) == lower) return &v;
  }
  return nullptr;
}

}  // namespace regionlab::testing
