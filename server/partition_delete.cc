// Delete by partition key: POST dbs/{db}/colls/{c}/operations/partitionkeydelete
// (container.deleteAllItemsForPartitionKey). Every live document of the
// partition key becomes a tombstone — a replicated delete, like one written
// by DELETE on each document, so it conflicts with concurrent writes by the
// same rules and reaches every region. Azure runs it in the background; here
// it is done before the answer, in store writes of up to kBatch documents.
#include "base/encoding.h"
#include "server/errors.h"
#include "server/handlers.h"
#include "storage/keys.h"

namespace regionlab::server {
namespace {

constexpr size_t kBatch = 500;

}  // namespace

HttpResponse HandlePartitionKeyDelete(RequestContext& ctx) {
  const auto& s = ctx.segments;
  if (ctx.request.method != "POST") {
    return ErrorResponse(Status::BadRequest("Use POST .../operations/partitionkeydelete."));
  }
  auto loaded = LoadContainer(ctx, s[1], s[3]);
  if (!loaded.ok()) return ErrorResponse(loaded.status());
  const ContainerInfo& info = **loaded;
  const std::string* header = ctx.request.Header("x-ms-documentdb-partitionkey");
  if (!header) {
    return ErrorResponse(Status::BadRequest("Delete by partition key needs the x-ms-documentdb-partitionkey header."));
  }
  auto pk = CanonicalPartitionKey(*header, info.pk_paths.size());
  if (!pk.ok()) return ErrorResponse(pk.status());
  const std::string prefix = storage::keys::PartitionPrefix(RidBytes(info.record.rid).value_or(""), *pk);
  uint64_t deleted = 0;
  for (;;) {
    std::vector<std::string> keys;
    Status scan = ctx.region.store->Scan(prefix, "", /*include_tombstones=*/false,
                                         [&](std::string_view key, storage::Record&&) {
                                           keys.emplace_back(key);
                                           return keys.size() < kBatch;
                                         });
    if (!scan.ok()) return ErrorResponse(scan);
    if (keys.empty()) break;
    auto commit = ctx.region.store->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
      auto current = ctx.region.store->MultiGet(keys);
      if (!current.ok()) return current.status();
      storage::WriteSet set;
      for (size_t i = 0; i < keys.size(); ++i) {
        const auto& cur = (*current)[i];
        if (cur && !cur->tombstone) set.puts.emplace_back(keys[i], MakeTombstone(*cur, w));
      }
      return set;
    });
    if (!commit.ok()) return ErrorResponse(commit.status());
    if (commit->lsn) ctx.session_lsn = commit->lsn;
    deleted += keys.size();
  }
  ctx.request_charge = 10.0 + 5.0 * static_cast<double>(deleted);
  HttpResponse r = JsonResponse(200, "");
  r.SetHeader("x-regionlab-deleted", std::to_string(deleted));
  return r;
}

}  // namespace regionlab::server
