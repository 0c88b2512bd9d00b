#include "tls/contexts.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <string>

namespace regionlab::tls {
namespace {

namespace ssl = boost::asio::ssl;

Status Fail(const std::string& what, const boost::system::error_code& ec) {
  return Status::Unavailable("tls: " + what + ": " + ec.message());
}

Result<std::shared_ptr<ssl::context>> NewContext(ssl::context::method method) {
  boost::system::error_code ec;
  std::shared_ptr<ssl::context> ctx;
  try {
    ctx = std::make_shared<ssl::context>(method);
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("tls: cannot create a TLS context: ") + e.what());
  }
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                   ec);
  if (ec) return Fail("set_options", ec);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  return ctx;
}

Status UseCertificate(ssl::context& ctx, const TlsFiles& files) {
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(files.cert_file, ec);
  if (ec) return Fail("cannot use the certificate " + files.cert_file, ec);
  ctx.use_private_key_file(files.key_file, ssl::context::pem, ec);
  if (ec) return Fail("cannot use the private key " + files.key_file, ec);
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    ERR_clear_error();
    return Status::Unavailable("tls: the private key " + files.key_file + " does not match the certificate " +
                               files.cert_file);
  }
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<ssl::context>> MakeServerContext(const TlsFiles& files, bool require_client_certificate) {
  auto ctx = NewContext(ssl::context::tls_server);
  if (!ctx.ok()) return ctx.status();
  Status st = UseCertificate(**ctx, files);
  if (!st.ok()) return st;
  if (require_client_certificate) {
    boost::system::error_code ec;
    (*ctx)->load_verify_file(files.ca_file, ec);
    if (ec) return Fail("cannot load the CA " + files.ca_file, ec);
    (*ctx)->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
    if (ec) return Fail("set_verify_mode", ec);
  }
  return ctx;
}

Result<std::shared_ptr<ssl::context>> MakeClientContext(const TlsFiles& files) {
  auto ctx = NewContext(ssl::context::tls_client);
  if (!ctx.ok()) return ctx.status();
  boost::system::error_code ec;
  if (files.ca_file.empty()) {
    (*ctx)->set_default_verify_paths(ec);
    if (ec) return Fail("cannot load the system's trusted certificates", ec);
  } else {
    (*ctx)->load_verify_file(files.ca_file, ec);
    if (ec) return Fail("cannot load the CA " + files.ca_file, ec);
  }
  (*ctx)->set_verify_mode(ssl::verify_peer, ec);
  if (ec) return Fail("set_verify_mode", ec);
  if (files.enabled()) {
    Status st = UseCertificate(**ctx, files);
    if (!st.ok()) return st;
  }
  return ctx;
}

}  // namespace regionlab::tls
