#include "storage/keys.h"

namespace regionlab::storage::keys {

void PutLengthPrefixed(std::string* dst, std::string_view value) {
  uint32_t v = static_cast<uint32_t>(value.size());
  while (v >= 0x80) {
    dst->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  dst->push_back(static_cast<char>(v));
  dst->append(value);
}

bool GetLengthPrefixed(std::string_view* input, std::string_view* value) {
  uint32_t len = 0;
  int shift = 0;
  size_t i = 0;
  while (true) {
    if (i >= input->size() || shift > 28) return false;
    uint8_t b = static_cast<uint8_t>((*input)[i++]);
    len |= uint32_t(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
    shift += 7;
  }
  if (input->size() - i < len) return false;
  *value = input->substr(i, len);
  input->remove_prefix(i + len);
  return true;
}

std::string Database(std::string_view db_id) { return "D" + std::string(db_id); }
std::string DatabasePrefix() { return "D"; }

std::string Container(std::string_view db_id, std::string_view coll_id) {
  std::string k = ContainerPrefix(db_id);
  k.append(coll_id);
  return k;
}
std::string AllContainersPrefix() { return "C"; }

std::string ContainerPrefix(std::string_view db_id) {
  std::string k = "C";
  PutLengthPrefixed(&k, db_id);
  return k;
}

std::string DocumentPrefix(std::string_view coll_rid) { return "d" + std::string(coll_rid); }
std::string PartitionPrefix(std::string_view coll_rid, std::string_view pk) {
  std::string k = DocumentPrefix(coll_rid);
  PutLengthPrefixed(&k, pk);
  return k;
}
std::string Document(std::string_view coll_rid, std::string_view pk, std::string_view doc_id) {
  std::string k = PartitionPrefix(coll_rid, pk);
  k.append(doc_id);
  return k;
}

std::string StoredProcedure(std::string_view coll_rid, std::string_view sproc_id) {
  return StoredProcedurePrefix(coll_rid) + std::string(sproc_id);
}
std::string StoredProcedurePrefix(std::string_view coll_rid) { return "s" + std::string(coll_rid); }
std::string Conflict(std::string_view coll_rid, std::string_view conflict_id) {
  return ConflictPrefix(coll_rid) + std::string(conflict_id);
}
std::string ConflictPrefix(std::string_view coll_rid) { return "x" + std::string(coll_rid); }

std::string Log(uint64_t lsn) {
  std::string k = "L";
  for (int i = 7; i >= 0; --i) k.push_back(static_cast<char>((lsn >> (8 * i)) & 0xff));
  return k;
}

std::optional<uint64_t> LogSequence(std::string_view key) {
  if (key.size() != 9 || key[0] != 'L') return std::nullopt;
  uint64_t v = 0;
  for (int i = 1; i < 9; ++i) v = (v << 8) | static_cast<uint8_t>(key[i]);
  return v;
}

std::string OwnLsnKey() { return "own-lsn"; }

std::string AppliedKey(uint32_t origin_region) {
  std::string k = "applied/";
  for (int i = 3; i >= 0; --i) k.push_back(static_cast<char>((origin_region >> (8 * i)) & 0xff));
  return k;
}

std::string EncodeFixed64(uint64_t v) {
  std::string out;
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

std::optional<uint64_t> DecodeFixed64(std::string_view b) {
  if (b.size() != 8) return std::nullopt;
  uint64_t v = 0;
  for (char c : b) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& c = end.back();
    if (static_cast<uint8_t>(c) != 0xff) {
      c = static_cast<char>(static_cast<uint8_t>(c) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\xff');  // unreachable for our prefixes
}

std::string Lease(std::string_view name) { return LeasePrefix() + std::string(name); }
std::string LeasePrefix() { return "l"; }
std::string Offer(std::string_view resource_rid) { return OfferPrefix() + std::string(resource_rid); }
std::string OfferPrefix() { return "o"; }
std::string Udf(std::string_view coll_rid, std::string_view udf_id) { return UdfPrefix(coll_rid) + std::string(udf_id); }
std::string UdfPrefix(std::string_view coll_rid) { return "u" + std::string(coll_rid); }
std::string Trigger(std::string_view coll_rid, std::string_view trigger_id) {
  return TriggerPrefix(coll_rid) + std::string(trigger_id);
}
std::string TriggerPrefix(std::string_view coll_rid) { return "t" + std::string(coll_rid); }
std::string User(std::string_view db_id, std::string_view user_id) { return UserPrefix(db_id) + std::string(user_id); }
std::string UserPrefix(std::string_view db_id) {
  std::string k = "U";
  PutLengthPrefixed(&k, db_id);
  return k;
}
std::string Permission(std::string_view db_id, std::string_view user_id, std::string_view permission_id) {
  return PermissionPrefix(db_id, user_id) + std::string(permission_id);
}
std::string PermissionPrefix(std::string_view db_id, std::string_view user_id) {
  std::string k = DatabasePermissionsPrefix(db_id);
  PutLengthPrefixed(&k, user_id);
  return k;
}
std::string DatabasePermissionsPrefix(std::string_view db_id) {
  std::string k = "P";
  PutLengthPrefixed(&k, db_id);
  return k;
}

std::string ChangePrefix(std::string_view coll_rid) { return "f" + std::string(coll_rid); }

std::optional<std::string> ChangeKey(std::string_view document_key, uint64_t local_lsn) {
  if (document_key.size() <= 1 + kContainerRidBytes || document_key[0] != 'd') return std::nullopt;
  std::string k = "f";
  k.append(document_key.substr(1, kContainerRidBytes));
  k.append(EncodeFixed64(local_lsn));
  k.append(document_key.substr(1 + kContainerRidBytes));
  return k;
}

std::string ChangeCurrentKey(std::string_view document_key) { return "r" + std::string(document_key); }

bool ParseChangeKey(std::string_view change_key, uint64_t* local_lsn, std::string* document_key) {
  constexpr size_t kHead = 1 + kContainerRidBytes;
  if (change_key.size() <= kHead + 8 || change_key[0] != 'f') return false;
  auto lsn = DecodeFixed64(change_key.substr(kHead, 8));
  if (!lsn) return false;
  *local_lsn = *lsn;
  document_key->assign("d");
  document_key->append(change_key.substr(1, kContainerRidBytes));
  document_key->append(change_key.substr(kHead + 8));
  return true;
}

}  // namespace regionlab::storage::keys
