// StoreRowSource: the live records of a region's Store under one key prefix
// (a container's documents, one partition's documents, the databases, ...)
// as a query::RowSource. Positions are the storage keys, which are the same
// on every region for the same data, so continuations travel between regions.
//
// Header-only so that regionlab_query itself does not depend on storage.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "query/query.h"
#include "storage/store.h"

namespace regionlab::query {

class StoreRowSource final : public RowSource {
 public:
  // `store` must outlive this object. With `default_ttl` (a container's
  // defaultTtl, see storage::ExpiresAtSeconds) documents expired at
  // `now_micros` are not rows.
  StoreRowSource(const storage::Store& store, std::string prefix, std::optional<int64_t> default_ttl = std::nullopt,
                 int64_t now_micros = 0)
      : store_(store), prefix_(std::move(prefix)), default_ttl_(default_ttl), now_micros_(now_micros) {}

  const std::string& prefix() const { return prefix_; }

  Status Scan(std::string_view start_after, const RowFn& fn) const override {
    if (!start_after.empty() && start_after.compare(0, prefix_.size(), prefix_) != 0) {
      return Status::BadRequest(
          "The continuation token does not belong to this container or partition.");
    }
    return store_.Scan(prefix_, start_after, /*include_tombstones=*/false,
                       [&](std::string_view key, storage::Record&& record) {
                         if (storage::IsExpired(record, default_ttl_, now_micros_)) return true;
                         return fn(key, std::move(record.body));
                       });
  }

  Result<std::optional<std::string>> Get(std::string_view position) const override {
    if (position.compare(0, prefix_.size(), prefix_) != 0) return std::optional<std::string>();
    auto rec = store_.Get(position);
    if (!rec.ok()) return rec.status();
    if (!rec->has_value() || (*rec)->tombstone || storage::IsExpired(**rec, default_ttl_, now_micros_)) {
      return std::optional<std::string>();
    }
    return std::optional<std::string>(std::move((*rec)->body));
  }

 private:
  const storage::Store& store_;
  std::string prefix_;
  std::optional<int64_t> default_ttl_;
  int64_t now_micros_ = 0;
};

}  // namespace regionlab::query
