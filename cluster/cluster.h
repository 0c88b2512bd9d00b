// Cluster: the regions of one `regionlab up` process. Each region has its own
// store, clock, io_context and data-plane listener; one admin listener serves
// the management API. Owns everything it starts; Stop() (or destruction)
// shuts it all down in order: listeners, io threads, stores. It is also the
// management API's RegionControl: link faults go to the regions' transports,
// and a region can be killed (everything but its clock, its RegionContext and
// its in-memory file system is torn down) and restarted on the same ports.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/tls_files.h"
#include "server/http_types.h"

namespace regionlab::cluster {

struct ClusterOptions {
  // Short region names, in order; the first is region id 0. Default: uksouth, westeurope.
  std::vector<std::string> regions = {"uksouth", "westeurope"};
  // Address to bind and to advertise. Default: 127.0.0.1.
  std::string host = "127.0.0.1";
  // Data-plane port of the first region; the others take the next ports.
  // 0: every region picks a free port. Default: 8081.
  uint16_t port = 8081;
  // Management API port; 0 picks a free port. Default: 8090.
  uint16_t admin_port = 8090;
  // Address the management API binds. Default: 127.0.0.1, whatever `host`
  // is. Anywhere but loopback, every management request must be signed with
  // the account key or carry `admin_token` (docs/security.md).
  std::string admin_host = "127.0.0.1";
  // Bearer token accepted by the management API besides the account key's
  // signature. Default: none.
  std::string admin_token;
  // Parent directory of the regions' stores: <data_dir>/<region>/store.
  std::string data_dir = "./regionlab-data";
  // Keep everything in memory; nothing survives the process. Default: false.
  bool ephemeral = false;
  // Seed of every random fault decision. Default: chosen at random.
  uint64_t seed = 0;
  // Short name of the region that decides fenced leases (docs/leases.md).
  // Empty: the account's first region. Every process of an account must
  // agree (serve: pass the same --lease-home everywhere).
  std::string lease_home;
  // The account's default consistency: Session, Eventual or ConsistentPrefix
  // (a multi-write account offers neither Strong nor BoundedStaleness).
  // Default: Session.
  std::string consistency = "Session";
  // Enforce provisioned throughput: each container's (or shared database's)
  // RU/s budget per region, 429/3200 beyond it (server/throughput.h).
  // Default: false (requests are charged, never throttled).
  bool enforce_throughput = false;
  // Account master key (base64). Default: the emulator's well-known key.
  std::string key;
  // HTTP io threads per region: each serves its share of the connections.
  // Default: 1, the cheapest per request (two threads queue on the store's
  // writer lock and, on a small machine, on the CPUs: docs/benchmarks.md,
  // session 10). A region's replication and its heavy requests (queries,
  // feeds, scripts, batches, lease forwards) have their own threads, at least
  // two each, as many as this when it is larger.
  int threads_per_region = 1;
  // Replication listener port of the first local region; the others take the
  // next ports. 0: free ports. Default: 0 (`up` needs no fixed ports).
  uint16_t replication_port = 0;

  // Regions served by other processes (`regionlab serve --peer`).
  struct RemotePeer {
    std::string name;
    std::string host;
    uint16_t replication_port = 0;
    std::string endpoint;  // data-plane URL for the account document
  };
  std::vector<RemotePeer> remote_peers;
  // Region ids: false (up): the order of `regions`; true (serve): the sorted
  // order of every region's name, local and remote, so every process agrees.
  bool ids_by_sorted_name = false;
  // Replication tuning (retransmission, log retention, ...).
  uint64_t log_retention_entries = 1'000'000;
  // HTTPS and TLS replication (`--tls`): every region's data plane and the
  // management API serve HTTPS only, and replication links use mutual TLS.
  // The certificate: tls_cert/tls_key when given (tls_ca: the CA that issued
  // it, default the certificate itself), else a local CA and a server
  // certificate kept in tls_dir (default <data_dir>/tls; with `ephemeral`, a
  // fresh temporary directory removed at Stop). See tls/local_ca.h.
  bool tls = false;
  std::string tls_dir;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  // Extra management routes (admin::AdminContext::extra_routes), e.g. the
  // front door embedded by `up --config`. Default: none.
  std::function<std::optional<server::HttpResponse>(server::HttpRequest&)> extra_admin_routes;
};

// Which thread: Start, ReadyLine, RunScenario and Stop from one thread (the
// main thread of `up`/`serve`, or a test); the cluster runs its own io threads
// (per region, plus the admin listener's) and joins them in Stop.
class Cluster {
 public:
  static Result<std::unique_ptr<Cluster>> Start(const ClusterOptions& options);
  ~Cluster();

  // {"event":"ready","admin":"http://127.0.0.1:8090/","regions":[{"name":"UK South","endpoint":...}]}
  // Under --tls the URLs say https:// and "caCert" is the CA file to trust.
  std::string ReadyLine() const;
  // Under --tls: the certificate files in use (cert_file empty otherwise).
  const TlsFiles& tls_files() const;
  // Starts a scenario (the body of POST /scenario, docs/chaos.md) now.
  // BadRequest, with the reason, when it does not validate.
  Status RunScenario(const std::string& json_text);
  void Stop();

 private:
  struct Impl;
  explicit Cluster(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace regionlab::cluster
