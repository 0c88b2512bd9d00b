// Transactional batch and bulk with the real SDK in two regions: container.items.batch (atomic,
// one partition key), items.bulk and items.executeBulkOperations (each operation on its own).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  adminOk,
  digestByRegion,
  makeClient,
  rawRequest,
  startUp,
  uid,
  waitFor,
  waitLinksIdle,
} from "./harness.mjs";

describe("batch and bulk (up --regions uksouth,westeurope)", { timeout: 120_000 }, () => {
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
    const { container } = await database.containers.create({ id: "c", partitionKey: { paths: ["/pk"] } });
    return { dbId, container, weC: we.database(dbId).container("c") };
  }
  const count = async (c, pk) =>
    (
      await c.items
        .query({ query: "SELECT VALUE COUNT(1) FROM c WHERE c.pk = @pk", parameters: [{ name: "@pk", value: pk }] })
        .fetchAll()
    ).resources[0];

  it("runs every operation type in one atomic batch, replicated", async () => {
    const { container, weC } = await newContainer("batch");
    const { resource: b } = await container.items.create({ id: "b", pk: "A", n: 1 });
    await container.items.create({ id: "d", pk: "A" });
    await container.items.create({ id: "p", pk: "A", n: 5 });
    const res = await container.items.batch(
      [
        { operationType: "Create", resourceBody: { id: "a", pk: "A", v: 1 } },
        { operationType: "Upsert", resourceBody: { id: "u", pk: "A", v: 2 } },
        { operationType: "Read", id: "a" },
        { operationType: "Replace", id: "b", resourceBody: { id: "b", pk: "A", n: 2 }, ifMatch: b._etag },
        { operationType: "Patch", id: "p", resourceBody: { operations: [{ op: "incr", path: "/n", value: 1 }] } },
        { operationType: "Delete", id: "d" },
        { operationType: "Replace", id: "a", resourceBody: { id: "a", pk: "A", v: 10 } },
      ],
      "A",
    );
    assert.equal(res.code, 200);
    assert.deepEqual(
      res.result.map((r) => r.statusCode),
      [201, 201, 200, 200, 200, 204, 200],
    );
    assert.equal(res.result[2].resourceBody.v, 1, "a read sees the create before it");
    assert.equal(res.result[4].resourceBody.n, 6);
    assert.ok(res.result.every((r) => r.requestCharge > 0));
    assert.ok(res.result[0].eTag && res.result[0].resourceBody._rid);
    // Every effect is visible in the other region.
    await waitFor("batch replicated", async () => (await count(weC, "A")) === 4);
    const { resource: a } = await weC.item("a", "A").read();
    assert.equal(a.v, 10);
    assert.equal((await weC.item("b", "A").read()).resource.n, 2);
    assert.equal((await weC.item("p", "A").read()).resource.n, 6);
    assert.equal((await weC.item("d", "A").read()).statusCode, 404);
  });

  it("a failing operation fails the whole batch: 207, its status, 424 for the rest, nothing written", async () => {
    const { container } = await newContainer("batchfail");
    await container.items.create({ id: "exists", pk: "A" });
    const res = await container.items.batch(
      [
        { operationType: "Create", resourceBody: { id: "new1", pk: "A" } },
        { operationType: "Create", resourceBody: { id: "exists", pk: "A" } },
        { operationType: "Create", resourceBody: { id: "new2", pk: "A" } },
      ],
      "A",
    );
    assert.equal(res.code, 207);
    assert.deepEqual(
      res.result.map((r) => r.statusCode),
      [424, 409, 424],
    );
    assert.equal(await count(container, "A"), 1, "neither new1 nor new2 was written");

    const stale = await container.items.batch(
      [
        { operationType: "Upsert", resourceBody: { id: "x", pk: "A" } },
        { operationType: "Replace", id: "exists", resourceBody: { id: "exists", pk: "A" }, ifMatch: '"stale"' },
      ],
      "A",
    );
    assert.deepEqual(
      stale.result.map((r) => r.statusCode),
      [424, 412],
    );
    assert.equal((await container.item("x", "A").read()).statusCode, 404);
  });

  it("refuses a malformed batch with 400 and writes nothing", async () => {
    const { dbId, container } = await newContainer("batchbad");
    const link = `dbs/${dbId}/colls/c`;
    const post = (ops, headers = {}) =>
      rawRequest(server.regions["UK South"], {
        method: "POST",
        path: `/${link}/docs`,
        body: JSON.stringify(ops),
        headers: {
          "x-ms-cosmos-is-batch-request": "true",
          "x-ms-cosmos-batch-atomic": "true",
          "x-ms-documentdb-partitionkey": '["A"]',
          "content-type": "application/json",
          ...headers,
        },
      });
    const ops101 = Array.from({ length: 101 }, (_, i) => ({ operationType: "Create", resourceBody: { id: `i${i}`, pk: "A" } }));
    let r = await post(ops101);
    assert.equal(r.status, 400);
    assert.match(r.json.message, /at most 100/);
    r = await post([{ operationType: "Create", resourceBody: { id: "a", pk: "A" } }, { operationType: "Explode", id: "a" }]);
    assert.equal(r.status, 400);
    assert.match(r.json.message, /operationType/);
    r = await post([{ operationType: "Create", resourceBody: { id: "a", pk: "A" }, partitionKey: '["B"]' }]);
    assert.equal(r.status, 400);
    r = await post({ not: "an array" });
    assert.equal(r.status, 400);
    assert.equal(await count(container, "A"), 0);
  });

  it("is never half visible in another region, even across a partition", async () => {
    const { container, weC } = await newContainer("batchpart");
    // The container must have reached West Europe before the partition (it
    // usually has within a millisecond; one CI run partitioned first).
    await waitFor("the container in West Europe", async () => (await weC.read().catch(() => ({}))).statusCode === 200);
    await adminOk(server.admin, "POST", "/partition", { groups: [["uksouth"], ["westeurope"]] });
    try {
      const ops = Array.from({ length: 100 }, (_, i) => ({ operationType: "Create", resourceBody: { id: `o${i}`, pk: "A", i } }));
      const res = await container.items.batch(ops, "A");
      assert.equal(res.code, 200);
      assert.equal(await count(weC, "A"), 0);
    } finally {
      await adminOk(server.admin, "POST", "/heal");  // a failure here must not leave the next test partitioned
    }
    const seen = new Set();
    await waitFor("the batch arrives whole", async () => {
      const n = await count(weC, "A");
      seen.add(n);
      return n === 100;
    });
    assert.deepEqual([...seen].filter((n) => n !== 0 && n !== 100), [], `partial counts seen: ${[...seen]}`);
  });

  it("bulk: thousands of operations with executeBulkOperations, each on its own", async () => {
    const { dbId, container, weC } = await newContainer("bulk");
    await container.items.create({ id: "dup-0", pk: "p0" });
    const ops = [];
    for (let i = 0; i < 2000; i++) {
      ops.push({ operationType: "Create", partitionKey: `p${i % 20}`, resourceBody: { id: `i${i}`, pk: `p${i % 20}`, i } });
    }
    ops.push({ operationType: "Create", partitionKey: "p0", resourceBody: { id: "dup-0", pk: "p0" } });
    ops.push({ operationType: "Read", partitionKey: "p1", id: "i1" });
    ops.push({ operationType: "Delete", partitionKey: "p0", id: "missing" });
    const results = await container.items.executeBulkOperations(ops);
    assert.equal(results.length, ops.length);
    const codes = results.map((r) => r.response?.statusCode ?? r.error?.code);
    assert.ok(codes.slice(0, 2000).every((c) => c === 201), `creates: ${[...new Set(codes.slice(0, 2000))]}`);
    assert.deepEqual(codes.slice(2000), [409, 200, 404]);
    assert.equal(results[2001].response.resourceBody.i, 1);
    await waitFor("bulk replicated", async () => (await count(weC, "p7")) === 100);
    await waitFor("regions converged", async () => {
      const by = await digestByRegion(server.admin);
      const [a, b] = Object.values(by).map((cs) => cs.find((c) => c.database === dbId));
      return a && b && a.hash === b.hash && a.count === 2001;
    });
  });

  it("bulk: the deprecated items.bulk reports per-operation statuses", async () => {
    const { container } = await newContainer("bulklegacy");
    await container.items.create({ id: "taken", pk: "x" });
    const res = await container.items.bulk([
      { operationType: "Create", resourceBody: { id: "n1", pk: "x" } },
      { operationType: "Create", resourceBody: { id: "taken", pk: "x" } },
      { operationType: "Upsert", resourceBody: { id: "n2", pk: "y" } },
    ]);
    assert.deepEqual(
      res.map((r) => r.statusCode),
      [201, 409, 201],
    );
    assert.equal(await count(container, "x"), 2);
  });
});
