// A soak: writers in every region do creates, upserts, replaces, deletes and batches on a small
// set of ids (shared by the regions, so that they conflict, unless `shared` is false), recording every acknowledged write, while the links are
// partitioned and healed and lose frames; then everything is healed. `regionlab check` then says
// whether every acknowledged write is accounted for. Used by scripts/soak.sh and by the test
// suite (tests/sdk/check.test.mjs, for a few seconds).
import { HistoryRecorder } from "./recorder.mjs";

// clients: {regionName: CosmosClient preferring that region}; admin: management API URL.
export async function runSoak({ clients, admin, databaseId, seconds, out, seed = 1, log = () => {}, batches = true, shared = true }) {
  const recorder = new HistoryRecorder(out);
  const names = Object.keys(clients);
  const first = clients[names[0]];
  const { database } = await first.databases.createIfNotExists({ id: databaseId });
  await database.containers.createIfNotExists({
    id: "soak",
    partitionKey: { paths: ["/pk"] },
    conflictResolutionPolicy: { mode: "LastWriterWins", conflictResolutionPath: "/_ts", recordLosers: true },
  });
  let rng = seed >>> 0 || 1;
  const random = () => ((rng = (rng * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const post = (path, body) =>
    fetch(new URL(path, admin), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body ?? {}) });
  const deadline = Date.now() + seconds * 1000;
  let faults = 0;
  const chaos = (async () => {
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 700 + random() * 800)); // the soak's own cadence
      faults++;
      if (faults % 2 === 1) await post("/partition", { groups: names.map((n) => [n.toLowerCase().replace(/ /g, "")]) });
      else await post("/heal");
    }
    await post("/heal");
  })();
  const stats = { acked: 0, refused: 0 };
  const writer = async (region) => {
    const c = clients[region].database(databaseId).container("soak");
    while (Date.now() < deadline) {
      const pk = `p${Math.floor(random() * 3)}`;
      // shared: both regions write the same ids (conflicts); otherwise each its own.
      const id = `${shared ? "" : region.replace(/ /g, "") + "-"}d${Math.floor(random() * 8)}`;
      const doc = { id, pk, v: random(), by: region };
      const roll = random();
      try {
        if (roll < 0.35) await recorder.upsert(c, doc, pk);
        else if (roll < 0.55) await recorder.create(c, { ...doc, id: `${id}-${Math.floor(random() * 1e6)}` }, pk);
        else if (roll < 0.75) await recorder.replace(c, id, pk, doc);
        else if (roll < 0.9) await recorder.delete(c, id, pk);
        else if (batches) {
          const prefix = shared ? "" : region.replace(/ /g, "") + "-";
          const ops = [0, 1, 2].map((k) => ({ operationType: "Upsert", resourceBody: { id: `${prefix}b${k}`, pk, v: random(), by: region } }));
          await recorder.batch(c, ops, pk);
        }
        stats.acked++;
      } catch (e) {
        if (![404, 409, 412, 449].includes(e.code)) throw e;
        stats.refused++;
      }
    }
  };
  await Promise.all([...names.map(writer), chaos]);
  log(`soak: ${recorder.count} acknowledged writes recorded (${stats.refused} refused by preconditions), ${faults} fault changes`);
  return { recorded: recorder.count, ...stats, faults };
}
