// The HTTP status Cosmos answers for each StatusCode. The one mapping, shared
// by server/errors.cc (error responses) and scripting/ (the status a stored
// procedure sees in a failed call), which cannot depend on server/.
#pragma once

#include "base/status.h"

namespace regionlab {

int HttpStatusFor(StatusCode code);

// The "code" of a Cosmos error body for an HTTP status: "TooManyRequests",
// "ServiceUnavailable", "RequestTimeout", "Gone", ... ("Error" when unknown).
const char* HttpReasonCode(int status);

}  // namespace regionlab
