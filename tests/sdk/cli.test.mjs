// `regionlab status`: the cluster from the shell, against a running `up`.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, test } from "node:test";
import { promisify } from "node:util";

import { BIN, freePort, startUp, waitLinksIdle } from "./harness.mjs";

const run = promisify(execFile);
let server;

before(async () => {
  server = await startUp({ regions: "uksouth,westeurope" });
  await waitLinksIdle(server.admin, { expectLinks: 2 });
});
after(async () => {
  await server?.stop();
});

test("status --json reports every region and both directed links", async () => {
  const { stdout } = await run(BIN, ["status", "--admin", server.admin, "--json"]);
  const j = JSON.parse(stdout);
  assert.deepEqual(j.regions.regions.map((r) => r.name), ["uksouth", "westeurope"]);
  assert.deepEqual(j.links.map((l) => `${l.from}->${l.to}`).sort(), ["uksouth->westeurope", "westeurope->uksouth"]);
  assert.ok(j.links.every((l) => l.connected === true));
});

test("status prints a table with regions, states and links", async () => {
  const { stdout } = await run(BIN, ["status", "--admin", server.admin]);
  assert.match(stdout, /^uksouth\s+UK South\s+online\s+0ms/m);
  assert.match(stdout, /^westeurope\s+West Europe\s+online/m);
  assert.match(stdout, /^uksouth -> westeurope\s+yes\s+0\s/m);
});

test("status against nothing fails with a message on stderr and nothing on stdout", async () => {
  const port = await freePort();
  await assert.rejects(run(BIN, ["status", "--admin", `http://127.0.0.1:${port}/`]), (err) => {
    assert.equal(err.code, 1);
    assert.equal(err.stdout, "");
    assert.match(err.stderr, /status: .*refused/i);
    return true;
  });
});

// `regionlab fault ...`: every fault endpoint from the shell. stdout carries only the server's
// JSON answer; failures exit non-zero with the server's message on stderr.
test("fault drives every endpoint of the management API", async () => {
  const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const path = await import("node:path");
  const { adminGet, linkInfo, waitFor } = await import("./harness.mjs");
  const admin = server.admin;
  const fault = async (...args) => {
    const { stdout, stderr } = await run(BIN, ["fault", ...args, "--admin", admin]);
    assert.equal(stdout.split("\n").filter(Boolean).length, 1, `stdout: ${stdout} stderr: ${stderr}`);
    return JSON.parse(stdout);
  };

  let j = await fault("link", "uksouth", "westeurope", "--delay", "240ms", "--jitter", "10ms", "--drop", "0.3",
    "--duplicate", "0.5", "--reorder", "0.2", "--bandwidth", "100");
  assert.deepEqual(j.faults, { delayMs: 240, jitterMs: 10, dropRate: 0.3, duplicateRate: 0.5, reorderRate: 0.2,
    bandwidthKBps: 100, partitioned: false });
  assert.equal((await linkInfo(admin, "uksouth", "westeurope")).faults.delayMs, 240);
  const { stdout: table } = await run(BIN, ["status", "--admin", admin]);
  assert.match(table, /^uksouth -> westeurope .*delay=240ms jitter=10ms drop=0\.3 duplicate=0\.5 reorder=0\.2 bandwidth=100KB\/s$/m);
  assert.match(table, /^westeurope -> uksouth .* -$/m);

  j = await fault("link", "westeurope", "uksouth", "--partitioned");
  assert.equal(j.faults.partitioned, true);
  j = await fault("heal-link", "uksouth", "westeurope");
  assert.equal(j.faults.delayMs, 0);
  j = await fault("link", "westeurope", "uksouth", "--heal");
  assert.equal(j.faults.partitioned, false);

  j = await fault("partition", "uksouth", "/", "westeurope");
  assert.deepEqual(j.groups, [["uksouth"], ["westeurope"]]);
  assert.equal((await linkInfo(admin, "westeurope", "uksouth")).faults.partitioned, true);

  j = await fault("region", "uksouth", "--offline", "403");
  assert.equal(j.state, "offline-403");
  j = await fault("region", "uksouth", "--online");
  assert.equal(j.state, "online");
  j = await fault("clock", "westeurope", "+300ms");
  assert.equal(j.clockSkewMs, 300);
  j = await fault("clock", "westeurope", "-300ms");
  assert.equal(j.clockSkewMs, -300);
  j = await fault("clock", "westeurope", "0");
  assert.equal(j.clockSkewMs, 0);

  j = await fault("heal");
  assert.equal(j.healed, true);
  assert.ok((await adminGet(admin, "/links")).links.every((l) => !l.faults.partitioned));

  j = await fault("kill", "westeurope");
  assert.equal(j.state, "killed");
  j = await fault("restart", "westeurope");
  assert.equal(j.state, "online");

  const dir = mkdtempSync(path.join(tmpdir(), "regionlab-cli-"));
  try {
    const file = path.join(dir, "s.json");
    writeFileSync(file, JSON.stringify([{ atMs: 0, put: { from: "uksouth", to: "westeurope", delayMs: 5 } }]));
    j = await fault("scenario", file);
    assert.deepEqual(j, { steps: 1 });
    await waitFor("the scenario's step", async () => (await linkInfo(admin, "uksouth", "westeurope")).faults.delayMs === 5);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await fault("heal");
  await waitLinksIdle(admin);
});

test("fault reports the server's refusal on stderr and exits non-zero", async () => {
  for (const args of [
    ["link", "uksouth", "mars", "--delay", "5ms"],
    ["link", "uksouth", "westeurope", "--drop", "1.5"],
    ["restart", "uksouth"],
  ]) {
    await assert.rejects(run(BIN, ["fault", ...args, "--admin", server.admin]), (err) => {
      assert.notEqual(err.code, 0, args.join(" "));
      assert.equal(err.stdout, "", args.join(" "));
      assert.match(err.stderr, /^fault: .*answered (400|409): ./m, args.join(" "));
      return true;
    });
  }
  // A duration that does not parse never reaches the server.
  await assert.rejects(run(BIN, ["fault", "link", "uksouth", "westeurope", "--delay", "soon", "--admin", server.admin]),
    (err) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr, /not a duration/);
      return true;
    });
});

// `up --threads N`: HTTP io threads per region (default 1). More threads serve the same data; a
// count outside 1-64 is refused before anything starts.
test("up --threads refuses a count outside 1-64, and a region with four threads serves the SDK", async () => {
  for (const n of ["0", "65", "many"]) {
    await assert.rejects(run(BIN, ["up", "--ephemeral", "--port", "0", "--admin-port", "0", "--threads", n]), (err) => {
      assert.notEqual(err.code, 0, n);
      assert.equal(err.stdout, "", n);
      assert.match(err.stderr, /--threads/, n);
      return true;
    });
  }
  const { makeClient, uid } = await import("./harness.mjs");
  const four = await startUp({ regions: "uksouth", extraArgs: ["--threads", "4"] });
  try {
    const client = makeClient(four.regions["UK South"]);
    const { database } = await client.databases.createIfNotExists({ id: uid("db") });
    const { container } = await database.containers.createIfNotExists({ id: "c", partitionKey: { paths: ["/pk"] } });
    // More connections (one per client) than threads: they are spread over the four.
    const clients = Array.from({ length: 8 }, () => makeClient(four.regions["UK South"]));
    await Promise.all(clients.map((c, i) =>
      c.database(database.id).container("c").items.create({ id: `d${i}`, pk: `p${i % 3}`, n: i })));
    const { resources } = await container.items.query("SELECT VALUE COUNT(1) FROM c").fetchAll();
    assert.deepEqual(resources, [8]);
    for (const c of clients) c.dispose();
    client.dispose();
  } finally {
    await four.stop();
  }
});

// Conflict ids are base64 and one in 64 starts with '-': `--id=ID` takes it as an id.
test("conflicts show and delete take an id that starts with '-' as --id=ID", async () => {
  const port = await freePort();
  for (const sub of ["show", "delete"]) {
    await assert.rejects(
      run(BIN, ["conflicts", sub, "--id=-TZkGfrus9PNWY0jsfvmeg==", "--endpoint", `http://127.0.0.1:${port}/`, "--db", "d", "--container", "c"]),
      (err) => {
        assert.equal(err.code, 1, err.stderr);  // the request was tried: the id parsed
        assert.match(err.stderr, /^conflicts: .*refused/m);
        return true;
      });
  }
});
