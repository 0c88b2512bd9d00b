// The Front Door emulator end to end: `regionlab frontdoor` with the story's probe settings
// (30 s, sampleSize 4, successfulSamplesRequired 3) and two POPs in front of the two region
// endpoints of `regionlab up`, at --time-scale 60. Steady traffic goes through both POPs; the
// primary region's data plane goes offline (503); the measured failover must be within the
// bound the settings promise, every failed request must have gone to the dead origin before the
// timeline's last request to it, and `frontdoor report` must tell the same story.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import {
  BIN, adminGet, adminOk, adminRequest, makeTempDir, rmTemp, startRegionlab, startUp, waitFor,
} from "./harness.mjs";

const run = promisify(execFile);
const SLACK_MS = 400; // scheduling slack on a loaded 2-core CI machine

describe("frontdoor (two POPs in front of up's two regions, time scale 60)", { timeout: 90_000 }, () => {
  let up;
  let fd;
  before(async () => {
    up = await startUp({ regions: "uksouth,westeurope" });
    const uk = up.regions["UK South"].replace(/\/+$/, "");
    const we = up.regions["West Europe"].replace(/\/+$/, "");
    fd = await startRegionlab(
      [
        "frontdoor", "--listen", "0", "--admin-port", "0",
        "--origin", `uksouth=${uk},priority=1`, "--origin", `westeurope=${we},priority=2`,
        "--probe-path", "/health/deep", "--probe-interval", "30s", "--sample-size", "4",
        "--successful-samples", "3", "--pops", "2", "--time-scale", "60",
      ],
      { label: "frontdoor" },
    );
  });
  after(async () => {
    if (fd) await fd.stop();
    if (up) await up.stop();
  });

  it("refuses bad flags with a clear message and exit code 2", async () => {
    for (const [args, message] of [
      [["frontdoor", "--listen", "0"], /at least one --origin/],
      [["frontdoor", "--origin", "uk=ftp://x:1"], /must start with http:\/\//],
      [["frontdoor", "--origin", "uk=http://127.0.0.1:1,priority=0"], /priority must be/],
      [["frontdoor", "--origin", "uk=http://127.0.0.1:1", "--sample-size", "4", "--successful-samples", "5"],
        /successful samples required/],
      [["frontdoor", "--origin", "uk=http://127.0.0.1:1", "--probe-interval", "soon"], /--probe-interval/],
      [["frontdoor", "--origin", "uk=http://127.0.0.1:1", "--time-scale", "0"], /time scale/],
    ]) {
      const err = await run(BIN, args).then(() => null, (e) => e);
      assert.ok(err, `${args.join(" ")} should fail`);
      assert.equal(err.code, 2, `${args.join(" ")}: exit ${err.code}, stderr ${err.stderr}`);
      assert.match(err.stderr, message);
      assert.equal(err.stdout, "", "nothing on stdout");
    }
  });

  it("reports no failover before one happened", async () => {
    const { stdout } = await run(BIN, ["frontdoor", "report", "--admin", fd.ready.admin]);
    assert.match(stdout, /no failover yet/);
    assert.match(stdout, /within 1m30s of the fault/);
  });

  it("prints a ready line naming its ports, and routes to the priority-1 origin", async () => {
    assert.match(fd.ready.frontDoor, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.match(fd.ready.admin, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.deepEqual(fd.stdoutLines.length, 1, "stdout carries only the ready line");
    const res = await fetch(fd.ready.frontDoor + "health/deep");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-regionlab-origin"), "uksouth");
    assert.ok(res.headers.get("x-azure-ref"));
    assert.equal((await res.json()).region, "uksouth");
    const bad = await fetch(fd.ready.frontDoor + "health/deep", { headers: { "x-regionlab-pop": "7" } });
    assert.equal(bad.status, 400);
  });

  it("fails over within the bound the settings promise, and reports the timeline", async () => {
    const admin = fd.ready.admin;
    // Both POPs have a full window of successes before the fault.
    await waitFor("full probe windows", async () => {
      const st = await adminGet(admin, "/frontdoor");
      return st.origins.every((o) => o.pops.every((p) => p.windowText === "1111"));
    });
    const state = await adminGet(admin, "/frontdoor");
    assert.equal(state.promise.failuresNeeded, 2);
    assert.equal(state.promise.worstCaseFdMs, 90_000); // 2 x 30 s + a 30 s probe timeout
    const boundWallMs = state.promise.worstCaseWallMs; // 1.5 s at x60

    // Steady traffic through both POPs, recording who answered.
    const log = [];
    let stop = false;
    const traffic = (async () => {
      for (let i = 0; !stop; i++) {
        const pop = i % 2;
        const t = Date.now();
        try {
          const res = await fetch(fd.ready.frontDoor + "health/deep", { headers: { "x-regionlab-pop": String(pop) } });
          await res.arrayBuffer();
          log.push({ t, pop, status: res.status, origin: res.headers.get("x-regionlab-origin") });
        } catch (e) {
          log.push({ t, pop, status: 0, origin: null, error: e.message });
        }
      }
    })();
    await waitFor("traffic before the fault", () => log.length >= 20);

    const faultAt = Date.now();
    await adminOk(up.admin, "POST", "/regions/uksouth/offline", { mode: "503" });
    const switchedPop = (pop) => {
      const recent = log.filter((r) => r.pop === pop && r.t > faultAt).slice(-5);
      return recent.length === 5 && recent.every((r) => r.origin === "westeurope" && r.status === 200);
    };
    await waitFor("both POPs on westeurope", () => switchedPop(0) && switchedPop(1), { timeoutMs: 20_000 });
    stop = true;
    await traffic;

    const afterFault = log.filter((r) => r.t >= faultAt);
    const lastToOld = Math.max(...afterFault.filter((r) => r.origin === "uksouth").map((r) => r.t));
    const measured = lastToOld - faultAt;
    assert.ok(
      measured <= boundWallMs + SLACK_MS,
      `last request to uksouth ${measured} ms after the fault; the settings promise ${boundWallMs} ms`,
    );
    // No request lost beyond those that went to the dead origin: every failure came from
    // uksouth (its 503), none from the front door itself or from westeurope.
    const failed = afterFault.filter((r) => r.status !== 200);
    assert.ok(failed.every((r) => r.origin === "uksouth" && r.status === 503), JSON.stringify(failed.slice(0, 5)));
    assert.ok(afterFault.filter((r) => r.origin === "westeurope").every((r) => r.status === 200));

    const report = await adminGet(admin, "/frontdoor/failover");
    const f = report.failover;
    assert.ok(f, JSON.stringify(report));
    assert.equal(f.origin, "uksouth");
    assert.equal(f.newOrigin, "westeurope");
    assert.equal(f.complete, true);
    assert.equal(f.popsMarked, 2);
    assert.equal(f.withinPromise, true, JSON.stringify(f.durations));
    const events = f.timeline.map((e) => e.event);
    assert.equal(events[0], "firstFailedProbe");
    assert.equal(events.filter((e) => e === "popMarkedUnhealthy").length, 2);
    assert.ok(events.includes("lastRequestToOld") && events.includes("firstRequestToNew"), events.join());
    const first = f.timeline[0];
    assert.ok(first.wallMs >= faultAt - 5, "the first failed probe is after the fault");
    const lastMark = f.timeline.filter((e) => e.event === "popMarkedUnhealthy").at(-1);
    assert.ok(lastMark.wallMs - faultAt <= boundWallMs + SLACK_MS, `last POP switched ${lastMark.wallMs - faultAt} ms after`);
    // The server's count of requests to the dead origin since its first failed probe is
    // covered by what the client saw fail.
    assert.ok(f.failedRequestsToOld <= failed.length, `${f.failedRequestsToOld} > ${failed.length}`);
    // Front-Door time runs 60 times faster than the wall clock.
    const d = f.durations;
    assert.ok(Math.abs(d.allPopsUnhealthyFdMs - 60 * d.allPopsUnhealthyWallMs) <= 120, JSON.stringify(d));

    const { stdout: reportText } = await run(BIN, ["frontdoor", "report", "--admin", admin]);
    assert.match(reportText, /failover of uksouth -> westeurope/);
    assert.match(reportText, /WITHIN the promise/);
    assert.match(reportText, /marked unhealthy \(POP 1\)/);
    const { stdout: statusText } = await run(BIN, ["frontdoor", "status", "--admin", admin]);
    assert.match(statusText, /uksouth .*UNHEALTHY/);
    const events2 = await adminGet(admin, "/frontdoor/events?type=health");
    assert.ok(events2.events.some((e) => e.origin === "uksouth" && e.healthy === false && typeof e.fdMs === "number"));
    const metrics = await (await fetch(admin + "metrics")).text();
    assert.match(metrics, /regionlab_frontdoor_origin_healthy\{origin="uksouth",pop="0"\} 0/);

    // The region comes back: traffic returns to the priority-1 origin.
    await adminOk(up.admin, "POST", "/regions/uksouth/online");
    await waitFor("traffic back on uksouth", async () => {
      const res = await fetch(fd.ready.frontDoor + "health/deep", { headers: { "x-regionlab-pop": "1" } });
      await res.arrayBuffer();
      return res.headers.get("x-regionlab-origin") === "uksouth";
    });
  });

  it("takes an origin out of rotation with PUT /frontdoor/origins/{name}", async () => {
    const admin = fd.ready.admin;
    await waitFor("uksouth healthy at every POP", async () => {
      const st = await adminGet(admin, "/frontdoor");
      return st.pops.every((p) => p.routing.join() === "uksouth");
    });
    await adminOk(admin, "PUT", "/frontdoor/origins/uksouth", { enabled: false });
    const res = await fetch(fd.ready.frontDoor + "health/deep");
    await res.arrayBuffer();
    assert.equal(res.headers.get("x-regionlab-origin"), "westeurope");
    assert.equal((await adminRequest(admin, "PUT", "/frontdoor/origins/nope", { enabled: false })).status, 404);
    assert.equal((await adminRequest(admin, "PUT", "/frontdoor/origins/uksouth", { enabled: "no" })).status, 400);
    await adminOk(admin, "PUT", "/frontdoor/origins/uksouth", { enabled: true });
    const back = await fetch(fd.ready.frontDoor + "health/deep");
    await back.arrayBuffer();
    assert.equal(back.headers.get("x-regionlab-origin"), "uksouth"); // a re-enabled origin starts healthy
  });
});

describe("up --config with a frontDoor section", { timeout: 60_000 }, () => {
  let up;
  let dir;
  before(async () => {
    dir = makeTempDir("regionlab-fd-");
    const config = path.join(dir, "up.json");
    writeFileSync(config, JSON.stringify({ frontDoor: { listen: 0, pops: 2, timeScale: 60 } }));
    up = await startUp({ regions: "uksouth,westeurope", extraArgs: ["--config", config] });
  });
  after(async () => {
    if (up) await up.stop();
    rmTemp(dir);
  });

  it("runs the front door in front of up's regions, its routes on up's admin port", async () => {
    assert.match(up.ready.frontDoor, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const res = await fetch(up.ready.frontDoor + "health/deep");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-regionlab-origin"), "uksouth"); // origins: the regions, priorities 1, 2
    const st = await adminGet(up.admin, "/frontdoor");
    assert.deepEqual(st.origins.map((o) => [o.name, o.priority]), [["uksouth", 1], ["westeurope", 2]]);
    assert.equal(st.settings.pops, 2);
    assert.equal(st.settings.timeScale, 60);
    // up's own routes are untouched.
    assert.ok((await adminGet(up.admin, "/regions")).regions.length === 2);
    await adminOk(up.admin, "POST", "/regions/uksouth/offline", { mode: "503" });
    await waitFor("traffic on westeurope", async () => {
      const r = await fetch(up.ready.frontDoor + "health/deep", { headers: { "x-regionlab-pop": "1" } });
      await r.arrayBuffer();
      return r.headers.get("x-regionlab-origin") === "westeurope";
    });
    const { stdout } = await run(BIN, ["frontdoor", "report", "--admin", up.admin]);
    assert.match(stdout, /failover of uksouth/);
  });

  it("refuses a bad config before starting (exit 2)", async () => {
    for (const [config, message] of [
      [{ frontDoor: { pops: 0 } }, /pops must be/],
      [{ frontdoor: {} }, /unknown section 'frontdoor'/],
      [{ frontDoor: { origins: [{ name: "x", region: "mars" }] } }, /no region 'mars'/],
      [{ frontDoor: { probeInterval: "soon" } }, /probeInterval/],
    ]) {
      const file = path.join(dir, "bad.json");
      writeFileSync(file, JSON.stringify(config));
      const err = await run(BIN, ["up", "--ephemeral", "--port", "0", "--admin-port", "0", "--config", file]).then(
        () => null,
        (e) => e,
      );
      assert.ok(err, JSON.stringify(config));
      assert.equal(err.code, 2, `${JSON.stringify(config)}: ${err.stderr}`);
      assert.match(err.stderr, message);
      assert.equal(err.stdout, "");
    }
  });
});
