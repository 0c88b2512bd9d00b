// Data-plane faults end to end (PRODUCT.md section 6, docs/chaos.md "testing your client"):
// what @azure/cosmos 4.9.3 does when one region's endpoint misbehaves, asserted from both sides:
// the SDK's result and the regions' request logs (GET /regions/{r}/requests).
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { adminGet, adminOk, adminRequest, makeClient, startUp, uid, waitFor, waitLinksIdle } from "./harness.mjs";

const REGION_HEADER = "x-ms-regionlab-region";
const regionOf = (response) => response.headers && response.headers[REGION_HEADER];

/** The region's logged requests since `sinceMs` (region clock), oldest first. */
async function requestsOf(admin, region, sinceMs = 0) {
  const { requests } = await adminGet(admin, `/regions/${region}/requests?last=2000`);
  return requests.filter((r) => r.timeMs >= sinceMs);
}

describe("data-plane faults (up --regions uksouth,westeurope --seed 5)", { timeout: 120_000 }, () => {
  let server;
  let weC;  // a client of West Europe alone, to wait for replication
  const clients = [];
  const dbId = uid("dp");
  const cId = "items";

  function client(preferred, options = {}) {
    const c = makeClient(server.regions["UK South"], {
      connectionPolicy: { requestTimeout: 10_000, preferredLocations: preferred, ...options },
    });
    clients.push(c);
    return c;
  }

  before(async () => {
    server = await startUp({ regions: "uksouth,westeurope", extraArgs: ["--seed", "5"] });
    await waitLinksIdle(server.admin, { expectLinks: 2 });
    const setup = client(["UK South", "West Europe"]);
    const { database } = await setup.databases.create({ id: dbId });
    await database.containers.create({ id: cId, partitionKey: { paths: ["/pk"] } });
    weC = makeClient(server.regions["West Europe"], { connectionPolicy: { preferredLocations: ["West Europe"] } });
    clients.push(weC);
    await waitFor("the container in West Europe", async () => (await weC.database(dbId).container(cId).read()).resource);
  });
  afterEach(async () => {
    await adminOk(server.admin, "POST", "/heal");
  });
  after(async () => {
    for (const c of clients) c.dispose();
    if (server) await server.stop();
  });

  it("a bad rule is a 400 and changes nothing", async () => {
    const r = await adminRequest(server.admin, "PUT", "/regions/uksouth/dataplane", {
      rules: [{ operation: "writes", status: 503 }],
    });
    assert.equal(r.status, 400);
    assert.match(r.json.message, /operation/);
    const regions = await adminGet(server.admin, "/regions");
    assert.deepEqual(regions.regions[0].dataplane, []);
  });

  it("429 with x-ms-retry-after-ms: the SDK waits and retries in the same region", async () => {
    const c = client(["UK South", "West Europe"]).database(dbId).container(cId);
    await adminOk(server.admin, "PUT", "/regions/uksouth/dataplane", {
      rules: [{ operation: "write", rate: 0.5, status: 429, subStatus: 3200, retryAfterMs: 20 }],
    });
    const since = (await requestsOf(server.admin, "uksouth")).at(-1)?.timeMs ?? 0;
    for (let i = 0; i < 40; i++) {
      const w = await c.items.create({ id: `throttled-${i}`, pk: "p" });
      assert.equal(w.statusCode, 201);
      assert.equal(regionOf(w), "uksouth", "429 is retried in the same region");
    }
    const log = (await requestsOf(server.admin, "uksouth", since)).filter((r) => r.operation === "write");
    const throttled = log.filter((r) => r.status === 429);
    const created = log.filter((r) => r.status === 201);
    assert.equal(created.length, 40);
    assert.ok(throttled.length >= 8, `the seeded rate 0.5 throttled ${throttled.length} of ${log.length}`);
    assert.ok(throttled.every((r) => r.rule === 0 && r.subStatus === 3200));
    const { regions } = await adminGet(server.admin, "/regions");
    assert.equal(regions[0].dataplane[0].injected, throttled.length);
    // Nothing was written twice: a 429 commits nothing.
    const { resources } = await c.items.query("SELECT VALUE COUNT(1) FROM c WHERE STARTSWITH(c.id, 'throttled-')").fetchAll();
    assert.deepEqual(resources, [40]);
  });

  it("writes failing with 503 in UK South (writesOnly): the SDK moves the write to West Europe, reads stay", async () => {
    const c = client(["UK South", "West Europe"]).database(dbId).container(cId);
    await c.items.create({ id: "before", pk: "p" });
    await adminOk(server.admin, "PUT", "/regions/uksouth/dataplane", { rules: [{ writesOnly: true }] });
    const w = await c.items.create({ id: "during", pk: "p" });
    assert.equal(w.statusCode, 201);
    assert.equal(regionOf(w), "westeurope", "the write was retried on the next preferred region");
    const r = await c.item("before", "p").read();
    assert.equal(r.statusCode, 200);
    assert.equal(regionOf(r), "uksouth", "reads still go to UK South");
    const uk = (await requestsOf(server.admin, "uksouth")).filter((x) => x.path.endsWith("/docs") && x.method === "POST");
    assert.equal(uk.at(-1).status, 503);
    const we = (await requestsOf(server.admin, "westeurope")).filter((x) => x.path.endsWith("/docs") && x.method === "POST");
    assert.equal(we.at(-1).status, 201);
  });

  it("excludedLocations keeps a request away from a region", async () => {
    const c = client(["UK South", "West Europe"]).database(dbId).container(cId);
    await c.items.create({ id: "ex", pk: "p" });
    // The read below may go to West Europe only: wait until the create has been replicated there.
    await waitFor("the document in West Europe", async () => (await weC.database(dbId).container(cId).item("ex", "p").read()).resource);
    await adminOk(server.admin, "PUT", "/regions/uksouth/dataplane", { rules: [{ operation: "read", status: 500 }] });
    const r = await c.item("ex", "p").read({ excludedLocations: ["UK South"] });
    assert.equal(r.statusCode, 200);
    assert.equal(regionOf(r), "westeurope");
    const { regions } = await adminGet(server.admin, "/regions");
    assert.equal(regions[0].dataplane[0].matched, 0, "UK South never saw the read");
  });

  it("a reset connection and a slow answer: what the SDK sees", async (t) => {
    const c = client(["UK South", "West Europe"]).database(dbId).container(cId);
    await c.items.create({ id: "slow", pk: "p" });
    await adminOk(server.admin, "PUT", "/regions/uksouth/dataplane", { rules: [{ operation: "read", delayMs: 400 }] });
    const t0 = Date.now();
    const r = await c.item("slow", "p").read();
    const took = Date.now() - t0;
    assert.equal(r.statusCode, 200);
    assert.ok(took >= 400, `the answer came after ${took} ms`);
    t.diagnostic(`a 400 ms slow read took ${took} ms through the SDK (served by ${regionOf(r)})`);

    await adminOk(server.admin, "PUT", "/regions/uksouth/dataplane", { rules: [{ operation: "read", reset: true }] });
    let outcome;
    try {
      const again = await c.item("slow", "p").read();
      outcome = `answered ${again.statusCode} by ${regionOf(again)}`;
    } catch (e) {
      outcome = `failed: ${e.code ?? e.name} ${e.message}`;
    }
    t.diagnostic(`a reset read: ${outcome}`);
    const log = await requestsOf(server.admin, "uksouth");
    const resets = log.filter((x) => x.outcome === "reset");
    assert.ok(resets.length >= 1, "UK South logged the reset");
    t.diagnostic(`UK South reset ${resets.length} attempts of that read`);
  });
});
