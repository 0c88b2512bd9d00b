#include "server/errors.h"

#include <nlohmann/json.hpp>

namespace regionlab::server {

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
