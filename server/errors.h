// The one place where a Status becomes an HTTP response in the Cosmos shape:
// {"code": "NotFound", "message": "..."} with the matching HTTP status and,
// where Cosmos has one, the x-ms-substatus header.
#pragma once

#include "base/http_status.h"
#include "base/status.h"
#include "server/http_types.h"

namespace regionlab::server {

// The mapping lives in base/http_status.h (scripting/ uses it too).
using regionlab::HttpStatusFor;

HttpResponse ErrorResponse(const Status& status);

}  // namespace regionlab::server
