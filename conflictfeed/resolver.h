// ConflictResolver: decides which of two concurrent versions of a document
// wins. In the spirit of leveldb's Comparator: a name and one decision.
//
// Contract: deterministic and free of side effects, because every region
// runs it on the same two versions, in either order, and must reach the same
// answer; with three or more concurrent versions, regions meet them in
// different orders, so the decision must behave like the maximum of a total
// order (Prefers(a, b) == !Prefers(b, a) for distinct versions, and
// transitive). Implementations must be thread-safe.
#pragma once

#include <memory>
#include <string>

#include "storage/types.h"

namespace regionlab::conflictfeed {

class ConflictResolver {
 public:
  virtual ~ConflictResolver() = default;
  virtual const char* Name() const = 0;
  // True if `a` should survive over `b`.
  virtual bool Prefers(const storage::Record& a, const storage::Record& b) const = 0;
};

// Last writer wins on a numeric property (`path`, e.g. "/_ts" or
// "/version"); the higher value wins. Rules, in order:
//   1. a delete (tombstone) wins over an insert or replace;
//   2. the higher numeric value at `path`; a missing or non-numeric value
//      counts as the version's _ts;
//   3. the later write: higher origin wall clock in microseconds (so of two
//      writes 240 ms apart in the same _ts second, the later one wins);
//   4. the higher origin region id;
//   5. the greater _etag (bytewise).
std::unique_ptr<ConflictResolver> NewLastWriterWins(std::string path);

}  // namespace regionlab::conflictfeed
