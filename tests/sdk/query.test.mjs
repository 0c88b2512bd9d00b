// Query semantics the SDK leaves to the server (it passes pages through; see /tmp/sdk-facts.md a).
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { drainPages, expectError, pollUntil, rawRequest, uid, useServer } from "./harness.mjs";

describe("queries", { timeout: 120_000 }, () => {
  const ctx = useServer();
  let c;
  const docs = [
    { id: "q1", pk: "a", n: 3, name: "carol", tags: ["x"], addr: { city: "Leeds" } },
    { id: "q2", pk: "a", n: 1, name: "alice", tags: ["x", "y"], addr: { city: "York" } },
    { id: "q3", pk: "b", n: 2, name: "bob", tags: [], addr: { city: "Leeds" } },
    { id: "q4", pk: "b", n: 5, name: "dave", addr: { city: "Hull" } },
    { id: "q5", pk: "c", n: 4, name: "erin", tags: ["y"] },
  ];

  before(async () => {
    const { database } = await ctx.client.databases.create({ id: uid("qdb") });
    ({ container: c } = await database.containers.create({ id: uid("q"), partitionKey: { paths: ["/pk"] } }));
    for (const d of docs) await c.items.create(d);
  });

  const ids = (rs) => rs.map((d) => d.id);

  it("WHERE with a parameter", async () => {
    const { resources } = await c.items
      .query({ query: "SELECT * FROM c WHERE c.n > @min", parameters: [{ name: "@min", value: 2 }] })
      .fetchAll();
    assert.deepEqual(ids(resources).sort(), ["q1", "q4", "q5"]);
  });

  it("WHERE on a nested property and string equality", async () => {
    const { resources } = await c.items.query("SELECT * FROM c WHERE c.addr.city = 'Leeds'").fetchAll();
    assert.deepEqual(ids(resources).sort(), ["q1", "q3"]);
  });

  it("WHERE combined with the partitionKey option", async () => {
    const { resources } = await c.items
      .query("SELECT * FROM c WHERE c.n >= 2", { partitionKey: "b" })
      .fetchAll();
    assert.deepEqual(ids(resources).sort(), ["q3", "q4"]);
  });

  it("ORDER BY ascending and descending across partitions", async () => {
    const asc = await c.items.query("SELECT * FROM c ORDER BY c.n").fetchAll();
    assert.deepEqual(ids(asc.resources), ["q2", "q3", "q1", "q5", "q4"]);
    const desc = await c.items.query("SELECT * FROM c ORDER BY c.name DESC").fetchAll();
    assert.deepEqual(ids(desc.resources), ["q5", "q4", "q1", "q3", "q2"]);
  });

  it("ORDER BY is preserved across pages", async () => {
    const { items } = await drainPages(c.items.query("SELECT * FROM c ORDER BY c.n", { maxItemCount: 2 }));
    assert.deepEqual(ids(items), ["q2", "q3", "q1", "q5", "q4"]);
  });

  it("TOP", async () => {
    const { resources } = await c.items.query("SELECT TOP 2 * FROM c ORDER BY c.n DESC").fetchAll();
    assert.deepEqual(ids(resources), ["q4", "q5"]);
  });

  it("OFFSET LIMIT", async () => {
    const { resources } = await c.items.query("SELECT * FROM c ORDER BY c.n OFFSET 1 LIMIT 2").fetchAll();
    assert.deepEqual(ids(resources), ["q3", "q1"]);
  });

  it("projection and VALUE", async () => {
    const proj = await c.items.query("SELECT c.id, c.n FROM c WHERE c.id = 'q1'").fetchAll();
    assert.deepEqual(proj.resources, [{ id: "q1", n: 3 }]);
    const val = await c.items.query("SELECT VALUE c.name FROM c WHERE c.pk = 'a' ORDER BY c.name").fetchAll();
    assert.deepEqual(val.resources, ["alice", "carol"]);
  });

  it("VALUE COUNT(1) over the whole container and within a partition", async () => {
    const all = await c.items.query("SELECT VALUE COUNT(1) FROM c").fetchAll();
    assert.deepEqual(all.resources, [5]);
    const inA = await c.items.query("SELECT VALUE COUNT(1) FROM c", { partitionKey: "a" }).fetchAll();
    assert.deepEqual(inA.resources, [2]);
  });

  it("IS_DEFINED, ARRAY_CONTAINS and STARTSWITH", async () => {
    const nd = await c.items.query("SELECT * FROM c WHERE NOT IS_DEFINED(c.tags)").fetchAll();
    assert.deepEqual(ids(nd.resources), ["q4"]);
    const ac = await c.items.query("SELECT * FROM c WHERE ARRAY_CONTAINS(c.tags, 'y')").fetchAll();
    assert.deepEqual(ids(ac.resources).sort(), ["q2", "q5"]);
    const sw = await c.items.query("SELECT * FROM c WHERE STARTSWITH(c.name, 'ca')").fetchAll();
    assert.deepEqual(ids(sw.resources), ["q1"]);
  });

  it("a syntax error is 400 and reaches the caller", async () => {
    await expectError(() => c.items.query("SELEKT * FROM c").fetchAll(), 400, "query with a syntax error");
  });
});

// The whole dialect through the SDK: each construct, Cosmos DB's undefined and
// mixed-type semantics, and paging with fetchAll, fetchNext and the async
// iterator (the SDK passes the server's pages through untouched).
describe("query dialect", { timeout: 120_000 }, () => {
  const ctx = useServer();
  let db;
  let c;
  const people = [
    { id: "p1", pk: "a", n: 3, name: "carol", tags: ["x"], addr: { city: "Leeds" },
      items: [{ sku: "s1", qty: 2 }, { sku: "s2", qty: 1 }], "odd key": 1 },
    { id: "p2", pk: "a", n: 1, name: "alice", tags: ["x", "y"], addr: { city: "York" }, items: [] },
    { id: "p3", pk: "b", n: 2, name: "bob", tags: [], addr: { city: "Leeds" }, items: [{ sku: "s1", qty: 5 }] },
    { id: "p4", pk: "b", n: 5, name: "dave", addr: { city: "Hull" }, when: "2024-01-31T00:00:00.0000000Z" },
    { id: "p5", pk: "c", n: "4", name: "erin", tags: ["y"], note: "50% off" },
    { id: "p6", pk: "c", n: null, name: "Frank" },
    { id: "p7", pk: "c", name: "gina", flag: true },
  ];

  before(async () => {
    ({ database: db } = await ctx.client.databases.create({ id: uid("qd") }));
    ({ container: c } = await db.containers.create({ id: uid("people"), partitionKey: { paths: ["/pk"] } }));
    for (const p of people) await c.items.create(p);
  });

  const all = async (query, options) => (await c.items.query(query, options).fetchAll()).resources;
  const values = (query, options) => all(query, options);
  const ids = (rs) => rs.map((d) => d.id);

  it("SELECT * returns the stored documents with their system properties", async () => {
    const rs = await all("SELECT * FROM c WHERE c.id = 'p2'");
    assert.equal(rs.length, 1);
    assert.deepEqual(rs[0].tags, ["x", "y"]);
    for (const k of ["_rid", "_self", "_etag", "_ts"]) assert.ok(k in rs[0], `missing ${k}`);
  });

  it("projections: paths, brackets, aliases, constructors, generated names", async () => {
    assert.deepEqual(await all("SELECT c.id, c.addr.city AS town, c['odd key'] FROM c WHERE c.id = 'p1'"), [
      { id: "p1", town: "Leeds", "odd key": 1 },
    ]);
    assert.deepEqual(await all("SELECT c.id, c.n * 10, UPPER(c.name) FROM c WHERE c.id = 'p2'"), [
      { id: "p2", $1: 10, $2: "ALICE" },
    ]);
    assert.deepEqual(await values("SELECT VALUE {who: c.name, first: c.tags[0], both: [c.pk, c.n]} FROM c WHERE c.pk = 'a'"), [
      { who: "carol", first: "x", both: ["a", 3] },
      { who: "alice", first: "x", both: ["a", 1] },
    ]);
    // An undefined property is left out; SELECT VALUE of undefined yields no row.
    assert.deepEqual(await all("SELECT c.id, c.tags FROM c WHERE c.pk = 'c'"), [
      { id: "p5", tags: ["y"] }, { id: "p6" }, { id: "p7" },
    ]);
    assert.deepEqual(await values("SELECT VALUE c.tags FROM c WHERE c.pk = 'c'"), [["y"]]);
  });

  it("DISTINCT and TOP", async () => {
    assert.deepEqual(await values("SELECT DISTINCT VALUE c.addr.city FROM c"), ["Leeds", "York", "Hull"]);
    assert.deepEqual(await all("SELECT DISTINCT c.pk FROM c"), [{ pk: "a" }, { pk: "b" }, { pk: "c" }]);
    assert.deepEqual(ids(await all("SELECT TOP 2 * FROM c")), ["p1", "p2"]);
    assert.deepEqual(
      await values({ query: "SELECT TOP @k VALUE c.id FROM c ORDER BY c.name DESC", parameters: [{ name: "@k", value: 2 }] }),
      ["p7", "p5"],
    );
  });

  it("FROM x IN c.items and JOIN over arrays", async () => {
    assert.deepEqual(await all("SELECT * FROM i IN c.items"), [
      { sku: "s1", qty: 2 }, { sku: "s2", qty: 1 }, { sku: "s1", qty: 5 },
    ]);
    assert.deepEqual(await all("SELECT c.id, t FROM c JOIN t IN c.tags"), [
      { id: "p1", t: "x" }, { id: "p2", t: "x" }, { id: "p2", t: "y" }, { id: "p5", t: "y" },
    ]);
    assert.deepEqual(await values("SELECT VALUE i.sku FROM c JOIN i IN c.items WHERE i.qty >= 2 ORDER BY i.qty DESC"), [
      "s1", "s1",
    ]);
    assert.deepEqual(await all("SELECT c.id, t, i.sku FROM c JOIN t IN c.tags JOIN i IN c.items"), [
      { id: "p1", t: "x", sku: "s1" }, { id: "p1", t: "x", sku: "s2" },
    ]);
  });

  it("WHERE operators: IN, BETWEEN, LIKE with ESCAPE, ternary, ??, ||, arithmetic, NOT/OR", async () => {
    const q = async (where) => ids(await all(`SELECT c.id FROM c WHERE ${where}`));
    assert.deepEqual(await q("c.pk IN ('a', 'c') AND c.n IN (1, '4')"), ["p2", "p5"]);
    assert.deepEqual(await q("c.n NOT IN (1, 2, 3)"), ["p4"]);
    assert.deepEqual(await q("c.n BETWEEN 2 AND 4"), ["p1", "p3"]);
    assert.deepEqual(await q("c.name LIKE '_a%'"), ["p1", "p4"]);
    assert.deepEqual(await q("c.note LIKE '50!% %' ESCAPE '!'"), ["p5"]);
    assert.deepEqual(await q("c.name NOT LIKE '%a%'"), ["p3", "p5"]);
    assert.deepEqual(await q("(c.n > 2 ? 'big' : 'small') = 'big'"), ["p1", "p4"]);
    assert.deepEqual(await q("(c.n ?? 99) = 99"), ["p7"]);
    assert.deepEqual(await q("c.pk || '-' || c.name = 'b-bob'"), []); // || binds loosest
    assert.deepEqual(await q("(c.pk || '-' || c.name) = 'b-bob'"), ["p3"]);
    assert.deepEqual(await q("c.n * 2 + 1 = 7 OR c.n % 2 = 0"), ["p1", "p3"]);
    assert.deepEqual(await q("NOT c.n = 3 AND c.pk = 'a'"), ["p2"]);
    assert.deepEqual(await q("c.flag OR c.n = 5"), ["p4", "p7"]);
  });

  it("undefined and comparisons across types filter rows out", async () => {
    const q = async (where) => ids(await all(`SELECT c.id FROM c WHERE ${where}`));
    assert.deepEqual(await q("c.n > 2"), ["p1", "p4"]); // "4" is a string
    assert.deepEqual(await q("NOT (c.n > 2)"), ["p2", "p3"]); // null, "4", undefined: neither
    assert.deepEqual(await q("c.n = '4'"), ["p5"]);
    assert.deepEqual(await q("c.n = null"), ["p6"]);
    assert.deepEqual(await q("c.missing = c.missing"), []);
    assert.deepEqual(await q("IS_DEFINED(c.n) AND NOT IS_NUMBER(c.n)"), ["p5", "p6"]);
  });

  it("ORDER BY sorts across types: undefined < null < boolean < number < string", async () => {
    assert.deepEqual(ids(await all("SELECT c.id FROM c ORDER BY c.n")), ["p7", "p6", "p2", "p3", "p1", "p4", "p5"]);
    assert.deepEqual(ids(await all("SELECT c.id FROM c ORDER BY c.n DESC")), ["p5", "p4", "p1", "p3", "p2", "p6", "p7"]);
    assert.deepEqual(ids(await all("SELECT c.id FROM c ORDER BY c.addr.city ASC, c.n DESC")), [
      "p5", "p6", "p7", "p4", "p1", "p3", "p2",
    ]);
    assert.deepEqual(await values("SELECT VALUE c.id FROM c ORDER BY c.id OFFSET 2 LIMIT 3"), ["p3", "p4", "p5"]);
    assert.deepEqual(await values("SELECT VALUE c.id FROM c OFFSET 5 LIMIT 10"), ["p6", "p7"]);
  });

  it("GROUP BY with COUNT, SUM, AVG, MIN, MAX, and aggregates without GROUP BY", async () => {
    assert.deepEqual(await all("SELECT c.pk, COUNT(1) AS n, SUM(c.n) AS total, AVG(c.n) AS mean, MIN(c.name) AS first, " +
      "MAX(c.n) AS highest FROM c GROUP BY c.pk"), [
      { pk: "a", n: 2, total: 4, mean: 2, first: "alice", highest: 3 },
      { pk: "b", n: 2, total: 7, mean: 3.5, first: "bob", highest: 5 },
      { pk: "c", n: 3, first: "Frank", highest: "4" }, // SUM/AVG over "4" and null: undefined
    ]);
    assert.deepEqual(await values("SELECT VALUE COUNT(1) FROM c"), [7]);
    assert.deepEqual(await values("SELECT VALUE COUNT(c.tags) FROM c"), [4]);
    assert.deepEqual(await values("SELECT VALUE SUM(c.n) FROM c WHERE IS_NUMBER(c.n)"), [11]);
    assert.deepEqual(await values("SELECT VALUE AVG(c.n) FROM c WHERE IS_NUMBER(c.n)"), [2.75]);
    assert.deepEqual(await values("SELECT VALUE MIN(c.n) FROM c"), [null]);
    assert.deepEqual(await values("SELECT VALUE MAX(c.n) FROM c"), ["4"]);
    assert.deepEqual(await values("SELECT VALUE MAX(c.n) FROM c WHERE false"), []);
    assert.deepEqual(await all("SELECT COUNT(1) AS n, MAX(c.n) AS m FROM c WHERE c.pk = 'zzz'"), [{ n: 0 }]);
    assert.deepEqual(await all("SELECT t AS tag, COUNT(1) AS uses FROM c JOIN t IN c.tags GROUP BY t"), [
      { tag: "x", uses: 2 }, { tag: "y", uses: 2 },
    ]);
    assert.deepEqual(await values("SELECT VALUE COUNT(1) FROM c", { partitionKey: "c" }), [3]);
  });

  it("parameters of every JSON type", async () => {
    const q = (query, parameters) => values({ query, parameters });
    assert.deepEqual(await q("SELECT VALUE c.id FROM c WHERE c.name = @name", [{ name: "@name", value: "bob" }]), ["p3"]);
    assert.deepEqual(await q("SELECT VALUE c.id FROM c WHERE c.flag = @f", [{ name: "@f", value: true }]), ["p7"]);
    assert.deepEqual(await q("SELECT VALUE c.id FROM c WHERE c.n = @n", [{ name: "@n", value: null }]), ["p6"]);
    assert.deepEqual(await q("SELECT VALUE c.id FROM c WHERE ARRAY_CONTAINS(@ids, c.id)", [{ name: "@ids", value: ["p2", "p6"] }]), ["p2", "p6"]);
    assert.deepEqual(await q("SELECT VALUE c.id FROM c WHERE c.addr = @a", [{ name: "@a", value: { city: "Hull" } }]), ["p4"]);
    assert.deepEqual(await q("SELECT VALUE c.id FROM c WHERE c.pk = @pk AND c.n > @min", [
      { name: "@pk", value: "b" }, { name: "@min", value: 2 },
    ]), ["p4"]);
  });

  it("built-in functions: types, strings, arrays, math, dates", async () => {
    const [r] = await values(`SELECT VALUE {
        defined: IS_DEFINED(c.tags), isnum: IS_NUMBER(c.n), str: IS_STRING(c.name), arr: IS_ARRAY(c.tags), obj: IS_OBJECT(c.addr),
        nul: IS_NULL(c.n), bool: IS_BOOL(c.flag),
        contains: CONTAINS(c.name, 'AR', true), sw: STARTSWITH(c.name, 'ca'), ew: ENDSWITH(c.name, 'ol'),
        lower: LOWER('AbC'), upper: UPPER(c.name), len: LENGTH(c.name), sub: SUBSTRING(c.name, 1, 3),
        cat: CONCAT(c.pk, '/', c.id), idx: INDEX_OF(c.name, 'r'), rep: REPLACE(c.name, 'r', 'R'),
        trim: TRIM('  t  '), lt: LTRIM('  t'), rt: RTRIM('t  '), left: LEFT(c.name, 2), right: RIGHT(c.name, 2),
        ts: ToString(c.n), num: StringToNumber('12.5'),
        ac: ARRAY_CONTAINS(c.items, {sku: 's2'}, true), alen: ARRAY_LENGTH(c.items), slice: ARRAY_SLICE([1,2,3,4], -2, 1),
        aconcat: ARRAY_CONCAT(c.tags, ['z']),
        abs: ABS(-2), ceil: CEILING(1.2), floor: FLOOR(1.8), round: ROUND(2.5), trunc: TRUNC(-2.7), pow: POWER(2, 10), sqrt: SQRT(81)
      } FROM c WHERE c.id = 'p1'`);
    assert.deepEqual(r, {
      defined: true, isnum: true, str: true, arr: true, obj: true, nul: false, bool: false,
      contains: true, sw: true, ew: true, lower: "abc", upper: "CAROL", len: 5, sub: "aro", cat: "a/p1", idx: 2,
      rep: "caRol", trim: "t", lt: "t", rt: "t", left: "ca", right: "ol", ts: "3", num: 12.5,
      ac: true, alen: 2, slice: [3], aconcat: ["x", "z"],
      abs: 2, ceil: 2, floor: 1, round: 3, trunc: -2, pow: 1024, sqrt: 9,
    });
    const [d] = await values(`SELECT VALUE {
        add: DateTimeAdd('mm', 1, c.when), diff: DateTimeDiff('dd', c.when, '2024-03-01T00:00:00.0000000Z'),
        nowIsString: IS_STRING(GetCurrentDateTime()), tsIsNumber: GetCurrentTimestamp() > 1600000000000
      } FROM c WHERE c.id = 'p4'`);
    assert.deepEqual(d, { add: "2024-02-29T00:00:00.0000000Z", diff: 30, nowIsString: true, tsIsNumber: true });
    const before = Date.now() - 60_000;
    const [now] = await values("SELECT VALUE GetCurrentTimestamp()");
    assert.ok(now >= before && now <= Date.now() + 60_000, `GetCurrentTimestamp ${now} is not near the clock`);
  });

  it("EXISTS, scalar subqueries and ARRAY(...)", async () => {
    assert.deepEqual(await values("SELECT VALUE c.id FROM c WHERE EXISTS(SELECT VALUE t FROM t IN c.tags WHERE t = 'y')"), [
      "p2", "p5",
    ]);
    assert.deepEqual(await all("SELECT c.id, (SELECT VALUE SUM(i.qty) FROM i IN c.items) AS qty FROM c WHERE IS_DEFINED(c.items)"), [
      { id: "p1", qty: 3 }, { id: "p2", qty: 0 }, { id: "p3", qty: 5 },
    ]);
    assert.deepEqual(await values("SELECT VALUE ARRAY(SELECT VALUE i.sku FROM i IN c.items ORDER BY i.qty) FROM c WHERE c.id = 'p1'"), [
      ["s2", "s1"],
    ]);
    assert.deepEqual(await values("SELECT VALUE c.id FROM c WHERE (SELECT VALUE COUNT(1) FROM t IN c.tags) = 2"), ["p2"]);
  });

  it("keywords are case-insensitive", async () => {
    assert.deepEqual(await values("select value c.id from c where c.pk = 'b' order by c.id desc"), ["p4", "p3"]);
  });

  it("paging: fetchNext, the async iterator and fetchAll agree for every kind of query", async () => {
    const queries = [
      "SELECT * FROM c",
      "SELECT c.id, t FROM c JOIN t IN c.tags",
      "SELECT * FROM c ORDER BY c.n DESC",
      "SELECT VALUE c.id FROM c ORDER BY c.pk, c.name",
      "SELECT c.pk, COUNT(1) AS n FROM c GROUP BY c.pk",
      "SELECT DISTINCT VALUE c.addr.city FROM c",
      "SELECT TOP 5 VALUE c.id FROM c ORDER BY c.id",
      "SELECT VALUE c.id FROM c ORDER BY c.id OFFSET 1 LIMIT 4",
    ];
    for (const q of queries) {
      const whole = await all(q, { maxItemCount: -1 });
      const { pages, items } = await drainPages(c.items.query(q, { maxItemCount: 2 }));
      assert.deepEqual(items, whole, `fetchNext pages of 2: ${q}`);
      assert.equal(pages.length, Math.max(1, Math.ceil(whole.length / 2)), `page count: ${q}`);
      assert.ok(pages.every((p) => p.length <= 2), `page sizes: ${q}`);
      const viaIterator = [];
      for await (const page of c.items.query(q, { maxItemCount: 3 }).getAsyncIterator()) viaIterator.push(...page.resources);
      assert.deepEqual(viaIterator, whole, `async iterator: ${q}`);
      const { resources } = await c.items.query(q, { maxItemCount: 1 }).fetchAll();
      assert.deepEqual(resources, whole, `fetchAll with pages of 1: ${q}`);
    }
  });

  it("the default page is 100 documents and a continuation appears only when more exist", async () => {
    const { container: big } = await db.containers.create({ id: uid("big"), partitionKey: { paths: ["/pk"] } });
    await Promise.all(Array.from({ length: 130 }, (_, i) => big.items.create({ id: `d${String(i).padStart(3, "0")}`, pk: `p${i % 4}`, i })));
    const it1 = big.items.query("SELECT VALUE c.i FROM c ORDER BY c.i");
    const first = await it1.fetchNext();
    assert.equal(first.resources.length, 100);
    assert.ok(first.continuationToken, "a continuation after the first 100");
    const second = await it1.fetchNext();
    assert.equal(second.resources.length, 30);
    assert.equal(second.continuationToken, undefined);
    assert.deepEqual([...first.resources, ...second.resources], Array.from({ length: 130 }, (_, i) => i));
    const exact = await big.items.query("SELECT * FROM c", { maxItemCount: 130 }).fetchNext();
    assert.equal(exact.resources.length, 130);
    assert.equal(exact.continuationToken, undefined, "no continuation when nothing is left");
    const single = await big.items.query("SELECT VALUE c.i FROM c WHERE c.pk = 'p1' ORDER BY c.i DESC", { maxItemCount: 10 }).fetchAll();
    assert.equal(single.resources.length, 33);
    assert.equal(single.resources[0], 129);
  });

  it("single-partition queries: the partitionKey option and a WHERE on the key", async () => {
    assert.deepEqual(ids(await all("SELECT * FROM c ORDER BY c.name", { partitionKey: "c" })), ["p6", "p5", "p7"]);
    assert.deepEqual(ids(await all("SELECT * FROM c WHERE c.pk = 'c' ORDER BY c.name")), ["p6", "p5", "p7"]);
    assert.deepEqual(ids(await all("SELECT * FROM c WHERE c.pk = 'a'", { partitionKey: "b" })), []);
  });

  it("forceQueryPlan: the SDK's pipelined path works too", async () => {
    const { resources } = await c.items.query("SELECT VALUE c.id FROM c ORDER BY c.id DESC", { forceQueryPlan: true }).fetchAll();
    assert.deepEqual(resources, ["p7", "p6", "p5", "p4", "p3", "p2", "p1"]);
  });

  it("errors are 400 with what and where, and no additionalErrorInfo", async () => {
    const e1 = await expectError(() => c.items.query("SELECT * FROM c WHERE c.n = = 1").fetchAll(), 400, "syntax error");
    assert.match(e1.message, /line 1, column 29/);
    const e2 = await expectError(() => c.items.query("SELECT * FROM c WHERE d.n = 1").fetchAll(), 400, "unknown alias");
    assert.match(e2.message, /identifier 'd' could not be resolved/);
    const e3 = await expectError(() => c.items.query("SELECT * FROM c WHERE FOO(c.n)").fetchAll(), 400, "unknown function");
    assert.match(e3.message, /FOO/);
    const e4 = await expectError(() => c.items.query("SELECT * FROM c WHERE c.n = @x").fetchAll(), 400, "missing parameter");
    assert.match(e4.message, /@x/);
    for (const e of [e1, e2, e3, e4]) assert.equal(e.body?.additionalErrorInfo, undefined);
    await expectError(
      () => c.items.query("SELECT * FROM c", { continuationToken: "bm90IGEgdG9rZW4=", maxItemCount: 1 }).fetchNext(),
      400, "a forged continuation",
    );
  });

  it("databases.query and containers.query", async () => {
    const { resources: dbs } = await ctx.client.databases
      .query({ query: "SELECT * FROM root r WHERE r.id = @id", parameters: [{ name: "@id", value: db.id }] })
      .fetchAll();
    assert.deepEqual(dbs.map((d) => d.id), [db.id]);
    const { resources: colls } = await db.containers.query("SELECT VALUE r.id FROM root r WHERE STARTSWITH(r.id, 'people')").fetchAll();
    assert.deepEqual(colls, [c.id]);
    const { resources: counted } = await db.containers.query("SELECT VALUE COUNT(1) FROM r").fetchAll();
    assert.deepEqual(counted, [2]);
  });

  it("conditional patch evaluates FROM c WHERE against the current version", async () => {
    const item = c.item("p3", "b");
    const ok = await item.patch({ condition: "FROM c WHERE c.n = 2 AND ARRAY_LENGTH(c.items) = 1", operations: [{ op: "incr", path: "/n", value: 1 }] });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.resource.n, 3);
    await expectError(
      () => item.patch({ condition: "from c where c.n = 2", operations: [{ op: "incr", path: "/n", value: 1 }] }),
      412, "a false condition",
    );
    await expectError(
      () => item.patch({ condition: "FROM c WHERE c.n = = 2", operations: [{ op: "set", path: "/x", value: 1 }] }),
      400, "a malformed condition",
    );
    const back = await item.patch({ condition: "FROM c WHERE c.n = 3", operations: [{ op: "incr", path: "/n", value: -1 }] });
    assert.equal(back.resource.n, 2);
  });
});

describe("query continuations across regions", { timeout: 120_000 }, () => {
  const ctx = useServer({ regions: "uksouth,westeurope" });

  it("a continuation issued by one region continues the same query on another", async () => {
    const endpoints = ctx.server.ready.regions.map((r) => r.endpoint);
    assert.equal(endpoints.length, 2);
    const dbId = uid("xr");
    const collId = uid("c");
    const docs = Array.from({ length: 9 }, (_, i) => ({ id: `r${i}`, pk: `k${i % 3}`, n: (i * 7) % 5, tags: ["t", `u${i % 2}`] }));
    // Written in the first region; replication brings the same documents,
    // under the same storage keys, to the second.
    const { database } = await ctx.client.databases.create({ id: dbId });
    const { container } = await database.containers.create({ id: collId, partitionKey: { paths: ["/pk"] } });
    for (const d of docs) await container.items.create(d);
    const path = `/dbs/${dbId}/colls/${collId}/docs`;
    const page = (endpoint, query, continuation) =>
      rawRequest(endpoint, {
        method: "POST",
        path,
        body: { query, parameters: [] },
        headers: {
          "content-type": "application/query+json",
          "x-ms-documentdb-isquery": "true",
          "x-ms-max-item-count": "2",
          ...(continuation ? { "x-ms-continuation": continuation } : {}),
        },
      });
    await pollUntil(
      async () => {
        const r = await page(endpoints[1], "SELECT VALUE COUNT(1) FROM c");
        return r.status === 200 && r.json.Documents[0] === docs.length;
      },
      { timeoutMs: 15_000, what: "the documents to reach the second region" },
    );
    for (const query of [
      "SELECT VALUE c.id FROM c",
      "SELECT VALUE c.id FROM c ORDER BY c.n, c.id DESC",
      "SELECT c.id, t FROM c JOIN t IN c.tags",
      "SELECT c.pk, COUNT(1) AS n FROM c GROUP BY c.pk",
    ]) {
      const whole = [];
      let token;
      do {
        const r = await page(endpoints[0], query, token);
        assert.equal(r.status, 200, r.text);
        whole.push(...r.json.Documents);
        token = r.headers["x-ms-continuation"];
      } while (token);
      // Alternate regions page by page: the result is the same.
      const mixed = [];
      let i = 0;
      token = undefined;
      do {
        const r = await page(endpoints[i++ % 2], query, token);
        assert.equal(r.status, 200, r.text);
        mixed.push(...r.json.Documents);
        token = r.headers["x-ms-continuation"];
      } while (token);
      assert.deepEqual(mixed, whole, query);
      assert.ok(i > 1, `${query} took more than one page`);
    }
  });
});
