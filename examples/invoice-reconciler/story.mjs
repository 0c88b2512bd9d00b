// Plays the invoice story against a running `regionlab up` (run setup.mjs first):
//
//   node story.mjs [--admin http://127.0.0.1:8090/] [--invoice inv-1001] [--key KEY]
//
// 1. the pricing log records order-1001 of customer acme at 1284.50 (the truth);
// 2. the regions are cut apart (POST /partition on the management API);
// 3. the invoice is written in the first region (uksouth, its home) with 1284.50 and, 240 ms
//    later, in the second (westeurope) with 1284.49;
// 4. POST /heal: the two versions meet, last writer wins on _ts keeps the later one,
//    1284.49, in every region; the overwritten 1284.50 lands in the conflicts feed.
// It prints what each region serves and the conflict, then you run the reconciler.
import { connect, DATABASE, INVOICES, isMain, parseArgs, PRICINGLOG, REGION_HEADER } from "./common.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function admin(adminUrl, method, path, body) {
  const res = await fetch(adminUrl.replace(/\/+$/, "") + path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} -> ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Polls `fn` until it returns a truthy value; throws after `timeoutMs`. */
async function until(what, fn, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Every replication link connected and caught up (nothing in flight). */
async function linksIdle(adminUrl) {
  const { links } = await admin(adminUrl, "GET", "/links");
  return links.every((l) => l.connected && l.ackedLsn === l.ownLsn && l.queue === 0);
}

/** The invoice as written in `region`. */
export function invoice({ id = "inv-1001", customer = "acme", orderId = "order-1001", total, writtenIn, homeRegion }) {
  return { id, customer, orderId, total, currency: "EUR", homeRegion, writtenIn };
}

/**
 * Plays the story. `regions` are two entries of GET /regions ({name, displayName, endpoint}),
 * the first being the invoice's home region. Resolves with {winner, conflicts}.
 */
export async function playStory({ adminUrl, regions, key, invoiceId = "inv-1001", log = console.log }) {
  const [home, away] = regions;
  const homeClient = connect({ endpoint: home.endpoint, location: home.displayName, key });
  const awayClient = connect({ endpoint: away.endpoint, location: away.displayName, key });
  try {
    const db = (c) => c.database(DATABASE);
    const homeInvoices = db(homeClient).container(INVOICES);
    const awayInvoices = db(awayClient).container(INVOICES);
    const orderId = `order-${invoiceId.replace(/^inv-/, "")}`;
    await db(homeClient).container(PRICINGLOG).items.upsert({
      id: orderId,
      customer: "acme",
      total: 1284.5,
      lines: [
        { sku: "CONSULTING-DAY", qty: 1, unitPrice: 1070.42 },
        { sku: "VAT-20", qty: 1, unitPrice: 214.08 },
      ],
    });
    log(`pricing log: ${orderId} of acme is 1284.50 (written in ${home.name})`);
    // Let the pricing entry and the containers reach every region before cutting them apart.
    await until(
      "the replication links to be idle (is a fault still in force? `curl -XPOST <admin>/heal`)",
      () => linksIdle(adminUrl),
    );
    await awayInvoices.read();

    await admin(adminUrl, "POST", "/partition", { groups: [[home.name], [away.name]] });
    log(`partition: ${home.name} | ${away.name}`);
    try {
      const common = { id: invoiceId, orderId, homeRegion: home.name };
      const a = await homeInvoices.items.upsert(invoice({ ...common, total: 1284.5, writtenIn: home.name }));
      log(`${a.headers[REGION_HEADER]}: invoice ${invoiceId} written with total 1284.50`);
      await sleep(240); // the story: the second write comes 240 ms later
      const b = await awayInvoices.items.upsert(invoice({ ...common, total: 1284.49, writtenIn: away.name }));
      log(`${b.headers[REGION_HEADER]}: invoice ${invoiceId} written with total 1284.49, 240 ms later`);
    } finally {
      await admin(adminUrl, "POST", "/heal");
      log("heal");
    }

    const winner = await until("both regions to serve the same invoice", async () => {
      if (!(await linksIdle(adminUrl))) return undefined;
      const x = (await homeInvoices.item(invoiceId, "acme").read()).resource;
      const y = (await awayInvoices.item(invoiceId, "acme").read()).resource;
      return x && y && x._etag === y._etag ? x : undefined;
    });
    log(`last writer wins kept total ${winner.total} (written in ${winner.writtenIn}) in every region`);
    const conflicts = await until("the overwritten invoice in the conflicts feed", async () => {
      const f = (await homeInvoices.conflicts.readAll().fetchAll()).resources;
      const mine = f.filter((c) => c.regionlab?.documentId === invoiceId);
      return mine.length > 0 ? mine : undefined;
    });
    for (const c of conflicts) {
      log(`conflicts feed: ${c.id}: lost ${JSON.parse(c.content).total} (${c.regionlab.loser.region}) ` +
          `to ${c.regionlab.winner.region} [${c.regionlab.reason}]`);
    }
    return { winner, conflicts };
  } finally {
    homeClient.dispose();
    awayClient.dispose();
  }
}

async function main() {
  const args = parseArgs();
  const adminUrl = args.admin || "http://127.0.0.1:8090/";
  const { regions } = await admin(adminUrl, "GET", "/regions");
  if (!regions || regions.length < 2) throw new Error(`need two regions, GET /regions said ${JSON.stringify(regions)}`);
  await playStory({ adminUrl, regions, key: args.key, invoiceId: args.invoice || "inv-1001" });
  console.log("now run the reconciler (README.md), e.g.:");
  for (const r of regions.slice(0, 2)) {
    console.log(`  node reconciler.mjs --endpoint ${r.endpoint} --location "${r.displayName}" --once`);
  }
}

if (await isMain(import.meta.url)) {
  await main().catch((e) => {
    process.stderr.write(`story.mjs: ${e.message}\n`);
    process.exitCode = 1;
  });
}
