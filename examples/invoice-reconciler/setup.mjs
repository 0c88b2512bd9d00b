// Creates what the reconciler works on (idempotent: run it as often as you like).
//
//   node setup.mjs [--endpoint http://127.0.0.1:8081/] [--key KEY]
//
//   database  billing
//   container invoices    partition key /customer; last writer wins on /_ts, and
//                         "recordLosers": true so every overwritten invoice lands in the
//                         conflicts feed instead of disappearing silently
//   container pricinglog  partition key /customer; the source of truth: one entry per order
//                         ({id: orderId, customer, total, lines}) with the authoritative total
import { connect, DATABASE, INVOICES, isMain, parseArgs, PRICINGLOG } from "./common.mjs";

export const INVOICES_DEFINITION = {
  id: INVOICES,
  partitionKey: { paths: ["/customer"] },
  conflictResolutionPolicy: {
    mode: "LastWriterWins",
    conflictResolutionPath: "/_ts",
    // regionlab extension: keep the losers of last-writer-wins in the conflicts feed.
    recordLosers: true,
  },
};

export const PRICINGLOG_DEFINITION = {
  id: PRICINGLOG,
  partitionKey: { paths: ["/customer"] },
};

/** Creates the database and both containers if missing; resolves with their Container objects. */
export async function setup(client, { log = () => {} } = {}) {
  const { database } = await client.databases.createIfNotExists({ id: DATABASE });
  const { container: invoices } = await database.containers.createIfNotExists(INVOICES_DEFINITION);
  const { container: pricinglog } = await database.containers.createIfNotExists(PRICINGLOG_DEFINITION);
  // A container of the same name made by something else (the README tour makes billing/invoices
  // with /customerId) would make the story write under an undefined partition key and wait
  // forever: say so and stop instead.
  for (const [container, wanted] of [[invoices, INVOICES_DEFINITION], [pricinglog, PRICINGLOG_DEFINITION]]) {
    const { resource } = await container.read();
    const paths = (resource.partitionKey && resource.partitionKey.paths) || [];
    if (JSON.stringify(paths) !== JSON.stringify(wanted.partitionKey.paths)) {
      throw new Error(
        `${DATABASE}/${wanted.id} exists with partition key ${JSON.stringify(paths)}, but this example needs ` +
          `${JSON.stringify(wanted.partitionKey.paths)} (another program made it, perhaps the README tour): ` +
          `delete the database ${DATABASE} (or that container) and run setup again`);
    }
  }
  const { resource } = await invoices.read();
  const policy = resource.conflictResolutionPolicy || {};
  if (policy.mode !== "LastWriterWins" || policy.recordLosers !== true) {
    // Made without recordLosers: the reconciler would never see a conflict.
    throw new Error(
      `${DATABASE}/${INVOICES} exists with conflictResolutionPolicy ${JSON.stringify(policy)}; ` +
        `the reconciler needs {"mode":"LastWriterWins","recordLosers":true} (a policy cannot be changed: ` +
        `delete the container and run setup again)`);
  }
  log(`ready: ${DATABASE}/${INVOICES} ${JSON.stringify(policy)}, ${DATABASE}/${PRICINGLOG}`);
  return { database, invoices, pricinglog };
}

if (await isMain(import.meta.url)) {
  const args = parseArgs();
  const client = connect({ endpoint: args.endpoint || "http://127.0.0.1:8081/", key: args.key });
  try {
    await setup(client, { log: (m) => console.log(m) });
  } catch (e) {
    console.error(`setup: ${e.message}`);
    process.exitCode = 2;
  } finally {
    client.dispose();
  }
}
