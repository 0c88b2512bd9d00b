// Throughput with the real SDK: offers (manual, autoscale, shared database throughput; read,
// query, replace; replicated), honest request charges, and with --enforce-throughput the 429s
// (sub-status 3200, x-ms-retry-after-ms) that the SDK's retry policy absorbs.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { expectError, makeClient, startUp, uid, waitFor, waitLinksIdle } from "./harness.mjs";

describe("offers and request charges (up --regions uksouth,westeurope)", { timeout: 60_000 }, () => {
  let server, uk, we;
  before(async () => {
    server = await startUp({ regions: "uksouth,westeurope" });
    await waitLinksIdle(server.admin, { expectLinks: 2 });
    uk = makeClient(server.regions["UK South"], { connectionPolicy: { preferredLocations: ["UK South"] } });
    we = makeClient(server.regions["West Europe"], { connectionPolicy: { preferredLocations: ["West Europe"] } });
  });
  after(async () => {
    uk?.dispose();
    we?.dispose();
    if (server) await server.stop();
  });

  it("provisions, reads and replaces a container's manual throughput, in every region", async () => {
    const dbId = uid("offer");
    const { database } = await uk.databases.create({ id: dbId });
    const { container } = await database.containers.create({ id: "c", partitionKey: { paths: ["/pk"] }, throughput: 700 });
    const { resource: offer } = await container.readOffer();
    assert.equal(offer.content.offerThroughput, 700);
    assert.equal(offer.offerVersion, "V2");
    const { resource: coll } = await container.read();
    assert.equal(offer.resource, coll._self);
    assert.equal(offer.offerResourceId, coll._rid);

    offer.content.offerThroughput = 1200;
    const { resource: replaced } = await uk.offer(offer.id).replace(offer);
    assert.equal(replaced.content.offerThroughput, 1200);
    const weC = we.database(dbId).container("c");
    await waitFor("the new throughput in West Europe", async () => (await weC.readOffer()).resource?.content.offerThroughput === 1200);
    const { resources: all } = await uk.offers.readAll().fetchAll();
    assert.ok(all.some((o) => o.id === offer.id));

    offer.content.offerThroughput = 250;
    await expectError(uk.offer(offer.id).replace(offer), 400, "below the 400 RU/s minimum");
    await expectError(database.containers.create({ id: "bad", partitionKey: { paths: ["/pk"] }, throughput: 450 }), 400, "not a multiple of 100");
  });

  it("autoscale, shared database throughput, and the 400 RU/s default", async () => {
    const dbId = uid("offer2");
    const { database } = await uk.databases.create({ id: dbId });
    const { container: auto } = await database.containers.create({ id: "auto", partitionKey: { paths: ["/pk"] }, maxThroughput: 4000 });
    const { resource: a } = await auto.readOffer();
    assert.equal(a.content.offerAutopilotSettings.maxThroughput, 4000);
    const { container: plain } = await database.containers.create({ id: "plain", partitionKey: { paths: ["/pk"] } });
    assert.equal((await plain.readOffer()).resource.content.offerThroughput, 400);

    const { database: shared } = await uk.databases.create({ id: uid("shared"), throughput: 1000 });
    assert.equal((await shared.readOffer()).resource.content.offerThroughput, 1000);
    const { container: inShared } = await shared.containers.create({ id: "c", partitionKey: { paths: ["/pk"] } });
    assert.equal((await inShared.readOffer()).resource, undefined, "a container sharing its database's throughput has no offer");
    assert.equal((await database.readOffer()).resource, undefined, "a database without shared throughput has no offer");
  });

  it("charges what Azure's table says: ~1 RU for a 1 KB read, ~5 for a 1 KB create, more when bigger", async () => {
    const { database } = await uk.databases.create({ id: uid("ru") });
    const { container } = await database.containers.create({ id: "c", partitionKey: { paths: ["/pk"] } });
    const small = await container.items.create({ id: "s", pk: "p", pad: "x".repeat(700) });
    const big = await container.items.create({ id: "b", pk: "p", pad: "x".repeat(64 * 1024) });
    assert.ok(small.requestCharge > 4.5 && small.requestCharge < 6, `small create ${small.requestCharge}`);
    assert.ok(big.requestCharge > 20, `64 KB create ${big.requestCharge}`);
    const read = await container.item("s", "p").read();
    assert.equal(read.requestCharge, 1);
    const bigRead = await container.item("b", "p").read();
    assert.ok(bigRead.requestCharge > 4, `64 KB read ${bigRead.requestCharge}`);
    const q = await container.items.query("SELECT * FROM c").fetchAll();
    assert.ok(q.requestCharge >= 2.3, `query ${q.requestCharge}`);
  });
});

describe("--enforce-throughput", { timeout: 60_000 }, () => {
  let server, client;
  before(async () => {
    server = await startUp({ regions: "uksouth", extraArgs: ["--enforce-throughput"] });
    client = makeClient(server.regions["UK South"]);
  });
  after(async () => {
    client?.dispose();
    if (server) await server.stop();
  });

  it("answers 429/3200 with x-ms-retry-after-ms beyond the RU/s, and the SDK's retries absorb it", async () => {
    const { database } = await client.databases.create({ id: uid("rl") });
    const { container } = await database.containers.create({ id: "c", partitionKey: { paths: ["/pk"] }, throughput: 400 });
    // 200 creates of ~5 RU at once: 1000 RU against 400 RU/s. Every one succeeds, some after 429s.
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => container.items.create({ id: `i${i}`, pk: `p${i % 10}` })),
    );
    assert.ok(results.every((r) => r.statusCode === 201));
    const retried = results.filter((r) => Number(r.headers["x-ms-throttle-retry-count"] ?? 0) > 0);
    assert.ok(retried.length > 0, "some creates were throttled and retried by the SDK");
    const metrics = await (await fetch(new URL("/metrics", server.admin))).text();
    const throttled = Number(/regionlab_throttled_requests_total\{region="uksouth"\} (\d+)/.exec(metrics)?.[1]);
    assert.ok(throttled >= retried.length, `metrics say ${throttled} throttled`);

    // Without retries the application sees the 429 itself.
    const noRetry = makeClient(server.regions["UK South"], { connectionPolicy: { retryOptions: { maxRetryAttemptCount: 0 } } });
    try {
      const spent = await Promise.allSettled(
        Array.from({ length: 150 }, (_, i) => noRetry.database(database.id).container("c").items.create({ id: `n${i}`, pk: "p" })),
      );
      const throttled = spent.filter((s) => s.status === "rejected" && s.reason.code === 429);
      assert.ok(throttled.length > 0, `no 429 among ${spent.length}`);
      const e = throttled[0].reason;
      assert.equal(e.substatus, 3200);
      assert.ok(e.retryAfterInMs > 0 && e.retryAfterInMs <= 3000, `retry after ${e.retryAfterInMs}`);
      assert.match(e.message, /Request rate is large/);
      // What was throttled was not written.
      const ids = new Set((await container.items.query("SELECT VALUE c.id FROM c").fetchAll()).resources);
      const written = spent.filter((s) => s.status === "fulfilled").length;
      assert.equal([...ids].filter((id) => id.startsWith("n")).length, written);
    } finally {
      noRetry.dispose();
    }
  });
});
