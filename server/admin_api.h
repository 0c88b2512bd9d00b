// The management API (admin port) as a plain function. This build serves
// GET /health and GET /regions; the fault and replication routes of
// PRODUCT.md section 4 are added by the issues that build them.
#pragma once

#include <cstdint>
#include <vector>

#include "server/http_types.h"
#include "server/region_context.h"

namespace regionlab::server {

struct AdminContext {
  uint64_t seed = 0;
  std::vector<RegionContext*> regions;  // not owned, by region id
};

HttpResponse HandleAdmin(AdminContext& admin, HttpRequest& request);

}  // namespace regionlab::server
