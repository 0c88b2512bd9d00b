// Encoding of storage values (records and log entries) with Protobuf
// (storage/record.proto). Internal to the storage module, but exposed so that
// replication can ship the same bytes without re-encoding.
#pragma once

#include <string>
#include <string_view>

#include "storage/types.h"

namespace regionlab::storage {

void EncodeRecord(const Record& rec, std::string* out);
bool DecodeRecord(std::string_view bytes, Record* rec);
void EncodeLogEntry(const LogEntry& entry, std::string* out);
bool DecodeLogEntry(std::string_view bytes, LogEntry* entry);
// Only the header fields of an encoded log entry (its records are skipped,
// not decoded): what shipping needs to route the stored bytes as they are.
bool DecodeLogEntryHeader(std::string_view bytes, LogEntryHeader* header);

}  // namespace regionlab::storage
