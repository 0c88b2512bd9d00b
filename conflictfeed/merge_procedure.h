// Runs a JavaScript merge procedure (a container's Custom
// conflictResolutionProcedure) over a set of concurrent versions.
//
// Cosmos calls `function (incomingItem, existingItem, isTombstone,
// conflictingItems)` once per conflict. With several concurrent versions,
// regions meet them in different orders, so regionlab folds over them in one
// canonical order instead of the arrival order: the versions sorted from the
// one last-writer-wins on _ts likes least to the one it likes most; the first
// is the committed item, and each next one arrives as `incomingItem` against
// the result so far (`existingItem`, null once deleted), with
// `conflictingItems` empty. Every region therefore runs the same calls and
// reaches the same result.
//
// What the procedure may do, through getContext().getCollection() (as on
// Azure, it sees only this container and this partition key):
//   - read the conflicting document (the result so far) and other documents
//     of the same partition key by id;
//   - create, replace, upsert or delete the conflicting document: the last
//     such write is the resolution.
// Writing any other document is refused (403): every region runs the
// procedure, so side writes would be made once per region. queryDocuments is
// not available (400). If no call writes, the committed item stands.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "conflictfeed/native_resolver.h"
#include "scripting/script_host.h"
#include "storage/store.h"

namespace regionlab::conflictfeed {

struct MergeScope {
  const storage::Store* store = nullptr;  // read-only use
  std::string coll_rid;                   // binary container _rid
  std::string coll_link;                  // "dbs/<db>/colls/<coll>" (getSelfLink)
  std::vector<std::string> pk_paths;      // the container's partition key paths
};

// `sorted`: two or more concurrent versions of one document, in the order
// described above. Returns Keep(0) (the committed item stands), Write(body)
// or Delete(); an error when the procedure fails (it throws, runs over its
// budget, breaks the rules above), which sends the conflict to the feed.
Result<Decision> RunMergeProcedure(const std::string& source, const std::vector<storage::Record>& sorted,
                                   const MergeScope& scope, const scripting::Budget& budget);

}  // namespace regionlab::conflictfeed
