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
