// The split-brain report (PRODUCT.md section 7): documents written in two or
// more regions within a window of each other — the writes last-writer-wins
// may have decided wrongly — built from the replicated logs, so one region's
// log (which holds every region's writes) is enough in `up` and across
// `serve` processes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "storage/store.h"

namespace regionlab::admin {

struct SplitBrainOptions {
  int64_t window_ms = 1000;
  int64_t since_ms = 0;   // only writes at or after this time (origin wall clock, ms)
  std::string database;   // empty: every database
  std::string container;  // empty: every container
};

struct SplitBrainWrite {
  uint32_t region = 0;  // the region that wrote it
  int64_t time_ms = 0;  // its wall clock at the write
  std::string etag;
  storage::VersionVector version;
  bool tombstone = false;
  // Concurrent with another region's write in the window (a conflict, which
  // the container's policy resolved), rather than ordered after it
  // (replicated in time, then overwritten).
  bool concurrent = false;
};

struct SplitBrainDocument {
  std::string database, container, id, partition_key;
  std::vector<SplitBrainWrite> writes;  // by time
};

// Every document with writes from two or more regions within the window,
// from the stores' logs (versions seen in several logs count once).
Result<std::vector<SplitBrainDocument>> FindSplitBrain(const std::vector<const storage::Store*>& stores,
                                                       const SplitBrainOptions& options);

}  // namespace regionlab::admin
