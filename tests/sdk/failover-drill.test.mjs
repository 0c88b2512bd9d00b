// The failover drill end to end (examples/failover-drill): one app instance per region (the real
// SDK, preferredLocations = its own region, a /health/deep that really writes to Cosmos) behind
// `regionlab frontdoor` with the story's settings (30 s, 4, 3) and two POPs at --time-scale 60;
// steady traffic; the primary region's data plane taken offline. Asserts the timeline against
// the bound computed from the settings, that no request was lost beyond those the timeline says
// went to the dead origin, and that the writes made in both regions during the switch appear in
// the split-brain report.
//
// The example imports "@azure/cosmos" like any application; as in reconciler.test.mjs, a resolve
// hook lets it fall back to tests/sdk/node_modules when it has none of its own.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { describe, it } from "node:test";
import { BIN } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const drill = join(here, "../../examples/failover-drill/drill.mjs");
const fallbackParent = JSON.stringify(pathToFileURL(join(here, "package.json")).href);
const HOOK =
  "data:text/javascript," +
  encodeURIComponent(`
    export async function resolve(specifier, context, next) {
      try {
        return await next(specifier, context);
      } catch (e) {
        if (e?.code !== "ERR_MODULE_NOT_FOUND" || !specifier.startsWith("@azure/")) throw e;
        return next(specifier, { ...context, parentURL: ${fallbackParent} });
      }
    }`);
const PRELOAD =
  "data:text/javascript," +
  encodeURIComponent(`import { register } from "node:module"; register(${JSON.stringify(HOOK)});`);
const SLACK_MS = 400; // scheduling slack on a loaded 2-core CI machine

describe("the failover drill (examples/failover-drill)", { timeout: 120_000 }, () => {
  it("fails over within the promise, loses only what went to the dead origin, and finds the split-brain writes", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", PRELOAD, drill, "--regionlab", BIN, "--json", "--time-scale", "60", "--pops", "2"],
      { maxBuffer: 64 << 20, timeout: 110_000 },
    );
    const s = JSON.parse(stdout.trim().split("\n").at(-1));

    // The timeline against the bound the settings promise.
    const f = s.failover;
    assert.equal(f.origin, "uksouth");
    assert.equal(f.newOrigin, "westeurope");
    assert.equal(f.complete, true);
    assert.equal(f.withinPromise, true, JSON.stringify(f.durations));
    assert.equal(s.promise.worstCaseFdMs, 90_000);
    const lastMark = f.timeline.filter((e) => e.event === "popMarkedUnhealthy").at(-1);
    assert.ok(lastMark.wallMs - s.faultAtMs <= s.promise.worstCaseWallMs + SLACK_MS, JSON.stringify(f.timeline));
    assert.ok(s.lastToOldAfterFaultMs <= s.promise.worstCaseWallMs + SLACK_MS, `${s.lastToOldAfterFaultMs} ms`);

    // No request lost beyond those that went to the dead origin before it was dropped.
    assert.ok(s.afterFault > s.requestsToOldAfterFault, "traffic reached westeurope");
    for (const r of s.failedAfterFault) {
      assert.equal(r.origin, "uksouth", JSON.stringify(r));
      assert.ok(r.afterFaultMs <= s.lastToOldAfterFaultMs, JSON.stringify(r));
    }
    assert.ok(f.failedRequestsToOld <= s.failedAfterFault.length);
    assert.ok(!Object.keys(s.servedByAfterFault).some((k) => k.startsWith("westeurope->failed")), JSON.stringify(s.servedByAfterFault));

    // The hot document was written in both regions within a second: the split-brain report has it.
    const hot = s.splitbrain.documents.find((d) => d.id === "hot");
    assert.ok(hot, JSON.stringify(s.splitbrain).slice(0, 2000));
    assert.deepEqual([...new Set(hot.writes.map((w) => w.region))].sort(), ["uksouth", "westeurope"]);
  });
});
