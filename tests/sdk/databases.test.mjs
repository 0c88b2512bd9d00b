// Databases through the real @azure/cosmos SDK.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { expectError, expectStatus, uid, useServer } from "./harness.mjs";

describe("databases", { timeout: 120_000 }, () => {
  const ctx = useServer();

  it("create returns 201 with system properties", async () => {
    const id = uid("db");
    const res = await ctx.client.databases.create({ id });
    expectStatus(res, 201, `create database ${id}`);
    assert.equal(res.resource.id, id);
    for (const p of ["_rid", "_self", "_etag"]) {
      assert.equal(typeof res.resource[p], "string", `${p} missing: ${JSON.stringify(res.resource)}`);
      assert.ok(res.resource[p].length > 0, `${p} empty`);
    }
    assert.ok(Number.isInteger(res.resource._ts), `_ts not an integer: ${res.resource._ts}`);
    assert.equal(res.database.id, id);
  });

  it("createIfNotExists twice returns the same database (201 then 200)", async () => {
    const id = uid("db");
    const first = await ctx.client.databases.createIfNotExists({ id });
    expectStatus(first, 201, "first createIfNotExists");
    const second = await ctx.client.databases.createIfNotExists({ id });
    expectStatus(second, 200, "second createIfNotExists");
    assert.equal(second.resource.id, id);
    assert.equal(second.resource._rid, first.resource._rid, "createIfNotExists returned another _rid");
  });

  it("read returns the created database", async () => {
    const id = uid("db");
    const created = await ctx.client.databases.create({ id });
    const res = await ctx.client.database(id).read();
    expectStatus(res, 200, "read database");
    assert.equal(res.resource.id, id);
    assert.equal(res.resource._rid, created.resource._rid);
    assert.equal(res.resource._self, created.resource._self);
    assert.equal(res.etag, res.resource._etag, "etag header differs from body _etag");
  });

  it("readAll lists every created database", async () => {
    const ids = [uid("dbl"), uid("dbl"), uid("dbl")];
    for (const id of ids) await ctx.client.databases.create({ id });
    const { resources } = await ctx.client.databases.readAll().fetchAll();
    const listed = new Set(resources.map((d) => d.id));
    for (const id of ids) assert.ok(listed.has(id), `${id} missing from readAll: ${[...listed]}`);
    for (const d of resources) assert.equal(typeof d._rid, "string", `listed db without _rid: ${JSON.stringify(d)}`);
  });

  it("readAll pages with maxItemCount", async () => {
    const ids = [uid("dbp"), uid("dbp"), uid("dbp")];
    for (const id of ids) await ctx.client.databases.create({ id });
    const it2 = ctx.client.databases.readAll({ maxItemCount: 1 });
    const seen = [];
    let pages = 0;
    while (it2.hasMoreResults()) {
      const r = await it2.fetchNext();
      pages += 1;
      assert.ok(r.resources.length <= 1, `page of ${r.resources.length} with maxItemCount 1`);
      seen.push(...r.resources.map((d) => d.id));
      assert.ok(pages < 1000, "paging never ends");
    }
    for (const id of ids) assert.ok(seen.includes(id), `${id} missing from paged readAll`);
    assert.equal(new Set(seen).size, seen.length, `duplicates across pages: ${seen}`);
  });

  it("query by id finds the database", async () => {
    const id = uid("dbq");
    await ctx.client.databases.create({ id });
    const { resources } = await ctx.client.databases
      .query({ query: "SELECT * FROM root r WHERE r.id = @id", parameters: [{ name: "@id", value: id }] })
      .fetchAll();
    assert.deepEqual(
      resources.map((d) => d.id),
      [id],
    );
  });

  it("duplicate create is 409", async () => {
    const id = uid("db");
    await ctx.client.databases.create({ id });
    const err = await expectError(() => ctx.client.databases.create({ id }), 409, "duplicate database create");
    assert.equal(typeof err.body?.message, "string", `409 body lacks message: ${JSON.stringify(err.body)}`);
  });

  it("read of a missing database is 404", async () => {
    await expectError(() => ctx.client.database(uid("nodb")).read(), 404, "read missing database");
  });

  it("delete returns 204, the database is gone, and its containers go with it", async () => {
    const id = uid("dbdel");
    const { database } = await ctx.client.databases.create({ id });
    const cid = uid("c");
    const { container } = await database.containers.create({ id: cid, partitionKey: { paths: ["/pk"] } });
    await container.items.create({ id: "x", pk: "a" });

    const del = await database.delete();
    expectStatus(del, 204, "delete database");
    await expectError(() => ctx.client.database(id).read(), 404, "read deleted database");
    await expectError(() => ctx.client.database(id).container(cid).read(), 404, "read container of deleted database");
    const { resources } = await ctx.client.databases.readAll().fetchAll();
    assert.ok(!resources.some((d) => d.id === id), "deleted database still listed");

    // same name again: a new, empty database
    const again = await ctx.client.databases.create({ id });
    expectStatus(again, 201, "re-create database after delete");
    const { resources: containers } = await again.database.containers.readAll().fetchAll();
    assert.deepEqual(containers, [], `containers survived their database: ${JSON.stringify(containers)}`);
    await expectError(() => again.database.container(cid).read(), 404, "container of re-created database");
  });

  it("delete of a missing database is 404", async () => {
    await expectError(() => ctx.client.database(uid("nodb")).delete(), 404, "delete missing database");
  });
});
