// GET /links and GET /links/{from}/{to}: every directed replication link
// with its faults, connection, log positions, queue and lag.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>

#include "admin/internal.h"
#include "replication/replicator.h"

namespace regionlab::admin {

json LinkStatsJson(const AdminContext& admin, const RegionContext& from, uint32_t peer) {
  const std::string to_name = RegionName(admin, peer);
  json link = {{"from", from.self.name}, {"to", to_name}};
  const bool running = Running(admin, from.self.id);
  if (!running) {
    link["connected"] = false;
    link["fromState"] = "killed";
  } else if (from.replicator) {
    auto out = from.replicator->Outbound(peer);
    link.update({{"connected", out.connected},
                 {"ownLsn", out.own_lsn},
                 {"sentLsn", out.sent},
                 {"ackedLsn", out.acked},
                 {"queue", out.own_lsn - std::min(out.own_lsn, out.acked)},
                 {"framesSent", out.frames_sent},
                 {"entriesSent", out.entries_sent},
                 {"retransmitted", out.retransmits},
                 {"snapshots", out.snapshots},
                 {"lagMs", out.lag_micros / 1000.0}});
  }
  link["faults"] = FaultsJson(Effective(admin.faults, {from.self.id, peer}));
  replication::LinkShaperStats sh;
  if (admin.control && running) sh = admin.control->LinkStats(from.self.id, peer);
  link.update({{"framesShaped", sh.frames},
               {"framesWritten", sh.written},
               {"framesDropped", sh.dropped},
               {"framesDuplicated", sh.duplicated},
               {"framesReordered", sh.reordered},
               {"framesDelayed", sh.delayed},
               {"framesQueued", sh.queued}});
  const RegionContext* to = Local(admin, peer);
  if (to && !Running(admin, peer)) {
    link["toState"] = "killed";
  } else if (to && to->replicator) {
    auto in = to->replicator->Inbound(from.self.id);
    link["appliedLsn"] = in.applied;
    link["entriesApplied"] = in.entries_applied;
    link["duplicatesSkipped"] = in.duplicates;
    link["gaps"] = in.gaps;
    link["conflicts"] = in.conflicts;
    link["lastApplyLagMs"] = in.last_lag_micros / 1000.0;
    link["applyLagMs"] = {{"p50", in.LagQuantileMicros(0.5) / 1000.0},
                          {"p99", in.LagQuantileMicros(0.99) / 1000.0},
                          {"max", in.max_lag_micros / 1000.0}};
  }
  return link;
}

HttpResponse Links(const AdminContext& admin) {
  json links = json::array();
  const auto& all = AccountRegions(admin);
  for (const RegionContext* from : admin.regions) {
    for (const auto& to : all) {
      if (to.id == from->self.id) continue;
      links.push_back(LinkStatsJson(admin, *from, to.id));
    }
  }
  // Links from regions served by other processes into ours: only the
  // receiving side is known here.
  for (const RegionContext* to : admin.regions) {
    if (!to->replicator) continue;
    for (uint32_t peer : to->replicator->peers()) {
      if (Local(admin, peer)) continue;
      auto in = to->replicator->Inbound(peer);
      links.push_back({{"from", RegionName(admin, peer)},
                       {"to", to->self.name},
                       {"connected", in.connected},
                       {"appliedLsn", in.applied},
                       {"entriesApplied", in.entries_applied},
                       {"duplicatesSkipped", in.duplicates},
                       {"gaps", in.gaps},
                       {"conflicts", in.conflicts},
                       {"lastApplyLagMs", in.last_lag_micros / 1000.0},
                       {"applyLagMs", {{"p50", in.LagQuantileMicros(0.5) / 1000.0},
                                       {"p99", in.LagQuantileMicros(0.99) / 1000.0},
                                       {"max", in.max_lag_micros / 1000.0}}}});
    }
  }
  return Json200({{"links", links}});
}

}  // namespace regionlab::admin
