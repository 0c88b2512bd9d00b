// Users, permissions and resource tokens with the real SDK in two regions: a client built with
// `resourceTokens` reaches what its permission covers (a container, one partition key, read or
// all) and gets 403 for anything else; a deleted permission's token stops working; users and
// permissions replicate, so a token works against either region.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CosmosClient } from "@azure/cosmos";
import { expectError, makeClient, startUp, uid, waitFor, waitLinksIdle } from "./harness.mjs";

describe("users, permissions and resource tokens (up --regions uksouth,westeurope)", { timeout: 60_000 }, () => {
  let server, master;
  const clients = [];
  before(async () => {
    server = await startUp({ regions: "uksouth,westeurope" });
    await waitLinksIdle(server.admin, { expectLinks: 2 });
    master = makeClient(server.regions["UK South"], { connectionPolicy: { preferredLocations: ["UK South"] } });
  });
  after(async () => {
    master?.dispose();
    for (const c of clients) c.dispose();
    if (server) await server.stop();
  });
  const tokenClient = (region, resourceTokens) => {
    const c = new CosmosClient({
      endpoint: server.regions[region],
      resourceTokens,
      connectionPolicy: { requestTimeout: 15_000, preferredLocations: [region] },
    });
    clients.push(c);
    return c;
  };

  it("a token covers its container, partition key and mode, and nothing else", async () => {
    const dbId = uid("perm");
    const { database } = await master.databases.create({ id: dbId });
    const { container: orders } = await database.containers.create({ id: "orders", partitionKey: { paths: ["/tenant"] } });
    const { container: other } = await database.containers.create({ id: "other", partitionKey: { paths: ["/tenant"] } });
    await orders.items.create({ id: "a1", tenant: "A", n: 1 });
    await orders.items.create({ id: "b1", tenant: "B", n: 2 });
    await other.items.create({ id: "x", tenant: "A" });

    const { user } = await database.users.create({ id: "alice" });
    const { resource: readA } = await user.permissions.create({
      id: "read-orders-A",
      permissionMode: "Read",
      resource: `dbs/${dbId}/colls/orders`,
      resourcePartitionKey: ["A"],
    });
    assert.match(readA._token, /^type=resource&ver=1&sig=/);
    const { resources: perms } = await user.permissions.readAll().fetchAll();
    assert.deepEqual(perms.map((p) => p.id), ["read-orders-A"]);
    assert.ok(perms[0]._token);

    const alice = tokenClient("UK South", { [`dbs/${dbId}/colls/orders`]: readA._token });
    const ordersAsAlice = alice.database(dbId).container("orders");
    assert.equal((await ordersAsAlice.item("a1", "A").read()).resource.n, 1);
    const { resources } = await ordersAsAlice.items.query("SELECT VALUE c.id FROM c", { partitionKey: "A" }).fetchAll();
    assert.deepEqual(resources, ["a1"]);
    await expectError(ordersAsAlice.item("b1", "B").read(), 403, "another partition key");
    await expectError(ordersAsAlice.items.create({ id: "a2", tenant: "A" }), 403, "a write with a Read permission");
    // With no token for a resource the SDK sends none: 401. A token sent for what it does not cover: 403.
    await expectError(alice.database(dbId).container("other").item("x", "A").read(), 401, "no token for another container");
    const misused = tokenClient("UK South", { [`dbs/${dbId}/colls/other`]: readA._token, [`dbs/${dbId}`]: readA._token });
    await expectError(misused.database(dbId).container("other").item("x", "A").read(), 403, "another container");
    await expectError(misused.database(dbId).users.readAll().fetchAll(), 403, "managing users");

    // All on the container: writes work, still only there.
    const { resource: allOrders } = await user.permissions.create({
      id: "all-orders",
      permissionMode: "All",
      resource: `dbs/${dbId}/colls/orders`,
    });
    const writer = tokenClient("UK South", { [`dbs/${dbId}/colls/orders`]: allOrders._token });
    const w = writer.database(dbId).container("orders");
    assert.equal((await w.items.create({ id: "b2", tenant: "B" })).statusCode, 201);
    assert.equal((await w.item("b1", "B").replace({ id: "b1", tenant: "B", n: 3 })).statusCode, 200);
    const writerElsewhere = tokenClient("UK South", { [`dbs/${dbId}/colls/other`]: allOrders._token });
    await expectError(writerElsewhere.database(dbId).container("other").items.create({ id: "y", tenant: "A" }), 403, "another container");

    // The same token in the other region, once the permission has replicated there.
    const weWriter = tokenClient("West Europe", { [`dbs/${dbId}/colls/orders`]: allOrders._token });
    await waitFor("the permission and b2 in West Europe", async () => {
      const r = await weWriter.database(dbId).container("orders").item("b2", "B").read().catch((e) => e);
      return r.statusCode === 200;
    });

    // A deleted permission's token stops working at once in the region that deleted it.
    await user.permission("all-orders").delete();
    await expectError(w.item("b2", "B").read(), 401, "a token of a deleted permission");
    // Master-key requests are unchanged.
    assert.equal((await orders.item("b2", "B").read()).statusCode, 200);
  });

  it("refuses a forged or malformed token with 401", async () => {
    const dbId = uid("perm2");
    const { database } = await master.databases.create({ id: dbId });
    await database.containers.create({ id: "c", partitionKey: { paths: ["/pk"] } });
    const { user } = await database.users.create({ id: "bob" });
    const { resource: p } = await user.permissions.create({ id: "p", permissionMode: "All", resource: `dbs/${dbId}/colls/c` });
    const forged = p._token.replace(/sig=([A-Za-z0-9+/])/, (m, ch) => `sig=${ch === "A" ? "B" : "A"}`);
    const bad = tokenClient("UK South", { [`dbs/${dbId}/colls/c`]: forged });
    await expectError(bad.database(dbId).container("c").items.create({ id: "z", pk: "p" }), 401, "a forged token");
    await expectError(user.permissions.create({ id: "q", permissionMode: "Write", resource: `dbs/${dbId}` }), 400, "an unknown mode");
  });
});
