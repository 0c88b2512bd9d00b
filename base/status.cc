#include "base/status.h"

namespace regionlab {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kNotModified: return "NotModified";
    case StatusCode::kBadRequest: return "BadRequest";
    case StatusCode::kUnauthorized: return "Unauthorized";
    case StatusCode::kForbidden: return "Forbidden";
    case StatusCode::kNotFound: return "NotFound";
    case StatusCode::kConflict: return "Conflict";
    case StatusCode::kPreconditionFailed: return "PreconditionFailed";
    case StatusCode::kTooLarge: return "RequestEntityTooLarge";
    case StatusCode::kTooManyRequests: return "TooManyRequests";
    case StatusCode::kUnavailable: return "ServiceUnavailable";
    case StatusCode::kInternal: return "InternalServerError";
    case StatusCode::kIOError: return "IOError";
    case StatusCode::kCorruption: return "Corruption";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s(StatusCodeName(code_));
  if (substatus_ != 0) s += "/" + std::to_string(substatus_);
  s += ": ";
  s += message_;
  return s;
}

}  // namespace regionlab
