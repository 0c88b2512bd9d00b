// Shared by the console's browser tests: a `regionlab up` process, a headless
// chromium page that records console errors, and waiting under a deadline.
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import puppeteer from "puppeteer-core";

export const SHOTS = process.env.CONSOLE_SCREENSHOTS || path.resolve("screenshots");
mkdirSync(SHOTS, { recursive: true });

/** Polls `fn` until it returns something truthy; throws after `timeoutMs`. */
export async function until(what, fn, timeoutMs = 15000) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts `regionlab up --ephemeral --port 0 --admin-port 0 ...args`; resolves with {proc, ready, stop()}. */
export async function startUp(args = []) {
  const proc = spawn(process.env.REGIONLAB_BIN, ["up", "--ephemeral", "--port", "0", "--admin-port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  proc.stderr.on("data", (d) => { stderr = (stderr + d).slice(-8000); });
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line in 20 s: ${stderr}`)), 20000);
    createInterface({ input: proc.stdout }).once("line", (l) => { clearTimeout(timer); resolve(JSON.parse(l)); });
    proc.once("exit", (c) => { clearTimeout(timer); reject(new Error(`regionlab exited ${c}: ${stderr}`)); });
  });
  const stop = async () => {
    if (proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGTERM");
    await exited;
  };
  return { proc, ready, stop };
}

/** A headless chromium page at 1280x800; `errors` collects its console errors and uncaught exceptions. */
export async function openBrowser() {
  const args = ["--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"];
  if (process.getuid && process.getuid() === 0) args.push("--no-sandbox");
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM_BIN || "/usr/bin/chromium", args, defaultViewport: { width: 1280, height: 800 },
  });
  const page = await browser.newPage();
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  return { browser, page, errors };
}

export const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
