// The split-brain report end to end: the story's invoice written in both regions 240 ms apart
// during a partition shows up in GET /splitbrain and `regionlab splitbrain` as concurrent writes.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { BIN, adminGet, adminOk, makeClient, startUp, uid, waitFor, waitLinksIdle } from "./harness.mjs";

const run = promisify(execFile);

describe("split-brain report (up --regions uksouth,westeurope)", { timeout: 60_000 }, () => {
  let server;
  const clients = [];
  before(async () => {
    server = await startUp({ regions: "uksouth,westeurope" });
    await waitLinksIdle(server.admin, { expectLinks: 2 });
  });
  after(async () => {
    for (const c of clients) c.dispose();
    if (server) await server.stop();
  });

  it("lists the invoice written on both sides of a partition, and not a document written in one", async () => {
    const dbId = uid("sb");
    const uk = makeClient(server.regions["UK South"], { connectionPolicy: { preferredLocations: ["UK South"] } });
    const we = makeClient(server.regions["West Europe"], { connectionPolicy: { preferredLocations: ["West Europe"] } });
    clients.push(uk, we);
    const { database } = await uk.databases.create({ id: dbId });
    await database.containers.create({ id: "invoices", partitionKey: { paths: ["/customerId"] } });
    const weC = we.database(dbId).container("invoices");
    await waitFor("the container in West Europe", async () => (await weC.read()).resource);
    const ukC = uk.database(dbId).container("invoices");

    await adminOk(server.admin, "POST", "/partition", { groups: [["uksouth"], ["westeurope"]] });
    await ukC.items.upsert({ id: "inv-1", customerId: "acme", total: 1284.5 });
    await new Promise((r) => setTimeout(r, 240)); // the story's 240 ms between the two writes
    await weC.items.upsert({ id: "inv-1", customerId: "acme", total: 1284.49 });
    await ukC.items.upsert({ id: "inv-2", customerId: "acme", total: 1 });
    await adminOk(server.admin, "POST", "/heal");
    await waitLinksIdle(server.admin);

    const report = await adminGet(server.admin, `/splitbrain?windowMs=1000&database=${dbId}`);
    assert.equal(report.windowMs, 1000);
    assert.deepEqual(report.documents.map((d) => d.id), ["inv-1"]);
    const [doc] = report.documents;
    assert.equal(doc.container, "invoices");
    assert.equal(doc.partitionKey, "acme");
    assert.deepEqual(doc.writes.map((w) => w.region).sort(), ["uksouth", "westeurope"]);
    assert.ok(doc.writes.every((w) => w.concurrent), JSON.stringify(doc));
    const gap = Math.abs(doc.writes[1].timeMs - doc.writes[0].timeMs);
    assert.ok(gap >= 240 && gap < 1000, `writes ${gap} ms apart`);

    const { stdout } = await run(BIN, ["splitbrain", "--admin", server.admin, "--db", dbId]);
    assert.match(stdout, /1 document\(s\)/);
    assert.match(stdout, /inv-1/);
    assert.match(stdout, /CONCURRENT/);
  });
});
