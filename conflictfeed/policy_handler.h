// PolicyHandler: the ConcurrencyHandler that applies each container's
// conflictResolutionPolicy when replication meets concurrent versions of a
// document, identically on every region:
//
//   LastWriterWins (path, default /_ts)  the version LastWriterWins(path)
//       prefers is kept; the others stay as open siblings. With
//       "recordLosers": true each of them also goes to the conflicts feed.
//   Custom, no procedure                 the version last-writer-wins on _ts
//       prefers is served; every other one goes to the conflicts feed.
//   Custom, "native:NAME[:ARG]"          a resolver compiled into regionlab
//       (native_resolver.h) keeps, merges, deletes or sends to the feed.
//   Custom, a stored procedure           the JavaScript merge procedure runs
//       (merge_procedure.h); if it is missing, throws or runs over its
//       budget, the conflict goes to the feed.
//
// Databases, containers and stored procedures resolve by last writer wins on
// _ts; copies of one conflict record made by several regions merge (a delete
// wins, otherwise the lowest region id's copy).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "conflictfeed/resolver.h"
#include "replication/interfaces.h"
#include "scripting/script_host.h"
#include "storage/store.h"

namespace regionlab::conflictfeed {

struct PolicyHandlerOptions {
  // Time and memory for one run of a merge procedure. Default: 1 s, 64 MiB.
  // Resolution runs while the region's store is locked for the write, so the
  // time budget bounds how long an endless procedure holds up the region's
  // writes (reads go on).
  scripting::Budget merge_budget;
};

class PolicyHandler final : public replication::ConcurrencyHandler {
 public:
  // `store` is the region's store (to look up container policies and stored
  // procedures); it must outlive the handler.
  explicit PolicyHandler(storage::Store& store, PolicyHandlerOptions options = {});
  ~PolicyHandler() override;
  const char* Name() const override { return "ContainerPolicy"; }
  Result<replication::Resolution> Resolve(std::string_view key, std::vector<storage::Record> versions,
                                          const storage::WriteContext& ctx) override;

 private:
  struct ContainerPolicy;
  // The policy of the container with binary rid `coll_rid`, or null if the
  // container is unknown. Cached, revalidated by the container's _etag.
  std::shared_ptr<const ContainerPolicy> PolicyFor(const std::string& coll_rid);
  Result<replication::Resolution> ResolveDocument(std::vector<storage::Record> versions);

  storage::Store& store_;
  PolicyHandlerOptions options_;
  std::unique_ptr<ConflictResolver> default_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const ContainerPolicy>> by_container_;
};

}  // namespace regionlab::conflictfeed
