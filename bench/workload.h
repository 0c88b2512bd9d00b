// Workload: the load the benchmark puts on one region's endpoint.
//
// `connections` worker threads, each with its own CosmosClient (one kept-alive
// HTTP/1.1 connection), issue requests back to back (a closed loop: one
// request in flight per connection). A phase is either
//   create  POST .../docs of `doc_size`-byte JSON documents with unique ids
//           "<run>-<n>" and partition key "pk<n % partition_keys>"
//   read    GET .../docs/<id> of a uniformly random document created earlier
//           in this run
//   bulk    POST .../docs as a bulk request (x-ms-cosmos-is-batch-request,
//           not atomic, as the SDK's executeBulkOperations sends it) of
//           `bulk_size` creates like the create phase's; its figures count
//           documents (a request's created documents are its `ok`), its
//           latencies are per request
// and runs for a duration or a number of operations, after an unrecorded
// warm-up. Every request's latency (send to complete response, measured on the
// client) goes into a LatencyHistogram.
//
// Thread-safety: a Workload is driven from one thread; it runs its workers
// itself and joins them before RunPhase() returns.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "bench/histogram.h"

namespace regionlab::client {
class CosmosClient;
}  // namespace regionlab::client

namespace regionlab::bench {

struct WorkloadOptions {
  // The region endpoint, "http://127.0.0.1:8081/".
  std::string endpoint;
  // The account key (base64). Default: empty means the emulator key.
  std::string key;
  // https endpoints: the CA file to trust. Default: empty (the system's).
  std::string ca_file;
  // Worker threads, one connection each. Default: 16.
  int connections = 16;
  // Length of a measured phase, unless `ops` > 0. Default: 10 s.
  double duration_s = 10;
  // If > 0, a measured phase is this many operations instead. Default: 0.
  uint64_t ops = 0;
  // Operations per second over all connections, evenly paced (each worker
  // sends on its own schedule, so a slow response delays only its own next
  // operations); 0: as fast as the connections go. Default: 0.
  double rate = 0;
  // Unrecorded load before each measured phase. Default: 1 s.
  double warmup_s = 1;
  // Size in bytes of each created document's JSON body. Default: 1024.
  size_t doc_size = 1024;
  // Number of distinct partition key values. Default: 100.
  int partition_keys = 100;
  // Where the documents go; created if missing. The container's partition key
  // path is /pk.
  std::string database = "bench";
  std::string container = "docs";
  // Documents created (unrecorded) before a read phase when the run has not
  // created any yet. Default: 10000.
  uint64_t preload = 10000;
  // Seeds the run id and the readers' random choices. Default: 1.
  uint64_t seed = 1;
  // Documents "<run>-0" .. "<run>-(n-1)" already exist (created by an earlier
  // run against the same endpoint with the same seed): reads pick from them
  // without preloading, and creates continue at n. Default: 0.
  uint64_t existing = 0;
  // Creates per request of a bulk phase (at most 100, the Cosmos limit).
  // Default: 100.
  int bulk_size = 100;
};

enum class PhaseKind { kCreate, kRead, kBulk };
const char* PhaseName(PhaseKind kind);

struct PhaseResult {
  PhaseKind kind = PhaseKind::kCreate;
  int connections = 0;
  // Documents this run had created when the measured part started (a read
  // phase reads among these; read cost grows with the store's size).
  uint64_t documents = 0;
  double elapsed_s = 0;  // first request to last response of the measured part
  uint64_t ok = 0;       // 2xx responses
  uint64_t errors = 0;   // everything else, including transport failures
  // "http 404", "transport: ..." -> count.
  std::map<std::string, uint64_t> error_kinds;
  LatencyHistogram latency;  // every request of the measured part, errors too
  double throughput() const { return elapsed_s > 0 ? ok / elapsed_s : 0; }
};

class Workload {
 public:
  explicit Workload(WorkloadOptions options);
  ~Workload();

  const WorkloadOptions& options() const { return options_; }

  // Opens the connections and creates the database and container if they do
  // not exist.
  Status Setup();

  // Runs the warm-up and the measured part of a phase: Prepare(), Measure().
  Result<PhaseResult> RunPhase(PhaseKind kind);

  // The unrecorded part of a phase: for a read phase, first preloads
  // `preload` documents if none were created yet; then the warm-up.
  Status Prepare(PhaseKind kind);

  // The measured part of a phase.
  Result<PhaseResult> Measure(PhaseKind kind);

  // Documents this run has attempted to create (ids "<run>-0" .. "<run>-(n-1)").
  uint64_t documents_created() const { return next_seq_.load(); }
  const std::string& run_id() const { return run_id_; }

 private:
  struct Stop;  // when a worker loop ends
  void Worker(int index, PhaseKind kind, const Stop& stop,
              std::chrono::steady_clock::time_point deadline, bool record, PhaseResult* out);
  PhaseResult RunLoop(PhaseKind kind, const Stop& stop, bool record);
  std::string DocumentBody(uint64_t seq) const;
  std::string Id(uint64_t seq) const;
  std::string PartitionKeyJson(uint64_t seq) const;

  WorkloadOptions options_;
  std::string run_id_;
  std::string filler_;  // 2 * doc_size pseudo-random characters
  std::vector<std::unique_ptr<client::CosmosClient>> clients_;
  std::atomic<uint64_t> next_seq_{0};
};

}  // namespace regionlab::bench
