#include "storage/codec.h"

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
  p->set_ttl(rec.ttl);
  p->set_ttl_expired(rec.ttl_expired);
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
  rec->ttl = p.ttl();
  rec->ttl_expired = p.ttl_expired();
}

}  // namespace

// ---- Writing the wire format directly (no intermediate pb objects) ----
// Proto3 rules, as the generated code applies them: fields in number order,
// default values (0, false, empty) omitted, int64 as the varint of its two's
// complement. codec tests check the bytes equal the generated serializer's.
namespace wire {

constexpr uint32_t kVarint = 0, kLengthDelimited = 2;

void Varint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
void Tag(std::string* out, uint32_t field, uint32_t type) { Varint(out, (static_cast<uint64_t>(field) << 3) | type); }
void Uint(std::string* out, uint32_t field, uint64_t v) {
  if (v == 0) return;
  Tag(out, field, kVarint);
  Varint(out, v);
}
void Bytes(std::string* out, uint32_t field, std::string_view b) {
  Tag(out, field, kLengthDelimited);
  Varint(out, b.size());
  out->append(b);
}
void NonEmptyBytes(std::string* out, uint32_t field, std::string_view b) {
  if (!b.empty()) Bytes(out, field, b);
}

// Reads fields off an encoded message. Wire types 0, 1, 2 and 5 are
// understood (groups, unused by our schema, are malformed input).
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool done() const { return in_.empty(); }
  bool ReadVarint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return false;
      const auto b = static_cast<uint8_t>(in_.front());
      in_.remove_prefix(1);
      result |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  // The next field: its number and wire type, with a varint's value in *v or
  // a length-delimited field's payload in *bytes (fixed-width ones skipped).
  bool Next(uint32_t* field, uint32_t* type, uint64_t* v, std::string_view* bytes) {
    uint64_t tag = 0;
    if (!ReadVarint(&tag) || (tag >> 3) == 0 || (tag >> 3) > UINT32_MAX) return false;
    *field = static_cast<uint32_t>(tag >> 3);
    *type = static_cast<uint32_t>(tag & 7);
    switch (*type) {
      case kVarint: return ReadVarint(v);
      case 1: return Skip(8);
      case kLengthDelimited: {
        uint64_t len = 0;
        if (!ReadVarint(&len) || len > in_.size()) return false;
        *bytes = in_.substr(0, len);
        in_.remove_prefix(len);
        return true;
      }
      case 5: return Skip(4);
      default: return false;
    }
  }

 private:
  bool Skip(size_t n) {
    if (in_.size() < n) return false;
    in_.remove_prefix(n);
    return true;
  }
  std::string_view in_;
};

// Walks the fields of an encoded message: `on_varint(field, value)` for
// varint fields, `on_bytes(field, payload)` for length-delimited ones (others
// are skipped). False on malformed input or when a callback returns false.
template <typename OnVarint, typename OnBytes>
bool ForEachField(std::string_view bytes, OnVarint on_varint, OnBytes on_bytes) {
  Reader in(bytes);
  uint32_t field = 0, type = 0;
  uint64_t v = 0;
  std::string_view b;
  while (!in.done()) {
    if (!in.Next(&field, &type, &v, &b)) return false;
    if (type == kVarint && !on_varint(field, v)) return false;
    if (type == kLengthDelimited && !on_bytes(field, b)) return false;
  }
  return true;
}

}  // namespace wire

void EncodeRecord(const Record& rec, std::string* out) {
  wire::Uint(out, 1, static_cast<uint32_t>(rec.kind));
  wire::NonEmptyBytes(out, 2, rec.id);
  wire::NonEmptyBytes(out, 3, rec.partition_key);
  wire::NonEmptyBytes(out, 4, rec.rid);
  wire::NonEmptyBytes(out, 5, rec.etag);
  wire::Uint(out, 6, static_cast<uint64_t>(rec.ts));
  wire::Uint(out, 7, rec.tombstone ? 1 : 0);
  std::string entry;
  for (const auto& [region, counter] : rec.version) {
    entry.clear();
    wire::Uint(&entry, 1, region);
    wire::Uint(&entry, 2, counter);
    wire::Bytes(out, 8, entry);
  }
  wire::Uint(out, 9, rec.origin_region);
  wire::Uint(out, 10, rec.origin_lsn);
  wire::Uint(out, 11, static_cast<uint64_t>(rec.write_micros));
  wire::NonEmptyBytes(out, 12, rec.body);
  wire::NonEmptyBytes(out, 13, rec.parent);
  std::string sibling;
  for (const Record& sib : rec.siblings) {
    sibling.clear();
    EncodeRecord(sib, &sibling);
    wire::Bytes(out, 14, sibling);
  }
  wire::Uint(out, 15, static_cast<uint32_t>(rec.operation));
  wire::Uint(out, 16, rec.merged ? 1 : 0);
  wire::Uint(out, 17, rec.local_lsn);
  wire::Uint(out, 18, static_cast<uint64_t>(rec.ttl));
  wire::Uint(out, 19, rec.ttl_expired ? 1 : 0);
}

void EncodeRecordWithProtobuf(const Record& rec, std::string* out) {
  pb::Record p;
  ToProto(rec, &p);
  p.AppendToString(out);
}

LogEntryBuilder::LogEntryBuilder(uint64_t lsn, int64_t write_micros, uint32_t origin_region, uint64_t origin_lsn) {
  wire::Uint(&bytes_, 1, lsn);
  wire::Uint(&bytes_, 2, static_cast<uint64_t>(write_micros));
  wire::Uint(&bytes_, 5, origin_region);
  wire::Uint(&bytes_, 6, origin_lsn);
}

void LogEntryBuilder::AddRecord(std::string_view key, std::string_view encoded_record) {
  wire::Bytes(&bytes_, 3, key);
  wire::Bytes(&bytes_, 4, encoded_record);
}

void LogEntryBuilder::AddEraseRange(std::string_view begin, std::string_view end) {
  wire::Bytes(&bytes_, 7, begin);
  wire::Bytes(&bytes_, 8, end);
}

namespace {

// Decodes straight into `rec` (no intermediate pb objects): every field is
// copied once, out of `bytes`. A field with an unexpected wire type is
// skipped, as the generated parser does with an unknown field.
bool DecodeRecordAt(std::string_view bytes, Record* rec, int depth) {
  if (depth > 64) return false;
  *rec = Record{};
  rec->kind = static_cast<RecordKind>(0);
  auto on_varint = [&](uint32_t field, uint64_t v) {
    switch (field) {
      case 1: rec->kind = static_cast<RecordKind>(static_cast<uint32_t>(v)); break;
      case 6: rec->ts = static_cast<int64_t>(v); break;
      case 7: rec->tombstone = v != 0; break;
      case 9: rec->origin_region = static_cast<uint32_t>(v); break;
      case 10: rec->origin_lsn = v; break;
      case 11: rec->write_micros = static_cast<int64_t>(v); break;
      case 15: rec->operation = static_cast<Operation>(static_cast<uint32_t>(v)); break;
      case 16: rec->merged = v != 0; break;
      case 17: rec->local_lsn = v; break;
      case 18: rec->ttl = static_cast<int64_t>(v); break;
      case 19: rec->ttl_expired = v != 0; break;
      default: break;
    }
    return true;
  };
  auto on_bytes = [&](uint32_t field, std::string_view b) {
    switch (field) {
      case 2: rec->id.assign(b); break;
      case 3: rec->partition_key.assign(b); break;
      case 4: rec->rid.assign(b); break;
      case 5: rec->etag.assign(b); break;
      case 12: rec->body.assign(b); break;
      case 13: rec->parent.assign(b); break;
      case 8: {  // VersionEntry {region = 1, counter = 2}
        uint32_t region = 0;
        uint64_t counter = 0;
        bool ok = wire::ForEachField(
            b,
            [&](uint32_t f, uint64_t x) {
              if (f == 1) region = static_cast<uint32_t>(x);
              if (f == 2) counter = x;
              return true;
            },
            [](uint32_t, std::string_view) { return true; });
        if (!ok) return false;
        rec->version[region] = counter;
        break;
      }
      case 14:
        rec->siblings.emplace_back();
        return DecodeRecordAt(b, &rec->siblings.back(), depth + 1);
      default: break;
    }
    return true;
  };
  return wire::ForEachField(bytes, on_varint, on_bytes);
}

}  // namespace

bool DecodeRecord(std::string_view bytes, Record* rec) { return DecodeRecordAt(bytes, rec, 0); }

bool DecodeRecordWithProtobuf(std::string_view bytes, Record* rec) {
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

// The header fields of a log entry (1, 2, 5, 6): true if `field` is one.
static bool LogEntryHeaderField(uint32_t field, uint64_t v, LogEntryHeader* h) {
  switch (field) {
    case 1: h->lsn = v; return true;
    case 2: h->write_micros = static_cast<int64_t>(v); return true;
    case 5: h->origin_region = static_cast<uint32_t>(v); return true;
    case 6: h->origin_lsn = v; return true;
    default: return false;
  }
}

bool DecodeLogEntry(std::string_view bytes, LogEntry* entry) {
  *entry = LogEntry{};
  LogEntryHeader h;
  std::vector<std::string_view> keys, records, begins, ends;
  bool ok = wire::ForEachField(
      bytes,
      [&](uint32_t field, uint64_t v) {
        LogEntryHeaderField(field, v, &h);
        return true;
      },
      [&](uint32_t field, std::string_view b) {
        switch (field) {
          case 3: keys.push_back(b); break;
          case 4: records.push_back(b); break;
          case 7: begins.push_back(b); break;
          case 8: ends.push_back(b); break;
          default: break;
        }
        return true;
      });
  if (!ok) return false;
  entry->lsn = h.lsn;
  entry->write_micros = h.write_micros;
  entry->origin_region = h.origin_region;
  entry->origin_lsn = h.origin_lsn;
  if (keys.size() != records.size() || begins.size() != ends.size()) return false;
  entry->records.resize(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    entry->records[i].first.assign(keys[i]);
    if (!DecodeRecordAt(records[i], &entry->records[i].second, 0)) return false;
  }
  for (size_t i = 0; i < begins.size(); ++i) entry->erase_ranges.emplace_back(begins[i], ends[i]);
  return true;
}

bool DecodeLogEntryHeader(std::string_view bytes, LogEntryHeader* header) {
  *header = LogEntryHeader{};
  return wire::ForEachField(
      bytes,
      [&](uint32_t field, uint64_t v) {
        LogEntryHeaderField(field, v, header);
        return true;
      },
      [](uint32_t, std::string_view) { return true; });  // records: skipped, not decoded
}

}  // namespace regionlab::storage
