// A hostile or careless client against a real `regionlab up` process (issue 16's table): one
// request must never take a region down, nor the other region in the same process.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { BIN, adminGet, rawRequest, startUp, uid } from "./harness.mjs";

const run = promisify(execFile);

describe("hostile requests (up --regions uksouth,westeurope)", { timeout: 60_000 }, () => {
  let server;
  let uk;
  let we;
  const db = uid("hard");

  before(async () => {
    server = await startUp({ regions: "uksouth,westeurope" });
    uk = server.regions["UK South"];
    we = server.regions["West Europe"];
    assert.equal((await rawRequest(uk, { method: "POST", path: "/dbs", body: { id: db } })).status, 201);
    const coll = { id: "c", partitionKey: { paths: ["/pk"], kind: "Hash" } };
    assert.equal((await rawRequest(uk, { method: "POST", path: `/dbs/${db}/colls`, body: coll })).status, 201);
  });
  after(async () => {
    if (server) await server.stop();
  });

  it("a document nesting arrays 100,000 deep is a 400; both regions keep serving", async () => {
    const body = `{"id":"d","pk":"a","v":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
    const r = await rawRequest(uk, {
      method: "POST",
      path: `/dbs/${db}/colls/c/docs`,
      body,
      headers: { "x-ms-documentdb-partitionkey": '["a"]' },
    });
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.message, /128/);
    for (const endpoint of [uk, we]) {
      assert.equal((await rawRequest(endpoint, { path: "/" })).status, 200);
    }
    assert.equal((await adminGet(server.admin, "/regions")).regions.length, 2);
  });

  it("three JOIN-cube queries at once: each is refused by its budget, and point reads keep being answered", async () => {
    const xs = Array.from({ length: 2000 }, (_, i) => i);
    const docPath = `/dbs/${db}/colls/c/docs`;
    const pkHeader = { "x-ms-documentdb-partitionkey": '["a"]' };
    assert.equal((await rawRequest(uk, { method: "POST", path: docPath, body: { id: "cube", pk: "a", xs }, headers: pkHeader })).status, 201);
    const query = () =>
      rawRequest(uk, {
        method: "POST",
        path: docPath,
        body: { query: "SELECT VALUE COUNT(1) FROM c JOIN a IN c.xs JOIN b IN c.xs JOIN d IN c.xs", parameters: [] },
        headers: {
          "content-type": "application/query+json",
          "x-ms-documentdb-isquery": "true",
          "x-ms-documentdb-query-enablecrosspartition": "true",
        },
      });
    const t0 = Date.now();
    const queries = [query(), query(), query()];
    const reads = [];
    for (let i = 0; i < 5; i++) {
      const r0 = Date.now();
      const r = await rawRequest(uk, { path: `${docPath}/cube`, headers: pkHeader });
      assert.equal(r.status, 200);
      reads.push(Date.now() - r0);
    }
    for (const r of await Promise.all(queries)) {
      assert.equal(r.status, 400, r.text);
      assert.match(r.json.message, /budget/);
    }
    const took = Date.now() - t0;
    assert.ok(took < 15_000, `the three queries took ${took} ms`);
    assert.ok(Math.max(...reads) < 2_000, `point reads took ${reads} ms while the queries ran`);
  });

  it("the management API refuses a deep body with a 400", async () => {
    const res = await fetch(server.admin.replace(/\/$/, "") + "/scenario", {
      method: "POST",
      body: "[".repeat(200_000) + "]".repeat(200_000),
    });
    assert.equal(res.status, 400);
    assert.equal((await fetch(server.admin.replace(/\/$/, "") + "/health")).status, 200);
  });
});

describe("the management API off loopback (up --admin-host 0.0.0.0)", { timeout: 60_000 }, () => {
  let server;
  before(async () => {
    server = await startUp({ regions: "uksouth,westeurope", extraArgs: ["--admin-host", "0.0.0.0", "--admin-token", "t0k"] });
  });
  after(async () => {
    if (server) await server.stop();
  });

  it("refuses unsigned requests, and the CLI signs with the key or sends the token", async () => {
    const base = server.admin.replace(/\/$/, "");
    const unsigned = await fetch(base + "/regions/uksouth/kill", { method: "POST" });
    assert.equal(unsigned.status, 401);
    assert.match((await unsigned.json()).message, /sign|Bearer/);
    assert.equal((await fetch(base + "/regions")).status, 401);
    assert.equal((await fetch(base + "/regions", { headers: { authorization: "Bearer t0k" } })).status, 200);
    const { stdout } = await run(BIN, ["status", "--admin", server.admin, "--json"]);
    assert.match(stdout, /uksouth/);
    const viaToken = await run(BIN, ["fault", "heal", "--admin", server.admin, "--admin-token", "t0k"]);
    assert.match(viaToken.stdout, /healed/);
    await assert.rejects(run(BIN, ["status", "--admin", server.admin, "--admin-token", "nope"]), /401/);
    // The regions were never touched by the refused kill.
    const regions = await fetch(base + "/regions", { headers: { authorization: "Bearer t0k" } }).then((r) => r.json());
    assert.deepEqual(regions.regions.map((r) => r.state), ["online", "online"]);
  });
});
