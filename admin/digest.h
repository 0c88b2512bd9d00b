// Digest of a region's contents: per container, the number of live documents
// and an order-independent hash of them (id, partition key, body, version
// vector), so two converged regions have equal digests whatever order their
// writes arrived in.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "base/status.h"
#include "storage/store.h"

namespace regionlab::admin {

struct ContainerDigest {
  std::string database;
  std::string container;
  uint64_t count = 0;
  std::string hash;  // hex
  friend bool operator==(const ContainerDigest&, const ContainerDigest&) = default;
  // For test failure messages: "db/c count=3 hash=ab12...".
  friend std::ostream& operator<<(std::ostream& os, const ContainerDigest& d) {
    return os << d.database << "/" << d.container << " count=" << d.count << " hash=" << d.hash.substr(0, 12);
  }
};

Result<std::vector<ContainerDigest>> ComputeDigest(const storage::Store& store);

}  // namespace regionlab::admin
