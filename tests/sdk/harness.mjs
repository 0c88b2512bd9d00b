// Test harness for the @azure/cosmos end-to-end suite.
//
// Starts a real `regionlab up` process, waits for its JSON ready line, and hands out
// CosmosClients pointed at it. Also offers a signed raw-HTTP helper for the few checks the
// SDK refuses to send (it validates some ids client-side) and for wire-level assertions.
//
// Env: REGIONLAB_BIN (default ../../build/server/regionlab relative to this directory).

import { spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { CosmosClient } from "@azure/cosmos";

const HERE = path.dirname(fileURLToPath(import.meta.url));

export const EMULATOR_KEY =
  "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

export const BIN = process.env.REGIONLAB_BIN
  ? path.resolve(process.env.REGIONLAB_BIN)
  : path.resolve(HERE, "../../build/server/regionlab");

const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

const live = new Set();
process.on("exit", () => {
  for (const p of live) {
    try {
      p.kill("SIGKILL");
    } catch {
      /* already gone */
    }
  }
});

/** A unique, valid resource id for this run. */
let counter = 0;
export function uid(prefix = "t") {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${randomBytes(3).toString("hex")}`;
}

/** A fresh temporary directory (caller removes it with rmTemp). */
export function makeTempDir(prefix = "regionlab-sdk-") {
  return mkdtempSync(path.join(tmpdir(), prefix));
}
export function rmTemp(dir) {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

function tail(text, n = 4000) {
  return text.length > n ? "..." + text.slice(-n) : text;
}

/**
 * Starts `regionlab up --regions uksouth --port 0 --admin-port 0 (--ephemeral | --data-dir DIR)`.
 * Resolves with {endpoint, admin, ready, proc, stdoutLines, stderr(), stop(), kill9(), exited}.
 */
export async function startServer({ dataDir, regions = "uksouth", extraArgs = [] } = {}) {
  const args = ["up", "--regions", regions, "--port", "0", "--admin-port", "0"];
  if (dataDir) args.push("--data-dir", dataDir);
  else args.push("--ephemeral");
  args.push(...extraArgs);

  let proc;
  try {
    proc = spawn(BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    throw new Error(`cannot spawn ${BIN}: ${e.message}`);
  }
  live.add(proc);

  let stderrText = "";
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (d) => {
    stderrText += d;
    if (stderrText.length > 200_000) stderrText = stderrText.slice(-100_000);
  });

  const stdoutLines = [];
  const exited = new Promise((resolve) => {
    proc.on("exit", (code, signal) => {
      live.delete(proc);
      resolve({ code, signal });
    });
  });
  let exitInfo = null;
  exited.then((info) => (exitInfo = info));

  const ready = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout });
    let settled = false;
    const fail = (why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      rl.close();
      try {
        proc.kill("SIGKILL");
      } catch {
        /* ignore */
      }
      reject(
        new Error(
          `${why}\n  command: ${BIN} ${args.join(" ")}\n  stdout: ${JSON.stringify(stdoutLines)}\n` +
            `  stderr:\n${tail(stderrText)}`,
        ),
      );
    };
    const timer = setTimeout(
      () => fail(`no ready line on stdout within ${READY_TIMEOUT_MS} ms`),
      READY_TIMEOUT_MS,
    );
    proc.on("error", (e) => fail(`spawn error: ${e.message}`));
    proc.on("exit", (code, signal) =>
      fail(`server exited before the ready line (code=${code}, signal=${signal})`),
    );
    rl.on("line", (line) => {
      stdoutLines.push(line);
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        return; // not JSON: recorded in stdoutLines, a test checks stdout is clean
      }
      if (msg && msg.event === "ready" && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve(msg);
      }
    });
  });

  // (the readline interface stays attached: it keeps draining stdout into stdoutLines)

  assert.ok(
    Array.isArray(ready.regions) && ready.regions.length >= 1 && ready.regions[0].endpoint,
    `ready line lacks regions[0].endpoint: ${JSON.stringify(ready)}`,
  );
  const endpoint = ready.regions[0].endpoint;

  async function waitExit(ms) {
    if (exitInfo) return exitInfo;
    let t;
    const timeout = new Promise((r) => (t = setTimeout(() => r(null), ms)));
    const res = await Promise.race([exited, timeout]);
    clearTimeout(t);
    return res;
  }

  return {
    endpoint,
    admin: ready.admin,
    ready,
    proc,
    args,
    stdoutLines,
    exited,
    stderr: () => stderrText,
    /** SIGTERM; resolves with {code, signal}; SIGKILLs after a deadline (then timedOut=true). */
    async stop() {
      if (exitInfo) return exitInfo;
      proc.kill("SIGTERM");
      const res = await waitExit(STOP_TIMEOUT_MS);
      if (res) return res;
      proc.kill("SIGKILL");
      const killed = await exited;
      return { ...killed, timedOut: true };
    },
    /** kill -9 and wait until the process is gone. */
    async kill9() {
      if (exitInfo) return exitInfo;
      proc.kill("SIGKILL");
      return exited;
    },
  };
}

/** A CosmosClient for the given endpoint (emulator key unless told otherwise). */
export function makeClient(endpoint, { key = EMULATOR_KEY, ...options } = {}) {
  return new CosmosClient({
    endpoint,
    key,
    connectionPolicy: { requestTimeout: 15_000 },
    ...options,
  });
}

/**
 * Registers before/after hooks in the current describe(): one server and one client for the
 * whole block. Returns an object whose fields are filled in by before().
 */
export function useServer(opts = {}) {
  const ctx = { server: null, client: null, endpoint: null, clients: [] };
  ctx.newClient = (o) => {
    const c = makeClient(ctx.endpoint, o);
    ctx.clients.push(c);
    return c;
  };
  before(async () => {
    ctx.server = await startServer(opts);
    ctx.endpoint = ctx.server.endpoint;
    ctx.client = ctx.newClient();
  });
  after(async () => {
    for (const c of ctx.clients) {
      try {
        c.dispose();
      } catch {
        /* ignore */
      }
    }
    if (ctx.server) await ctx.server.stop();
  });
  return ctx;
}

function describeResult(r) {
  if (r === undefined || r === null) return String(r);
  const body = r.resource !== undefined ? r.resource : r.resources;
  let s = JSON.stringify(body);
  if (s && s.length > 400) s = s.slice(0, 400) + "...";
  return `status ${r.statusCode ?? r.status} body ${s}`;
}

/**
 * Awaits fn() (or a promise) and asserts it fails with HTTP `code`. Returns the error.
 * The failure message carries what the server actually said.
 */
export async function expectError(fnOrPromise, code, what) {
  let result;
  try {
    result = await (typeof fnOrPromise === "function" ? fnOrPromise() : fnOrPromise);
  } catch (e) {
    assert.equal(
      e.code,
      code,
      `${what}: expected HTTP ${code}, got code=${e.code} substatus=${e.substatus} ` +
        `message=${JSON.stringify(e.message)} body=${JSON.stringify(e.body)}`,
    );
    return e;
  }
  assert.fail(`${what}: expected HTTP ${code}, but it succeeded with ${describeResult(result)}`);
}

/** Asserts the SDK response has the given status code. */
export function expectStatus(response, code, what) {
  assert.equal(
    response.statusCode,
    code,
    `${what}: expected status ${code}, got ${describeResult(response)}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Raw signed HTTP (Cosmos master-key scheme), for checks the SDK will not send.

function typeAndLink(p) {
  const segs = p.replace(/^\/+|\/+$/g, "").split("/").filter((s) => s.length > 0);
  if (segs.length === 0) return { type: "", link: "" };
  if (segs.length % 2 === 1) {
    return { type: segs[segs.length - 1], link: segs.slice(0, -1).join("/") };
  }
  return { type: segs[segs.length - 2], link: segs.join("/") };
}

export function signRequest(method, decodedPath, date, key = EMULATOR_KEY) {
  const { type, link } = typeAndLink(decodedPath);
  const text = `${method.toLowerCase()}\n${type.toLowerCase()}\n${link}\n${date.toLowerCase()}\n\n`;
  const sig = createHmac("sha256", Buffer.from(key, "base64")).update(text, "utf8").digest("base64");
  return encodeURIComponent(`type=master&ver=1.0&sig=${sig}`);
}

/**
 * Sends one request signed like the SDK does. `path` is the decoded resource path
 * ("/dbs/d/colls/c/docs"); segments are percent-encoded on the wire.
 * Resolves with {status, headers (lower-case object), text, json}.
 */
export async function rawRequest(
  endpoint,
  { method = "GET", path: p = "/", body, headers = {}, key = EMULATOR_KEY, sign = true } = {},
) {
  const date = new Date().toUTCString();
  const encodedPath = p
    .split("/")
    .map((s) => encodeURIComponent(s))
    .join("/");
  const h = {
    "x-ms-date": date,
    "x-ms-version": "2020-07-15",
    accept: "application/json",
    ...headers,
  };
  if (sign) h.authorization = signRequest(method, p, date, key);
  let payload;
  if (body !== undefined) {
    payload = typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    if (!Object.keys(h).some((k) => k.toLowerCase() === "content-type")) {
      h["content-type"] = "application/json";
    }
  }
  const url = endpoint.replace(/\/+$/, "") + encodedPath;
  const res = await fetch(url, { method, headers: h, body: payload });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: Object.fromEntries(res.headers.entries()), text, json };
}

/** Formats a raw response for assertion messages. */
export function describeRaw(method, p, res) {
  return `${method} ${p} -> ${res.status} ${JSON.stringify(res.headers)} ${tail(res.text, 500)}`;
}

/** Polls fn until it returns a truthy value or the deadline passes. */
export async function pollUntil(fn, { timeoutMs = 10_000, intervalMs = 50, what = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${String(last)}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Drains a QueryIterator with fetchNext; returns {pages: [resources[]], items}. */
export async function drainPages(iterator, maxPages = 1000) {
  const pages = [];
  const items = [];
  while (iterator.hasMoreResults()) {
    const res = await iterator.fetchNext();
    pages.push(res.resources);
    items.push(...res.resources);
    assert.ok(pages.length <= maxPages, `more than ${maxPages} pages: is x-ms-continuation ever cleared?`);
  }
  return { pages, items };
}

// ---------------------------------------------------------------------------------------------
// Multi-region helpers (multiregion.test.mjs, serve.test.mjs).

/**
 * Retries fn() until it returns something other than undefined/null/false, or the deadline
 * passes. fn may throw (e.g. an assert) to say "not yet": the last error's message is what
 * the timeout reports, so put the interesting state into the assert message.
 */
export async function waitFor(what, fn, { timeoutMs = 15_000, intervalMs = 25 } = {}) {
  const started = Date.now();
  let last = "(fn never completed)";
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== null && v !== false) return v;
      last = `returned ${JSON.stringify(v)}`;
    } catch (e) {
      last = e && e.message ? e.message : String(e);
    }
    if (Date.now() - started > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${tail(last, 3000)}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** GET <admin>/<path> and parse JSON (throws with the body on a non-2xx answer). */
export async function adminGet(admin, p) {
  const url = admin.replace(/\/+$/, "") + "/" + p.replace(/^\/+/, "");
  const res = await fetch(url);
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${url} -> ${res.status} ${tail(text, 500)}`);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort() {
  const net = await import("node:net");
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function portIsFree(port) {
  const net = await import("node:net");
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/**
 * A data port P (free, below 64535) whose replication port P+1000 is free too: the `serve`
 * convention that the account document advertises a peer at http://HOST:(RPORT-1000)/.
 */
export async function freePortPair(offset = 1000) {
  for (let i = 0; i < 200; i++) {
    const p = await freePort();
    if (p + offset > 65535) continue;
    if (await portIsFree(p + offset)) return { port: p, replicationPort: p + offset };
  }
  throw new Error("no free port pair (P, P+1000) found");
}

/**
 * Spawns `regionlab <args...>` and waits for its ready line (retrying the spawn for a while if
 * the binary is being rebuilt). Resolves with {ready, admin, regions (name -> endpoint), proc,
 * args, stderr(), stop(), kill9(), exited}.
 */
export async function startRegionlab(args, { label = args[0], readyTimeoutMs = READY_TIMEOUT_MS } = {}) {
  const { existsSync } = await import("node:fs");
  for (let waited = 0; !existsSync(BIN) && waited < 30_000; waited += 250) {
    await new Promise((r) => setTimeout(r, 250));
  }
  let proc;
  for (let attempt = 0; ; attempt++) {
    try {
      proc = spawn(BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
      await new Promise((resolve, reject) => {
        proc.once("spawn", resolve);
        proc.once("error", reject);
      });
      break;
    } catch (e) {
      // ENOENT / ETXTBSY while someone relinks the binary: retry for a few seconds
      if (attempt >= 40) throw new Error(`cannot spawn ${BIN}: ${e.message}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  live.add(proc);

  let stderrText = "";
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (d) => {
    stderrText += d;
    if (stderrText.length > 200_000) stderrText = stderrText.slice(-100_000);
  });
  const stdoutLines = [];
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    proc.on("exit", (code, signal) => {
      live.delete(proc);
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });

  const ready = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout });
    let settled = false;
    const fail = (why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try {
        proc.kill("SIGKILL");
      } catch {
        /* ignore */
      }
      reject(
        new Error(
          `${label}: ${why}\n  command: ${BIN} ${args.join(" ")}\n  stdout: ${JSON.stringify(stdoutLines)}\n` +
            `  stderr:\n${tail(stderrText)}`,
        ),
      );
    };
    const timer = setTimeout(() => fail(`no ready line within ${readyTimeoutMs} ms`), readyTimeoutMs);
    proc.on("exit", (code, signal) => fail(`exited before the ready line (code=${code}, signal=${signal})`));
    rl.on("line", (line) => {
      stdoutLines.push(line);
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      if (msg && msg.event === "ready" && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve(msg);
      }
    });
  });

  const regions = {};
  for (const r of ready.regions || []) regions[r.name] = r.endpoint;

  async function waitExit(ms) {
    if (exitInfo) return exitInfo;
    let t;
    const res = await Promise.race([exited, new Promise((r) => (t = setTimeout(() => r(null), ms)))]);
    clearTimeout(t);
    return res;
  }
  return {
    ready,
    admin: ready.admin,
    regions,
    proc,
    args,
    stdoutLines,
    exited,
    stderr: () => stderrText,
    async stop() {
      if (exitInfo) return exitInfo;
      proc.kill("SIGTERM");
      const res = await waitExit(STOP_TIMEOUT_MS);
      if (res) return res;
      proc.kill("SIGKILL");
      return { ...(await exited), timedOut: true };
    },
    async kill9() {
      if (exitInfo) return exitInfo;
      proc.kill("SIGKILL");
      return exited;
    },
  };
}

/** `regionlab up --regions <list> --port 0 --admin-port 0 (--ephemeral | --data-dir DIR)`. */
export function startUp({ regions = "uksouth,westeurope", dataDir, extraArgs = [] } = {}) {
  const args = ["up", "--regions", regions, "--port", "0", "--admin-port", "0"];
  if (dataDir) args.push("--data-dir", dataDir);
  else args.push("--ephemeral");
  return startRegionlab([...args, ...extraArgs], { label: `up ${regions}` });
}

/**
 * `regionlab serve --region NAME --port P --replication-port R --peer N=HOST:PORT ...
 *  --admin-port 0 (--ephemeral | --data-dir DIR) [--key K] [--peer-endpoint N=URL ...]`.
 * peers: {name: "127.0.0.1:RPORT"}; peerEndpoints: {name: "http://..."}.
 */
export function startServe({
  region,
  port,
  replicationPort,
  peers = {},
  peerEndpoints = {},
  key,
  dataDir,
  extraArgs = [],
}) {
  const args = ["serve", "--region", region, "--port", String(port), "--replication-port", String(replicationPort)];
  for (const [n, addr] of Object.entries(peers)) args.push("--peer", `${n}=${addr}`);
  for (const [n, url] of Object.entries(peerEndpoints)) args.push("--peer-endpoint", `${n}=${url}`);
  args.push("--admin-port", "0");
  if (dataDir) args.push("--data-dir", dataDir);
  else args.push("--ephemeral");
  if (key) args.push("--key", key);
  return startRegionlab([...args, ...extraArgs], { label: `serve ${region}` });
}

/** The `containers` entry of GET /digest for each region: {regionName: [{database, container, count, hash}]}. */
export async function digestByRegion(admin) {
  const d = await adminGet(admin, "/digest");
  const out = {};
  for (const r of d.regions || []) out[r.name] = r.containers;
  return out;
}

/** Waits until every link in GET /links is connected, caught up (ackedLsn == ownLsn) and idle. */
export async function waitLinksIdle(admin, { timeoutMs = 15_000, expectLinks } = {}) {
  return waitFor(
    "every replication link connected, ackedLsn == ownLsn, queue 0",
    async () => {
      const { links } = await adminGet(admin, "/links");
      if (expectLinks !== undefined) assert.equal(links.length, expectLinks, `links: ${JSON.stringify(links)}`);
      for (const l of links) {
        // Links from a region served by another process are listed from the
        // receiving side only (no ownLsn/ackedLsn here): connected is all we know.
        const idle = l.ownLsn === undefined ? l.connected === true
          : l.connected === true && l.ackedLsn === l.ownLsn && l.queue === 0;
        assert.ok(idle, `link ${l.from}->${l.to} not idle: ${JSON.stringify(l)}`);
      }
      return links;
    },
    { timeoutMs },
  );
}

// ---------------------------------------------------------------------------------------------
// Fault injection helpers (chaos.test.mjs, cli.test.mjs).

/**
 * Sends METHOD <admin>/<path> with an optional JSON body. Resolves with {status, json, text}
 * whatever the status (use adminOk to insist on 2xx).
 */
export async function adminRequest(admin, method, p, body) {
  const url = admin.replace(/\/+$/, "") + "/" + p.replace(/^\/+/, "");
  const init = { method };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers = { "content-type": "application/json" };
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

/** adminRequest that throws (with the server's answer) unless the status is 2xx; resolves with the JSON. */
export async function adminOk(admin, method, p, body) {
  const r = await adminRequest(admin, method, p, body);
  if (r.status < 200 || r.status > 299) {
    throw new Error(`${method} ${p} ${body === undefined ? "" : JSON.stringify(body)} -> ${r.status} ${tail(r.text, 500)}`);
  }
  return r.json;
}

/** The GET /links entry of the directed link from -> to. */
export async function linkInfo(admin, from, to) {
  const { links } = await adminGet(admin, "/links");
  const l = links.find((x) => x.from === from && x.to === to);
  assert.ok(l, `no link ${from}->${to} in ${JSON.stringify(links)}`);
  return l;
}
