// TlsFiles: where a TLS endpoint finds its PEM files. A plain struct that the
// HTTP server, the replication transport and the HTTP client take in their
// options; empty means "no TLS". Built by tls::EnsureLocalCertificates (or
// from --tls-cert / --tls-key) and read by tls/contexts.h.
#pragma once

#include <string>

namespace regionlab {

struct TlsFiles {
  std::string cert_file;  // PEM: the certificate, then any intermediates
  std::string key_file;   // PEM: its private key
  std::string ca_file;    // PEM: the CA that peers' and servers' certificates must chain to

  bool enabled() const { return !cert_file.empty(); }
};

}  // namespace regionlab
