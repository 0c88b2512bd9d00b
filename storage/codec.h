// Encoding of storage values (records and log entries) with Protobuf
// (storage/record.proto). Internal to the storage module, but exposed so that
// replication can ship the same bytes without re-encoding.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "storage/types.h"

namespace regionlab::storage {

// Appends the encoding of `rec` to *out (written directly, without building
// Protobuf objects; the bytes are those the generated serializer writes).
void EncodeRecord(const Record& rec, std::string* out);
// The same through the generated Protobuf code (for tests of EncodeRecord).
void EncodeRecordWithProtobuf(const Record& rec, std::string* out);
// Decodes what EncodeRecord (or the generated serializer) wrote; false on
// malformed input.
bool DecodeRecord(std::string_view bytes, Record* rec);
// The same through the generated Protobuf code (for tests of DecodeRecord).
bool DecodeRecordWithProtobuf(std::string_view bytes, Record* rec);
void EncodeLogEntry(const LogEntry& entry, std::string* out);
bool DecodeLogEntry(std::string_view bytes, LogEntry* entry);
// Builds a log entry's encoding (decoded by DecodeLogEntry like
// EncodeLogEntry's) from records already encoded by EncodeRecord, so a write
// encodes each record once for both its resource and its log entry.
class LogEntryBuilder {
 public:
  LogEntryBuilder(uint64_t lsn, int64_t write_micros, uint32_t origin_region, uint64_t origin_lsn);
  void AddRecord(std::string_view key, std::string_view encoded_record);
  void AddEraseRange(std::string_view begin, std::string_view end);
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};
// Only the header fields of an encoded log entry (its records are skipped,
// not decoded): what shipping needs to route the stored bytes as they are.
bool DecodeLogEntryHeader(std::string_view bytes, LogEntryHeader* header);

}  // namespace regionlab::storage
