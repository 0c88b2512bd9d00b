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
  // `store` must outlive this object.
  StoreRowSource(const storage::Store& store, std::string prefix)
      : store_(store), prefix_(std::move(prefix)) {}

  const std::string& prefix() const { return prefix_; }

  Status Scan(std::string_view start_after, const RowFn& fn) const override {
    if (!start_after.empty() && start_after.compare(0, prefix_.size(), prefix_) != 0) {
      return Status::BadRequest(
          "The continuation token does not belong to this container or partition.");
    }
    return store_.Scan(prefix_, start_after, /*include_tombstones=*/false,
                       [&](std::string_view key, storage::Record&& record) {
                         return fn(key, std::move(record.body));
                       });
  }

  Result<std::optional<std::string>> Get(std::string_view position) const override {
    if (position.compare(0, prefix_.size(), prefix_) != 0) return std::optional<std::string>();
    auto rec = store_.Get(position);
    if (!rec.ok()) return rec.status();
    if (!rec->has_value() || (*rec)->tombstone) return std::optional<std::string>();
    return std::optional<std::string>(std::move((*rec)->body));
  }

 private:
  const storage::Store& store_;
  std::string prefix_;
};

}  // namespace regionlab::query
