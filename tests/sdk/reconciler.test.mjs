// The invoice story's final design, end to end (examples/invoice-reconciler): last writer wins
// keeps the wrong invoice (1284.49) in every region, the overwritten one (1284.50) is in the
// conflicts feed (recordLosers), and one reconciler instance per region, coordinated by the
// fenced lease "invoice-reconciler", corrects it from the pricing log. Then the two failure
// modes the lease exists for: a deposed holder's write is refused with 412 (fencing), and a
// region cut off from the lease's home region (uksouth) takes no lease and writes nothing.
//
// The example imports "@azure/cosmos" like any application. So that CI needs no second
// `npm install`, a resolve hook lets an import that finds no node_modules of its own fall back
// to this directory's (tests/sdk/node_modules); a user's `npm install` in the example wins.
//
// Nothing sleeps to let replication happen: every wait polls a condition with a deadline
// (the 240 ms between the two writes is the scenario itself).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import { adminOk, linkInfo, makeClient, startUp, waitFor, waitLinksIdle } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const exampleDir = join(here, "../../examples/invoice-reconciler");

// "@azure/cosmos" resolves as usual or, when that finds nothing, as if imported from tests/sdk.
// Installed by importing PRELOAD here, and by `node --import PRELOAD` in spawned scripts
// (module.register, Node >= 20.6; module.registerHooks where register is gone).
const fallbackParent = JSON.stringify(pathToFileURL(join(here, "package.json")).href);
const ASYNC_HOOK =
  "data:text/javascript," +
  encodeURIComponent(`
    export async function resolve(specifier, context, next) {
      try {
        return await next(specifier, context);
      } catch (e) {
        if (e?.code !== "ERR_MODULE_NOT_FOUND" || !specifier.startsWith("@azure/")) throw e;
        return next(specifier, { ...context, parentURL: ${fallbackParent} });
      }
    }`);
const PRELOAD =
  "data:text/javascript," +
  encodeURIComponent(`
    import * as nodeModule from "node:module";
    if (typeof nodeModule.register === "function") {
      nodeModule.register(${JSON.stringify(ASYNC_HOOK)});
    } else {
      nodeModule.registerHooks({
        resolve(specifier, context, next) {
          try {
            return next(specifier, context);
          } catch (e) {
            if (e?.code !== "ERR_MODULE_NOT_FOUND" || !specifier.startsWith("@azure/")) throw e;
            return next(specifier, { ...context, parentURL: ${fallbackParent} });
          }
        },
      });
    }`);
await import(PRELOAD);

const example = (file) => import(pathToFileURL(join(exampleDir, file)).href);
const { createReconciler, decide } = await example("reconciler.mjs");
const { setup } = await example("setup.mjs");
const { DATABASE, INVOICES, PRICINGLOG } = await example("common.mjs");

const UK = "UK South";
const EU = "West Europe";
const REGION_HEADER = "x-ms-regionlab-region";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A log sink for one reconciler instance; the lines go into assertion messages. */
function logSink() {
  const lines = [];
  const log = (m) => lines.push(m);
  log.lines = lines;
  log.text = () => lines.join("\n");
  return log;
}

describe("invoice reconciler: last writer wins + a fenced-lease reconciler (uksouth, westeurope)", () => {
  let server;
  const clients = {};
  const containers = {}; // region display name -> {invoices, pricinglog}
  const instances = [];

  before(async () => {
    server = await startUp({ regions: "uksouth,westeurope" });
    for (const region of [UK, EU]) {
      clients[region] = makeClient(server.regions[region], {
        connectionPolicy: { requestTimeout: 15_000, preferredLocations: [region], enableEndpointDiscovery: true },
      });
    }
    await setup(clients[UK]);
    await waitLinksIdle(server.admin);
    for (const region of [UK, EU]) {
      const db = clients[region].database(DATABASE);
      containers[region] = { invoices: db.container(INVOICES), pricinglog: db.container(PRICINGLOG) };
      await waitFor(`billing/invoices in ${region}`, async () => (await containers[region].invoices.read()).statusCode === 200);
    }
  });
  after(async () => {
    for (const r of instances) await r.release().catch(() => {});
    for (const c of Object.values(clients)) c.dispose();
    await server?.stop();
  });

  /** One reconciler instance in `region` (display name), with its log captured. */
  function instance(region, extra = {}) {
    const short = region.toLowerCase().replace(/\s+/g, "");
    const log = logSink();
    const r = createReconciler({ client: clients[region], region: short, owner: `reconciler-${short}`, log, ...extra });
    r.log = log;
    instances.push(r);
    return r;
  }

  const read = async (region, id) => {
    const res = await containers[region].invoices.item(id, "acme").read();
    assert.equal(res.headers[REGION_HEADER], region === UK ? "uksouth" : "westeurope", "served by the preferred region");
    return res.resource;
  };
  const feed = async (region, id) =>
    (await containers[region].invoices.conflicts.readAll().fetchAll()).resources.filter(
      (c) => id === undefined || c.regionlab?.documentId === id,
    );

  /**
   * The story: the pricing log says 1284.50; cut the regions apart; the invoice is written in
   * uksouth (its home) with 1284.50, then 240 ms later in westeurope with 1284.49; heal. Waits
   * until both regions serve the same version and the overwritten one is in both feeds.
   */
  async function story(invoiceId) {
    const orderId = `order-${invoiceId}`;
    await containers[UK].pricinglog.items.upsert({ id: orderId, customer: "acme", total: 1284.5 });
    await waitLinksIdle(server.admin);
    await adminOk(server.admin, "POST", "/partition", { groups: [["uksouth"], ["westeurope"]] });
    const doc = (total, writtenIn) => ({ id: invoiceId, customer: "acme", orderId, total, homeRegion: "uksouth", writtenIn });
    const a = await containers[UK].invoices.items.upsert(doc(1284.5, "uksouth"));
    assert.equal(a.headers[REGION_HEADER], "uksouth");
    await sleep(240); // the scenario: the second write comes 240 ms later
    const b = await containers[EU].invoices.items.upsert(doc(1284.49, "westeurope"));
    assert.equal(b.headers[REGION_HEADER], "westeurope");
    await adminOk(server.admin, "POST", "/heal");
    await waitLinksIdle(server.admin);
    const winner = await waitFor("both regions to serve the same invoice", async () => {
      const x = await read(UK, invoiceId);
      const y = await read(EU, invoiceId);
      assert.deepEqual(x, y);
      return x;
    });
    const conflict = await waitFor("the overwritten invoice in both conflicts feeds", async () => {
      const f = await feed(UK, invoiceId);
      const g = await feed(EU, invoiceId);
      assert.equal(f.length, 1, JSON.stringify(f));
      assert.deepEqual(g.map((c) => c.id), f.map((c) => c.id));
      return f[0];
    });
    return { winner, conflict };
  }

  /** Waits until both regions serve the corrected invoice and neither feed has a conflict. */
  async function converged(invoiceId, { conflictId, correctedBy }) {
    return waitFor(`both regions to serve the corrected ${invoiceId} with empty conflicts feeds`, async () => {
      const x = await read(UK, invoiceId);
      const y = await read(EU, invoiceId);
      assert.equal(x.total, 1284.5, `uksouth: ${JSON.stringify(x)}`);
      assert.equal(x.correctionOf, conflictId);
      assert.equal(x.correctedBy, correctedBy);
      assert.deepEqual(y, x, "westeurope serves the same version");
      assert.deepEqual(await feed(UK), [], "uksouth feed");
      assert.deepEqual(await feed(EU), [], "westeurope feed");
      return x;
    });
  }

  it("decides by the pricing log, then the home region, then the lower total", () => {
    const w = { total: 1284.49, homeRegion: "uksouth", writtenIn: "westeurope" };
    const l = { total: 1284.5, homeRegion: "uksouth", writtenIn: "uksouth" };
    const p = decide({ winner: w, loser: l, authoritativeTotal: 1284.5 });
    assert.deepEqual([p.keep, p.rule], ["loser", "pricing-log"]);
    assert.equal(decide({ winner: l, loser: w, authoritativeTotal: 1284.5 }).keep, "winner");
    assert.equal(decide({ winner: w, loser: l, authoritativeTotal: 9.99 }).rule, "home-region");
    assert.equal(decide({ winner: w, loser: l }).keep, "loser");
    // The region from the conflict record when the documents do not say where they were written.
    const bare = (total) => ({ total, homeRegion: "uksouth" });
    assert.equal(decide({ winner: bare(2), loser: bare(3), winnerRegion: "westeurope", loserRegion: "uksouth" }).keep, "loser");
    const h = decide({ winner: { total: 5 }, loser: { total: 4 } });
    assert.deepEqual([h.keep, h.rule], ["loser", "lower-total"]);
    assert.equal(decide({ winner: { total: 4 }, loser: { total: 4 } }).keep, "winner");
  });

  it("LWW keeps 1284.49 everywhere; exactly one instance holds the lease and corrects it to 1284.50", async () => {
    const { winner, conflict } = await story("inv-1001");
    assert.equal(winner.total, 1284.49, "last writer wins on _ts silently kept the wrong total");
    assert.equal(winner.writtenIn, "westeurope");
    assert.equal(JSON.parse(conflict.content).total, 1284.5, "the overwritten invoice is in the feed");
    assert.equal(conflict.regionlab.loser.region, "uksouth");

    const uk = instance(UK);
    const eu = instance(EU);
    const summaries = await Promise.all([uk.pass(), eu.pass()]);
    const logs = () => `\n${JSON.stringify(summaries)}\n${uk.log.text()}\n${eu.log.text()}`;
    const holders = summaries.filter((s) => s.holder);
    assert.equal(holders.length, 1, `exactly one holder${logs()}`);
    const [held] = holders;
    const other = summaries.find((s) => !s.holder);
    assert.equal(held.lease, "held");
    assert.equal(typeof held.token, "number");
    assert.deepEqual([held.handled, held.corrected, held.fencedOut, held.errors], [1, 1, 0, 0], logs());
    assert.equal(other.lease, "held-by-other", logs());
    assert.equal(other.heldBy, held.owner);
    assert.deepEqual([other.handled, other.corrected], [0, 0], logs());
    assert.ok(other.skippedNotHolder <= 1, logs());
    const holderLog = (held.owner === uk.owner ? uk : eu).log.text();
    assert.match(holderLog, /keep the loser \[pricing-log/, holderLog);

    const fixed = await converged("inv-1001", { conflictId: conflict.id, correctedBy: held.owner });
    assert.equal(fixed.writtenIn, "uksouth", "the corrected content is the uksouth version");

    // Nothing left to do: further passes change nothing.
    const again = await Promise.all([uk.pass(), eu.pass()]);
    for (const s of again) assert.deepEqual([s.handled, s.corrected, s.errors], [0, 0, 0], JSON.stringify(again));
    assert.equal((await read(EU, "inv-1001"))._etag, fixed._etag);
    await uk.release();
    await eu.release();
  });

  it("a deposed holder's fenced correction is refused with 412; the new holder makes it", async () => {
    const { conflict } = await story("inv-1002");
    const ttlMs = 10_000;
    const eu = instance(EU, { ttlMs });
    let stale;
    // The uksouth instance takes the lease, decides, and then "pauses" (GC, slow disk) for
    // longer than its lease: the home region's clock passes the expiry and westeurope's
    // instance takes over. When uksouth's instance resumes it writes with its old token.
    const uk = instance(UK, {
      ttlMs,
      hooks: {
        async beforeWrite({ token, decision }) {
          assert.equal(decision.keep, "loser");
          try {
            await adminOk(server.admin, "POST", "/regions/uksouth/clock", { skewMs: ttlMs + 5_000 });
            stale = { token, successor: await eu.ensureLease() };
          } finally {
            await adminOk(server.admin, "POST", "/regions/uksouth/clock", { skewMs: 0 });
          }
        },
      },
    });
    const s = await uk.pass();
    const logs = () => `\n${JSON.stringify(s)}\n${uk.log.text()}\n${eu.log.text()}`;
    assert.ok(stale, `the uksouth instance got to the write${logs()}`);
    assert.equal(stale.successor.holder, true, `westeurope took over: ${JSON.stringify(stale.successor)}${logs()}`);
    assert.ok(stale.successor.token > stale.token, `tokens increase: ${stale.token} then ${stale.successor.token}`);
    assert.equal(s.holder, true, logs());
    assert.equal(s.token, stale.token);
    assert.deepEqual([s.fencedOut, s.corrected, s.handled], [1, 0, 0], logs());
    assert.match(uk.log.text(), /REFUSED \(412\).*stale/, logs());
    assert.equal(uk.token, null, "the deposed instance knows it lost the lease");

    // The refused write changed nothing: still the LWW winner, still in the feed.
    assert.equal((await read(UK, "inv-1002")).total, 1284.49);
    assert.equal((await feed(UK, "inv-1002")).length, 1);

    // The new holder corrects it; the deposed one stays out.
    const e = await eu.pass();
    assert.deepEqual([e.holder, e.token, e.corrected, e.handled], [true, stale.successor.token, 1, 1], logs() + JSON.stringify(e));
    await converged("inv-1002", { conflictId: conflict.id, correctedBy: eu.owner });
    const u = await uk.pass();
    assert.deepEqual([u.holder, u.lease, u.heldBy, u.corrected], [false, "held-by-other", eu.owner, 0], JSON.stringify(u));
    await eu.release();
  });

  it("partitioned: the region cut off from the lease's home (uksouth) takes no lease and writes nothing", async () => {
    const { conflict } = await story("inv-1003");
    // (a long lease, so that it is still uksouth's when westeurope checks after the heal)
    const uk = instance(UK, { ttlMs: 30_000 });
    const eu = instance(EU);
    await adminOk(server.admin, "POST", "/partition", { groups: [["uksouth"], ["westeurope"]] });
    try {
      const euLsn = (await linkInfo(server.admin, "westeurope", "uksouth")).ownLsn;
      const s = await eu.pass();
      const logs = () => `\n${JSON.stringify(s)}\n${uk.log.text()}\n${eu.log.text()}`;
      assert.deepEqual(
        [s.holder, s.lease, s.token, s.handled, s.corrected, s.skippedNotHolder],
        [false, "unavailable", null, 0, 0, 1],
        logs(),
      );
      assert.match(eu.log.text(), /cannot reach the lease's home region uksouth/, logs());
      // No write came from westeurope: its own log did not advance, the wrong invoice and the
      // conflict are untouched there.
      assert.equal((await linkInfo(server.admin, "westeurope", "uksouth")).ownLsn, euLsn, "westeurope wrote nothing");
      assert.equal((await read(EU, "inv-1003")).total, 1284.49);
      assert.equal((await feed(EU, "inv-1003")).length, 1);

      // The home side carries on: uksouth's instance takes the lease and corrects locally.
      const u = await uk.pass();
      assert.deepEqual([u.holder, u.corrected, u.handled, u.errors], [true, 1, 1, 0], JSON.stringify(u) + uk.log.text());
      assert.equal((await read(UK, "inv-1003")).total, 1284.5);
      // westeurope still cannot take it, still writes nothing.
      const s2 = await eu.pass();
      assert.deepEqual([s2.holder, s2.lease, s2.corrected], [false, "unavailable", 0], JSON.stringify(s2));
      assert.equal((await linkInfo(server.admin, "westeurope", "uksouth")).ownLsn, euLsn, "westeurope wrote nothing");
      assert.equal((await read(EU, "inv-1003")).total, 1284.49, "westeurope has not heard of the correction yet");
    } finally {
      await adminOk(server.admin, "POST", "/heal");
    }
    const fixed = await converged("inv-1003", { conflictId: conflict.id, correctedBy: uk.owner });
    assert.equal(fixed.correctedIn, "uksouth");
    // After the heal westeurope reaches the home region again and finds the lease held.
    const s3 = await waitFor("westeurope's instance to reach the home region", async () => {
      const r = await eu.pass();
      assert.notEqual(r.lease, "unavailable", JSON.stringify(r));
      return r;
    });
    assert.deepEqual([s3.holder, s3.heldBy, s3.corrected], [false, uk.owner, 0], JSON.stringify(s3));
    await uk.release();
  });
});

/** Runs `node [--import PRELOAD] <script> <args>` in the example directory. */
function runScript(script, args, { timeoutMs = 30_000 } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", PRELOAD, script, ...args], {
      cwd: exampleDir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      p.kill("SIGKILL");
      reject(new Error(`${script} ${args.join(" ")}: no exit within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    p.on("error", reject);
    p.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("invoice reconciler: the README walkthrough (setup.mjs, story.mjs, reconciler.mjs --once)", () => {
  let server;
  before(async () => {
    server = await startUp({ regions: "uksouth,westeurope" });
  });
  after(async () => {
    await server?.stop();
  });

  it("runs as documented and leaves the corrected invoice in both regions", async () => {
    const uk = server.regions[UK];
    const eu = server.regions[EU];
    const show = (r) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

    const s = await runScript("setup.mjs", ["--endpoint", uk]);
    assert.equal(s.code, 0, show(s));
    assert.match(s.stdout, /"recordLosers":true/, show(s));
    const st = await runScript("story.mjs", ["--admin", server.admin]);
    assert.equal(st.code, 0, show(st));
    assert.match(st.stdout, /last writer wins kept total 1284\.49/, show(st));
    assert.match(st.stdout, /conflicts feed: .*lost 1284\.5 \(uksouth\)/, show(st));

    const runs = await Promise.all([
      runScript("reconciler.mjs", ["--endpoint", uk, "--location", UK, "--once"]),
      runScript("reconciler.mjs", ["--endpoint", eu, "--location", EU, "--once"]),
    ]);
    const summaries = runs.map((r) => {
      assert.equal(r.code, 0, show(r));
      const lines = r.stdout.trim().split("\n");
      assert.equal(lines.length, 1, `one JSON summary line per pass: ${show(r)}`);
      return JSON.parse(lines[0]);
    });
    const all = runs.map(show).join("\n");
    assert.deepEqual(summaries.map((x) => x.owner).sort(), ["reconciler-uksouth", "reconciler-westeurope"]);
    assert.equal(summaries.reduce((n, x) => n + x.corrected, 0), 1, all);
    assert.ok(summaries.every((x) => x.errors === 0 && x.fencedOut === 0), all);
    const fixer = summaries.find((x) => x.corrected === 1);
    assert.equal(fixer.holder, true);
    assert.match(all, /keep the loser \[pricing-log/);
    assert.match(all, /released lease invoice-reconciler/);

    const check = [];
    for (const [region, endpoint] of [
      [UK, uk],
      [EU, eu],
    ]) {
      check.push(makeClient(endpoint, { connectionPolicy: { requestTimeout: 15_000, preferredLocations: [region] } }));
    }
    try {
      await waitFor("the corrected invoice in both regions, both feeds empty", async () => {
        const got = [];
        for (const c of check) {
          const invoices = c.database(DATABASE).container(INVOICES);
          got.push((await invoices.item("inv-1001", "acme").read()).resource);
          assert.deepEqual((await invoices.conflicts.readAll().fetchAll()).resources, []);
        }
        assert.equal(got[0].total, 1284.5, JSON.stringify(got[0]));
        assert.equal(got[0].correctedBy, fixer.owner);
        assert.deepEqual(got[1], got[0]);
        return true;
      });
    } finally {
      for (const c of check) c.dispose();
    }
  });
});

describe("invoice reconciler: setup.mjs after the README tour", () => {
  let server;
  before(async () => {
    server = await startUp({ regions: "uksouth,westeurope" });
  });
  after(async () => {
    await server?.stop();
  });

  it("refuses the tour's billing/invoices (partition key /customerId) with a clear message", async () => {
    const client = makeClient(server.regions[UK]);
    try {
      const { database } = await client.databases.createIfNotExists({ id: "billing" });
      await database.containers.createIfNotExists({ id: "invoices", partitionKey: "/customerId" });
    } finally {
      client.dispose();
    }
    const s = await runScript("setup.mjs", ["--endpoint", server.regions[UK]]);
    assert.equal(s.code, 2, `exit ${s.code}\n${s.stdout}\n${s.stderr}`);
    assert.match(s.stderr, /billing\/invoices exists with partition key \["\/customerId"\]/);
    assert.match(s.stderr, /needs \["\/customer"\]/);
  });
});
