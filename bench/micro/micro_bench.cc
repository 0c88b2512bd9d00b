// micro_bench: Google Benchmark microbenchmarks of the data plane's hot
// functions (issue 17), in one process, on one thread, without sockets (but
// for HttpRoundTrip, one loopback connection to server::HttpServer).
//
//   build/bench/micro_bench                              all of them
//   build/bench/micro_bench --benchmark_filter=DataPlane  the whole handlers only
//   build/bench/micro_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Two layers:
//   - the pieces a request goes through: the master-key HMAC, the
//     authorization header, the x-ms-date parse, the partition-key header,
//     the JSON body, a document's system properties, the record codec, a
//     store read and a store write;
//   - whole requests through server::HandleDataPlane against an in-memory
//     region (tests/support/test_region.h), the way a connection thread runs
//     them: read, create, upsert, replace, patch and a query of one page of
//     100 documents of one partition key. What is left of a request's cost on
//     the wire (Beast's parser, the framing, the syscalls) is what
//     bench/http/vs-nginx.sh measures on top.
//
// Every benchmark checks what it gets (the status of a response, the result
// of a call) and stops with an error if it is wrong, so the smoke run in
// ctest (one short pass of each) fails when the path it times is broken.
// Figures and the command that produced them are in docs/benchmarks.md.
#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <pthread.h>
#include <time.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "base/cosmos_auth.h"
#include "base/encoding.h"
#include "client/http_client.h"
#include "server/http_server.h"
#include "server/document_ops.h"
#include "server/handlers.h"
#include "server/plain_document.h"
#include "storage/codec.h"
#include "storage/keys.h"
#include "storage/store.h"
#include "tests/support/fake_clock.h"
#include "tests/support/test_region.h"

namespace regionlab {
namespace {

using testing::Headers;
using testing::TestRegion;

constexpr const char* kDocs = "/dbs/bench/colls/c/docs";

// A 1 KB document shaped like an application's: a few scalars, a nested
// object, an array, and a long text field.
std::string AppDocument(const std::string& id, const std::string& pk) {
  std::string d = R"({"id":")" + id + R"(","pk":")" + pk + R"(","type":"invoice","customer":{"name":"Ada Lovelace",)"
                  R"("email":"ada@example.com","tier":3},"total":1234.5,"currency":"EUR","paid":false,)"
                  R"("lines":[{"sku":"A-1","qty":2,"price":10.25},{"sku":"B-7","qty":1,"price":99.0}],"notes":")";
  d.append(1024 - 40 - d.size(), 'n');
  d += R"("})";
  return d;
}

Headers Pk(const std::string& pk) { return {{"x-ms-documentdb-partitionkey", "[\"" + pk + "\"]"}}; }

// One region with database "bench", container "c" (partition key /pk), and
// 100 documents r0..r99 in partitions p0..p99 plus 100 documents in p7.
TestRegion& Region() {
  static std::unique_ptr<TestRegion> region = [] {
    auto r = std::move(TestRegion::Create()).value();
    r->Call("POST", "/dbs", R"({"id":"bench"})");
    r->Call("POST", "/dbs/bench/colls", R"({"id":"c","partitionKey":{"paths":["/pk"],"kind":"Hash"}})");
    for (int i = 0; i < 100; ++i) {
      const std::string pk = "p" + std::to_string(i);
      r->Call("POST", kDocs, AppDocument("r" + std::to_string(i), pk), Pk(pk));
      r->Call("POST", kDocs, AppDocument("q" + std::to_string(i), "p7"), Pk("p7"));
    }
    return r;
  }();
  return *region;
}

// Container "c" as the handlers see it.
std::shared_ptr<const server::ContainerInfo> Container() {
  TestRegion& region = Region();
  auto req = region.Request("GET", "/dbs/bench/colls/c");
  server::RequestContext rc{region.context(), req, {}, {}, {}};
  auto info = server::LoadContainer(rc, "bench", "c");
  return info.ok() ? *info : nullptr;
}

// The store key of document `id` in partition `pk` of container "c".
std::string DocumentKey(const std::string& pk, const std::string& id) {
  auto info = Container();
  return storage::keys::Document(server::RidBytes(info ? info->record.rid : "").value_or(""), "[\"" + pk + "\"]", id);
}

// ---- The pieces ----

void BM_MasterSignature(benchmark::State& state) {
  for (auto _ : state) {
    auto sig = ComputeMasterSignature(kEmulatorKey, "GET", "docs", "dbs/bench/colls/c/docs/r1",
                                      "thu, 03 dec 2026 10:00:00 gmt");
    if (!sig) return state.SkipWithError("no signature");
    benchmark::DoNotOptimize(sig);
  }
}
BENCHMARK(BM_MasterSignature);

void BM_ParseAuthorizationHeader(benchmark::State& state) {
  auto header = BuildAuthorizationHeader(kEmulatorKey, "GET", "docs", "dbs/bench/colls/c/docs/r1",
                                         "Thu, 03 Dec 2026 10:00:00 GMT");
  for (auto _ : state) {
    auto parsed = ParseAuthorizationHeader(*header);
    if (!parsed) return state.SkipWithError("unparsed");
    benchmark::DoNotOptimize(parsed);
  }
}
BENCHMARK(BM_ParseAuthorizationHeader);

void BM_ParseHttpDate(benchmark::State& state) {
  for (auto _ : state) {
    auto t = ParseHttpDate("Thu, 03 Dec 2026 10:00:00 GMT");
    if (!t) return state.SkipWithError("unparsed");
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_ParseHttpDate);

void BM_PartitionKeyHeader(benchmark::State& state) {
  // 0: a plain string key (the fast path); 1: a number, which goes through the JSON parser.
  const std::string header = state.range(0) == 0 ? R"(["p42"])" : R"([42.5])";
  for (auto _ : state) {
    auto pk = server::CanonicalPartitionKey(header, 1);
    if (!pk.ok()) return state.SkipWithError("rejected");
    benchmark::DoNotOptimize(pk);
  }
}
BENCHMARK(BM_PartitionKeyHeader)->Arg(0)->Arg(1);

void BM_ParseJsonBody(benchmark::State& state) {
  const std::string body = AppDocument("x1", "p1");
  for (auto _ : state) {
    auto json = server::ParseJsonBody(body);
    if (!json.ok()) return state.SkipWithError("rejected");
    benchmark::DoNotOptimize(json);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ParseJsonBody);

// A create's body work before the store: parse, validate (id, ttl, partition
// key), strip system properties, serialise.
void BM_PrepareDocument(benchmark::State& state) {
  auto info = Container();
  if (!info) return state.SkipWithError("no container");
  const std::string body = AppDocument("x1", "p1");
  for (auto _ : state) {
    auto json = server::ParseJsonBody(body);
    auto in = server::ValidateDocument(std::move(*json), *info);
    if (!in.ok()) return state.SkipWithError("invalid");
    auto prepared = server::PrepareDocument(std::move(in->doc));
    benchmark::DoNotOptimize(prepared);
  }
}
BENCHMARK(BM_PrepareDocument);

// The same body through the fast path (server/plain_document.cc): validate
// with simdjson, read the id and partition key, keep the text.
void BM_ScanPlainDocument(benchmark::State& state) {
  auto info = Container();
  if (!info) return state.SkipWithError("no container");
  const std::string body = AppDocument("x1", "p1");
  for (auto _ : state) {
    auto plain = server::ScanPlainDocument(body, info->pk_paths);
    if (!plain) return state.SkipWithError("not taken by the fast path");
    benchmark::DoNotOptimize(plain);
  }
}
BENCHMARK(BM_ScanPlainDocument);

storage::Record SampleRecord() {
  auto rec = Region().store().Get(DocumentKey("p1", "r1"));
  return rec.ok() && rec->has_value() ? **rec : storage::Record{};
}

void BM_EncodeRecord(benchmark::State& state) {
  const storage::Record rec = SampleRecord();
  if (rec.body.empty()) return state.SkipWithError("no record");
  std::string out;
  for (auto _ : state) {
    out.clear();
    storage::EncodeRecord(rec, &out);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_EncodeRecord);

void BM_DecodeRecord(benchmark::State& state) {
  const storage::Record rec = SampleRecord();
  if (rec.body.empty()) return state.SkipWithError("no record");
  std::string bytes;
  storage::EncodeRecord(rec, &bytes);
  for (auto _ : state) {
    storage::Record out;
    if (!storage::DecodeRecord(bytes, &out)) return state.SkipWithError("undecodable");
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_DecodeRecord);

// A store of its own: one 1 KB put per write, with its log entry and
// change-feed index entry. Arg 0: in memory without a WAL (--ephemeral);
// 1: on disk with its WAL (the default; a temporary directory).
void BM_StoreWrite(benchmark::State& state) {
  testing::FakeClock clock;
  storage::StoreOptions options;
  std::string dir;
  if (state.range(0) == 0) {
    options.in_memory = true;
  } else {
    char tmpl[] = "/tmp/micro_bench_store.XXXXXX";
    if (!mkdtemp(tmpl)) return state.SkipWithError("no temporary directory");
    dir = options.path = tmpl;
  }
  auto store = storage::Store::Open(options, clock);
  if (!store.ok()) return state.SkipWithError("store did not open");
  const std::string body = AppDocument("x", "p1");
  uint64_t n = 0;
  for (auto _ : state) {
    const std::string key = storage::keys::Document("\x01\x02\x03\x04\x05\x06\x07\x08", "[\"p" + std::to_string(n % 100) + "\"]",
                                                    "d" + std::to_string(n));
    ++n;
    auto commit = (*store)->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
      auto cur = (*store)->Get(key);
      if (!cur.ok()) return cur.status();
      storage::Record rec = server::NewLocalRecord(storage::RecordKind::kDocument, key, "rid", w, *cur);
      rec.body = body;
      storage::WriteSet set;
      set.puts.emplace_back(key, std::move(rec));
      return set;
    });
    if (!commit.ok()) return state.SkipWithError("write failed");
  }
  store->reset();
  if (!dir.empty()) std::filesystem::remove_all(dir);
}
BENCHMARK(BM_StoreWrite)->Arg(0)->Arg(1);

// Writers sharing one disk store (group commit: each write's WAL flush, or
// fsync with Arg 1, takes along the writes appended meanwhile). Real time:
// per-thread CPU time does not count a writer waiting for another's flush.
struct SharedStore {
  testing::FakeClock clock;
  std::string dir;
  std::unique_ptr<storage::Store> store;
  std::atomic<uint64_t> next{0};
};
SharedStore* g_shared = nullptr;

void BM_StoreWriteConcurrent(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_shared = new SharedStore;
    char tmpl[] = "/tmp/micro_bench_store.XXXXXX";
    if (mkdtemp(tmpl)) {
      g_shared->dir = tmpl;
      storage::StoreOptions options;
      options.path = tmpl;
      options.sync = state.range(0) == 1;
      if (auto store = storage::Store::Open(options, g_shared->clock); store.ok()) g_shared->store = std::move(*store);
    }
  }
  const std::string body = AppDocument("x", "p1");
  for (auto _ : state) {  // the first iteration starts after the setup above (a barrier)
    if (!g_shared->store) return state.SkipWithError("store did not open");
    const uint64_t n = g_shared->next.fetch_add(1);
    const std::string key = storage::keys::Document("\x01\x02\x03\x04\x05\x06\x07\x08",
                                                    "[\"p" + std::to_string(n % 100) + "\"]", "d" + std::to_string(n));
    auto commit = g_shared->store->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
      storage::Record rec = server::NewLocalRecord(storage::RecordKind::kDocument, key, "rid", w, std::nullopt);
      rec.body = body;
      storage::WriteSet set;
      set.puts.emplace_back(key, std::move(rec));
      return set;
    });
    if (!commit.ok()) return state.SkipWithError("write failed");
  }
  if (state.thread_index() == 0) {  // after the last iteration of every thread (a barrier)
    const std::string dir = g_shared->dir;
    delete g_shared;
    g_shared = nullptr;
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
}
BENCHMARK(BM_StoreWriteConcurrent)->Arg(0)->Arg(1)->ThreadRange(1, 4)->UseRealTime();

void BM_StoreGet(benchmark::State& state) {
  TestRegion& region = Region();
  const std::string key = DocumentKey("p1", "r1");
  for (auto _ : state) {
    auto rec = region.store().Get(key);
    if (!rec.ok() || !rec->has_value()) return state.SkipWithError("not found");
    benchmark::DoNotOptimize(rec);
  }
}
BENCHMARK(BM_StoreGet);

// ---- Whole requests through HandleDataPlane ----
// The request is signed once (like a client within one second: the
// signature cache answers after the first) and copied per iteration.

void Expect(benchmark::State& state, const server::HttpResponse& resp, int status) {
  if (resp.status != status) {
    state.SkipWithError(("status " + std::to_string(resp.status) + ": " + resp.body.substr(0, 200)).c_str());
  }
}

// Sends a copy of `signed_req` per iteration; each answer must have `status`
// (and contain `needle`, if given).
void RepeatRequest(benchmark::State& state, const server::HttpRequest& signed_req, int status,
                   std::string_view needle = {}) {
  TestRegion& region = Region();
  for (auto _ : state) {
    server::HttpRequest req = signed_req;
    auto resp = region.Send(req);
    Expect(state, resp, status);
    if (!needle.empty() && resp.body.find(needle) == std::string::npos) {
      return state.SkipWithError(("no " + std::string(needle) + " in the answer").c_str());
    }
    benchmark::DoNotOptimize(resp);
  }
}

void BM_DataPlane_Read(benchmark::State& state) {
  RepeatRequest(state, Region().Request("GET", std::string(kDocs) + "/r1", "", Pk("p1")), 200);
}
BENCHMARK(BM_DataPlane_Read);

void BM_DataPlane_Create(benchmark::State& state) {
  TestRegion& region = Region();
  const server::HttpRequest signed_req = region.Request("POST", kDocs, "", {{"content-type", "application/json"}});
  static uint64_t n = 0;  // unique ids across the benchmark's runs
  for (auto _ : state) {
    server::HttpRequest req = signed_req;
    const std::string pk = "p" + std::to_string(n % 100);
    req.headers.emplace_back("x-ms-documentdb-partitionkey", "[\"" + pk + "\"]");
    req.body = AppDocument("w" + std::to_string(n++), pk);
    auto resp = region.Send(req);
    Expect(state, resp, 201);
    benchmark::DoNotOptimize(resp);
  }
}
BENCHMARK(BM_DataPlane_Create);

void BM_DataPlane_Upsert(benchmark::State& state) {
  TestRegion& region = Region();
  const server::HttpRequest signed_req = region.Request(
      "POST", kDocs, "", {{"content-type", "application/json"}, {"x-ms-documentdb-is-upsert", "True"}});
  uint64_t n = 0;
  for (auto _ : state) {
    server::HttpRequest req = signed_req;
    const std::string pk = "p" + std::to_string(n % 100);
    req.headers.emplace_back("x-ms-documentdb-partitionkey", "[\"" + pk + "\"]");
    req.body = AppDocument("r" + std::to_string(n % 100), pk);
    ++n;
    auto resp = region.Send(req);
    Expect(state, resp, 200);
    benchmark::DoNotOptimize(resp);
  }
}
BENCHMARK(BM_DataPlane_Upsert);

void BM_DataPlane_Replace(benchmark::State& state) {
  RepeatRequest(state,
                Region().Request("PUT", std::string(kDocs) + "/r1", AppDocument("r1", "p1"),
                                 {{"content-type", "application/json"}, Pk("p1")[0]}),
                200);
}
BENCHMARK(BM_DataPlane_Replace);

// PATCH `ops` to document `id` in partition `pk`, over and over.
void RepeatPatch(benchmark::State& state, const std::string& id, const std::string& pk, const char* ops,
                 std::string_view needle = {}) {
  RepeatRequest(state,
                Region().Request("PATCH", std::string(kDocs) + "/" + id, ops,
                                 {{"content-type", "application/json"}, Pk(pk)[0]}),
                200, needle);
}

void BM_DataPlane_Patch(benchmark::State& state) {
  RepeatPatch(state, "r2", "p2", R"([{"op":"incr","path":"/customer/tier","value":1}])");
}
BENCHMARK(BM_DataPlane_Patch);

// A set of one top-level member: the patch fast path (PatchPlainDocument).
void BM_DataPlane_PatchSet(benchmark::State& state) {
  RepeatPatch(state, "r3", "p3", R"([{"op":"set","path":"/total","value":99.5}])", "\"total\":99.5");
}
BENCHMARK(BM_DataPlane_PatchSet);

// An incr of a top-level counter (missing at first): the fast path too.
void BM_DataPlane_PatchIncr(benchmark::State& state) {
  RepeatPatch(state, "r4", "p4", R"([{"op":"incr","path":"/views","value":1}])", "\"views\":");
}
BENCHMARK(BM_DataPlane_PatchIncr);

void BM_DataPlane_Query100(benchmark::State& state) {
  RepeatRequest(state,
                Region().Request("POST", kDocs, R"({"query":"SELECT * FROM c","parameters":[]})",
                                 {{"content-type", "application/query+json"},
                                  {"x-ms-documentdb-isquery", "True"},
                                  {"x-ms-max-item-count", "100"},
                                  Pk("p7")[0]}),
                200, "\"_count\":100");
}
BENCHMARK(BM_DataPlane_Query100);

// ---- One HTTP round trip over loopback ----
// server::HttpServer answering a GET with a 1 KB body, to one kept-alive
// client::HttpClient connection. Arg 0: the connection on a session
// io_context run by one thread, without a strand (what a region does);
// Arg 1: the same single thread, the connection on a strand. Most of the time
// is the kernel's loopback TCP; the difference between the two is the strand.
// Arg 2: no strand, and the request is a POST of a 1 KB body (a create's
// size): the server reads it in one recvmsg (session 14: three, when its read
// buffer started empty and stayed at Beast's 512-byte minimum).
void BM_HttpRoundTrip(benchmark::State& state) {
  boost::asio::io_context accept_io(1), session_io(1);
  auto accept_guard = boost::asio::make_work_guard(accept_io);
  auto session_guard = boost::asio::make_work_guard(session_io);
  std::thread accept_thread([&] { accept_io.run(); });
  std::thread session_thread([&] { session_io.run(); });
  server::HttpServerOptions options;
  const bool strand = state.range(0) == 1;
  const bool post = state.range(0) == 2;
  const std::string request_body = post ? std::string(1024, 'y') : std::string();
  const char* method = post ? "POST" : "GET";
  if (!strand) options.session_ios.push_back(&session_io);
  const std::string body(1024, 'x');
  // With a strand, connections run on the io_context given to Start: the
  // session thread's.
  auto server = server::HttpServer::Start(strand ? session_io : accept_io, "127.0.0.1", 0,
                                          [&](server::HttpRequest&) {
                                            server::HttpResponse res;
                                            res.body = body;
                                            return res;
                                          },
                                          options);
  if (!server.ok()) {
    state.SkipWithError(server.status().ToString().c_str());
  } else {
    client::HttpClient client(*client::ParseHttpEndpoint("http://127.0.0.1:" + std::to_string((*server)->port())));
    if (!client.Send("GET", "/x", {}, "").ok()) state.SkipWithError("no answer");  // connected, accepted
    // The server's CPU per round trip: the session thread's clock (the
    // round trip's real time is mostly the two threads waking each other).
    clockid_t session_clock;
    pthread_getcpuclockid(session_thread.native_handle(), &session_clock);
    auto cpu_ns = [&] {
      timespec ts{};
      clock_gettime(session_clock, &ts);
      return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
    };
    const double cpu_before = cpu_ns();
    for (auto _ : state) {
      auto res = client.Send(method, "/x", {}, request_body);
      if (!res.ok() || res->status != 200 || res->body.size() != body.size()) {
        state.SkipWithError("bad answer");
        break;
      }
    }
    state.counters["server_cpu_ns"] =
        benchmark::Counter((cpu_ns() - cpu_before) / static_cast<double>(std::max<int64_t>(1, state.iterations())));
    (*server)->Stop();
    server->reset();
  }
  accept_guard.reset();
  session_guard.reset();
  accept_io.stop();
  session_io.stop();
  accept_thread.join();
  session_thread.join();
}
BENCHMARK(BM_HttpRoundTrip)->Arg(0)->Arg(1)->Arg(2)->UseRealTime();

}  // namespace
}  // namespace regionlab

BENCHMARK_MAIN();
