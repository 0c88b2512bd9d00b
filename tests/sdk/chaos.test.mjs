// Fault injection end to end: `regionlab up` with two regions, the real @azure/cosmos SDK, and
// the management API's faults (docs/chaos.md): a one-way replication delay, loss, duplication and
// reordering, a partition that makes conflicts, a region offline (403) with SDK failover, clock
// skew in _ts, kill and restart of one region, and `up --scenario FILE`. Nothing sleeps to let
// replication happen: everything polls a condition with a deadline.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import {
  adminGet,
  adminOk,
  adminRequest,
  digestByRegion,
  linkInfo,
  makeClient,
  makeTempDir,
  rmTemp,
  startUp,
  uid,
  waitFor,
  waitLinksIdle,
} from "./harness.mjs";

const REGION_HEADER = "x-ms-regionlab-region";
const CONVERGE_MS = 20_000;
const regionOf = (response) => response.headers && response.headers[REGION_HEADER];

function regionClient(endpoint, preferred) {
  return makeClient(endpoint, {
    connectionPolicy: { requestTimeout: 15_000, preferredLocations: [].concat(preferred) },
  });
}

/** Waits until both regions hold the same documents in dbId/cId (and `count` of them, if given). */
async function waitConverged(admin, dbId, cId, count) {
  return waitFor(
    `${dbId}/${cId} equal in both regions${count === undefined ? "" : ` with ${count} documents`}`,
    async () => {
      const by = await digestByRegion(admin);
      const entries = Object.entries(by).map(([r, cs]) => [r, cs.find((c) => c.database === dbId && c.container === cId)]);
      assert.equal(entries.length, 2, JSON.stringify(by));
      for (const [r, e] of entries) assert.ok(e, `${r} lacks the container: ${JSON.stringify(by)}`);
      assert.deepEqual(entries[0][1], entries[1][1], `digests differ: ${JSON.stringify(entries)}`);
      if (count !== undefined) assert.equal(entries[0][1].count, count, JSON.stringify(entries));
      return entries[0][1];
    },
    { timeoutMs: CONVERGE_MS },
  );
}

/** Reads id through `container` until it satisfies `pred` (default: exists). */
async function waitRead(container, id, pk, what, pred = () => true) {
  return waitFor(
    what,
    async () => {
      const r = await container.item(id, pk).read();
      assert.equal(r.statusCode, 200, `read ${id}: ${r.statusCode} (served by ${regionOf(r)})`);
      assert.ok(pred(r.resource), `${id} is ${JSON.stringify(r.resource)}`);
      return r;
    },
    { timeoutMs: CONVERGE_MS },
  );
}

const totalConflicts = async (admin) =>
  (await adminGet(admin, "/links")).links.reduce((n, l) => n + (l.conflicts ?? 0), 0);

// -------------------------------------------------------------------------------------------
describe("link and region faults (up --regions uksouth,westeurope --seed 7)", { timeout: 120_000 }, () => {
  let server;
  let uk; // prefers UK South
  let we; // prefers West Europe
  let ukC;
  let weC;
  const clients = [];
  const dbId = uid("chaos");
  const cId = "docs";

  before(async () => {
    server = await startUp({ regions: "uksouth,westeurope", extraArgs: ["--seed", "7"] });
    await waitLinksIdle(server.admin, { expectLinks: 2 });
    uk = regionClient(server.regions["UK South"], "UK South");
    we = regionClient(server.regions["West Europe"], "West Europe");
    clients.push(uk, we);
    const { database } = await uk.databases.create({ id: dbId });
    await database.containers.create({ id: cId, partitionKey: { paths: ["/pk"] } });
    ukC = uk.database(dbId).container(cId);
    weC = we.database(dbId).container(cId);
    await waitFor("the container in West Europe", async () => (await weC.read()).resource);
  });
  afterEach(async () => {
    // Every test leaves a healthy cluster behind, whatever it did.
    await adminOk(server.admin, "POST", "/heal");
    await waitLinksIdle(server.admin, { timeoutMs: CONVERGE_MS });
  });
  after(async () => {
    for (const c of clients) c.dispose();
    if (server) await server.stop();
  });

  it("GET /regions reports the seed given on the command line", async () => {
    const r = await adminGet(server.admin, "/regions");
    assert.equal(r.seed, 7);
    assert.deepEqual(r.regions.map((x) => x.state), ["online", "online"]);
  });

  it("a 240 ms delay on uksouth -> westeurope lags that direction only", async (t) => {
    const put = await adminOk(server.admin, "PUT", "/links/uksouth/westeurope", { delayMs: 240 });
    assert.equal(put.faults.delayMs, 240);
    const delayed = [];
    const direct = [];
    const polled = [];
    for (let i = 0; i < 4; i++) {
      const w = await ukC.items.upsert({ id: `slow-${i}`, pk: "p", i });
      assert.equal(regionOf(w), "uksouth");
      const t0 = Date.now();
      await waitRead(weC, `slow-${i}`, "p", `slow-${i} in West Europe`);
      polled.push(Date.now() - t0);
      delayed.push((await linkInfo(server.admin, "uksouth", "westeurope")).lastApplyLagMs);

      const w2 = await weC.items.upsert({ id: `fast-${i}`, pk: "p", i });
      assert.equal(regionOf(w2), "westeurope");
      await waitRead(ukC, `fast-${i}`, "p", `fast-${i} in UK South`);
      direct.push((await linkInfo(server.admin, "westeurope", "uksouth")).lastApplyLagMs);
    }
    t.diagnostic(`apply lag uksouth->westeurope (240 ms delay): ${delayed.join(", ")} ms`);
    t.diagnostic(`apply lag westeurope->uksouth (no fault): ${direct.join(", ")} ms`);
    t.diagnostic(`write -> visible through the SDK in westeurope: ${polled.join(", ")} ms`);
    for (const lag of delayed) assert.ok(lag >= 240, `delayed direction: lag ${lag} ms < 240 (${delayed})`);
    for (const lag of direct) assert.ok(lag < 240, `other direction: lag ${lag} ms >= 240 (${direct})`);
    const link = await linkInfo(server.admin, "uksouth", "westeurope");
    assert.equal(link.faults.delayMs, 240);
    assert.ok(link.framesDelayed > 0, JSON.stringify(link));
    assert.ok(link.applyLagMs.max >= 240, JSON.stringify(link));
    const back = await linkInfo(server.admin, "westeurope", "uksouth");
    assert.equal(back.faults.delayMs, 0);
    assert.equal(back.framesDelayed, 0, JSON.stringify(back));
  });

  it("30% loss both ways costs time, never a write", async () => {
    for (const [a, b] of [["uksouth", "westeurope"], ["westeurope", "uksouth"]]) {
      await adminOk(server.admin, "PUT", `/links/${a}/${b}`, { dropRate: 0.3 });
    }
    const before = await digestByRegion(server.admin);
    const had = before.uksouth.find((c) => c.database === dbId && c.container === cId)?.count ?? 0;
    const N = 30;
    await Promise.all([
      (async () => {
        for (let i = 0; i < N; i++) await ukC.items.create({ id: uid("loss-uk"), pk: "p", i });
      })(),
      (async () => {
        for (let i = 0; i < N; i++) await weC.items.create({ id: uid("loss-we"), pk: "p", i });
      })(),
    ]);
    const lossy = await linkInfo(server.admin, "uksouth", "westeurope");
    const lossyBack = await linkInfo(server.admin, "westeurope", "uksouth");
    assert.ok(lossy.framesDropped + lossyBack.framesDropped > 0, `no frame dropped: ${JSON.stringify([lossy, lossyBack])}`);
    for (const [a, b] of [["uksouth", "westeurope"], ["westeurope", "uksouth"]]) {
      await adminOk(server.admin, "DELETE", `/links/${a}/${b}`);
    }
    await waitConverged(server.admin, dbId, cId, had + 2 * N);
  });

  it("50% duplication plus reordering ends at the last value of a sequence of updates, with no conflict", async () => {
    const faults = { duplicateRate: 0.5, reorderRate: 0.5, jitterMs: 2 };
    await adminOk(server.admin, "PUT", "/links/uksouth/westeurope", faults);
    await adminOk(server.admin, "PUT", "/links/westeurope/uksouth", faults);
    const conflictsBefore = await totalConflicts(server.admin);
    const id = uid("seq");
    for (let n = 0; n < 40; n++) await ukC.items.upsert({ id, pk: "p", n });
    const last = await waitRead(weC, id, "p", `${id} at n=39 in West Europe`, (d) => d.n === 39);
    assert.equal(regionOf(last), "westeurope");
    const link = await linkInfo(server.admin, "uksouth", "westeurope");
    assert.ok(link.framesDuplicated > 0, `no duplicate: ${JSON.stringify(link)}`);
    assert.ok(link.framesReordered > 0, `no reordering: ${JSON.stringify(link)}`);
    await waitConverged(server.admin, dbId, cId);
    assert.equal((await ukC.item(id, "p").read()).resource.n, 39);
    assert.equal(await totalConflicts(server.admin), conflictsBefore, "a single writer's updates made a conflict");
  });

  it("a partition with writes to the same ids on both sides makes conflicts on heal", async () => {
    const cut = await adminOk(server.admin, "POST", "/partition", { groups: [["uksouth"], ["westeurope"]] });
    assert.equal(cut.cut.length, 2);
    const links = (await adminGet(server.admin, "/links")).links;
    assert.ok(links.every((l) => l.faults.partitioned === true), JSON.stringify(links));
    const conflictsBefore = await totalConflicts(server.admin);
    const ids = [0, 1, 2, 3, 4].map(() => uid("split"));
    for (const id of ids) {
      await ukC.items.upsert({ id, pk: "p", side: "uksouth" });
      await weC.items.upsert({ id, pk: "p", side: "westeurope" });
    }
    // Neither side saw the other's version: the frames died on the cut links.
    await waitFor("frames dropped on the cut", async () => (await linkInfo(server.admin, "uksouth", "westeurope")).framesDropped > 0);
    for (const id of ids) assert.equal((await weC.item(id, "p").read()).resource.side, "westeurope");

    await adminOk(server.admin, "POST", "/heal");
    const conflicts = await waitFor(
      "conflicts counted after the heal",
      async () => {
        const n = (await totalConflicts(server.admin)) - conflictsBefore;
        assert.ok(n >= ids.length, `${n} conflicts so far`);
        return n;
      },
      { timeoutMs: CONVERGE_MS },
    );
    assert.ok(conflicts >= ids.length);
    await waitConverged(server.admin, dbId, cId);
    for (const id of ids) {
      const [a, b] = await Promise.all([ukC.item(id, "p").read(), weC.item(id, "p").read()]);
      assert.equal(a.resource._etag, b.resource._etag, `${id}: the regions chose different winners`);
    }
    const metrics = await (await fetch(server.admin.replace(/\/+$/, "") + "/metrics")).text();
    assert.match(metrics, /^regionlab_conflicts_total\{from="westeurope",to="uksouth"\} [1-9]/m);
    assert.match(metrics, /^regionlab_link_frames_dropped_total\{from="uksouth",to="westeurope"\} [1-9]/m);
  });

  it("a region offline in 403 mode: the SDK writes on the next preferred region; /health/deep is 503", async () => {
    const failing = regionClient(server.regions["UK South"], ["UK South", "West Europe"]);
    clients.push(failing);
    const c = failing.database(dbId).container(cId);
    const first = await c.items.create({ id: uid("pre"), pk: "p" });
    assert.equal(regionOf(first), "uksouth");
    await adminOk(server.admin, "POST", "/regions/uksouth/offline", { mode: "403" });
    const deep = await fetch(new URL("health/deep", server.regions["UK South"]));
    assert.equal(deep.status, 503);
    assert.equal((await adminGet(server.admin, "/regions")).regions[0].state, "offline-403");
    for (let i = 0; i < 3; i++) {
      const w = await c.items.create({ id: uid("failover"), pk: "p", i });
      assert.equal(w.statusCode, 201);
      assert.equal(regionOf(w), "westeurope", "the write was not failed over to West Europe");
    }
    await adminOk(server.admin, "POST", "/regions/uksouth/online");
    assert.equal((await fetch(new URL("health/deep", server.regions["UK South"]))).status, 200);
  });

  it("clock skew shows in _ts: +300000 ms puts westeurope's _ts 300 s ahead", async () => {
    const r = await adminOk(server.admin, "POST", "/regions/westeurope/clock", { skewMs: 300_000 });
    assert.equal(r.clockSkewMs, 300_000);
    const a = await ukC.items.create({ id: uid("ts-uk"), pk: "p" });
    const b = await weC.items.create({ id: uid("ts-we"), pk: "p" });
    assert.equal(regionOf(b), "westeurope");
    const diff = b.resource._ts - a.resource._ts;
    assert.ok(diff >= 299 && diff <= 302, `_ts difference ${diff} s (uksouth ${a.resource._ts}, westeurope ${b.resource._ts})`);
    assert.equal((await adminGet(server.admin, "/regions")).regions[1].clockSkewMs, 300_000);
  });

  it("kill, writes elsewhere, restart: the region catches up with nothing lost", async () => {
    const before = [];
    for (let i = 0; i < 3; i++) before.push((await weC.items.create({ id: uid("pre-kill"), pk: "p", i })).resource.id);
    await waitRead(ukC, before[2], "p", "the pre-kill writes in UK South");

    const killed = await adminOk(server.admin, "POST", "/regions/westeurope/kill");
    assert.equal(killed.state, "killed");
    assert.equal((await adminGet(server.admin, "/regions")).regions[1].state, "killed");
    await assert.rejects(fetch(new URL("health", server.regions["West Europe"])), "the killed region's port still answers");
    const again = await adminRequest(server.admin, "POST", "/regions/westeurope/kill");
    assert.equal(again.status, 409, again.text);
    const off = await adminRequest(server.admin, "POST", "/regions/westeurope/offline", { mode: "503" });
    assert.equal(off.status, 409, off.text);
    assert.match(off.json.message, /killed/);
    const link = await linkInfo(server.admin, "westeurope", "uksouth");
    assert.equal(link.connected, false);

    const during = [];
    for (let i = 0; i < 20; i++) during.push((await ukC.items.create({ id: uid("during-kill"), pk: "p", i })).resource.id);

    const restarted = await adminOk(server.admin, "POST", "/regions/westeurope/restart");
    assert.equal(restarted.state, "online");
    await waitConverged(server.admin, dbId, cId);
    for (const id of [...before, ...during]) {
      const r = await weC.item(id, "p").read();
      assert.equal(r.statusCode, 200, `${id} missing in West Europe after the restart`);
      assert.equal(regionOf(r), "westeurope");
    }
  });
});

// -------------------------------------------------------------------------------------------
describe("up --scenario FILE", { timeout: 60_000 }, () => {
  let dir;
  let server;
  before(() => {
    dir = makeTempDir("regionlab-chaos-");
  });
  after(async () => {
    if (server) await server.stop();
    rmTemp(dir);
  });

  it("runs the timeline from the start", async () => {
    const file = path.join(dir, "scenario.json");
    writeFileSync(
      file,
      JSON.stringify([
        { atMs: 0, put: { from: "uksouth", to: "westeurope", delayMs: 100, jitterMs: 5 } },
        { atMs: 1000, partition: { groups: [["uksouth"], ["westeurope"]] } },
        { atMs: 2000, region: { name: "westeurope", offline: "503" } },
        { atMs: 2000, clock: { region: "westeurope", skewMs: 1500 } },
        { atMs: 3000, heal: true },
      ]),
    );
    server = await startUp({ regions: "uksouth,westeurope", extraArgs: ["--seed", "11", "--scenario", file] });
    const admin = server.admin;
    const opts = { timeoutMs: 10_000 };
    await waitFor(
      "step 1: the delay on uksouth -> westeurope",
      async () => {
        const l = await linkInfo(admin, "uksouth", "westeurope");
        assert.equal(l.faults.delayMs, 100, JSON.stringify(l.faults));
        assert.equal(l.faults.jitterMs, 5);
        return true;
      },
      opts,
    );
    await waitFor(
      "step 2: the partition",
      async () => {
        const { links } = await adminGet(admin, "/links");
        assert.ok(links.every((l) => l.faults.partitioned), JSON.stringify(links.map((l) => l.faults)));
        return true;
      },
      opts,
    );
    await waitFor(
      "steps 3 and 4: westeurope offline with a skewed clock",
      async () => {
        const r = (await adminGet(admin, "/regions")).regions[1];
        assert.equal(r.state, "offline-503", JSON.stringify(r));
        assert.equal(r.clockSkewMs, 1500);
        return true;
      },
      opts,
    );
    await waitFor(
      "step 5: healed",
      async () => {
        const { regions } = await adminGet(admin, "/regions");
        assert.ok(regions.every((r) => r.state === "online" && r.clockSkewMs === 0), JSON.stringify(regions));
        const { links } = await adminGet(admin, "/links");
        assert.ok(links.every((l) => !l.faults.partitioned && l.faults.delayMs === 0), JSON.stringify(links));
        return true;
      },
      opts,
    );
    const progress = await adminGet(admin, "/scenario");
    assert.deepEqual(progress, { steps: 5, done: 5, running: false, errors: [] });
    assert.equal((await adminGet(admin, "/regions")).seed, 11);
  });

  it("a bad scenario file stops `up` before the ready line, with the reason", async () => {
    const file = path.join(dir, "bad.json");
    writeFileSync(file, JSON.stringify([{ atMs: 0, put: { from: "uksouth", to: "mars", delayMs: 1 } }]));
    await assert.rejects(startUp({ extraArgs: ["--scenario", file] }), (e) => {
      assert.match(e.message, /exited before the ready line \(code=2/);
      assert.match(e.message, /unknown region 'mars'/);
      return true;
    });
  });

  it("POST /scenario refuses a bad timeline as a whole: 400, nothing runs", async () => {
    const admin = server.admin;
    const r = await adminRequest(admin, "POST", "/scenario", [
      { atMs: 0, region: { name: "westeurope", offline: "403" } },
      { atMs: 10, put: { from: "uksouth", to: "westeurope", dropRate: 2 } },
    ]);
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.message, /dropRate/);
    const ok = await adminRequest(admin, "POST", "/scenario", [{ atMs: 0, heal: true }]);
    assert.equal(ok.status, 202, ok.text);
    assert.deepEqual(ok.json, { steps: 1 });
    await waitFor("the one-step scenario done", async () => (await adminGet(admin, "/scenario")).done === 1);
    assert.equal((await adminGet(admin, "/regions")).regions[1].state, "online", "the refused timeline ran");
  });
});
