// The query engine over real (in-memory) stores through StoreRowSource: two
// stores holding the same documents stand in for two regions, so a
// continuation issued by one must continue the query on the other; deleted
// documents (tombstones) are never returned; a partition scope narrows the
// scan and refuses a continuation from another scope.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "query/query.h"
#include "query/store_row_source.h"
#include "storage/keys.h"
#include "storage/store.h"

namespace regionlab::query {
namespace {

namespace keys = storage::keys;

const std::string kCollRid("\x10\x20\x30\x40\x50\x60\x70\x01", 8);

std::unique_ptr<storage::Store> OpenStore(uint32_t region) {
  storage::StoreOptions options;
  options.in_memory = true;
  options.region_id = region;
  auto store = storage::Store::Open(options, SystemClock::Instance());
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return std::move(*store);
}

void Put(storage::Store& store, const std::string& pk_value, const std::string& id,
         const std::string& body, bool tombstone = false) {
  auto commit = store.Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
    storage::Record r;
    r.kind = storage::RecordKind::kDocument;
    r.id = id;
    r.partition_key = "[\"" + pk_value + "\"]";
    r.body = body;
    r.tombstone = tombstone;
    r.version[w.region_id] = w.lsn;
    r.parent = kCollRid;
    storage::WriteSet set;
    set.puts.emplace_back(keys::Document(kCollRid, r.partition_key, id), std::move(r));
    return set;
  });
  ASSERT_TRUE(commit.ok()) << commit.status().ToString();
}

void Fill(storage::Store& store) {
  for (int i = 0; i < 12; ++i) {
    std::string id = "d" + std::to_string(100 + i);
    std::string pk = "k" + std::to_string(i % 3);
    Put(store, pk, id,
        R"({"id":")" + id + R"(","pk":")" + pk + R"(","n":)" + std::to_string((i * 5) % 7) +
            R"(,"tags":["a","b"]})");
  }
}

std::vector<std::string> RunAll(const PreparedQuery& q,
                                const std::vector<const RowSource*>& sources, int64_t page,
                                const std::string& scope) {
  std::vector<std::string> out;
  PageRequest req;
  req.max_items = page;
  req.scope = scope;
  for (size_t i = 0;; ++i) {
    auto p = ExecutePage(q, *sources[i % sources.size()], req);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    if (!p.ok()) break;
    out.insert(out.end(), p->documents.begin(), p->documents.end());
    if (p->continuation.empty()) break;
    req.continuation = p->continuation;
  }
  return out;
}

TEST(QueryStore, ContinuationsMoveBetweenRegions) {
  auto east = OpenStore(0);
  auto west = OpenStore(1);
  Fill(*east);
  Fill(*west);
  const std::string prefix = keys::DocumentPrefix(kCollRid);
  StoreRowSource a(*east, prefix), b(*west, prefix);
  for (const char* text :
       {"SELECT VALUE c.id FROM c", "SELECT VALUE c.id FROM c ORDER BY c.n DESC, c.id",
        "SELECT c.id, t FROM c JOIN t IN c.tags WHERE c.n > 2",
        "SELECT c.pk, COUNT(1) AS n FROM c GROUP BY c.pk"}) {
    auto q = PreparedQuery::Prepare({text, {}});
    ASSERT_TRUE(q.ok());
    auto whole = RunAll(*q, {&a}, 0, prefix);
    EXPECT_FALSE(whole.empty()) << text;
    EXPECT_EQ(RunAll(*q, {&a, &b}, 2, prefix), whole) << text;
    EXPECT_EQ(RunAll(*q, {&b, &a}, 1, prefix), whole) << text;
  }
}

TEST(QueryStore, TombstonesAreNotRows) {
  auto store = OpenStore(0);
  Fill(*store);
  Put(*store, "k1", "d101", "{}", /*tombstone=*/true);
  StoreRowSource all(*store, keys::DocumentPrefix(kCollRid));
  auto q = PreparedQuery::Prepare({"SELECT VALUE c.id FROM c WHERE c.pk = 'k1'", {}});
  ASSERT_TRUE(q.ok());
  auto ids = RunAll(*q, {&all}, 0, "all");
  EXPECT_EQ(ids, (std::vector<std::string>{"\"d104\"", "\"d107\"", "\"d110\""}));
}

TEST(QueryStore, PartitionScopeNarrowsTheScan) {
  auto store = OpenStore(0);
  Fill(*store);
  auto q =
      PreparedQuery::Prepare({"SELECT VALUE c.id FROM c WHERE c.pk = 'k2' ORDER BY c.id DESC", {}});
  ASSERT_TRUE(q.ok());
  auto pk = q->PartitionKeyEquality({"/pk"});
  ASSERT_TRUE(pk.has_value());
  const std::string scoped = keys::PartitionPrefix(kCollRid, "[" + (*pk)[0].ToJson() + "]");
  StoreRowSource one(*store, scoped);
  PageRequest req;
  req.max_items = 2;
  req.scope = scoped;
  auto first = ExecutePage(*q, one, req);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->rows_scanned, 4u);  // only partition k2
  EXPECT_EQ(first->documents, (std::vector<std::string>{"\"d111\"", "\"d108\""}));
  // The same continuation against the whole container (another scope) is refused.
  StoreRowSource all(*store, keys::DocumentPrefix(kCollRid));
  PageRequest other = req;
  other.continuation = first->continuation;
  other.scope = keys::DocumentPrefix(kCollRid);
  EXPECT_EQ(ExecutePage(*q, all, other).status().code(), StatusCode::kBadRequest);
  req.continuation = first->continuation;
  auto second = ExecutePage(*q, one, req);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->documents, (std::vector<std::string>{"\"d105\"", "\"d102\""}));
  EXPECT_TRUE(second->continuation.empty());
}

}  // namespace
}  // namespace regionlab::query
