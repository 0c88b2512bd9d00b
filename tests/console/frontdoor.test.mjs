// The console's front-door panel against `regionlab up --config` with a
// frontDoor section (time scale 60: a 30 s probe interval is 0.5 s): origins
// with each POP's window, then a region taken offline from the page and the
// failover's timeline. Any console error in the page fails the test.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { openBrowser, shot, startUp, until } from "./harness.mjs";

let dir, up, browser, page, errors;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "regionlab-console-"));
  const config = path.join(dir, "up.json");
  writeFileSync(config, JSON.stringify({ frontDoor: { listen: 0, pops: 2, timeScale: 60, probeInterval: "30s", sampleSize: 4, successfulSamplesRequired: 3 } }));
  up = await startUp(["--config", config]);
  assert.ok(up.ready.frontDoor, JSON.stringify(up.ready));
  ({ browser, page, errors } = await openBrowser());
  await page.goto(up.ready.console, { waitUntil: "domcontentloaded" });
});

after(async () => {
  if (browser) await browser.close();
  if (up) await up.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const panel = () => page.$eval("#fd", (e) => e.textContent);
async function refreshUntil(what, re) {
  return until(what, async () => {
    await page.click("#sb-refresh");
    const text = await panel();
    return re.test(text) ? text : false;
  }, 20000);
}

test("origins with each POP's health window, and the failover after a region goes offline from the page", async () => {
  await page.waitForSelector('#topology .node[data-region="uksouth"]', { timeout: 10000 });
  await page.click("#tab-splitbrain");
  const text = await refreshUntil("both origins healthy at both POPs", /uksouth[\s\S]*POP 1: healthy[\s\S]*westeurope[\s\S]*POP 1: healthy/);
  assert.match(text, /No failover yet/);

  await page.click("#tab-cluster");
  await page.waitForSelector("#offline503-uksouth");
  await page.click("#offline503-uksouth");
  await until("uksouth offline in the page", () => page.$eval('[data-region="uksouth"].region', (e) => /offline \(503\)/.test(e.textContent)));

  await page.click("#tab-splitbrain");
  const failover = await refreshUntil("the failover's timeline", /uksouth failed[^;]*; 2\/2 POPs marked it unhealthy/);
  assert.match(failover, /firstFailedProbe/);
  assert.match(failover, /popMarkedUnhealthy at POP/);
  await shot(page, "frontdoor");
  assert.deepEqual(errors, []);
});
