// HTTPS (`regionlab up --tls`): the real SDK over TLS trusting only the CA that regionlab
// exports (no NODE_TLS_REJECT_UNAUTHORIZED=0), replication over mutual TLS, the admin API and
// the CLI over HTTPS, a client that does not trust the CA refused, plain HTTP refused cleanly,
// and the CA kept across restarts so a user trusts it once.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import https from "node:https";
import http from "node:http";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import {
  BIN,
  freePortPair,
  makeClient,
  makeTempDir,
  rmTemp,
  startServe,
  startUp,
  uid,
  waitFor,
} from "./harness.mjs";

/** GET over https trusting `ca` (a PEM string); resolves {status, body}. */
function httpsGet(url, ca, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.on("error", reject);
  });
}

/** GET over plain http; resolves {status, body}. */
function httpGet(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.on("error", reject);
  });
}

describe("HTTPS: up --tls", { timeout: 120_000 }, () => {
  let dir;
  let server;
  let ca;
  let east;
  let west;

  before(async () => {
    dir = makeTempDir("regionlab-tls-");
    server = await startUp({ dataDir: dir, extraArgs: ["--tls"] });
    [east, west] = Object.values(server.regions);
  });
  after(async () => {
    await server?.stop();
    rmTemp(dir);
  });

  it("announces https endpoints and the CA file to trust", () => {
    assert.match(server.admin, /^https:\/\/127\.0\.0\.1:\d+\/$/);
    assert.match(east, /^https:\/\//);
    assert.match(west, /^https:\/\//);
    assert.equal(server.ready.caCert, path.join(dir, "tls", "ca.pem"));
    ca = readFileSync(server.ready.caCert, "utf8");
    assert.match(ca, /^-----BEGIN CERTIFICATE-----/);
  });

  it("exports the CA at /_explorer/emulator.pem, as the official emulator does", async () => {
    for (const endpoint of [east, west]) {
      const r = await httpsGet(new URL("/_explorer/emulator.pem", endpoint), ca);
      assert.equal(r.status, 200);
      assert.equal(r.body, ca);
    }
  });

  it("serves the SDK over TLS, and replicates over TLS", async () => {
    const agent = new https.Agent({ ca });
    const a = makeClient(east, { agent, connectionPolicy: { preferredLocations: ["UK South"] } });
    const b = makeClient(west, { agent, connectionPolicy: { preferredLocations: ["West Europe"] } });
    const { database } = await a.databases.createIfNotExists({ id: uid("db") });
    const { container } = await database.containers.createIfNotExists({ id: "c", partitionKey: "/pk" });
    const id = uid("doc");
    const { resource } = await container.items.create({ id, pk: "p", total: 240 });
    assert.equal(resource.total, 240);
    const remote = b.database(database.id).container("c");
    const seen = await waitFor("the document replicated to West Europe", async () => {
      try {
        const { resource: r } = await remote.item(id, "p").read();
        return r;
      } catch {
        return undefined;
      }
    });
    assert.equal(seen.total, 240);
    const links = JSON.parse((await httpsGet(new URL("/links", server.admin), ca)).body).links;
    assert.ok(links.length >= 2 && links.every((l) => l.connected === true), JSON.stringify(links));
    a.dispose?.();
    b.dispose?.();
  });

  it("refuses a client that does not trust the CA", async () => {
    const client = makeClient(east, { connectionPolicy: { enableEndpointDiscovery: false } });
    await assert.rejects(client.databases.readAll().fetchAll(), (e) => {
      const text = `${e.code} ${e.message} ${e.cause?.code ?? ""}`;
      assert.match(text, /SELF_SIGNED|UNABLE_TO_GET_ISSUER|unable to get local issuer|certificate/i);
      return true;
    });
    await assert.rejects(httpsGet(new URL("/_explorer/emulator.pem", east), undefined), /certificate|issuer/i);
  });

  it("answers plain HTTP on a TLS port with a clear 400", async () => {
    for (const url of [east, server.admin]) {
      const r = await httpGet(url.replace("https://", "http://"));
      assert.equal(r.status, 400);
      assert.match(JSON.parse(r.body).message, /serves HTTPS only/);
    }
  });

  it("serves the management API and the CLI over HTTPS", async () => {
    const regions = await httpsGet(new URL("/regions", server.admin), ca);
    assert.equal(regions.status, 200);
    assert.equal(JSON.parse(regions.body).regions.length, 2);
    const run = promisify(execFile);
    const { stdout } = await run(BIN, ["status", "--admin", server.admin, "--ca-cert", server.ready.caCert, "--json"]);
    const status = JSON.parse(stdout);
    assert.ok(status.regions.regions.every((r) => r.endpoint.startsWith("https://")), stdout);
    // Without the CA the CLI says why it refused.
    await assert.rejects(run(BIN, ["status", "--admin", server.admin]), (e) => {
      assert.match(e.stderr, /certificate verify failed.*--ca-cert/);
      return true;
    });
  });

  it("keeps its CA across restarts, so a client trusts it once", async () => {
    await server.stop();
    server = await startUp({ dataDir: dir, extraArgs: ["--tls"] });
    [east, west] = Object.values(server.regions);
    assert.equal(readFileSync(server.ready.caCert, "utf8"), ca);
    const r = await httpsGet(new URL("/_explorer/emulator.pem", east), ca);
    assert.equal(r.status, 200);
  });
});

describe("HTTPS: serve --tls, two processes sharing one CA directory", { timeout: 120_000 }, () => {
  let dir;
  const servers = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    rmTemp(dir);
  });

  it("replicates over mutual TLS between processes and advertises https peers", async () => {
    dir = makeTempDir("regionlab-tls-serve-");
    const a = await freePortPair();
    const b = await freePortPair();
    const tlsDir = path.join(dir, "tls");
    const spec = (name, me, peerName, peer) => ({
      region: name,
      port: me.port,
      replicationPort: me.replicationPort,
      peers: { [peerName]: `127.0.0.1:${peer.replicationPort}` },
      extraArgs: ["--tls", "--tls-dir", tlsDir],
    });
    // Started together: the flock on the directory makes one CA for both.
    servers.push(...(await Promise.all([
      startServe(spec("uksouth", a, "westeurope", b)),
      startServe(spec("westeurope", b, "uksouth", a)),
    ])));
    const [uk, we] = servers;
    assert.equal(uk.ready.caCert, we.ready.caCert);
    const ca = readFileSync(uk.ready.caCert, "utf8");
    const agent = new https.Agent({ ca });
    const ukEndpoint = Object.values(uk.regions)[0];
    const weEndpoint = Object.values(we.regions)[0];
    const c1 = makeClient(ukEndpoint, { agent, connectionPolicy: { enableEndpointDiscovery: false } });
    const c2 = makeClient(weEndpoint, { agent, connectionPolicy: { enableEndpointDiscovery: false } });
    const { resource: acct } = await c1.getDatabaseAccount();
    const advertised = [...acct.writableLocations, ...acct.readableLocations].map((l) => l.databaseAccountEndpoint);
    assert.ok(advertised.length > 0 && advertised.every((u) => u.startsWith("https://")), JSON.stringify(advertised));
    const { database } = await c1.databases.createIfNotExists({ id: uid("db") });
    const { container } = await database.containers.createIfNotExists({ id: "c", partitionKey: "/pk" });
    await container.items.create({ id: "inv", pk: "p", total: 240 });
    const seen = await waitFor("the document replicated to the other process", async () => {
      try {
        return (await c2.database(database.id).container("c").item("inv", "p").read()).resource;
      } catch {
        return undefined;
      }
    });
    assert.equal(seen.total, 240);
  });
});
