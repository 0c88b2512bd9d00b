#include "storage/codec.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include "storage/record.pb.h"

namespace regionlab::storage {
namespace {

void ToProto(const Record& rec, pb::Record* p) {
  p->set_kind(static_cast<uint32_t>(rec.kind));
  p->set_id(rec.id);
  p->set_partition_key(rec.partition_key);
  p->set_rid(rec.rid);
  p->set_etag(rec.etag);
  p->set_ts(rec.ts);
  p->set_tombstone(rec.tombstone);
  for (const auto& [region, counter] : rec.version) {
    auto* e = p->add_version();
    e->set_region(region);
    e->set_counter(counter);
  }
  p->set_origin_region(rec.origin_region);
  p->set_origin_lsn(rec.origin_lsn);
  p->set_write_micros(rec.write_micros);
  p->set_body(rec.body);
  p->set_parent(rec.parent);
  for (const Record& sib : rec.siblings) ToProto(sib, p->add_siblings());
  p->set_operation(static_cast<uint32_t>(rec.operation));
  p->set_merged(rec.merged);
  p->set_local_lsn(rec.local_lsn);
}

void FromProto(pb::Record&& p, Record* rec) {
  rec->kind = static_cast<RecordKind>(p.kind());
  rec->id = std::move(*p.mutable_id());
  rec->partition_key = std::move(*p.mutable_partition_key());
  rec->rid = std::move(*p.mutable_rid());
  rec->etag = std::move(*p.mutable_etag());
  rec->ts = p.ts();
  rec->tombstone = p.tombstone();
  rec->version.clear();
  for (const auto& e : p.version()) rec->version[e.region()] = e.counter();
  rec->origin_region = p.origin_region();
  rec->origin_lsn = p.origin_lsn();
  rec->write_micros = p.write_micros();
  rec->body = std::move(*p.mutable_body());
  rec->parent = std::move(*p.mutable_parent());
  rec->siblings.clear();
  for (auto& sib : *p.mutable_siblings()) {
    rec->siblings.emplace_back();
    FromProto(std::move(sib), &rec->siblings.back());
  }
  rec->operation = static_cast<Operation>(p.operation());
  rec->merged = p.merged();
  rec->local_lsn = p.local_lsn();
}

}  // namespace

void EncodeRecord(const Record& rec, std::string* out) {
  pb::Record p;
  ToProto(rec, &p);
  p.AppendToString(out);
}

bool DecodeRecord(std::string_view bytes, Record* rec) {
  pb::Record p;
  if (!p.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  FromProto(std::move(p), rec);
  return true;
}

void EncodeLogEntry(const LogEntry& entry, std::string* out) {
  pb::LogEntry p;
  p.set_lsn(entry.lsn);
  p.set_write_micros(entry.write_micros);
  p.set_origin_region(entry.origin_region);
  p.set_origin_lsn(entry.origin_lsn);
  for (const auto& [key, rec] : entry.records) {
    p.add_keys(key);
    ToProto(rec, p.add_records());
  }
  for (const auto& [begin, end] : entry.erase_ranges) {
    p.add_erase_begin(begin);
    p.add_erase_end(end);
  }
  p.AppendToString(out);
}

bool DecodeLogEntry(std::string_view bytes, LogEntry* entry) {
  pb::LogEntry p;
  if (!p.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  if (p.keys_size() != p.records_size()) return false;
  if (p.erase_begin_size() != p.erase_end_size()) return false;
  entry->erase_ranges.clear();
  for (int i = 0; i < p.erase_begin_size(); ++i) {
    entry->erase_ranges.emplace_back(p.erase_begin(i), p.erase_end(i));
  }
  entry->lsn = p.lsn();
  entry->write_micros = p.write_micros();
  entry->origin_region = p.origin_region();
  entry->origin_lsn = p.origin_lsn();
  entry->records.clear();
  for (int i = 0; i < p.records_size(); ++i) {
    Record rec;
    FromProto(std::move(*p.mutable_records(i)), &rec);
    entry->records.emplace_back(std::move(*p.mutable_keys(i)), std::move(rec));
  }
  return true;
}

bool DecodeLogEntryHeader(std::string_view bytes, LogEntryHeader* header) {
  using google::protobuf::internal::WireFormatLite;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  *header = LogEntryHeader{};
  for (;;) {
    uint32_t tag = in.ReadTag();
    if (tag == 0) return in.ConsumedEntireMessage();  // end of input, not a bad tag
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const bool varint = WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_VARINT;
    uint64_t v = 0;
    if (varint && (field == 1 || field == 2 || field == 5 || field == 6)) {
      if (!in.ReadVarint64(&v)) return false;
      switch (field) {
        case 1: header->lsn = v; break;
        case 2: header->write_micros = static_cast<int64_t>(v); break;
        case 5: header->origin_region = static_cast<uint32_t>(v); break;
        case 6: header->origin_lsn = v; break;
      }
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return false;
    }
  }
}

}  // namespace regionlab::storage
