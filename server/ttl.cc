#include "server/ttl.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "server/region_context.h"
#include "storage/keys.h"

namespace regionlab::server {
namespace {

namespace keys = storage::keys;
using storage::Record;

constexpr size_t kWriteBatch = 256;

struct TtlContainer {
  std::string rid_bytes;
  int64_t default_ttl = 0;
};

Result<std::vector<TtlContainer>> ContainersWithTtl(const storage::Store& store) {
  std::vector<TtlContainer> out;
  Status s = store.Scan(keys::AllContainersPrefix(), "", false, [&](std::string_view key, Record&& rec) {
    if (rec.kind != storage::RecordKind::kContainer) return true;
    auto doc = nlohmann::json::parse(rec.body, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object()) return true;
    auto ttl = doc.find("defaultTtl");
    if (ttl == doc.end() || !ttl->is_number_integer()) return true;
    auto rid = doc.find("_rid");
    if (rid == doc.end() || !rid->is_string()) return true;
    auto bytes = Base64Decode(rid->get<std::string>());
    if (!bytes) return true;
    out.push_back({*bytes, ttl->get<int64_t>()});
    return true;
  });
  if (!s.ok()) return s;
  return out;
}

// Replaces the documents at `keys` that are still expired by purge
// tombstones, in one store write. Returns how many it purged.
Result<uint64_t> PurgeKeys(storage::Store& store, const std::vector<std::string>& doc_keys, int64_t default_ttl) {
  uint64_t purged = 0;
  auto commit = store.Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
    purged = 0;
    auto current = store.MultiGet(doc_keys);
    if (!current.ok()) return current.status();
    storage::WriteSet set;
    for (size_t i = 0; i < doc_keys.size(); ++i) {
      const auto& cur = (*current)[i];
      if (!cur || !storage::IsExpired(*cur, default_ttl, w.now_micros)) continue;  // updated meanwhile
      Record tomb = *cur;
      tomb.tombstone = true;
      tomb.ttl_expired = true;
      tomb.body.clear();
      tomb.operation = storage::Operation::kDelete;
      tomb.replaces_local_lsn = storage::ReplacedLsn(*cur);
      set.puts.emplace_back(doc_keys[i], std::move(tomb));
      ++purged;
    }
    if (set.puts.empty()) return storage::WriteSet{};
    set.origin_region = storage::kExpiryOrigin;
    set.origin_lsn = w.lsn;
    return set;
  });
  if (!commit.ok()) return commit.status();
  return purged;
}

}  // namespace

Result<uint64_t> PurgeExpired(RegionContext& region, size_t max_documents) {
  storage::Store* store = region.store;
  if (!store) return Status::Unavailable("the region is down");
  auto containers = ContainersWithTtl(*store);
  if (!containers.ok()) return containers.status();
  uint64_t purged = 0;
  for (const TtlContainer& c : *containers) {
    const int64_t now = region.clock->NowMicros();
    std::vector<std::string> expired;
    Status s = store->Scan(keys::DocumentPrefix(c.rid_bytes), "", false, [&](std::string_view key, Record&& rec) {
      if (storage::IsExpired(rec, c.default_ttl, now)) expired.emplace_back(key);
      return purged + expired.size() < max_documents;
    });
    if (!s.ok()) return s;
    for (size_t i = 0; i < expired.size(); i += kWriteBatch) {
      std::vector<std::string> chunk(expired.begin() + static_cast<std::ptrdiff_t>(i),
                                     expired.begin() + static_cast<std::ptrdiff_t>(std::min(expired.size(), i + kWriteBatch)));
      auto n = PurgeKeys(*store, chunk, c.default_ttl);
      if (!n.ok()) return n.status();
      purged += *n;
    }
    if (purged >= max_documents) break;
  }
  return purged;
}

}  // namespace regionlab::server
