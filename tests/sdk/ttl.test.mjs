// Time to live with the real SDK in two regions: container defaultTtl and item ttl, expiry seen by
// reads, queries and the change feed in both regions, the purge shown in the all-versions feed as a
// delete marked timeToLiveExpired, and the regions converging once both have purged.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ChangeFeedMode, ChangeFeedStartFrom } from "@azure/cosmos";
import { digestByRegion, expectError, makeClient, startUp, uid, waitFor, waitLinksIdle } from "./harness.mjs";

describe("time to live (up --regions uksouth,westeurope)", { timeout: 60_000 }, () => {
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

  const ids = async (c) => (await c.items.query("SELECT VALUE c.id FROM c").fetchAll()).resources.sort();
  const gone = async (c, id, pk) => {
    const r = await c.item(id, pk).read().catch((e) => e);
    return r.statusCode === 404 || r.code === 404;
  };

  it("expires items in every region, and the regions converge after the purge", async () => {
    const dbId = uid("ttl");
    const { database } = await uk.databases.create({ id: dbId });
    const { container, resource } = await database.containers.create({
      id: "c",
      partitionKey: { paths: ["/pk"] },
      defaultTtl: -1,
    });
    assert.equal(resource.defaultTtl, -1);
    const weC = we.database(dbId).container("c");
    const feed = weC.items.getChangeFeedIterator({
      changeFeedStartFrom: ChangeFeedStartFrom.Now(),
      changeFeedMode: ChangeFeedMode.AllVersionsAndDeletes,
    });
    assert.equal((await feed.readNext()).statusCode, 304);

    await container.items.create({ id: "keep", pk: "p" }); // -1 on the container: never expires
    await container.items.create({ id: "short", pk: "p", ttl: 1 });
    await container.items.create({ id: "forever", pk: "p", ttl: -1 });
    // Not "three items": `_ts` is in whole seconds, so a ttl of 1 lives between 0 and 1 s, and
    // 'short' may expire before a poll sees it in West Europe. That it got there is shown by
    // its TTL delete in West Europe's all-versions feed below.
    await waitFor("'keep' and 'forever' in West Europe", async () => {
      const present = await ids(weC);
      return present.includes("keep") && present.includes("forever");
    });

    await waitFor("'short' expired in UK South", () => gone(container, "short", "p"));
    await waitFor("'short' expired in West Europe", () => gone(weC, "short", "p"));
    assert.deepEqual(await ids(container), ["forever", "keep"]);
    assert.deepEqual(await ids(weC), ["forever", "keep"]);

    // The all-versions feed: the create, then the purge as a TTL delete.
    const items = [];
    await waitFor("the purge in the all-versions feed", async () => {
      const res = await feed.readNext();
      if (res.statusCode === 200) items.push(...res.result);
      return items.some((x) => x.metadata.operationType === "delete");
    });
    const del = items.find((x) => x.metadata.operationType === "delete");
    assert.equal(del.metadata.timeToLiveExpired, true);
    assert.equal(del.metadata.id, "short");

    await waitFor("both regions purged and converged", async () => {
      const by = await digestByRegion(server.admin);
      const [a, b] = Object.values(by).map((cs) => cs.find((c) => c.database === dbId));
      return a && b && a.hash === b.hash && a.count === 2;
    });
  });

  it("an update extends a life; a container default applies to items without their own ttl", async () => {
    const dbId = uid("ttl2");
    const { database } = await uk.databases.create({ id: dbId });
    const { container } = await database.containers.create({ id: "c", partitionKey: { paths: ["/pk"] }, defaultTtl: 2 });
    const { resource: first } = await container.items.create({ id: "a", pk: "p", v: 1 });
    // Keep it alive: replace it until well past its first life.
    const deadline = first._ts + 4;
    let last = first;
    while (Math.floor(Date.now() / 1000) <= deadline) {
      ({ resource: last } = await container.item("a", "p").replace({ id: "a", pk: "p", v: last.v + 1 }));
      await new Promise((r) => setTimeout(r, 500)); // the application's own cadence, not a wait for the server
    }
    assert.equal((await container.item("a", "p").read()).statusCode, 200, "alive 4 s after a 2 s life began");
    await waitFor("expired 2 s after the last update", () => gone(container, "a", "p"));
    assert.ok(Date.now() / 1000 >= last._ts + 2 - 0.001);
  });

  it("refuses an invalid ttl with 400", async () => {
    const dbId = uid("ttl3");
    const { database } = await uk.databases.create({ id: dbId });
    const { container } = await database.containers.create({ id: "c", partitionKey: { paths: ["/pk"] }, defaultTtl: 60 });
    await expectError(container.items.create({ id: "z", pk: "p", ttl: 0 }), 400, "ttl 0");
    await expectError(database.containers.create({ id: "c0", partitionKey: { paths: ["/pk"] }, defaultTtl: 0 }), 400, "defaultTtl 0");
  });
});
