// A region's Cosmos DB data plane as a plain function: authenticate, route,
// run the handler, add the response headers the SDKs rely on. Never throws.
#pragma once

#include "server/http_types.h"
#include "server/region_context.h"

namespace regionlab::server {

HttpResponse HandleDataPlane(RegionContext& region, HttpRequest& request);

// Requests that may run long — queries, read feeds and change feeds,
// conflict feeds, stored procedure executions, batches — and are better run
// off the threads that answer point reads (HttpServerOptions::offload).
bool IsHeavyRequest(const HttpRequest& request);

}  // namespace regionlab::server
