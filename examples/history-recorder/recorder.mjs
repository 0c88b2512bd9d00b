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
//
// Give each session (a client whose requests carry session tokens: consistencyLevel "Session")
// its own recorder with a `session` name, and record its reads too (`read`): the checker then
// verifies read-your-writes and monotonic reads per session, from the x-regionlab-version header
// of every answer.
import { appendFileSync } from "node:fs";

export class HistoryRecorder {
  constructor(path, { session } = {}) {
    this.path = path;
    this.session = session;
    this.count = 0;
    this.reads = 0;
  }

  line(container, fields) {
    const line = { database: container.database.id, container: container.id, ...fields, at: Date.now() };
    if (this.session) line.session = this.session;
    appendFileSync(this.path, JSON.stringify(line) + "\n");
  }

  record(container, id, partitionKey, etag, op) {
    if (!etag) throw new Error(`no etag for the acknowledged ${op} of ${id}: is this regionlab?`);
    this.line(container, { id, partitionKey, etag, op });
    this.count++;
  }

  // A point read (a 404 is an answer too); recorded with the version the answer reflects.
  async read(container, id, partitionKey, options) {
    const r = await container.item(id, partitionKey).read(options);
    if (r.statusCode === 200 || r.statusCode === 404) {
      this.line(container, {
        op: "read",
        id,
        partitionKey,
        status: r.statusCode,
        etag: r.statusCode === 200 ? r.etag ?? r.resource?._etag : null,
        version: r.headers?.["x-regionlab-version"] ?? "",
      });
      this.reads++;
    }
    return r;
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
