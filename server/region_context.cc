#include "server/region_context.h"

#include <cctype>
#include <map>
#include <string>

namespace regionlab::server {

std::string DisplayNameFor(const std::string& short_name) {
  static const std::map<std::string, std::string> kNames = {
      {"uksouth", "UK South"},
      {"ukwest", "UK West"},
      {"westeurope", "West Europe"},
      {"northeurope", "North Europe"},
      {"francecentral", "France Central"},
      {"germanywestcentral", "Germany West Central"},
      {"swedencentral", "Sweden Central"},
      {"switzerlandnorth", "Switzerland North"},
      {"norwayeast", "Norway East"},
      {"eastus", "East US"},
      {"eastus2", "East US 2"},
      {"westus", "West US"},
      {"westus2", "West US 2"},
      {"westus3", "West US 3"},
      {"centralus", "Central US"},
      {"northcentralus", "North Central US"},
      {"southcentralus", "South Central US"},
      {"westcentralus", "West Central US"},
      {"canadacentral", "Canada Central"},
      {"canadaeast", "Canada East"},
      {"brazilsouth", "Brazil South"},
      {"eastasia", "East Asia"},
      {"southeastasia", "Southeast Asia"},
      {"japaneast", "Japan East"},
      {"japanwest", "Japan West"},
      {"koreacentral", "Korea Central"},
      {"centralindia", "Central India"},
      {"southindia", "South India"},
      {"australiaeast", "Australia East"},
      {"australiasoutheast", "Australia Southeast"},
      {"southafricanorth", "South Africa North"},
      {"uaenorth", "UAE North"},
  };
  auto it = kNames.find(short_name);
  return it == kNames.end() ? short_name : it->second;
}

std::string RegionName(const RegionContext& region, uint32_t id, std::string_view unknown_prefix) {
  for (const auto& r : region.account_regions) {
    if (r.id == id) return r.name;
  }
  return std::string(unknown_prefix) + std::to_string(id);
}

}  // namespace regionlab::server

namespace regionlab::server {
namespace {

// Strongest first; -1: not a consistency level.
int Strength(std::string_view level) {
  const char* order[] = {"strong", "boundedstaleness", "session", "consistentprefix", "eventual"};
  std::string lower(level);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (int i = 0; i < 5; ++i) {
    if (lower == order[i]) return 4 - i;
  }
  return -1;
}

}  // namespace

Status CheckConsistency(std::string_view requested, std::string_view account_default) {
  const int want = Strength(requested), have = Strength(account_default);
  if (want < 0) {
    return Status::BadRequest("Invalid value '" + std::string(requested) +
                              "' for x-ms-consistency-level: use Session, Eventual or ConsistentPrefix.");
  }
  if (want > have || want >= Strength("BoundedStaleness")) {
    return Status::BadRequest("ConsistencyLevel " + std::string(requested) +
                              " specified in the request is invalid when service is configured with consistency level " +
                              std::string(account_default) +
                              ". Ensure the request consistency level is not stronger than the service consistency level.");
  }
  return Status::Ok();
}

}  // namespace regionlab::server
