// The application of the drill, run once per region, as a team deploys it: its Cosmos client
// prefers its own region, and its /health/deep really writes to Cosmos.
//
//   node app.mjs --endpoint http://127.0.0.1:8081/ --location "UK South" [--port 0] [--key K]
//
// Prints one JSON line when it listens: {"event":"ready","url":"http://127.0.0.1:P/","region":"uksouth"}.
//
// Routes:
//   GET|HEAD /health/deep   upserts a heartbeat document; 200 only when the write succeeded AND was
//                           served by this instance's own region. The SDK fails writes over to
//                           another region by itself, so a health check that only asks "did the
//                           write succeed?" stays green while the region is down — and Front Door
//                           never moves the traffic. (Try --lenient-health to see that happen.)
//   POST /orders            {"customer","total"[,"id"]} -> upsert; 200 {"id","app","servedBy"}
//   PUT  /orders/{id}       the same with that id (the drill's "hot" document, written from both regions)
import http from "node:http";
import { randomUUID } from "node:crypto";
import { CosmosClient } from "@azure/cosmos";

export const DATABASE = "drill";
export const CONTAINER = "orders"; // partition key /customer
export const EMULATOR_KEY =
  "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";
const REGION_HEADER = "x-ms-regionlab-region"; // which region served a request

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${JSON.stringify(a)}`);
    const name = a.slice(2);
    if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) out[name] = argv[++i];
    else out[name] = true;
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
if (!args.endpoint || !args.location) {
  console.error('usage: node app.mjs --endpoint URL --location "UK South" [--port 0] [--key K] [--lenient-health]');
  process.exit(2);
}
const ownRegion = String(args.location).toLowerCase().replace(/\s+/g, "");
const client = new CosmosClient({
  endpoint: args.endpoint,
  key: args.key || process.env.COSMOS_KEY || EMULATOR_KEY,
  connectionPolicy: { preferredLocations: [args.location], requestTimeout: 5_000 },
});
const { database } = await client.databases.createIfNotExists({ id: DATABASE });
const { container } = await database.containers.createIfNotExists({
  id: CONTAINER,
  partitionKey: { paths: ["/customer"] },
});

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req) {
  let text = "";
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : {};
}

async function healthDeep() {
  const t0 = Date.now();
  try {
    const r = await container.items.upsert({ id: `health-${ownRegion}`, customer: "_health", at: t0 });
    const servedBy = r.headers[REGION_HEADER];
    if (servedBy !== ownRegion && !args["lenient-health"]) {
      return [503, { status: "degraded", region: ownRegion, servedBy, ms: Date.now() - t0 }];
    }
    return [200, { status: "ok", region: ownRegion, servedBy, ms: Date.now() - t0 }];
  } catch (e) {
    return [503, { status: "down", region: ownRegion, error: String(e.code ?? e.message), ms: Date.now() - t0 }];
  }
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, "http://app");
    if (url.pathname === "/health/deep" && (req.method === "GET" || req.method === "HEAD")) {
      const [status, body] = await healthDeep();
      return send(res, status, body);
    }
    const m = url.pathname.match(/^\/orders(?:\/([^/]+))?$/);
    if (m && (req.method === "POST" || (req.method === "PUT" && m[1]))) {
      const body = await readJson(req);
      const doc = { ...body, id: m[1] ?? body.id ?? randomUUID(), customer: body.customer ?? "acme", app: ownRegion };
      const r = await container.items.upsert(doc);
      return send(res, 200, { id: doc.id, app: ownRegion, servedBy: r.headers[REGION_HEADER] });
    }
    send(res, 404, { code: "NotFound", message: `${req.method} ${url.pathname}` });
  } catch (e) {
    send(res, e.code >= 400 && e.code < 600 ? e.code : 500, { code: "Error", message: String(e.message) });
  }
});
server.keepAliveTimeout = 60_000;
server.listen(Number(args.port ?? 0), "127.0.0.1", () => {
  const { port } = server.address();
  console.log(JSON.stringify({ event: "ready", url: `http://127.0.0.1:${port}/`, region: ownRegion }));
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2_000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
