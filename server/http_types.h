// Plain HTTP request/response values. Handlers are functions from HttpRequest
// to HttpResponse, testable without a socket; server/http_server.cc converts
// from and to Boost.Beast messages. No Beast here.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace regionlab::server {

struct HttpRequest {
  std::string method;        // upper-case: "GET", "POST", ...
  std::string target;        // raw request target as received: "/dbs/a%20b/colls?x=1"
  std::string path;          // target without the query, percent-decoded once
  std::string query;         // the raw query string after '?', may be empty
  // Header names are stored lower-cased; values verbatim. Lookup is by lower-case name.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote;        // "127.0.0.1:54321", for logs
  // Set (true) when the client closed its connection while the request ran
  // off the io threads (HttpServerOptions::offload); null otherwise. Long
  // handlers (queries) poll it and stop.
  std::shared_ptr<const std::atomic<bool>> cancelled;

  // Returns the first value of the header `lower_name`, or nullptr.
  const std::string* Header(std::string_view lower_name) const {
    for (const auto& [k, v] : headers) {
      if (k == lower_name) return &v;
    }
    return nullptr;
  }
  std::string HeaderOr(std::string_view lower_name, std::string_view fallback) const {
    const std::string* v = Header(lower_name);
    return v ? *v : std::string(fallback);
  }
};

// A response body produced piece by piece while the connection stays open
// (server-sent events; see HttpResponse::stream). Implementations must be
// thread-safe: Pull and Cancel come from the connection's strand, pieces may
// be produced on any thread.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  // Asks for the next piece. The stream calls `next` exactly once, on any
  // thread, now or later: with the bytes to send (non-empty), or with an
  // empty string when the body ends (the connection then closes).
  virtual void Pull(std::function<void(std::string)> next) = 0;
  // The connection is gone (the client left, a write failed or timed out,
  // the server stops). Called at most once; the stream drops a pending
  // `next` without calling it.
  virtual void Cancel() = 0;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // name as sent
  std::string body;
  // Content-Type is sent only when the body is non-empty.
  std::string content_type = "application/json";
  bool close = false;  // close the connection after this response
  // Injected faults (server/dataplane_faults.h): answer only after this many
  // milliseconds (without holding an io thread), or do not answer at all:
  // kReset closes the connection at once (a TCP reset), kHang keeps it open
  // unanswered until the client gives up or the server stops.
  int64_t delay_ms = 0;
  enum class Disposition { kAnswer, kReset, kHang };
  Disposition disposition = Disposition::kAnswer;
  // When set, `body` is ignored: the status and headers go out without a
  // Content-Length and with Connection: close, then the stream's pieces as
  // they come, until the stream ends or the client leaves. A piece that
  // takes longer than the server's idle timeout to write closes the
  // connection.
  std::shared_ptr<BodyStream> stream;

  // Sets header `name` (lower case), replacing a value set before.
  HttpResponse& SetHeader(std::string name, std::string value) {
    for (auto& [n, v] : headers) {
      if (n == name) {
        v = std::move(value);
        return *this;
      }
    }
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

using HttpHandler = std::function<HttpResponse(HttpRequest&)>;

}  // namespace regionlab::server
