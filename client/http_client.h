// HttpClient: a small synchronous HTTP/1.1 client that keeps one connection
// alive to one endpoint. It is the transport under CosmosClient and knows
// nothing of Cosmos.
//
// Contract:
//  - Send() writes one request and reads one response on the kept-alive
//    connection, opening it first if needed.
//  - If the kept-alive connection turns out to have been closed by the server
//    (seen before the request is written, or as end-of-stream / reset with no
//    response byte received), Send() reconnects once and resends, transparently.
//    Caveat: in the second case the server may have received the first copy; a
//    server that closes a connection in the middle of a request it processed
//    will see the request twice. Idle-timeout closes, the common case, are safe.
//  - Timeouts: `connect_timeout` bounds the TCP connect; `request_timeout`
//    bounds writing the request and reading the whole response.
//  - A response with any HTTP status is a successful Send(); only transport
//    failures (refused, reset, timeout, malformed response) are error Statuses
//    (kUnavailable, or kInternal for a response that does not parse).
//  - "http://" and "https://" endpoints. HTTPS verifies the server's
//    certificate chain (against options.ca_file, else the system's trust
//    store) and its host name; a failed check is a kUnavailable naming why.
//
// Thread-safety: an HttpClient is not thread-safe. Use one per thread, or
// serialize calls externally. Beast and Asio stay inside http_client.cc.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace regionlab::client {

// Header list: (name, value) pairs, in order. Duplicates are allowed.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// Returns the first value of header `name` (compared case-insensitively), or
// nullptr.
const std::string* FindHeader(const HttpHeaders& headers, std::string_view name);

struct HttpEndpoint {
  std::string host;  // "127.0.0.1", "localhost", "::1" (no brackets)
  std::string port;  // "8081"; defaults to "80" ("443" for https)
  bool tls = false;  // https://

  // "host:port" as sent in the Host header (IPv6 literals bracketed).
  std::string HostHeader() const;
};

// Parses "http[s]://host[:port][/]". The path must be empty or "/".
Result<HttpEndpoint> ParseHttpEndpoint(std::string_view url);

struct HttpClientOptions {
  // Upper bound on establishing the TCP connection (name resolution excluded:
  // it is done with the system resolver and cannot be interrupted).
  // Default: 5 s.
  std::chrono::milliseconds connect_timeout{5000};

  // Upper bound on writing one request and reading its whole response.
  // Default: 60 s.
  std::chrono::milliseconds request_timeout{60000};

  // Largest response body accepted; larger ones fail the request with
  // kInternal and drop the connection. Default: 256 MiB.
  uint64_t max_response_body = uint64_t{256} << 20;

  // https: the CA (PEM file) the server's certificate must chain to, e.g.
  // the one `regionlab up --tls` prints as "caCert". Empty: the system's
  // trust store.
  std::string ca_file;
};

struct HttpClientResponse {
  int status = 0;
  // Header names lower-cased, values verbatim, in the order received.
  HttpHeaders headers;
  std::string body;

  // First value of the header `name` (case-insensitive), or nullptr.
  const std::string* Header(std::string_view name) const { return FindHeader(headers, name); }
};

class HttpClient {
 public:
  explicit HttpClient(HttpEndpoint endpoint, HttpClientOptions options = {});
  ~HttpClient();

  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `method` (upper-case, e.g. "GET"; any token is allowed) to `target`
  // (already percent-encoded, e.g. "/dbs/a%20b?x=1") with `headers` and `body`.
  // Host, Content-Length and the keep-alive headers are added here; a Host or
  // Content-Length in `headers` is ignored.
  Result<HttpClientResponse> Send(std::string_view method, std::string_view target,
                                  const HttpHeaders& headers, std::string_view body);

  // Closes the kept-alive connection, if any. The next Send() reconnects.
  void Close();

  const HttpEndpoint& endpoint() const { return endpoint_; }

  // TCP connections opened so far (for tests and diagnostics).
  int connections_opened() const;

 private:
  struct Impl;
  HttpEndpoint endpoint_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace regionlab::client
