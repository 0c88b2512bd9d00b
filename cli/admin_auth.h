// How the CLI authenticates to the management API (docs/security.md): every
// request is signed with the account key (the emulator key by default), or
// carries `Authorization: Bearer <token>` when a token is given. A loopback
// admin listener ignores both; one bound elsewhere requires one of them.
#pragma once

#include <string>

#include "client/http_client.h"

namespace CLI {
class App;
}  // namespace CLI

namespace regionlab::cli {

struct AdminCredentials {
  std::string key;    // empty: the emulator key
  std::string token;  // --admin-token; wins over the key when set
  std::string ca_cert;  // --ca-cert: https, the CA to trust (empty: the system's)
};

// The authorization headers of one management request.
client::HttpHeaders AdminAuthHeaders(const AdminCredentials& creds, const std::string& method,
                                     const std::string& path);

// Adds --key, --admin-token and --ca-cert (env REGIONLAB_CA_CERT) to a subcommand.
void AddAdminCredentialOptions(CLI::App* app, AdminCredentials* creds);

}  // namespace regionlab::cli
