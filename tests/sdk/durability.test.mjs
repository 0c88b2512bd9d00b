// Data survives kill -9 and a graceful stop when the server runs on a data directory.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { expectError, expectStatus, makeClient, makeTempDir, rmTemp, startServer, uid } from "./harness.mjs";

describe("durability", { timeout: 180_000 }, () => {
  const dir = makeTempDir();
  const servers = [];
  const clients = [];
  after(async () => {
    for (const c of clients) c.dispose();
    for (const s of servers) await s.kill9();
    rmTemp(dir);
  });

  async function boot() {
    const s = await startServer({ dataDir: dir });
    servers.push(s);
    const c = makeClient(s.endpoint);
    clients.push(c);
    return { s, c };
  }

  const dbId = uid("ddb");
  const cId = uid("dc");
  const expected = new Map(); // id -> {pk, v}
  let containerRid;
  let dbRid;

  async function verify(client, label) {
    const db = await client.database(dbId).read();
    expectStatus(db, 200, `${label}: read database`);
    assert.equal(db.resource._rid, dbRid, `${label}: database _rid changed`);
    const cont = await client.database(dbId).container(cId).read();
    assert.deepEqual(cont.resource.partitionKey.paths, ["/pk"], `${label}: partition key`);
    assert.equal(cont.resource._rid, containerRid, `${label}: container _rid changed`);
    assert.equal(cont.resource.defaultTtl, 86400, `${label}: defaultTtl`);
    const c = client.database(dbId).container(cId);
    const { resources } = await c.items.readAll().fetchAll();
    const got = Object.fromEntries(resources.map((d) => [d.id, { pk: d.pk, v: d.v }]));
    assert.deepEqual(got, Object.fromEntries(expected), `${label}: items after restart`);
    for (const [id, { pk, v }] of expected) {
      const r = await c.item(id, pk).read();
      expectStatus(r, 200, `${label}: point read ${id}`);
      assert.equal(r.resource.v, v);
    }
    const gone = await c.item("d-deleted", "p0").read();
    expectStatus(gone, 404, `${label}: a deleted item came back`);
  }

  it("acknowledged writes survive kill -9, and a graceful stop exits 0 keeping them", async () => {
    // 1. write
    const first = await boot();
    const { database, resource: dbRes } = await first.c.databases.create({ id: dbId });
    dbRid = dbRes._rid;
    const { resource: cRes } = await database.containers.create({
      id: cId,
      partitionKey: { paths: ["/pk"] },
      defaultTtl: 86400,
    });
    containerRid = cRes._rid;
    const c = database.container(cId);
    for (let i = 0; i < 20; i++) {
      const id = `d-${i}`;
      await c.items.create({ id, pk: `p${i % 3}`, v: i });
      expected.set(id, { pk: `p${i % 3}`, v: i });
    }
    await c.item("d-1", "p1").replace({ id: "d-1", pk: "p1", v: 100 });
    expected.set("d-1", { pk: "p1", v: 100 });
    await c.item("d-2", "p2").patch([{ op: "incr", path: "/v", value: 40 }]);
    expected.set("d-2", { pk: "p2", v: 42 });
    await c.items.upsert({ id: "d-up", pk: "p0", v: 7 });
    expected.set("d-up", { pk: "p0", v: 7 });
    await c.items.create({ id: "d-deleted", pk: "p0", v: -1 });
    expectStatus(await c.item("d-deleted", "p0").delete(), 204, "delete before crash");

    // 2. crash
    const killed = await first.s.kill9();
    assert.equal(killed.signal, "SIGKILL");

    // 3. restart on the same directory: everything is there
    const second = await boot();
    await verify(second.c, "after kill -9");

    // and it still accepts writes; ids of deleted items can be reused
    const c2 = second.c.database(dbId).container(cId);
    await c2.items.create({ id: "after-crash", pk: "p1", v: 1 });
    expected.set("after-crash", { pk: "p1", v: 1 });
    await expectError(() => c2.items.create({ id: "d-0", pk: "p0", v: 0 }), 409, "d-0 exists after restart");

    // 4. graceful stop: exit code 0, then data is still there
    const stopped = await second.s.stop();
    assert.equal(stopped.timedOut, undefined, "SIGTERM did not stop the server within 10 s");
    assert.deepEqual({ code: stopped.code, signal: stopped.signal }, { code: 0, signal: null }, "SIGTERM exit status");
    const third = await boot();
    await verify(third.c, "after SIGTERM");
  });

  it("--ephemeral keeps nothing across restarts", async () => {
    const s1 = await startServer();
    servers.push(s1);
    const c1 = makeClient(s1.endpoint);
    clients.push(c1);
    const id = uid("edb");
    await c1.databases.create({ id });
    await s1.stop();
    const s2 = await startServer();
    servers.push(s2);
    const c2 = makeClient(s2.endpoint);
    clients.push(c2);
    await expectError(() => c2.database(id).read(), 404, "database from a previous ephemeral run");
  });
});
