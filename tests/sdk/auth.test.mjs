// Master-key authentication.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { before, describe, it } from "node:test";
import { describeRaw, expectError, rawRequest, signRequest, uid, useServer } from "./harness.mjs";

describe("auth", { timeout: 120_000 }, () => {
  const ctx = useServer();
  const wrongKey = randomBytes(64).toString("base64");
  let bad;
  let dbId;
  let cId;

  before(async () => {
    dbId = uid("adb");
    cId = uid("ac");
    const { database } = await ctx.client.databases.create({ id: dbId });
    const { container } = await database.containers.create({ id: cId, partitionKey: { paths: ["/pk"] } });
    await container.items.create({ id: "x", pk: "a" });
    bad = ctx.newClient({ key: wrongKey });
  });

  it("a client with a wrong key gets 401 on every kind of operation", async () => {
    const bc = bad.database(dbId).container(cId);
    await expectError(() => bad.databases.readAll().fetchAll(), 401, "list databases with a wrong key");
    await expectError(() => bad.database(dbId).read(), 401, "read database with a wrong key");
    const newDb = uid("adb");
    await expectError(() => bad.databases.create({ id: newDb }), 401, "create database with a wrong key");
    await expectError(() => bad.database(dbId).container(cId).read(), 401, "read container with a wrong key");
    await expectError(() => bc.item("x", "a").read(), 401, "read item with a wrong key");
    await expectError(() => bc.items.create({ id: "y", pk: "a" }), 401, "create item with a wrong key");
    await expectError(() => bc.items.query("SELECT * FROM c").fetchAll(), 401, "query with a wrong key");
    await expectError(() => bc.item("x", "a").delete(), 401, "delete item with a wrong key");

    // nothing happened
    await expectError(() => ctx.client.database(newDb).read(), 404, "database created with a wrong key");
    const still = await ctx.client.database(dbId).container(cId).item("x", "a").read();
    assert.equal(still.statusCode, 200, "item deleted with a wrong key");
  });

  it("raw requests: a correct signature is 200, missing/garbled/wrong-verb signatures are 401", async () => {
    const p = `/dbs/${dbId}`;
    const ok = await rawRequest(ctx.endpoint, { path: p });
    assert.equal(ok.status, 200, `correctly signed GET: ${describeRaw("GET", p, ok)}`);

    const none = await rawRequest(ctx.endpoint, { path: p, sign: false });
    assert.equal(none.status, 401, `no authorization header: ${describeRaw("GET", p, none)}`);
    assert.equal(typeof none.json?.message, "string", `401 body must be JSON with a message: ${none.text}`);

    const garbled = await rawRequest(ctx.endpoint, { path: p, sign: false, headers: { authorization: "garbage" } });
    assert.equal(garbled.status, 401, `garbled authorization: ${describeRaw("GET", p, garbled)}`);

    const date = new Date().toUTCString();
    const wrongVerb = await rawRequest(ctx.endpoint, {
      path: p,
      sign: false,
      headers: { "x-ms-date": date, authorization: signRequest("DELETE", p, date) },
    });
    assert.equal(wrongVerb.status, 401, `signature made for another verb: ${describeRaw("GET", p, wrongVerb)}`);

    const wrongLink = await rawRequest(ctx.endpoint, {
      path: p,
      sign: false,
      headers: { "x-ms-date": date, authorization: signRequest("GET", `/dbs/other`, date) },
    });
    assert.equal(wrongLink.status, 401, `signature made for another resource: ${describeRaw("GET", p, wrongLink)}`);
  });

  it("the signature covers the decoded resource link (ids with spaces and unicode)", async () => {
    const id = "sig ü test";
    await ctx.client.databases.create({ id });
    const p = `/dbs/${id}`;
    const ok = await rawRequest(ctx.endpoint, { path: p });
    assert.equal(ok.status, 200, describeRaw("GET", p, ok));
  });
});
