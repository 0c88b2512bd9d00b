#include "base/cosmos_auth.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include <string>
#include <vector>

#include "base/encoding.h"

namespace regionlab {

ResourceAddress ResourceAddressFromPath(std::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.empty()) return {};
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    parts.push_back(path.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  ResourceAddress out;
  if (parts.size() % 2 == 1) {
    out.type = std::string(parts.back());
    size_t cut = path.size() - parts.back().size();
    out.link = std::string(path.substr(0, cut == 0 ? 0 : cut - 1));
  } else {
    out.type = std::string(parts[parts.size() - 2]);
    out.link = std::string(path);
  }
  return out;
}

namespace {

// OpenSSL 3 looks an algorithm up by name ("fetches" it) on every one-shot
// call given EVP_sha256(), and HMAC() also builds and keys a context each
// time: 1.1 us per signature, most of it not hashing. The algorithms are
// fetched once per process, and each thread keeps HMAC contexts keyed with
// the keys it used last (an account's keys, a few resource tokens'), re-used
// by EVP_MAC_init with no key: 0.23 us (docs/benchmarks.md, session 11).
// SHA-256, fetched once (EVP_sha256(), which fetches on every use, if that
// failed).
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched != nullptr ? fetched : EVP_sha256();
  }();
  return md;
}

class HmacContexts {
 public:
  ~HmacContexts() {
    for (Slot& s : slots_) EVP_MAC_CTX_free(s.ctx);
  }
  // A context keyed with `key`, ready for EVP_MAC_update; nullptr if OpenSSL
  // failed (the caller falls back to the one-shot HMAC()).
  EVP_MAC_CTX* For(std::string_view key) {
    static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac == nullptr) return nullptr;
    for (Slot& s : slots_) {
      if (s.ctx != nullptr && s.key == key) {
        if (EVP_MAC_init(s.ctx, nullptr, 0, nullptr) != 1) return nullptr;
        return s.ctx;
      }
    }
    Slot& s = slots_[next_];  // the oldest slot
    next_ = (next_ + 1) % kSlots;
    if (s.ctx == nullptr) s.ctx = EVP_MAC_CTX_new(mac);
    if (s.ctx == nullptr) return nullptr;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    s.key.assign(key.data(), key.size());
    if (EVP_MAC_init(s.ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) != 1) {
      EVP_MAC_CTX_free(s.ctx);
      s.ctx = nullptr;
      return nullptr;
    }
    return s.ctx;
  }

 private:
  static constexpr size_t kSlots = 4;
  struct Slot {
    std::string key;
    EVP_MAC_CTX* ctx = nullptr;
  };
  Slot slots_[kSlots];
  size_t next_ = 0;
};

}  // namespace

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  thread_local HmacContexts contexts;
  if (EVP_MAC_CTX* ctx = contexts.For(key)) {
    size_t len = 0;
    if (EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
        EVP_MAC_final(ctx, out, &len, sizeof(out)) == 1) {
      return std::string(reinterpret_cast<char*>(out), len);
    }
  }
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::optional<std::string> ComputeMasterSignature(std::string_view key_base64,
                                                  std::string_view verb,
                                                  std::string_view resource_type,
                                                  std::string_view resource_link,
                                                  std::string_view date) {
  auto key = Base64Decode(key_base64);
  if (!key || key->empty()) return std::nullopt;
  std::string payload;
  payload.reserve(64 + resource_link.size());
  payload += ToLower(verb);
  payload += '\n';
  payload += ToLower(resource_type);
  payload += '\n';
  payload += resource_link;
  payload += '\n';
  payload += ToLower(date);
  payload += "\n\n";
  return Base64Encode(HmacSha256(*key, payload));
}

std::optional<std::string> BuildAuthorizationHeader(std::string_view key_base64,
                                                    std::string_view verb,
                                                    std::string_view resource_type,
                                                    std::string_view resource_link,
                                                    std::string_view date) {
  auto sig = ComputeMasterSignature(key_base64, verb, resource_type, resource_link, date);
  if (!sig) return std::nullopt;
  return PercentEncodeComponent("type=master&ver=1.0&sig=" + *sig);
}

std::optional<ParsedAuthorization> ParseAuthorizationHeader(std::string_view header) {
  std::string decoded = PercentDecode(header);
  ParsedAuthorization out;
  size_t sig = decoded.find("sig=");
  if (sig == std::string::npos) return std::nullopt;
  out.signature = decoded.substr(sig + 4);
  std::string head = decoded.substr(0, sig);
  size_t pos = 0;
  while (pos < head.size()) {
    size_t amp = head.find('&', pos);
    std::string kv = head.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) {
      std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
      if (k == "type") out.type = v;
      if (k == "ver") out.version = v;
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  if (out.signature.empty()) return std::nullopt;
  return out;
}

bool SignaturesEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace regionlab

namespace regionlab {
std::string Sha256(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // One context per thread, initialised again for each digest: EVP_Digest
  // allocates and frees a context (and the digest's state) every time, and a
  // document's rid is a digest on every create (session 16).
  struct Context {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Context() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Context context;
  EVP_MD_CTX* ctx = context.ctx;
  if (ctx != nullptr && EVP_DigestInit_ex2(ctx, Sha256Md(), nullptr) == 1 &&
      EVP_DigestUpdate(ctx, data.data(), data.size()) == 1 && EVP_DigestFinal_ex(ctx, out, &len) == 1) {
    return std::string(reinterpret_cast<char*>(out), len);
  }
  EVP_Digest(data.data(), data.size(), out, &len, Sha256Md(), nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}
}  // namespace regionlab
