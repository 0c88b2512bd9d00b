// Containers through the real @azure/cosmos SDK.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { expectError, expectStatus, uid, useServer } from "./harness.mjs";

describe("containers", { timeout: 120_000 }, () => {
  const ctx = useServer();
  let db;

  before(async () => {
    ({ database: db } = await ctx.client.databases.create({ id: uid("cdb") }));
  });

  it("create with partition key /pk returns 201 and the key definition", async () => {
    const id = uid("c");
    const res = await db.containers.create({ id, partitionKey: { paths: ["/pk"] } });
    expectStatus(res, 201, "create container");
    assert.equal(res.resource.id, id);
    assert.deepEqual(res.resource.partitionKey.paths, ["/pk"]);
    assert.equal(res.resource.partitionKey.kind ?? "Hash", "Hash");
    assert.equal(res.container.id, id);
  });

  it("create with the string shorthand partitionKey '/pk'", async () => {
    const id = uid("c");
    const res = await db.containers.create({ id, partitionKey: "/pk" });
    expectStatus(res, 201, "create container with string partitionKey");
    const read = await db.container(id).read();
    assert.deepEqual(read.resource.partitionKey.paths, ["/pk"]);
    assert.equal(read.resource.partitionKey.kind, "Hash", "kind not defaulted to Hash");
  });

  it("create with a hierarchical key (MultiHash, 3 paths) and use it", async () => {
    const id = uid("ch");
    const paths = ["/tenant", "/user", "/session"];
    const res = await db.containers.create({ id, partitionKey: { paths, kind: "MultiHash", version: 2 } });
    expectStatus(res, 201, "create MultiHash container");
    const read = await db.container(id).read();
    assert.deepEqual(read.resource.partitionKey.paths, paths);
    assert.equal(read.resource.partitionKey.kind, "MultiHash");
    assert.equal(read.resource.partitionKey.version, 2);

    const c = db.container(id);
    const doc = { id: "d1", tenant: "t1", user: "u1", session: "s1", v: 1 };
    const created = await c.items.create(doc);
    expectStatus(created, 201, "create item in MultiHash container");
    await c.items.create({ id: "d1", tenant: "t1", user: "u2", session: "s1", v: 2 });
    const got = await c.item("d1", ["t1", "u1", "s1"]).read();
    expectStatus(got, 200, "read item by full hierarchical key");
    assert.equal(got.resource.v, 1);
    const got2 = await c.item("d1", ["t1", "u2", "s1"]).read();
    assert.equal(got2.resource?.v, 2, "same id under another hierarchical key is a different item");
    const { resources } = await c.items.query("SELECT * FROM c", { partitionKey: ["t1", "u1", "s1"] }).fetchAll();
    assert.deepEqual(
      resources.map((d) => [d.id, d.v]),
      [["d1", 1]],
    );
  });

  it("create with a hierarchical key of 2 paths", async () => {
    const id = uid("ch2");
    const res = await db.containers.create({
      id,
      partitionKey: { paths: ["/a", "/b"], kind: "MultiHash", version: 2 },
    });
    expectStatus(res, 201, "create 2-path MultiHash container");
    assert.deepEqual(res.resource.partitionKey.paths, ["/a", "/b"]);
  });

  it("a hierarchical key with more than 3 paths is 400", async () => {
    await expectError(
      () =>
        db.containers.create({
          id: uid("ch4"),
          partitionKey: { paths: ["/a", "/b", "/c", "/d"], kind: "MultiHash", version: 2 },
        }),
      400,
      "MultiHash with 4 paths",
    );
  });

  it("createIfNotExists twice returns the same container (201 then 200)", async () => {
    const id = uid("c");
    const first = await db.containers.createIfNotExists({ id, partitionKey: { paths: ["/pk"] } });
    expectStatus(first, 201, "first createIfNotExists");
    const second = await db.containers.createIfNotExists({ id, partitionKey: { paths: ["/pk"] } });
    expectStatus(second, 200, "second createIfNotExists");
    assert.equal(second.resource._rid, first.resource._rid);
  });

  it("read returns the full container shape with defaults", async () => {
    const id = uid("c");
    const created = await db.containers.create({ id, partitionKey: { paths: ["/pk"] } });
    const res = await db.container(id).read();
    expectStatus(res, 200, "read container");
    const r = res.resource;
    assert.equal(r.id, id);
    assert.deepEqual(r.partitionKey.paths, ["/pk"]);
    assert.deepEqual(
      { mode: r.conflictResolutionPolicy?.mode, conflictResolutionPath: r.conflictResolutionPolicy?.conflictResolutionPath },
      { mode: "LastWriterWins", conflictResolutionPath: "/_ts" },
      `default conflictResolutionPolicy wrong: ${JSON.stringify(r.conflictResolutionPolicy)}`,
    );
    for (const p of ["_rid", "_self", "_etag"]) {
      assert.equal(typeof r[p], "string", `${p} missing: ${JSON.stringify(r)}`);
      assert.ok(r[p].length > 0, `${p} empty`);
    }
    assert.ok(Number.isInteger(r._ts), `_ts not an integer: ${r._ts}`);
    assert.equal(typeof r.indexingPolicy, "object", `indexingPolicy missing: ${JSON.stringify(r)}`);
    assert.ok(r.indexingPolicy !== null);
    assert.equal(r._rid, created.resource._rid);
    assert.equal(res.etag, r._etag, "etag header differs from body _etag");
    // the container rid decodes to 8 bytes (db 4 + coll 4), which the SDK's session code relies on
    assert.equal(Buffer.from(r._rid.replace(/-/g, "/"), "base64").length, 8, `container _rid ${r._rid} is not 8 bytes`);
    assert.ok(r._self.includes(r._rid), `_self ${r._self} does not contain _rid ${r._rid}`);
  });

  it("a LastWriterWins policy with a custom path is stored", async () => {
    const id = uid("c");
    const policy = { mode: "LastWriterWins", conflictResolutionPath: "/version" };
    await db.containers.create({ id, partitionKey: { paths: ["/pk"] }, conflictResolutionPolicy: policy });
    const { resource } = await db.container(id).read();
    assert.equal(resource.conflictResolutionPolicy.mode, "LastWriterWins");
    assert.equal(resource.conflictResolutionPolicy.conflictResolutionPath, "/version");
  });

  it("a Custom policy with a procedure is stored", async () => {
    const id = uid("c");
    const policy = { mode: "Custom", conflictResolutionProcedure: `dbs/${db.id}/colls/${id}/sprocs/merge` };
    await db.containers.create({ id, partitionKey: { paths: ["/pk"] }, conflictResolutionPolicy: policy });
    const { resource } = await db.container(id).read();
    assert.equal(resource.conflictResolutionPolicy.mode, "Custom");
    assert.equal(resource.conflictResolutionPolicy.conflictResolutionProcedure, policy.conflictResolutionProcedure);
  });

  it("defaultTtl is stored", async () => {
    const id = uid("c");
    const res = await db.containers.create({ id, partitionKey: { paths: ["/pk"] }, defaultTtl: 3600 });
    assert.equal(res.resource.defaultTtl, 3600);
    const { resource } = await db.container(id).read();
    assert.equal(resource.defaultTtl, 3600);
  });

  it("replace changes defaultTtl and keeps the partition key", async () => {
    const id = uid("c");
    const { resource: before1 } = await db.containers.create({ id, partitionKey: { paths: ["/pk"] }, defaultTtl: 3600 });
    const res = await db.container(id).replace({ id, partitionKey: { paths: ["/pk"] }, defaultTtl: 60 });
    expectStatus(res, 200, "replace container");
    assert.equal(res.resource.defaultTtl, 60);
    const { resource } = await db.container(id).read();
    assert.equal(resource.defaultTtl, 60);
    assert.deepEqual(resource.partitionKey.paths, ["/pk"]);
    assert.equal(resource._rid, before1._rid, "replace changed the _rid");
    assert.notEqual(resource._etag, before1._etag, "replace did not change the _etag");
  });

  it("replace of a missing container is 404", async () => {
    const id = uid("nc");
    await expectError(
      () => db.container(id).replace({ id, partitionKey: { paths: ["/pk"] } }),
      404,
      "replace missing container",
    );
  });

  it("duplicate create is 409", async () => {
    const id = uid("c");
    await db.containers.create({ id, partitionKey: { paths: ["/pk"] } });
    await expectError(() => db.containers.create({ id, partitionKey: { paths: ["/pk"] } }), 409, "duplicate container");
  });

  it("create in a missing database is 404", async () => {
    await expectError(
      () => ctx.client.database(uid("nodb")).containers.create({ id: "c", partitionKey: { paths: ["/pk"] } }),
      404,
      "create container in missing database",
    );
  });

  it("delete returns 204; the container and its items are gone", async () => {
    const id = uid("c");
    const { container } = await db.containers.create({ id, partitionKey: { paths: ["/pk"] } });
    await container.items.create({ id: "x", pk: "a" });
    const del = await container.delete();
    expectStatus(del, 204, "delete container");
    await expectError(() => db.container(id).read(), 404, "read deleted container");
    const { resources } = await db.containers.readAll().fetchAll();
    assert.ok(!resources.some((c) => c.id === id), "deleted container still listed");
    await expectError(() => db.container(id).delete(), 404, "delete container twice");
  });

  it("readAll lists the containers of the database only", async () => {
    const { database: own } = await ctx.client.databases.create({ id: uid("cdb") });
    const ids = [uid("cl"), uid("cl")];
    for (const id of ids) await own.containers.create({ id, partitionKey: { paths: ["/pk"] } });
    const { resources } = await own.containers.readAll().fetchAll();
    assert.deepEqual(resources.map((c) => c.id).sort(), [...ids].sort());
    for (const c of resources) assert.deepEqual(c.partitionKey.paths, ["/pk"]);
  });

  it("readAll pages with maxItemCount 1", async () => {
    const { database: own } = await ctx.client.databases.create({ id: uid("cdb") });
    const ids = [uid("cp"), uid("cp"), uid("cp")];
    for (const id of ids) await own.containers.create({ id, partitionKey: { paths: ["/pk"] } });
    const iter = own.containers.readAll({ maxItemCount: 1 });
    const seen = [];
    let pages = 0;
    while (iter.hasMoreResults()) {
      const r = await iter.fetchNext();
      pages += 1;
      assert.ok(r.resources.length <= 1, `page of ${r.resources.length} containers with maxItemCount 1`);
      seen.push(...r.resources.map((c) => c.id));
      assert.ok(pages < 100, "paging never ends");
    }
    assert.deepEqual(seen.sort(), [...ids].sort());
  });

  it("readPartitionKeyRanges returns one range covering everything", async () => {
    const id = uid("c");
    const { container } = await db.containers.create({ id, partitionKey: { paths: ["/pk"] } });
    const { resources } = await container.readPartitionKeyRanges().fetchAll();
    assert.equal(resources.length, 1, `ranges: ${JSON.stringify(resources)}`);
    assert.equal(typeof resources[0].id, "string");
    assert.equal(resources[0].minInclusive, "");
    assert.equal(resources[0].maxExclusive, "FF");
  });
});
