// The file system of an ephemeral store (--ephemeral): RocksDB's files kept in
// this process's memory, in chunks.
//
// RocksDB's own in-memory Env (NewMemEnv) keeps each file in one std::string.
// A flush appends a table to it in 1 MB pieces, and each time the string
// doubles it is copied whole into fresh memory, which the kernel then faults
// in page by page: 44% of an ephemeral flush thread's time (docs/
// benchmarks.md, session 14). Here a file is a list of chunks that never move:
// an append copies its bytes once, and a deleted table's chunks go back to
// malloc for the next one.
//
// What RocksDB needs of a file system, and no more: files (append, read at an
// offset, read in sequence, truncate, rename, link, delete while open),
// directories as names, LOCK files, an info log (forwarded to spdlog at debug
// level). Paths are absolute, and "a//b/" is "a/b". Safe for concurrent use.
#pragma once

#include <memory>

namespace rocksdb {
class FileSystem;
}

namespace regionlab::storage {

std::shared_ptr<rocksdb::FileSystem> NewChunkedMemoryFileSystem();

}  // namespace regionlab::storage
