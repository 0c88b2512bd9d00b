// GET /metrics: Prometheus text of every region served here.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>

#include "admin/internal.h"
#include "replication/replicator.h"
#include "server/throughput.h"

namespace regionlab::admin {

HttpResponse Metrics(AdminContext& admin) {
  std::string m;
  m += "# HELP regionlab_requests_total Data-plane requests by kind.\n# TYPE regionlab_requests_total counter\n";
  for (const RegionContext* r : admin.regions) {
    m += "regionlab_requests_total{region=\"" + r->self.name + "\",kind=\"read\"} " + std::to_string(r->metrics.reads.load()) + "\n";
    m += "regionlab_requests_total{region=\"" + r->self.name + "\",kind=\"write\"} " + std::to_string(r->metrics.writes.load()) + "\n";
    m += "regionlab_requests_total{region=\"" + r->self.name + "\",kind=\"error\"} " + std::to_string(r->metrics.errors.load()) + "\n";
  }
  m += "# HELP regionlab_throttled_requests_total Requests answered 429/3200 by --enforce-throughput.\n"
       "# TYPE regionlab_throttled_requests_total counter\n";
  for (const RegionContext* r : admin.regions) {
    const uint64_t throttled = r->throughput ? r->throughput->throttled() : 0;
    m += "regionlab_throttled_requests_total{region=\"" + r->self.name + "\"} " + std::to_string(throttled) + "\n";
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
  m += "# HELP regionlab_dataplane_rule_matched_total Requests that matched a data-plane fault rule.\n"
       "# TYPE regionlab_dataplane_rule_matched_total counter\n";
  std::string injected =
      "# HELP regionlab_dataplane_rule_injected_total Requests a data-plane fault rule acted on.\n"
      "# TYPE regionlab_dataplane_rule_injected_total counter\n";
  for (const RegionContext* r : admin.regions) {
    const auto stats = r->dataplane.Stats();
    for (size_t i = 0; i < stats.size(); ++i) {
      const std::string labels = "{region=\"" + r->self.name + "\",rule=\"" + std::to_string(i) + "\"} ";
      m += "regionlab_dataplane_rule_matched_total" + labels + std::to_string(stats[i].matched) + "\n";
      injected += "regionlab_dataplane_rule_injected_total" + labels + std::to_string(stats[i].injected) + "\n";
    }
  }
  m += injected;
  UpdateSplitBrainCounter(admin);  // under AdminContext::mu
  m += "# HELP regionlab_splitbrain_writes_total Writes to a document another region also wrote within 1 s.\n"
       "# TYPE regionlab_splitbrain_writes_total counter\n";
  for (const auto& [name, n] : admin.splitbrain.writes) {
    m += "regionlab_splitbrain_writes_total{database=\"" + name.first + "\",container=\"" + name.second + "\"} " +
         std::to_string(n) + "\n";
  }
  m += "# HELP regionlab_region_up 1 while the region runs, 0 while it is killed.\n# TYPE regionlab_region_up gauge\n";
  for (const RegionContext* r : admin.regions) {
    m += "regionlab_region_up{region=\"" + r->self.name + "\"} " + (Running(admin, r->self.id) ? "1" : "0") + "\n";
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
      std::string to = RegionName(admin, peer);
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
  // The link shapers (frames from `from` to `to`, both connections) and the
  // faults in force.
  struct Family {
    const char* name;
    const char* type;
    const char* help;
    std::string text;
  };
  Family fam[] = {
      {"regionlab_link_frames_total", "counter", "Replication frames handed to a link (before faults).", ""},
      {"regionlab_link_frames_sent_total", "counter", "Frame copies released to the connection after faults.", ""},
      {"regionlab_link_frames_dropped_total", "counter", "Frames lost by drop or partition faults.", ""},
      {"regionlab_link_frames_duplicated_total", "counter", "Frames sent twice by the duplicate fault.", ""},
      {"regionlab_link_frames_reordered_total", "counter", "Frame copies held back out of order.", ""},
      {"regionlab_link_frames_delayed_total", "counter", "Frame copies held before sending (delay, jitter, bandwidth).", ""},
      {"regionlab_link_frames_queued", "gauge", "Frame copies held by the link shaper now.", ""},
      {"regionlab_link_retransmits_total", "counter", "Resends by the replicator on a link.", ""},
      {"regionlab_link_fault_delay_seconds", "gauge", "Delay fault in force on a link.", ""},
      {"regionlab_link_fault_jitter_seconds", "gauge", "Jitter fault in force on a link.", ""},
      {"regionlab_link_fault_drop_ratio", "gauge", "Drop rate in force on a link.", ""},
      {"regionlab_link_fault_duplicate_ratio", "gauge", "Duplicate rate in force on a link.", ""},
      {"regionlab_link_fault_reorder_ratio", "gauge", "Reorder rate in force on a link.", ""},
      {"regionlab_link_fault_bandwidth_bytes_per_second", "gauge", "Bandwidth limit in force on a link (0: none).", ""},
      {"regionlab_link_partitioned", "gauge", "1 while a link is partitioned.", ""},
  };
  const auto& all = AccountRegions(admin);
  for (const RegionContext* from : admin.regions) {
    for (const auto& to : all) {
      if (to.id == from->self.id) continue;
      std::string lbl = "{from=\"" + from->self.name + "\",to=\"" + to.name + "\"}";
      replication::LinkShaperStats sh;
      if (admin.control && Running(admin, from->self.id)) sh = admin.control->LinkStats(from->self.id, to.id);
      uint64_t retransmits = from->replicator ? from->replicator->Outbound(to.id).retransmits : 0;
      LinkFaults f = Effective(admin.faults, {from->self.id, to.id});
      char buf[64];
      auto num = [&](double v) {
        std::snprintf(buf, sizeof buf, "%g", v);
        return std::string(buf);
      };
      const std::string values[] = {std::to_string(sh.frames),        std::to_string(sh.written),
                                    std::to_string(sh.dropped),       std::to_string(sh.duplicated),
                                    std::to_string(sh.reordered),     std::to_string(sh.delayed),
                                    std::to_string(sh.queued),        std::to_string(retransmits),
                                    num(f.delay_ms / 1000.0),         num(f.jitter_ms / 1000.0),
                                    num(f.drop_rate),                 num(f.duplicate_rate),
                                    num(f.reorder_rate),              std::to_string(f.bandwidth_kbps * 1024),
                                    f.partitioned ? "1" : "0"};
      for (size_t i = 0; i < std::size(fam); ++i) fam[i].text += std::string(fam[i].name) + lbl + " " + values[i] + "\n";
    }
  }
  std::string links;
  for (const Family& f : fam) {
    links += std::string("# HELP ") + f.name + " " + f.help + "\n# TYPE " + f.name + " " + f.type + "\n" + f.text;
  }
  HttpResponse r;
  r.body = m + sent + retrans + conflicts + apply_lag + links;
  r.content_type = "text/plain; version=0.0.4";
  return r;
}

}  // namespace regionlab::admin
