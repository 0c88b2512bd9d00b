#include "server/errors.h"

#include <nlohmann/json.hpp>

namespace regionlab::server {

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

HttpResponse ErrorResponse(const Status& status) {
  HttpResponse resp;
  resp.status = HttpStatusFor(status.code());
  if (status.code() == StatusCode::kNotModified) return resp;
  nlohmann::json body = {{"code", std::string(StatusCodeName(status.code()))},
                         {"message", status.message()}};
  resp.body = body.dump();
  if (status.substatus() != 0) {
    resp.SetHeader("x-ms-substatus", std::to_string(status.substatus()));
  }
  if (status.code() == StatusCode::kTooManyRequests) {
    resp.SetHeader("x-ms-retry-after-ms", "100");
  }
  return resp;
}

}  // namespace regionlab::server
