// fenced-lease.mjs: a tiny client of regionlab's fenced leases (docs/leases.md), for Node 18+.
// No dependencies: node's fetch and crypto, signing exactly as @azure/cosmos signs a request
// (master-key HMAC over verb, resource type "leases", link "leases/{name}", x-ms-date).
//
//   import { acquire, renew, release, get, fenceHeader } from "./fenced-lease.mjs";
//   const a = await acquire("http://127.0.0.1:8082/", "orders-writer", "worker-7", 10_000);
//   if (a.ok) {
//     const { token } = a.lease;
//     // Every write made under the lease carries the fence; a region that knows a newer
//     // token refuses it with 412 instead of letting a deposed holder overwrite its successor.
//     await container.items.upsert(doc, { initialHeaders: fenceHeader("orders-writer", token) });
//     await renew(endpoint, "orders-writer", "worker-7", token);     // before expiresAtMs
//     await release(endpoint, "orders-writer", "worker-7", token);
//   } else if (a.status === 409) {
//     console.log("held by", a.body.owner);
//   } // 503: the region cannot reach the lease's home region: retry later or elsewhere
//
// Every function resolves with {status, ok, body, headers, lease} and never throws for an HTTP
// status (only for network errors and bad arguments):
//   status  HTTP status; ok: 2xx
//   body    the parsed JSON body (undefined for 204)
//   lease   {name, owner, token, expiresAtMs, ttlMs[, held]} when the answer is a lease (200)
//   headers response headers (lower-case names)
// A 429 (too many requests of that region are already waiting for the home region) is retried
// after x-ms-retry-after-ms, for up to `retryFor` ms (default 5000); pass {retryFor: 0} to see it.
//
// Options (last argument of every function): {key, retryFor, timeoutMs, fetch}
//   key        the account key (default: the emulator's well-known key)
//   timeoutMs  per attempt (default 10000)

import { createHmac } from "node:crypto";

export const EMULATOR_KEY =
  "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";
export const FENCE_HEADER = "x-regionlab-fence";

/**
 * The fencing header of a write made under lease `name` with `token`, as an object that can be
 * passed as the SDK's `initialHeaders` (or spread into fetch headers).
 */
export function fenceHeader(name, token) {
  checkName(name);
  if (!Number.isSafeInteger(token) || token < 1) throw new TypeError(`fence token must be a positive integer, got ${token}`);
  return { [FENCE_HEADER]: `${name}:${token}` };
}

/** The value of the authorization header for a lease request (exported for tests). */
export function signLeaseRequest(method, name, date, key = EMULATOR_KEY) {
  const text = `${method.toLowerCase()}\nleases\nleases/${name}\n${date.toLowerCase()}\n\n`;
  const sig = createHmac("sha256", Buffer.from(key, "base64")).update(text, "utf8").digest("base64");
  return encodeURIComponent(`type=master&ver=1.0&sig=${sig}`);
}

/** POST .../acquire {"owner","ttlMs"}: 200 lease | 409 {owner} | 503 | 429. */
export function acquire(endpoint, name, owner, ttlMs, options = {}) {
  const body = { owner };
  if (ttlMs !== undefined) body.ttlMs = ttlMs;
  return call(endpoint, "POST", name, "acquire", body, options);
}

/** POST .../renew {"owner","token"[,"ttlMs"]}: 200 lease | 409 (stale token or expired). */
export function renew(endpoint, name, owner, token, options = {}) {
  const body = { owner, token };
  if (options.ttlMs !== undefined) body.ttlMs = options.ttlMs;
  return call(endpoint, "POST", name, "renew", body, options);
}

/** POST .../release {"owner","token"}: 204 | 409 (not the current token). */
export function release(endpoint, name, owner, token, options = {}) {
  return call(endpoint, "POST", name, "release", { owner, token }, options);
}

/**
 * GET the lease as the region at `endpoint` knows it: 200 {name, owner (null when released),
 * token, expiresAtMs, ttlMs, held} | 404 never acquired. Answered from that region's replica:
 * only the home region (header x-regionlab-lease-source: home) is authoritative.
 */
export function get(endpoint, name, options = {}) {
  return call(endpoint, "GET", name, "", undefined, options);
}

function checkName(name) {
  if (typeof name !== "string" || name.length === 0 || /[\/\\?#]/.test(name)) {
    throw new TypeError(`invalid lease name ${JSON.stringify(name)}: non-empty, without / \\ ? #`);
  }
}

async function call(endpoint, method, name, op, body, options) {
  checkName(name);
  const { key = EMULATOR_KEY, retryFor = 5000, timeoutMs = 10_000, fetch: doFetch = globalThis.fetch } = options;
  const url =
    endpoint.replace(/\/+$/, "") + "/_regionlab/leases/" + encodeURIComponent(name) + (op ? "/" + op : "");
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const started = Date.now();
  for (;;) {
    const date = new Date().toUTCString();
    const headers = {
      "x-ms-date": date,
      "x-ms-version": "2020-07-15",
      accept: "application/json",
      authorization: signLeaseRequest(method, name, date, key),
    };
    if (payload !== undefined) headers["content-type"] = "application/json";
    const res = await doFetch(url, { method, headers, body: payload, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let parsed;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    const out = {
      status: res.status,
      ok: res.status >= 200 && res.status < 300,
      body: parsed,
      headers: Object.fromEntries(res.headers.entries()),
      lease: res.status === 200 && parsed && typeof parsed === "object" ? parsed : undefined,
    };
    if (res.status !== 429 || Date.now() - started >= retryFor) return out;
    const wait = Number(out.headers["x-ms-retry-after-ms"]) || 100;
    await new Promise((r) => setTimeout(r, Math.min(wait, 1000)));
  }
}
