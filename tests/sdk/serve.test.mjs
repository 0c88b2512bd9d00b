// `regionlab serve`: one region per process, peers found through --peer. Three processes form
// one account; a process with another account key is a stranger that never exchanges data;
// a replication link stalled by a TCP proxy makes session reads answer 404/1002 until it flows.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import {
  EMULATOR_KEY,
  adminGet,
  freePort,
  freePortPair,
  makeClient,
  makeTempDir,
  rawRequest,
  rmTemp,
  startServe,
  uid,
  waitFor,
  waitLinksIdle,
} from "./harness.mjs";

const REGION_HEADER = "x-ms-regionlab-region";
const regionOf = (response) => response.headers && response.headers[REGION_HEADER];
/** How many of the SDK's attempts behind a response were answered 404/1002 (from its diagnostics). */
const sessionMisses = (response) =>
  (response.diagnostics?.clientSideRequestStatistics?.gatewayStatistics ?? []).filter(
    (g) => g.statusCode === 404 && g.subStatusCode === 1002,
  ).length;
const DISPLAY = { uksouth: "UK South", westeurope: "West Europe", eastus: "East US" };

function regionClient(endpoint, preferred, extra = {}) {
  const { connectionPolicy = {}, ...rest } = extra;
  return makeClient(endpoint, {
    connectionPolicy: { requestTimeout: 15_000, preferredLocations: [preferred], ...connectionPolicy },
    ...rest,
  });
}

/** Port pairs (P, P+1000) for each name, all distinct. */
async function portPlan(names) {
  const plan = {};
  const used = new Set();
  for (const n of names) {
    for (;;) {
      const pair = await freePortPair();
      if (used.has(pair.port) || used.has(pair.replicationPort)) continue;
      used.add(pair.port);
      used.add(pair.replicationPort);
      plan[n] = pair;
      break;
    }
  }
  return plan;
}

/** Starts the processes; retries the whole set once if a port was taken in between. */
async function startAll(specsFn) {
  for (let attempt = 0; ; attempt++) {
    const specs = await specsFn();
    const started = await Promise.allSettled(specs.map((s) => startServe(s)));
    if (started.every((r) => r.status === "fulfilled")) return started.map((r) => r.value);
    for (const r of started) if (r.status === "fulfilled") await r.value.kill9();
    if (attempt >= 2) throw started.find((r) => r.status === "rejected").reason;
  }
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

/** The digest entry {count, hash} of one container in a single-region process, or undefined. */
async function containerDigestOf(admin, dbId, cId) {
  const d = await adminGet(admin, "/digest");
  assert.equal(d.regions.length, 1, `a serve process digests one region: ${JSON.stringify(d)}`);
  const e = d.regions[0].containers.find((c) => c.database === dbId && c.container === cId);
  return e ? { count: e.count, hash: e.hash } : undefined;
}

// -------------------------------------------------------------------------------------------
describe("three serve processes form one account", { timeout: 60_000 }, () => {
  const names = ["uksouth", "westeurope", "eastus"];
  let plan;
  const procs = {}; // name -> process handle
  const clients = [];
  const by = {}; // name -> client preferring it

  before(async () => {
    const started = await startAll(async () => {
      plan = await portPlan(names);
      return names.map((n) => ({
        region: n,
        ...plan[n],
        peers: Object.fromEntries(
          names.filter((m) => m !== n).map((m) => [m, `127.0.0.1:${plan[m].replicationPort}`]),
        ),
      }));
    });
    names.forEach((n, i) => (procs[n] = started[i]));
    for (const n of names) {
      by[n] = regionClient(`http://127.0.0.1:${plan.uksouth.port}/`, DISPLAY[n]);
      clients.push(by[n]);
    }
  });
  after(async () => {
    disposeAll(clients);
    await Promise.all(Object.values(procs).map((p) => p.stop()));
  });

  it("each process's ready line names its region and data port", () => {
    for (const n of names) {
      const r = procs[n].ready;
      assert.deepEqual(
        (r.regions || []).map(({ name, endpoint }) => ({ name, endpoint })),
        [{ name: DISPLAY[n], endpoint: `http://127.0.0.1:${plan[n].port}/` }],
        `${n} ready line: ${JSON.stringify(r)}`,
      );
      assert.match(r.admin, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    }
  });

  it("GET / on each lists all three regions, itself first, writable, multi-master", async () => {
    for (const n of names) {
      const ep = `http://127.0.0.1:${plan[n].port}/`;
      const r = await rawRequest(ep, { path: "/" });
      assert.equal(r.status, 200, `GET / on ${n}: ${r.text}`);
      assert.equal(r.headers[REGION_HEADER], n);
      assert.equal(r.json.enableMultipleWriteLocations, true, `${n}: enableMultipleWriteLocations`);
      for (const list of ["writableLocations", "readableLocations"]) {
        const locs = r.json[list];
        assert.equal(locs.length, 3, `${n} ${list}: ${JSON.stringify(locs)}`);
        assert.deepEqual(
          { name: locs[0].name, databaseAccountEndpoint: locs[0].databaseAccountEndpoint },
          { name: DISPLAY[n], databaseAccountEndpoint: ep },
          `${n} ${list}: itself first: ${JSON.stringify(locs)}`,
        );
        const got = Object.fromEntries(locs.map((l) => [l.name, l.databaseAccountEndpoint]));
        const want = Object.fromEntries(names.map((m) => [DISPLAY[m], `http://127.0.0.1:${plan[m].port}/`]));
        assert.deepEqual(got, want, `${n} ${list}: peers advertised at http://HOST:(RPORT-1000)/`);
      }
    }
  });

  it("writes through each process converge: documents readable everywhere, /digest equal", async () => {
    const dbId = uid("srv");
    // database through one region, container through another
    await by.westeurope.databases.create({ id: dbId });
    await waitFor(`database in eastus`, async () => (await by.eastus.database(dbId).read()).resource);
    const cont = await by.eastus.database(dbId).containers.create({ id: "c", partitionKey: "/pk" });
    assert.equal(regionOf(cont), "eastus");
    for (const n of names) {
      const r = await waitFor(`container in ${n}`, async () => {
        const x = await by[n].database(dbId).container("c").read();
        assert.equal(regionOf(x), n);
        return x;
      });
      assert.equal(r.resource._rid, cont.resource._rid, `container _rid in ${n}`);
    }

    const expected = new Map();
    await Promise.all(
      names.map(async (n) => {
        const c = by[n].database(dbId).container("c");
        for (let i = 0; i < 15; i++) {
          const id = `${n}-${i}`;
          const r = await c.items.create({ id, pk: `p${i % 3}`, from: n });
          assert.equal(regionOf(r), n, `create of ${id} served by`);
          expected.set(id, { pk: `p${i % 3}`, from: n, etag: r.resource._etag });
        }
        await c.items.upsert({ id: "shared", pk: "p0", from: n });
      }),
    );

    for (const n of names) {
      const c = by[n].database(dbId).container("c");
      for (const [id, { pk, from, etag }] of expected) {
        const r = await waitFor(`${id} readable through ${n}`, async () => {
          const x = await c.item(id, pk).read();
          assert.equal(x.statusCode, 200, `${id} through ${n}: ${x.statusCode}`);
          return x;
        });
        assert.equal(regionOf(r), n);
        assert.equal(r.resource.from, from);
        assert.equal(r.resource._etag, etag, `${id} through ${n}: _etag`);
      }
    }
    await waitFor("'shared' has one winner in every process", async () => {
      const rs = await Promise.all(names.map((n) => by[n].database(dbId).container("c").item("shared", "p0").read()));
      const etags = rs.map((r) => r.resource && r.resource._etag);
      assert.ok(etags.every((e) => e && e === etags[0]), `'shared' _etag per region: ${etags}`);
      return true;
    });
    const digests = await waitFor("every process's /digest of the container is equal", async () => {
      const ds = await Promise.all(names.map((n) => containerDigestOf(procs[n].admin, dbId, "c")));
      assert.ok(ds.every((d) => d !== undefined), `digest: ${JSON.stringify(ds)}`);
      assert.ok(ds.every((d) => d.hash === ds[0].hash && d.count === ds[0].count), `digests: ${JSON.stringify(ds)}`);
      return ds;
    });
    assert.equal(digests[0].count, expected.size + 1);

    for (const n of names) {
      const links = await waitLinksIdle(procs[n].admin);
      const peers = links.filter((l) => l.from === n).map((l) => l.to).sort();
      assert.deepEqual(peers, names.filter((m) => m !== n).sort(), `${n} /links: ${JSON.stringify(links)}`);
    }
  });
});

// -------------------------------------------------------------------------------------------
/**
 * A TCP relay that can be paused: while paused, bytes in both directions are held (the
 * connection stays open, so the replication link looks connected but stalls).
 */
async function startRelay(targetPort) {
  const port = await freePort();
  let paused = false;
  const pairs = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    const pair = { client, upstream, held: [] };
    pairs.add(pair);
    const forward = (from, to) =>
      from.on("data", (chunk) => {
        if (paused) pair.held.push([to, chunk]);
        else to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    const close = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("close", close);
    upstream.on("close", close);
    client.on("error", close);
    upstream.on("error", close);
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return {
    port,
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      for (const p of pairs) {
        for (const [to, chunk] of p.held.splice(0)) if (!to.destroyed) to.write(chunk);
      }
    },
    connections: () => pairs.size,
    close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      return new Promise((r) => server.close(() => r()));
    },
  };
}

describe("a stranger with another key, and a stalled link", { timeout: 60_000 }, () => {
  // uksouth and westeurope share the emulator key; eastus runs with another key. All three
  // name each other as peers. uksouth reaches westeurope through a pausable relay.
  const strangerKey = randomBytes(64).toString("base64");
  let plan;
  let relay;
  const procs = {};
  const clients = [];
  let uk;
  let we;
  let stranger;
  const ep = (n) => `http://127.0.0.1:${plan[n].port}/`;

  before(async () => {
    const started = await startAll(async () => {
      plan = await portPlan(["uksouth", "westeurope", "eastus"]);
      if (relay) await relay.close();
      relay = await startRelay(plan.westeurope.replicationPort);
      const rp = (n) => `127.0.0.1:${plan[n].replicationPort}`;
      return [
        {
          region: "uksouth",
          ...plan.uksouth,
          peers: { westeurope: `127.0.0.1:${relay.port}`, eastus: rp("eastus") },
          peerEndpoints: { westeurope: ep("westeurope") },
        },
        { region: "westeurope", ...plan.westeurope, peers: { uksouth: rp("uksouth"), eastus: rp("eastus") } },
        {
          region: "eastus",
          ...plan.eastus,
          peers: { uksouth: rp("uksouth"), westeurope: rp("westeurope") },
          key: strangerKey,
        },
      ];
    });
    [procs.uksouth, procs.westeurope, procs.eastus] = started;
    uk = regionClient(ep("uksouth"), "UK South", { consistencyLevel: "Session" });
    we = regionClient(ep("uksouth"), "West Europe", { consistencyLevel: "Session" });
    stranger = makeClient(ep("eastus"), { key: strangerKey });
    clients.push(uk, we, stranger);
  });
  after(async () => {
    disposeAll(clients);
    await Promise.all(Object.values(procs).map((p) => p.stop()));
    if (relay) await relay.close();
  });

  it("--peer-endpoint overrides the advertised endpoint of a peer", async () => {
    const r = await rawRequest(ep("uksouth"), { path: "/" });
    const got = Object.fromEntries(r.json.readableLocations.map((l) => [l.name, l.databaseAccountEndpoint]));
    assert.equal(got["West Europe"], ep("westeurope"), JSON.stringify(r.json.readableLocations));
    assert.equal(got["East US"], ep("eastus"), JSON.stringify(r.json.readableLocations));
  });

  it("the stranger's data plane wants its own key", async () => {
    const bad = await rawRequest(ep("eastus"), { path: "/dbs", key: EMULATOR_KEY });
    assert.equal(bad.status, 401, `stranger with the emulator key: ${bad.status} ${bad.text}`);
    const good = await rawRequest(ep("eastus"), { path: "/dbs", key: strangerKey });
    assert.equal(good.status, 200, `stranger with its key: ${good.status} ${good.text}`);
  });

  it("a process with another key never exchanges data with the account", async () => {
    const dbId = uid("acct");
    await uk.databases.create({ id: dbId });
    await uk.database(dbId).containers.create({ id: "c", partitionKey: "/pk" });
    const c = uk.database(dbId).container("c");
    for (let i = 0; i < 10; i++) await c.items.create({ id: `d${i}`, pk: "p", i });
    // the stranger writes its own data, under the same names too
    const sdb = uid("stranger");
    await stranger.databases.create({ id: sdb });
    await stranger.database(sdb).containers.create({ id: "c", partitionKey: "/pk" });
    await stranger.database(sdb).container("c").items.create({ id: "secret", pk: "p" });

    // the two real regions converge
    await waitFor("uksouth and westeurope digests equal", async () => {
      const [a, b] = await Promise.all([
        containerDigestOf(procs.uksouth.admin, dbId, "c"),
        containerDigestOf(procs.westeurope.admin, dbId, "c"),
      ]);
      assert.ok(a && b && a.hash === b.hash && a.count === 10 && b.count === 10, `digests: ${JSON.stringify([a, b])}`);
      return true;
    });
    await waitFor("d9 through West Europe", async () => {
      const r = await we.database(dbId).container("c").item("d9", "p").read();
      assert.equal(r.statusCode, 200);
      assert.equal(regionOf(r), "westeurope");
      return true;
    });

    // for a bounded while, the stranger has none of it, and nobody has the stranger's data
    const until = Date.now() + 1500;
    let polls = 0;
    while (Date.now() < until) {
      polls++;
      const r = await rawRequest(ep("eastus"), { path: `/dbs/${dbId}/colls/c`, key: strangerKey });
      assert.equal(r.status, 404, `the stranger has the account's container: ${r.status} ${r.text}`);
      for (const n of ["uksouth", "westeurope"]) {
        const s = await rawRequest(ep(n), { path: `/dbs/${sdb}` });
        assert.equal(s.status, 404, `${n} has the stranger's database: ${s.status} ${s.text}`);
      }
      const sd = await adminGet(procs.eastus.admin, "/digest");
      assert.ok(
        sd.regions[0].containers.every((x) => x.database !== dbId),
        `the stranger's digest lists the account's container: ${JSON.stringify(sd)}`,
      );
      for (const n of ["uksouth", "westeurope"]) {
        const { links } = await adminGet(procs[n].admin, "/links");
        const toStranger = links.filter((l) => l.to === "eastus");
        assert.equal(toStranger.length, 1, `${n} /links has no link to eastus: ${JSON.stringify(links)}`);
        assert.equal(toStranger[0].connected, false, `${n} -> eastus (other key) connected: ${JSON.stringify(toStranger[0])}`);
      }
      const { links: sl } = await adminGet(procs.eastus.admin, "/links");
      for (const l of sl) assert.equal(l.connected, false, `stranger link connected: ${JSON.stringify(l)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(polls >= 3);
    // ... and not for want of a network path: the stranger's replication listener accepts TCP
    await new Promise((resolve, reject) => {
      const sock = net.connect(plan.eastus.replicationPort, "127.0.0.1", () => {
        sock.destroy();
        resolve();
      });
      sock.on("error", (e) => reject(new Error(`the stranger's replication port does not accept TCP: ${e.message}`)));
    });
    // the genuine link between the two account regions is up
    const { links } = await adminGet(procs.uksouth.admin, "/links");
    const toWe = links.find((l) => l.to === "westeurope");
    assert.equal(toWe && toWe.connected, true, `uksouth -> westeurope: ${JSON.stringify(toWe)}`);
  });

  it("session reads through a region behind the token answer 404/1002 until the link flows again", async () => {
    const dbId = uid("sess");
    await uk.databases.create({ id: dbId });
    await uk.database(dbId).containers.create({ id: "c", partitionKey: "/pk" });
    const cUk = uk.database(dbId).container("c");
    const cWe = we.database(dbId).container("c");
    const v1 = await cUk.items.create({ id: "doc", pk: "p", v: 1 });
    await waitFor("v1 in West Europe", async () => {
      const r = await cWe.item("doc", "p").read({ sessionToken: v1.headers["x-ms-session-token"] });
      assert.equal(r.statusCode, 200);
      assert.equal(regionOf(r), "westeurope");
      assert.equal(r.resource.v, 1);
      return true;
    });
    assert.ok(relay.connections() >= 1, "the uksouth -> westeurope link does not go through the relay");

    relay.pause();
    let v2;
    try {
      v2 = await cUk.item("doc", "p").replace({ id: "doc", pk: "p", v: 2 });
      assert.equal(regionOf(v2), "uksouth");
      const token = v2.headers["x-ms-session-token"];
      const rawRead = (headers) =>
        rawRequest(ep("westeurope"), {
          path: `/dbs/${dbId}/colls/c/docs/doc`,
          headers: { "x-ms-documentdb-partitionkey": '["p"]', ...headers },
        });
      // while westeurope cannot have v2, a read with v2's token is 404/1002 - never v1
      for (let i = 0; i < 5; i++) {
        const r = await rawRead({ "x-ms-session-token": token, "x-ms-consistency-level": "Session" });
        assert.equal(
          r.status,
          404,
          `GET /dbs/${dbId}/colls/c/docs/doc on westeurope with x-ms-session-token ${token} while the ` +
            `link is stalled: expected 404/1002, got ${r.status} ${r.text}`,
        );
        assert.equal(r.headers["x-ms-substatus"], "1002", `substatus: ${JSON.stringify(r.headers)} ${r.text}`);
        assert.ok(r.json && r.json.message, `404/1002 body: ${r.text}`);
      }
      // without a token, westeurope serves what it has (v1): that's what a stale read looks like
      const plain = await rawRead({});
      assert.equal(plain.status, 200, plain.text);
      assert.equal(plain.json.v, 1, `westeurope without a token: ${plain.text}`);
      // the SDK meets the 404/1002 and retries (its session retry policy)
      const sdk = await cWe.item("doc", "p").read({ sessionToken: token });
      const misses = sessionMisses(sdk);
      console.log(
        `# SDK read while stalled: status ${sdk.statusCode} v=${sdk.resource && sdk.resource.v} ` +
          `after ${misses} answers 404/1002 (then the SDK drops the token and reads whatever is there)`,
      );
      assert.ok(misses >= 1, `the SDK's session read never met 404/1002: ${JSON.stringify(sdk.diagnostics)}`);
      if (sdk.statusCode === 200 && sdk.resource.v !== 2) {
        assert.ok(misses >= 2, `the SDK returned v=${sdk.resource.v} after only ${misses} session retries`);
      }
    } finally {
      relay.resume();
    }
    // once the link flows, the SDK's session read through westeurope returns v2
    const token = v2.headers["x-ms-session-token"];
    const got = await waitFor("v2 through West Europe with the session token", async () => {
      const r = await cWe.item("doc", "p").read({ sessionToken: token });
      assert.equal(r.statusCode, 200, `status ${r.statusCode} substatus ${r.substatus}`);
      assert.equal(regionOf(r), "westeurope");
      assert.equal(r.resource.v, 2, `westeurope still has v=${r.resource.v}`);
      return r;
    });
    assert.equal(got.resource._etag, v2.resource._etag);
    // and the link to westeurope drains
    await waitFor("uksouth -> westeurope caught up", async () => {
      const { links } = await adminGet(procs.uksouth.admin, "/links");
      const l = links.find((x) => x.to === "westeurope");
      assert.ok(l.connected && l.ackedLsn === l.ownLsn && l.queue === 0, JSON.stringify(l));
      return true;
    });
  });
});

// -------------------------------------------------------------------------------------------
describe("one serve process killed and restarted catches up", { timeout: 60_000 }, () => {
  let plan;
  const dirs = { uksouth: makeTempDir("regionlab-uk-"), westeurope: makeTempDir("regionlab-we-") };
  const procs = [];
  const clients = [];
  const spec = (n, m) => ({
    region: n,
    ...plan[n],
    peers: { [m]: `127.0.0.1:${plan[m].replicationPort}` },
    dataDir: dirs[n],
  });
  after(async () => {
    disposeAll(clients);
    await Promise.all(procs.map((p) => p.kill9()));
    for (const d of Object.values(dirs)) rmTemp(d);
  });

  it("writes made while westeurope was down reach it after a restart on the same data dir", async () => {
    const [uk, we1] = await startAll(async () => {
      plan = await portPlan(["uksouth", "westeurope"]);
      return [spec("uksouth", "westeurope"), spec("westeurope", "uksouth")];
    });
    procs.push(uk, we1);
    const ukEp = `http://127.0.0.1:${plan.uksouth.port}/`;
    const cUkClient = regionClient(ukEp, "UK South");
    const cWeClient = regionClient(ukEp, "West Europe");
    clients.push(cUkClient, cWeClient);
    const dbId = uid("catch");
    await cUkClient.databases.create({ id: dbId });
    await cUkClient.database(dbId).containers.create({ id: "c", partitionKey: "/pk" });
    await waitFor("container in westeurope", async () => (await cWeClient.database(dbId).container("c").read()).resource);
    const expected = new Map();
    const write = async (client, id, region) => {
      const r = await client.database(dbId).container("c").items.create({ id, pk: `p${expected.size % 4}`, region });
      assert.equal(regionOf(r), region, `create of ${id} served by`);
      expected.set(id, r.resource);
    };
    for (let i = 0; i < 40; i++) await write(cUkClient, `before-uk-${i}`, "uksouth");
    for (let i = 0; i < 20; i++) await write(cWeClient, `before-we-${i}`, "westeurope");
    const idle = await waitLinksIdle(uk.admin);
    const sentBefore = idle.find((l) => l.to === "westeurope").entriesSent;

    // kill -9 westeurope; uksouth keeps taking writes, its link queues them
    await we1.kill9();
    await waitFor("uksouth sees the link to westeurope down", async () => {
      const { links } = await adminGet(uk.admin, "/links");
      const l = links.find((x) => x.to === "westeurope");
      assert.equal(l.connected, false, JSON.stringify(l));
      return true;
    });
    const during = 100;
    for (let i = 0; i < during; i++) await write(cUkClient, `during-${i}`, "uksouth");
    const { links: down } = await adminGet(uk.admin, "/links");
    const lDown = down.find((x) => x.to === "westeurope");
    assert.ok(lDown.ackedLsn < lDown.ownLsn, `writes during the outage are not pending: ${JSON.stringify(lDown)}`);

    // restart westeurope on the same directory and ports
    const we2 = await waitFor(
      "westeurope restarted on its ports",
      () => startServe(spec("westeurope", "uksouth")),
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    procs.push(we2);
    const weClient = regionClient(ukEp, "West Europe");
    clients.push(weClient);
    const links = await waitLinksIdle(uk.admin);
    await waitLinksIdle(we2.admin);
    const sentAfter = links.find((l) => l.to === "westeurope").entriesSent;
    console.log(`# entries shipped to westeurope after its restart: ${sentAfter - sentBefore} (${during} written meanwhile)`);
    assert.ok(
      sentAfter - sentBefore <= during + 20,
      `uksouth shipped ${sentAfter - sentBefore} entries to the restarted westeurope for ${during} new writes: ` +
        `a resend in full? ${JSON.stringify(links)}`,
    );
    await waitFor("both processes' /digest equal", async () => {
      const [a, b] = await Promise.all([
        containerDigestOf(uk.admin, dbId, "c"),
        containerDigestOf(we2.admin, dbId, "c"),
      ]);
      assert.ok(a && b && a.hash === b.hash && a.count === expected.size, `digests ${JSON.stringify([a, b])}, want count ${expected.size}`);
      return true;
    });
    const all = await weClient.database(dbId).container("c").items.readAll().fetchAll();
    const have = new Map(all.resources.map((d) => [d.id, d]));
    for (const [id, doc] of expected) {
      assert.ok(have.has(id), `${id} missing in the restarted westeurope`);
      assert.equal(have.get(id)._etag, doc._etag, `${id}: _etag in westeurope`);
    }
    const r = await weClient.database(dbId).container("c").item("during-99", expected.get("during-99").pk).read();
    assert.equal(r.statusCode, 200);
    assert.equal(regionOf(r), "westeurope");
  });
});
