#include "admin/splitbrain.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <tuple>

#include "admin/internal.h"
#include "base/encoding.h"
#include "replication/version_vector.h"
#include "server/handlers.h"
#include "storage/keys.h"

namespace regionlab::admin {
namespace {

using storage::Record;
using storage::RecordKind;

struct ContainerName {
  std::string database, container;
};

// Container rid bytes -> names, from the first store that knows them.
std::map<std::string, ContainerName> Containers(const std::vector<const storage::Store*>& stores) {
  std::map<std::string, ContainerName> out;
  for (const storage::Store* store : stores) {
    (void)store->Scan(storage::keys::AllContainersPrefix(), "", false, [&](std::string_view, Record&& rec) {
      if (auto rid = server::RidBytes(rec.rid)) out.emplace(*rid, ContainerName{rec.parent, rec.id});
      return true;
    });
  }
  return out;
}

struct DocKey {
  std::string parent, partition_key, id;
  auto operator<=>(const DocKey&) const = default;
};

// The versions a stored record holds: itself, or its siblings when it is a
// merge (a conflict left open, or resolved by a procedure).
void Versions(const Record& rec, std::vector<const Record*>* out) {
  if (!rec.siblings.empty()) {
    for (const Record& s : rec.siblings) Versions(s, out);
    if (!rec.merged) out->push_back(&rec);
    return;
  }
  out->push_back(&rec);
}

// Calls fn(document key, stored record, version) for every version of every
// document written by the log entries from `*lsn` on (at most `max_entries`
// of them), and moves `*lsn` past what it read.
template <class Fn>
Status ForEachDocumentVersion(const storage::Store& store, uint64_t* lsn, size_t max_entries, Fn&& fn) {
  auto first = store.FirstRetainedLsn();
  if (!first.ok()) return first.status();
  *lsn = std::max(*lsn, *first);
  for (size_t read = 0; read < max_entries;) {
    auto entries = store.ReadLog(*lsn, 1024);
    if (!entries.ok()) return entries.status();
    if (entries->empty()) break;
    for (const storage::LogEntry& e : *entries) {
      *lsn = e.lsn + 1;
      ++read;
      if (e.origin_region == storage::kExpiryOrigin) continue;  // a time-to-live purge, not a write
      for (const auto& [key, rec] : e.records) {
        if (rec.kind != RecordKind::kDocument) continue;
        std::vector<const Record*> versions;
        Versions(rec, &versions);
        for (const Record* v : versions) fn(key, rec, *v);
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<SplitBrainDocument>> FindSplitBrain(const std::vector<const storage::Store*>& stores,
                                                       const SplitBrainOptions& options) {
  const auto containers = Containers(stores);
  // Every version of every document, once: (origin region, origin lsn).
  std::map<DocKey, std::map<std::pair<uint32_t, uint64_t>, SplitBrainWrite>> docs;
  for (const storage::Store* store : stores) {
    uint64_t lsn = 0;
    Status st = ForEachDocumentVersion(*store, &lsn, SIZE_MAX, [&](const std::string&, const Record& rec, const Record& v) {
      const int64_t ms = v.write_micros / 1000;
      if (ms < options.since_ms) return;
      SplitBrainWrite w;
      w.region = v.origin_region;
      w.time_ms = ms;
      w.etag = v.etag;
      w.version = v.version;
      w.tombstone = v.tombstone;
      docs[DocKey{rec.parent, rec.partition_key, rec.id}].emplace(std::make_pair(v.origin_region, v.origin_lsn),
                                                                  std::move(w));
    });
    if (!st.ok()) return st;
  }

  std::vector<SplitBrainDocument> out;
  for (auto& [key, versions] : docs) {
    auto cname = containers.find(key.parent);
    const ContainerName name = cname == containers.end() ? ContainerName{"?", "?"} : cname->second;
    if (!options.database.empty() && name.database != options.database) continue;
    if (!options.container.empty() && name.container != options.container) continue;
    std::vector<SplitBrainWrite> writes;
    for (auto& [id, w] : versions) writes.push_back(std::move(w));
    std::sort(writes.begin(), writes.end(), [](const SplitBrainWrite& a, const SplitBrainWrite& b) {
      return std::tie(a.time_ms, a.region) < std::tie(b.time_ms, b.region);
    });
    std::vector<bool> in(writes.size(), false);
    for (size_t i = 0; i < writes.size(); ++i) {
      for (size_t j = i + 1; j < writes.size() && writes[j].time_ms - writes[i].time_ms <= options.window_ms; ++j) {
        if (writes[i].region == writes[j].region) continue;
        in[i] = in[j] = true;
        if (replication::Compare(writes[i].version, writes[j].version) == replication::Order::kConcurrent) {
          writes[i].concurrent = writes[j].concurrent = true;
        }
      }
    }
    SplitBrainDocument doc{name.database, name.container, key.id, key.partition_key, {}};
    for (size_t i = 0; i < writes.size(); ++i) {
      if (in[i]) doc.writes.push_back(std::move(writes[i]));
    }
    if (!doc.writes.empty()) out.push_back(std::move(doc));
  }
  return out;
}

void UpdateSplitBrainCounter(AdminContext& admin) {
  constexpr int64_t kWindowMs = 1000;
  constexpr size_t kRecentPerDocument = 8;
  SplitBrainCounter& c = admin.splitbrain;
  // One running store's log holds every region's writes once replicated.
  const storage::Store* store = nullptr;
  for (const RegionContext* r : admin.regions) {
    if (r->store) {
      store = r->store;
      break;
    }
  }
  if (!store) return;
  std::map<std::string, ContainerName> containers;  // read when a document needs it
  bool have_containers = false;
  int64_t newest_ms = 0;
  uint64_t& lsn = c.cursor[store];
  Status st = ForEachDocumentVersion(*store, &lsn, 64 * 1024, [&](const std::string& key, const Record& rec,
                                                                  const Record& v) {  // at most 64k entries per scrape
    std::vector<SplitBrainCounter::RecentWrite>& recent = c.recent[key];
    SplitBrainCounter::RecentWrite w{v.origin_region, v.write_micros / 1000, v.origin_lsn, false};
    for (const auto& r : recent) {
      if (r.region == w.region && r.origin_lsn == w.origin_lsn) return;  // seen
    }
    uint64_t newly = 0;
    for (auto& r : recent) {
      if (r.region == w.region || std::abs(r.time_ms - w.time_ms) > kWindowMs) continue;
      if (!r.counted) {
        r.counted = true;
        ++newly;
      }
      if (!w.counted) {
        w.counted = true;
        ++newly;
      }
    }
    if (newly) {
      if (!have_containers) {
        containers = Containers({store});
        have_containers = true;
      }
      auto it = containers.find(rec.parent);
      const ContainerName n = it == containers.end() ? ContainerName{"?", "?"} : it->second;
      c.writes[{n.database, n.container}] += newly;
    }
    recent.push_back(w);
    if (recent.size() > kRecentPerDocument) recent.erase(recent.begin());
    newest_ms = std::max(newest_ms, w.time_ms);
  });
  (void)st;  // a failed read leaves the cursor where it got to; the next scrape retries
  // Bounded memory: past 100,000 documents, forget those not written for a
  // minute (a later write to one of them is compared with nothing).
  if (c.recent.size() > 100'000) {
    std::erase_if(c.recent, [&](const auto& kv) {
      return kv.second.empty() || kv.second.back().time_ms < newest_ms - 60'000;
    });
  }
}

HttpResponse SplitBrainRoute(const AdminContext& admin, const std::string& query) {
  SplitBrainOptions o;
  for (const std::string& kv : SplitList(query, '&')) {
    const size_t eq = kv.find('=');
    const std::string k = kv.substr(0, eq), v = eq == std::string::npos ? "" : PercentDecode(kv.substr(eq + 1));
    auto number = [&](int64_t* out, int64_t lo) -> Status {
      char* end = nullptr;
      const long long n = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < lo) return Bad(k + " must be an integer >= " + std::to_string(lo));
      *out = n;
      return Status::Ok();
    };
    Status s;
    if (k == "windowMs") {
      s = number(&o.window_ms, 0);
    } else if (k == "sinceMs") {
      s = number(&o.since_ms, 0);
    } else if (k == "database") {
      o.database = v;
    } else if (k == "container") {
      o.container = v;
    } else if (!k.empty()) {
      s = Bad("unknown parameter '" + k + "' (windowMs, sinceMs, database, container)");
    }
    if (!s.ok()) return ErrorResponse(s);
  }
  std::vector<const storage::Store*> stores;
  for (const RegionContext* r : admin.regions) {
    if (r->store) stores.push_back(r->store);
  }
  auto docs = FindSplitBrain(stores, o);
  if (!docs.ok()) return ErrorResponse(docs.status());
  json list = json::array();
  for (const SplitBrainDocument& d : *docs) {
    json writes = json::array();
    for (const SplitBrainWrite& w : d.writes) {
      json vv = json::object();
      for (const auto& [region, counter] : w.version) vv[RegionName(admin, region)] = counter;
      writes.push_back({{"region", RegionName(admin, w.region)},
                        {"timeMs", w.time_ms},
                        {"_etag", w.etag},
                        {"version", vv},
                        {"delete", w.tombstone},
                        {"concurrent", w.concurrent}});
    }
    json pk = json::parse(d.partition_key, nullptr, false);
    list.push_back({{"database", d.database},
                    {"container", d.container},
                    {"id", d.id},
                    {"partitionKey", pk.is_array() && pk.size() == 1 ? pk[0] : pk},
                    {"writes", writes}});
  }
  return Json200({{"windowMs", o.window_ms}, {"documents", list}});
}

}  // namespace regionlab::admin
