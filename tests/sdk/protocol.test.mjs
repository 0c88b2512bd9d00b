// Process contract and wire details the SDK depends on.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeRaw, expectStatus, rawRequest, uid, useServer } from "./harness.mjs";

describe("protocol", { timeout: 120_000 }, () => {
  const ctx = useServer();

  it("the ready line names the region and a loopback endpoint picked for port 0", () => {
    const r = ctx.server.ready;
    assert.equal(r.event, "ready");
    assert.equal(r.regions.length, 1, JSON.stringify(r));
    assert.equal(r.regions[0].name, "UK South");
    assert.match(r.regions[0].endpoint, /^http:\/\/127\.0\.0\.1:[1-9][0-9]*\/$/);
    assert.match(r.admin, /^http:\/\/127\.0\.0\.1:[1-9][0-9]*\/$/);
    assert.notEqual(r.admin, r.regions[0].endpoint);
  });

  it("GET / describes the account with this region readable and writable", async () => {
    const res = await rawRequest(ctx.endpoint, { path: "/" });
    assert.equal(res.status, 200, describeRaw("GET", "/", res));
    const a = res.json;
    assert.notEqual(a.id, "localhost", "the SDK ignores the locations of an account named localhost");
    assert.equal(a.enableMultipleWriteLocations, true);
    for (const key of ["writableLocations", "readableLocations"]) {
      assert.ok(Array.isArray(a[key]) && a[key].length >= 1, `${key}: ${JSON.stringify(a[key])}`);
      assert.equal(a[key][0].name, "UK South", `${key}[0] should be this node`);
      assert.equal(a[key][0].databaseAccountEndpoint, ctx.endpoint, `${key}[0] endpoint`);
    }
    assert.equal(typeof a.userConsistencyPolicy?.defaultConsistencyLevel, "string");
    assert.notEqual(a.enablePerPartitionFailoverBehavior, true, "per-partition failover changes SDK routing");
  });

  it("errors are JSON with code and message", async () => {
    const p = `/dbs/${uid("nodb")}`;
    const res = await rawRequest(ctx.endpoint, { path: p });
    assert.equal(res.status, 404, describeRaw("GET", p, res));
    assert.match(res.headers["content-type"] ?? "", /json/, "error content-type");
    assert.ok(res.json && typeof res.json.code === "string" && typeof res.json.message === "string", `body: ${res.text}`);
  });

  it("writes answer with activity id and request charge; delete has an empty body", async () => {
    const { database } = await ctx.client.databases.create({ id: uid("pdb") });
    const { container } = await database.containers.create({ id: uid("pc"), partitionKey: { paths: ["/pk"] } });
    const p = `/dbs/${database.id}/colls/${container.id}/docs`;
    const created = await rawRequest(ctx.endpoint, {
      method: "POST",
      path: p,
      body: { id: "w1", pk: "a" },
      headers: { "x-ms-documentdb-partitionkey": '["a"]' },
    });
    assert.equal(created.status, 201, describeRaw("POST", p, created));
    assert.equal(created.headers.etag, created.json._etag, "etag header vs _etag");
    assert.ok(created.headers["x-ms-activity-id"], "x-ms-activity-id missing");
    assert.ok(Number.isFinite(Number(created.headers["x-ms-request-charge"])), "x-ms-request-charge missing");
    const del = await rawRequest(ctx.endpoint, {
      method: "DELETE",
      path: `${p}/w1`,
      headers: { "x-ms-documentdb-partitionkey": '["a"]' },
    });
    assert.equal(del.status, 204, describeRaw("DELETE", `${p}/w1`, del));
    assert.equal(del.text, "", "204 must have an empty body");
  });

  it("a Session-consistency client works end to end and receives session tokens", async () => {
    const sc = ctx.newClient({ consistencyLevel: "Session" });
    const { database } = await sc.databases.create({ id: uid("sdb") });
    const { container } = await database.containers.create({ id: uid("sc"), partitionKey: { paths: ["/pk"] } });
    const created = await container.items.create({ id: "s1", pk: "a", v: 1 });
    assert.ok(created.headers["x-ms-session-token"], "write response lacks x-ms-session-token");
    const read = await container.item("s1", "a").read();
    expectStatus(read, 200, "session read-your-write");
    await container.item("s1", "a").replace({ id: "s1", pk: "a", v: 2 });
    assert.equal((await container.item("s1", "a").read()).resource.v, 2);
    const { resources } = await container.items.query("SELECT * FROM c").fetchAll();
    assert.deepEqual(resources.map((d) => d.v), [2]);
    expectStatus(await container.item("s1", "a").delete(), 204, "session delete");
  });

  it("a client with preferredLocations works", async () => {
    const pc = ctx.newClient({ connectionPolicy: { preferredLocations: ["UK South"], requestTimeout: 15_000 } });
    const { resources } = await pc.databases.readAll().fetchAll();
    assert.ok(Array.isArray(resources));
  });

  it("GET /health/deep on the data-plane port is 200", async () => {
    const res = await fetch(new URL("health/deep", ctx.endpoint));
    assert.equal(res.status, 200, await res.text());
  });

  it("the admin API answers /health and /regions", async () => {
    const h = await fetch(new URL("health", ctx.server.admin));
    assert.equal(h.status, 200);
    const r = await fetch(new URL("regions", ctx.server.admin));
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.equal(body.regions[0].name, "uksouth");
    assert.equal(body.regions[0].displayName, "UK South");
    assert.equal(body.regions[0].endpoint, ctx.endpoint);
  });

  it("stdout carries nothing but the ready line", () => {
    assert.equal(
      ctx.server.stdoutLines.length,
      1,
      `stdout must hold only the ready line, got: ${JSON.stringify(ctx.server.stdoutLines.slice(0, 5))}`,
    );
  });
});
