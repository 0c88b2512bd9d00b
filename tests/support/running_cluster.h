// A cluster::Cluster started in this process (real HTTP and replication on
// loopback), with what its ready line says: each region's endpoint and the
// management endpoint, and Cosmos clients for the regions.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "client/cosmos_client.h"
#include "cluster/cluster.h"

namespace regionlab::testing {

struct RunningCluster {
  std::unique_ptr<cluster::Cluster> cluster;
  std::vector<std::string> endpoints;  // by region, in the ready line's order
  std::string admin;                   // the management API's base URL

  // A client of region `region` (an index into `endpoints`).
  std::unique_ptr<client::CosmosClient> Client(size_t region,
                                               std::chrono::seconds timeout = std::chrono::seconds(15)) const;
};

// Starts the cluster and reads its ready line.
Result<RunningCluster> StartCluster(const cluster::ClusterOptions& options);

}  // namespace regionlab::testing
