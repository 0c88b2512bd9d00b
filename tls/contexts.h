// TLS contexts for the three TLS endpoints of regionlab, built from TlsFiles:
// the HTTP server (data plane and admin port), both ends of a replication link
// (mutual TLS), and the HTTP client of the CLI. TLS 1.2 or newer only.
//
// A context is immutable once built and may be shared by any number of
// streams on any threads (OpenSSL's SSL_CTX is reference-counted and
// thread-safe for this use). Asio's ssl headers stay in the .cc files; users
// include <boost/asio/ssl/context.hpp> where they make streams.
#pragma once

#include <memory>

#include "base/status.h"
#include "base/tls_files.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace regionlab::tls {

// Presents files.cert_file/key_file. With `require_client_certificate`, a
// client must present a certificate that chains to files.ca_file (the
// replication listener); otherwise none is asked for.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeServerContext(const TlsFiles& files,
                                                                     bool require_client_certificate);

// Verifies servers against files.ca_file (empty: the system's trust store).
// Presents files.cert_file/key_file when set (the replication dialer).
// Host-name checks are per stream (the HTTP client checks the endpoint's host).
Result<std::shared_ptr<boost::asio::ssl::context>> MakeClientContext(const TlsFiles& files);

}  // namespace regionlab::tls
