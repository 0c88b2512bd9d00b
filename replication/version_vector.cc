#include "replication/version_vector.h"

#include <string>

namespace regionlab::replication {

Order Compare(const VersionVector& a, const VersionVector& b) {
  bool a_more = false, b_more = false;
  auto ia = a.begin(), ib = b.begin();
  while (ia != a.end() || ib != b.end()) {
    if (ib == b.end() || (ia != a.end() && ia->first < ib->first)) {
      if (ia->second > 0) a_more = true;
      ++ia;
    } else if (ia == a.end() || ib->first < ia->first) {
      if (ib->second > 0) b_more = true;
      ++ib;
    } else {
      if (ia->second > ib->second) a_more = true;
      if (ib->second > ia->second) b_more = true;
      ++ia;
      ++ib;
    }
  }
  if (a_more && b_more) return Order::kConcurrent;
  if (a_more) return Order::kAfter;
  if (b_more) return Order::kBefore;
  return Order::kEqual;
}

VersionVector Merge(const VersionVector& a, const VersionVector& b) {
  VersionVector out = a;
  for (const auto& [region, counter] : b) {
    auto& slot = out[region];
    if (counter > slot) slot = counter;
  }
  return out;
}

std::string ToString(const VersionVector& v) {
  std::string s = "{";
  bool first = true;
  for (const auto& [region, counter] : v) {
    if (!first) s += ",";
    first = false;
    s += std::to_string(region) + ":" + std::to_string(counter);
  }
  return s + "}";
}

}  // namespace regionlab::replication
