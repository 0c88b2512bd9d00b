// Time to live: the purge that removes expired documents from a region's
// store. Readers never see an expired document (reads, queries, read feeds
// and the latest-version change feed check expiry on the region's clock at
// the moment they run); the purge only reclaims them.
//
// Each region purges on its own clock and does not replicate its purges: a
// purge writes, in place of the expired version, a tombstone that keeps that
// version's identity and version vector (Record::ttl_expired), in a log entry
// of origin storage::kExpiryOrigin that replication never ships. So a later
// update made elsewhere (which has seen the expired version) still wins over
// the purge when it arrives, a concurrent one is resolved against it like a
// delete, and two regions that have both purged hold the same records
// (docs/design.md, "Time to live").
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/status.h"

namespace regionlab::server {

struct RegionContext;

// Purges up to `max_documents` expired documents of every container with
// time to live on, in store writes of at most a few hundred. Returns how many
// it purged. Thread-safe (store writes are serialised by the store).
Result<uint64_t> PurgeExpired(RegionContext& region, size_t max_documents = 10000);

}  // namespace regionlab::server
