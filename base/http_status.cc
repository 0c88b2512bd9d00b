#include "base/http_status.h"

namespace regionlab {

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kNotModified: return 304;
    case StatusCode::kBadRequest: return 400;
    case StatusCode::kUnauthorized: return 401;
    case StatusCode::kForbidden: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kConflict: return 409;
    case StatusCode::kPreconditionFailed: return 412;
    case StatusCode::kTooLarge: return 413;
    case StatusCode::kTooManyRequests: return 429;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kInternal:
    case StatusCode::kIOError:
    case StatusCode::kCorruption: return 500;
  }
  return 500;
}

const char* HttpReasonCode(int status) {
  switch (status) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 408: return "RequestTimeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 412: return "PreconditionFailed";
    case 413: return "RequestEntityTooLarge";
    case 423: return "Locked";
    case 424: return "FailedDependency";
    case 429: return "TooManyRequests";
    case 449: return "RetryWith";
    case 500: return "InternalServerError";
    case 502: return "BadGateway";
    case 503: return "ServiceUnavailable";
    case 504: return "GatewayTimeout";
  }
  return "Error";
}

}  // namespace regionlab
