#include "conflictfeed/conflict_record.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "base/json_depth.h"
#include "base/cosmos_auth.h"
#include "base/encoding.h"
#include "storage/keys.h"

namespace regionlab::conflictfeed {
namespace {

using Json = nlohmann::ordered_json;

Json VersionJson(const storage::VersionVector& v) {
  Json out = Json::object();
  for (const auto& [region, counter] : v) out[std::to_string(region)] = counter;
  return out;
}

std::string OperationType(const storage::Record& r) {
  if (r.tombstone) return "delete";
  if (r.operation == storage::Operation::kCreate) return "create";
  return "replace";
}

}  // namespace

std::string ConflictId(std::string_view coll_rid, const storage::Record& loser) {
  std::string input = "conflict";
  input.push_back('\0');
  input += loser.partition_key;
  input.push_back('\0');
  input += loser.id;
  input.push_back('\0');
  input += std::to_string(loser.origin_region) + ":" + std::to_string(loser.origin_lsn);
  std::string rid(coll_rid);
  rid += Sha256(input).substr(0, 8);
  return RidText(rid);
}

std::pair<std::string, storage::Record> MakeConflictRecord(const ConflictInfo& info, const storage::Record& loser,
                                                           const storage::Record& winner) {
  const std::string id = ConflictId(info.coll_rid, loser);
  storage::Record r;
  r.kind = storage::RecordKind::kConflict;
  r.id = id;
  r.rid = id;
  r.partition_key = loser.partition_key;
  r.parent = info.coll_rid;
  r.ts = std::max(loser.ts, winner.ts);
  r.operation = storage::Operation::kCreate;
  r.etag = "\"" + HexEncode(Sha256(id + loser.etag + winner.etag).substr(0, 16)) + "\"";

  std::string content = loser.body;
  if (loser.tombstone || content.empty()) content = Json{{"id", loser.id}, {"_rid", loser.rid}}.dump();
  Json pk = ParseJsonWithinDepth<Json>(loser.partition_key);
  Json body = {
      {"id", id},
      {"resourceType", "document"},
      {"operationType", OperationType(loser)},
      {"resourceId", loser.rid},
      {"content", content},
      {"conflict_lsn", loser.origin_lsn},
      {"regionlab",
       {{"documentId", loser.id},
        {"partitionKey", pk.is_discarded() ? Json(nullptr) : pk},
        {"policy", info.policy},
        {"reason", info.reason},
        {"winner",
         {{"_etag", winner.etag},
          {"regionId", winner.origin_region},
          {"version", VersionJson(winner.version)},
          {"deleted", winner.tombstone}}},
        {"loser",
         {{"_etag", loser.etag},
          {"regionId", loser.origin_region},
          {"version", VersionJson(loser.version)},
          {"deleted", loser.tombstone}}}}},
      {"_rid", id},
      {"_self", info.coll_self + "conflicts/" + id + "/"},
      {"_etag", r.etag},
      {"_ts", r.ts},
  };
  r.body = body.dump();
  return {storage::keys::Conflict(info.coll_rid, id), std::move(r)};
}

}  // namespace regionlab::conflictfeed
