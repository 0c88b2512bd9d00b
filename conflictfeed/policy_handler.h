// PolicyHandler: the ConcurrencyHandler that applies each container's
// conflictResolutionPolicy when replication meets concurrent versions.
// Databases and containers themselves resolve by last writer wins on _ts.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "conflictfeed/resolver.h"
#include "replication/interfaces.h"
#include "storage/store.h"

namespace regionlab::conflictfeed {

class PolicyHandler final : public replication::ConcurrencyHandler {
 public:
  // `store` is the region's store (to look up container policies); it must
  // outlive the handler.
  explicit PolicyHandler(storage::Store& store);
  const char* Name() const override { return "ContainerPolicy"; }
  Result<replication::Resolution> Resolve(std::string_view key, std::vector<storage::Record> versions,
                                          const storage::WriteContext& ctx) override;

 private:
  // The resolver for documents of the container with binary rid `coll_rid`.
  const ConflictResolver& ResolverFor(const std::string& coll_rid);

  storage::Store& store_;
  std::unique_ptr<ConflictResolver> default_;
  std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<ConflictResolver>> by_container_;
};

}  // namespace regionlab::conflictfeed
