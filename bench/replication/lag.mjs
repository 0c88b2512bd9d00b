// Replication lag and catch-up benchmark (issue 3), driven with the real SDK.
//
//   node bench/replication/lag.mjs [path/to/regionlab] [--rates 100,1000,max] [--seconds 10]
//                                  [--catchup 100000] [--no-restart] [--redis] [--disk]
//                                  [--load cpp|sdk]
// (--rates none: no lag runs; --no-restart: only the catch-up after a partition;
//  a rate "sustained" searches the highest rate whose lag stays bounded: the
//  origin's unpaced maximum, then paced runs at 90%, 80%, ... of it)
//
// Lag is measured by the receiving region itself: for every replicated entry,
// origin commit time -> committed here (one process, one clock), exposed per
// link in GET /links as applyLagMs {p50,p99,max} (log-spaced buckets: a
// percentile is reported as its bucket's upper bound, capped by the max).
// Catch-up after a partition (the figure): `up`, POST /partition
// between the two regions, N writes to uksouth, POST /heal, and we time from
// the heal until westeurope has applied them all.
// Catch-up after a restart: region uksouth runs alone (`serve`), takes N
// writes, then westeurope starts and we time until it has applied them all
// (process start-up, store open and handshake included).
// --redis measures Redis primary->replica lag with the same load as a
// reference (needs redis-server; polls the replica for each written key).
// Each lag run also reports overMsPct: the share (%) of the link's entries
// whose apply lag exceeded 1, 2 and 5 ms, from the /metrics histogram
// (p99 < 2 ms <=> overMsPct["2"] < 1).
// PERF_CATCHUP=FILE (environment): record the catch-up after the partition
// with `perf record -a -g -e cpu-clock -o FILE`.
// The binary must live on a filesystem that allows exec (here /tmp is noexec).
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../tests/sdk/package.json"));
const { CosmosClient } = require("@azure/cosmos");
const KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

const args = process.argv.slice(2);
const bin = args[0] && !args[0].startsWith("--") ? path.resolve(args.shift()) : path.join(here, "../../build/server/regionlab");
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const ratesArg = opt("--rates", "100,1000,max");
const rates = ratesArg === "none" ? [] : ratesArg.split(",");
const seconds = Number(opt("--seconds", "10"));
const catchupN = Number(opt("--catchup", "100000"));
const withRedis = args.includes("--redis");
// --load cpp (default): the lag runs' writes come from `regionlab bench`
// (the C++ client, paced with --rate), which needs a fraction of the CPU the
// Node SDK needs for the same rate: on a 2-CPU machine that CPU is what the
// replication tail waits for. --load sdk: the writes come from @azure/cosmos.
const loadKind = opt("--load", "cpp");
if (!["cpp", "sdk"].includes(loadKind)) throw new Error("--load is cpp or sdk");
// --disk: stores in temporary directories instead of --ephemeral (in-memory),
// removed when the run ends.
const dataDirs = [];
process.on("exit", () => dataDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const storeArgs = (name) => {
  if (!args.includes("--disk")) return ["--ephemeral"];
  dataDirs.push(fs.mkdtempSync(path.join(os.tmpdir(), `rl-bench-${name}-`)));
  return ["--data-dir", dataDirs[dataDirs.length - 1]];
};
const pad = "x".repeat(900);

function start(argv) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, argv, { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    proc.stderr.on("data", (d) => (err += d));
    const rl = readline.createInterface({ input: proc.stdout });
    const timer = setTimeout(() => reject(new Error("no ready line: " + err)), 20000);
    rl.once("line", (line) => {
      clearTimeout(timer);
      resolve({ proc, ready: JSON.parse(line) });
    });
    proc.once("exit", (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
}
const adminGet = async (admin, p) => (await fetch(new URL(p, admin))).json();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function container(endpoint) {
  const client = new CosmosClient({ endpoint, key: KEY });
  const { database } = await client.databases.createIfNotExists({ id: "bench" });
  const { container } = await database.containers.createIfNotExists({ id: "docs", partitionKey: "/pk" });
  return { client, container };
}

// The same with `regionlab bench` (the C++ client) against `endpoint`.
async function loadCpp(endpoint, rate, seconds) {
  const argv = ["--log-level", "error", "bench", "--endpoint", endpoint, "--phases", "create", "--duration-s", `${seconds}`,
    "--warmup-s", "0", "--connections", rate === "max" ? "16" : `${Math.max(1, Math.ceil(Number(rate) / 250))}`, "--json"];
  if (rate !== "max") argv.push("--rate", `${rate}`);
  const proc = spawn(bin, argv, { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  proc.stdout.on("data", (d) => (out += d));
  const code = await new Promise((r) => proc.once("exit", r));
  if (code !== 0 && code !== 3) throw new Error(`regionlab bench exited ${code}`);
  return JSON.parse(out).phases[0].opsPerS;
}

// Writes at `rate` per second (or as fast as `concurrency` allows for "max")
// for `seconds`; returns the achieved rate.
async function load(container, rate, seconds, prefix) {
  const end = Date.now() + seconds * 1000;
  let n = 0;
  const concurrency = rate === "max" ? 32 : Math.max(1, Math.ceil(Number(rate) / 200));
  const interval = rate === "max" ? 0 : (1000 * concurrency) / Number(rate);
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      let next = Date.now() + (interval * w) / concurrency;
      while (Date.now() < end) {
        if (interval) {
          const wait = next - Date.now();
          if (wait > 0) await sleep(wait);
          next += interval;
        }
        const id = `${prefix}-${w}-${n++}`;
        await container.items.create({ id, pk: `p${n % 100}`, pad });
      }
    }),
  );
  return (n * 1000) / (Date.now() - t0);
}

async function linkStats(admin, from, to) {
  const { links } = await adminGet(admin, "/links");
  return links.find((l) => l.from === from && l.to === to);
}

// Share of the link's entries (in %) whose apply lag exceeded 1, 2 and 5 ms,
// from the /metrics histogram: finer than a bucketed p99 (p99 < 2 ms <=> the
// "2" share is under 1%).
async function lagTail(admin, from, to) {
  const text = await (await fetch(new URL("/metrics", admin))).text();
  const le = {};
  const re = new RegExp(`^regionlab_replication_apply_lag_seconds_bucket\\{from="${from}",to="${to}",le="([^"]+)"\\} (\\d+)$`, "gm");
  for (const m of text.matchAll(re)) le[m[1]] = Number(m[2]);
  const total = le["+Inf"] || 0;
  const over = (s) => total ? Math.round(10000 * (1 - (le[s] ?? 0) / total)) / 100 : null;
  return { "1": over("0.001000"), "2": over("0.002000"), "5": over("0.005000") };
}

async function waitCaughtUp(admin, from, to, timeoutMs = 120000) {
  const t0 = Date.now();
  for (;;) {
    const l = await linkStats(admin, from, to);
    if (l && l.connected && l.appliedLsn === l.ownLsn && l.ownLsn > 0) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error("not caught up: " + JSON.stringify(l));
    await sleep(5);
  }
}

// One lag run on a fresh `up`: `rate` writes/s (or "max") for `secs` seconds.
// While it runs, the link's backlog age (lagMs in /links: the oldest write
// westeurope has not applied) is sampled every 250 ms; drainMs is how long
// the backlog took to clear after the load stopped.
async function lagRun(rate, secs) {
  const { proc, ready } = await start(["--log-level", "warn", "up", "--port", "0", "--admin-port", "0", ...storeArgs("up")]);
  try {
    const { client, container: c } = await container(ready.regions[0].endpoint);
    await waitCaughtUp(ready.admin, "uksouth", "westeurope");
    const backlog = [];
    let running = true;
    const sampler = (async () => {
      while (running) {
        await sleep(250);
        const l = await linkStats(ready.admin, "uksouth", "westeurope");
        if (running) backlog.push(Math.round(l.lagMs));
      }
    })();
    const achieved = loadKind === "cpp" ? await loadCpp(ready.regions[0].endpoint, rate, secs)
                                        : await load(c, rate, secs, "lag");
    running = false;
    await sampler;
    const drainMs = await waitCaughtUp(ready.admin, "uksouth", "westeurope");
    const l = await linkStats(ready.admin, "uksouth", "westeurope");
    client.dispose();
    const half = Math.floor(backlog.length / 2);
    return { rate, load: loadKind, seconds: secs, achievedPerSec: Math.round(achieved), applyLagMs: l.applyLagMs,
             entries: l.entriesApplied, overMsPct: await lagTail(ready.admin, "uksouth", "westeurope"),
             backlogMs: { firstHalfMax: Math.max(0, ...backlog.slice(0, half)), secondHalfMax: Math.max(0, ...backlog.slice(half)) },
             drainMs };
  } finally {
    proc.kill("SIGTERM");
  }
}

// Bounded: the backlog does not build up (applied within 50 ms at the 99th
// percentile, and no older than 100 ms in the second half of the run).
const bounded = (r) => r.applyLagMs.p99 <= 50 && r.backlogMs.secondHalfMax <= 100;

async function lagRuns() {
  const out = [];
  for (const rate of rates) {
    if (rate !== "sustained") {
      out.push(await lagRun(rate, seconds));
      continue;
    }
    // The highest rate the pair sustains: the origin's unpaced maximum first,
    // then paced runs at 90%, 80%, ... of it until the lag stays bounded.
    const unpaced = await lagRun("max", Math.min(seconds, 5));
    const tried = [];
    let found = null;
    for (const f of [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]) {
      const r = await lagRun(`${Math.round((unpaced.achievedPerSec * f) / 100) * 100}`, seconds);
      tried.push({ rate: r.rate, achievedPerSec: r.achievedPerSec, p99: r.applyLagMs.p99, backlogMs: r.backlogMs, bounded: bounded(r) });
      if (bounded(r)) {
        found = r;
        break;
      }
    }
    out.push({ rate: "sustained", originUnpacedPerSec: unpaced.achievedPerSec, unpacedApplyLagMs: unpaced.applyLagMs,
               unpacedBacklogMs: unpaced.backlogMs, tried, sustained: found });
  }
  return out;
}

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

async function perfStart() {
  // PERF_CATCHUP=FILE: profile the whole machine during the catch-up with
  // `perf record -a` (software cpu-clock events; no hardware counters in the
  // VM); read it with `perf report -i FILE --sort comm,dso,sym`.
  if (!process.env.PERF_CATCHUP) return null;
  const perf = spawn("perf", ["record", "-a", "-e", "cpu-clock", "-F", "1999", "-g", "-o", process.env.PERF_CATCHUP], { stdio: "ignore" });
  await sleep(300);
  return perf;
}
async function perfStop(perf) {
  if (!perf) return;
  perf.kill("SIGINT");
  await new Promise((r) => perf.once("exit", r));
}

const adminPost = async (admin, p, body) => {
  const res = await fetch(new URL(p, admin), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`POST ${p}: ${res.status} ${await res.text()}`);
  return res.json();
};

// Writes N documents with 32 concurrent SDK requests; returns the write rate.
async function writeN(c, prefix) {
  const t0 = Date.now();
  let n = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (n < catchupN) {
      const i = n++;
      await c.items.create({ id: `${prefix}-${i}`, pk: `p${i % 100}`, pad });
    }
  }));
  return Math.round((catchupN * 1000) / (Date.now() - t0));
}

async function catchupAfterPartition() {
  const { proc, ready } = await start(["--log-level", "error", "up", "--port", "0", "--admin-port", "0", ...storeArgs("cp")]);
  try {
    const { client, container: c } = await container(ready.regions[0].endpoint);
    await waitCaughtUp(ready.admin, "uksouth", "westeurope");
    await adminPost(ready.admin, "/partition", { groups: [["uksouth"], ["westeurope"]] });
    const writeRatePerSec = await writeN(c, "cp");
    client.dispose();
    const { ownLsn: own, appliedLsn: before } = await linkStats(ready.admin, "uksouth", "westeurope");
    const perf = await perfStart();
    const t1 = Date.now();
    await adminPost(ready.admin, "/heal", {});
    for (;;) {
      const l = await linkStats(ready.admin, "uksouth", "westeurope");
      if (l.appliedLsn >= own) break;
      if (Date.now() - t1 > 300000) throw new Error("not caught up: " + JSON.stringify(l));
      await sleep(20);  // coarse: a tight poll costs the CPUs the catch-up needs
    }
    const ms = Date.now() - t1;
    await perfStop(perf);
    return { writes: catchupN, writeRatePerSec, appliedBeforeHeal: before, catchupMs: ms,
             catchupDocsPerSec: Math.round((catchupN * 1000) / ms), note: "heal -> westeurope has applied every write" };
  } finally {
    proc.kill("SIGTERM");
  }
}

async function catchupAfterRestart() {
  let dataUk, dataWe;
  for (;;) {
    dataUk = await freePort();
    dataWe = await freePort();
    if (dataUk > 1000 && dataWe > 1000 && dataUk + 1000 < 65535 && dataWe + 1000 < 65535) break;
  }
  const uk = await start(["--log-level", "error", "serve", "--region", "uksouth", "--port", `${dataUk}`, "--replication-port", `${dataUk + 1000}`,
    "--peer", `westeurope=127.0.0.1:${dataWe + 1000}`, "--admin-port", "0", ...storeArgs("uk")]);
  let we;
  try {
    const { client, container: c } = await container(uk.ready.regions[0].endpoint);
    const writeRatePerSec = await writeN(c, "cu");
    client.dispose();
    const { links } = await adminGet(uk.ready.admin, "/links");
    const own = links.find((l) => l.from === "uksouth").ownLsn;
    const t1 = Date.now();
    we = await start(["--log-level", "error", "serve", "--region", "westeurope", "--port", `${dataWe}`, "--replication-port", `${dataWe + 1000}`,
      "--peer", `uksouth=127.0.0.1:${dataUk + 1000}`, "--admin-port", "0", ...storeArgs("we")]);
    for (;;) {
      const { links: wl } = await adminGet(we.ready.admin, "/links");
      const inbound = wl.find((l) => l.from === "uksouth" && l.to === "westeurope");
      if (inbound && inbound.appliedLsn >= own) break;
      await sleep(20);  // coarse: a tight poll costs the CPUs the catch-up needs
    }
    const ms = Date.now() - t1;
    return { writes: catchupN, writeRatePerSec, catchupMs: ms,
             catchupDocsPerSec: Math.round((catchupN * 1000) / ms), note: "includes westeurope start-up and handshake" };
  } finally {
    uk.proc.kill("SIGTERM");
    we?.proc.kill("SIGTERM");
  }
}

// ---- Redis reference ----
function resp(sock) {
  let buf = "";
  const waiters = [];
  sock.on("data", (d) => {
    buf += d.toString("latin1");
    for (;;) {
      const i = buf.indexOf("\r\n");
      if (i < 0 || !waiters.length) break;
      const line = buf.slice(0, i);
      if (line[0] === "$" && line !== "$-1") {
        const len = Number(line.slice(1));
        if (buf.length < i + 2 + len + 2) break;
        waiters.shift()(buf.slice(i + 2, i + 2 + len));
        buf = buf.slice(i + 2 + len + 2);
      } else {
        waiters.shift()(line === "$-1" ? null : line);
        buf = buf.slice(i + 2);
      }
    }
  });
  return (...cmd) => new Promise((resolve) => {
    waiters.push(resolve);
    sock.write(`*${cmd.length}\r\n` + cmd.map((c) => `$${Buffer.byteLength(String(c))}\r\n${c}\r\n`).join(""));
  });
}
const connect = (port) => new Promise((r) => { const s = net.connect(port, "127.0.0.1", () => r(s)); });

async function redisRuns() {
  const p1 = await freePort(), p2 = await freePort();
  const primary = spawn("redis-server", ["--port", `${p1}`, "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const replica = spawn("redis-server", ["--port", `${p2}`, "--save", "", "--appendonly", "no", "--replicaof", "127.0.0.1", `${p1}`], { stdio: "ignore" });
  try {
    await sleep(300);
    const w = resp(await connect(p1)), r = resp(await connect(p2));
    for (;;) { if ((await r("INFO", "replication")).includes?.("master_link_status:up")) break; await sleep(50); }
    const out = [];
    for (const rate of rates.filter((x) => x !== "max")) {
      const lags = [];
      const interval = 1000 / Number(rate);
      const end = Date.now() + seconds * 1000;
      let next = Date.now(), i = 0;
      while (Date.now() < end) {
        const wait = next - Date.now();
        if (wait > 0) await sleep(wait);
        next += interval;
        const key = `k${rate}-${i++}`;
        await w("SET", key, pad);
        const t = process.hrtime.bigint();
        while ((await r("EXISTS", key)) !== ":1") { /* poll the replica */ }
        lags.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      lags.sort((a, b) => a - b);
      const q = (p) => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))];
      out.push({ rate, writes: lags.length, lagMs: { p50: q(0.5), p99: q(0.99), max: lags[lags.length - 1] },
                 note: "SET acknowledged -> visible on the replica (polling)" });
    }
    return out;
  } finally {
    primary.kill(); replica.kill();
  }
}

const result = { date: new Date().toISOString(), lag: await lagRuns() };
if (catchupN > 0) {
  result.catchupAfterPartition = await catchupAfterPartition();
  if (!args.includes("--no-restart")) result.catchupAfterRestart = await catchupAfterRestart();
}
if (withRedis) result.redis = await redisRuns();
console.log(JSON.stringify(result, null, 2));
