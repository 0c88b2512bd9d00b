#include "server/region_context.h"

#include <map>

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
