// The change feed through the real SDK: container.items.getChangeFeedIterator with every start
// point (Beginning, Now, Time, Continuation, Beginning(partitionKey)), maxItemCount paging,
// 304s, latest-version dedup, the SDK's own continuation token (which wraps our etag) moving
// between regions, a failover in the middle of an iteration, and all-versions-and-deletes mode.
// Nothing sleeps to let replication happen: every wait polls a condition with a deadline.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ChangeFeedMode, ChangeFeedStartFrom } from "@azure/cosmos";
import { makeClient, rawRequest, startUp, uid, waitFor } from "./harness.mjs";

const REGION_HEADER = "x-ms-regionlab-region";
const regionOf = (response) => response.headers && response.headers[REGION_HEADER];

function regionClient(endpoint, preferred) {
  return makeClient(endpoint, { connectionPolicy: { requestTimeout: 15_000, preferredLocations: preferred } });
}

/** Reads an iterator until a 304; returns {items, pages, last}. */
async function drain(iterator, what, maxPages = 200) {
  const items = [];
  const pages = [];
  for (let i = 0; i < maxPages; i++) {
    const res = await iterator.readNext();
    if (res.statusCode === 304) return { items, pages, last: res };
    assert.equal(res.statusCode, 200, `${what}: status ${res.statusCode}`);
    pages.push(res.result.length);
    items.push(...res.result);
  }
  assert.fail(`${what}: no 304 after ${maxPages} pages`);
}

/** Reads an iterator until `done(allItems)` holds (new changes may still be replicating). */
async function readUntil(iterator, what, done, timeoutMs = 15_000) {
  const items = [];
  await waitFor(what, async () => {
    const res = await iterator.readNext();
    assert.ok(res.statusCode === 200 || res.statusCode === 304, `${what}: status ${res.statusCode}`);
    if (res.statusCode === 200) items.push(...res.result);
    return done(items) ? true : undefined;
  }, { timeoutMs });
  return items;
}

describe("change feed (two regions)", { timeout: 120_000 }, () => {
  let server;
  let uk; // prefers UK South, then West Europe
  let we; // prefers West Europe
  const clients = [];
  const dbId = uid("cf");
  let ukDb;

  before(async () => {
    server = await startUp({ regions: "uksouth,westeurope" });
    const ep = server.regions["UK South"];
    uk = regionClient(ep, ["UK South", "West Europe"]);
    we = regionClient(server.regions["West Europe"], ["West Europe"]);
    clients.push(uk, we);
    ({ database: ukDb } = await uk.databases.create({ id: dbId }));
  });
  after(async () => {
    for (const c of clients) {
      try {
        c.dispose();
      } catch {
        /* ignore */
      }
    }
    if (server) await server.stop();
  });

  /** A fresh container, visible in both regions. */
  async function freshContainer() {
    const id = uid("c");
    await ukDb.containers.create({ id, partitionKey: { paths: ["/pk"] } });
    await waitFor(`container ${id} in West Europe`, async () => (await we.database(dbId).container(id).read()).resource);
    return { ukC: uk.database(dbId).container(id), weC: we.database(dbId).container(id), id };
  }

  /** Waits until West Europe has `id` at `etag`. */
  async function waitReplicated(weC, id, pk, etag) {
    await waitFor(`${id} at ${etag} in West Europe`, async () => {
      const r = await weC.item(id, pk).read();
      return r.resource && r.resource._etag === etag;
    });
  }

  it("Beginning: each changed document once, at its latest version, paged by maxItemCount; then 304", async () => {
    const { ukC } = await freshContainer();
    await ukC.items.create({ id: "a", pk: "p", v: 1 });
    await ukC.items.create({ id: "b", pk: "p", v: 1 });
    await ukC.items.create({ id: "c", pk: "q", v: 1 });
    for (const v of [2, 3, 4]) await ukC.items.upsert({ id: "b", pk: "p", v });
    const it = ukC.items.getChangeFeedIterator({ changeFeedStartFrom: ChangeFeedStartFrom.Beginning(), maxItemCount: 2 });
    const { items, pages, last } = await drain(it, "Beginning");
    assert.deepEqual(items.map((d) => d.id), ["a", "c", "b"]);
    assert.equal(items[2].v, 4, "b at its last version");
    assert.deepEqual(pages, [2, 1]);
    assert.equal(last.result.length, 0);
    assert.ok(last.continuationToken, "a 304 still carries a continuation token");
    // Nothing new: 304 again; a new write: exactly it.
    assert.equal((await it.readNext()).statusCode, 304);
    await ukC.items.upsert({ id: "a", pk: "p", v: 2 });
    const next = await it.readNext();
    assert.equal(next.statusCode, 200);
    assert.deepEqual(next.result.map((d) => [d.id, d.v]), [["a", 2]]);
  });

  it("Now: only changes after the first read", async () => {
    const { ukC } = await freshContainer();
    await ukC.items.create({ id: "old", pk: "p" });
    const it = ukC.items.getChangeFeedIterator({ changeFeedStartFrom: ChangeFeedStartFrom.Now() });
    assert.equal((await it.readNext()).statusCode, 304);
    await ukC.items.create({ id: "new", pk: "p" });
    const { items } = await drain(it, "Now");
    assert.deepEqual(items.map((d) => d.id), ["new"]);
  });

  it("Time: changes from a point in time", async () => {
    const { ukC } = await freshContainer();
    await ukC.items.create({ id: "before", pk: "p" });
    // If-Modified-Since has whole seconds: start at the next full second, once it has come.
    const start = new Date(Math.ceil((Date.now() + 1) / 1000) * 1000);
    await waitFor("the start second to begin", async () => Date.now() >= start.getTime() + 50, { intervalMs: 20 });
    await ukC.items.create({ id: "after", pk: "p" });
    const it = ukC.items.getChangeFeedIterator({ changeFeedStartFrom: ChangeFeedStartFrom.Time(start) });
    const { items } = await drain(it, "Time");
    assert.deepEqual(items.map((d) => d.id), ["after"]);
  });

  it("Beginning(partitionKey): one partition only, and its continuation resumes on the other region", async () => {
    const { ukC, weC } = await freshContainer();
    for (const [id, pk] of [["x1", "x"], ["y1", "y"], ["x2", "x"], ["y2", "y"], ["x3", "x"]]) {
      await ukC.items.create({ id, pk });
    }
    const it = ukC.items.getChangeFeedIterator({ changeFeedStartFrom: ChangeFeedStartFrom.Beginning("x"), maxItemCount: 2 });
    const first = await it.readNext();
    assert.deepEqual(first.result.map((d) => d.id), ["x1", "x2"]);
    const token = JSON.parse(first.continuationToken);
    assert.deepEqual(token.partitionKey, "x");
    assert.equal(typeof token.Continuation, "string");
    const last = await ukC.items.create({ id: "x4", pk: "x" });
    await waitReplicated(weC, "x4", "x", last.resource._etag);
    const moved = weC.items.getChangeFeedIterator({
      changeFeedStartFrom: ChangeFeedStartFrom.Continuation(first.continuationToken),
    });
    const rest = await drain(moved, "partition continuation on West Europe");
    // Nothing missed; x1 and x2 may come again: the token was taken before the
    // reader had caught up in UK South (docs/design.md, "Change feed").
    const ids = rest.items.map((d) => d.id);
    assert.ok(ids.includes("x3") && ids.includes("x4"), `got ${ids}`);
    assert.ok(ids.every((id) => id.startsWith("x")), `another partition leaked in: ${ids}`);
    assert.equal(new Set(ids).size, ids.length, `a document twice in one region: ${ids}`);
    assert.equal(regionOf(rest.last), "westeurope");
    // A token taken after catching up (a 304) moves without repeating anything.
    const caughtUp = rest.last.continuationToken;
    await weC.items.create({ id: "x5", pk: "x" });
    const x6 = await weC.items.create({ id: "x6", pk: "x" });
    await waitFor("x6 in UK South", async () => (await ukC.item("x6", "x").read()).resource?._etag === x6.resource._etag);
    const back = ukC.items.getChangeFeedIterator({ changeFeedStartFrom: ChangeFeedStartFrom.Continuation(caughtUp) });
    const again = await drain(back, "partition continuation back on UK South");
    assert.deepEqual(again.items.map((d) => d.id), ["x5", "x6"]);
    assert.equal(regionOf(again.last), "uksouth");
  });

  it("a continuation token from UK South resumes on West Europe without missing a change", async () => {
    const { ukC, weC } = await freshContainer();
    const written = new Map(); // id -> last etag
    const pkOf = new Map();
    const write = async (c, doc, upsert = false) => {
      pkOf.set(doc.id, doc.pk);
      written.set(doc.id, (await (upsert ? c.items.upsert(doc) : c.items.create(doc))).resource._etag);
    };
    for (let i = 0; i < 6; i++) await write(ukC, { id: `u${i}`, pk: `p${i % 2}` });
    for (let i = 0; i < 6; i++) await write(weC, { id: `w${i}`, pk: `p${i % 2}` });
    const it = ukC.items.getChangeFeedIterator({ changeFeedStartFrom: ChangeFeedStartFrom.Beginning(), maxItemCount: 4 });
    const seen = new Map(); // id -> set of etags
    const note = (docs) => docs.forEach((d) => seen.set(d.id, (seen.get(d.id) ?? new Set()).add(d._etag)));
    const first = await it.readNext();
    assert.equal(first.statusCode, 200);
    assert.equal(regionOf(first), "uksouth");
    note(first.result);
    const token = JSON.parse(first.continuationToken);
    assert.equal(token.Continuation.length, 1, "one feed range");
    assert.equal(token.Continuation[0].minInclusive, "");
    assert.equal(token.Continuation[0].maxExclusive, "FF");
    assert.ok(token.Continuation[0].continuationToken, "our etag inside the SDK's token");
    // More writes in both regions, then West Europe reads on from UK South's token.
    await write(ukC, { id: "u0", pk: "p0", v: 2 }, true);
    await write(weC, { id: "w5", pk: "p1", v: 2 }, true);
    await write(ukC, { id: "late", pk: "p0" });
    for (const [id, etag] of written) await waitReplicated(weC, id, pkOf.get(id), etag);
    const moved = weC.items.getChangeFeedIterator({
      changeFeedStartFrom: ChangeFeedStartFrom.Continuation(first.continuationToken),
      maxItemCount: 4,
    });
    const rest = await drain(moved, "continuation on West Europe");
    assert.equal(regionOf(rest.last), "westeurope");
    note(rest.items);
    for (const [id, etag] of written) {
      assert.ok(seen.get(id)?.has(etag), `${id} at ${etag} was never delivered; seen ${JSON.stringify([...(seen.get(id) ?? [])])}`);
    }
    // And West Europe's own continuation works back on UK South: nothing new, 304.
    const back = ukC.items.getChangeFeedIterator({
      changeFeedStartFrom: ChangeFeedStartFrom.Continuation(rest.last.continuationToken),
    });
    const none = await back.readNext();
    assert.equal(none.statusCode, 304);
    assert.equal(regionOf(none), "uksouth");
  });

  it("an iterator keeps its place when its region goes offline (503) and the SDK fails over", async () => {
    const { ukC, weC } = await freshContainer();
    const failing = regionClient(server.regions["UK South"], ["UK South", "West Europe"]);
    clients.push(failing);
    const c = failing.database(dbId).container(ukC.id);
    for (let i = 0; i < 5; i++) await ukC.items.create({ id: `d${i}`, pk: "p" });
    const it = c.items.getChangeFeedIterator({ changeFeedStartFrom: ChangeFeedStartFrom.Beginning(), maxItemCount: 3 });
    const first = await it.readNext();
    assert.equal(regionOf(first), "uksouth");
    assert.equal(first.result.length, 3);
    const last = await ukC.items.create({ id: "d5", pk: "p" });
    await waitReplicated(weC, "d5", "p", last.resource._etag);
    const off = await fetch(server.admin.replace(/\/+$/, "") + "/regions/uksouth/offline", {
      method: "POST",
      body: JSON.stringify({ mode: "503" }),
      headers: { "content-type": "application/json" },
    });
    assert.ok(off.ok, `offline: ${off.status} ${await off.text()}`);
    try {
      const rest = await drain(it, "after failover");
      assert.equal(regionOf(rest.last), "westeurope");
      const ids = new Set([...first.result, ...rest.items].map((d) => d.id));
      assert.deepEqual([...ids].sort(), ["d0", "d1", "d2", "d3", "d4", "d5"]);
    } finally {
      await fetch(server.admin.replace(/\/+$/, "") + "/regions/uksouth/online", { method: "POST" });
    }
  });

  it("AllVersionsAndDeletes: every create, replace and delete, with region and version vector", async () => {
    const { ukC, weC } = await freshContainer();
    const it = ukC.items.getChangeFeedIterator({
      changeFeedStartFrom: ChangeFeedStartFrom.Now(),
      changeFeedMode: ChangeFeedMode.AllVersionsAndDeletes,
    });
    assert.equal((await it.readNext()).statusCode, 304);
    const created = await ukC.items.create({ id: "a", pk: "p", v: 1 });
    await waitReplicated(weC, "a", "p", created.resource._etag);
    const replaced = await weC.item("a", "p").replace({ id: "a", pk: "p", v: 2 });
    await waitFor("the replace in UK South", async () => (await ukC.item("a", "p").read()).resource?._etag === replaced.resource._etag);
    await ukC.item("a", "p").delete();
    const items = await readUntil(it, "three versions of a", (all) => all.length >= 3);
    assert.deepEqual(items.map((x) => x.metadata.operationType), ["create", "replace", "delete"]);
    assert.deepEqual(items.map((x) => x.metadata.region), ["uksouth", "westeurope", "uksouth"]);
    assert.equal(items[0].current.v, 1);
    assert.equal(items[1].current.v, 2);
    assert.deepEqual(items[2].current, {});
    assert.equal(items[2].metadata.id, "a");
    assert.deepEqual(items[2].metadata.partitionKey, { pk: "p" });
    for (const x of items) {
      assert.equal(typeof x.metadata.lsn, "number");
      assert.equal(typeof x.metadata.crts, "number");
    }
    const [c0, r1, d2] = items.map((x) => x.metadata.versionVector);
    assert.deepEqual(Object.keys(c0), ["uksouth"]);
    assert.equal(r1.uksouth, c0.uksouth, "the replace descends from the create");
    assert.ok(r1.westeurope > 0);
    assert.equal(d2.westeurope, r1.westeurope, "the delete descends from the replace");
    assert.ok(d2.uksouth > r1.uksouth);
    // The same iterator's token, read on West Europe from the start of that token: nothing new.
    const token = (await it.readNext()).continuationToken;
    const moved = weC.items.getChangeFeedIterator({
      changeFeedStartFrom: ChangeFeedStartFrom.Continuation(token),
      changeFeedMode: ChangeFeedMode.AllVersionsAndDeletes,
    });
    const after = await waitFor("West Europe to apply the delete", async () => {
      const r = await weC.item("a", "p").read().catch((e) => e);
      return r.code === 404 || r.statusCode === 404;
    });
    assert.ok(after);
    const res = await moved.readNext();
    assert.equal(res.statusCode, 304, `expected nothing new on West Europe, got ${JSON.stringify(res.result)}`);
  });

  it("the raw protocol: A-IM, If-None-Match and a 304 with an etag", async () => {
    const { ukC, id } = await freshContainer();
    await ukC.items.create({ id: "a", pk: "p" });
    const path = `/dbs/${dbId}/colls/${id}/docs`;
    const ep = server.regions["UK South"];
    const r1 = await rawRequest(ep, { path, headers: { "a-im": "Incremental Feed", "x-ms-documentdb-partitionkeyrangeid": "0" } });
    assert.equal(r1.status, 200, r1.text);
    assert.equal(r1.json._count, 1);
    assert.ok(r1.headers.etag);
    const r2 = await rawRequest(ep, { path, headers: { "a-im": "Incremental Feed", "if-none-match": r1.headers.etag } });
    assert.equal(r2.status, 304);
    assert.equal(r2.text, "");
    assert.ok(r2.headers.etag);
  });
});
