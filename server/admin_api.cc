#include "server/admin_api.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "replication/replicator.h"
#include "server/digest.h"
#include "server/errors.h"

namespace regionlab::server {
namespace {

using nlohmann::json;

const char* StateName(RegionState s) {
  switch (s) {
    case RegionState::kOnline: return "online";
    case RegionState::kOffline503: return "offline-503";
    case RegionState::kOffline403: return "offline-403";
  }
  return "unknown";
}

HttpResponse Json200(const json& j) {
  HttpResponse r;
  r.body = j.dump();
  return r;
}

}  // namespace

HttpResponse HandleAdmin(AdminContext& admin, HttpRequest& request) {
  try {
    std::string path = request.path;
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    if (path == "/health" && request.method == "GET") {
      return Json200({{"status", "ok"}});
    }
    if (path == "/regions" && request.method == "GET") {
      json regions = json::array();
      for (const RegionContext* r : admin.regions) {
        int64_t skew = r->clock_control ? r->clock_control->skew_ms() : 0;
        regions.push_back({{"name", r->self.name},
                           {"displayName", r->self.display_name},
                           {"endpoint", r->self.endpoint},
                           {"state", StateName(r->state.load())},
                           {"clockSkewMs", skew}});
      }
      return Json200({{"seed", admin.seed}, {"regions", regions}});
    }
    if (path.rfind("/regions/", 0) == 0 && request.method == "POST") {
      // /regions/{r}/offline | online | clock
      std::string rest = path.substr(9);
      auto slash = rest.find('/');
      if (slash == std::string::npos) {
        return ErrorResponse(Status::NotFound("use POST /regions/{region}/offline, /online or /clock"));
      }
      std::string name = rest.substr(0, slash), action = rest.substr(slash + 1);
      RegionContext* region = nullptr;
      for (RegionContext* r : admin.regions) {
        if (r->self.name == name) region = r;
      }
      if (!region) return ErrorResponse(Status::BadRequest("unknown region '" + name + "'"));
      json body = json::object();
      if (!request.body.empty()) {
        body = json::parse(request.body, nullptr, false);
        if (body.is_discarded() || !body.is_object()) {
          return ErrorResponse(Status::BadRequest("the body must be a JSON object"));
        }
      }
      if (action == "offline") {
        std::string mode = body.contains("mode") ? (body["mode"].is_string() ? body["mode"].get<std::string>()
                                                                             : body["mode"].dump())
                                                 : "503";
        if (mode != "503" && mode != "403") {
          return ErrorResponse(Status::BadRequest("mode must be \"503\" or \"403\", not " + mode));
        }
        region->state = mode == "503" ? RegionState::kOffline503 : RegionState::kOffline403;
        spdlog::info("fault: region {} offline ({})", name, mode);
      } else if (action == "online") {
        region->state = RegionState::kOnline;
        spdlog::info("fault: region {} online", name);
      } else if (action == "clock") {
        if (!body.contains("skewMs") || !body["skewMs"].is_number_integer()) {
          return ErrorResponse(Status::BadRequest("clock needs an integer \"skewMs\""));
        }
        int64_t skew = body["skewMs"].get<int64_t>();
        if (skew < -86'400'000 || skew > 86'400'000) {
          return ErrorResponse(Status::BadRequest("skewMs must be within one day"));
        }
        if (!region->clock_control) return ErrorResponse(Status::BadRequest("this region's clock cannot be skewed"));
        region->clock_control->set_skew_ms(skew);
        spdlog::info("fault: region {} clock skew {} ms", name, skew);
      } else {
        return ErrorResponse(Status::NotFound("unknown region action '" + action + "'"));
      }
      return Json200({{"name", name},
                      {"state", StateName(region->state.load())},
                      {"clockSkewMs", region->clock_control ? region->clock_control->skew_ms() : 0}});
    }
    if (path == "/links" && request.method == "GET") {
      json links = json::array();
      for (const RegionContext* from : admin.regions) {
        if (!from->replicator) continue;
        for (uint32_t peer : from->replicator->peers()) {
          auto out = from->replicator->Outbound(peer);
          json link = {{"from", from->self.name},
                       {"to", from->account_regions[peer].name},
                       {"connected", out.connected},
                       {"ownLsn", out.own_lsn},
                       {"sentLsn", out.sent},
                       {"ackedLsn", out.acked},
                       {"queue", out.own_lsn - std::min(out.own_lsn, out.acked)},
                       {"framesSent", out.frames_sent},
                       {"entriesSent", out.entries_sent},
                       {"retransmitted", out.retransmits},
                       {"snapshots", out.snapshots},
                       {"lagMs", out.lag_micros / 1000.0}};
          for (const RegionContext* to : admin.regions) {
            if (to->self.id != peer || !to->replicator) continue;
            auto in = to->replicator->Inbound(from->self.id);
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
          links.push_back(link);
        }
      }
      // Links from regions served by other processes into ours: only the
      // receiving side is known here.
      for (const RegionContext* to : admin.regions) {
        if (!to->replicator) continue;
        for (uint32_t peer : to->replicator->peers()) {
          bool local = false;
          for (const RegionContext* r : admin.regions) local |= r->self.id == peer;
          if (local) continue;
          auto in = to->replicator->Inbound(peer);
          links.push_back({{"from", to->account_regions[peer].name},
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
    if (path == "/digest" && request.method == "GET") {
      json regions = json::array();
      for (const RegionContext* r : admin.regions) {
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
    if (path == "/metrics" && request.method == "GET") {
      std::string m;
      m += "# HELP regionlab_requests_total Data-plane requests by kind.\n# TYPE regionlab_requests_total counter\n";
      for (const RegionContext* r : admin.regions) {
        m += "regionlab_requests_total{region=\"" + r->self.name + "\",kind=\"read\"} " + std::to_string(r->metrics.reads.load()) + "\n";
        m += "regionlab_requests_total{region=\"" + r->self.name + "\",kind=\"write\"} " + std::to_string(r->metrics.writes.load()) + "\n";
        m += "regionlab_requests_total{region=\"" + r->self.name + "\",kind=\"error\"} " + std::to_string(r->metrics.errors.load()) + "\n";
      }
      m += "# HELP regionlab_request_duration_seconds Data-plane request latency.\n# TYPE regionlab_request_duration_seconds histogram\n";
      for (const RegionContext* r : admin.regions) {
        uint64_t cumulative = 0;
        for (int i = 0; i < RegionMetrics::kBuckets; ++i) {
          cumulative += r->metrics.latency_buckets[i].load();
          std::string le = i == RegionMetrics::kBuckets - 1 ? "+Inf" : std::to_string(RegionMetrics::kBoundsMicros[i] / 1e6);
          m += "regionlab_request_duration_seconds_bucket{region=\"" + r->self.name + "\",le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
        }
        m += "regionlab_request_duration_seconds_sum{region=\"" + r->self.name + "\"} " + std::to_string(r->metrics.latency_sum_micros.load() / 1e6) + "\n";
        m += "regionlab_request_duration_seconds_count{region=\"" + r->self.name + "\"} " + std::to_string(cumulative) + "\n";
      }
      m += "# HELP regionlab_replication_lag_seconds Age of the oldest write not yet acknowledged on a link.\n# TYPE regionlab_replication_lag_seconds gauge\n";
      std::string sent = "# HELP regionlab_replication_entries_sent_total Log entries shipped on a link.\n# TYPE regionlab_replication_entries_sent_total counter\n";
      std::string retrans = "# HELP regionlab_replication_retransmits_total Resends on a link.\n# TYPE regionlab_replication_retransmits_total counter\n";
      std::string apply_lag = "# HELP regionlab_replication_apply_lag_seconds Origin commit to applied here, per entry.\n# TYPE regionlab_replication_apply_lag_seconds histogram\n";
      std::string conflicts = "# HELP regionlab_conflicts_total Concurrent versions met when applying a link's writes.\n# TYPE regionlab_conflicts_total counter\n";
      for (const RegionContext* r : admin.regions) {
        if (!r->replicator) continue;
        for (uint32_t peer : r->replicator->peers()) {
          auto out = r->replicator->Outbound(peer);
          auto in = r->replicator->Inbound(peer);
          std::string to = r->account_regions[peer].name;
          std::string lbl = "{from=\"" + r->self.name + "\",to=\"" + to + "\"}";
          std::string in_lbl = "{from=\"" + to + "\",to=\"" + r->self.name + "\"}";
          m += "regionlab_replication_lag_seconds" + lbl + " " + std::to_string(out.lag_micros / 1e6) + "\n";
          sent += "regionlab_replication_entries_sent_total" + lbl + " " + std::to_string(out.entries_sent) + "\n";
          retrans += "regionlab_replication_retransmits_total" + lbl + " " + std::to_string(out.retransmits) + "\n";
          conflicts += "regionlab_conflicts_total" + in_lbl + " " + std::to_string(in.conflicts) + "\n";
          uint64_t cumulative = 0;
          for (int i = 0; i < replication::kLagBuckets; ++i) {
            cumulative += in.lag_buckets[i];
            std::string le = i == replication::kLagBuckets - 1 ? "+Inf" : std::to_string(replication::kLagBoundsMicros[i] / 1e6);
            apply_lag += "regionlab_replication_apply_lag_seconds_bucket{from=\"" + to + "\",to=\"" + r->self.name +
                         "\",le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
          }
          apply_lag += "regionlab_replication_apply_lag_seconds_count" + in_lbl + " " + std::to_string(cumulative) + "\n";
        }
      }
      HttpResponse r;
      r.body = m + sent + retrans + conflicts + apply_lag;
      r.content_type = "text/plain; version=0.0.4";
      return r;
    }
    return ErrorResponse(Status::NotFound("no management route for " + request.method + " " + request.path));
  } catch (const std::exception& e) {
    spdlog::error("admin {} {} failed: {}", request.method, request.target, e.what());
    return ErrorResponse(Status::Internal(e.what()));
  }
}

}  // namespace regionlab::server
