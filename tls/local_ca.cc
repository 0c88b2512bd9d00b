// The local CA (local_ca.h), with OpenSSL 3's EVP and X509 APIs. Every OpenSSL
// object is held by a unique_ptr with its free function, so no early return
// leaks.
#include "tls/local_ca.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

namespace regionlab::tls {
namespace {

namespace fs = std::filesystem;

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using Names = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;

constexpr long kCaDays = 3650;
constexpr long kLeafDays = 397;  // the longest lifetime browsers accept for a server certificate
constexpr long kRenewDays = 30;

std::string OpenSslError() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

Status Fail(const std::string& what) { return Status::Unavailable("tls: " + what + ": " + OpenSslError()); }

Key NewKey() { return Key(EVP_EC_gen("P-256")); }

Result<Key> LoadKey(const std::string& path) {
  Bio bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) return Fail("cannot open " + path);
  Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return Fail("cannot read the private key in " + path);
  return key;
}

Result<Cert> LoadCert(const std::string& path) {
  Bio bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) return Fail("cannot open " + path);
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return Fail("cannot read the certificate in " + path);
  return cert;
}

// Writes `pem` to `path` through a temporary file renamed into place, so a
// reader never sees a partial file. Callers hold the directory's lock.
Status WriteFileAtomically(const std::string& path, const std::string& pem, mode_t mode) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::Unavailable("tls: cannot write " + tmp + ": " + std::strerror(errno));
    out << pem;
    if (!out.flush()) return Status::Unavailable("tls: cannot write " + tmp + ": " + std::strerror(errno));
  }
  ::chmod(tmp.c_str(), mode);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Status::Unavailable("tls: cannot write " + path + ": " + std::strerror(err));
  }
  return Status::Ok();
}

Result<std::string> KeyPem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Fail("cannot encode a private key");
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<std::string> CertPem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return Fail("cannot encode a certificate");
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

bool IsIpLiteral(const std::string& name) {
  return name.find(':') != std::string::npos ||
         (!name.empty() && std::all_of(name.begin(), name.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; }));
}

std::string SanEntry(const std::string& name) { return (IsIpLiteral(name) ? "IP:" : "DNS:") + name; }

// A new certificate for `key`, issued by (issuer_cert, issuer_key); self-signed
// when issuer_cert is null.
Result<Cert> Issue(EVP_PKEY* key, const std::string& common_name, long days, bool ca, X509* issuer_cert,
                   EVP_PKEY* issuer_key, const std::vector<std::string>& names) {
  Cert cert(X509_new());
  if (!cert) return Fail("X509_new");
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return Fail("RAND_bytes");
  serial[0] &= 0x7f;  // a positive serial number
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  if (!bn) return Fail("BN_bin2bn");
  ASN1_INTEGER* asn_serial = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  if (!asn_serial) return Fail("serial number");
  X509_set_version(cert.get(), 2);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60 * 60);  // an hour of slack for skewed clocks
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), days * 24 * 60 * 60);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("regionlab"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                             -1, -1, 0);
  X509* issuer = issuer_cert ? issuer_cert : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer));

  bool ok = AddExtension(cert.get(), issuer, NID_subject_key_identifier, "hash");
  if (ca) {
    ok = ok && AddExtension(cert.get(), issuer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
         AddExtension(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    std::string san;
    for (const auto& n : names) san += (san.empty() ? "" : ",") + SanEntry(n);
    ok = ok && AddExtension(cert.get(), issuer, NID_authority_key_identifier, "keyid:always") &&
         AddExtension(cert.get(), issuer, NID_basic_constraints, "critical,CA:FALSE") &&
         AddExtension(cert.get(), issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
         AddExtension(cert.get(), issuer, NID_ext_key_usage, "serverAuth,clientAuth") &&
         (san.empty() || AddExtension(cert.get(), issuer, NID_subject_alt_name, san));
  }
  if (!ok) return Fail("certificate extensions");
  if (X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) == 0) return Fail("X509_sign");
  return cert;
}

std::vector<std::string> SanList(X509* cert) {
  std::vector<std::string> out;
  Names names(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names.get(), i);
    if (g->type == GEN_DNS) {
      const ASN1_IA5STRING* s = g->d.dNSName;
      out.push_back("DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                         static_cast<size_t>(ASN1_STRING_length(s))));
    } else if (g->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = g->d.iPAddress;
      char text[64] = {0};
      const unsigned char* p = ASN1_STRING_get0_data(ip);
      const int len = ASN1_STRING_length(ip);
      if (len == 4) {
        std::snprintf(text, sizeof text, "%u.%u.%u.%u", p[0], p[1], p[2], p[3]);
        out.push_back(std::string("IP:") + text);
      } else if (len == 16) {
        std::string hex;
        for (int k = 0; k < 16; k += 2) {
          char part[8];
          std::snprintf(part, sizeof part, "%x", (p[k] << 8) | p[k + 1]);
          hex += (k ? ":" : "") + std::string(part);
        }
        out.push_back("IP:" + hex);
      }
    }
  }
  return out;
}

// Whether the leaf at `cert_path` is usable: chains to `ca`, lives on for
// kRenewDays more, and covers every name.
bool LeafStillGood(X509* leaf, X509* ca, const std::vector<std::string>& names) {
  EVP_PKEY* ca_key = X509_get0_pubkey(ca);
  if (!ca_key || X509_verify(leaf, ca_key) != 1) return false;
  time_t renew_at = std::time(nullptr) + kRenewDays * 24 * 60 * 60;
  if (X509_cmp_time(X509_get0_notAfter(leaf), &renew_at) <= 0) return false;
  for (const auto& n : names) {
    const bool covered = IsIpLiteral(n) ? X509_check_ip_asc(leaf, n.c_str(), 0) == 1
                                        : X509_check_host(leaf, n.c_str(), n.size(), 0, nullptr) == 1;
    if (!covered) return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> DefaultNames(const std::string& bind_host) {
  std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') names.push_back(host);
  if (!bind_host.empty() && bind_host != "0.0.0.0" && bind_host != "::" && bind_host != "[::]") {
    names.push_back(bind_host);
  }
  std::vector<std::string> unique;
  for (auto& n : names) {
    if (std::find(unique.begin(), unique.end(), n) == unique.end()) unique.push_back(n);
  }
  return unique;
}

Result<TlsFiles> EnsureLocalCertificates(const std::string& dir, const std::vector<std::string>& names) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Unavailable("tls: cannot create " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  TlsFiles files;
  files.ca_file = (fs::path(dir) / "ca.pem").string();
  const std::string ca_key_file = (fs::path(dir) / "ca-key.pem").string();
  files.cert_file = (fs::path(dir) / "server.pem").string();
  files.key_file = (fs::path(dir) / "server-key.pem").string();

  // One process at a time decides and writes (serve regions may share a
  // directory); the lock goes with the file descriptor.
  const std::string lock_file = (fs::path(dir) / ".lock").string();
  const int lock_fd = ::open(lock_file.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (lock_fd < 0) return Status::Unavailable("tls: cannot open " + lock_file + ": " + std::strerror(errno));
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }
  } unlock{lock_fd};
  if (::flock(lock_fd, LOCK_EX) != 0) return Status::Unavailable("tls: cannot lock " + lock_file + ": " + std::strerror(errno));

  // The CA: created once, never replaced.
  if (!fs::exists(files.ca_file)) {
    if (fs::exists(ca_key_file)) {
      return Status::Unavailable("tls: " + ca_key_file + " exists but " + files.ca_file +
                                 " does not; remove the directory " + dir + " to start a new CA");
    }
    Key key = NewKey();
    if (!key) return Fail("cannot generate a key");
    auto pem = KeyPem(key.get());
    if (!pem.ok()) return pem.status();
    auto cert = Issue(key.get(), "regionlab local CA", kCaDays, /*ca=*/true, nullptr, nullptr, {});
    if (!cert.ok()) return cert.status();
    auto cert_pem = CertPem(cert->get());
    if (!cert_pem.ok()) return cert_pem.status();
    RL_RETURN_IF_ERROR(WriteFileAtomically(ca_key_file, *pem, 0600));
    RL_RETURN_IF_ERROR(WriteFileAtomically(files.ca_file, *cert_pem, 0644));
    spdlog::info("tls: created a local certificate authority: {}", files.ca_file);
  }
  auto ca = LoadCert(files.ca_file);
  if (!ca.ok()) return ca.status();

  if (fs::exists(files.cert_file) && fs::exists(files.key_file)) {
    auto leaf = LoadCert(files.cert_file);
    if (leaf.ok() && LeafStillGood(leaf->get(), ca->get(), names)) return files;
  }
  auto ca_key = LoadKey(ca_key_file);
  if (!ca_key.ok()) {
    return Status::Unavailable(ca_key.status().message() + " (the CA's key is needed to issue a server certificate)");
  }
  Key key = NewKey();
  if (!key) return Fail("cannot generate a key");
  auto leaf = Issue(key.get(), names.empty() ? "localhost" : names.front(), kLeafDays, /*ca=*/false, ca->get(),
                    ca_key->get(), names);
  if (!leaf.ok()) return leaf.status();
  auto key_pem = KeyPem(key.get());
  if (!key_pem.ok()) return key_pem.status();
  auto leaf_pem = CertPem(leaf->get());
  if (!leaf_pem.ok()) return leaf_pem.status();
  // The key first, then the certificate: a reader that sees the new
  // certificate also sees its key.
  RL_RETURN_IF_ERROR(WriteFileAtomically(files.key_file, *key_pem, 0600));
  RL_RETURN_IF_ERROR(WriteFileAtomically(files.cert_file, *leaf_pem, 0644));
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  spdlog::info("tls: issued a server certificate for {}: {}", list, files.cert_file);
  return files;
}

Result<std::vector<std::string>> CertificateNames(const std::string& pem_file) {
  auto cert = LoadCert(pem_file);
  if (!cert.ok()) return cert.status();
  return SanList(cert->get());
}

Result<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace regionlab::tls
