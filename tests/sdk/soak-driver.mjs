// The soak behind scripts/soak.sh: starts `regionlab up` (two regions), runs
// examples/history-recorder/soak.mjs for SOAK_SECONDS with both regions writing the same ids
// (SOAK_SHARED=0: each its own), then `regionlab check`. Exit status: the checker's.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { BIN, makeClient, makeTempDir, startUp, uid, waitLinksIdle } from "./harness.mjs";
import { runSoak } from "../../examples/history-recorder/soak.mjs";

const seconds = Number(process.env.SOAK_SECONDS ?? 60);
const shared = process.env.SOAK_SHARED !== "0";
const dir = process.env.SOAK_DIR ?? makeTempDir("regionlab-soak-");
const out = join(dir, "history.jsonl");
const server = await startUp({ regions: "uksouth,westeurope" });
let status = 1;
try {
  await waitLinksIdle(server.admin, { expectLinks: 2 });
  const clients = {};
  for (const region of ["UK South", "West Europe"]) {
    clients[region] = makeClient(server.regions[region], { consistencyLevel: "Session", connectionPolicy: { preferredLocations: [region] } });
  }
  let soak;
  try {
    soak = await runSoak({ clients, admin: server.admin, databaseId: uid("soak"), seconds, out, shared, log: console.error });
  } catch (e) {
    const exited = await Promise.race([server.exited, new Promise((r) => setTimeout(() => r(null), 1000))]);
    console.error(`soak failed: ${e?.cause?.message ?? e.message}; server exit: ${JSON.stringify(exited)}\n` +
                  `server stderr (tail):\n${server.stderr().slice(-3000)}`);
    throw e;
  }
  for (const c of Object.values(clients)) c.dispose();
  console.error(`soak: history in ${out}; ${JSON.stringify(soak)}`);
  const r = spawnSync(BIN, ["check", out, "--admin", server.admin, "--wait", "60s"], { stdio: "inherit" });
  status = r.status ?? 1;
} finally {
  await server.stop();
}
process.exit(status);
