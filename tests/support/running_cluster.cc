#include "tests/support/running_cluster.h"

#include <nlohmann/json.hpp>

namespace regionlab::testing {

std::unique_ptr<client::CosmosClient> RunningCluster::Client(size_t region, std::chrono::seconds timeout) const {
  client::CosmosClientOptions o;
  o.endpoint = endpoints.at(region);
  o.timeout = timeout;
  return std::make_unique<client::CosmosClient>(o);
}

Result<RunningCluster> StartCluster(const cluster::ClusterOptions& options) {
  auto started = cluster::Cluster::Start(options);
  if (!started.ok()) return started.status();
  RunningCluster out;
  out.cluster = std::move(*started);
  const nlohmann::json ready = nlohmann::json::parse(out.cluster->ReadyLine(), nullptr, /*allow_exceptions=*/false);
  if (ready.is_discarded()) return Status::Internal("the cluster's ready line is not JSON");
  for (const auto& r : ready.value("regions", nlohmann::json::array())) {
    out.endpoints.push_back(r.value("endpoint", ""));
  }
  out.admin = ready.value("admin", "");
  return out;
}

}  // namespace regionlab::testing
