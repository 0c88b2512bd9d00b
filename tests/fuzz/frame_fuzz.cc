// Fuzz target for what arrives from a peer after the handshake: replication
// frames (Protobuf) and the stored records and log entries inside them (the
// hand-written codec). Any bytes must decode or be refused, never crash; a
// record that decodes re-encodes to bytes that decode to the same record.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "replication/wire.pb.h"
#include "storage/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  regionlab::replication::pb::Frame frame;
  (void)frame.ParseFromArray(data, static_cast<int>(size));
  regionlab::storage::Record rec;
  if (regionlab::storage::DecodeRecord(bytes, &rec)) {
    std::string again;
    regionlab::storage::EncodeRecord(rec, &again);
    regionlab::storage::Record twice;
    if (!regionlab::storage::DecodeRecord(again, &twice)) std::abort();
    std::string third;
    regionlab::storage::EncodeRecord(twice, &third);
    if (third != again) std::abort();
  }
  regionlab::storage::LogEntry entry;
  (void)regionlab::storage::DecodeLogEntry(bytes, &entry);
  regionlab::storage::LogEntryHeader header;
  (void)regionlab::storage::DecodeLogEntryHeader(bytes, &header);
  return 0;
}
