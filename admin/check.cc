// POST /check: the history checker. The body is a history of acknowledged
// writes, one JSON object per line (JSONL), as a client recorded them:
//
//   {"database":"db","container":"c","id":"inv-1","partitionKey":"acme","etag":"\"...\"","op":"upsert"}
//
// Every etag regionlab hands out names the write's origin region and its
// sequence number there (MakeEtag), and every stored version carries a
// version vector, so each acknowledged write can be classified in every
// region without a log of its own:
//
//   current     the region holds exactly that version (or it is an open sibling)
//   conflict    a concurrent version won, and the write is in the conflicts feed
//   superseded  a version the region keeps covers it (its vector covers the
//               write's origin and sequence number): the current version, an
//               open sibling, or a loser in the conflicts feed — a later write
//               that saw it; or, in a container whose policy does not record
//               losers, a concurrent winner of last-writer-wins
//   pending     the region has not applied that origin's writes that far yet
//   lost        none of these: an acknowledged write is gone (judged only once
//               every region has applied every other region's writes: until
//               then a conflict record may still be on its way, and a write
//               that looks lost is reported as pending)
//
// and the regions must agree on the current version of every key the history
// touches. The answer says which writes are lost, pending or divergent.
#include "admin/check.h"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <map>
#include <set>

#include "admin/internal.h"
#include "base/encoding.h"
#include "replication/replicator.h"
#include "server/handlers.h"
#include "storage/keys.h"

namespace regionlab::admin {
namespace {

namespace keys = storage::keys;
using storage::Record;

// The (origin region, lsn) an etag made by server::MakeEtag names.
std::optional<std::pair<uint32_t, uint64_t>> DecodeEtag(std::string_view etag) {
  // "\"%08x-0000-0000-%04x-%012llx\""
  if (etag.size() != 38 || etag.front() != '"' || etag.back() != '"') return std::nullopt;
  const std::string body(etag.substr(1, 36));
  if (body[8] != '-' || body[13] != '-' || body[18] != '-' || body[23] != '-') return std::nullopt;
  try {
    uint32_t region = static_cast<uint32_t>(std::stoul(body.substr(0, 8), nullptr, 16));
    uint64_t hi = std::stoull(body.substr(19, 4), nullptr, 16);
    uint64_t lo = std::stoull(body.substr(24, 12), nullptr, 16);
    return std::make_pair(region, (hi << 48) | lo);
  } catch (...) {
    return std::nullopt;
  }
}

uint64_t At(const storage::VersionVector& v, uint32_t region) {
  auto it = v.find(region);
  return it == v.end() ? 0 : it->second;
}

struct Write {
  size_t line = 0;
  std::string database, container, id, pk, etag, op, session;
  uint32_t origin = 0;
  uint64_t lsn = 0;
};

// A read of the history: what its answer's x-regionlab-version said.
struct Read {
  size_t line = 0;
  std::string key, session, etag;
  storage::VersionVector seen;
};

storage::VersionVector ParseVersionHeader(const std::string& text) {
  storage::VersionVector v;
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string part = text.substr(start, comma - start);
    const size_t colon = part.find(':');
    if (colon != std::string::npos) {
      v[static_cast<uint32_t>(std::strtoul(part.c_str(), nullptr, 10))] = std::strtoull(part.c_str() + colon + 1, nullptr, 10);
    }
    start = comma + 1;
  }
  return v;
}

}  // namespace

Result<CheckReport> CheckHistory(const std::vector<server::RegionContext*>& regions, std::string_view history) {
  CheckReport report;
  std::vector<Write> writes;
  std::vector<Read> reads;
  std::vector<std::pair<bool, size_t>> order;  // (is a read, index) in history order
  size_t line_no = 0;
  size_t start = 0;
  while (start < history.size()) {
    size_t end = history.find('\n', start);
    if (end == std::string_view::npos) end = history.size();
    std::string_view line = history.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return Status::BadRequest("history line " + std::to_string(line_no) + " is not a JSON object");
    Write w;
    w.line = line_no;
    w.session = j.value("session", "");
    if (j.value("op", "") == "read") {
      if (!j.contains("database") || !j.contains("container") || !j.contains("id") || !j.contains("partitionKey")) {
        return Status::BadRequest("history line " + std::to_string(line_no) + ": a read needs database, container, id, partitionKey");
      }
      const nlohmann::json& pk = j["partitionKey"];
      Read r;
      r.line = line_no;
      r.key = j["database"].dump() + "/" + j["container"].dump() + "/" +
              (pk.is_array() ? pk.dump() : nlohmann::json::array({pk}).dump()) + "/" + j["id"].dump();
      r.session = w.session;
      r.etag = j.contains("etag") && j["etag"].is_string() ? j["etag"].get<std::string>() : "(not found)";
      r.seen = ParseVersionHeader(j.value("version", ""));
      reads.push_back(std::move(r));
      order.emplace_back(true, reads.size() - 1);
      continue;
    }
    for (auto [field, out] : {std::pair{"database", &w.database}, std::pair{"container", &w.container},
                              std::pair{"id", &w.id}, std::pair{"etag", &w.etag}}) {
      if (!j.contains(field) || !j[field].is_string()) {
        return Status::BadRequest("history line " + std::to_string(line_no) + " needs a string '" + field + "'");
      }
      *out = j[field].get<std::string>();
    }
    w.op = j.value("op", "");
    if (!j.contains("partitionKey")) {
      return Status::BadRequest("history line " + std::to_string(line_no) + " needs 'partitionKey'");
    }
    const nlohmann::json& pk = j["partitionKey"];
    w.pk = pk.is_array() ? pk.dump() : nlohmann::json::array({pk}).dump();
    auto decoded = DecodeEtag(w.etag);
    if (!decoded) {
      return Status::BadRequest("history line " + std::to_string(line_no) + ": '" + w.etag +
                                "' is not an etag regionlab issued");
    }
    w.origin = decoded->first;
    w.lsn = decoded->second;
    writes.push_back(std::move(w));
    order.emplace_back(false, writes.size() - 1);
  }
  report.writes = writes.size();
  report.reads = reads.size();

  // Session guarantees, in history order: a read reflects every earlier write
  // of its session to that document, and everything its session read of it
  // before (the version it answered with, and the siblings it keeps, cover
  // them).
  {
    std::map<std::pair<std::string, std::string>, std::vector<const Write*>> session_writes;  // (session, key)
    std::map<std::pair<std::string, std::string>, const Read*> last_read;
    for (const auto& [is_read, index] : order) {
      if (!is_read) {
        const Write& w = writes[index];
        if (w.session.empty()) continue;
        const std::string key = nlohmann::json(w.database).dump() + "/" + nlohmann::json(w.container).dump() + "/" + w.pk +
                                "/" + nlohmann::json(w.id).dump();
        session_writes[{w.session, key}].push_back(&w);
        continue;
      }
      const Read& r = reads[index];
      if (r.session.empty()) continue;
      for (const Write* w : session_writes[{r.session, r.key}]) {
        if (At(r.seen, w->origin) < w->lsn) {
          report.session_violations.push_back(
              "line " + std::to_string(r.line) + ": read-your-writes: session " + r.session + " wrote " + w->etag +
              " (line " + std::to_string(w->line) + ") and then read " + r.etag + ", which does not reflect it");
        }
      }
      if (const Read* before = last_read[{r.session, r.key}]) {
        for (const auto& [region, counter] : before->seen) {
          if (At(r.seen, region) < counter) {
            report.session_violations.push_back("line " + std::to_string(r.line) + ": monotonic reads: session " +
                                                r.session + " read " + r.etag + " after " + before->etag + " (line " +
                                                std::to_string(before->line) + "), an older state");
            break;
          }
        }
      }
      last_read[{r.session, r.key}] = &r;
    }
  }

  // Per region: the current record of every key, and the conflicts feed text.
  std::map<std::string, std::map<std::string, std::string>> current_etag;  // key -> region -> etag
  for (const server::RegionContext* r : regions) {
    if (!r || !r->store) continue;  // killed: nothing to say about it
    ++report.regions_checked;
    std::map<std::pair<std::string, std::string>, std::string> coll_rids;  // (db, coll) -> rid bytes
    std::map<std::string, std::set<std::string>> conflict_etags;  // coll rid -> etags its conflicts name
    // coll rid -> (document id, pk) -> the vectors of the losers recorded for it
    std::map<std::string, std::map<std::string, std::vector<storage::VersionVector>>> loser_versions;
    for (const Write& w : writes) {
      auto ck = std::make_pair(w.database, w.container);
      if (!coll_rids.count(ck)) {
        auto c = r->store->Get(keys::Container(w.database, w.container));
        if (!c.ok()) return c.status();
        coll_rids[ck] = c->has_value() && !(*c)->tombstone ? server::RidBytes((*c)->rid).value_or("") : "";
      }
      const std::string& rid = coll_rids[ck];
      CheckFinding f{w.line, r->self.name, w.database, w.container, w.id, w.etag, "", ""};
      if (rid.empty()) {
        f.outcome = "lost";
        f.detail = "the container does not exist in this region";
        report.lost.push_back(f);
        continue;
      }
      auto pk = server::CanonicalPartitionKey(w.pk, nlohmann::json::parse(w.pk).size());
      const std::string key = keys::Document(rid, pk.ok() ? *pk : w.pk, w.id);
      auto rec = r->store->Get(key);
      if (!rec.ok()) return rec.status();
      const std::string logical = w.database + "/" + w.container + "/" + w.pk + "/" + w.id;
      if (rec->has_value()) current_etag[logical][r->self.name] = (*rec)->etag;
      bool sibling = false;
      if (rec->has_value()) {
        for (const Record& s : (*rec)->siblings) sibling = sibling || s.etag == w.etag;
      }
      if (rec->has_value() && (*rec)->etag == w.etag) {
        ++report.current;
        continue;
      }
      if (!conflict_etags.count(rid)) {
        std::set<std::string>& etags = conflict_etags[rid];
        Status s = r->store->Scan(keys::ConflictPrefix(rid), "", true, [&](std::string_view, Record&& c) {
          nlohmann::json body = nlohmann::json::parse(c.body, nullptr, /*allow_exceptions=*/false);
          if (!body.is_object() || !body.contains("regionlab")) return true;
          const auto& x = body["regionlab"];
          if (!x.contains("loser") || !x["loser"].is_object()) return true;
          const auto& loser = x["loser"];
          // One write of a batch names several documents with one etag: a
          // loser is the pair (document, etag).
          if (loser.contains("_etag") && loser["_etag"].is_string() && x.contains("documentId")) {
            const std::string e = loser["_etag"].get<std::string>();
            const std::string doc = x["documentId"].dump() + x.value("partitionKey", nlohmann::json()).dump();
            if (!c.tombstone && !etags.insert(doc + e).second) {
              report.duplicate_conflicts.push_back(r->self.name + ": the loser " + e + " of document " +
                                                   x["documentId"].dump() + " is recorded twice");
            }
          }
          if (loser.contains("version") && loser["version"].is_object() && x.contains("documentId")) {
            storage::VersionVector v;
            for (const auto& [region, counter] : loser["version"].items()) {
              if (counter.is_number_unsigned() || counter.is_number_integer()) {
                v[static_cast<uint32_t>(std::strtoul(region.c_str(), nullptr, 10))] = counter.get<uint64_t>();
              }
            }
            loser_versions[rid][x["documentId"].dump() + x.value("partitionKey", nlohmann::json()).dump()].push_back(v);
          }
          return true;
        });
        if (!s.ok()) return s;
      }
      const std::string doc_key = nlohmann::json(w.id).dump() + nlohmann::json::parse(w.pk).dump();
      if (conflict_etags[rid].count(doc_key + w.etag)) {
        ++report.in_conflicts;
        continue;
      }
      if (sibling) {  // an open sibling (Custom without a procedure): still in the record
        ++report.current;
        continue;
      }
      // Superseded: a version the region keeps covers it — the current one, an
      // open sibling, or a loser recorded in the conflicts feed (a later write
      // that saw this one and then lost a conflict).
      bool covered = rec->has_value() && At((*rec)->version, w.origin) >= w.lsn;
      if (rec->has_value()) {
        for (const Record& sib : (*rec)->siblings) covered = covered || At(sib.version, w.origin) >= w.lsn;
      }
      if (auto it = loser_versions[rid].find(doc_key); !covered && it != loser_versions[rid].end()) {
        for (const auto& v : it->second) covered = covered || At(v, w.origin) >= w.lsn;
      }
      if (covered) {
        ++report.superseded;
        continue;
      }
      const uint64_t applied = w.origin == r->self.id ? r->store->own_lsn()
                               : r->replicator           ? r->replicator->Applied(w.origin)
                                                         : 0;
      if (applied < w.lsn && w.origin != r->self.id) {
        f.outcome = "pending";
        f.detail = "this region has applied the origin's writes up to " + std::to_string(applied) + ", not yet " +
                   std::to_string(w.lsn);
        report.pending.push_back(f);
        continue;
      }
      f.outcome = "lost";
      f.detail = applied < w.lsn ? "this region issued no such write (its last is " + std::to_string(applied) + ")"
                 : rec->has_value() ? "the region holds " + (*rec)->etag + ", whose version does not cover this write, "
                                    "and the conflicts feed does not have it"
                                  : "the region has no version of this document at all";
      report.lost.push_back(f);
    }
  }
  // Judge only a settled cluster: until every region has applied every other
  // region's writes, a write that looks lost may be a conflict record still on
  // its way from the region that resolved it.
  std::string unsettled;
  for (const server::RegionContext* r : regions) {
    if (!r || !r->store || !r->replicator) continue;
    for (const server::RegionContext* p : regions) {
      if (!p || p == r || !p->store) continue;
      const uint64_t applied = r->replicator->Applied(p->self.id), issued = p->store->own_lsn();
      if (applied < issued && unsettled.empty()) {
        unsettled = r->self.name + " has applied " + p->self.name + "'s writes up to " + std::to_string(applied) +
                    " of " + std::to_string(issued);
      }
    }
  }
  if (!unsettled.empty()) {
    for (CheckFinding& f : report.lost) {
      f.outcome = "pending";
      f.detail = "replication has not settled (" + unsettled + "); " + f.detail;
      report.pending.push_back(std::move(f));
    }
    report.lost.clear();
  }
  for (const auto& [logical, by_region] : current_etag) {
    std::set<std::string> distinct;
    for (const auto& [region, etag] : by_region) distinct.insert(etag);
    if (distinct.size() > 1 || (by_region.size() < report.regions_checked && !by_region.empty())) {
      report.divergent.push_back(logical);
    }
  }
  return report;
}

HttpResponse CheckRoute(const AdminContext& admin, const HttpRequest& request) {
  auto report = CheckHistory(admin.regions, request.body);
  if (!report.ok()) return ErrorResponse(report.status());
  auto findings = [](const std::vector<CheckFinding>& v) {
    json a = json::array();
    for (const CheckFinding& f : v) {
      a.push_back({{"line", f.line}, {"region", f.region}, {"database", f.database}, {"container", f.container},
                   {"id", f.id}, {"etag", f.etag}, {"outcome", f.outcome}, {"detail", f.detail}});
    }
    return a;
  };
  const CheckReport& r = *report;
  return Json200({{"ok", r.ok()},
                  {"writes", r.writes},
                  {"regions", r.regions_checked},
                  {"current", r.current},
                  {"superseded", r.superseded},
                  {"inConflictsFeed", r.in_conflicts},
                  {"pending", findings(r.pending)},
                  {"lost", findings(r.lost)},
                  {"divergent", r.divergent},
                  {"reads", r.reads},
                  {"sessionViolations", r.session_violations},
                  {"duplicateConflicts", r.duplicate_conflicts}});
}

}  // namespace regionlab::admin
