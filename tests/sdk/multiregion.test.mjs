// Multi-region end to end: `regionlab up` with two or three regions in one process, the real
// SDK routing by preferredLocations, replication over loopback TCP, convergence of concurrent
// writes, restart after kill -9, session tokens across regions, and the admin API's /links and
// /digest. Nothing sleeps "to let replication happen": everything polls with a deadline.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  adminGet,
  digestByRegion,
  makeClient,
  makeTempDir,
  rawRequest,
  rmTemp,
  startUp,
  uid,
  waitFor,
  waitLinksIdle,
} from "./harness.mjs";

const REGION_HEADER = "x-ms-regionlab-region";
const CONVERGE_MS = 15_000;

const regionOf = (response) => response.headers && response.headers[REGION_HEADER];
/** How many of the SDK's attempts behind a response were answered 404/1002 (from its diagnostics). */
const sessionMisses = (response) =>
  (response.diagnostics?.clientSideRequestStatistics?.gatewayStatistics ?? []).filter(
    (g) => g.statusCode === 404 && g.subStatusCode === 1002,
  ).length;
/** The endpoints the SDK contacted for a response (its diagnostics), deduplicated. */
const contacted = (response) => [
  ...new Set(response.diagnostics?.clientSideRequestStatistics?.locationEndpointsContacted ?? []),
];

/** A client whose reads and writes go to `preferred` (a display name) first. */
function regionClient(endpoint, preferred, extra = {}) {
  const { connectionPolicy = {}, ...rest } = extra;
  return makeClient(endpoint, {
    connectionPolicy: { requestTimeout: 15_000, preferredLocations: [preferred], ...connectionPolicy },
    ...rest,
  });
}

/** The digest entry of one container in every region: {region: {count, hash} | undefined}. */
async function containerDigest(admin, dbId, cId) {
  const by = await digestByRegion(admin);
  const out = {};
  for (const [region, containers] of Object.entries(by)) {
    const e = containers.find((c) => c.database === dbId && c.container === cId);
    out[region] = e ? { count: e.count, hash: e.hash } : undefined;
  }
  return out;
}

/** Waits until every region's digest of the container is present, equal, and (optionally) has `count` docs. */
async function waitContainerConverged(admin, dbId, cId, { count, timeoutMs = CONVERGE_MS } = {}) {
  return waitFor(
    `digest of ${dbId}/${cId} equal in every region${count === undefined ? "" : ` with ${count} documents`}`,
    async () => {
      const d = await containerDigest(admin, dbId, cId);
      const values = Object.values(d);
      assert.ok(values.length >= 2, `digest lists fewer than two regions: ${JSON.stringify(d)}`);
      assert.ok(values.every((v) => v !== undefined), `container missing in some region: ${JSON.stringify(d)}`);
      assert.ok(
        values.every((v) => v.count === values[0].count && v.hash === values[0].hash),
        `digests differ: ${JSON.stringify(d)}`,
      );
      if (count !== undefined) assert.equal(values[0].count, count, `document count: ${JSON.stringify(d)}`);
      return d;
    },
    { timeoutMs },
  );
}

/** Waits until the whole /digest has equal containers arrays in every region. */
async function waitAllDigestsEqual(admin, timeoutMs = CONVERGE_MS) {
  return waitFor(
    "GET /digest: equal containers arrays in every region",
    async () => {
      const by = await digestByRegion(admin);
      const names = Object.keys(by);
      assert.ok(names.length >= 2, `digest: ${JSON.stringify(by)}`);
      for (const n of names) assert.deepEqual(by[n], by[names[0]], `digest of ${n} vs ${names[0]}`);
      return by;
    },
    { timeoutMs },
  );
}

/** Point-reads an item through `client` until it exists; returns the response. */
async function waitItem(client, dbId, cId, id, pk, what, timeoutMs = CONVERGE_MS) {
  return waitFor(
    what,
    async () => {
      const r = await client.database(dbId).container(cId).item(id, pk).read();
      assert.equal(r.statusCode, 200, `read ${id}: status ${r.statusCode} (served by ${regionOf(r)})`);
      return r;
    },
    { timeoutMs },
  );
}

function disposeAll(clients) {
  for (const c of clients.splice(0)) {
    try {
      c.dispose();
    } catch {
      /* ignore */
    }
  }
}

// -------------------------------------------------------------------------------------------
describe("two regions (regionlab up --regions uksouth,westeurope)", { timeout: 60_000 }, () => {
  let server;
  let uk; // prefers UK South
  let we; // prefers West Europe
  const clients = [];
  const dbId = uid("mr");
  const cId = "docs";

  before(async () => {
    server = await startUp({ regions: "uksouth,westeurope" });
    assert.deepEqual(Object.keys(server.regions).sort(), ["UK South", "West Europe"], JSON.stringify(server.ready));
    // Both clients start from the UK South endpoint, like an Azure global endpoint: routing to
    // West Europe is the SDK's doing, from the account document.
    const ep = server.regions["UK South"];
    uk = regionClient(ep, "UK South");
    we = regionClient(ep, "West Europe");
    clients.push(uk, we);
    const { database } = await uk.databases.create({ id: dbId });
    await database.containers.create({ id: cId, partitionKey: { paths: ["/pk"] } });
    await waitFor("the test container to reach West Europe", async () => {
      const r = await we.database(dbId).container(cId).read();
      assert.equal(regionOf(r), "westeurope", "container read served by");
      return r.resource;
    });
  });
  after(async () => {
    disposeAll(clients);
    if (server) await server.stop();
  });

  it("GET / on each region lists both regions, itself first, multi-write", async () => {
    for (const [name, ep] of Object.entries(server.regions)) {
      const r = await rawRequest(ep, { path: "/" });
      assert.equal(r.status, 200, `GET / on ${name}: ${r.text}`);
      const names = (l) => l.map((x) => x.name);
      assert.equal(r.json.enableMultipleWriteLocations, true, `${name}: enableMultipleWriteLocations`);
      assert.equal(r.json.writableLocations[0].name, name, `${name}: itself first in writableLocations`);
      assert.equal(r.json.readableLocations[0].name, name, `${name}: itself first in readableLocations`);
      assert.deepEqual(names(r.json.writableLocations).sort(), ["UK South", "West Europe"]);
      assert.deepEqual(names(r.json.readableLocations).sort(), ["UK South", "West Europe"]);
      for (const l of r.json.readableLocations) {
        assert.equal(l.databaseAccountEndpoint, server.regions[l.name], `${name}: endpoint of ${l.name}`);
      }
    }
  });

  it("a write through UK South is read through West Europe with the same _rid and _etag", async () => {
    const c = uk.database(dbId).container(cId);
    const created = await c.items.create({ id: "hello", pk: "p", greeting: "from uksouth" });
    assert.equal(created.statusCode, 201);
    assert.equal(regionOf(created), "uksouth", "the create was not served by uksouth");

    const read = await waitItem(we, dbId, cId, "hello", "p", "'hello' readable through West Europe");
    assert.equal(regionOf(read), "westeurope", "the read was not served by westeurope");
    assert.deepEqual(contacted(read), [server.regions["West Europe"]], "SDK diagnostics: endpoints contacted");
    assert.equal(read.resource.greeting, "from uksouth");
    assert.equal(read.resource._rid, created.resource._rid, "_rid differs between regions");
    assert.equal(read.resource._etag, created.resource._etag, "_etag differs between regions");
    assert.equal(read.resource._ts, created.resource._ts, "_ts differs between regions");
    assert.equal(read.etag, created.resource._etag, "etag header");

    // and the other way round, through a replace
    const replaced = await we
      .database(dbId)
      .container(cId)
      .item("hello", "p")
      .replace({ id: "hello", pk: "p", greeting: "from westeurope" });
    assert.equal(regionOf(replaced), "westeurope", "the replace was not served by westeurope");
    const back = await waitFor("the replace to reach UK South", async () => {
      const r = await c.item("hello", "p").read();
      assert.equal(regionOf(r), "uksouth");
      assert.equal(r.resource && r.resource.greeting, "from westeurope", `UK South has ${JSON.stringify(r.resource)}`);
      return r;
    });
    assert.equal(back.resource._etag, replaced.resource._etag);
    assert.equal(back.resource._rid, created.resource._rid, "_rid changed by a replace");
  });

  it("databases and containers created through one region appear in the other with the same _rid", async () => {
    // database through UK South, container in it through West Europe, and the reverse
    const db1 = uid("mrdb");
    const created = await uk.databases.create({ id: db1 });
    assert.equal(regionOf(created), "uksouth", "database create served by");
    const seen = await waitFor(`database ${db1} in West Europe`, async () => {
      const r = await we.database(db1).read();
      assert.equal(regionOf(r), "westeurope", "database read served by");
      return r;
    });
    assert.equal(seen.resource._rid, created.resource._rid, "database _rid differs");
    assert.equal(seen.resource._self, created.resource._self, "database _self differs");

    const cont = await we
      .database(db1)
      .containers.create({ id: "c1", partitionKey: { paths: ["/tenant"] }, defaultTtl: 3600 });
    assert.equal(regionOf(cont), "westeurope", "container create served by");
    const contSeen = await waitFor(`container ${db1}/c1 in UK South`, async () => {
      const r = await uk.database(db1).container("c1").read();
      assert.equal(regionOf(r), "uksouth", "container read served by");
      return r;
    });
    assert.equal(contSeen.resource._rid, cont.resource._rid, "container _rid differs");
    assert.deepEqual(contSeen.resource.partitionKey.paths, ["/tenant"]);
    assert.equal(contSeen.resource.defaultTtl, 3600);

    // documents in the new container replicate too (the container _rid is the same, so is the doc's)
    const doc = await uk.database(db1).container("c1").items.create({ id: "d", tenant: "t" });
    const docSeen = await waitItem(we, db1, "c1", "d", "t", "doc in the replicated container");
    assert.equal(docSeen.resource._rid, doc.resource._rid);

    // the database list of both regions contains it
    for (const [name, client] of [["uksouth", uk], ["westeurope", we]]) {
      const { resources } = await client.databases.readAll().fetchAll();
      assert.ok(resources.some((d) => d.id === db1 && d._rid === created.resource._rid), `${name} database list`);
    }
  });

  it("the same database created concurrently in both regions converges to one _rid", async () => {
    const id = uid("racedb");
    const results = await Promise.allSettled([uk.databases.create({ id }), we.databases.create({ id })]);
    for (const r of results) {
      if (r.status === "rejected") assert.equal(r.reason.code, 409, `database create: ${r.reason.message}`);
    }
    assert.ok(results.some((r) => r.status === "fulfilled"), "neither concurrent create succeeded");
    const accepted = results.filter((r) => r.status === "fulfilled").map((r) => r.value.resource._rid);
    const final = await waitFor(`database ${id}: same _rid in both regions`, async () => {
      const [a, b] = await Promise.all([uk.database(id).read(), we.database(id).read()]);
      assert.equal(regionOf(a), "uksouth");
      assert.equal(regionOf(b), "westeurope");
      assert.equal(a.resource._rid, b.resource._rid, `uksouth ${a.resource._rid} vs westeurope ${b.resource._rid}`);
      return a.resource._rid;
    });
    assert.ok(accepted.includes(final), `winner ${final} is not one of the accepted creates ${accepted}`);

    // and a container in it, created concurrently too
    const cr = await Promise.allSettled([
      uk.database(id).containers.create({ id: "c", partitionKey: "/pk" }),
      we.database(id).containers.create({ id: "c", partitionKey: "/pk" }),
    ]);
    for (const r of cr) {
      if (r.status === "rejected") assert.equal(r.reason.code, 409, `container create: ${r.reason.message}`);
    }
    await waitFor(`container ${id}/c: same _rid in both regions`, async () => {
      const [a, b] = await Promise.all([uk.database(id).container("c").read(), we.database(id).container("c").read()]);
      assert.equal(a.resource._rid, b.resource._rid, `uksouth ${a.resource._rid} vs westeurope ${b.resource._rid}`);
      return true;
    });
    // documents written after the race land in the same container on both sides
    await uk.database(id).container("c").items.create({ id: "after-race", pk: "x" });
    await waitItem(we, id, "c", "after-race", "x", "a document in the raced container");
  });

  it("the same id created concurrently in both regions converges to one winner", async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `race-${i}`);
    const cUk = uk.database(dbId).container(cId);
    const cWe = we.database(dbId).container(cId);
    const outcome = await Promise.all(
      ids.map(async (id) => {
        const [a, b] = await Promise.allSettled([
          cUk.items.create({ id, pk: "race", origin: "uksouth" }),
          cWe.items.create({ id, pk: "race", origin: "westeurope" }),
        ]);
        const accepted = [];
        for (const [r, origin] of [
          [a, "uksouth"],
          [b, "westeurope"],
        ]) {
          if (r.status === "fulfilled") {
            assert.equal(r.value.statusCode, 201);
            assert.equal(regionOf(r.value), origin, `create of ${id} served by`);
            accepted.push(origin);
          } else {
            // the other create reached this region first: a plain conflict, not a failure
            assert.equal(r.reason.code, 409, `create ${id} in ${origin}: ${r.reason.message}`);
          }
        }
        assert.ok(accepted.length >= 1, `no create of ${id} was accepted`);
        return { id, accepted };
      }),
    );
    async function waitSameWinner(id, accepted) {
      const winner = await waitFor(`${id}: both regions return the same _etag`, async () => {
        const [a, b] = await Promise.all([cUk.item(id, "race").read(), cWe.item(id, "race").read()]);
        assert.equal(a.statusCode, 200, `uksouth read of ${id}: ${a.statusCode}`);
        assert.equal(b.statusCode, 200, `westeurope read of ${id}: ${b.statusCode}`);
        assert.equal(regionOf(a), "uksouth");
        assert.equal(regionOf(b), "westeurope");
        assert.equal(a.resource._etag, b.resource._etag, `uksouth ${JSON.stringify(a.resource)} vs westeurope ${JSON.stringify(b.resource)}`);
        assert.deepEqual(a.resource, b.resource, "same _etag but different bodies");
        return a.resource;
      });
      assert.ok(accepted.includes(winner.origin), `${id}: winner ${winner.origin} was never accepted (${accepted})`);
    }
    for (const { id, accepted } of outcome) await waitSameWinner(id, accepted);
    // The SDK's two requests rarely reach both regions before replication does (one then gets
    // 409). Race raw requests, fired together, until some creates were accepted in BOTH regions:
    // those are real concurrent versions that replication must resolve the same way everywhere.
    const both = outcome.filter((o) => o.accepted.length === 2).map((o) => o.id);
    const path = `/dbs/${dbId}/colls/${cId}/docs`;
    const rawCreate = (endpoint, id, origin) =>
      rawRequest(endpoint, {
        method: "POST",
        path,
        body: { id, pk: "race", origin },
        headers: { "x-ms-documentdb-partitionkey": '["race"]' },
      });
    const rawRaced = [];
    for (let i = 0; i < 400 && both.length < 5; i++) {
      const id = `rawrace-${i}`;
      const [a, b] = await Promise.all([
        rawCreate(server.regions["UK South"], id, "uksouth"),
        rawCreate(server.regions["West Europe"], id, "westeurope"),
      ]);
      const accepted = [];
      for (const [r, origin] of [
        [a, "uksouth"],
        [b, "westeurope"],
      ]) {
        if (r.status === 201) accepted.push(origin);
        else assert.equal(r.status, 409, `raw create ${id} in ${origin}: ${r.status} ${r.text}`);
      }
      assert.ok(accepted.length >= 1, `raw create ${id}: neither region accepted it`);
      rawRaced.push({ id, accepted });
      if (accepted.length === 2) both.push(id);
    }
    console.log(`# creates accepted in both regions: ${both.length} (SDK ${ids.length}, raw ${rawRaced.length} tries)`);
    assert.ok(both.length >= 1, "could not produce a single create accepted by both regions");
    for (const { id, accepted } of rawRaced) await waitSameWinner(id, accepted);
    await waitContainerConverged(server.admin, dbId, cId);
    const { links } = await adminGet(server.admin, "/links");
    const conflicts = links.reduce((n, l) => n + (l.conflicts || 0), 0);
    assert.ok(conflicts >= both.length, `GET /links counts ${conflicts} conflicts for ${both.length} concurrent creates`);
  });

  it("concurrent replaces converge; a delete beats a concurrent replace", async () => {
    const cUk = uk.database(dbId).container(cId);
    const cWe = we.database(dbId).container(cId);
    const ids = Array.from({ length: 8 }, (_, i) => `rr-${i}`);
    for (const id of ids) {
      await cUk.items.create({ id, pk: "rr", v: 0 });
      await cUk.items.create({ id: `${id}-del`, pk: "rr", v: 0 });
    }
    for (const id of ids) {
      await waitItem(we, dbId, cId, id, "rr", `${id} in West Europe`);
      await waitItem(we, dbId, cId, `${id}-del`, "rr", `${id}-del in West Europe`);
    }
    await Promise.all(
      ids.map(async (id) => {
        const rr = await Promise.allSettled([
          cUk.item(id, "rr").replace({ id, pk: "rr", v: 1, by: "uksouth" }),
          cWe.item(id, "rr").replace({ id, pk: "rr", v: 1, by: "westeurope" }),
          cUk.item(`${id}-del`, "rr").delete(),
          cWe.item(`${id}-del`, "rr").replace({ id: `${id}-del`, pk: "rr", v: 1, by: "westeurope" }),
        ]);
        for (const [i, r] of rr.entries()) {
          // the replace of the deleted doc may find it already gone (404): that's sequential, fine
          if (r.status === "rejected") {
            assert.ok(i === 3 && r.reason.code === 404, `operation ${i} on ${id} failed: ${r.reason.code} ${r.reason.message}`);
          }
        }
      }),
    );
    for (const id of ids) {
      await waitFor(`${id}: concurrent replaces converge`, async () => {
        const [a, b] = await Promise.all([cUk.item(id, "rr").read(), cWe.item(id, "rr").read()]);
        assert.equal(a.resource._etag, b.resource._etag, `uksouth ${JSON.stringify(a.resource)} vs westeurope ${JSON.stringify(b.resource)}`);
        assert.deepEqual(a.resource, b.resource);
        assert.ok(["uksouth", "westeurope"].includes(a.resource.by), JSON.stringify(a.resource));
        return true;
      });
      // delete vs replace: whatever the interleaving, the document ends up deleted everywhere
      await waitFor(`${id}-del: deleted in both regions`, async () => {
        const [a, b] = await Promise.all([cUk.item(`${id}-del`, "rr").read(), cWe.item(`${id}-del`, "rr").read()]);
        assert.equal(a.statusCode, 404, `uksouth still has ${JSON.stringify(a.resource)}`);
        assert.equal(b.statusCode, 404, `westeurope still has ${JSON.stringify(b.resource)}`);
        return true;
      });
    }
    await waitContainerConverged(server.admin, dbId, cId);
  });

  it("session consistency: a read through West Europe with the write's token never sees an older version", async () => {
    const writer = regionClient(server.regions["UK South"], "UK South", { consistencyLevel: "Session" });
    const reader = regionClient(server.regions["UK South"], "West Europe", { consistencyLevel: "Session" });
    clients.push(writer, reader);
    const cw = writer.database(dbId).container(cId);
    const cr = reader.database(dbId).container(cId);
    const id = "session-doc";
    const weEndpoint = server.regions["West Europe"];
    let sdkRetried = 0; // reads where the SDK met 404/1002 and retried
    let raw1002 = 0;
    let lastToken;

    for (let v = 0; v < 25; v++) {
      const w = v === 0 ? await cw.items.create({ id, pk: "s", v }) : await cw.item(id, "s").replace({ id, pk: "s", v });
      assert.equal(regionOf(w), "uksouth", "write served by");
      const sessionToken = w.headers["x-ms-session-token"];
      assert.match(sessionToken || "", /^[^:]+:\d+#\d+(#\d+=\d+)+$/, `session token format: ${sessionToken}`);
      lastToken = sessionToken;

      // 1. the SDK, immediately, through West Europe, with the token
      const got = await waitFor(`SDK session read of v=${v} through West Europe`, async () => {
        const r = await cr.item(id, "s").read({ sessionToken });
        const misses = sessionMisses(r);
        sdkRetried += misses;
        if (r.statusCode === 200) {
          assert.equal(regionOf(r), "westeurope", "session read served by");
          if (r.resource.v !== v) {
            // After two 404/1002 answers the SDK drops the token and reads without it; only then
            // may it see an older version. With the token in place, the server must not.
            assert.ok(
              misses >= 2,
              `STALE READ: westeurope returned v=${r.resource.v} for a session token of v=${v} ` +
                `(token ${sessionToken}, after ${misses} answers 404/1002)`,
            );
            return undefined; // the SDK gave up on the token: read again
          }
          return r;
        }
        assert.equal(r.statusCode, 404, `session read: unexpected status ${r.statusCode}`);
        if (v > 0 || r.substatus !== undefined) assert.equal(r.substatus, 1002, `session read: 404 with substatus ${r.substatus}`);
        return undefined;
      });
      assert.equal(got.resource._etag, w.resource._etag, "session read: _etag differs from the write's");

      // 2. the server itself, raw: either the written version or 404/1002, never older
      await waitFor(`raw session read of v=${v} on westeurope`, async () => {
        const r = await rawRequest(weEndpoint, {
          path: `/dbs/${dbId}/colls/${cId}/docs/${id}`,
          headers: {
            "x-ms-session-token": sessionToken,
            "x-ms-consistency-level": "Session",
            "x-ms-documentdb-partitionkey": '["s"]',
          },
        });
        if (r.status === 404) {
          assert.equal(r.headers["x-ms-substatus"], "1002", `404 without 1002: ${r.text}`);
          raw1002++;
          return undefined;
        }
        assert.equal(r.status, 200, `raw session read: ${r.status} ${r.text}`);
        assert.equal(r.json.v, v, `STALE READ (raw): v=${r.json.v} for a token of v=${v} (${sessionToken})`);
        return true;
      });
    }

    // A token from the future (the uksouth entry far ahead of anything written) is always
    // "not caught up": 404 with sub-status 1002 and a JSON body, not 200 and not a hang.
    const future = lastToken.replace(/#(\d+)=(\d+)/g, (m, region, lsn) => `#${region}=${Number(lsn) + 100000}`);
    const r = await rawRequest(weEndpoint, {
      path: `/dbs/${dbId}/colls/${cId}/docs/${id}`,
      headers: {
        "x-ms-session-token": future,
        "x-ms-consistency-level": "Session",
        "x-ms-documentdb-partitionkey": '["s"]',
      },
    });
    assert.equal(r.status, 404, `read with a future token ${future}: ${r.status} ${r.text}`);
    assert.equal(r.headers["x-ms-substatus"], "1002", `read with a future token: substatus ${r.headers["x-ms-substatus"]}`);
    assert.ok(r.json && typeof r.json.message === "string", `404/1002 body: ${r.text}`);
    console.log(`# session reads: SDK met 404/1002 ${sdkRetried} times, raw 404/1002 seen ${raw1002} times`);
  });

  it("GET /links: both directions connected, and after a burst ackedLsn == ownLsn, queue 0", async () => {
    const before = await adminGet(server.admin, "/links");
    assert.equal(before.links.length, 2, JSON.stringify(before));
    const dirs = before.links.map((l) => `${l.from}->${l.to}`).sort();
    assert.deepEqual(dirs, ["uksouth->westeurope", "westeurope->uksouth"]);
    for (const l of before.links) assert.equal(l.connected, true, `link not connected: ${JSON.stringify(l)}`);
    const own0 = Object.fromEntries(before.links.map((l) => [l.from, l.ownLsn]));

    const burstDb = dbId;
    const cUk = uk.database(burstDb).container(cId);
    const cWe = we.database(burstDb).container(cId);
    const n = 60;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        (i % 2 ? cWe : cUk).items.create({ id: `burst-${i}`, pk: `b${i % 5}`, payload: "x".repeat(512) }),
      ),
    );
    const links = await waitLinksIdle(server.admin, { expectLinks: 2 });
    for (const l of links) {
      assert.equal(l.appliedLsn, l.ownLsn, `link ${l.from}->${l.to}: appliedLsn != ownLsn: ${JSON.stringify(l)}`);
      assert.ok(
        l.ownLsn >= own0[l.from] + n / 2,
        `link ${l.from}->${l.to}: ownLsn ${l.ownLsn} did not advance by ${n / 2} from ${own0[l.from]}`,
      );
    }
    await waitAllDigestsEqual(server.admin);
    const metrics = await (await fetch(server.admin.replace(/\/+$/, "") + "/metrics")).text();
    for (const [f, t] of [
      ["uksouth", "westeurope"],
      ["westeurope", "uksouth"],
    ]) {
      assert.ok(
        metrics.includes(`regionlab_replication_lag_seconds{from="${f}",to="${t}"}`),
        `/metrics lacks the replication lag of ${f}->${t}`,
      );
    }
  });
});

// -------------------------------------------------------------------------------------------
describe("three regions (regionlab up --regions uksouth,westeurope,eastus)", { timeout: 60_000 }, () => {
  let server;
  const clients = [];
  const byRegion = {}; // short name -> client preferring it
  const display = { uksouth: "UK South", westeurope: "West Europe", eastus: "East US" };

  before(async () => {
    server = await startUp({ regions: "uksouth,westeurope,eastus" });
    assert.deepEqual(
      Object.keys(server.regions).sort(),
      ["East US", "UK South", "West Europe"],
      `ready line: ${JSON.stringify(server.ready)}`,
    );
    for (const [short, name] of Object.entries(display)) {
      byRegion[short] = regionClient(server.regions["UK South"], name);
      clients.push(byRegion[short]);
    }
  });
  after(async () => {
    disposeAll(clients);
    if (server) await server.stop();
  });

  it("writes from each region converge: digest equal everywhere, every document readable everywhere", async () => {
    const dbId = uid("three");
    await byRegion.eastus.databases.create({ id: dbId });
    await byRegion.eastus.database(dbId).containers.create({ id: "c", partitionKey: "/pk" });
    for (const short of Object.keys(display)) {
      await waitFor(`container in ${short}`, async () => {
        const r = await byRegion[short].database(dbId).container("c").read();
        assert.equal(regionOf(r), short);
        return true;
      });
    }
    const expected = new Map();
    const perRegion = 20;
    await Promise.all(
      Object.keys(display).map(async (short) => {
        const c = byRegion[short].database(dbId).container("c");
        for (let i = 0; i < perRegion; i++) {
          const id = `${short}-${i}`;
          const r = await c.items.create({ id, pk: `p${i % 4}`, from: short, i });
          assert.equal(regionOf(r), short, `create of ${id} served by`);
          expected.set(id, { pk: `p${i % 4}`, from: short });
        }
        // and everybody upserts the same document: one winner everywhere
        await c.items.upsert({ id: "shared", pk: "p0", from: short });
      }),
    );
    await waitContainerConverged(server.admin, dbId, "c", { count: perRegion * 3 + 1 });
    await waitAllDigestsEqual(server.admin);

    const sharedEtags = new Set();
    for (const short of Object.keys(display)) {
      const c = byRegion[short].database(dbId).container("c");
      const all = await c.items.readAll().fetchAll();
      const resources = all.resources;
      assert.deepEqual(contacted(all), [server.regions[display[short]]], `readAll through ${short}: endpoints contacted`);
      const ids = resources.map((d) => d.id).sort();
      assert.deepEqual(ids, [...expected.keys(), "shared"].sort(), `documents listed by ${short}`);
      for (const [id, { pk, from }] of expected) {
        const r = await c.item(id, pk).read();
        assert.equal(r.statusCode, 200, `${id} through ${short}: ${r.statusCode}`);
        assert.equal(regionOf(r), short, `read of ${id} served by`);
        assert.equal(r.resource.from, from);
      }
      const s = await c.item("shared", "p0").read();
      assert.equal(s.statusCode, 200);
      sharedEtags.add(s.resource._etag);
    }
    assert.equal(sharedEtags.size, 1, `'shared' has different versions per region: ${[...sharedEtags]}`);
    const { links } = await adminGet(server.admin, "/links");
    assert.equal(links.length, 6, `three regions have 6 directed links: ${JSON.stringify(links)}`);
    await waitLinksIdle(server.admin, { expectLinks: 6 });
  });
});

// -------------------------------------------------------------------------------------------
describe("restart mid-stream (kill -9, same --data-dir)", { timeout: 60_000 }, () => {
  const dir = makeTempDir("regionlab-mr-");
  const servers = [];
  const clients = [];
  after(async () => {
    disposeAll(clients);
    for (const s of servers) await s.kill9();
    rmTemp(dir);
  });

  async function boot() {
    const s = await startUp({ regions: "uksouth,westeurope", dataDir: dir });
    servers.push(s);
    const uk = regionClient(s.regions["UK South"], "UK South");
    const we = regionClient(s.regions["UK South"], "West Europe");
    clients.push(uk, we);
    return { s, uk, we };
  }

  it("nothing acknowledged before the kill is lost, and both regions converge after the restart", async () => {
    const dbId = uid("restart");
    const first = await boot();
    const { resource: dbRes } = await first.uk.databases.create({ id: dbId });
    const { resource: cRes } = await first.uk.database(dbId).containers.create({ id: "c", partitionKey: "/pk" });
    await waitFor("container in West Europe", async () => (await first.we.database(dbId).container("c").read()).resource);

    // A stream of creates from both regions; kill -9 while some are in flight.
    const acked = new Map(); // id -> {pk, v}
    let stopping = false;
    const errors = []; // failures before the kill
    const writer = (client, region, worker) =>
      (async () => {
        const c = client.database(dbId).container("c");
        for (let k = 0; !stopping; k++) {
          const id = `${region}-${worker}-${k}`;
          const pk = `p${k % 3}`;
          try {
            const r = await c.items.create({ id, pk, v: k, region });
            if (regionOf(r) !== region) throw new Error(`create of ${id} served by ${regionOf(r)}`);
            acked.set(id, { pk, v: k });
          } catch (e) {
            if (!stopping) errors.push(`${id}: ${e.code ?? ""} ${e.message}`);
            return;
          }
        }
      })();
    const workers = [];
    for (let w = 0; w < 4; w++) workers.push(writer(first.uk, "uksouth", w), writer(first.we, "westeurope", w));
    await waitFor(
      "150 acknowledged writes before the kill",
      () => {
        assert.deepEqual(errors, [], "writes failed before the kill");
        return acked.size >= 150 || undefined;
      },
      { timeoutMs: 20_000 },
    );
    const linksAtKill = await adminGet(first.s.admin, "/links");
    stopping = true;
    const killed = await first.s.kill9();
    assert.equal(killed.signal, "SIGKILL");
    assert.deepEqual(errors, [], "writes failed before the kill");
    // in-flight requests fail against the dead process; don't wait on SDK retry loops forever
    const t0 = Date.now();
    await Promise.race([Promise.allSettled(workers), new Promise((r) => setTimeout(r, 3000))]);
    disposeAll(clients);
    const ackedBeforeKill = new Map(acked);
    const behind = linksAtKill.links.map((l) => `${l.from}->${l.to} own ${l.ownLsn} acked ${l.ackedLsn}`);
    console.log(
      `# acknowledged before kill -9: ${ackedBeforeKill.size}; links just before: ${behind.join(", ")}; ` +
        `writers settled ${Date.now() - t0} ms after the kill`,
    );

    // Restart on the same directory; write more in one region only.
    const second = await boot();
    const c2 = second.uk.database(dbId).container("c");
    const cont = await c2.read();
    assert.equal(cont.resource._rid, cRes._rid, "container _rid changed across the restart");
    assert.equal((await second.we.database(dbId).read()).resource._rid, dbRes._rid, "database _rid in West Europe");
    for (let i = 0; i < 40; i++) {
      const r = await c2.items.create({ id: `after-${i}`, pk: `p${i % 3}`, v: i });
      assert.equal(regionOf(r), "uksouth");
      acked.set(`after-${i}`, { pk: `p${i % 3}`, v: i });
    }

    await waitLinksIdle(second.s.admin, { expectLinks: 2, timeoutMs: CONVERGE_MS });
    const digest = await waitContainerConverged(second.s.admin, dbId, "c");
    const count = Object.values(digest)[0].count;
    assert.ok(count >= acked.size, `digest count ${count} < ${acked.size} acknowledged documents`);

    for (const [name, client] of [
      ["uksouth", second.uk],
      ["westeurope", second.we],
    ]) {
      const c = client.database(dbId).container("c");
      const all = await c.items.readAll({ maxItemCount: -1 }).fetchAll();
      const resources = all.resources;
      const ep = second.s.regions[name === "uksouth" ? "UK South" : "West Europe"];
      assert.deepEqual(contacted(all), [ep], `readAll through ${name}: endpoints contacted`);
      const have = new Map(resources.map((d) => [d.id, d]));
      const lost = [...acked.keys()].filter((id) => !have.has(id));
      assert.deepEqual(lost, [], `${name} lost acknowledged documents (${lost.length} of ${acked.size})`);
      for (const [id, { pk, v }] of acked) {
        assert.equal(have.get(id).v, v, `${name}: ${id} has the wrong value`);
        assert.equal(have.get(id).pk, pk);
      }
      assert.equal(resources.length, count, `${name}: readAll count vs digest count`);
    }
    // spot-check point reads through each region
    for (const id of [...ackedBeforeKill.keys()].slice(0, 20)) {
      const { pk } = acked.get(id);
      for (const client of [second.uk, second.we]) {
        const r = await client.database(dbId).container("c").item(id, pk).read();
        assert.equal(r.statusCode, 200, `${id} after restart (served by ${regionOf(r)})`);
      }
    }
  });
});
