// Leases end to end with the real binary (`regionlab up`, three regions): the fenced leases of
// /_regionlab/leases through examples/lease-helper/fenced-lease.mjs, fenced writes through the
// real @azure/cosmos SDK (initialHeaders), and the lease-container (If-Match) style with its
// multi-region weakness under a partition. Nothing sleeps to let replication happen: every wait
// polls a condition with a deadline; expiry is driven by skewing the home region's clock.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  adminGet,
  makeClient,
  rawRequest,
  startUp,
  uid,
  waitFor,
  waitLinksIdle,
} from "./harness.mjs";
import { acquire, fenceHeader, get, release, renew, signLeaseRequest } from "../../examples/lease-helper/fenced-lease.mjs";

const UK = "UK South";
const EU = "West Europe";
const US = "East US";

async function adminPost(admin, p, body = {}) {
  const url = admin.replace(/\/+$/, "") + "/" + p.replace(/^\/+/, "");
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `POST ${p} ${JSON.stringify(body)} -> ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const show = (r) => `${r.status} ${JSON.stringify(r.body)}`;

/** Retries op while it answers 503 (e.g. the home region restarting or a link reconnecting). */
async function until503Clears(what, op) {
  return waitFor(what, async () => {
    const r = await op();
    assert.notEqual(r.status, 503, `${what}: ${show(r)}`);
    return r;
  });
}

describe("fenced leases (regionlab up, 3 regions)", () => {
  let server;
  let ep; // display name -> endpoint
  const clients = [];
  const client = (region) => {
    const c = makeClient(ep[region], { connectionPolicy: { requestTimeout: 15_000, preferredLocations: [region] } });
    clients.push(c);
    return c;
  };

  before(async () => {
    server = await startUp({ regions: "uksouth,westeurope,eastus" });
    ep = server.regions;
    await waitLinksIdle(server.admin, { expectLinks: 6 });
  });
  after(async () => {
    for (const c of clients) c.dispose();
    if (server) await server.stop();
  });

  it("acquire, renew and release through any region; the home region decides", async () => {
    const name = uid("lease");
    const a = await acquire(ep[EU], name, "w1", 10_000);
    assert.equal(a.status, 200, show(a));
    assert.equal(a.lease.name, name);
    assert.equal(a.lease.owner, "w1");
    assert.equal(typeof a.lease.token, "number");
    assert.ok(a.lease.expiresAtMs > Date.now() - 60_000, show(a));
    assert.equal(a.headers["x-regionlab-lease-home"], "uksouth");

    const taken = await acquire(ep[US], name, "w2", 10_000);
    assert.equal(taken.status, 409, show(taken));
    assert.equal(taken.body.owner, "w1");
    assert.equal(taken.body.code, "Conflict");

    // The holder acquiring again keeps its token (a retry after a lost reply is harmless).
    const again = await acquire(ep[UK], name, "w1", 10_000);
    assert.equal(again.status, 200, show(again));
    assert.equal(again.lease.token, a.lease.token);

    const r = await renew(ep[US], name, "w1", a.lease.token, { ttlMs: 30_000 });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.lease.ttlMs, 30_000);
    assert.equal((await renew(ep[US], name, "w2", a.lease.token)).status, 409);
    assert.equal((await release(ep[EU], name, "w1", a.lease.token + 1)).status, 409);

    const rel = await release(ep[EU], name, "w1", a.lease.token);
    assert.equal(rel.status, 204, show(rel));
    const b = await acquire(ep[US], name, "w2", 10_000);
    assert.equal(b.status, 200, show(b));
    assert.ok(b.lease.token > a.lease.token, `tokens increase: ${a.lease.token} then ${b.lease.token}`);
    // The deposed holder's token is refused from now on.
    assert.equal((await renew(ep[UK], name, "w1", a.lease.token)).status, 409);
    assert.equal((await release(ep[UK], name, "w1", a.lease.token)).status, 409);

    // GET answers from each region's replica; they all learn the newest token.
    for (const region of [UK, EU, US]) {
      await waitFor(`${region} knows token ${b.lease.token}`, async () => {
        const g = await get(ep[region], name);
        assert.equal(g.status, 200, show(g));
        assert.equal(g.lease.token, b.lease.token, show(g));
        assert.equal(g.lease.owner, "w2");
        assert.equal(g.lease.held, true);
        return true;
      });
    }
    assert.equal((await get(ep[EU], uid("never"))).status, 404);
  });

  it("is signed as resource type leases, link leases/{name}", async () => {
    const name = uid("signed");
    // The generic path-derived signature (type = name, link = whole path) is refused.
    const naive = await rawRequest(ep[UK], {
      method: "POST",
      path: `/_regionlab/leases/${name}/acquire`,
      body: { owner: "w", ttlMs: 1000 },
    });
    assert.equal(naive.status, 401, naive.text);
    // A bad key is refused too.
    const wrongKey = await acquire(ep[UK], name, "w", 1000, { key: Buffer.from("not the key").toString("base64") });
    assert.equal(wrongKey.status, 401, show(wrongKey));
    // The helper's signature, by hand.
    const date = new Date().toUTCString();
    const res = await fetch(`${ep[UK].replace(/\/$/, "")}/_regionlab/leases/${name}`, {
      headers: { "x-ms-date": date, "x-ms-version": "2020-07-15", authorization: signLeaseRequest("GET", name, date) },
    });
    assert.equal(res.status, 404, await res.text());
  });

  it("one holder at a time under concurrent acquires from every region", async () => {
    const name = uid("singleton");
    const attempts = [];
    for (const region of [UK, EU, US]) {
      for (let i = 0; i < 5; i++) attempts.push(acquire(ep[region], name, `${region}-${i}`, 60_000));
    }
    const results = await Promise.all(attempts);
    const winners = results.filter((r) => r.status === 200);
    assert.equal(winners.length, 1, results.map(show).join("\n"));
    assert.equal(results.filter((r) => r.status === 409).length, results.length - 1, results.map(show).join("\n"));
    for (const r of results.filter((x) => x.status === 409)) assert.equal(r.body.owner, winners[0].lease.owner);
  });

  it("expiry by the home region's clock gives the next holder a higher token", async () => {
    const name = uid("expiring");
    const a = await acquire(ep[EU], name, "w1", 3_000);
    assert.equal(a.status, 200, show(a));
    try {
      // Another region's clock does not matter.
      await adminPost(server.admin, "/regions/westeurope/clock", { skewMs: 60_000 });
      assert.equal((await acquire(ep[EU], name, "w2", 3_000)).status, 409);
      await adminPost(server.admin, "/regions/westeurope/clock", { skewMs: 0 });
      await adminPost(server.admin, "/regions/uksouth/clock", { skewMs: 5_000 });
      const late = await renew(ep[EU], name, "w1", a.lease.token);
      assert.equal(late.status, 409, show(late));
      const b = await acquire(ep[US], name, "w2", 3_000);
      assert.equal(b.status, 200, show(b));
      assert.equal(b.lease.token, a.lease.token + 1);
    } finally {
      await adminPost(server.admin, "/regions/westeurope/clock", { skewMs: 0 });
      await adminPost(server.admin, "/regions/uksouth/clock", { skewMs: 0 });
    }
  });

  it("fenced SDK writes: a stale token is 412 wherever the newer token is known, the current one passes", async () => {
    const dbId = uid("fdb");
    const uk = client(UK);
    const eu = client(EU);
    const { database } = await uk.databases.create({ id: dbId });
    await database.containers.create({ id: "orders", partitionKey: { paths: ["/pk"] } });
    const ukOrders = uk.database(dbId).container("orders");
    const euOrders = eu.database(dbId).container("orders");
    await waitFor("container in West Europe", async () => (await euOrders.read()).statusCode === 200);

    const name = uid("writer");
    const a = await acquire(ep[EU], name, "w1", 60_000);
    assert.equal(a.status, 200, show(a));
    const t1 = a.lease.token;
    const created = await euOrders.items.create({ id: "o1", pk: "p", by: "w1" }, { initialHeaders: fenceHeader(name, t1) });
    assert.equal(created.statusCode, 201);

    // w1 is deposed: it releases (or, equally, its lease expires) and w2 takes over.
    assert.equal((await release(ep[UK], name, "w1", t1)).status, 204);
    const b = await acquire(ep[UK], name, "w2", 60_000);
    assert.equal(b.status, 200, show(b));
    const t2 = b.lease.token;
    await waitFor("West Europe knows the new token", async () => (await get(ep[EU], name)).lease?.token === t2);

    for (const [region, items] of [
      [UK, ukOrders.items],
      [EU, euOrders.items],
    ]) {
      const container = region === UK ? ukOrders : euOrders;
      const stale = { initialHeaders: fenceHeader(name, t1) };
      const attempts = {
        create: () => items.create({ id: uid("late"), pk: "p" }, stale),
        upsert: () => items.upsert({ id: "o1", pk: "p", by: "late" }, stale),
        replace: () => container.item("o1", "p").replace({ id: "o1", pk: "p", by: "late" }, stale),
        patch: () => container.item("o1", "p").patch([{ op: "set", path: "/by", value: "late" }], stale),
        delete: () => container.item("o1", "p").delete(stale),
      };
      for (const [what, fn] of Object.entries(attempts)) {
        await assert.rejects(fn, (e) => {
          assert.equal(e.code, 412, `${region} ${what}: ${e.message}`);
          assert.match(e.message, /stale/);
          return true;
        });
      }
      const { resource } = await container.item("o1", "p").read();
      assert.notEqual(resource.by, "late");
      const ok = await items.upsert({ id: "o1", pk: "p", by: `w2 via ${region}` }, { initialHeaders: fenceHeader(name, t2) });
      assert.equal(ok.statusCode, 200);
    }
  });

  it("a region cut off from the home region answers 503 and never grants twice", async (t) => {
    const name = uid("primary");
    const a = await acquire(ep[UK], name, "uk-worker", 60_000);
    assert.equal(a.status, 200, show(a));
    await waitFor("West Europe knows the lease", async () => (await get(ep[EU], name)).status === 200);

    await adminPost(server.admin, "/partition", { groups: [["uksouth", "eastus"], ["westeurope"]] });
    try {
      for (const owner of ["eu-worker", "uk-worker"]) {
        const started = Date.now();
        const r = await acquire(ep[EU], name, owner, 60_000);
        assert.equal(r.status, 503, show(r));
        assert.equal(r.body.code, "ServiceUnavailable");
        assert.match(r.body.message, /cannot reach the lease's home region/);
        assert.ok(Date.now() - started < 5_000, "answered within the forward deadline");
      }
      // Reads answer from the local replica; the home side carries on.
      const g = await get(ep[EU], name);
      assert.equal(g.status, 200, show(g));
      assert.equal(g.headers["x-regionlab-lease-source"], "replica");
      assert.equal((await renew(ep[US], name, "uk-worker", a.lease.token)).status, 200);
    } finally {
      await adminPost(server.admin, "/heal");
    }
    const after = await until503Clears("acquire after the heal", () => acquire(ep[EU], name, "eu-worker", 60_000));
    assert.equal(after.status, 409, show(after));
    assert.equal(after.body.owner, "uk-worker");
    assert.equal((await get(ep[UK], name)).lease.token, a.lease.token);
    await waitLinksIdle(server.admin);
  });

  it("lease container (If-Match on lease documents): both sides of a partition win, one is rolled back", async () => {
    const dbId = uid("cfp");
    const uk = client(UK);
    const eu = client(EU);
    const { database } = await uk.databases.create({ id: dbId });
    await database.containers.create({
      id: "leases",
      partitionKey: { paths: ["/id"] },
      conflictResolutionPolicy: { mode: "LastWriterWins", conflictResolutionPath: "/_ts" },
    });
    const ukLeases = uk.database(dbId).container("leases");
    const euLeases = eu.database(dbId).container("leases");
    await ukLeases.items.create({ id: "lease-0", owner: null });
    const bothAt = async () =>
      waitFor("both regions on the same version of lease-0", async () => {
        const [x, y] = await Promise.all([ukLeases.item("lease-0", "lease-0").read(), euLeases.item("lease-0", "lease-0").read()]);
        return x.resource && y.resource && x.resource._etag === y.resource._etag ? x.resource : false;
      });
    const base = await bothAt();

    await adminPost(server.admin, "/partition", { groups: [["uksouth", "eastus"], ["westeurope"]] });
    let ukWin, euWin;
    try {
      const ifMatch = { accessCondition: { type: "IfMatch", condition: base._etag } };
      ukWin = await ukLeases.item("lease-0", "lease-0").replace({ id: "lease-0", owner: "uk-worker" }, ifMatch);
      euWin = await euLeases.item("lease-0", "lease-0").replace({ id: "lease-0", owner: "eu-worker" }, ifMatch);
      // Both compare-and-swaps succeeded: each worker believes it owns lease-0.
      assert.equal(ukWin.statusCode, 200);
      assert.equal(euWin.statusCode, 200);
      // Within one region the swap is exact: the same etag again loses.
      await assert.rejects(
        () => ukLeases.item("lease-0", "lease-0").replace({ id: "lease-0", owner: "third" }, ifMatch),
        (e) => e.code === 412,
      );
      // The fenced lease of the same name is granted on the home side only.
      assert.equal((await acquire(ep[UK], "lease-0-" + dbId, "uk-worker", 60_000)).status, 200);
      assert.equal((await acquire(ep[EU], "lease-0-" + dbId, "eu-worker", 60_000)).status, 503);
    } finally {
      await adminPost(server.admin, "/heal");
    }
    const final = await bothAt();
    assert.ok(["uk-worker", "eu-worker"].includes(final.owner), JSON.stringify(final));
    const rolledBack = final.owner === "uk-worker" ? "eu-worker" : "uk-worker";
    // The loser's acquisition is gone; its worker learns only when it next reads or swaps.
    const loserClient = rolledBack === "uk-worker" ? ukLeases : euLeases;
    const loserEtag = rolledBack === "uk-worker" ? ukWin.resource._etag : euWin.resource._etag;
    await assert.rejects(
      () => loserClient.item("lease-0", "lease-0").replace({ id: "lease-0", owner: rolledBack }, { accessCondition: { type: "IfMatch", condition: loserEtag } }),
      (e) => e.code === 412,
    );
    await waitLinksIdle(server.admin);
  });

  it("tokens survive a kill and restart of the home region", async () => {
    const name = uid("durable");
    const a = await acquire(ep[EU], name, "w1", 60_000);
    assert.equal(a.status, 200, show(a));
    await adminPost(server.admin, "/regions/uksouth/kill");
    try {
      const down = await acquire(ep[EU], name, "w2", 60_000);
      assert.equal(down.status, 503, show(down));
    } finally {
      await adminPost(server.admin, "/regions/uksouth/restart");
    }
    const held = await until503Clears("acquire after the restart", () => acquire(ep[US], name, "w2", 60_000));
    assert.equal(held.status, 409, show(held));
    assert.equal(held.body.owner, "w1");
    assert.equal((await until503Clears("release", () => release(ep[EU], name, "w1", a.lease.token))).status, 204);
    const b = await until503Clears("acquire", () => acquire(ep[EU], name, "w2", 60_000));
    assert.equal(b.status, 200, show(b));
    assert.equal(b.lease.token, a.lease.token + 1);
    // Regions report state "online" again.
    const regions = await adminGet(server.admin, "/regions");
    assert.ok(regions.regions.every((r) => r.state === "online"), JSON.stringify(regions));
  });
});

describe("fenced leases: --lease-home", () => {
  let server;
  after(async () => server?.stop());

  it("names the region that decides: cut off from it, even the first region answers 503", async () => {
    server = await startUp({ regions: "uksouth,westeurope", extraArgs: ["--lease-home", "westeurope"] });
    const uk = server.regions[UK];
    const eu = server.regions[EU];
    const name = uid("homed");
    const a = await until503Clears("an acquire through UK South", () => acquire(uk, name, "w1", 60_000));
    assert.equal(a.status, 200, show(a));
    const atHome = await get(eu, name);
    assert.equal(atHome.status, 200, show(atHome));
    assert.equal(atHome.headers["x-regionlab-lease-source"], "home");
    await adminPost(server.admin, "/partition", { groups: [["uksouth"], ["westeurope"]] });
    try {
      const cut = await acquire(uk, uid("cut"), "w2", 60_000);
      assert.equal(cut.status, 503, show(cut));
      const home = await acquire(eu, uid("home"), "w2", 60_000);
      assert.equal(home.status, 200, show(home));
    } finally {
      await adminPost(server.admin, "/heal");
    }
  });
});
