// query_bench: the query engine over an in-memory Store, in-process.
//
//   query_bench [--docs N] [--partitions P] [--runs R] [--only CASE]
//
// Loads N documents of about 1 KB (default 100,000) spread over P partition
// keys (default 100), then times, on one thread:
//   scan        the storage scan alone (the floor for any query)
//   filter      SELECT * FROM c WHERE <filter>                  (all pages)
//   order-x     SELECT * FROM c WHERE <filter> ORDER BY c.score DESC   (first page of 100)
//   order-pk    the same with AND c.pk = 'p7': the planner narrows the scan to one partition
//   count       SELECT VALUE COUNT(1) FROM c WHERE <filter>
// and prints documents scanned per second for each (best of R runs).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "base/clock.h"
#include "query/query.h"
#include "query/store_row_source.h"
#include "storage/keys.h"
#include "storage/store.h"

namespace regionlab {
namespace {

namespace keys = storage::keys;

std::string MakeDocument(int i, const std::string& pk, std::string* out_id) {
  char id[32];
  std::snprintf(id, sizeof(id), "doc-%07d", i);
  *out_id = id;
  unsigned h = static_cast<unsigned>(i) * 2654435761u;
  std::string d = "{\"id\":\"";
  d += id;
  d += "\",\"pk\":\"" + pk + "\"";
  d += ",\"n\":" + std::to_string(i % 1000);
  d += ",\"status\":\"" + std::string((h >> 3) % 3 == 0 ? "closed" : "open") + "\"";
  d += ",\"score\":" + std::to_string((h % 100000) / 100.0);
  d += ",\"name\":\"customer " + std::to_string(h % 7919) + "\"";
  d += ",\"email\":\"user" + std::to_string(i) + "@example.com\"";
  d += ",\"active\":" + std::string(h % 2 ? "true" : "false");
  d += ",\"tags\":[\"alpha\",\"beta\",\"t" + std::to_string(h % 50) + "\"]";
  d += ",\"address\":{\"street\":\"" + std::to_string(h % 999) +
       " Long Street\",\"city\":\"Leeds\",\"postcode\":\"LS1 4AP\",\"country\":\"UK\"}";
  d += ",\"orders\":[";
  for (int k = 0; k < 4; ++k) {
    if (k) d += ',';
    d += "{\"sku\":\"SKU-" + std::to_string((h >> k) % 10000) +
         "\",\"qty\":" + std::to_string(k + 1) +
         ",\"price\":" + std::to_string(((h >> (2 * k)) % 10000) / 100.0) + "}";
  }
  d += "]";
  d += ",\"notes\":\"";
  while (d.size() < 860) d += "lorem ipsum dolor sit amet ";
  d += "\"";
  // System properties, as the server stores them.
  d += ",\"_rid\":\"AAAAAAAAAAAAAAAAAAAAAA==\",\"_self\":\"dbs/AAAAAA==/colls/AAAAAAAAAAA=/docs/"
       "AAAAAAAAAAAAAAAAAAAAAA==/\"";
  d += ",\"_etag\":\"\\\"0-" + std::to_string(i) +
       "\\\"\",\"_attachments\":\"attachments/\",\"_ts\":1700000000}";
  return d;
}

// CPU time of this thread: robust against other processes sharing the cores.
double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Timing {
  double best_seconds = 1e9;  // wall
  double best_cpu = 1e9;      // thread CPU
  uint64_t scanned = 0;
  size_t returned = 0;
};

int Run(int argc, char** argv) {
  int docs = 100000, partitions = 100, runs = 5;
  std::string only;  // run just this case (for profiling)
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--only")) only = argv[i + 1];
    if (!std::strcmp(argv[i], "--docs")) docs = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--partitions")) partitions = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
  }
  storage::StoreOptions options;
  options.in_memory = true;
  options.region_id = 0;
  auto store = storage::Store::Open(options, SystemClock::Instance());
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }
  const std::string coll_rid("\x01\x02\x03\x04\x05\x06\x07\x08", 8);
  size_t total_bytes = 0;
  int64_t t0 = MonotonicMicros();
  for (int base = 0; base < docs; base += 1000) {
    auto commit = (*store)->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
      storage::WriteSet set;
      for (int i = base; i < std::min(docs, base + 1000); ++i) {
        std::string pk_value = "p" + std::to_string(i % partitions);
        std::string pk = "[\"" + pk_value + "\"]";
        storage::Record r;
        r.kind = storage::RecordKind::kDocument;
        r.body = MakeDocument(i, pk_value, &r.id);
        r.partition_key = pk;
        r.rid = "AAAAAAAAAAAAAAAAAAAAAA==";
        r.etag = "\"0-" + std::to_string(i) + "\"";
        r.ts = w.now_micros / 1000000;
        r.version[0] = w.lsn;
        r.origin_lsn = w.lsn;
        r.write_micros = w.now_micros;
        r.parent = coll_rid;
        total_bytes += r.body.size();
        set.puts.emplace_back(keys::Document(coll_rid, pk, r.id), std::move(r));
      }
      return set;
    });
    if (!commit.ok()) {
      std::fprintf(stderr, "write: %s\n", commit.status().ToString().c_str());
      return 1;
    }
  }
  std::printf("loaded %d documents (%.0f bytes on average) over %d partition keys in %.1f s\n",
              docs, static_cast<double>(total_bytes) / docs, partitions,
              (MonotonicMicros() - t0) / 1e6);

  query::StoreRowSource all(**store, keys::DocumentPrefix(coll_rid));

  // The storage scan alone.
  Timing scan;
  for (int r = 0; r < runs; ++r) {
    uint64_t n = 0;
    double cpu = ThreadCpuSeconds();
    int64_t s = MonotonicMicros();
    Status st = all.Scan("", [&](std::string_view, std::string&&) {
      ++n;
      return true;
    });
    double secs = (MonotonicMicros() - s) / 1e6;
    scan.best_cpu = std::min(scan.best_cpu, ThreadCpuSeconds() - cpu);
    if (!st.ok()) return 1;
    scan.best_seconds = std::min(scan.best_seconds, secs);
    scan.scanned = n;
  }

  const std::string filter = "c.status = 'open' AND c.n >= 100 AND c.address.city = 'Leeds'";
  struct Case {
    const char* name;
    std::string text;
    bool all_pages;
  };
  std::vector<Case> cases = {
      {"filter", "SELECT * FROM c WHERE " + filter, true},
      {"order-x", "SELECT * FROM c WHERE " + filter + " ORDER BY c.score DESC", false},
      {"order-pk", "SELECT * FROM c WHERE " + filter + " AND c.pk = 'p7' ORDER BY c.score DESC",
       false},
      {"count", "SELECT VALUE COUNT(1) FROM c WHERE " + filter, false},
  };
  // The same documents held in memory: the engine's own cost, without storage.
  query::VectorRowSource memory;
  Status copied = all.Scan("", [&](std::string_view key, std::string&& json) {
    memory.Add(std::string(key), std::move(json));
    return true;
  });
  if (!copied.ok()) return 1;

  std::printf("%-14s %9s %9s %9s %9s %15s %15s\n", "case", "scanned", "returned", "wall ms",
              "cpu ms", "scanned/s wall", "scanned/s cpu");
  std::printf("%-14s %9llu %9s %9.1f %9.1f %15.0f %15.0f\n", "scan",
              static_cast<unsigned long long>(scan.scanned), "-", scan.best_seconds * 1e3,
              scan.best_cpu * 1e3, scan.scanned / scan.best_seconds, scan.scanned / scan.best_cpu);
  for (const Case& c : cases) {
    if (!only.empty() && only != c.name) continue;
    auto prepared = query::PreparedQuery::Prepare({c.text, {}});
    if (!prepared.ok()) {
      std::fprintf(stderr, "%s: %s\n", c.name, prepared.status().ToString().c_str());
      return 1;
    }
    std::string prefix = keys::DocumentPrefix(coll_rid);
    if (auto pk = prepared->PartitionKeyEquality({"/pk"})) {
      prefix = keys::PartitionPrefix(coll_rid, "[" + (*pk)[0].ToJson() + "]");
    }
    query::StoreRowSource store_source(**store, prefix);
    for (int pass = 0; pass < 2; ++pass) {
      const query::RowSource& source =
          pass == 0 ? static_cast<const query::RowSource&>(store_source) : memory;
      if (pass == 1 && prefix != keys::DocumentPrefix(coll_rid)) continue;
      Timing t;
      for (int r = 0; r < runs; ++r) {
        query::PageRequest req;
        req.max_items = c.all_pages ? 1000 : 100;
        req.scope = prefix;
        uint64_t scanned = 0;
        size_t returned = 0;
        double cpu = ThreadCpuSeconds();
        int64_t s = MonotonicMicros();
        while (true) {
          auto page = query::ExecutePage(*prepared, source, req);
          if (!page.ok()) {
            std::fprintf(stderr, "%s: %s\n", c.name, page.status().ToString().c_str());
            return 1;
          }
          scanned += page->rows_scanned;
          returned += page->documents.size();
          if (!c.all_pages || page->continuation.empty()) break;
          req.continuation = page->continuation;
        }
        double secs = (MonotonicMicros() - s) / 1e6;
        t.best_cpu = std::min(t.best_cpu, ThreadCpuSeconds() - cpu);
        t.best_seconds = std::min(t.best_seconds, secs);
        t.scanned = scanned;
        t.returned = returned;
      }
      std::string name = std::string(c.name) + (pass == 1 ? " (mem)" : "");
      std::printf("%-14s %9llu %9zu %9.1f %9.1f %15.0f %15.0f\n", name.c_str(),
                  static_cast<unsigned long long>(t.scanned), t.returned, t.best_seconds * 1e3,
                  t.best_cpu * 1e3, t.scanned / t.best_seconds, t.scanned / t.best_cpu);
    }
  }
  return 0;
}

}  // namespace
}  // namespace regionlab

int main(int argc, char** argv) { return regionlab::Run(argc, argv); }
