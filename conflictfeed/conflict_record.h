// Conflict records: the entries of a container's conflicts feed.
//
// One conflict is one losing version of a document. Its id is derived from
// the container, the document and the losing version's identity (origin
// region and origin lsn), so every region that resolves the same versions
// creates the same record under the same key, whatever the order in which
// the versions arrived. Records are created as the resolving region's own
// writes, in the same batch as the resolution, and replicate like any write;
// copies of one record made by several regions merge deterministically (a
// delete wins, otherwise the copy from the lowest region id), so deleting a
// conflict anywhere deletes it everywhere.
//
// The stored body has the Cosmos conflict shape (id, resourceType,
// operationType, resourceId, content as a JSON string, conflict_lsn, _rid,
// _self, _etag, _ts) plus a "regionlab" object: the document id and
// partition key, the policy and the reason, and the winner's and the loser's
// _etag, region id and version vector. The data plane adds region names when
// it serves the record.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "storage/types.h"

namespace regionlab::conflictfeed {

// The id (and _rid) of the conflict about `loser` in the container whose
// binary _rid is `coll_rid`.
std::string ConflictId(std::string_view coll_rid, const storage::Record& loser);

struct ConflictInfo {
  std::string coll_rid;   // binary container _rid
  std::string coll_self;  // "dbs/<dbrid>/colls/<collrid>/"
  std::string policy;     // "LastWriterWins" or "Custom"
  std::string reason;     // why the conflict is in the feed
};

// The conflict record (key and record) for `loser`, which lost to `winner`.
// The version vector, origin and write time are left for the replicator to
// stamp (see replication::Resolution::new_records).
std::pair<std::string, storage::Record> MakeConflictRecord(const ConflictInfo& info, const storage::Record& loser,
                                                           const storage::Record& winner);

}  // namespace regionlab::conflictfeed
