// A soak: writers in every region do creates, upserts, replaces, deletes, batches and session
// reads on a small set of ids (shared by the regions, so that they conflict, unless `shared` is
// false), recording every acknowledged write and every read, while partitions, regions offline,
// clock skews and kill -9 restarts come and go (only partitions when `chaosAll` is false); then
// everything is healed and `regionlab check` says whether every acknowledged write is accounted
// for and every session's guarantees held. Used by scripts/soak.sh and by the test suite
// (tests/sdk/check.test.mjs).
import { HistoryRecorder } from "./recorder.mjs";

// clients: {regionName: CosmosClient preferring that region}; admin: management API URL.
export async function runSoak({ clients, admin, databaseId, seconds, out, seed = 1, log = () => {}, batches = true, shared = true, chaosAll = true }) {
  const names0 = Object.keys(clients);
  // One session per region's client (its reads and writes), checked for session guarantees.
  const recorders = Object.fromEntries(names0.map((n) => [n, new HistoryRecorder(out, { session: n })]));
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
  let adminRetries = 0;
  // A management call; a connection the server closed under it is tried once more (seen once in
  // a 10-minute soak, not explained yet: docs/history-checker.md). Every call here is idempotent
  // in effect, so a repeat that answers "already so" (a non-2xx) counts as done.
  const post = async (path, body) => {
    const send = () =>
      fetch(new URL(path, admin), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body ?? {}) });
    try {
      return await send();
    } catch (e) {
      adminRetries++;
      log(`soak: POST ${path} failed (${e?.cause?.code ?? e.message}); retrying once`);
      await new Promise((r) => setTimeout(r, 200));
      const res = await send();
      return res.ok ? res : { ok: true, status: res.status, text: async () => "" };
    }
  };
  const deadline = Date.now() + seconds * 1000;
  const short = names.map((n) => n.toLowerCase().replace(/ /g, ""));
  // The faults, in turn: a partition, a region offline (503), a clock skew, a kill -9 and its
  // restart; each undone by the step after it, and everything undone at the end.
  const steps = [
    () => post("/partition", { groups: short.map((n) => [n]) }),
    () => post("/heal"),
    (r) => post(`/regions/${r}/offline`, { mode: "503" }),
    (r) => post(`/regions/${r}/online`),
    (r) => post(`/regions/${r}/clock`, { skewMs: Math.round((random() - 0.5) * 4000) }),
    (r) => post(`/regions/${r}/clock`, { skewMs: 0 }),
    (r) => post(`/regions/${r}/kill`),
    (r) => post(`/regions/${r}/restart`),
  ];
  let faults = 0;
  let target = short[0];
  const chaos = (async () => {
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 700 + random() * 800)); // the soak's own cadence
      const step = faults % (chaosAll ? steps.length : 2);
      if (step % 2 === 0) target = short[Math.floor(random() * short.length)];
      const res = await steps[step](target);
      if (!res.ok) throw new Error(`soak: fault step ${step} on ${target}: HTTP ${res.status} ${await res.text()}`);
      faults++;
    }
    for (const r of short) {
      await post(`/regions/${r}/restart`).catch(() => {});
      await post(`/regions/${r}/online`);
      await post(`/regions/${r}/clock`, { skewMs: 0 });
    }
    await post("/heal");
  })();
  const stats = { acked: 0, refused: 0, failed: 0 };
  const writer = async (region) => {
    const recorder = recorders[region];
    const c = clients[region].database(databaseId).container("soak");
    while (Date.now() < deadline) {
      const pk = `p${Math.floor(random() * 3)}`;
      // shared: both regions write the same ids (conflicts); otherwise each its own.
      const id = `${shared ? "" : region.replace(/ /g, "") + "-"}d${Math.floor(random() * 8)}`;
      const doc = { id, pk, v: random(), by: region };
      const roll = random();
      try {
        if (roll < 0.1) {
          await recorder.read(c, id, pk);
          continue;
        }
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
        // Not acknowledged, so not recorded: a precondition (404, 409, 412, 449), or a region
        // offline, killed or restarting (503, 403, connection errors).
        if ([404, 409, 412, 449].includes(e.code)) stats.refused++;
        else stats.failed++;
      }
    }
  };
  await Promise.all([...names.map(writer), chaos]);
  const recorded = Object.values(recorders).reduce((n, r) => n + r.count, 0);
  const reads = Object.values(recorders).reduce((n, r) => n + r.reads, 0);
  log(`soak: ${recorded} acknowledged writes and ${reads} reads recorded (${stats.refused} refused by preconditions), ${faults} fault changes`);
  return { recorded, reads, ...stats, faults, adminRetries };
}
