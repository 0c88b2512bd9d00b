// Items (documents) through the real @azure/cosmos SDK.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import {
  describeRaw,
  drainPages,
  expectError,
  expectStatus,
  rawRequest,
  uid,
  useServer,
} from "./harness.mjs";

describe("items", { timeout: 180_000 }, () => {
  const ctx = useServer();
  let db;
  let c; // container partitioned on /pk

  before(async () => {
    ({ database: db } = await ctx.client.databases.create({ id: uid("idb") }));
    ({ container: c } = await db.containers.create({ id: uid("items"), partitionKey: { paths: ["/pk"] } }));
  });

  async function freshContainer(prefix = "ic") {
    const { container } = await db.containers.create({ id: uid(prefix), partitionKey: { paths: ["/pk"] } });
    return container;
  }

  it("create returns 201 with system properties", async () => {
    const before1 = Math.floor(Date.now() / 1000);
    const res = await c.items.create({ id: uid("i"), pk: "a", n: 1, nested: { x: [1, 2] } });
    expectStatus(res, 201, "create item");
    const r = res.resource;
    assert.equal(r.pk, "a");
    assert.equal(r.n, 1);
    assert.deepEqual(r.nested, { x: [1, 2] });
    for (const p of ["_rid", "_self", "_etag", "_attachments"]) {
      assert.equal(typeof r[p], "string", `${p} missing or not a string: ${JSON.stringify(r)}`);
    }
    assert.ok(r._rid.length > 0 && r._etag.length > 0);
    assert.ok(Number.isInteger(r._ts), `_ts must be integer seconds, got ${r._ts}`);
    const after1 = Math.ceil(Date.now() / 1000);
    assert.ok(r._ts >= before1 - 5 && r._ts <= after1 + 5, `_ts ${r._ts} not near now (${before1}..${after1}), seconds?`);
    assert.equal(res.etag, r._etag, "etag header differs from body _etag");
    assert.ok(r._self.includes(r._rid), `_self ${r._self} does not contain _rid ${r._rid}`);
  });

  it("create without an id gets a generated id", async () => {
    const res = await c.items.create({ pk: "a", n: 2 });
    expectStatus(res, 201, "create item without id");
    assert.equal(typeof res.resource.id, "string");
    const got = await c.item(res.resource.id, "a").read();
    assert.equal(got.resource?.n, 2);
  });

  it("duplicate id in the same partition is 409; the same id in another partition is fine", async () => {
    const id = uid("dup");
    await c.items.create({ id, pk: "a", v: 1 });
    await expectError(() => c.items.create({ id, pk: "a", v: 2 }), 409, "duplicate item create");
    const other = await c.items.create({ id, pk: "b", v: 3 });
    expectStatus(other, 201, "same id, other partition key");
    const a = await c.item(id, "a").read();
    assert.equal(a.resource.v, 1, "409 must not overwrite the existing item");
  });

  it("read returns the item", async () => {
    const id = uid("r");
    const { resource: created } = await c.items.create({ id, pk: "a", s: "hello", arr: [true, null, 1.5] });
    const res = await c.item(id, "a").read();
    expectStatus(res, 200, "read item");
    assert.deepEqual(res.resource, created);
    assert.equal(res.etag, created._etag);
  });

  it("read of a missing item gives statusCode 404 and resource undefined", async () => {
    const res = await c.item(uid("missing"), "a").read();
    expectStatus(res, 404, "read missing item");
    assert.equal(res.resource, undefined);
  });

  it("read with the wrong partition key is 404", async () => {
    const id = uid("r");
    await c.items.create({ id, pk: "a" });
    const res = await c.item(id, "b").read();
    expectStatus(res, 404, "read item with another partition key");
  });

  it("upsert creates (201) then replaces (200)", async () => {
    const id = uid("u");
    const first = await c.items.upsert({ id, pk: "a", v: 1, gone: true });
    expectStatus(first, 201, "upsert of a new item");
    const second = await c.items.upsert({ id, pk: "a", v: 2 });
    expectStatus(second, 200, "upsert of an existing item");
    assert.equal(second.resource.v, 2);
    assert.notEqual(second.resource._etag, first.resource._etag, "upsert did not change _etag");
    const { resource } = await c.item(id, "a").read();
    assert.equal(resource.v, 2);
    assert.equal(resource.gone, undefined, "upsert must replace the whole document");
  });

  it("replace swaps the whole document and changes the etag", async () => {
    const id = uid("rp");
    const { resource: v1 } = await c.items.create({ id, pk: "a", v: 1, old: "x" });
    const res = await c.item(id, "a").replace({ id, pk: "a", v: 2 });
    expectStatus(res, 200, "replace item");
    assert.equal(res.resource.v, 2);
    assert.equal(res.resource.old, undefined);
    assert.notEqual(res.resource._etag, v1._etag);
    assert.equal(res.resource._rid, v1._rid, "replace changed _rid");
    const { resource } = await c.item(id, "a").read();
    assert.deepEqual(
      { v: resource.v, old: resource.old },
      { v: 2, old: undefined },
    );
  });

  it("replace of a missing item is 404", async () => {
    const id = uid("nx");
    await expectError(() => c.item(id, "a").replace({ id, pk: "a" }), 404, "replace missing item");
  });

  it("If-Match: stale etag is 412, current etag succeeds", async () => {
    const id = uid("im");
    const { resource: v1 } = await c.items.create({ id, pk: "a", v: 1 });
    const { resource: v2 } = await c.item(id, "a").replace({ id, pk: "a", v: 2 });
    await expectError(
      () => c.item(id, "a").replace({ id, pk: "a", v: 3 }, { accessCondition: { type: "IfMatch", condition: v1._etag } }),
      412,
      "replace with stale If-Match",
    );
    assert.equal((await c.item(id, "a").read()).resource.v, 2, "412 must not write");
    const ok = await c.item(id, "a").replace(
      { id, pk: "a", v: 4 },
      { accessCondition: { type: "IfMatch", condition: v2._etag } },
    );
    expectStatus(ok, 200, "replace with current If-Match");
    await expectError(
      () => c.item(id, "a").delete({ accessCondition: { type: "IfMatch", condition: v2._etag } }),
      412,
      "delete with stale If-Match",
    );
  });

  it("If-None-Match on read: current etag is 304", async () => {
    const id = uid("inm");
    const { resource } = await c.items.create({ id, pk: "a" });
    const res = await c.item(id, "a").read({ accessCondition: { type: "IfNoneMatch", condition: resource._etag } });
    expectStatus(res, 304, "read with current If-None-Match");
  });

  it("delete returns 204, then the item is 404", async () => {
    const id = uid("del");
    await c.items.create({ id, pk: "a" });
    const res = await c.item(id, "a").delete();
    expectStatus(res, 204, "delete item");
    const read = await c.item(id, "a").read();
    expectStatus(read, 404, "read deleted item");
    await expectError(() => c.item(id, "a").delete(), 404, "delete twice");
    const again = await c.items.create({ id, pk: "a", v: "new" });
    expectStatus(again, 201, "re-create a deleted id");
  });

  it("patch: add, set, replace, remove, incr, move", async () => {
    const id = uid("p");
    await c.items.create({ id, pk: "a", a: 1, b: "old", c: "bye", n: 10, m: "moving", arr: [1, 2], obj: { k: 1 } });
    const res = await c.item(id, "a").patch([
      { op: "add", path: "/added", value: "new" },
      { op: "add", path: "/arr/1", value: 9 },
      { op: "set", path: "/a", value: 2 },
      { op: "set", path: "/obj/k2", value: true },
      { op: "replace", path: "/b", value: "replaced" },
      { op: "remove", path: "/c" },
      { op: "incr", path: "/n", value: 5 },
      { op: "move", from: "/m", path: "/m2" },
    ]);
    expectStatus(res, 200, "patch item");
    const expected = {
      id,
      pk: "a",
      a: 2,
      b: "replaced",
      n: 15,
      m2: "moving",
      arr: [1, 9, 2],
      obj: { k: 1, k2: true },
      added: "new",
    };
    const strip = (d) => Object.fromEntries(Object.entries(d).filter(([k]) => !k.startsWith("_")));
    assert.deepEqual(strip(res.resource), expected, "patch response body");
    const { resource } = await c.item(id, "a").read();
    assert.deepEqual(strip(resource), expected, "patched item as read back");
  });

  it("patch incr works on floats and negative values", async () => {
    const id = uid("pi");
    await c.items.create({ id, pk: "a", f: 1.5, n: 3 });
    const { resource } = await c.item(id, "a").patch([
      { op: "incr", path: "/f", value: 0.25 },
      { op: "incr", path: "/n", value: -5 },
    ]);
    assert.equal(resource.f, 1.75);
    assert.equal(resource.n, -2);
  });

  it("patch with a condition: true applies, false is 412", async () => {
    const id = uid("pc");
    await c.items.create({ id, pk: "a", state: "open", n: 0 });
    const ok = await c.item(id, "a").patch({
      condition: "FROM c WHERE c.state = 'open'",
      operations: [{ op: "incr", path: "/n", value: 1 }],
    });
    expectStatus(ok, 200, "conditional patch (true)");
    assert.equal(ok.resource.n, 1);
    await expectError(
      () =>
        c.item(id, "a").patch({
          condition: "FROM c WHERE c.state = 'closed'",
          operations: [{ op: "incr", path: "/n", value: 1 }],
        }),
      412,
      "conditional patch (false)",
    );
  });

  it("patch errors: replace/remove of a missing path is 400, missing item is 404", async () => {
    const id = uid("pe");
    await c.items.create({ id, pk: "a", x: 1 });
    await expectError(
      () => c.item(id, "a").patch([{ op: "replace", path: "/nope", value: 1 }]),
      400,
      "patch replace of missing path",
    );
    await expectError(() => c.item(id, "a").patch([{ op: "remove", path: "/nope" }]), 400, "patch remove of missing path");
    await expectError(
      () => c.item(id, "a").patch([{ op: "incr", path: "/x", value: "one" }]),
      400,
      "patch incr by a string",
    );
    await expectError(
      () => c.item(uid("nx"), "a").patch([{ op: "set", path: "/x", value: 1 }]),
      404,
      "patch of missing item",
    );
    assert.equal((await c.item(id, "a").read()).resource.x, 1, "failed patch must not write");
  });

  it("readAll pages with maxItemCount 2 and returns each item exactly once", async () => {
    const cc = await freshContainer();
    const ids = [];
    for (let i = 0; i < 7; i++) {
      const id = `ra-${i}`;
      ids.push(id);
      await cc.items.create({ id, pk: i % 2 ? "odd" : "even", i });
    }
    const { pages, items } = await drainPages(cc.items.readAll({ maxItemCount: 2 }));
    const nonEmpty = pages.filter((p) => p.length > 0);
    assert.ok(nonEmpty.length >= 4, `expected >= 4 pages of <= 2 items, got page sizes ${pages.map((p) => p.length)}`);
    for (const p of pages) assert.ok(p.length <= 2, `page of ${p.length} items with maxItemCount 2`);
    assert.deepEqual(items.map((d) => d.id).sort(), ids.sort(), "readAll ids");
    const all = await cc.items.readAll().fetchAll();
    assert.deepEqual(all.resources.map((d) => d.id).sort(), ids.sort(), "readAll().fetchAll() ids");
    assert.equal(all.hasMoreResults, false);
  });

  it("readAll of an empty container is empty", async () => {
    const cc = await freshContainer();
    const { resources } = await cc.items.readAll().fetchAll();
    assert.deepEqual(resources, []);
  });

  it("query SELECT * FROM c scoped by partitionKey returns only that partition", async () => {
    const cc = await freshContainer();
    for (const [id, pk] of [["1", "a"], ["2", "a"], ["3", "b"], ["4", "c"]]) await cc.items.create({ id, pk });
    const a = await cc.items.query("SELECT * FROM c", { partitionKey: "a" }).fetchAll();
    assert.deepEqual(a.resources.map((d) => d.id).sort(), ["1", "2"]);
    const b = await cc.items.query("SELECT * FROM c", { partitionKey: "b" }).fetchAll();
    assert.deepEqual(b.resources.map((d) => d.id), ["3"]);
    const none = await cc.items.query("SELECT * FROM c", { partitionKey: "zzz" }).fetchAll();
    assert.deepEqual(none.resources, []);
    const all = await cc.items.query("SELECT * FROM c").fetchAll();
    assert.deepEqual(all.resources.map((d) => d.id).sort(), ["1", "2", "3", "4"], "cross-partition query");
    const paged = await drainPages(cc.items.query("SELECT * FROM c", { partitionKey: "a", maxItemCount: 1 }));
    assert.deepEqual(paged.items.map((d) => d.id).sort(), ["1", "2"], "paged partition query");
  });

  it("an id with spaces and unicode round-trips", async () => {
    const id = "a b ü";
    const { resource } = await c.items.create({ id, pk: "ü k", v: 1 });
    assert.equal(resource.id, id);
    const got = await c.item(id, "ü k").read();
    expectStatus(got, 200, `read item ${JSON.stringify(id)}`);
    assert.equal(got.resource.id, id);
    const rep = await c.item(id, "ü k").replace({ id, pk: "ü k", v: 2 });
    expectStatus(rep, 200, "replace unicode id");
    const patched = await c.item(id, "ü k").patch([{ op: "incr", path: "/v", value: 1 }]);
    assert.equal(patched.resource.v, 3);
    const { resources } = await c.items.query("SELECT * FROM c", { partitionKey: "ü k" }).fetchAll();
    assert.deepEqual(resources.map((d) => d.id), [id]);
    const del = await c.item(id, "ü k").delete();
    expectStatus(del, 204, "delete unicode id");
  });

  it("ids with other awkward characters round-trip", async () => {
    for (const id of ["with%percent", "plus+sign", "semi;colon", "quote'and\"dq", "emoji-😀"]) {
      await c.items.create({ id, pk: "odd" });
      const got = await c.item(id, "odd").read();
      expectStatus(got, 200, `read item ${JSON.stringify(id)}`);
      assert.equal(got.resource.id, id);
    }
  });

  it("invalid ids are 400 (server-side check, raw requests for chars the SDK blocks)", async () => {
    const p = `/dbs/${db.id}/colls/${c.id}/docs`;
    for (const id of ["a/b", "a#b", "a\\b", "a?b"]) {
      const res = await rawRequest(ctx.endpoint, {
        method: "POST",
        path: p,
        body: { id, pk: "a" },
        headers: { "x-ms-documentdb-partitionkey": '["a"]' },
      });
      assert.equal(res.status, 400, `id ${JSON.stringify(id)}: ${describeRaw("POST", p, res)}`);
      assert.equal(typeof res.json?.message, "string", `400 body lacks message: ${res.text}`);
    }
  });

  it("an id with '?' is 400 through the SDK", async () => {
    await expectError(() => c.items.create({ id: "what?", pk: "a" }), 400, "create id with '?'");
  });

  it("the SDK itself rejects '/', '#' and backslash in ids before sending", async () => {
    for (const id of ["a/b", "a#b", "a\\b"]) {
      await assert.rejects(
        () => c.items.create({ id, pk: "a" }),
        (e) => /illegal/i.test(e.message),
        `SDK accepted id ${JSON.stringify(id)}`,
      );
    }
  });

  it("an id longer than 255 characters is 400, 255 is fine", async () => {
    await expectError(() => c.items.create({ id: "x".repeat(256), pk: "a" }), 400, "create with a 256-char id");
    const ok = await c.items.create({ id: "y".repeat(255), pk: "a" });
    expectStatus(ok, 201, "create with a 255-char id");
  });

  it("a non-string id is 400", async () => {
    const p = `/dbs/${db.id}/colls/${c.id}/docs`;
    const res = await rawRequest(ctx.endpoint, {
      method: "POST",
      path: p,
      body: { id: 42, pk: "a" },
      headers: { "x-ms-documentdb-partitionkey": '["a"]' },
    });
    assert.equal(res.status, 400, describeRaw("POST", p, res));
  });

  it("a document over 2 MB is 413; 1.5 MB is fine", async () => {
    const big = "x".repeat(2 * 1024 * 1024 + 16);
    await expectError(() => c.items.create({ id: uid("big"), pk: "a", big }), 413, "create 2 MB+ document");
    const id = uid("mid");
    const ok = await c.items.create({ id, pk: "a", big: "y".repeat(1536 * 1024) });
    expectStatus(ok, 201, "create 1.5 MB document");
    await expectError(() => c.item(id, "a").replace({ id, pk: "a", big }), 413, "replace with 2 MB+ document");
    await expectError(() => c.items.upsert({ id, pk: "a", big }), 413, "upsert with 2 MB+ document");
  });

  it("partition key in the body different from the request's is 400", async () => {
    const id = uid("pkm");
    await c.items.create({ id, pk: "a", v: 1 });
    await expectError(() => c.item(id, "a").replace({ id, pk: "b", v: 2 }), 400, "replace with body pk != header pk");
    assert.equal((await c.item(id, "a").read()).resource.v, 1);
    const p = `/dbs/${db.id}/colls/${c.id}/docs`;
    const res = await rawRequest(ctx.endpoint, {
      method: "POST",
      path: p,
      body: { id: uid("pkm"), pk: "b" },
      headers: { "x-ms-documentdb-partitionkey": '["a"]' },
    });
    assert.equal(res.status, 400, `create with body pk b, header ["a"]: ${describeRaw("POST", p, res)}`);
  });

  it("numeric, boolean and null partition keys work and are distinct values", async () => {
    const cc = await freshContainer();
    const cases = [
      ["num", 5],
      ["num", "5"],
      ["num", 5.5],
      ["bool", true],
      ["bool", false],
      ["bool", "true"],
      ["nul", null],
      ["nul", "null"],
    ];
    for (const [id, pk] of cases) {
      const r = await cc.items.create({ id, pk, tag: JSON.stringify(pk) });
      expectStatus(r, 201, `create with pk ${JSON.stringify(pk)}`);
    }
    for (const [id, pk] of cases) {
      const r = await cc.item(id, pk).read();
      expectStatus(r, 200, `read with pk ${JSON.stringify(pk)}`);
      assert.equal(r.resource.tag, JSON.stringify(pk), `pk ${JSON.stringify(pk)} read another item`);
    }
    const q = await cc.items.query("SELECT * FROM c", { partitionKey: 5 }).fetchAll();
    assert.deepEqual(q.resources.map((d) => d.tag), ["5"]);
    const qn = await cc.items.query("SELECT * FROM c", { partitionKey: null }).fetchAll();
    assert.deepEqual(qn.resources.map((d) => d.tag), ["null"]);
    const del = await cc.item("bool", false).delete();
    expectStatus(del, 204, "delete with pk false");
    assert.equal((await cc.item("bool", true).read()).statusCode, 200, "deleting pk false removed pk true");
  });

  it("an item without the partition key property is addressable with no key", async () => {
    const id = uid("nopk");
    const r = await c.items.create({ id, other: 1 });
    expectStatus(r, 201, "create item without /pk");
    const got = await c.item(id).read();
    expectStatus(got, 200, "read item with undefined partition key");
    assert.equal(got.resource.other, 1);
    const asNull = await c.item(id, null).read();
    expectStatus(asNull, 404, "an item without /pk must not be found under pk null");
    const del = await c.item(id).delete();
    expectStatus(del, 204, "delete item with undefined partition key");
  });

  it("response headers: etag, request charge, activity id", async () => {
    const res = await c.items.create({ id: uid("h"), pk: "a" });
    assert.equal(res.headers.etag, res.resource._etag);
    const charge = res.headers["x-ms-request-charge"];
    assert.ok(charge !== undefined && Number.isFinite(Number(charge)), `x-ms-request-charge: ${charge}`);
    assert.match(String(res.activityId), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
  });
});
