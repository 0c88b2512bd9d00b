// A region's Cosmos DB data plane as a plain function: authenticate, route,
// run the handler, add the response headers the SDKs rely on. Never throws.
#pragma once

#include "server/http_types.h"
#include "server/region_context.h"

namespace regionlab::server {

HttpResponse HandleDataPlane(RegionContext& region, HttpRequest& request);

}  // namespace regionlab::server
