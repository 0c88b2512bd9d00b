#include "bench/workload.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <latch>
#include <random>
#include <thread>

#include "client/cosmos_client.h"

namespace regionlab::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

// A worker gives up after this many transport failures in a row (the server
// is gone; spinning on refused connections would only distort the figures).
constexpr int kMaxConsecutiveTransportErrors = 100;

}  // namespace

const char* PhaseName(PhaseKind kind) {
  switch (kind) {
    case PhaseKind::kCreate: return "create";
    case PhaseKind::kRead: return "read";
    case PhaseKind::kBulk: return "bulk";
  }
  return "?";
}

// When a worker loop ends: `seconds` after the loop starts (if > 0), or when
// `budget` (if set) runs out.
struct Workload::Stop {
  double seconds = 0;
  std::atomic<int64_t>* budget = nullptr;
};

Workload::Workload(WorkloadOptions options)
    : options_(std::move(options)), next_seq_(options_.existing) {
  std::mt19937_64 rng(options_.seed);
  char id[16];
  std::snprintf(id, sizeof id, "%08x", static_cast<unsigned>(rng() & 0xffffffff));
  run_id_ = id;
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  filler_.resize(2 * std::max<size_t>(options_.doc_size, 1));
  for (char& c : filler_) c = kAlphabet[rng() % (sizeof kAlphabet - 1)];
}

Workload::~Workload() = default;

std::string Workload::Id(uint64_t seq) const { return run_id_ + "-" + std::to_string(seq); }

std::string Workload::PartitionKeyJson(uint64_t seq) const {
  return "[\"pk" + std::to_string(seq % static_cast<uint64_t>(options_.partition_keys)) + "\"]";
}

std::string Workload::DocumentBody(uint64_t seq) const {
  std::string body;
  body.reserve(options_.doc_size + 16);
  body += "{\"id\":\"";
  body += Id(seq);
  body += "\",\"pk\":\"pk";
  body += std::to_string(seq % static_cast<uint64_t>(options_.partition_keys));
  body += "\",\"seq\":";
  body += std::to_string(seq);
  body += ",\"payload\":\"";
  const size_t closing = 2;  // "}
  const size_t used = body.size() + closing;
  const size_t pad = options_.doc_size > used ? options_.doc_size - used : 0;
  const size_t half = filler_.size() / 2;
  body.append(filler_, half ? seq % half : 0, pad);
  body += "\"}";
  return body;
}

Status Workload::Setup() {
  if (options_.connections < 1) return Status::BadRequest("--connections must be at least 1");
  if (options_.partition_keys < 1) return Status::BadRequest("--partition-keys must be at least 1");
  clients_.clear();
  for (int i = 0; i < options_.connections; ++i) {
    client::CosmosClientOptions co;
    co.endpoint = options_.endpoint;
    if (!options_.key.empty()) co.key = options_.key;
    co.ca_file = options_.ca_file;
    co.timeout = std::chrono::milliseconds(30000);
    clients_.push_back(std::make_unique<client::CosmosClient>(co));
  }
  // Open every connection now, so connecting is not part of any figure.
  for (auto& c : clients_) {
    auto r = c->GetAccount();
    if (!r.ok()) return Status(r.status().code(), "GET / on " + options_.endpoint + ": " + r.status().message());
    if (!r->ok()) return client::StatusFromResponse(*r);
  }
  auto& c = *clients_.front();
  auto db = c.CreateDatabase(options_.database);
  if (!db.ok()) return db.status();
  if (!db->ok() && db->status != 409) return client::StatusFromResponse(*db);
  const std::string coll = "{\"id\":\"" + options_.container +
                           "\",\"partitionKey\":{\"paths\":[\"/pk\"],\"kind\":\"Hash\"}}";
  auto cr = c.CreateContainer(options_.database, coll);
  if (!cr.ok()) return cr.status();
  if (!cr->ok() && cr->status != 409) return client::StatusFromResponse(*cr);
  spdlog::info("bench: {} connections to {}, container {}/{}, run id {}", options_.connections,
               options_.endpoint, options_.database, options_.container, run_id_);
  return Status::Ok();
}

void Workload::Worker(int index, PhaseKind kind, const Stop& stop,
                      SteadyClock::time_point deadline, bool record, PhaseResult* out) {
  client::CosmosClient& client = *clients_[static_cast<size_t>(index)];
  std::mt19937_64 rng(options_.seed * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(index) + 1);
  const uint64_t readable = next_seq_.load();
  int transport_errors_in_row = 0;
  // --rate: this worker's share, one operation every `interval`, the workers
  // staggered over it.
  const auto interval = options_.rate > 0 ? std::chrono::duration_cast<SteadyClock::duration>(
                                                std::chrono::duration<double>(options_.connections / options_.rate))
                                          : SteadyClock::duration::zero();
  SteadyClock::time_point next = SteadyClock::now() + interval * index / std::max(1, options_.connections);
  while (true) {
    if (interval > SteadyClock::duration::zero()) {
      if (next >= deadline) break;
      std::this_thread::sleep_until(next);
      next += interval;
    }
    if (stop.budget && stop.budget->fetch_sub(1, std::memory_order_relaxed) <= 0) break;
    Result<client::CosmosResponse> r = Status::Internal("not sent");
    int expected = 200;
    uint64_t created = 0;  // bulk: documents the response says were created
    SteadyClock::time_point t0, t1;
    if (kind == PhaseKind::kBulk) {
      const int n = std::clamp(options_.bulk_size, 1, 100);
      const uint64_t first = next_seq_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      std::string ops = "[";
      for (int i = 0; i < n; ++i) {
        const uint64_t seq = first + static_cast<uint64_t>(i);
        if (i) ops += ',';
        std::string pk = PartitionKeyJson(seq);
        ops += "{\"operationType\":\"Create\",\"partitionKey\":\"";
        for (char c : pk) {
          if (c == '"') ops += '\\';
          ops += c;
        }
        ops += "\",\"resourceBody\":" + DocumentBody(seq) + "}";
      }
      ops += "]";
      static const client::HttpHeaders kBulkHeaders = {{"x-ms-cosmos-is-batch-request", "true"},
                                                       {"x-ms-cosmos-batch-atomic", "false"},
                                                       {"x-ms-cosmos-batch-continue-on-error", "true"},
                                                       {"x-ms-documentdb-partitionkeyrangeid", "0"}};
      const std::string path = "/dbs/" + options_.database + "/colls/" + options_.container + "/docs";
      t0 = SteadyClock::now();
      r = client.Request("POST", path, ops, kBulkHeaders);
      t1 = SteadyClock::now();
      if (r.ok()) {
        for (size_t at = r->body.find("\"statusCode\":201"); at != std::string::npos;
             at = r->body.find("\"statusCode\":201", at + 1)) {
          ++created;
        }
      }
    } else if (kind == PhaseKind::kCreate) {
      const uint64_t seq = next_seq_.fetch_add(1, std::memory_order_relaxed);
      const std::string body = DocumentBody(seq);
      const std::string pk = PartitionKeyJson(seq);
      expected = 201;
      t0 = SteadyClock::now();
      r = client.CreateDocument(options_.database, options_.container, pk, body);
      t1 = SteadyClock::now();
    } else {
      const uint64_t seq = readable ? rng() % readable : 0;
      const std::string id = Id(seq);
      const std::string pk = PartitionKeyJson(seq);
      t0 = SteadyClock::now();
      r = client.ReadDocument(options_.database, options_.container, id, pk);
      t1 = SteadyClock::now();
    }
    if (record) {
      out->latency.Record(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
    }
    if (!r.ok()) {
      ++out->errors;
      ++out->error_kinds["transport: " + std::string(StatusCodeName(r.status().code()))];
      if (out->errors <= 3) spdlog::warn("bench worker {}: {}", index, r.status().ToString());
      if (++transport_errors_in_row >= kMaxConsecutiveTransportErrors) {
        spdlog::error("bench worker {}: {} transport failures in a row; giving up", index,
                      transport_errors_in_row);
        break;
      }
    } else {
      transport_errors_in_row = 0;
      if (r->status == expected && kind == PhaseKind::kBulk) {
        out->ok += created;
        const uint64_t failed = static_cast<uint64_t>(std::clamp(options_.bulk_size, 1, 100)) - created;
        out->errors += failed;
        if (failed) out->error_kinds["bulk operation not created"] += failed;
      } else if (r->status == expected) {
        ++out->ok;
      } else {
        ++out->errors;
        ++out->error_kinds["http " + std::to_string(r->status)];
        if (out->errors <= 3) {
          spdlog::warn("bench worker {}: {} -> {} {}", index, PhaseName(kind), r->status,
                       r->body.substr(0, 200));
        }
      }
    }
    if (t1 >= deadline) break;
  }
}

PhaseResult Workload::RunLoop(PhaseKind kind, const Stop& stop, bool record) {
  const int n = static_cast<int>(clients_.size());
  std::vector<PhaseResult> parts(static_cast<size_t>(n));
  std::vector<SteadyClock::time_point> finished(static_cast<size_t>(n));
  SteadyClock::time_point deadline = SteadyClock::time_point::max();
  std::latch ready(n);
  std::latch go(1);
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      ready.count_down();
      go.wait();
      Worker(i, kind, stop, deadline, record, &parts[static_cast<size_t>(i)]);
      finished[static_cast<size_t>(i)] = SteadyClock::now();
    });
  }
  ready.wait();
  const SteadyClock::time_point t0 = SteadyClock::now();
  if (stop.seconds > 0) {
    deadline = t0 + std::chrono::duration_cast<SteadyClock::duration>(
                        std::chrono::duration<double>(stop.seconds));
  }
  go.count_down();  // publishes `deadline` to the workers
  for (auto& t : threads) t.join();

  PhaseResult total;
  total.kind = kind;
  total.connections = n;
  SteadyClock::time_point end = t0;
  for (int i = 0; i < n; ++i) {
    const auto& p = parts[static_cast<size_t>(i)];
    total.ok += p.ok;
    total.errors += p.errors;
    for (const auto& [k, v] : p.error_kinds) total.error_kinds[k] += v;
    total.latency.Merge(p.latency);
    end = std::max(end, finished[static_cast<size_t>(i)]);
  }
  total.elapsed_s = std::chrono::duration<double>(end - t0).count();
  return total;
}

Status Workload::Prepare(PhaseKind kind) {
  if (clients_.empty()) return Status::Internal("Workload::Setup() was not called");
  if (kind == PhaseKind::kRead && next_seq_.load() == 0) {
    if (options_.preload == 0) return Status::BadRequest("a read phase needs documents: --preload is 0");
    spdlog::info("bench: preloading {} documents for the read phase", options_.preload);
    std::atomic<int64_t> budget{static_cast<int64_t>(options_.preload)};
    Stop s;
    s.budget = &budget;
    PhaseResult pre = RunLoop(PhaseKind::kCreate, s, /*record=*/false);
    if (pre.ok == 0) return Status::Unavailable("preloading failed: no document was created");
  }
  if (options_.warmup_s > 0) {
    spdlog::info("bench: {} warm-up, {} s", PhaseName(kind), options_.warmup_s);
    Stop s;
    s.seconds = options_.warmup_s;
    PhaseResult warm = RunLoop(kind, s, /*record=*/false);
    if (warm.ok == 0 && warm.errors > 0) {
      return Status::Unavailable(std::string("every ") + PhaseName(kind) + " of the warm-up failed");
    }
  }
  return Status::Ok();
}

Result<PhaseResult> Workload::Measure(PhaseKind kind) {
  if (clients_.empty()) return Status::Internal("Workload::Setup() was not called");
  if (kind == PhaseKind::kRead && next_seq_.load() == 0) {
    return Status::BadRequest("a read phase needs documents: call Prepare() first");
  }
  Stop s;
  std::atomic<int64_t> budget{static_cast<int64_t>(options_.ops)};
  if (options_.ops > 0) {
    spdlog::info("bench: {} phase, {} operations", PhaseName(kind), options_.ops);
    s.budget = &budget;
  } else {
    spdlog::info("bench: {} phase, {} s", PhaseName(kind), options_.duration_s);
    s.seconds = options_.duration_s;
  }
  const uint64_t documents = next_seq_.load();
  PhaseResult r = RunLoop(kind, s, /*record=*/true);
  r.documents = documents;
  return r;
}

Result<PhaseResult> Workload::RunPhase(PhaseKind kind) {
  RL_RETURN_IF_ERROR(Prepare(kind));
  return Measure(kind);
}

}  // namespace regionlab::bench
