// GET / : the database account document. Every region lists every region as
// readable and writable, itself first, with multiple write locations on, so
// the SDK routes by preferredLocations and fails over as it does on Azure.
#include "server/handlers.h"

namespace regionlab::server {

HttpResponse HandleAccount(RequestContext& ctx) {
  const RegionContext& region = ctx.region;
  Json locations = Json::array();
  locations.push_back({{"name", region.self.display_name},
                       {"databaseAccountEndpoint", region.self.endpoint}});
  for (const auto& r : region.account_regions) {
    if (r.id == region.self.id) continue;
    locations.push_back({{"name", r.display_name}, {"databaseAccountEndpoint", r.endpoint}});
  }
  Json query_config = {{"maxSqlQueryInputLength", 262144},
                       {"maxJoinsPerSqlQuery", 5},
                       {"maxLogicalAndPerSqlQuery", 500},
                       {"maxLogicalOrPerSqlQuery", 500},
                       {"maxUdfRefPerSqlQuery", 10},
                       {"maxInExpressionItemsCount", 16000},
                       {"queryMaxInMemorySortDocumentCount", 500},
                       {"maxQueryRequestTimeoutFraction", 0.9},
                       {"sqlAllowNonFiniteNumbers", false},
                       {"sqlAllowAggregateFunctions", true},
                       {"sqlAllowSubQuery", true},
                       {"sqlAllowScalarSubQuery", true},
                       {"allowNewKeywords", true},
                       {"sqlAllowLike", true},
                       {"sqlAllowGroupByClause", true},
                       {"maxSpatialQueryCells", 12},
                       {"spatialMaxGeometryPointCount", 256},
                       {"sqlDisableOptimizationFlags", 0},
                       {"sqlAllowTop", true},
                       {"enableSpatialIndexing", true}};
  Json account = {
      {"_self", ""},
      {"id", region.account_name},
      {"_rid", region.account_name + ".documents.azure.com"},
      {"media", "//media/"},
      {"addresses", "//addresses/"},
      {"_dbs", "//dbs/"},
      {"writableLocations", locations},
      {"readableLocations", locations},
      {"enableMultipleWriteLocations", true},
      {"userReplicationPolicy",
       {{"asyncReplication", false}, {"minReplicaSetSize", 1}, {"maxReplicasetSize", 4}}},
      {"userConsistencyPolicy", {{"defaultConsistencyLevel", ctx.region.default_consistency}}},
      {"systemReplicationPolicy", {{"minReplicaSetSize", 1}, {"maxReplicasetSize", 4}}},
      {"readPolicy", {{"primaryReadCoefficient", 1}, {"secondaryReadCoefficient", 1}}},
      {"queryEngineConfiguration", query_config.dump()},
  };
  HttpResponse r = JsonResponse(200, account.dump());
  r.SetHeader("x-ms-max-media-storage-usage-mb", "10240");
  r.SetHeader("x-ms-media-storage-usage-mb", "0");
  r.SetHeader("x-ms-databaseaccount-consumed-mb", "0");
  r.SetHeader("x-ms-databaseaccount-reserved-mb", "0");
  r.SetHeader("x-ms-databaseaccount-provisioned-mb", "0");
  return r;
}

}  // namespace regionlab::server
