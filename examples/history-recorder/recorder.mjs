// HistoryRecorder: records every write the service acknowledged, one JSON line each, for
// `regionlab check HISTORY.jsonl`, which then proves that each one is in every region either as
// the current version, superseded by a later version that saw it, or in the conflicts feed.
//
// Use it around your own container calls (it needs no import of @azure/cosmos):
//
//   const rec = new HistoryRecorder("history.jsonl");
//   await rec.upsert(container, { id: "inv-1", customer: "acme", total: 10 }, "acme");
//   await rec.delete(container, "inv-1", "acme");
//   await rec.batch(container, operations, "acme");
//
// A call that fails is not recorded (nothing was acknowledged); one that succeeds is recorded
// before it returns. Record only what the service answered 2xx to: that is the promise checked.
import { appendFileSync } from "node:fs";

export class HistoryRecorder {
  constructor(path) {
    this.path = path;
    this.count = 0;
  }

  record(container, id, partitionKey, etag, op) {
    if (!etag) throw new Error(`no etag for the acknowledged ${op} of ${id}: is this regionlab?`);
    const line = { database: container.database.id, container: container.id, id, partitionKey, etag, op, at: Date.now() };
    appendFileSync(this.path, JSON.stringify(line) + "\n");
    this.count++;
  }

  async create(container, doc, partitionKey, options) {
    const r = await container.items.create(doc, options);
    this.record(container, r.resource.id, partitionKey, r.etag ?? r.resource._etag, "create");
    return r;
  }

  async upsert(container, doc, partitionKey, options) {
    const r = await container.items.upsert(doc, options);
    this.record(container, r.resource.id, partitionKey, r.etag ?? r.resource._etag, "upsert");
    return r;
  }

  async replace(container, id, partitionKey, doc, options) {
    const r = await container.item(id, partitionKey).replace(doc, options);
    this.record(container, id, partitionKey, r.etag ?? r.resource._etag, "replace");
    return r;
  }

  async delete(container, id, partitionKey, options) {
    const r = await container.item(id, partitionKey).delete(options);
    this.record(container, id, partitionKey, r.etag ?? r.headers?.etag, "delete");
    return r;
  }

  // A transactional batch: when it commits, every write operation of it is acknowledged.
  async batch(container, operations, partitionKey, options) {
    const r = await container.items.batch(operations, partitionKey, options);
    if (r.code === 200) {
      r.result.forEach((res, i) => {
        const op = operations[i];
        if (op.operationType === "Read") return;
        const id = op.id ?? op.resourceBody?.id;
        this.record(container, id, partitionKey, res.eTag, `batch:${op.operationType}`);
      });
    }
    return r;
  }
}
