// The invoice reconciler: last-writer-wins keeps *a* version of every invoice; this process
// makes sure it keeps the *right* one. Run one instance per region; a fenced lease makes
// exactly one of them the writer at any time.
//
//   node reconciler.mjs --endpoint http://127.0.0.1:8082/ --location "West Europe" [--once]
//        [--owner reconciler-westeurope] [--interval-ms 2000] [--ttl-ms 10000] [--key KEY]
//
// Every pass:
//   1. acquire (or renew) the fenced lease "invoice-reconciler" (owner = this instance). Not the
//      holder -> write nothing this pass (409: another instance holds it; 503: this region cannot
//      reach the lease's home region, so nobody here may decide). A new holder first waits (up to
//      2 s) until its own region's replica of the lease shows its token, i.e. until this region
//      has caught up with the home region as of the grant.
//   2. read the conflicts feed of billing/invoices. With "recordLosers": true every version that
//      last-writer-wins overwrote is there, with the losing version in `content`.
//   3. per conflict: read the current invoice (the winner) and decide which version is right:
//        a. the one whose total matches the pricing log's authoritative total for the order;
//        b. else the one written in the invoice's home region (`homeRegion` vs `writtenIn`);
//        c. else the lower total.
//      If the winner is wrong, replace the invoice with the right version plus
//      `correctionOf: <conflict id>` and `correctedBy: <instance>`, with If-Match on the winner
//      we read and the header `x-regionlab-fence: invoice-reconciler:<token>`, so that a holder
//      who was deposed in the meantime (a GC pause, a partition) is refused with 412 instead of
//      overwriting its successor. Then delete the conflict (fenced too).
// Decisions are logged on stderr; each pass prints one JSON summary line on stdout:
//   {"event":"pass","owner","region","lease":"held"|"held-by-other"|"unavailable"|"catching-up"|"error",
//    "holder","token","handled","corrected","skippedNotHolder","fencedOut","deferred","errors"}
//
// Library use (what tests/sdk/reconciler.test.mjs does):
//   import { createReconciler, reconcileOnce, decide } from "./reconciler.mjs";
//   const r = createReconciler({ client, region: "westeurope", owner: "reconciler-westeurope" });
//   const summary = await r.pass();   // as often as you like; r.release() when done
import { acquire, fenceHeader, get as getLease, release, renew } from "../lease-helper/fenced-lease.mjs";
import {
  cents,
  connect,
  DATABASE,
  INVOICES,
  isMain,
  LEASE_NAME,
  parseArgs,
  PRICINGLOG,
  shortRegion,
  stderrLogger,
  withoutSystemProperties,
} from "./common.mjs";

/** Stop writing this long before the lease expires by our own clock (renewals happen each pass). */
const SAFETY_MARGIN_MS = 1_000;
/** How long a new holder waits for its region to catch up with the home region's grant. */
const CATCH_UP_MS = 2_000;

/**
 * Which version of an invoice is right. Pure; `winner` and `loser` are invoice documents,
 * `winnerRegion`/`loserRegion` the regions that wrote them when the documents do not say so
 * themselves (`writtenIn`), `authoritativeTotal` the pricing log's total (undefined if unknown).
 * Returns {keep: "winner"|"loser", rule, why}.
 */
export function decide({ winner, loser, winnerRegion, loserRegion, authoritativeTotal }) {
  const candidates = [
    { side: "winner", doc: winner, region: winner.writtenIn ?? winnerRegion },
    { side: "loser", doc: loser, region: loser.writtenIn ?? loserRegion },
  ];
  const auth = cents(authoritativeTotal);
  if (auth !== undefined) {
    const match = candidates.filter((c) => cents(c.doc.total) === auth);
    if (match.length === 1) {
      return {
        keep: match[0].side,
        rule: "pricing-log",
        why: `total ${match[0].doc.total} (${match[0].side}, written in ${match[0].region}) matches the pricing log's ${authoritativeTotal}`,
      };
    }
  }
  const home = candidates.filter((c) => c.doc.homeRegion !== undefined && c.region === c.doc.homeRegion);
  if (home.length === 1) {
    return {
      keep: home[0].side,
      rule: "home-region",
      why: `the ${home[0].side} was written in the invoice's home region ${home[0].region}`,
    };
  }
  const [w, l] = candidates.map((c) => cents(c.doc.total));
  if (w !== undefined && l !== undefined && w !== l) {
    const side = l < w ? "loser" : "winner";
    return { keep: side, rule: "lower-total", why: `the ${side} has the lower total (${winner.total} vs ${loser.total})` };
  }
  return { keep: "winner", rule: "no-difference", why: "nothing tells the versions apart: the winner stands" };
}

/** The single partition key value of a conflict's `regionlab.partitionKey` (["acme"] -> "acme"). */
function partitionKeyOf(info, loser) {
  const pk = info.partitionKey;
  if (Array.isArray(pk)) return pk.length === 1 ? pk[0] : pk;
  return pk ?? loser?.customer;
}

const isStaleFence = (e) => e?.code === 412 && /fence|stale/i.test(String(e?.message ?? ""));

/**
 * One reconciler instance. Options:
 *   client        a CosmosClient that prefers this instance's region
 *   region        the short name of that region ("westeurope"), for logs and `correctedIn`
 *   owner         the lease owner, unique per instance (default "reconciler-<region>")
 *   leaseEndpoint where to send lease requests (default: the client's write endpoint)
 *   ttlMs         lease time-to-live (default 10000); renewed every pass
 *   key           account key for the lease requests (default: the emulator key)
 *   leaseName, database   default "invoice-reconciler", "billing"
 *   log           (message) => void, default: stderr
 *   hooks         {beforeWrite({conflict, current, loser, decision, token})}: a seam for demos
 *                 and tests, to simulate a pause (GC, slow disk) between deciding and writing
 */
export function createReconciler({
  client,
  region,
  owner = `reconciler-${region}`,
  leaseEndpoint,
  ttlMs = 10_000,
  key,
  leaseName = LEASE_NAME,
  database = DATABASE,
  log = stderrLogger(owner),
  hooks = {},
}) {
  if (!client) throw new TypeError("createReconciler: client is required");
  if (!region) throw new TypeError("createReconciler: region is required");
  const invoices = client.database(database).container(INVOICES);
  const pricinglog = client.database(database).container(PRICINGLOG);
  const leaseOpts = key ? { key } : {};
  let lease = null; // {token, validUntil (our clock), synced} while we believe we hold it
  let passes = 0;

  const endpoint = async () => leaseEndpoint ?? (await client.getWriteEndpoint());

  /**
   * A new holder starts writing only once this region's replica of the lease shows its token:
   * the home region wrote the grant after everything it had written before (a predecessor's
   * corrections there included), and replication keeps that order, so by then this region has
   * it all and will not redo a correction it has not seen yet. (It also makes the fence check
   * here as fresh as it can be.)
   */
  async function caughtUp(ep, token) {
    const deadline = Date.now() + CATCH_UP_MS;
    for (;;) {
      const g = await getLease(ep, leaseName, leaseOpts);
      if (g.status === 200 && g.lease.token >= token) return true;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** After a 200: holder once caught up (see caughtUp). */
  async function holding(ep) {
    if (!lease.synced) lease.synced = await caughtUp(ep, lease.token);
    if (!lease.synced) {
      log(`holding token ${lease.token}, but this region has not caught up with the grant yet: not writing this pass`);
      return { holder: false, state: "catching-up", token: lease.token };
    }
    return { holder: true, state: "held", token: lease.token };
  }

  /** Acquires or renews the lease: {holder, state, token?, heldBy?, status?}. */
  async function ensureLease() {
    let ep;
    try {
      ep = await endpoint();
      const started = Date.now();
      if (lease) {
        const r = await renew(ep, leaseName, owner, lease.token, { ...leaseOpts, ttlMs });
        if (r.status === 200) {
          lease.validUntil = started + ttlMs - SAFETY_MARGIN_MS;
          return holding(ep);
        }
        if (r.status !== 409) {
          // 503: the home region is out of reach. We may still hold the lease, but cannot
          // confirm it: write nothing; the next pass renews (or finds it expired: 409).
          log(`renew of token ${lease.token} answered ${r.status} ${r.body?.message ?? ""}: not writing this pass`);
          return { holder: false, state: r.status === 503 ? "unavailable" : "error", status: r.status };
        }
        log(`lost the lease (token ${lease.token}): ${r.body?.message ?? "409"}`);
        lease = null;
      }
      const a = await acquire(ep, leaseName, owner, ttlMs, leaseOpts);
      if (a.status === 200) {
        log(`acquired lease ${leaseName} with token ${a.lease.token}`);
        lease = { token: a.lease.token, validUntil: started + ttlMs - SAFETY_MARGIN_MS, synced: false };
        return holding(ep);
      }
      if (a.status === 409) return { holder: false, state: "held-by-other", heldBy: a.body?.owner, status: 409 };
      if (a.status === 503) {
        log(`cannot acquire the lease: ${a.body?.message ?? "503"}`);
        return { holder: false, state: "unavailable", status: 503 };
      }
      log(`acquire answered ${a.status} ${JSON.stringify(a.body)}`);
      return { holder: false, state: "error", status: a.status };
    } catch (e) {
      log(`lease request to ${ep ?? "(no endpoint)"} failed: ${e.message}`);
      return { holder: false, state: "unavailable" };
    }
  }

  /** Handles one conflict while holding `token`: "corrected" | "kept" | "fenced" | "deferred" | "error". */
  async function handleConflict(conflict, token) {
    const info = conflict.regionlab || {};
    const fence = { initialHeaders: fenceHeader(leaseName, token) };
    let loser;
    try {
      loser = conflict.content ? JSON.parse(conflict.content) : undefined;
    } catch {
      loser = undefined;
    }
    const id = info.documentId ?? loser?.id;
    const pk = partitionKeyOf(info, loser);
    if (id === undefined || pk === undefined) {
      log(`conflict ${conflict.id}: cannot tell which invoice it is about; leaving it`);
      return "deferred";
    }
    const tag = `conflict ${conflict.id} (invoice ${id}, customer ${JSON.stringify(pk)})`;

    const dropConflict = async () => {
      try {
        await invoices.conflict(conflict.id).delete(fence);
      } catch (e) {
        if (e.code === 404) return; // already gone (deleted elsewhere and replicated)
        throw e;
      }
    };

    const { resource: current } = await invoices.item(id, pk).read();
    if (!current || !loser || info.loser?.deleted) {
      log(`${tag}: ${!current ? "the invoice is deleted now (a delete stands)" : "no losing content to restore"}; dropping the conflict`);
      await dropConflict();
      return "kept";
    }

    const orderId = current.orderId ?? loser.orderId;
    let authoritativeTotal;
    if (orderId !== undefined) {
      const { resource: entry } = await pricinglog.item(String(orderId), pk).read();
      authoritativeTotal = entry?.total;
    }
    const decision = decide({
      winner: current,
      loser,
      winnerRegion: current._etag === info.winner?._etag ? info.winner?.region : undefined,
      loserRegion: info.loser?.region,
      authoritativeTotal,
    });
    const pricing = authoritativeTotal === undefined ? "no pricing log entry" : `pricing log ${orderId}: ${authoritativeTotal}`;
    log(`${tag}: winner total ${current.total} (${current.writtenIn ?? info.winner?.region}), loser total ${loser.total} ` +
        `(${loser.writtenIn ?? info.loser?.region}), ${pricing} -> keep the ${decision.keep} [${decision.rule}: ${decision.why}]`);

    if (decision.keep === "winner") {
      await dropConflict();
      return "kept";
    }

    const corrected = withoutSystemProperties(loser);
    for (const f of ["correctionOf", "correctedBy", "correctedIn", "correctionRule"]) delete corrected[f];
    Object.assign(corrected, {
      correctionOf: conflict.id,
      correctedBy: owner,
      correctedIn: region,
      correctionRule: decision.rule,
    });
    if (hooks.beforeWrite) await hooks.beforeWrite({ conflict, current, loser, decision, token });
    if (!lease || lease.token !== token || Date.now() >= lease.validUntil) {
      log(`${tag}: the lease may have expired by now; not writing (next pass)`);
      return "deferred";
    }
    try {
      await invoices.item(id, pk).replace(corrected, {
        ...fence,
        accessCondition: { type: "IfMatch", condition: current._etag },
      });
    } catch (e) {
      if (isStaleFence(e)) {
        log(`${tag}: the correction was REFUSED (412): ${e.message.split("\n")[0]}; someone else holds the lease now`);
        return "fenced";
      }
      if (e.code === 412 || e.code === 404) {
        log(`${tag}: the invoice changed while we decided (${e.code}); retrying next pass`);
        return "deferred";
      }
      throw e;
    }
    log(`${tag}: corrected to total ${corrected.total} (fence ${leaseName}:${token})`);
    try {
      await dropConflict();
    } catch (e) {
      if (isStaleFence(e)) return "fenced";
      throw e;
    }
    return "corrected";
  }

  /** One pass; resolves with the summary (never throws for service errors). */
  async function pass() {
    passes += 1;
    const summary = {
      event: "pass",
      pass: passes,
      owner,
      region,
      lease: "error",
      holder: false,
      token: null,
      handled: 0,
      corrected: 0,
      skippedNotHolder: 0,
      fencedOut: 0,
      deferred: 0,
      errors: 0,
    };
    const l = await ensureLease();
    summary.lease = l.state;
    summary.holder = l.holder;
    if (l.token !== undefined) summary.token = l.token;
    if (l.heldBy !== undefined) summary.heldBy = l.heldBy;

    let conflicts;
    try {
      conflicts = (await invoices.conflicts.readAll().fetchAll()).resources;
    } catch (e) {
      log(`cannot read the conflicts feed: ${e.code ?? ""} ${e.message}`);
      summary.errors += 1;
      return summary;
    }
    if (!l.holder) {
      // Reading is harmless; writing is the holder's job alone.
      summary.skippedNotHolder = conflicts.length;
      if (conflicts.length > 0) {
        const why = l.state === "held-by-other" ? `held by ${l.heldBy}` : l.state;
        log(`not the lease holder (${why}): leaving ${conflicts.length} conflict(s) alone`);
      }
      return summary;
    }
    for (const [i, conflict] of conflicts.entries()) {
      if (!lease || Date.now() >= lease.validUntil) {
        log(`lease about to expire: stopping this pass, ${conflicts.length - i} conflict(s) left`);
        summary.deferred += conflicts.length - i;
        break;
      }
      let outcome;
      try {
        outcome = await handleConflict(conflict, l.token);
      } catch (e) {
        log(`conflict ${conflict.id}: ${e.code ?? ""} ${e.message.split("\n")[0]}`);
        outcome = "error";
      }
      if (outcome === "corrected") {
        summary.corrected += 1;
        summary.handled += 1;
      } else if (outcome === "kept") {
        summary.handled += 1;
      } else if (outcome === "deferred") {
        summary.deferred += 1;
      } else if (outcome === "error") {
        summary.errors += 1;
      } else if (outcome === "fenced") {
        // Deposed: a newer token exists. Stop at once; the new holder takes it from here.
        summary.fencedOut += 1;
        summary.deferred += conflicts.length - i - 1;
        lease = null;
        break;
      }
    }
    return summary;
  }

  /** Releases the lease if we believe we hold it (a graceful stop); resolves with the status. */
  async function releaseLease() {
    if (!lease) return null;
    const { token } = lease;
    lease = null;
    try {
      const r = await release(await endpoint(), leaseName, owner, token, leaseOpts);
      log(`released lease ${leaseName} (token ${token}): ${r.status}`);
      return r.status;
    } catch (e) {
      log(`release failed: ${e.message}`);
      return null;
    }
  }

  return {
    owner,
    region,
    pass,
    ensureLease,
    release: releaseLease,
    /** The token we believe we hold (null if none). */
    get token() {
      return lease ? lease.token : null;
    },
  };
}

/** One pass of a fresh instance, then (unless keepLease) release the lease: a cron-style run. */
export async function reconcileOnce({ keepLease = false, ...options }) {
  const r = createReconciler(options);
  try {
    return await r.pass();
  } finally {
    if (!keepLease) await r.release();
  }
}

async function main() {
  const args = parseArgs();
  const location = args.location;
  const endpoint = args.endpoint;
  if (!endpoint || !location) {
    process.stderr.write(
      'usage: node reconciler.mjs --endpoint http://127.0.0.1:8082/ --location "West Europe" [--once]\n' +
        "         [--owner NAME] [--interval-ms 2000] [--ttl-ms 10000] [--key KEY]\n",
    );
    process.exit(2);
  }
  const region = shortRegion(location);
  const owner = args.owner || `reconciler-${region}`;
  const intervalMs = Number(args["interval-ms"] ?? 2000);
  const ttlMs = Number(args["ttl-ms"] ?? 10_000);
  const client = connect({ endpoint, location, key: args.key });
  const r = createReconciler({ client, region, owner, ttlMs, key: args.key || process.env.COSMOS_KEY });
  let stopping = false;
  let wake = () => {};
  for (const sig of ["SIGINT", "SIGTERM"]) {
    process.on(sig, () => {
      stopping = true;
      wake();
    });
  }
  let failed = false;
  try {
    do {
      const summary = await r.pass();
      process.stdout.write(JSON.stringify(summary) + "\n");
      failed = summary.errors > 0;
      if (args.once || stopping) break;
      await new Promise((resolve) => {
        const t = setTimeout(resolve, intervalMs);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    } while (!stopping);
  } finally {
    await r.release();
    client.dispose();
  }
  process.exitCode = args.once && failed ? 1 : 0;
}

if (await isMain(import.meta.url)) await main();
