#include "conflictfeed/policy_handler.h"

#include <nlohmann/json.hpp>

#include "base/encoding.h"
#include "storage/keys.h"

namespace regionlab::conflictfeed {

PolicyHandler::PolicyHandler(storage::Store& store)
    : store_(store), default_(NewLastWriterWins("/_ts")) {}

const ConflictResolver& PolicyHandler::ResolverFor(const std::string& coll_rid) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = by_container_.find(coll_rid); it != by_container_.end()) return *it->second;
  // Find the container whose _rid decodes to `coll_rid`. Containers are few;
  // a scan on a cache miss is cheap and needs no secondary index.
  std::string path;
  bool found = false;
  store_
      .Scan(storage::keys::AllContainersPrefix(), "", true,
            [&](std::string_view, storage::Record&& rec) {
              auto bytes = Base64Decode(rec.rid);
              if (!bytes || *bytes != coll_rid) return true;
              auto doc = nlohmann::json::parse(rec.body, nullptr, false);
              if (!doc.is_discarded()) {
                auto policy = doc.value("conflictResolutionPolicy", nlohmann::json::object());
                path = policy.value("conflictResolutionPath", "/_ts");
              }
              found = true;
              return false;
            })
      .IgnoreError();  // on a failed scan the default policy applies
  if (!found) return *default_;
  auto& slot = by_container_[coll_rid];
  slot = NewLastWriterWins(path);
  return *slot;
}

Result<replication::Resolution> PolicyHandler::Resolve(std::string_view key,
                                                       std::vector<storage::Record> versions,
                                                       const storage::WriteContext& ctx) {
  const ConflictResolver& resolver = versions.front().kind == storage::RecordKind::kDocument
                                         ? ResolverFor(versions.front().parent)
                                         : *default_;
  size_t best = 0;
  for (size_t i = 1; i < versions.size(); ++i) {
    if (resolver.Prefers(versions[i], versions[best])) best = i;
  }
  replication::Resolution res;
  res.survivor = std::move(versions[best]);
  for (size_t i = 0; i < versions.size(); ++i) {
    if (i != best) res.survivor.siblings.push_back(std::move(versions[i]));
  }
  return res;
}

}  // namespace regionlab::conflictfeed
