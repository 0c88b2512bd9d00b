// replication_apply_bench: the catch-up path of replication, in one process,
// without HTTP, sockets or the Node load generator in the way.
//
// An origin store (region 1) takes N local 1 KB document creates, one
// Store::Write each, as the data plane makes them. Then a receiver store
// (region 2) connects through an in-memory transport and catches up. Each
// frame is handed over synchronously, and the time spent in the origin
// (reading and shipping its log) and in the receiver (applying) is summed
// separately, so the per-document cost of each side is exact, and
// `receiverUsPerDoc` is the ceiling of a real two-thread catch-up
// (1e6 / receiverUsPerDoc documents per second). The *CpuUsPerDoc figures are
// the CPU time of the same calls (steadier than wall time on a shared VM),
// and processCpuUsPerDoc is the CPU of every thread during the catch-up,
// RocksDB's flushes and compactions included.
//
//   replication_apply_bench --docs 100000 [--dir DIR | --memory] [--repeat 3]
//
// Prints one JSON object per run on stdout. Used by docs/benchmarks.md.
#include <spdlog/spdlog.h>

#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>

#include "base/clock.h"
#include "bench/server_process.h"
#include "conflictfeed/policy_handler.h"
#include "replication/replicator.h"
#include "storage/keys.h"
#include "storage/store.h"

namespace regionlab {
namespace {

using Steady = std::chrono::steady_clock;

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Frames queued in both directions; Deliver hands them over one at a time.
class QueueTransport final : public replication::Transport {
 public:
  void SendToPeer(uint32_t peer, std::string payload) override { out.emplace_back(peer, std::move(payload)); }
  void ReplyToPeer(uint32_t peer, std::string payload) override { back.emplace_back(peer, std::move(payload)); }
  std::deque<std::pair<uint32_t, std::string>> out, back;
};

storage::Record MakeDocument(const std::string& coll_rid, int n, const storage::WriteContext& w,
                             const std::string& filler) {
  storage::Record r;
  r.kind = storage::RecordKind::kDocument;
  r.id = "doc-" + std::to_string(n);
  r.partition_key = "[\"p" + std::to_string(n % 100) + "\"]";
  r.rid = "rid" + std::to_string(n);
  r.etag = "\"" + std::to_string(w.region_id) + "-" + std::to_string(w.lsn) + "\"";
  r.ts = w.now_micros / 1000000;
  r.version = {{w.region_id, w.lsn}};
  r.origin_region = w.region_id;
  r.origin_lsn = w.lsn;
  r.write_micros = w.now_micros;
  r.parent = coll_rid;
  r.operation = storage::Operation::kCreate;
  r.body = "{\"id\":\"" + r.id + "\",\"pk\":\"p" + std::to_string(n % 100) + "\",\"payload\":\"" + filler +
           "\",\"_rid\":\"" + r.rid + "\",\"_etag\":" + r.etag + ",\"_ts\":" + std::to_string(r.ts) + "}";
  return r;
}

struct Options {
  int docs = 100000;
  int repeat = 1;
  std::string dir;
  bool memory = false;
};

int Run(const Options& opt, int run) {
  const Clock& clock = SystemClock::Instance();
  std::string base = opt.dir;
  if (!opt.memory) {
    if (base.empty()) base = (std::filesystem::temp_directory_path() / "regionlab-apply-bench").string();
    base += "/run" + std::to_string(run);
    std::filesystem::remove_all(base);
    std::filesystem::create_directories(base);
  }
  auto open = [&](uint32_t region) {
    storage::StoreOptions so;
    so.region_id = region;
    so.in_memory = opt.memory;
    so.path = base + "/r" + std::to_string(region);
    return storage::Store::Open(so, clock);
  };
  auto origin = open(1);
  auto receiver = open(2);
  if (!origin.ok() || !receiver.ok()) {
    spdlog::error("opening stores: {} / {}", origin.status().ToString(), receiver.status().ToString());
    return 1;
  }
  const std::string coll_rid = "\x01\x02\x03\x04\x05\x06\x07\x08";
  const std::string filler(900, 'x');

  auto fill_start = Steady::now();
  for (int i = 0; i < opt.docs; ++i) {
    auto c = (*origin)->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
      storage::WriteSet set;
      storage::Record doc = MakeDocument(coll_rid, i, w, filler);
      doc.replaces_local_lsn = 0;  // a create, as the data plane knows from its read
      std::string key = storage::keys::Document(coll_rid, doc.partition_key, doc.id);
      set.puts.emplace_back(std::move(key), std::move(doc));
      return set;
    });
    if (!c.ok()) {
      spdlog::error("filling: {}", c.status().ToString());
      return 1;
    }
  }
  double fill_s = std::chrono::duration<double>(Steady::now() - fill_start).count();

  conflictfeed::PolicyHandler h1(**origin), h2(**receiver);
  QueueTransport t1, t2;
  auto r1 = replication::Replicator::Create(**origin, 1, {2}, h1, t1, clock);
  auto r2 = replication::Replicator::Create(**receiver, 2, {1}, h2, t2, clock);
  if (!r1.ok() || !r2.ok()) return 1;

  Steady::duration in_origin{}, in_receiver{};
  double cpu_origin = 0, cpu_receiver = 0;
  auto timed = [](Steady::duration& acc, double& cpu, const std::function<void()>& fn) {
    auto t0 = Steady::now();
    double c0 = ThreadCpuSeconds();
    fn();
    cpu += ThreadCpuSeconds() - c0;
    acc += Steady::now() - t0;
  };
  // CPU of the whole process (every thread, RocksDB's flushes and compactions
  // included).
  const double process_cpu_start = bench::SelfCpu().total();
  const uint64_t target = (*origin)->own_lsn();
  auto start = Steady::now();
  timed(in_origin, cpu_origin, [&] { (*r1)->OnOutboundUp(2); });
  timed(in_receiver, cpu_receiver, [&] { (*r2)->OnInboundUp(1); });
  size_t frames = 0;
  while ((*r2)->Applied(1) < target) {
    if (t1.out.empty() && t2.back.empty()) {
      spdlog::error("catch-up stalled at {} of {}", (*r2)->Applied(1), target);
      return 1;
    }
    while (!t2.back.empty()) {
      std::string f = std::move(t2.back.front().second);
      t2.back.pop_front();
      timed(in_origin, cpu_origin, [&] { (*r1)->OnOutboundFrame(2, f); });
    }
    while (!t1.out.empty()) {
      std::string f = std::move(t1.out.front().second);
      t1.out.pop_front();
      ++frames;
      timed(in_receiver, cpu_receiver, [&] { (*r2)->OnInboundFrame(1, f); });
    }
  }
  double total_s = std::chrono::duration<double>(Steady::now() - start).count();
  double process_cpu = bench::SelfCpu().total() - process_cpu_start;
  double origin_s = std::chrono::duration<double>(in_origin).count();
  double receiver_s = std::chrono::duration<double>(in_receiver).count();
  std::printf(
      "{\"run\":%d,\"docs\":%d,\"storage\":\"%s\",\"fillDocsPerSec\":%.0f,\"catchupSeconds\":%.3f,"
      "\"frames\":%zu,\"originUsPerDoc\":%.2f,\"receiverUsPerDoc\":%.2f,"
      "\"originCpuUsPerDoc\":%.2f,\"receiverCpuUsPerDoc\":%.2f,\"processCpuUsPerDoc\":%.2f,"
      "\"oneThreadDocsPerSec\":%.0f,\"receiverCeilingDocsPerSec\":%.0f}\n",
      run, opt.docs, opt.memory ? "memory" : "disk", opt.docs / fill_s, total_s, frames,
      origin_s * 1e6 / opt.docs, receiver_s * 1e6 / opt.docs, cpu_origin * 1e6 / opt.docs,
      cpu_receiver * 1e6 / opt.docs, process_cpu * 1e6 / opt.docs, opt.docs / total_s, opt.docs / receiver_s);
  std::fflush(stdout);
  r1->reset();
  r2->reset();
  origin->reset();
  receiver->reset();
  if (!opt.memory) std::filesystem::remove_all(base);
  return 0;
}

}  // namespace
}  // namespace regionlab

int main(int argc, char** argv) {
  regionlab::Options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--docs") {
      opt.docs = std::atoi(next().c_str());
    } else if (a == "--repeat") {
      opt.repeat = std::atoi(next().c_str());
    } else if (a == "--dir") {
      opt.dir = next();
    } else if (a == "--memory") {
      opt.memory = true;
    } else {
      std::fprintf(stderr, "usage: replication_apply_bench [--docs N] [--repeat R] [--dir DIR | --memory]\n");
      return 2;
    }
  }
  if (opt.docs <= 0 || opt.repeat <= 0) {
    std::fprintf(stderr, "--docs and --repeat must be positive\n");
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  for (int r = 0; r < opt.repeat; ++r) {
    if (int rc = regionlab::Run(opt, r); rc != 0) return rc;
  }
  return 0;
}
