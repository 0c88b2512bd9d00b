// The chunked in-memory file system of ephemeral stores (storage/memory_fs.h).
#include "storage/memory_fs.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace regionlab::storage {
namespace {

using rocksdb::FileOptions;
using rocksdb::IOOptions;
using rocksdb::Slice;

std::string ReadAt(rocksdb::FSRandomAccessFile& f, uint64_t offset, size_t n) {
  std::string scratch(n, '\0');
  Slice got;
  EXPECT_TRUE(f.Read(offset, n, IOOptions(), &got, scratch.data(), nullptr).ok());
  return got.ToString();
}

TEST(MemoryFsTest, AppendsOfEverySizeReadBackAtEveryOffset) {
  auto fs = NewChunkedMemoryFileSystem();
  ASSERT_TRUE(fs->CreateDirIfMissing("/db", IOOptions(), nullptr).ok());
  std::unique_ptr<rocksdb::FSWritableFile> w;
  ASSERT_TRUE(fs->NewWritableFile("/db/000001.sst", FileOptions(), &w, nullptr).ok());
  std::mt19937_64 rng(7);
  std::string want;
  // 3 MB in pieces of 1 byte to 300 KB: across the growing chunks (4 KB, 8 KB,
  // ... 1 MB) and several 1 MB ones.
  while (want.size() < 3u << 20) {
    const size_t n = std::uniform_int_distribution<size_t>(1, rng() % 4 == 0 ? 300'000 : 5'000)(rng);
    std::string piece(n, '\0');
    for (char& c : piece) c = static_cast<char>('a' + rng() % 26);
    ASSERT_TRUE(w->Append(piece, IOOptions(), nullptr).ok());
    want += piece;
  }
  EXPECT_EQ(w->GetFileSize(IOOptions(), nullptr), want.size());
  ASSERT_TRUE(w->Close(IOOptions(), nullptr).ok());
  uint64_t size = 0;
  ASSERT_TRUE(fs->GetFileSize("/db/000001.sst", IOOptions(), &size, nullptr).ok());
  EXPECT_EQ(size, want.size());

  std::unique_ptr<rocksdb::FSRandomAccessFile> r;
  ASSERT_TRUE(fs->NewRandomAccessFile("/db//000001.sst", FileOptions(), &r, nullptr).ok());
  for (int i = 0; i < 1000; ++i) {
    const uint64_t offset = rng() % want.size();
    const size_t n = std::uniform_int_distribution<size_t>(0, i % 10 == 0 ? 2'500'000 : 20'000)(rng);
    ASSERT_EQ(ReadAt(*r, offset, n), want.substr(offset, n)) << "offset " << offset << " n " << n;
  }
  EXPECT_EQ(ReadAt(*r, want.size(), 10), "");  // at the end: nothing

  std::unique_ptr<rocksdb::FSSequentialFile> s;
  ASSERT_TRUE(fs->NewSequentialFile("/db/000001.sst", FileOptions(), &s, nullptr).ok());
  std::string seq;
  ASSERT_TRUE(s->Skip(1000).ok());
  for (;;) {
    std::string scratch(70'000, '\0');
    Slice got;
    ASSERT_TRUE(s->Read(scratch.size(), IOOptions(), &got, scratch.data(), nullptr).ok());
    if (got.empty()) break;
    seq.append(got.data(), got.size());
  }
  EXPECT_EQ(seq, want.substr(1000));
}

TEST(MemoryFsTest, NamesBehaveAsOnADisk) {
  auto fs = NewChunkedMemoryFileSystem();
  const IOOptions io;
  auto write = [&](const std::string& name, const std::string& text) {
    std::unique_ptr<rocksdb::FSWritableFile> w;
    ASSERT_TRUE(fs->NewWritableFile(name, FileOptions(), &w, nullptr).ok());
    ASSERT_TRUE(w->Append(text, io, nullptr).ok());
  };
  auto read = [&](const std::string& name) {
    std::unique_ptr<rocksdb::FSRandomAccessFile> r;
    if (!fs->NewRandomAccessFile(name, FileOptions(), &r, nullptr).ok()) return std::string("<missing>");
    return ReadAt(*r, 0, 100);
  };
  ASSERT_TRUE(fs->CreateDir("/db", io, nullptr).ok());
  EXPECT_FALSE(fs->CreateDir("/db", io, nullptr).ok());
  write("/db/a", "alpha");
  write("/db/b", "beta");
  write("/db/c.tmp", "gamma");

  // Rename over an existing name replaces it; the old name is gone.
  ASSERT_TRUE(fs->RenameFile("/db/c.tmp", "/db/b", io, nullptr).ok());
  EXPECT_EQ(read("/db/b"), "gamma");
  EXPECT_TRUE(fs->FileExists("/db/c.tmp", io, nullptr).IsNotFound());
  std::vector<std::string> children;
  ASSERT_TRUE(fs->GetChildren("/db/", io, &children, nullptr).ok());
  std::sort(children.begin(), children.end());
  EXPECT_EQ(children, (std::vector<std::string>{"a", "b"}));

  // A file deleted while open stays readable through the open handle.
  std::unique_ptr<rocksdb::FSRandomAccessFile> open_a;
  ASSERT_TRUE(fs->NewRandomAccessFile("/db/a", FileOptions(), &open_a, nullptr).ok());
  ASSERT_TRUE(fs->DeleteFile("/db/a", io, nullptr).ok());
  EXPECT_EQ(read("/db/a"), "<missing>");
  EXPECT_EQ(ReadAt(*open_a, 0, 100), "alpha");
  EXPECT_FALSE(fs->DeleteFile("/db/a", io, nullptr).ok());

  // A link is a second name for the same bytes.
  ASSERT_TRUE(fs->LinkFile("/db/b", "/db/b2", io, nullptr).ok());
  bool same = false;
  ASSERT_TRUE(fs->AreFilesSame("/db/b", "/db/b2", io, &same, nullptr).ok());
  EXPECT_TRUE(same);

  // Truncate, then append after the new end.
  std::unique_ptr<rocksdb::FSWritableFile> w;
  ASSERT_TRUE(fs->ReopenWritableFile("/db/b", FileOptions(), &w, nullptr).ok());
  ASSERT_TRUE(w->Truncate(2, io, nullptr).ok());
  ASSERT_TRUE(w->Append("MMA", io, nullptr).ok());
  EXPECT_EQ(read("/db/b2"), "gaMMA");

  // NewWritableFile on an existing name starts it empty.
  write("/db/b", "");
  EXPECT_EQ(read("/db/b"), "");
  EXPECT_EQ(read("/db/b2"), "gaMMA");  // the link kept the old bytes

  // One holder of a lock at a time.
  rocksdb::FileLock* lock = nullptr;
  rocksdb::FileLock* second = nullptr;
  ASSERT_TRUE(fs->LockFile("/db/LOCK", io, &lock, nullptr).ok());
  EXPECT_FALSE(fs->LockFile("/db/LOCK", io, &second, nullptr).ok());
  ASSERT_TRUE(fs->UnlockFile(lock, io, nullptr).ok());
  ASSERT_TRUE(fs->LockFile("/db/LOCK", io, &second, nullptr).ok());
  ASSERT_TRUE(fs->UnlockFile(second, io, nullptr).ok());

  EXPECT_TRUE(fs->GetChildren("/nowhere", io, &children, nullptr).IsPathNotFound());
  EXPECT_TRUE(fs->NewDirectory("/nowhere", io, nullptr, nullptr).IsPathNotFound());
}

// RocksDB itself on it: small memtables so that flushes and compactions run,
// then a reopen on the same file system (a restarted ephemeral region) finds
// every key.
TEST(MemoryFsTest, ARocksDbSurvivesFlushesCompactionsAndAReopen) {
  auto fs = NewChunkedMemoryFileSystem();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  rocksdb::Options options;
  options.env = env.get();
  options.create_if_missing = true;
  options.write_buffer_size = 256 << 10;
  options.target_file_size_base = 512 << 10;
  options.level0_file_num_compaction_trigger = 2;
  const int kKeys = 20'000;
  auto value = [](int i) { return std::string(100 + i % 300, static_cast<char>('a' + i % 26)) + std::to_string(i); };
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, "/mem/db", &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (int i = 0; i < kKeys; ++i) {
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "key" + std::to_string(i), value(i)).ok());
    }
    ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
    ASSERT_TRUE(db->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr).ok());
    // Written after the last flush: only in the WAL when the DB closes.
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "after-flush", "in the wal").ok());
    std::vector<std::string> files;
    ASSERT_TRUE(fs->GetChildren("/mem/db", IOOptions(), &files, nullptr).ok());
    EXPECT_TRUE(std::any_of(files.begin(), files.end(), [](const std::string& f) {
      return f.size() > 4 && f.compare(f.size() - 4, 4, ".sst") == 0;
    }));
    ASSERT_TRUE(db->Close().ok());
  }
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, "/mem/db", &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  for (int i = 0; i < kKeys; i += 7) {
    std::string got;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), "key" + std::to_string(i), &got).ok()) << i;
    ASSERT_EQ(got, value(i));
  }
  std::string got;
  ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), "after-flush", &got).ok());
  EXPECT_EQ(got, "in the wal");
}

}  // namespace
}  // namespace regionlab::storage
