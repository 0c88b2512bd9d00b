#include "storage/memory_fs.h"

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace regionlab::storage {
namespace {

using rocksdb::FileOptions;
using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

// A file's bytes: chunks that never move once allocated. The first is small
// (most of a store's files are a few hundred bytes: CURRENT, IDENTITY, OPTIONS,
// a fresh MANIFEST); each next one doubles, up to kMaxChunk.
constexpr size_t kFirstChunk = 4 * 1024;
constexpr size_t kMaxChunk = 1024 * 1024;

class FileData {
 public:
  explicit FileData(uint64_t mtime) : mtime_(mtime) {}

  uint64_t Size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return size_;
  }
  uint64_t ModificationTime() const {
    std::lock_guard<std::mutex> lock(mu_);
    return mtime_;
  }

  void Append(const Slice& data, uint64_t now) {
    std::lock_guard<std::mutex> lock(mu_);
    const char* src = data.data();
    size_t left = data.size();
    while (left > 0) {
      auto [chunk, offset] = Locate(size_);
      if (chunk == chunks_.size()) {
        const size_t cap = chunks_.empty() ? kFirstChunk : std::min(kMaxChunk, chunks_.back().cap * 2);
        const uint64_t start = chunks_.empty() ? 0 : chunks_.back().start + chunks_.back().cap;
        chunks_.push_back(Chunk{std::unique_ptr<char[]>(new char[cap]), cap, start});
        offset = 0;
      }
      Chunk& c = chunks_[chunk];
      const size_t n = std::min(left, c.cap - offset);
      std::memcpy(c.data.get() + offset, src, n);
      src += n;
      left -= n;
      size_ += n;
    }
    mtime_ = now;
  }

  // Copies up to n bytes at `offset` into scratch; *result is what was read
  // (empty at or past the end).
  void Read(uint64_t offset, size_t n, Slice* result, char* scratch) const {
    std::lock_guard<std::mutex> lock(mu_);
    if (offset >= size_) {
      *result = Slice(scratch, 0);
      return;
    }
    n = static_cast<size_t>(std::min<uint64_t>(n, size_ - offset));
    size_t done = 0;
    auto [chunk, in_chunk] = Locate(offset);
    while (done < n) {
      const Chunk& c = chunks_[chunk];
      const size_t take = std::min(n - done, c.cap - in_chunk);
      std::memcpy(scratch + done, c.data.get() + in_chunk, take);
      done += take;
      ++chunk;
      in_chunk = 0;
    }
    *result = Slice(scratch, n);
  }

  // Shortens the file (its chunks stay allocated; a later append reuses them)
  // or, to grow it, appends zeros.
  void Truncate(uint64_t size, uint64_t now) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (size <= size_) {
        size_ = size;
        mtime_ = now;
        return;
      }
    }
    const std::string zeros(static_cast<size_t>(size - Size()), '\0');
    Append(zeros, now);
  }

 private:
  struct Chunk {
    std::unique_ptr<char[]> data;
    size_t cap;
    uint64_t start;  // the file offset of data[0]
  };

  // The chunk holding file offset `pos` and the offset in it; chunks_.size()
  // when `pos` is past the last chunk's end.
  std::pair<size_t, size_t> Locate(uint64_t pos) const {
    auto it = std::upper_bound(chunks_.begin(), chunks_.end(), pos,
                               [](uint64_t p, const Chunk& c) { return p < c.start; });
    if (it == chunks_.begin()) return {chunks_.size(), 0};
    --it;
    if (pos >= it->start + it->cap) return {chunks_.size(), 0};
    return {static_cast<size_t>(it - chunks_.begin()), static_cast<size_t>(pos - it->start)};
  }

  mutable std::mutex mu_;
  std::vector<Chunk> chunks_;
  uint64_t size_ = 0;
  uint64_t mtime_;
};

uint64_t NowSeconds() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

class SequentialFile : public rocksdb::FSSequentialFile {
 public:
  explicit SequentialFile(std::shared_ptr<FileData> data) : data_(std::move(data)) {}
  IOStatus Read(size_t n, const IOOptions&, Slice* result, char* scratch, IODebugContext*) override {
    data_->Read(pos_, n, result, scratch);
    pos_ += result->size();
    return IOStatus::OK();
  }
  IOStatus Skip(uint64_t n) override {
    pos_ = std::min(pos_ + n, data_->Size());
    return IOStatus::OK();
  }

 private:
  std::shared_ptr<FileData> data_;
  uint64_t pos_ = 0;
};

class RandomAccessFile : public rocksdb::FSRandomAccessFile {
 public:
  explicit RandomAccessFile(std::shared_ptr<FileData> data) : data_(std::move(data)) {}
  IOStatus Read(uint64_t offset, size_t n, const IOOptions&, Slice* result, char* scratch,
                IODebugContext*) const override {
    data_->Read(offset, n, result, scratch);
    return IOStatus::OK();
  }

 private:
  std::shared_ptr<FileData> data_;
};

class WritableFile : public rocksdb::FSWritableFile {
 public:
  explicit WritableFile(std::shared_ptr<FileData> data) : data_(std::move(data)) {}
  IOStatus Append(const Slice& data, const IOOptions&, IODebugContext*) override {
    data_->Append(data, NowSeconds());
    return IOStatus::OK();
  }
  IOStatus Truncate(uint64_t size, const IOOptions&, IODebugContext*) override {
    data_->Truncate(size, NowSeconds());
    return IOStatus::OK();
  }
  IOStatus Close(const IOOptions&, IODebugContext*) override { return IOStatus::OK(); }
  IOStatus Flush(const IOOptions&, IODebugContext*) override { return IOStatus::OK(); }
  IOStatus Sync(const IOOptions&, IODebugContext*) override { return IOStatus::OK(); }
  IOStatus Fsync(const IOOptions&, IODebugContext*) override { return IOStatus::OK(); }
  bool IsSyncThreadSafe() const override { return true; }
  uint64_t GetFileSize(const IOOptions&, IODebugContext*) override { return data_->Size(); }

 private:
  std::shared_ptr<FileData> data_;
};

class Directory : public rocksdb::FSDirectory {
 public:
  IOStatus Fsync(const IOOptions&, IODebugContext*) override { return IOStatus::OK(); }
  IOStatus Close(const IOOptions&, IODebugContext*) override { return IOStatus::OK(); }
};

// RocksDB's info log (warnings and errors only: the store's info_log_level),
// at spdlog's debug level: an ephemeral store's LOG was never readable anyway.
class SpdLogger : public rocksdb::Logger {
 public:
  explicit SpdLogger(std::string name) : name_(std::move(name)) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    if (!spdlog::should_log(spdlog::level::debug)) return;
    char buf[1024];
    va_list copy;
    va_copy(copy, ap);
    std::vsnprintf(buf, sizeof buf, format, copy);
    va_end(copy);
    spdlog::debug("rocksdb {}: {}", name_, buf);
  }

 private:
  std::string name_;
};

class Lock : public rocksdb::FileLock {
 public:
  explicit Lock(std::string name) : name(std::move(name)) {}
  std::string name;
};

// "a//b/" -> "/a/b"; "" -> "/".
std::string Normalize(const std::string& path) {
  std::string out = "/";
  for (char c : path) {
    if (c == '/' && out.back() == '/') continue;
    out.push_back(c);
  }
  if (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

class ChunkedMemoryFileSystem : public rocksdb::FileSystem {
 public:
  const char* Name() const override { return "RegionlabChunkedMemoryFileSystem"; }

  IOStatus NewSequentialFile(const std::string& fname, const FileOptions&,
                             std::unique_ptr<rocksdb::FSSequentialFile>* result, IODebugContext*) override {
    auto data = Find(fname);
    if (!data) return IOStatus::PathNotFound(fname);
    *result = std::make_unique<SequentialFile>(std::move(data));
    return IOStatus::OK();
  }

  IOStatus NewRandomAccessFile(const std::string& fname, const FileOptions&,
                               std::unique_ptr<rocksdb::FSRandomAccessFile>* result, IODebugContext*) override {
    auto data = Find(fname);
    if (!data) return IOStatus::PathNotFound(fname);
    *result = std::make_unique<RandomAccessFile>(std::move(data));
    return IOStatus::OK();
  }

  IOStatus NewWritableFile(const std::string& fname, const FileOptions&,
                           std::unique_ptr<rocksdb::FSWritableFile>* result, IODebugContext*) override {
    const std::string path = Normalize(fname);
    auto data = std::make_shared<FileData>(NowSeconds());
    {
      std::lock_guard<std::mutex> lock(mu_);
      files_[path] = data;  // replaces (truncates) an existing file
    }
    *result = std::make_unique<WritableFile>(std::move(data));
    return IOStatus::OK();
  }

  IOStatus ReopenWritableFile(const std::string& fname, const FileOptions&,
                              std::unique_ptr<rocksdb::FSWritableFile>* result, IODebugContext*) override {
    const std::string path = Normalize(fname);
    std::shared_ptr<FileData> data;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto& slot = files_[path];
      if (!slot) slot = std::make_shared<FileData>(NowSeconds());
      data = slot;
    }
    *result = std::make_unique<WritableFile>(std::move(data));
    return IOStatus::OK();
  }

  IOStatus ReuseWritableFile(const std::string& fname, const std::string& old_fname, const FileOptions& opts,
                             std::unique_ptr<rocksdb::FSWritableFile>* result, IODebugContext* dbg) override {
    IOStatus s = RenameFile(old_fname, fname, IOOptions(), dbg);
    if (!s.ok()) return s;
    return NewWritableFile(fname, opts, result, dbg);
  }

  IOStatus NewDirectory(const std::string& name, const IOOptions&, std::unique_ptr<rocksdb::FSDirectory>* result,
                        IODebugContext*) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!dirs_.count(Normalize(name))) return IOStatus::PathNotFound(name);
    }
    *result = std::make_unique<Directory>();
    return IOStatus::OK();
  }

  IOStatus FileExists(const std::string& fname, const IOOptions&, IODebugContext*) override {
    const std::string path = Normalize(fname);
    std::lock_guard<std::mutex> lock(mu_);
    if (files_.count(path) || dirs_.count(path)) return IOStatus::OK();
    return IOStatus::NotFound(fname);
  }

  IOStatus GetChildren(const std::string& dir, const IOOptions&, std::vector<std::string>* result,
                       IODebugContext*) override {
    const std::string path = Normalize(dir);
    const std::string prefix = path == "/" ? path : path + "/";
    result->clear();
    std::lock_guard<std::mutex> lock(mu_);
    if (!dirs_.count(path)) return IOStatus::PathNotFound(dir);
    auto add_children = [&](const auto& names) {
      for (auto it = names.lower_bound(prefix); it != names.end(); ++it) {
        const std::string& name = Key(*it);
        if (name.compare(0, prefix.size(), prefix) != 0) break;
        if (name.size() > prefix.size() && name.find('/', prefix.size()) == std::string::npos) {
          result->push_back(name.substr(prefix.size()));
        }
      }
    };
    add_children(files_);
    add_children(dirs_);
    return IOStatus::OK();
  }

  IOStatus DeleteFile(const std::string& fname, const IOOptions&, IODebugContext*) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (files_.erase(Normalize(fname)) == 0) return IOStatus::PathNotFound(fname);
    return IOStatus::OK();
  }

  IOStatus Truncate(const std::string& fname, size_t size, const IOOptions&, IODebugContext*) override {
    auto data = Find(fname);
    if (!data) return IOStatus::PathNotFound(fname);
    data->Truncate(size, NowSeconds());
    return IOStatus::OK();
  }

  IOStatus CreateDir(const std::string& dirname, const IOOptions&, IODebugContext*) override {
    const std::string path = Normalize(dirname);
    std::lock_guard<std::mutex> lock(mu_);
    if (dirs_.count(path) || files_.count(path)) return IOStatus::IOError(dirname + ": exists");
    dirs_.insert(path);
    return IOStatus::OK();
  }

  IOStatus CreateDirIfMissing(const std::string& dirname, const IOOptions&, IODebugContext*) override {
    const std::string path = Normalize(dirname);
    std::lock_guard<std::mutex> lock(mu_);
    if (files_.count(path)) return IOStatus::IOError(dirname + ": is a file");
    dirs_.insert(path);
    return IOStatus::OK();
  }

  IOStatus DeleteDir(const std::string& dirname, const IOOptions&, IODebugContext*) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (dirs_.erase(Normalize(dirname)) == 0) return IOStatus::PathNotFound(dirname);
    return IOStatus::OK();
  }

  IOStatus GetFileSize(const std::string& fname, const IOOptions&, uint64_t* size, IODebugContext*) override {
    auto data = Find(fname);
    if (!data) return IOStatus::PathNotFound(fname);
    *size = data->Size();
    return IOStatus::OK();
  }

  IOStatus GetFileModificationTime(const std::string& fname, const IOOptions&, uint64_t* mtime,
                                   IODebugContext*) override {
    auto data = Find(fname);
    if (!data) return IOStatus::PathNotFound(fname);
    *mtime = data->ModificationTime();
    return IOStatus::OK();
  }

  IOStatus RenameFile(const std::string& src, const std::string& target, const IOOptions&,
                      IODebugContext*) override {
    const std::string from = Normalize(src), to = Normalize(target);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(from);
    if (it == files_.end()) return IOStatus::PathNotFound(src);
    if (from == to) return IOStatus::OK();
    auto data = std::move(it->second);
    files_.erase(it);
    files_[to] = std::move(data);
    return IOStatus::OK();
  }

  IOStatus LinkFile(const std::string& src, const std::string& target, const IOOptions&,
                    IODebugContext*) override {
    const std::string from = Normalize(src), to = Normalize(target);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(from);
    if (it == files_.end()) return IOStatus::PathNotFound(src);
    if (files_.count(to)) return IOStatus::IOError(target + ": exists");
    files_[to] = it->second;
    return IOStatus::OK();
  }

  IOStatus NumFileLinks(const std::string& fname, const IOOptions&, uint64_t* count, IODebugContext*) override {
    // The names that share this file's bytes (LinkFile).
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(Normalize(fname));
    if (it == files_.end()) return IOStatus::PathNotFound(fname);
    *count = static_cast<uint64_t>(
        std::count_if(files_.begin(), files_.end(), [&](const auto& f) { return f.second == it->second; }));
    return IOStatus::OK();
  }

  IOStatus AreFilesSame(const std::string& first, const std::string& second, const IOOptions&, bool* same,
                        IODebugContext*) override {
    auto a = Find(first), b = Find(second);
    if (!a || !b) return IOStatus::PathNotFound(a ? second : first);
    *same = a == b;
    return IOStatus::OK();
  }

  IOStatus LockFile(const std::string& fname, const IOOptions&, rocksdb::FileLock** lock,
                    IODebugContext*) override {
    const std::string path = Normalize(fname);
    std::lock_guard<std::mutex> guard(mu_);
    if (!locks_.insert(path).second) return IOStatus::IOError("lock " + fname + ": already held");
    if (!files_.count(path)) files_[path] = std::make_shared<FileData>(NowSeconds());
    *lock = new Lock(path);
    return IOStatus::OK();
  }

  IOStatus UnlockFile(rocksdb::FileLock* lock, const IOOptions&, IODebugContext*) override {
    auto* l = static_cast<Lock*>(lock);
    {
      std::lock_guard<std::mutex> guard(mu_);
      locks_.erase(l->name);
    }
    delete l;
    return IOStatus::OK();
  }

  IOStatus GetTestDirectory(const IOOptions&, std::string* path, IODebugContext*) override {
    *path = "/test";
    std::lock_guard<std::mutex> lock(mu_);
    dirs_.insert(*path);
    return IOStatus::OK();
  }

  IOStatus NewLogger(const std::string& fname, const IOOptions&, std::shared_ptr<rocksdb::Logger>* result,
                     IODebugContext*) override {
    *result = std::make_shared<SpdLogger>(Normalize(fname));
    return IOStatus::OK();
  }

  IOStatus GetAbsolutePath(const std::string& db_path, const IOOptions&, std::string* output_path,
                           IODebugContext*) override {
    *output_path = Normalize(db_path);
    return IOStatus::OK();
  }

  IOStatus IsDirectory(const std::string& path, const IOOptions&, bool* is_dir, IODebugContext*) override {
    const std::string p = Normalize(path);
    std::lock_guard<std::mutex> lock(mu_);
    if (dirs_.count(p)) {
      *is_dir = true;
    } else if (files_.count(p)) {
      *is_dir = false;
    } else {
      return IOStatus::PathNotFound(path);
    }
    return IOStatus::OK();
  }

 private:
  static const std::string& Key(const std::pair<const std::string, std::shared_ptr<FileData>>& e) { return e.first; }
  static const std::string& Key(const std::string& e) { return e; }

  std::shared_ptr<FileData> Find(const std::string& fname) {
    const std::string path = Normalize(fname);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(path);
    return it == files_.end() ? nullptr : it->second;
  }

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<FileData>> files_;
  std::set<std::string> dirs_{"/"};
  std::set<std::string> locks_;
};

}  // namespace

std::shared_ptr<rocksdb::FileSystem> NewChunkedMemoryFileSystem() {
  return std::make_shared<ChunkedMemoryFileSystem>();
}

}  // namespace regionlab::storage
