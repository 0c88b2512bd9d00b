// Key encodings of a region's RocksDB store.
//
// Column families and their keys:
//
//   default     metadata
//     "format"                      -> "1"            store format version
//     "region"                      -> region id, as decimal text
//     "own-lsn"                     -> fixed64_be: lsn of this region's last local write
//     "applied/" fixed32_be(region) -> fixed64_be: last lsn of that region's writes applied here
//     "probe"                       -> deep-health probe value
//
//   resources   the current version (or tombstone) of every resource
//     resource_key  := database_key | container_key | document_key | sproc_key
//                    | conflict_key | lease_key
//     database_key  := 'D' db_id
//     container_key := 'C' lp(db_id) coll_id
//     document_key  := 'd' coll_rid pk_part doc_id
//     sproc_key     := 's' coll_rid sproc_id
//     conflict_key  := 'x' coll_rid conflict_id   a conflicts-feed record
//     lease_key     := 'l' lease_name              a fenced lease (server/leases.h),
//                                                  written only by its home region
//     offer_key     := 'o' resource_rid            the throughput offer of a database
//                                                  (4-byte rid) or container (8 bytes)
//     udf_key       := 'u' coll_rid udf_id         a user-defined function
//     trigger_key   := 't' coll_rid trigger_id     a trigger
//     user_key      := 'U' lp(db_id) user_id
//     permission_key:= 'P' lp(db_id) lp(user_id) permission_id
//     pk_part       := lp(partition_key)        canonical JSON array, e.g. ["a",5]
//     coll_rid      := 8 bytes                  the container's binary _rid
//     lp(x)         := varint32(len(x)) x
//   So the documents of one container are contiguous, and within them the
//   documents of one partition key: a partition-key scan is a prefix scan.
//
//   log         the replication log, in commit order
//     log_key       := 'L' fixed64_be(lsn)      -> pb::LogEntry
//
// Values are pb::Record (resources) and pb::LogEntry (log), see record.proto.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace regionlab::storage::keys {

std::string Database(std::string_view db_id);
std::string DatabasePrefix();  // every database
std::string Container(std::string_view db_id, std::string_view coll_id);
std::string ContainerPrefix(std::string_view db_id);  // containers of one database
std::string AllContainersPrefix();                   // containers of every database
std::string Document(std::string_view coll_rid, std::string_view pk, std::string_view doc_id);
std::string DocumentPrefix(std::string_view coll_rid);  // documents of a container
std::string PartitionPrefix(std::string_view coll_rid, std::string_view pk);
std::string StoredProcedure(std::string_view coll_rid, std::string_view sproc_id);
std::string StoredProcedurePrefix(std::string_view coll_rid);
std::string Conflict(std::string_view coll_rid, std::string_view conflict_id);
std::string ConflictPrefix(std::string_view coll_rid);
// Fenced leases (server/leases.h): one record per lease name.
std::string Lease(std::string_view name);
std::string LeasePrefix();  // every lease
// Throughput offers: a database's key is a prefix of its containers' keys.
std::string Offer(std::string_view resource_rid);
std::string OfferPrefix();  // every offer
std::string Udf(std::string_view coll_rid, std::string_view udf_id);
std::string UdfPrefix(std::string_view coll_rid);
std::string Trigger(std::string_view coll_rid, std::string_view trigger_id);
std::string TriggerPrefix(std::string_view coll_rid);
std::string User(std::string_view db_id, std::string_view user_id);
std::string UserPrefix(std::string_view db_id);  // users of one database
std::string Permission(std::string_view db_id, std::string_view user_id, std::string_view permission_id);
std::string PermissionPrefix(std::string_view db_id, std::string_view user_id);  // one user's
std::string DatabasePermissionsPrefix(std::string_view db_id);                   // every user's
std::string Log(uint64_t lsn);
std::optional<uint64_t> LogSequence(std::string_view log_key);

// Metadata keys (default family).
std::string OwnLsnKey();
std::string AppliedKey(uint32_t origin_region);
std::string EncodeFixed64(uint64_t v);
std::optional<uint64_t> DecodeFixed64(std::string_view bytes);

// The smallest key greater than every key with `prefix` (for range ends).
std::string PrefixEnd(std::string_view prefix);

void PutLengthPrefixed(std::string* dst, std::string_view value);
// Reads lp(x) from the front of *input, advancing it.
bool GetLengthPrefixed(std::string_view* input, std::string_view* value);

// Change-feed index (column family `changes`, maintained by Store::Write; see
// Store::ScanChanges). For every live document, one entry in the order its
// current version was stored in this region:
//   change_key  := 'f' coll_rid fixed64_be(local_lsn) lp(pk) doc_id
//                  -> the (origin region, origin lsn) of each version it holds
// The entry of a replaced version is found through the replaced record's
// local_lsn. (Stores written before 2026-11-27 also hold current_key :=
// 'r' document_key entries, no longer read or written; a dropped container
// removes its own.)
// A change key is a document key with 'd' replaced by 'f' and the local lsn
// inserted after the container rid, so a container's changes are contiguous
// and ordered by (local_lsn, document key).
std::string ChangePrefix(std::string_view coll_rid);
// `document_key` as produced by Document(); nullopt if it is not one.
std::optional<std::string> ChangeKey(std::string_view document_key, uint64_t local_lsn);
std::string ChangeCurrentKey(std::string_view document_key);
// Inverse of ChangeKey: the local lsn and the document key.
bool ParseChangeKey(std::string_view change_key, uint64_t* local_lsn, std::string* document_key);
constexpr size_t kContainerRidBytes = 8;

}  // namespace regionlab::storage::keys
