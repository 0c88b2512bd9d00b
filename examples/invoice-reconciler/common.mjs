// Shared by setup.mjs, story.mjs and reconciler.mjs: names, the client, tiny helpers.
import { CosmosClient } from "@azure/cosmos";

export const DATABASE = "billing";
export const INVOICES = "invoices"; // partition key /customer, LWW on /_ts with recordLosers
export const PRICINGLOG = "pricinglog"; // the source of truth: one entry per order, partition key /customer
export const LEASE_NAME = "invoice-reconciler";

/** The well-known emulator key, which `regionlab up` uses unless started with --key. */
export const EMULATOR_KEY =
  "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

/** The response header in which regionlab names the region that served a request. */
export const REGION_HEADER = "x-ms-regionlab-region";

/**
 * A client that prefers one region, as an application deployed in that region has: reads and
 * writes go to `location` ("West Europe") as long as it is up.
 */
export function connect({ endpoint, location, key = process.env.COSMOS_KEY || EMULATOR_KEY }) {
  return new CosmosClient({
    endpoint,
    key,
    connectionPolicy: {
      requestTimeout: 15_000,
      enableEndpointDiscovery: true,
      ...(location ? { preferredLocations: [location] } : {}),
    },
  });
}

/** "West Europe" -> "westeurope": Azure's short region name (what regionlab's records use). */
export function shortRegion(location) {
  return String(location).toLowerCase().replace(/\s+/g, "");
}

/** Money compared in cents, never as floats: 1284.5 and 1284.50 are the same total. */
export function cents(total) {
  return typeof total === "number" && Number.isFinite(total) ? Math.round(total * 100) : undefined;
}

const SYSTEM_PROPERTIES = ["_rid", "_self", "_etag", "_attachments", "_ts", "_lsn"];

/** The application's fields of a document (without the system properties the store adds). */
export function withoutSystemProperties(doc) {
  const out = { ...doc };
  for (const p of SYSTEM_PROPERTIES) delete out[p];
  return out;
}

/**
 * Parses `--name value` / `--flag` command-line arguments into an object
 * ({"interval-ms": "2000", once: true}); unknown arguments are the caller's business.
 */
export function parseArgs(argv = process.argv.slice(2)) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${JSON.stringify(a)}`);
    const eq = a.indexOf("=");
    if (eq > 0) {
      out[a.slice(2, eq)] = a.slice(eq + 1);
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) {
      out[a.slice(2)] = argv[++i];
    } else {
      out[a.slice(2)] = true;
    }
  }
  return out;
}

/** True when `importMetaUrl` is the script node was started with (`node setup.mjs`). */
export async function isMain(importMetaUrl) {
  if (!process.argv[1]) return false;
  const { realpathSync } = await import("node:fs");
  const { pathToFileURL } = await import("node:url");
  try {
    return pathToFileURL(realpathSync(process.argv[1])).href === importMetaUrl;
  } catch {
    return false;
  }
}

/** A log line on stderr: `[owner] message`. */
export function stderrLogger(prefix) {
  return (msg) => process.stderr.write(`${new Date().toISOString()} [${prefix}] ${msg}\n`);
}
