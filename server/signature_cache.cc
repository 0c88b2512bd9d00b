#include "server/signature_cache.h"

#include <functional>

namespace regionlab::server {

std::string SignatureCache::Key(std::string_view method, std::string_view path, std::string_view date,
                                std::string_view authorization) {
  std::string key;
  key.reserve(method.size() + path.size() + date.size() + authorization.size() + 3);
  key.append(method).append(1, '\n').append(path).append(1, '\n').append(date).append(1, '\n').append(authorization);
  return key;
}

size_t SignatureCache::Hash(const std::string& key) { return std::hash<std::string>{}(key); }

bool SignatureCache::Contains(const std::string& key) const {
  const size_t h = Hash(key);
  const Stripe& s = stripes_[h % kStripes];
  std::lock_guard<std::mutex> lock(s.mu);
  return s.slots[(h / kStripes) % kSlotsPerStripe] == key;
}

void SignatureCache::Insert(const std::string& key) {
  const size_t h = Hash(key);
  Stripe& s = stripes_[h % kStripes];
  std::lock_guard<std::mutex> lock(s.mu);
  s.slots[(h / kStripes) % kSlotsPerStripe] = key;
}

}  // namespace regionlab::server
