#include "admin/digest.h"

#include <nlohmann/json.hpp>

#include <array>

#include "admin/internal.h"
#include "base/cosmos_auth.h"
#include "base/encoding.h"
#include "server/handlers.h"
#include "storage/keys.h"

namespace regionlab::admin {

using server::RidBytes;  // server/handlers.h

Result<std::vector<ContainerDigest>> ComputeDigest(const storage::Store& store) {
  struct Container {
    std::string db, id, rid_bytes;
  };
  std::vector<Container> containers;
  Status s = store.Scan(storage::keys::AllContainersPrefix(), "", false, [&](std::string_view, storage::Record&& rec) {
    containers.push_back({rec.parent, rec.id, RidBytes(rec.rid).value_or("")});
    return true;
  });
  if (!s.ok()) return s;
  std::vector<ContainerDigest> out;
  for (const auto& c : containers) {
    ContainerDigest d;
    d.database = c.db;
    d.container = c.id;
    std::array<uint8_t, 32> acc{};
    s = store.Scan(storage::keys::DocumentPrefix(c.rid_bytes), "", false,
                   [&](std::string_view key, storage::Record&& rec) {
                     std::string item(key);
                     item += '\0';
                     item += rec.body;
                     for (const auto& [region, counter] : rec.version) {
                       item += "|" + std::to_string(region) + ":" + std::to_string(counter);
                     }
                     for (const auto& sib : rec.siblings) {
                       item += "|sibling" + std::string(sib.tombstone ? "-deleted " : " ") + sib.etag;
                       for (const auto& [region, counter] : sib.version) {
                         item += "|" + std::to_string(region) + ":" + std::to_string(counter);
                       }
                     }
                     std::string h = Sha256(item);
                     // Sum modulo 2^256, byte-wise with carry: order-independent.
                     unsigned carry = 0;
                     for (int i = 31; i >= 0; --i) {
                       unsigned v = acc[i] + static_cast<uint8_t>(h[i]) + carry;
                       acc[i] = static_cast<uint8_t>(v & 0xff);
                       carry = v >> 8;
                     }
                     d.count++;
                     return true;
                   });
    if (!s.ok()) return s;
    d.hash = HexEncode(std::string(reinterpret_cast<const char*>(acc.data()), acc.size()));
    out.push_back(std::move(d));
  }
  return out;
}

HttpResponse DigestRoute(const AdminContext& admin) {
  json regions = json::array();
  for (const RegionContext* r : admin.regions) {
    if (!r->store) continue;  // killed
    auto digest = ComputeDigest(*r->store);
    if (!digest.ok()) return ErrorResponse(digest.status());
    json containers = json::array();
    for (const auto& d : *digest) {
      containers.push_back({{"database", d.database}, {"container", d.container}, {"count", d.count}, {"hash", d.hash}});
    }
    regions.push_back({{"name", r->self.name}, {"containers", containers}});
  }
  return Json200({{"regions", regions}});
}

}  // namespace regionlab::admin
