// storage/: key encodings and the RocksDB Store, on a temporary directory and
// in memory.
#include <gtest/gtest.h>
#include <rocksdb/env.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/deferred_work.h"
#include "base/thread_slice.h"
#include "storage/codec.h"
#include "storage/keys.h"
#include "storage/store.h"
#include "tests/support/fake_clock.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_for.h"

namespace regionlab::storage {
namespace {

// ---------------------------------------------------------------- keys

TEST(KeysTest, LengthPrefixedRoundTripAcrossVarintBoundaries) {
  for (size_t len : {size_t{0}, size_t{1}, size_t{127}, size_t{128}, size_t{300}, size_t{16383},
                     size_t{16384}, size_t{70000}}) {
    std::string value(len, 'x');
    if (len > 0) value[len - 1] = '\xff';
    std::string buf;
    keys::PutLengthPrefixed(&buf, value);
    buf += "rest";
    std::string_view in = buf;
    std::string_view got;
    ASSERT_TRUE(keys::GetLengthPrefixed(&in, &got)) << len;
    EXPECT_EQ(got, value) << len;
    EXPECT_EQ(in, "rest") << len;  // input advanced past the value
  }
}

TEST(KeysTest, LengthPrefixedSequenceOfValues) {
  std::string buf;
  keys::PutLengthPrefixed(&buf, "a");
  keys::PutLengthPrefixed(&buf, "");
  keys::PutLengthPrefixed(&buf, std::string(200, 'b'));
  std::string_view in = buf, v;
  ASSERT_TRUE(keys::GetLengthPrefixed(&in, &v));
  EXPECT_EQ(v, "a");
  ASSERT_TRUE(keys::GetLengthPrefixed(&in, &v));
  EXPECT_EQ(v, "");
  ASSERT_TRUE(keys::GetLengthPrefixed(&in, &v));
  EXPECT_EQ(v, std::string(200, 'b'));
  EXPECT_TRUE(in.empty());
  EXPECT_FALSE(keys::GetLengthPrefixed(&in, &v));
}

TEST(KeysTest, LengthPrefixedRejectsTruncatedInput) {
  std::string buf;
  keys::PutLengthPrefixed(&buf, std::string(300, 'z'));
  std::string_view truncated = std::string_view(buf).substr(0, buf.size() - 1);
  std::string_view v;
  EXPECT_FALSE(keys::GetLengthPrefixed(&truncated, &v));
  std::string_view only_continuation("\x80", 1);  // varint never ends
  EXPECT_FALSE(keys::GetLengthPrefixed(&only_continuation, &v));
  std::string_view overlong("\xff\xff\xff\xff\xff\x01", 6);  // > 32 bits
  EXPECT_FALSE(keys::GetLengthPrefixed(&overlong, &v));
}

// ---------------------------------------------------------------- codec

Record RandomRecord(std::mt19937_64& rng, int depth) {
  auto text = [&](size_t max) {
    std::string out(rng() % (max + 1), ' ');
    for (char& c : out) c = static_cast<char>('a' + rng() % 26);
    return out;
  };
  auto pick = [&](uint64_t v) { return rng() % 3 == 0 ? 0 : v; };  // defaults often
  Record r;
  r.kind = static_cast<RecordKind>(1 + rng() % 6);
  r.id = text(12);
  r.partition_key = rng() % 2 ? "[\"" + text(5) + "\"]" : "";
  r.rid = text(8);
  r.etag = text(10);
  r.ts = static_cast<int64_t>(pick(rng() % 2 ? rng() : static_cast<uint64_t>(-static_cast<int64_t>(rng() % 1000))));
  r.tombstone = rng() % 2;
  for (uint64_t n = rng() % 4; n > 0; --n) r.version[static_cast<uint32_t>(rng() % 5)] = pick(rng() >> (rng() % 64));
  r.origin_region = static_cast<uint32_t>(pick(rng() % 9));
  r.origin_lsn = pick(rng() >> (rng() % 64));
  r.write_micros = static_cast<int64_t>(pick(rng() >> 12));
  r.body = text(300);
  r.parent = text(8);
  if (depth < 2) {
    for (uint64_t n = rng() % 3; n > 0; --n) r.siblings.push_back(RandomRecord(rng, depth + 1));
  }
  r.operation = static_cast<Operation>(rng() % 4);
  r.merged = rng() % 2;
  r.local_lsn = pick(rng());
  r.ttl = rng() % 3 == 0 ? -1 : static_cast<int64_t>(pick(rng() % 100000));
  r.ttl_expired = rng() % 2;
  return r;
}

void ExpectSameRecord(const Record& a, const Record& b) {
  std::string ea, eb;
  EncodeRecordWithProtobuf(a, &ea);
  EncodeRecordWithProtobuf(b, &eb);
  EXPECT_EQ(ea, eb);
}

TEST(CodecTest, DirectRecordEncodingIsTheProtobufEncoding) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    Record r = RandomRecord(rng, 0);
    std::string direct, generated;
    EncodeRecord(r, &direct);
    EncodeRecordWithProtobuf(r, &generated);
    ASSERT_EQ(direct, generated) << "record " << i;
    Record back;
    ASSERT_TRUE(DecodeRecord(direct, &back));
    ExpectSameRecord(back, r);
    EXPECT_EQ(back.body, r.body);
    EXPECT_EQ(back.siblings.size(), r.siblings.size());
  }
}

TEST(CodecTest, DirectDecodingAgreesWithProtobufOnValidAndDamagedInput) {
  std::mt19937_64 rng(5);
  int both_accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string bytes;
    EncodeRecord(RandomRecord(rng, 0), &bytes);
    if (i % 2 == 1) {  // damage it: flip, cut or insert bytes
      for (uint64_t n = 1 + rng() % 3; n > 0 && !bytes.empty(); --n) {
        size_t at = rng() % bytes.size();
        switch (rng() % 3) {
          case 0: bytes[at] = static_cast<char>(rng()); break;
          case 1: bytes.resize(at); break;
          default: bytes.insert(at, 1, static_cast<char>(rng())); break;
        }
      }
    }
    Record direct, generated;
    bool ok_direct = DecodeRecord(bytes, &direct);
    bool ok_generated = DecodeRecordWithProtobuf(bytes, &generated);
    if (i % 2 == 0) {
      ASSERT_TRUE(ok_direct && ok_generated) << "record " << i;
    }
    if (ok_direct && ok_generated) {
      ++both_accepted;
      ExpectSameRecord(direct, generated);
    }
  }
  EXPECT_GT(both_accepted, 1500);
}

TEST(CodecTest, BuiltLogEntryDecodesLikeAnEncodedOne) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 300; ++i) {
    LogEntry e;
    e.lsn = rng() >> (rng() % 64);
    e.write_micros = static_cast<int64_t>(rng() >> 12) * (rng() % 5 == 0 ? -1 : 1);
    e.origin_region = static_cast<uint32_t>(rng() % 9);
    e.origin_lsn = rng() >> (rng() % 64);
    for (uint64_t n = rng() % 5; n > 0; --n) e.records.emplace_back("k" + std::to_string(rng() % 100), RandomRecord(rng, 1));
    for (uint64_t n = rng() % 2; n > 0; --n) e.erase_ranges.emplace_back("a" + std::to_string(n), "b");
    LogEntryBuilder built(e.lsn, e.write_micros, e.origin_region, e.origin_lsn);
    for (const auto& [key, rec] : e.records) {
      std::string bytes;
      EncodeRecord(rec, &bytes);
      built.AddRecord(key, bytes);
    }
    for (const auto& [b, en] : e.erase_ranges) built.AddEraseRange(b, en);
    std::string encoded;
    EncodeLogEntry(e, &encoded);
    LogEntry a, b;
    ASSERT_TRUE(DecodeLogEntry(built.bytes(), &a));
    ASSERT_TRUE(DecodeLogEntry(encoded, &b));
    EXPECT_EQ(a.lsn, e.lsn);
    EXPECT_EQ(a.write_micros, e.write_micros);
    EXPECT_EQ(a.origin_region, e.origin_region);
    EXPECT_EQ(a.origin_lsn, e.origin_lsn);
    EXPECT_EQ(a.erase_ranges, e.erase_ranges);
    ASSERT_EQ(a.records.size(), b.records.size());
    for (size_t j = 0; j < a.records.size(); ++j) {
      EXPECT_EQ(a.records[j].first, b.records[j].first);
      ExpectSameRecord(a.records[j].second, b.records[j].second);
    }
    LogEntryHeader h;
    ASSERT_TRUE(DecodeLogEntryHeader(built.bytes(), &h));
    EXPECT_EQ(h.lsn, e.lsn);
    EXPECT_EQ(h.write_micros, e.write_micros);
    EXPECT_EQ(h.origin_region, e.origin_region);
    EXPECT_EQ(h.origin_lsn, e.origin_lsn);
  }
  LogEntryHeader h;
  EXPECT_FALSE(DecodeLogEntryHeader(std::string("\x0a\x05" "ab", 4), &h));  // truncated field
}

TEST(KeysTest, LogKeysSortByLsnAndDecode) {
  std::vector<uint64_t> lsns = {0, 1, 2, 255, 256, 65535, 1ull << 40, ~0ull};
  for (size_t i = 0; i < lsns.size(); ++i) {
    EXPECT_EQ(keys::LogSequence(keys::Log(lsns[i])), std::optional<uint64_t>(lsns[i]));
    if (i > 0) {
      EXPECT_LT(keys::Log(lsns[i - 1]), keys::Log(lsns[i]));
    }
  }
  EXPECT_FALSE(keys::LogSequence("L123").has_value());
  EXPECT_FALSE(keys::LogSequence("X12345678").has_value());
}

TEST(KeysTest, PrefixEnd) {
  EXPECT_EQ(keys::PrefixEnd("abc"), "abd");
  EXPECT_EQ(keys::PrefixEnd(std::string("ab\xff", 3)), "ac");
  EXPECT_EQ(keys::PrefixEnd(std::string("a\xff\xff", 3)), "b");
  // Every extension of the prefix sorts below PrefixEnd, and PrefixEnd above.
  for (std::string prefix : {std::string("d\x01\x02"), std::string("d\xfe\xff"), std::string("C\x00", 2)}) {
    std::string end = keys::PrefixEnd(prefix);
    EXPECT_LT(prefix, end);
    EXPECT_LT(prefix + std::string(8, '\xff'), end);
    EXPECT_FALSE(end.starts_with(prefix));
  }
}

const std::string kRidA("\x01\x02\x03\x04\x85\x06\x07\x08", 8);
const std::string kRidB("\x01\x02\x03\x04\x85\x06\x07\x09", 8);

TEST(KeysTest, DocumentKeysStartWithTheirPartitionAndContainerPrefix) {
  std::string key = keys::Document(kRidA, "[\"a\"]", "doc1");
  EXPECT_TRUE(key.starts_with(keys::PartitionPrefix(kRidA, "[\"a\"]")));
  EXPECT_TRUE(key.starts_with(keys::DocumentPrefix(kRidA)));
  EXPECT_FALSE(key.starts_with(keys::DocumentPrefix(kRidB)));
  // A partition key that extends another is a different partition: the length
  // prefix keeps ["a"] from matching ["ab"].
  EXPECT_FALSE(keys::Document(kRidA, "[\"ab\"]", "x").starts_with(keys::PartitionPrefix(kRidA, "[\"a\"]")));
  EXPECT_FALSE(keys::Document(kRidA, "[\"a\"]", "x").starts_with(keys::PartitionPrefix(kRidA, "[\"a\"")));
}

TEST(KeysTest, PartitionsAreContiguousAndSortedById) {
  const std::vector<std::string> pks = {"[\"a\"]", "[\"ab\"]", "[\"b\"]", "[5]", "[null]", "[{}]",
                                        "[\"" + std::string(200, 'p') + "\"]"};
  const std::vector<std::string> ids = {"z", "a", "m", "a0", "\xc3\xa9", "A"};
  std::vector<std::pair<std::string, std::pair<std::string, std::string>>> all;  // key -> (pk,id)
  for (const auto& pk : pks) {
    for (const auto& id : ids) all.push_back({keys::Document(kRidA, pk, id), {pk, id}});
  }
  std::sort(all.begin(), all.end());
  // In key order, each partition forms one run, and ids within it are sorted.
  std::vector<std::string> run_order;
  std::map<std::string, std::vector<std::string>> ids_by_pk;
  for (const auto& [key, pk_id] : all) {
    if (run_order.empty() || run_order.back() != pk_id.first) run_order.push_back(pk_id.first);
    ids_by_pk[pk_id.first].push_back(pk_id.second);
  }
  EXPECT_EQ(run_order.size(), pks.size()) << "a partition's documents are not contiguous";
  for (auto& [pk, got] : ids_by_pk) {
    std::vector<std::string> want = ids;
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want) << pk;
  }
}

TEST(KeysTest, ResourceFamiliesDoNotOverlap) {
  // Databases, containers, documents, sprocs and the log use distinct prefixes.
  EXPECT_FALSE(keys::Database("x").starts_with(keys::ContainerPrefix("x")));
  EXPECT_FALSE(keys::Container("d", "c").starts_with(keys::DatabasePrefix()));
  EXPECT_FALSE(keys::StoredProcedure(kRidA, "p").starts_with(keys::DocumentPrefix(kRidA)));
  EXPECT_FALSE(keys::Document(kRidA, "[1]", "p").starts_with(keys::StoredProcedurePrefix(kRidA)));
  // Containers of database "a" are not containers of database "ab".
  EXPECT_FALSE(keys::Container("ab", "c").starts_with(keys::ContainerPrefix("a")));
  EXPECT_TRUE(keys::Container("a", "bc").starts_with(keys::ContainerPrefix("a")));
}

// ---------------------------------------------------------------- Store

// A fresh directory under the gtest temp dir, removed on destruction.
using regionlab::testing::TempDir;

Record Doc(std::string id, std::string body, bool tombstone = false) {
  Record r;
  r.kind = RecordKind::kDocument;
  r.id = std::move(id);
  r.partition_key = "[\"p\"]";
  r.rid = "rid-" + r.id;
  r.etag = "\"e\"";
  r.body = std::move(body);
  r.tombstone = tombstone;
  return r;
}

// Commits `puts` as one write; returns its lsn (0 on failure, with a test failure).
uint64_t Put(Store& store, std::vector<std::pair<std::string, Record>> puts) {
  auto res = store.Write([&](const WriteContext&) -> Result<WriteSet> {
    WriteSet set;
    set.puts = puts;
    return set;
  });
  EXPECT_TRUE(res.ok()) << res.status().ToString();
  return res.ok() ? res->lsn : 0;
}

std::optional<Record> GetOrFail(const Store& store, const std::string& key) {
  auto got = store.Get(key);
  EXPECT_TRUE(got.ok()) << got.status().ToString();
  return got.ok() ? *got : std::nullopt;
}

std::vector<std::string> ScanKeys(const Store& store, std::string_view prefix,
                                  std::string_view start_after = "", bool tombstones = false,
                                  size_t stop_after = SIZE_MAX) {
  std::vector<std::string> out;
  Status s = store.Scan(prefix, start_after, tombstones, [&](std::string_view k, Record&&) {
    out.emplace_back(k);
    return out.size() < stop_after;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

// A Store on a fresh temp dir (parameter false) or in memory (true).
class StoreTest : public ::testing::TestWithParam<bool> {
 protected:
  bool in_memory() const { return GetParam(); }

  StoreOptions Options(uint32_t region_id = 7) const {
    StoreOptions o;
    o.in_memory = in_memory();
    o.path = dir_.path();
    o.region_id = region_id;
    return o;
  }

  std::unique_ptr<Store> OpenOrDie(uint32_t region_id = 7) {
    auto s = Store::Open(Options(region_id), clock_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty()) << "could not create a temp dir";
    store_ = OpenOrDie();
    ASSERT_NE(store_, nullptr);
  }

  TempDir dir_{"regionlab_storage_test"};
  regionlab::testing::FakeClock clock_{1'700'000'000'123'456};
  std::unique_ptr<Store> store_;
};

INSTANTIATE_TEST_SUITE_P(DiskAndMemory, StoreTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("InMemory") : std::string("OnDisk");
                         });

// Behaviour that does not depend on the medium runs in memory only (opening a
// RocksDB directory costs an fsync or two); reopening runs on disk only.
class MemoryStoreTest : public StoreTest {};
INSTANTIATE_TEST_SUITE_P(Memory, MemoryStoreTest, ::testing::Values(true),
                         [](const ::testing::TestParamInfo<bool>&) { return std::string("InMemory"); });
class DiskStoreTest : public StoreTest {};
INSTANTIATE_TEST_SUITE_P(Disk, DiskStoreTest, ::testing::Values(false),
                         [](const ::testing::TestParamInfo<bool>&) { return std::string("OnDisk"); });

TEST_P(MemoryStoreTest, FreshStoreIsEmpty) {
  EXPECT_EQ(store_->region_id(), 7u);
  EXPECT_EQ(store_->last_lsn(), 0u);
  auto log = store_->ReadLog(0, 100);
  ASSERT_TRUE(log.ok());
  EXPECT_TRUE(log->empty());
  EXPECT_FALSE(GetOrFail(*store_, "dX").has_value());
}

TEST_P(StoreTest, WriteCommitsPutsAndOneLogEntryTogether) {
  WriteContext seen;
  auto res = store_->Write([&](const WriteContext& w) -> Result<WriteSet> {
    seen = w;
    WriteSet set;
    set.puts.emplace_back("dk1", Doc("one", "{\"n\":1}"));
    set.puts.emplace_back("dk2", Doc("two", "{\"n\":2}"));
    return set;
  });
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->lsn, 1u);
  EXPECT_EQ(seen.lsn, 1u);
  EXPECT_EQ(seen.region_id, 7u);
  EXPECT_EQ(seen.now_micros, clock_.NowMicros());
  EXPECT_EQ(res->write_micros, clock_.NowMicros());
  EXPECT_EQ(store_->last_lsn(), 1u);

  auto one = GetOrFail(*store_, "dk1");
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->id, "one");
  EXPECT_EQ(one->body, "{\"n\":1}");
  EXPECT_EQ(one->partition_key, "[\"p\"]");
  ASSERT_TRUE(GetOrFail(*store_, "dk2").has_value());

  auto log = store_->ReadLog(1, 10);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 1u);
  const LogEntry& e = (*log)[0];
  EXPECT_EQ(e.lsn, 1u);
  EXPECT_EQ(e.write_micros, clock_.NowMicros());
  ASSERT_EQ(e.records.size(), 2u);
  EXPECT_EQ(e.records[0].first, "dk1");
  EXPECT_EQ(e.records[0].second.body, "{\"n\":1}");
  EXPECT_EQ(e.records[1].first, "dk2");
  EXPECT_EQ(e.records[1].second.id, "two");
}

TEST_P(StoreTest, RecordFieldsRoundTrip) {
  Record r;
  r.kind = RecordKind::kContainer;
  r.id = "coll";
  r.partition_key = std::string("[\"\x00\xff\"]", 6);
  r.rid = "AbCd==";
  r.etag = "\"00000007-0000-0000-0000-000000000001\"";
  r.ts = 1700000000;
  r.tombstone = true;
  r.version = {{0, 5}, {7, 1}, {2, 99}};
  r.origin_region = 7;
  r.origin_lsn = 1;
  r.write_micros = 1'700'000'000'123'456;
  r.body = std::string("{\"bin\":\"\x00\"}", 12);
  r.parent = std::string("\x01\x02\x00", 3);
  ASSERT_EQ(Put(*store_, {{"Ck", r}}), 1u);
  auto got = GetOrFail(*store_, "Ck");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->kind, r.kind);
  EXPECT_EQ(got->id, r.id);
  EXPECT_EQ(got->partition_key, r.partition_key);
  EXPECT_EQ(got->rid, r.rid);
  EXPECT_EQ(got->etag, r.etag);
  EXPECT_EQ(got->ts, r.ts);
  EXPECT_EQ(got->tombstone, r.tombstone);
  EXPECT_EQ(got->version, r.version);
  EXPECT_EQ(got->origin_region, r.origin_region);
  EXPECT_EQ(got->origin_lsn, r.origin_lsn);
  EXPECT_EQ(got->write_micros, r.write_micros);
  EXPECT_EQ(got->body, r.body);
  EXPECT_EQ(got->parent, r.parent);
}

TEST_P(StoreTest, FailedBuildCommitsNothing) {
  ASSERT_EQ(Put(*store_, {{"dk", Doc("d", "v1")}}), 1u);
  auto res = store_->Write([&](const WriteContext&) -> Result<WriteSet> {
    // Reads inside the build see the committed state.
    auto cur = store_->Get("dk");
    EXPECT_TRUE(cur.ok() && cur->has_value() && (*cur)->body == "v1");
    return Status::PreconditionFailed("etag mismatch");
  });
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), StatusCode::kPreconditionFailed);
  EXPECT_EQ(res.status().message(), "etag mismatch");
  EXPECT_EQ(store_->last_lsn(), 1u);
  auto log = store_->ReadLog(0, 10);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->size(), 1u);
  auto got = GetOrFail(*store_, "dk");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->body, "v1");
  // The failed attempt did not consume an lsn.
  EXPECT_EQ(Put(*store_, {{"dk", Doc("d", "v2")}}), 2u);
}

TEST_P(MemoryStoreTest, EmptyWriteSetCommitsNothing) {
  auto res = store_->Write([](const WriteContext&) -> Result<WriteSet> { return WriteSet{}; });
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->lsn, 0u);
  EXPECT_EQ(store_->last_lsn(), 0u);
  auto log = store_->ReadLog(0, 10);
  ASSERT_TRUE(log.ok());
  EXPECT_TRUE(log->empty());
}

TEST_P(MemoryStoreTest, LsnStrictlyIncreasesAndReadLogPages) {
  uint64_t prev = 0;
  for (int i = 0; i < 10; ++i) {
    clock_.AdvanceMillis(3);
    uint64_t lsn = Put(*store_, {{"dk" + std::to_string(i), Doc(std::to_string(i), "b")}});
    EXPECT_GT(lsn, prev);
    prev = lsn;
  }
  EXPECT_EQ(store_->last_lsn(), prev);
  auto page = store_->ReadLog(4, 3);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 3u);
  EXPECT_EQ((*page)[0].lsn, 4u);
  EXPECT_EQ((*page)[2].lsn, 6u);
  EXPECT_EQ((*page)[0].records[0].first, "dk3");
  EXPECT_LT((*page)[0].write_micros, (*page)[1].write_micros);
  auto tail = store_->ReadLog(prev + 1, 10);
  ASSERT_TRUE(tail.ok());
  EXPECT_TRUE(tail->empty());
}

TEST_P(DiskStoreTest, LastLsnSurvivesReopen) {
  for (int i = 0; i < 3; ++i) Put(*store_, {{"dk" + std::to_string(i), Doc("x", "b")}});
  ASSERT_EQ(store_->last_lsn(), 3u);
  store_.reset();
  store_ = OpenOrDie();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(store_->last_lsn(), 3u);
  auto got = GetOrFail(*store_, "dk2");
  ASSERT_TRUE(got.has_value());
  // New writes continue after the recovered lsn, never reusing one.
  EXPECT_EQ(Put(*store_, {{"dk9", Doc("y", "b")}}), 4u);
  auto log = store_->ReadLog(0, 10);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 4u);
  for (size_t i = 0; i < log->size(); ++i) EXPECT_EQ((*log)[i].lsn, i + 1);
}

// The own lsn is checkpointed every 1,024 lsns, not written with each write
// (store.cc, kOwnCheckpointEvery); Open finds the own writes after the
// checkpoint in the log. Writes replicated from another region, at the end
// too, must not count; trimming the log past the last own entry must not
// lose it.
TEST_P(DiskStoreTest, OwnLsnSurvivesReopenBetweenCheckpointsAndAfterATrim) {
  auto replicated = [&](uint64_t origin_lsn) {
    auto res = store_->Write([&](const WriteContext&) -> Result<WriteSet> {
      WriteSet set;
      set.origin_region = 3;
      set.origin_lsn = origin_lsn;
      set.puts.emplace_back("dr" + std::to_string(origin_lsn), Doc("r", "b"));
      return set;
    });
    ASSERT_TRUE(res.ok()) << res.status().ToString();
  };
  uint64_t own = 0;
  for (int i = 1; i <= 2500; ++i) {
    if (i % 7 == 0) {
      ASSERT_NO_FATAL_FAILURE(replicated(static_cast<uint64_t>(i)));
    } else {
      own = Put(*store_, {{"dk" + std::to_string(i), Doc("x", "b")}});
    }
  }
  // The last writes are another region's, past the second checkpoint (2048).
  for (uint64_t i = 1; i <= 5; ++i) ASSERT_NO_FATAL_FAILURE(replicated(10'000 + i));
  ASSERT_EQ(store_->last_lsn(), 2505u);
  ASSERT_EQ(store_->own_lsn(), own);
  ASSERT_GT(own, 2048u);
  ASSERT_LT(own, store_->last_lsn());

  store_.reset();
  store_ = OpenOrDie();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(store_->own_lsn(), own);
  EXPECT_EQ(store_->last_lsn(), 2505u);

  // An own write after the reopen; then the log trimmed down to its last
  // entry (the replicator always keeps that one), another region's.
  const uint64_t next = Put(*store_, {{"dk-after", Doc("x", "b")}});
  EXPECT_EQ(next, 2506u);
  ASSERT_NO_FATAL_FAILURE(replicated(20'000));
  ASSERT_TRUE(store_->TrimLog(store_->last_lsn()).ok());
  store_.reset();
  store_ = OpenOrDie();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(store_->own_lsn(), next);
  EXPECT_EQ(store_->last_lsn(), 2507u);
}

// A copy of a store's directory taken while it is open holds what a kill -9
// at that instant leaves: the files as the OS has them, nothing of the
// process's buffers.
std::unique_ptr<Store> OpenCrashCopy(const std::string& from, const std::string& to, const Clock& clock) {
  std::error_code ec;
  std::filesystem::copy(from, to, std::filesystem::copy_options::recursive, ec);
  EXPECT_FALSE(ec) << ec.message();
  StoreOptions o;
  o.path = to;
  o.region_id = 7;
  auto s = Store::Open(o, clock);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

TEST_P(DiskStoreTest, AcknowledgedWritesAreInTheWalFileWhenWriteReturns) {
  // Group commit keeps a write in the WAL's buffer until it is flushed; the
  // flush must happen before Write returns, and before the lsn is published.
  for (int i = 0; i < 5; ++i) {
    const uint64_t lsn = Put(*store_, {{"dk" + std::to_string(i), Doc("x" + std::to_string(i), "b")}});
    ASSERT_EQ(lsn, static_cast<uint64_t>(i + 1));
    EXPECT_EQ(store_->last_lsn(), lsn);
    TempDir copy_dir;
    auto copy = OpenCrashCopy(dir_.path(), copy_dir.path() + "/db", clock_);
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(copy->last_lsn(), lsn) << "write " << i;
    auto got = GetOrFail(*copy, "dk" + std::to_string(i));
    ASSERT_TRUE(got.has_value()) << "write " << i;
    EXPECT_EQ(got->id, "x" + std::to_string(i));
  }
}

TEST_P(DiskStoreTest, UnderADeferScopeTheFlushWaitsForItsOwnerAndCoversEveryWrite) {
  // The HTTP server's group commit (base/deferred_work.h): writes under a
  // scope are in the memtable but neither in the WAL file, published, nor
  // announced until the owner runs the scope's work; the first flush takes
  // every write appended so far along.
  std::vector<uint64_t> announced;
  store_->SetCommitListener([&](const CommitInfo& info, bool local) {
    EXPECT_TRUE(local);
    EXPECT_GE(store_->last_lsn(), info.lsn) << "announced before it was published";
    announced.push_back(info.lsn);
  });
  std::vector<DeferScope::Work> work;
  {
    DeferScope scope;
    for (int i = 0; i < 3; ++i) Put(*store_, {{"dk" + std::to_string(i), Doc("x" + std::to_string(i), "b")}});
    EXPECT_EQ(store_->last_lsn(), 0u);
    EXPECT_EQ(store_->own_lsn(), 0u);
    EXPECT_TRUE(announced.empty());
    ASSERT_TRUE(GetOrFail(*store_, "dk2").has_value());  // readers see the memtable
    TempDir copy_dir;  // a kill -9 now keeps none of them: none was acknowledged
    auto copy = OpenCrashCopy(dir_.path(), copy_dir.path() + "/db", clock_);
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(copy->last_lsn(), 0u);
    work = scope.Take();
  }
  ASSERT_EQ(work.size(), 3u);
  ASSERT_TRUE(work[0]().ok());  // the first flush covers all three
  work.erase(work.begin());
  EXPECT_EQ(store_->last_lsn(), 3u);
  EXPECT_EQ(store_->own_lsn(), 3u);
  TempDir copy_dir;
  auto copy = OpenCrashCopy(dir_.path(), copy_dir.path() + "/db", clock_);
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->last_lsn(), 3u);
  EXPECT_TRUE(GetOrFail(*copy, "dk2").has_value());
  ASSERT_TRUE(DeferScope::RunAll(work).ok());
  EXPECT_EQ(announced, (std::vector<uint64_t>{1, 2, 3}));
  // Without a scope a write is flushed and announced before Write returns.
  EXPECT_EQ(Put(*store_, {{"dk9", Doc("y", "b")}}), 4u);
  EXPECT_EQ(store_->last_lsn(), 4u);
  EXPECT_EQ(announced.back(), 4u);
  store_->SetCommitListener(nullptr);
}

TEST_P(MemoryStoreTest, InMemoryWritesIgnoreADeferScope) {
  // Nothing to flush: a write is published and announced at once.
  int announced = 0;
  store_->SetCommitListener([&](const CommitInfo&, bool) { ++announced; });
  DeferScope scope;
  EXPECT_EQ(Put(*store_, {{"dk1", Doc("x", "b")}}), 1u);
  EXPECT_EQ(store_->last_lsn(), 1u);
  EXPECT_EQ(announced, 1);
  EXPECT_TRUE(scope.Take().empty());
  store_->SetCommitListener(nullptr);
}

TEST_P(DiskStoreTest, ConcurrentWritersPublishOnlyWhatIsFlushed) {
  // Four writers; every Write returns with its lsn published (so the
  // replicator may ship it) and in the WAL file; the published lsn only grows
  // and the log it covers has no holes.
  std::atomic<int> early{0};  // listener told of an lsn not yet published
  store_->SetCommitListener([&](const CommitInfo& info, bool) {
    if (store_->last_lsn() < info.lsn) ++early;
  });
  std::atomic<bool> done{false}, monotonic{true};
  std::thread watcher([&] {  // the published lsn never goes back
    uint64_t prev = 0;
    while (!done) {
      const uint64_t now = store_->last_lsn();
      if (now < prev) monotonic = false;
      prev = now;
    }
  });
  constexpr int kThreads = 4, kWrites = 150;
  std::vector<std::thread> threads;
  std::atomic<int> late{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        const uint64_t lsn = Put(*store_, {{"dk" + std::to_string(t) + "-" + std::to_string(i), Doc("x", "b")}});
        if (store_->last_lsn() < lsn) ++late;
      }
    });
  }
  for (auto& th : threads) th.join();
  done = true;
  watcher.join();
  store_->SetCommitListener(nullptr);
  EXPECT_EQ(late.load(), 0);
  EXPECT_EQ(early.load(), 0);
  EXPECT_TRUE(monotonic.load());
  const uint64_t total = kThreads * kWrites;
  EXPECT_EQ(store_->last_lsn(), total);
  auto log = store_->ReadLog(1, total + 10);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), total);
  for (size_t i = 0; i < log->size(); ++i) ASSERT_EQ((*log)[i].lsn, i + 1);
  TempDir copy_dir;
  auto copy = OpenCrashCopy(dir_.path(), copy_dir.path() + "/db", clock_);
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->last_lsn(), total);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_TRUE(GetOrFail(*copy, "dk" + std::to_string(t) + "-" + std::to_string(kWrites - 1)).has_value());
  }
}

// Everything a store holds, as text: every resource (tombstones too) with its
// lsn and body, and containers kRidA's and kRidB's change-feed indexes in
// their order.
std::vector<std::string> Contents(const Store& store) {
  std::vector<std::string> out;
  Status s = store.Scan("", "", /*include_tombstones=*/true, [&](std::string_view k, Record&& r) {
    out.push_back(std::string(k) + " @" + std::to_string(r.local_lsn) + (r.tombstone ? " tomb " : " ") + r.body);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  for (const std::string& rid : {kRidA, kRidB}) {
    s = store.ScanChanges(
        rid, 0, "", [](const DocumentChange&) { return ChangeAction::kLoad; },
        [&](const DocumentChange& c, Record&& r) {
          out.push_back("change " + c.key + " @" + std::to_string(c.local_lsn) + " " + r.body);
          return true;
        });
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return out;
}

// Every kind of write a log entry records: puts, a replace, a tombstone, a
// replicated write with local puts beside it, a put later erased by a range.
void WriteEveryKind(Store& store, const std::string& tag) {
  auto doc = [&](const std::string& id) { return keys::Document(kRidA, "[\"p\"]", tag + id); };
  Put(store, {{doc("1"), Doc(tag + "1", "v1")}, {doc("2"), Doc(tag + "2", "v1")}, {doc("3"), Doc(tag + "3", "v1")}});
  Put(store, {{doc("1"), Doc(tag + "1", "v2")}});
  Put(store, {{doc("2"), Doc(tag + "2", "", /*tombstone=*/true)}});
  auto res = store.Write([&](const WriteContext&) -> Result<WriteSet> {
    WriteSet set;
    set.origin_region = 9;
    set.origin_lsn = 100 + store.last_lsn();
    set.puts.emplace_back(doc("4"), Doc(tag + "4", "theirs"));
    set.local_puts.emplace_back(keys::Conflict(kRidA, tag + "c"), Doc(tag + "c", "loser"));
    set.meta_puts.emplace_back("cursor-" + tag, "9");
    return set;
  });
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  Put(store, {{keys::Document(kRidB, "[\"p\"]", tag + "e"), Doc(tag + "e", "gone")}});
  const std::string erased = keys::DocumentPrefix(kRidB);
  res = store.Write([&](const WriteContext&) -> Result<WriteSet> {
    WriteSet set;
    set.erase_ranges.emplace_back(erased, keys::PrefixEnd(erased));
    return set;
  });
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  Put(store, {{doc("3"), Doc(tag + "3", "v2")}});
}

TEST_P(DiskStoreTest, AKillLosesNoResourceThoughResourcesBypassTheWal) {
  // On disk the resources and the change-feed index go to the memtables
  // without the WAL; a kill -9 loses them, and Open rebuilds them from the
  // log entries, which the WAL carries. The first half is on disk in table
  // files (a clean close flushes the memtables), the second only in the WAL.
  ASSERT_NO_FATAL_FAILURE(WriteEveryKind(*store_, "a"));
  store_.reset();
  store_ = OpenOrDie();
  ASSERT_NE(store_, nullptr);
  // The first entry after the reopen overwrites what the last one before it
  // wrote: its record on disk is one lsn older than the entry.
  Put(*store_, {{keys::Document(kRidA, "[\"p\"]", "a3"), Doc("a3", "v3")}});
  ASSERT_NO_FATAL_FAILURE(WriteEveryKind(*store_, "b"));
  // Entries of the second half overwrite and erase records of the first.
  Put(*store_, {{keys::Document(kRidA, "[\"p\"]", "a1"), Doc("a1", "v3")}});
  Put(*store_, {{keys::Document(kRidB, "[\"p\"]", "late"), Doc("late", "x")}});
  const uint64_t last = store_->last_lsn();
  const std::vector<std::string> want = Contents(*store_);
  ASSERT_GT(want.size(), 10u);

  TempDir copy_dir;
  auto copy = OpenCrashCopy(dir_.path(), copy_dir.path() + "/db", clock_);
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->last_lsn(), last);
  EXPECT_EQ(Contents(*copy), want);
  // Recovered, it may trim its log (the re-applied resources are on disk),
  // and a second kill loses nothing either.
  ASSERT_TRUE(copy->TrimLog(last).ok());
  EXPECT_EQ(*copy->FirstRetainedLsn(), last);
  TempDir copy2_dir;
  auto copy2 = OpenCrashCopy(copy_dir.path() + "/db", copy2_dir.path() + "/db", clock_);
  ASSERT_NE(copy2, nullptr);
  EXPECT_EQ(Contents(*copy2), want);
  copy2.reset();
  // The recovered store goes on from there, and a clean reopen keeps it all.
  const uint64_t next = Put(*copy, {{keys::Document(kRidA, "[\"p\"]", "after"), Doc("after", "n")}});
  EXPECT_EQ(next, last + 1);
  std::vector<std::string> after = Contents(*copy);
  copy.reset();
  StoreOptions o;
  o.path = copy_dir.path() + "/db";
  o.region_id = 7;
  auto reopened = Store::Open(o, clock_);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ(Contents(**reopened), after);
}

TEST_P(DiskStoreTest, RandomWritesSurviveAKillWhateverShareOfThemIsInTableFiles) {
  // Seeded random writes (puts, overwrites, tombstones, replicated writes with
  // local puts, range erasures) with a clean reopen at a random point, so that
  // any share of them is in table files and the rest in the WAL only; a copy
  // of the directory (a kill -9) must open to the same contents.
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    TempDir dir("regionlab_storage_test");
    StoreOptions o;
    o.path = dir.path() + "/db";
    o.region_id = 7;
    auto open = [&] {
      auto st = Store::Open(o, clock_);
      EXPECT_TRUE(st.ok()) << st.status().ToString();
      return st.ok() ? std::move(st).value() : nullptr;
    };
    auto store = open();
    ASSERT_NE(store, nullptr);
    std::mt19937_64 rng(seed);
    auto pick = [&](uint64_t n) { return static_cast<int>(rng() % n); };
    auto key = [&] {
      const std::string& rid = pick(3) == 0 ? kRidB : kRidA;
      return keys::Document(rid, "[\"p\"]", "k" + std::to_string(pick(4)));
    };
    constexpr int kWrites = 60;
    const int reopen_at = pick(kWrites);
    for (int i = 0; i < kWrites; ++i) {
      if (i == reopen_at) {
        store.reset();
        store = open();
        ASSERT_NE(store, nullptr);
      }
      const std::string body = "w" + std::to_string(i);
      auto res = store->Write([&](const WriteContext&) -> Result<WriteSet> {
        WriteSet set;
        switch (pick(5)) {
          case 0: {  // a range erasure, sometimes with a put after it
            const std::string prefix = keys::DocumentPrefix(pick(2) ? kRidA : kRidB);
            set.erase_ranges.emplace_back(prefix, keys::PrefixEnd(prefix));
            if (pick(2)) set.puts.emplace_back(key(), Doc(body, body));
            break;
          }
          case 1:
            set.puts.emplace_back(key(), Doc(body, "", /*tombstone=*/true));
            break;
          case 2:  // another region's write with a local conflict record
            set.origin_region = 9;
            set.origin_lsn = 1000 + i;
            set.puts.emplace_back(key(), Doc(body, body));
            set.local_puts.emplace_back(keys::Conflict(kRidA, body), Doc(body, "loser"));
            break;
          default:
            for (int n = 1 + pick(3); n > 0; --n) set.puts.emplace_back(key(), Doc(body, body));
        }
        return set;
      });
      ASSERT_TRUE(res.ok()) << res.status().ToString();
      // Killed one and two writes after the reopen, and at the end.
      if (i == reopen_at || i == reopen_at + 1 || i == kWrites - 1) {
        const std::vector<std::string> want = Contents(*store);
        TempDir copy_dir;
        auto copy = OpenCrashCopy(o.path, copy_dir.path() + "/db", clock_);
        ASSERT_NE(copy, nullptr);
        EXPECT_EQ(copy->last_lsn(), store->last_lsn()) << "killed after write " << i;
        EXPECT_EQ(Contents(*copy), want) << "killed after write " << i;
      }
    }
  }
}

TEST_P(DiskStoreTest, TheLogIsNotTrimmedPastWhatTableFilesHold) {
  // Until the memtables are flushed a log entry may be the only durable copy
  // of its resources: TrimLog keeps it, and trims it once it is in a table.
  for (int i = 0; i < 5; ++i) Put(*store_, {{"dk" + std::to_string(i), Doc("x", "b" + std::to_string(i))}});
  ASSERT_TRUE(store_->TrimLog(store_->last_lsn() + 1).ok());
  EXPECT_EQ(*store_->FirstRetainedLsn(), 1u);
  TempDir copy_dir;
  auto copy = OpenCrashCopy(dir_.path(), copy_dir.path() + "/db", clock_);
  ASSERT_NE(copy, nullptr);
  for (int i = 0; i < 5; ++i) {
    auto got = GetOrFail(*copy, "dk" + std::to_string(i));
    ASSERT_TRUE(got.has_value()) << i;
    EXPECT_EQ(got->body, "b" + std::to_string(i));
  }
  store_.reset();  // flushes
  store_ = OpenOrDie();
  ASSERT_NE(store_, nullptr);
  ASSERT_TRUE(store_->TrimLog(store_->last_lsn()).ok());
  EXPECT_EQ(*store_->FirstRetainedLsn(), 5u);
}

TEST_P(DiskStoreTest, ReopenWithAnotherRegionIdFails) {
  Put(*store_, {{"dk", Doc("x", "b")}});
  store_.reset();
  auto other = Store::Open(Options(/*region_id=*/8), clock_);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("region"), std::string::npos) << other.status().ToString();
  // The directory is still usable by its own region.
  store_ = OpenOrDie(7);
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(store_->last_lsn(), 1u);
}

TEST_P(MemoryStoreTest, ScanHonoursPrefixOrderAndStartAfter) {
  Put(*store_, {{"dc", Doc("c", "")}, {"da", Doc("a", "")}, {"db", Doc("b", "")},
                {"e", Doc("e", "")}, {"c", Doc("c0", "")}, {"d", Doc("d0", "")}});
  EXPECT_EQ(ScanKeys(*store_, "d"), (std::vector<std::string>{"d", "da", "db", "dc"}));
  EXPECT_EQ(ScanKeys(*store_, "da"), (std::vector<std::string>{"da"}));
  EXPECT_EQ(ScanKeys(*store_, "d", "da"), (std::vector<std::string>{"db", "dc"}));
  // start_after need not exist: resume after where it would be.
  EXPECT_EQ(ScanKeys(*store_, "d", "daa"), (std::vector<std::string>{"db", "dc"}));
  EXPECT_EQ(ScanKeys(*store_, "d", "dc"), (std::vector<std::string>{}));
  EXPECT_TRUE(ScanKeys(*store_, "x").empty());
}

TEST_P(MemoryStoreTest, ScanPrefixEndingIn0xFF) {
  const std::string p("d\xff", 2);
  Put(*store_, {{p + "a", Doc("a", "")}, {p + "\xff", Doc("b", "")}, {"e", Doc("e", "")}});
  EXPECT_EQ(ScanKeys(*store_, p), (std::vector<std::string>{p + "a", p + "\xff"}));
}

TEST_P(MemoryStoreTest, ScanSkipsTombstonesUnlessAsked) {
  Put(*store_, {{"da", Doc("a", "")}, {"db", Doc("b", "", /*tombstone=*/true)}, {"dc", Doc("c", "")}});
  EXPECT_EQ(ScanKeys(*store_, "d"), (std::vector<std::string>{"da", "dc"}));
  EXPECT_EQ(ScanKeys(*store_, "d", "", /*tombstones=*/true),
            (std::vector<std::string>{"da", "db", "dc"}));
  // Get returns tombstones.
  auto t = GetOrFail(*store_, "db");
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->tombstone);
}

TEST_P(MemoryStoreTest, ScanStopsEarly) {
  Put(*store_, {{"da", Doc("a", "")}, {"db", Doc("b", "")}, {"dc", Doc("c", "")}});
  EXPECT_EQ(ScanKeys(*store_, "d", "", false, /*stop_after=*/2), (std::vector<std::string>{"da", "db"}));
  EXPECT_EQ(ScanKeys(*store_, "d", "", false, /*stop_after=*/1), (std::vector<std::string>{"da"}));
}

TEST_P(MemoryStoreTest, ScanOfOnePartitionSeesOnlyThatPartition) {
  std::vector<std::pair<std::string, Record>> puts;
  for (const char* pk : {"[\"a\"]", "[\"ab\"]", "[\"b\"]"}) {
    for (const char* id : {"3", "1", "2"}) puts.emplace_back(keys::Document(kRidA, pk, id), Doc(id, pk));
  }
  puts.emplace_back(keys::Document(kRidB, "[\"a\"]", "1"), Doc("other", ""));
  Put(*store_, puts);
  std::vector<std::string> ids;
  Status s = store_->Scan(keys::PartitionPrefix(kRidA, "[\"a\"]"), "", false, [&](std::string_view, Record&& r) {
    EXPECT_EQ(r.body, "[\"a\"]");
    ids.push_back(r.id);
    return true;
  });
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(ids, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(ScanKeys(*store_, keys::DocumentPrefix(kRidA)).size(), 9u);
}

TEST_P(StoreTest, EraseRangesRemoveARangeInTheSameWrite) {
  Put(*store_, {{keys::Document(kRidA, "[1]", "x"), Doc("x", "")},
                {keys::Document(kRidA, "[2]", "y"), Doc("y", "")},
                {keys::Document(kRidB, "[1]", "z"), Doc("z", "")},
                {keys::Container("db", "a"), Doc("a", "")}});
  std::string prefix = keys::DocumentPrefix(kRidA);
  auto res = store_->Write([&](const WriteContext&) -> Result<WriteSet> {
    WriteSet set;
    set.erase_ranges.emplace_back(prefix, keys::PrefixEnd(prefix));
    Record tomb = Doc("a", "");
    tomb.tombstone = true;
    set.puts.emplace_back(keys::Container("db", "a"), tomb);
    return set;
  });
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_TRUE(ScanKeys(*store_, prefix, "", /*tombstones=*/true).empty());
  EXPECT_FALSE(GetOrFail(*store_, keys::Document(kRidA, "[1]", "x")).has_value());
  // Outside the range nothing changed.
  EXPECT_TRUE(GetOrFail(*store_, keys::Document(kRidB, "[1]", "z")).has_value());
  auto c = GetOrFail(*store_, keys::Container("db", "a"));
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->tombstone);
  // The write is one log entry carrying the put.
  auto log = store_->ReadLog(res->lsn, 1);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 1u);
  ASSERT_EQ((*log)[0].records.size(), 1u);
  EXPECT_EQ((*log)[0].records[0].first, keys::Container("db", "a"));
}

TEST_P(StoreTest, AnEraseRangeThatEndsBeforeItBeginsIsRefusedAndChangesNothing) {
  // On disk the range is applied after the log entry is committed: refused
  // only then, the entry would be in the log and fail again at every open.
  Put(*store_, {{"dk", Doc("x", "v1")}});
  auto res = store_->Write([&](const WriteContext&) -> Result<WriteSet> {
    WriteSet set;
    set.puts.emplace_back("dk", Doc("x", "v2"));
    set.erase_ranges.emplace_back("dz", "da");
    return set;
  });
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), StatusCode::kBadRequest) << res.status().ToString();
  EXPECT_EQ(store_->last_lsn(), 1u);
  EXPECT_EQ(GetOrFail(*store_, "dk")->body, "v1");
  EXPECT_EQ(Put(*store_, {{"dk", Doc("x", "v3")}}), 2u);
  if (in_memory()) return;
  store_.reset();
  store_ = OpenOrDie();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(GetOrFail(*store_, "dk")->body, "v3");
}

TEST_P(StoreTest, ProbeWorksAndLeavesResourcesAndLogAlone) {
  Put(*store_, {{"dk", Doc("x", "")}});
  Status s = store_->Probe();
  EXPECT_TRUE(s.ok()) << s.ToString();
  clock_.AdvanceMillis(1);
  EXPECT_TRUE(store_->Probe().ok());
  EXPECT_EQ(store_->last_lsn(), 1u);
  auto log = store_->ReadLog(0, 10);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->size(), 1u);
  EXPECT_EQ(ScanKeys(*store_, "", "", true), (std::vector<std::string>{"dk"}));
}

TEST(StoreOpenTest, EmptyPathOnDiskFails) {
  regionlab::testing::FakeClock clock;
  StoreOptions o;
  o.path = "";
  auto s = Store::Open(o, clock);
  EXPECT_FALSE(s.ok());
}

TEST(StoreOpenTest, InMemoryStoresAreIndependent) {
  regionlab::testing::FakeClock clock;
  StoreOptions o;
  o.in_memory = true;
  auto a = Store::Open(o, clock);
  auto b = Store::Open(o, clock);
  ASSERT_TRUE(a.ok() && b.ok());
  Put(**a, {{"dk", Doc("x", "")}});
  auto got = (*b)->Get("dk");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
  EXPECT_EQ((*b)->last_lsn(), 0u);
}

// The container cache of the data plane (LoadContainer) skips re-reading a
// container while this epoch holds: a document write must not move it, a
// container write must, and a new store must never repeat an old one's value.
TEST_P(MemoryStoreTest, MetadataEpochMovesOnMetadataWritesOnly) {
  const uint64_t start = store_->metadata_epoch();
  Put(*store_, {{"dk1", Doc("one", "{\"n\":1}")}});
  Put(*store_, {{keys::LeasePrefix() + "lease", Doc("lease", "{}")}});
  EXPECT_EQ(store_->metadata_epoch(), start) << "documents and leases are not metadata";
  Record coll = Doc("a", "{\"id\":\"a\"}");
  coll.kind = RecordKind::kContainer;
  Put(*store_, {{keys::Container("db", "a"), coll}});
  const uint64_t after_container = store_->metadata_epoch();
  EXPECT_NE(after_container, start);
  auto erased = store_->Write([&](const WriteContext&) -> Result<WriteSet> {
    WriteSet set;
    set.erase_ranges.emplace_back("d", "e");
    return set;
  });
  ASSERT_TRUE(erased.ok()) << erased.status().ToString();
  EXPECT_NE(store_->metadata_epoch(), after_container) << "an erased range may hold anything";
  auto other = OpenOrDie(/*region_id=*/8);
  ASSERT_NE(other, nullptr);
  EXPECT_NE(other->metadata_epoch(), start);
  EXPECT_NE(other->metadata_epoch(), store_->metadata_epoch());
}

// Occupies every thread of RocksDB's default background pools (the ones every
// store's flushes and compactions run on, in memory too: MemEnv hands its work
// to Env::Default()) until Release: no memtable can be flushed meanwhile.
class BackgroundPoolsHeld {
 public:
  BackgroundPoolsHeld() {
    rocksdb::Env* env = rocksdb::Env::Default();
    for (auto pool : {rocksdb::Env::Priority::HIGH, rocksdb::Env::Priority::LOW}) {
      for (int i = env->GetBackgroundThreads(pool); i > 0; --i) {
        ++scheduled_;
        env->Schedule(&BackgroundPoolsHeld::Hold, this, pool);
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return holding_ == scheduled_; });
  }
  ~BackgroundPoolsHeld() { Release(); }
  void Release() {
    std::unique_lock<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return holding_ == 0; });
  }

 private:
  static void Hold(void* arg) {
    auto* self = static_cast<BackgroundPoolsHeld*>(arg);
    std::unique_lock<std::mutex> lock(self->mu_);
    ++self->holding_;
    self->cv_.notify_all();
    self->cv_.wait(lock, [&] { return self->released_; });
    --self->holding_;
    self->cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  int scheduled_ = 0, holding_ = 0;
  bool released_ = false;
};

// A full memtable waits for its flush while writes go on into the next one.
// With RocksDB's default of two memtables, the second full one stopped every
// write until the first flush was done (on a busy machine, where flushes run
// at nice 19, tens of milliseconds: the durable p99 of docs/benchmarks.md,
// session 12). Two memtables' worth and more must be writable while no flush
// can run at all.
TEST_P(MemoryStoreTest, WritesGoOnWhileTwoFullMemtablesAwaitTheirFlush) {
  BackgroundPoolsHeld held;
  // 36,000 writes of a 1 KB document: about 40 MB in the resource family
  // and as much in the log, two and a half 16 MB memtables each.
  constexpr int kWrites = 36000;
  const std::string body(1000, 'x');
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; i < kWrites; ++i) {
      if (Put(*store_, {{"dk" + std::to_string(i), Doc("d" + std::to_string(i), body)}}) == 0) return;
      written.fetch_add(1, std::memory_order_relaxed);
    }
  });
  regionlab::testing::WaitFor([&] { return written.load() == kWrites; }, std::chrono::seconds(60));
  const int before_release = written.load();
  held.Release();  // a stopped writer goes on from here
  writer.join();
  EXPECT_EQ(before_release, kWrites) << "writes stopped while no memtable could be flushed";
  EXPECT_EQ(store_->last_lsn(), static_cast<uint64_t>(kWrites));
  EXPECT_TRUE(GetOrFail(*store_, "dk" + std::to_string(kWrites - 1)).has_value());
}

// A flush gives its CPU back within 100 us to an io thread or client woken
// meanwhile: every RocksDB flush thread asks for the shortest scheduler slice
// (Linux 6.12+; earlier kernels report no slice, and the test is skipped).
TEST_P(MemoryStoreTest, FlushThreadsAskForTheShortestSchedulerSlice) {
  const std::vector<pid_t> flush_threads = ThreadsNamed("rocksdb:high");
  for (pid_t tid : flush_threads) {
    std::optional<FairSchedule> schedule = GetFairSchedule(tid);
    ASSERT_TRUE(schedule.has_value()) << "thread " << tid << " is not SCHED_OTHER";
    if (schedule->slice_ns == 0) GTEST_SKIP() << "this kernel has no per-thread slice (before 6.12)";
    EXPECT_EQ(schedule->nice, 19);
    EXPECT_EQ(schedule->slice_ns, kFlushSchedulerSliceNanos) << "thread " << tid;
  }
  EXPECT_FALSE(flush_threads.empty()) << "no thread named rocksdb:high";
}

}  // namespace
}  // namespace regionlab::storage
