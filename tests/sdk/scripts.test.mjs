// User-defined functions and triggers with the real SDK in two regions: CRUD, replicated; UDFs
// called from queries (SELECT and WHERE) in either region; a pre-trigger that changes the body, a
// post-trigger whose writes commit with the operation, and a throwing trigger that commits nothing.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { expectError, makeClient, startUp, uid, waitFor, waitLinksIdle } from "./harness.mjs";

describe("UDFs and triggers (up --regions uksouth,westeurope)", { timeout: 60_000 }, () => {
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

  async function newContainer(prefix) {
    const dbId = uid(prefix);
    const { database } = await uk.databases.create({ id: dbId });
    const { container } = await database.containers.create({ id: "c", partitionKey: { paths: ["/customer"] } });
    return { container, weC: we.database(dbId).container("c") };
  }

  it("user-defined functions: CRUD, replicated, callable in queries in every region", async () => {
    const { container, weC } = await newContainer("udf");
    for (let i = 1; i <= 4; i++) await container.items.create({ id: `inv-${i}`, customer: "acme", total: i * 100 });
    const udfs = container.scripts.userDefinedFunctions;
    const { resource } = await udfs.create({ id: "withTax", body: "function withTax(total) { return total * 1.2; }" });
    assert.equal(resource.id, "withTax");
    assert.ok(resource._rid && resource._etag);
    const query = "SELECT c.id, udf.withTax(c.total) AS gross FROM c WHERE udf.withTax(c.total) > 300 ORDER BY c.id";
    const { resources } = await container.items.query(query).fetchAll();
    assert.deepEqual(resources, [
      { id: "inv-3", gross: 360 },
      { id: "inv-4", gross: 480 },
    ]);
    await waitFor("the UDF in West Europe", async () => (await weC.scripts.userDefinedFunction("withTax").read().catch((e) => e)).statusCode === 200);
    await waitFor("the items in West Europe", async () => (await weC.items.query("SELECT VALUE COUNT(1) FROM c").fetchAll()).resources[0] === 4);
    assert.deepEqual((await weC.items.query(query).fetchAll()).resources, resources);

    const { resources: all } = await udfs.readAll().fetchAll();
    assert.deepEqual(all.map((u) => u.id), ["withTax"]);
    await container.scripts.userDefinedFunction("withTax").replace({ id: "withTax", body: "function (t) { return t * 2; }" });
    const doubled = await container.items.query("SELECT VALUE udf.withTax(c.total) FROM c WHERE c.id = 'inv-1'").fetchAll();
    assert.deepEqual(doubled.resources, [200]);

    await udfs.create({ id: "picky", body: "function picky(t) { if (t > 200) throw new Error('too big: ' + t); return t; }" });
    const err = await expectError(container.items.query("SELECT VALUE udf.picky(c.total) FROM c").fetchAll(), 400, "a throwing UDF");
    assert.match(err.message, /udf\.picky/);
    assert.match(err.message, /too big/);
    await container.scripts.userDefinedFunction("picky").delete();
    await expectError(container.items.query("SELECT VALUE udf.picky(1) FROM c").fetchAll(), 400, "a deleted UDF");
  });

  it("a pre-trigger changes the document; a post-trigger's writes commit with the operation", async () => {
    const { container, weC } = await newContainer("trig");
    const triggers = container.scripts.triggers;
    await triggers.create({
      id: "stamp",
      triggerType: "Pre",
      triggerOperation: "Create",
      body: `function stamp() {
        var req = getContext().getRequest();
        var doc = req.getBody();
        doc.status = doc.status || "new";
        doc.stamped = true;
        req.setBody(doc);
      }`,
    });
    await triggers.create({
      id: "audit",
      triggerType: "Post",
      triggerOperation: "All",
      body: `function audit() {
        var coll = getContext().getCollection();
        var doc = getContext().getResponse().getBody();
        var ok = coll.createDocument(coll.getSelfLink(), { id: "audit-" + doc.id, customer: doc.customer, of: doc.id },
          function (err) { if (err) throw err; });
        if (!ok) throw new Error("not accepted");
      }`,
    });
    const { resource: t } = await container.scripts.trigger("stamp").read();
    assert.equal(t.triggerType, "Pre");

    const { resource: created, statusCode } = await container.items.create(
      { id: "inv-1", customer: "acme", total: 10 },
      { preTriggerInclude: ["stamp"], postTriggerInclude: ["audit"] },
    );
    assert.equal(statusCode, 201);
    assert.equal(created.stamped, true);
    assert.equal(created.status, "new");
    const { resource: audit } = await container.item("audit-inv-1", "acme").read();
    assert.equal(audit.of, "inv-1");
    await waitFor("the item and its audit record in West Europe", async () =>
      (await weC.item("audit-inv-1", "acme").read().catch((e) => e)).statusCode === 200);
    assert.equal((await weC.item("inv-1", "acme").read()).resource.stamped, true);

    // Without naming triggers, nothing runs.
    const { resource: plain } = await container.items.create({ id: "inv-2", customer: "acme" });
    assert.equal(plain.stamped, undefined);

    // A trigger of the wrong type or operation is refused.
    await expectError(container.items.create({ id: "inv-3", customer: "acme" }, { preTriggerInclude: ["audit"] }), 400, "a post-trigger named as pre");
    await expectError(container.item("inv-2", "acme").replace({ id: "inv-2", customer: "acme" }, { preTriggerInclude: ["stamp"] }), 400, "a create trigger on a replace");
  });

  it("a throwing trigger fails the request and commits nothing", async () => {
    const { container } = await newContainer("trigfail");
    await container.scripts.triggers.create({
      id: "writeThenFail",
      triggerType: "post",
      triggerOperation: "all",
      body: `function () {
        var coll = getContext().getCollection();
        coll.createDocument(coll.getSelfLink(), { id: "side-effect", customer: "acme" });
        throw new Error("refused by the trigger");
      }`,
    });
    const err = await expectError(
      container.items.create({ id: "inv-9", customer: "acme" }, { postTriggerInclude: ["writeThenFail"] }),
      400,
      "a throwing post-trigger",
    );
    assert.match(err.message, /refused by the trigger/);
    assert.equal((await container.item("inv-9", "acme").read()).statusCode, 404);
    assert.equal((await container.item("side-effect", "acme").read()).statusCode, 404);
  });
});
