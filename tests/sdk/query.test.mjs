// Query semantics the SDK leaves to the server (it passes pages through; see /tmp/sdk-facts.md a).
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { drainPages, expectError, uid, useServer } from "./harness.mjs";

describe("queries", { timeout: 120_000 }, () => {
  const ctx = useServer();
  let c;
  const docs = [
    { id: "q1", pk: "a", n: 3, name: "carol", tags: ["x"], addr: { city: "Leeds" } },
    { id: "q2", pk: "a", n: 1, name: "alice", tags: ["x", "y"], addr: { city: "York" } },
    { id: "q3", pk: "b", n: 2, name: "bob", tags: [], addr: { city: "Leeds" } },
    { id: "q4", pk: "b", n: 5, name: "dave", addr: { city: "Hull" } },
    { id: "q5", pk: "c", n: 4, name: "erin", tags: ["y"] },
  ];

  before(async () => {
    const { database } = await ctx.client.databases.create({ id: uid("qdb") });
    ({ container: c } = await database.containers.create({ id: uid("q"), partitionKey: { paths: ["/pk"] } }));
    for (const d of docs) await c.items.create(d);
  });

  const ids = (rs) => rs.map((d) => d.id);

  it("WHERE with a parameter", async () => {
    const { resources } = await c.items
      .query({ query: "SELECT * FROM c WHERE c.n > @min", parameters: [{ name: "@min", value: 2 }] })
      .fetchAll();
    assert.deepEqual(ids(resources).sort(), ["q1", "q4", "q5"]);
  });

  it("WHERE on a nested property and string equality", async () => {
    const { resources } = await c.items.query("SELECT * FROM c WHERE c.addr.city = 'Leeds'").fetchAll();
    assert.deepEqual(ids(resources).sort(), ["q1", "q3"]);
  });

  it("WHERE combined with the partitionKey option", async () => {
    const { resources } = await c.items
      .query("SELECT * FROM c WHERE c.n >= 2", { partitionKey: "b" })
      .fetchAll();
    assert.deepEqual(ids(resources).sort(), ["q3", "q4"]);
  });

  it("ORDER BY ascending and descending across partitions", async () => {
    const asc = await c.items.query("SELECT * FROM c ORDER BY c.n").fetchAll();
    assert.deepEqual(ids(asc.resources), ["q2", "q3", "q1", "q5", "q4"]);
    const desc = await c.items.query("SELECT * FROM c ORDER BY c.name DESC").fetchAll();
    assert.deepEqual(ids(desc.resources), ["q5", "q4", "q1", "q3", "q2"]);
  });

  it("ORDER BY is preserved across pages", async () => {
    const { items } = await drainPages(c.items.query("SELECT * FROM c ORDER BY c.n", { maxItemCount: 2 }));
    assert.deepEqual(ids(items), ["q2", "q3", "q1", "q5", "q4"]);
  });

  it("TOP", async () => {
    const { resources } = await c.items.query("SELECT TOP 2 * FROM c ORDER BY c.n DESC").fetchAll();
    assert.deepEqual(ids(resources), ["q4", "q5"]);
  });

  it("OFFSET LIMIT", async () => {
    const { resources } = await c.items.query("SELECT * FROM c ORDER BY c.n OFFSET 1 LIMIT 2").fetchAll();
    assert.deepEqual(ids(resources), ["q3", "q1"]);
  });

  it("projection and VALUE", async () => {
    const proj = await c.items.query("SELECT c.id, c.n FROM c WHERE c.id = 'q1'").fetchAll();
    assert.deepEqual(proj.resources, [{ id: "q1", n: 3 }]);
    const val = await c.items.query("SELECT VALUE c.name FROM c WHERE c.pk = 'a' ORDER BY c.name").fetchAll();
    assert.deepEqual(val.resources, ["alice", "carol"]);
  });

  it("VALUE COUNT(1) over the whole container and within a partition", async () => {
    const all = await c.items.query("SELECT VALUE COUNT(1) FROM c").fetchAll();
    assert.deepEqual(all.resources, [5]);
    const inA = await c.items.query("SELECT VALUE COUNT(1) FROM c", { partitionKey: "a" }).fetchAll();
    assert.deepEqual(inA.resources, [2]);
  });

  it("IS_DEFINED, ARRAY_CONTAINS and STARTSWITH", async () => {
    const nd = await c.items.query("SELECT * FROM c WHERE NOT IS_DEFINED(c.tags)").fetchAll();
    assert.deepEqual(ids(nd.resources), ["q4"]);
    const ac = await c.items.query("SELECT * FROM c WHERE ARRAY_CONTAINS(c.tags, 'y')").fetchAll();
    assert.deepEqual(ids(ac.resources).sort(), ["q2", "q5"]);
    const sw = await c.items.query("SELECT * FROM c WHERE STARTSWITH(c.name, 'ca')").fetchAll();
    assert.deepEqual(ids(sw.resources), ["q1"]);
  });

  it("a syntax error is 400 and reaches the caller", async () => {
    await expectError(() => c.items.query("SELEKT * FROM c").fetchAll(), 400, "query with a syntax error");
  });
});
