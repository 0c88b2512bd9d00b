// The failover drill, on a laptop, in seconds:
//
//   node drill.mjs [--regionlab PATH] [--time-scale 60] [--pops 2] [--interval 30s]
//                  [--sample-size 4] [--successful-samples 3] [--offline-mode 503|403]
//                  [--lenient-health] [--wait-ms 30000] [--json]
//
//  1. `regionlab up` (uksouth, westeurope; in memory);
//  2. app.mjs once per region (its client prefers its own region; /health/deep writes to Cosmos);
//  3. `regionlab frontdoor` in front of the two apps: uksouth priority 1, westeurope priority 2,
//     probes on /health/deep with the story's settings (30 s, 4, 3) at --time-scale;
//  4. steady traffic through the front door, through every POP: new orders, and one "hot"
//     document written over and over;
//  5. the primary region's data plane goes offline (503);
//  6. when every POP sends traffic to westeurope: the failover timeline (`regionlab frontdoor
//     report`), what the client saw, and the split-brain report (the hot document was written
//     in both regions within a second).
// Everything it starts, it stops. --json prints one summary line at the end (for tests).
import { spawn, execFile } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${JSON.stringify(a)}`);
    const name = a.slice(2);
    if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) out[name] = argv[++i];
    else out[name] = true;
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const BIN = path.resolve(args.regionlab || process.env.REGIONLAB_BIN || path.join(HERE, "../../build/server/regionlab"));
const SCALE = Number(args["time-scale"] ?? 60);
const POPS = Number(args.pops ?? 2);
const json = Boolean(args.json);
const say = (...m) => {
  if (!json) console.log(...m);
  else console.error(...m);
};

const children = [];
process.on("exit", () => children.forEach((c) => c.exitCode === null && c.kill("SIGKILL")));

/** Spawns a process and resolves with its JSON ready line. */
function start(command, argv, label) {
  const proc = spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"] });
  children.push(proc);
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr = (stderr + d).slice(-20_000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label}: no ready line in 20 s\n${stderr}`)), 20_000);
    proc.on("exit", (code) => reject(new Error(`${label} exited (${code}) before its ready line\n${stderr}`)));
    createInterface({ input: proc.stdout }).on("line", (line) => {
      try {
        const msg = JSON.parse(line);
        if (msg.event === "ready") {
          clearTimeout(timer);
          resolve({ proc, ready: msg });
        }
      } catch {
        /* not JSON */
      }
    });
  });
}

async function stopAll() {
  for (const c of children.reverse()) {
    if (c.exitCode !== null) continue;
    c.kill("SIGTERM");
    await Promise.race([new Promise((r) => c.once("exit", r)), sleep(5_000)]);
    if (c.exitCode === null) c.kill("SIGKILL");
  }
}

async function api(base, method, p, body) {
  const res = await fetch(base.replace(/\/+$/, "") + p, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p} -> ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function until(what, fn, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

try {
  // 1-3: the cluster, one app per region, the front door.
  const up = await start(BIN, ["up", "--ephemeral", "--port", "0", "--admin-port", "0"], "regionlab up");
  const admin = up.ready.admin;
  const endpoint = Object.fromEntries(up.ready.regions.map((r) => [r.name, r.endpoint]));
  say(`regionlab up: admin ${admin}, UK South ${endpoint["UK South"]}, West Europe ${endpoint["West Europe"]}`);
  const node = [...process.execArgv, path.join(HERE, "app.mjs")];
  const apps = {};
  for (const [name, location] of [["uksouth", "UK South"], ["westeurope", "West Europe"]]) {
    const appArgs = [...node, "--endpoint", endpoint[location], "--location", location];
    if (args["lenient-health"]) appArgs.push("--lenient-health");
    const app = await start(process.execPath, appArgs, `app ${name}`);
    apps[name] = app.ready.url.replace(/\/+$/, "");
    say(`app ${name}: ${apps[name]} (its client prefers ${location})`);
  }
  const fd = await start(
    BIN,
    [
      "frontdoor", "--listen", "0", "--admin-port", "0",
      "--origin", `uksouth=${apps.uksouth},priority=1`, "--origin", `westeurope=${apps.westeurope},priority=2`,
      "--probe-path", "/health/deep", "--probe-method", "GET", "--probe-interval", args.interval ?? "30s",
      "--sample-size", String(args["sample-size"] ?? 4), "--successful-samples", String(args["successful-samples"] ?? 3),
      "--pops", String(POPS), "--time-scale", String(SCALE),
    ],
    "regionlab frontdoor",
  );
  const front = fd.ready.frontDoor;
  const fdAdmin = fd.ready.admin;
  say(`front door: ${front} (admin ${fdAdmin}), ${POPS} POPs, time x${SCALE}`);
  await until("full probe windows at every POP", async () => {
    const st = await api(fdAdmin, "GET", "/frontdoor");
    return st.origins.every((o) => o.pops.every((p) => p.windowText.length === st.settings.sampleSize && p.healthy));
  });
  const promise = (await api(fdAdmin, "GET", "/frontdoor")).promise;
  say(`the settings promise: every POP off a dead origin within ${promise.worstCaseFdMs / 1000} s ` +
      `(${promise.worstCaseWallMs} ms at x${SCALE})`);

  // 4: steady traffic through every POP.
  const log = [];
  let stopTraffic = false;
  const traffic = (async () => {
    for (let i = 0; !stopTraffic; i++) {
      const pop = i % POPS;
      const hot = i % 3 === 0;
      const t = Date.now();
      try {
        const res = await fetch(front + (hot ? "orders/hot" : "orders"), {
          method: hot ? "PUT" : "POST",
          headers: { "content-type": "application/json", "x-regionlab-pop": String(pop) },
          body: JSON.stringify({ customer: "acme", total: 100 + i, seq: i }),
          signal: AbortSignal.timeout(10_000),
        });
        const body = await res.json().catch(() => ({}));
        log.push({ t, pop, hot, status: res.status, origin: res.headers.get("x-regionlab-origin"), servedBy: body.servedBy });
      } catch (e) {
        log.push({ t, pop, hot, status: 0, origin: null, error: e.message });
      }
    }
  })();
  await until("traffic", async () => log.length >= 30);

  // 5: the primary region's data plane goes down.
  const faultAt = Date.now();
  const mode = String(args["offline-mode"] ?? "503");
  await api(admin, "POST", "/regions/uksouth/offline", { mode });
  say(`\n${new Date(faultAt).toISOString()}  uksouth's data plane is offline (${mode})`);
  const onWestEurope = (pop) => {
    const recent = log.filter((r) => r.pop === pop && r.t > faultAt).slice(-5);
    return recent.length === 5 && recent.every((r) => r.origin === "westeurope" && r.status === 200);
  };
  const waitMs = Number(args["wait-ms"] ?? 30_000);
  await until("every POP on westeurope", async () => [...Array(POPS).keys()].every(onWestEurope), waitMs).catch((e) => {
    say(`\n${e.message}: the front door never moved the traffic (see the report below)`);
  });
  stopTraffic = true;
  await traffic;

  // 6: what happened.
  const afterFault = log.filter((r) => r.t >= faultAt);
  const toOld = afterFault.filter((r) => r.origin === "uksouth");
  const failed = afterFault.filter((r) => r.status !== 200);
  const report = await api(fdAdmin, "GET", "/frontdoor/failover");
  await until("replication caught up", async () => {
    const { links } = await api(admin, "GET", "/links");
    return links.every((l) => l.connected === true && l.ackedLsn === l.ownLsn && l.queue === 0);
  }, 10_000);
  const splitbrain = await api(admin, "GET", `/splitbrain?windowMs=1000&database=drill`);
  const { stdout: reportText } = await run(BIN, ["frontdoor", "report", "--admin", fdAdmin]);
  const { stdout: splitText } = await run(BIN, ["splitbrain", "--admin", admin, "--db", "drill"]);
  const summary = {
    faultAtMs: faultAt,
    promise,
    requests: log.length,
    afterFault: afterFault.length,
    lastToOldAfterFaultMs: toOld.length ? Math.max(...toOld.map((r) => r.t)) - faultAt : null,
    requestsToOldAfterFault: toOld.length,
    failedAfterFault: failed.map(({ t, pop, status, origin, error }) => ({ afterFaultMs: t - faultAt, pop, status, origin, error })),
    servedByAfterFault: afterFault.reduce((m, r) => {
      const k = `${r.origin}->${r.status === 200 ? r.servedBy : `failed ${r.status}`}`;
      m[k] = (m[k] ?? 0) + 1;
      return m;
    }, {}),
    failover: report.failover,
    splitbrain,
  };
  if (json) {
    console.log(JSON.stringify(summary));
  } else {
    console.log("\n" + reportText);
    console.log(`what the client saw after the fault: ${afterFault.length} requests, ${toOld.length} to uksouth ` +
                `(the last ${summary.lastToOldAfterFaultMs} ms after the fault), ${failed.length} failed`);
    for (const [k, n] of Object.entries(summary.servedByAfterFault)) {
      const [app, region] = k.split("->");
      const what = region.startsWith("failed") ? `the write ${region}` : `its write served by region ${region}`;
      console.log(`  ${String(n).padStart(5)} answered by app ${app}, ${what}`);
    }
    console.log("\n" + splitText);
  }
} catch (e) {
  console.error(`drill failed: ${e.stack || e}`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
