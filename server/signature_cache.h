// SignatureCache: master-key signatures already verified, so that a request
// signed exactly like an earlier one skips the HMAC.
//
// A Cosmos signature is an HMAC of (verb, resource type, resource link,
// x-ms-date) under the account key, and x-ms-date has one-second resolution:
// an SDK sending many requests of one kind in one second (creates into one
// container, reads of one document) sends the same authorization header each
// time. The key of an entry is everything the verdict depends on besides the
// account key, which is fixed for a region's life: the method, the path, the
// date header and the authorization header, verbatim. Only successes are
// kept; the date's 15-minute window is still checked on every request, so a
// cached entry never lets an old signature in.
//
// Direct-mapped (a hash picks the one slot an entry may live in), 4096 slots
// in 64 stripes, each stripe behind its own mutex: bounded memory (a few
// hundred KB at most), O(1), and a collision merely costs one HMAC.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>

namespace regionlab::server {

class SignatureCache {
 public:
  // The cache key of a request (see the file comment).
  static std::string Key(std::string_view method, std::string_view path, std::string_view date,
                         std::string_view authorization);

  bool Contains(const std::string& key) const;
  void Insert(const std::string& key);

 private:
  static constexpr size_t kStripes = 64;
  static constexpr size_t kSlotsPerStripe = 64;
  struct Stripe {
    mutable std::mutex mu;
    std::array<std::string, kSlotsPerStripe> slots;  // guarded by mu
  };
  static size_t Hash(const std::string& key);
  std::array<Stripe, kStripes> stripes_;
};

}  // namespace regionlab::server
