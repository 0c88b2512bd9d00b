// The local certificate authority of `--tls`, as the official emulator has
// one: on first start regionlab creates a CA and a server certificate signed
// by it, keeps both in a directory (the data directory's tls/ by default) so
// they survive restarts and a user trusts the CA once, and serves the CA's
// certificate at /_explorer/emulator.pem.
//
// Files in `dir` (created with mode 0700; keys 0600):
//   ca.pem, ca-key.pem          the CA: EC P-256, 10 years, CA:TRUE, pathlen 0
//   server.pem, server-key.pem  the leaf: EC P-256, 397 days, signed by the CA,
//                               serverAuth + clientAuth (it is also the client
//                               certificate of mutual-TLS replication links),
//                               subjectAltName = the names asked for
// The CA is created once and never replaced (a user may have trusted it). The
// leaf is issued again when it is missing, does not chain to the CA, expires
// within 30 days, or does not cover every name asked for (e.g. --host changed).
// Several processes may share one directory (`serve` regions given the same
// --tls-dir): an flock on dir/.lock serialises them, and files are written to
// a temporary name and renamed into place, so a reader sees whole files.
//
// Thread-safety: the functions are safe to call from any thread; concurrent
// calls on one directory converge as described above.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "base/tls_files.h"

namespace regionlab::tls {

// The names a local server certificate covers by default: "localhost",
// "127.0.0.1", "::1", this host's name, and `bind_host` when it names one
// address (not "0.0.0.0", "::" or empty). No duplicates.
std::vector<std::string> DefaultNames(const std::string& bind_host);

// Makes sure `dir` holds a CA and a leaf covering `names` (see above), and
// returns the paths: cert_file/key_file = the leaf, ca_file = the CA.
// Errors (kUnavailable) name the file and OpenSSL's reason.
Result<TlsFiles> EnsureLocalCertificates(const std::string& dir, const std::vector<std::string>& names);

// The subjectAltName entries of the first certificate in a PEM file
// ("DNS:localhost", "IP:127.0.0.1", ...), for diagnostics and tests.
Result<std::vector<std::string>> CertificateNames(const std::string& pem_file);

// The whole text of a file (used for the CA served at /_explorer/emulator.pem).
Result<std::string> ReadTextFile(const std::string& path);

}  // namespace regionlab::tls
