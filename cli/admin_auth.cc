#include "cli/admin_auth.h"

#include <CLI/CLI.hpp>

#include <ctime>

#include "base/cosmos_auth.h"
#include "base/encoding.h"

namespace regionlab::cli {

client::HttpHeaders AdminAuthHeaders(const AdminCredentials& creds, const std::string& method,
                                     const std::string& path) {
  client::HttpHeaders h;
  if (!creds.token.empty()) {
    h.emplace_back("Authorization", "Bearer " + creds.token);
    return h;
  }
  std::string p = path.substr(0, path.find('?'));
  const std::string link = p.substr(p.starts_with("/") ? 1 : 0);
  const std::string date = FormatHttpDate(std::time(nullptr));
  const std::string key = creds.key.empty() ? std::string(kEmulatorKey) : creds.key;
  if (auto auth = BuildAuthorizationHeader(key, method, "admin", PercentDecode(link), date)) {
    h.emplace_back("x-ms-date", date);
    h.emplace_back("Authorization", *auth);
  }
  return h;
}

void AddAdminCredentialOptions(CLI::App* app, AdminCredentials* creds) {
  app->add_option("--key", creds->key, "account key that signs management requests (default: the emulator key)");
  app->add_option("--admin-token", creds->token, "bearer token of the management API (instead of the key)");
  app->add_option("--ca-cert", creds->ca_cert, "https: the CA file to trust (up --tls prints it as caCert)")
      ->envname("REGIONLAB_CA_CERT");
}

}  // namespace regionlab::cli
