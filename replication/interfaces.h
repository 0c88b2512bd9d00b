// The two seams of the replication core: how frames leave a region
// (Transport) and who decides when concurrent versions meet
// (ConcurrencyHandler). Both are small abstract interfaces so that tests can
// run several regions in one process over an in-memory transport.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "storage/types.h"

namespace regionlab::replication {

// Carries frames between regions. A region has two links per peer: the
// outbound one (this region's writes to the peer) and the inbound one (the
// peer's writes to this region). Sends never block: a frame is queued, and
// may be lost if the link is down or a fault drops it; the protocol recovers.
// Implementations must be thread-safe.
class Transport {
 public:
  virtual ~Transport() = default;
  // A frame on the outbound link to `peer` (Entries, Snapshot).
  virtual void SendToPeer(uint32_t peer, std::string payload) = 0;
  // A frame back on the inbound link from `peer` (Resume, Ack).
  virtual void ReplyToPeer(uint32_t peer, std::string payload) = 0;
};

// What to store when concurrent versions of one resource meet.
struct Resolution {
  // The version to keep under the resource's key, served to reads. Either
  // one of the inputs (the winner), with `siblings` holding the other inputs
  // that stay open; or a version derived from the inputs (`merged` set, a
  // vector dominating every input), with `siblings` holding every input so
  // that a later resolution starts again from the original versions.
  storage::Record survivor;
  // Records to create as this region's own writes, in the same atomic batch
  // (conflict records). Each is skipped if its key already holds a record
  // (live or deleted): every region derives the same records, and a record
  // deleted anywhere must not come back. The replicator stamps their version
  // vector, origin and write time.
  std::vector<std::pair<std::string, storage::Record>> new_records;
};

// Decides between concurrent versions. Implemented by conflictfeed.
// Contract: deterministic and free of side effects outside the returned
// Resolution. `versions` is the set of maximal versions (pairwise
// concurrent, none with siblings), sorted canonically; every region that has
// seen the same versions passes the same set, whatever the arrival order, and
// must produce the same survivor. Thread-safe.
class ConcurrencyHandler {
 public:
  virtual ~ConcurrencyHandler() = default;
  virtual const char* Name() const = 0;
  virtual Result<Resolution> Resolve(std::string_view key, std::vector<storage::Record> versions,
                                     const storage::WriteContext& ctx) = 0;
};

}  // namespace regionlab::replication
