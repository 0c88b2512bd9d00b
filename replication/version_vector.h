// Version vectors: how regionlab tells "newer" from "concurrent".
//
// Every version of a resource carries a vector region id -> counter (the
// writing region's log sequence number). A local write takes the previous
// version's vector and sets its own entry to the new lsn, so it dominates
// everything it replaced. Two versions conflict exactly when neither vector
// dominates the other.
#pragma once

#include "storage/types.h"

namespace regionlab::replication {

using storage::VersionVector;

enum class Order {
  kEqual,       // same history
  kAfter,       // a dominates b: a has seen everything b has, and more
  kBefore,      // b dominates a
  kConcurrent,  // neither: a conflict
};

Order Compare(const VersionVector& a, const VersionVector& b);
// Entry-wise maximum: a version that has seen both.
VersionVector Merge(const VersionVector& a, const VersionVector& b);
// "{0:5,1:3}" for logs and JSON.
std::string ToString(const VersionVector& v);

}  // namespace regionlab::replication
