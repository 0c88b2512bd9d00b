// container.deleteAllItemsForPartitionKey with the real SDK in two regions: every item of that
// key is deleted, in both regions, and the other keys are untouched.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { digestByRegion, makeClient, startUp, uid, waitFor, waitLinksIdle } from "./harness.mjs";

describe("delete by partition key (up --regions uksouth,westeurope)", { timeout: 60_000 }, () => {
  let server;
  const clients = [];
  before(async () => {
    server = await startUp({ regions: "uksouth,westeurope" });
    await waitLinksIdle(server.admin, { expectLinks: 2 });
  });
  after(async () => {
    for (const c of clients) c.dispose();
    if (server) await server.stop();
  });

  it("deletes every item of the key in every region", async () => {
    const dbId = uid("pkdel");
    const uk = makeClient(server.regions["UK South"], { connectionPolicy: { preferredLocations: ["UK South"] } });
    const we = makeClient(server.regions["West Europe"], { connectionPolicy: { preferredLocations: ["West Europe"] } });
    clients.push(uk, we);
    const { database } = await uk.databases.create({ id: dbId });
    const { container } = await database.containers.create({ id: "c", partitionKey: { paths: ["/customer"] } });
    for (let i = 0; i < 30; i++) await container.items.create({ id: `a-${i}`, customer: "acme" });
    for (let i = 0; i < 5; i++) await container.items.create({ id: `g-${i}`, customer: "globex" });
    const weC = we.database(dbId).container("c");
    const count = async (c, customer) =>
      (await c.items.query({ query: "SELECT VALUE COUNT(1) FROM c WHERE c.customer = @c", parameters: [{ name: "@c", value: customer }] }).fetchAll()).resources[0];
    await waitFor("35 items in West Europe", async () => (await count(weC, "acme")) === 30 && (await count(weC, "globex")) === 5);

    const r = await container.deleteAllItemsForPartitionKey("acme");
    assert.equal(r.statusCode, 200);
    assert.equal(await count(container, "acme"), 0);
    assert.equal(await count(container, "globex"), 5);
    await waitFor("acme gone in West Europe", async () => (await count(weC, "acme")) === 0);
    assert.equal(await count(weC, "globex"), 5);
    await waitFor("regions converged", async () => {
      const by = await digestByRegion(server.admin);
      const [a, b] = Object.values(by).map((cs) => cs.find((c) => c.database === dbId));
      return a && b && a.hash === b.hash && a.count === 5;
    });
  });
});
