// The history checker end to end: writers in both regions, on the same ids, record every
// acknowledged write (examples/history-recorder) while the regions are partitioned and healed; `regionlab check`
// then accounts for every one of them in both regions — and reports a planted acknowledgement
// that never happened as LOST, with exit status 1.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BIN, makeClient, makeTempDir, rmTemp, startUp, uid, waitLinksIdle } from "./harness.mjs";
import { runSoak } from "../../examples/history-recorder/soak.mjs";

describe("regionlab check (up --regions uksouth,westeurope)", { timeout: 90_000 }, () => {
  let server, dir;
  const clients = {};
  before(async () => {
    server = await startUp({ regions: "uksouth,westeurope" });
    await waitLinksIdle(server.admin, { expectLinks: 2 });
    for (const region of ["UK South", "West Europe"]) {
      clients[region] = makeClient(server.regions[region], { connectionPolicy: { preferredLocations: [region] } });
    }
    dir = makeTempDir();
  });
  after(async () => {
    for (const c of Object.values(clients)) c.dispose();
    if (server) await server.stop();
    if (dir) rmTemp(dir);
  });

  const check = (file) =>
    spawnSync(BIN, ["check", file, "--admin", server.admin, "--wait", "30s", "--json"], { encoding: "utf8" });

  it("accounts for every acknowledged write of a soak with partitions", async () => {
    const out = join(dir, "history.jsonl");
    // Both regions write the same few ids: conflicts, resolved by last-writer-wins with recordLosers.
    const soak = await runSoak({ clients, admin: server.admin, databaseId: uid("soak"), seconds: 6, out });
    assert.ok(soak.recorded > 50, `only ${soak.recorded} writes recorded`);
    assert.ok(soak.faults >= 2, "the links were partitioned and healed");
    const r = check(out);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.writes, readFileSync(out, "utf8").trim().split("\n").length);
    assert.equal(report.current + report.superseded + report.inConflictsFeed, 2 * report.writes);
    assert.ok(report.superseded > 0, "later writes superseded earlier ones");
    assert.ok(report.inConflictsFeed > 0, "some writes lost conflicts and are in the conflicts feed");

    // A planted bug: an acknowledgement the service never gave.
    const first = JSON.parse(readFileSync(out, "utf8").split("\n")[0]);
    appendFileSync(out, JSON.stringify({ ...first, id: "ghost", etag: '"00000000-0000-0000-0000-0000ffffffff"' }) + "\n");
    const bad = check(out);
    assert.equal(bad.status, 1, bad.stderr);
    assert.match(bad.stderr, /LOST +line \d+ uksouth .*ghost/);
  });
});
