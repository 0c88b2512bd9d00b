// The invoice story end to end with the real SDK: two regions, replication cut, the same
// invoice created in both 240 ms apart with totals 1284.50 and 1284.49, then healed. Each
// conflict resolution policy decides, and the conflicts feed shows what the application
// must see. Nothing sleeps to let replication happen: every wait polls a condition with a
// deadline (the 240 ms gap between the two writes is the scenario itself).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { BIN, adminOk, makeClient, startUp, uid, waitFor, waitLinksIdle } from "./harness.mjs";

const run = promisify(execFile);

const here = dirname(fileURLToPath(import.meta.url));
const storyProcedure = readFileSync(join(here, "../../examples/merge-procedures/resolveInvoiceConflict.js"), "utf8");
const REGION_HEADER = "x-ms-regionlab-region";

function regionClient(endpoint, preferred) {
  return makeClient(endpoint, {
    connectionPolicy: { requestTimeout: 15_000, preferredLocations: [preferred], enableEndpointDiscovery: true },
  });
}

const invoice = (writtenIn, total, version) => ({
  id: "inv-1001",
  customer: "acme",
  total,
  version,
  homeRegion: "uksouth",
  writtenIn,
  idempotencyKey: `key-${writtenIn}`,
});

describe("conflicts: the invoice story", () => {
  let server;
  let uk;
  let we;
  const dbId = uid("billing");

  before(async () => {
    server = await startUp({ regions: "uksouth,westeurope" });
    uk = regionClient(server.regions["UK South"], "UK South");
    we = regionClient(server.regions["UK South"], "West Europe");
    await uk.databases.create({ id: dbId });
  });
  after(async () => {
    uk?.dispose();
    we?.dispose();
    await server?.stop();
  });

  /** A container with `policy` (and the story procedure when asked), present in both regions. */
  async function container(policy, { withProcedure = false } = {}) {
    const id = uid("invoices");
    const { container: c } = await uk
      .database(dbId)
      .containers.create({ id, partitionKey: { paths: ["/customer"] }, conflictResolutionPolicy: policy });
    if (withProcedure) {
      await c.scripts.storedProcedures.create({ id: "resolveInvoiceConflict", body: storyProcedure });
    }
    await waitLinksIdle(server.admin);
    return { ukc: uk.database(dbId).container(id), wec: we.database(dbId).container(id) };
  }

  /** Partition, write in UK South then 240 ms later in West Europe, heal, wait for both to agree. */
  async function story({ ukc, wec }, ukDoc = invoice("uksouth", 1284.5, 2), weDoc = invoice("westeurope", 1284.49, 1)) {
    await adminOk(server.admin, "POST", "/partition", { groups: [["uksouth"], ["westeurope"]] });
    const a = await ukc.items.upsert(ukDoc);
    assert.equal(a.headers[REGION_HEADER], "uksouth");
    await new Promise((r) => setTimeout(r, 240));
    const b = await wec.items.upsert(weDoc);
    assert.equal(b.headers[REGION_HEADER], "westeurope");
    await adminOk(server.admin, "POST", "/heal");
    await waitLinksIdle(server.admin);
    return waitFor("both regions to serve the same invoice", async () => {
      const x = await ukc.item("inv-1001", "acme").read();
      const y = await wec.item("inv-1001", "acme").read();
      assert.equal(x.headers[REGION_HEADER], "uksouth");
      assert.equal(y.headers[REGION_HEADER], "westeurope");
      assert.deepEqual(x.resource, y.resource);
      return x.resource;
    });
  }

  const feed = async (c) => (await c.conflicts.readAll().fetchAll()).resources;

  it("last writer wins on _ts keeps the later invoice silently", async () => {
    const c = await container({ mode: "LastWriterWins", conflictResolutionPath: "/_ts" });
    const winner = await story(c);
    assert.equal(winner.total, 1284.49, "the write 240 ms later wins, even within the same _ts second");
    assert.deepEqual(await feed(c.ukc), []);
    assert.deepEqual(await feed(c.wec), []);
  });

  it("recordLosers puts the overwritten invoice in both feeds; deleting it once removes it everywhere", async () => {
    const c = await container({ mode: "LastWriterWins", conflictResolutionPath: "/_ts", recordLosers: true });
    const winner = await story(c);
    assert.equal(winner.total, 1284.49);
    const [ukFeed, weFeed] = await Promise.all([
      waitFor("a conflict in UK South", async () => {
        const f = await feed(c.ukc);
        assert.equal(f.length, 1);
        return f;
      }),
      waitFor("a conflict in West Europe", async () => {
        const f = await feed(c.wec);
        assert.equal(f.length, 1);
        return f;
      }),
    ]);
    assert.equal(ukFeed[0].id, weFeed[0].id, "one conflict, one id everywhere");
    const conflict = ukFeed[0];
    assert.equal(conflict.resourceType, "document");
    assert.equal(conflict.operationType, "create");
    assert.equal(conflict.resourceId, winner._rid);
    assert.equal(JSON.parse(conflict.content).total, 1284.5, "the losing version, as a JSON string");
    assert.equal(conflict.regionlab.winner._etag, winner._etag);
    assert.equal(conflict.regionlab.loser.region, "uksouth");
    assert.equal(conflict.regionlab.winner.region, "westeurope");

    // Read one (the SDK's own route), query the feed, then delete it in West Europe.
    const one = await c.ukc.conflict(conflict.id).read();
    assert.equal(one.resource.id, conflict.id);
    const queried = await c.ukc.conflicts
      .query({ query: "SELECT * FROM c WHERE c.resourceId = @rid", parameters: [{ name: "@rid", value: winner._rid }] })
      .fetchAll();
    assert.equal(queried.resources.length, 1);
    await c.wec.conflict(conflict.id).delete();
    await waitFor("the conflict to be gone from UK South too", async () => { assert.deepEqual(await feed(c.ukc), []); return true; });
  });

  it("last writer wins on /version picks the highest version", async () => {
    const c = await container({ mode: "LastWriterWins", conflictResolutionPath: "/version" });
    const winner = await story(c);
    assert.equal(winner.version, 2);
    assert.equal(winner.total, 1284.5, "the earlier write has the higher version");
  });

  it("the story's merge procedure picks the home-region invoice", async () => {
    const c = await container(
      { mode: "Custom", conflictResolutionProcedure: "dbs/x/colls/y/sprocs/resolveInvoiceConflict" },
      { withProcedure: true },
    );
    const winner = await story(c, invoice("uksouth", 1284.5, 1), invoice("westeurope", 1284.49, 1));
    assert.equal(winner.writtenIn, "uksouth");
    assert.equal(winner.total, 1284.5);
    assert.deepEqual(await feed(c.ukc), []);
  });

  it("Custom without a procedure leaves the conflict in both feeds until the application deletes it (CLI)", async () => {
    const c = await container({ mode: "Custom" });
    await story(c);
    const f = await waitFor("the conflict in both feeds", async () => {
      const a = await feed(c.ukc);
      const b = await feed(c.wec);
      assert.equal(a.length, 1);
      assert.deepEqual(a.map((x) => x.id), b.map((x) => x.id));
      return a;
    });
    // Still there after more writes; gone everywhere once the application deletes it.
    await c.ukc.items.upsert(invoice("uksouth", 1284.5, 3));
    await waitLinksIdle(server.admin);
    assert.equal((await feed(c.wec)).length, 1);
    // From the shell: list (every container), show, delete.
    const ep = server.regions["UK South"];
    const listed = JSON.parse((await run(BIN, ["conflicts", "list", "--endpoint", ep, "--json"])).stdout);
    const mine = listed.filter((x) => x.container === c.ukc.id);
    assert.deepEqual(mine.map((x) => x.id), [f[0].id]);
    assert.equal(mine[0].database, dbId);
    const shown = JSON.parse(
      (await run(BIN, ["conflicts", "show", `--id=${f[0].id}`, "--endpoint", ep, "--db", dbId, "--container", c.ukc.id])).stdout,
    );
    assert.equal(shown.contentDecoded.id, "inv-1001");
    const table = (await run(BIN, ["conflicts", "list", "--endpoint", ep, "--db", dbId, "--container", c.ukc.id])).stdout;
    assert.match(table, new RegExp(f[0].id.replace(/[+]/g, "\\+")));
    await run(BIN, ["conflicts", "delete", `--id=${f[0].id}`, "--endpoint", ep, "--db", dbId, "--container", c.ukc.id]);
    await assert.rejects(
      run(BIN, ["conflicts", "delete", `--id=${f[0].id}`, "--endpoint", ep, "--db", dbId, "--container", c.ukc.id]),
      /does not exist/,
      "a second delete is a 404 with the server's message",
    );
    await waitFor("the conflict to be gone from West Europe", async () => { assert.deepEqual(await feed(c.wec), []); return true; });
  });
});
