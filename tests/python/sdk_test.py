"""The Python SDK that Debian ships (python3-azure-cosmos 3.1.1) against `regionlab up`.

That SDK has no batch, bulk or patch; it does have CRUD, queries, time to live (plain fields),
user-defined functions, triggers and offers, which are checked here. Run by ctest as
`/usr/bin/python3 tests/python/sdk_test.py` with REGIONLAB_BIN pointing at the binary.
"""
import json
import os
import subprocess
import sys
import time
import unittest
import uuid

import azure.cosmos.cosmos_client as cosmos_client
import azure.cosmos.documents as documents
import azure.cosmos.errors as errors
import requests

KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
BIN = os.environ.get("REGIONLAB_BIN", "build/server/regionlab")


class RegionlabPythonSdkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc = subprocess.Popen(
            [BIN, "up", "--regions", "uksouth", "--port", "0", "--admin-port", "0", "--ephemeral"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            ready = json.loads(cls.proc.stdout.readline())
            assert ready.get("event") == "ready", ready
            cls.endpoint = ready["regions"][0]["endpoint"]
            cls.client = cosmos_client.CosmosClient(cls.endpoint, {"masterKey": KEY})
            cls.db_link = "dbs/" + "py-" + uuid.uuid4().hex[:8]
            cls.client.CreateDatabase({"id": cls.db_link[4:]})
        except BaseException:
            cls.proc.kill()  # tearDownClass does not run when setUpClass fails
            cls.proc.wait(timeout=10)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(timeout=10)

    def container(self, name, **extra):
        body = {"id": name, "partitionKey": {"paths": ["/pk"], "kind": "Hash"}}
        body.update(extra)
        self.client.CreateContainer(self.db_link, body)
        return self.db_link + "/colls/" + name

    def query(self, coll, text):
        return list(self.client.QueryItems(coll, text, {"enableCrossPartitionQuery": True}))

    def test_crud_and_query(self):
        coll = self.container("crud")
        self.client.CreateItem(coll, {"id": "a", "pk": "p", "n": 1})
        self.client.UpsertItem(coll, {"id": "a", "pk": "p", "n": 2})
        doc = self.client.ReadItem(coll + "/docs/a", {"partitionKey": "p"})
        self.assertEqual(doc["n"], 2)
        self.assertEqual(self.query(coll, "SELECT VALUE c.n FROM c"), [2])
        self.client.DeleteItem(coll + "/docs/a", {"partitionKey": "p"})
        with self.assertRaises(errors.HTTPFailure) as e:
            self.client.ReadItem(coll + "/docs/a", {"partitionKey": "p"})
        self.assertEqual(e.exception.status_code, 404)

    def test_time_to_live(self):
        coll = self.container("ttl", defaultTtl=-1)
        self.client.CreateItem(coll, {"id": "short", "pk": "p", "ttl": 1})
        self.client.CreateItem(coll, {"id": "keep", "pk": "p"})
        deadline = time.time() + 10
        while time.time() < deadline and len(self.query(coll, "SELECT VALUE c.id FROM c")) != 1:
            time.sleep(0.1)  # polling for a condition with a deadline
        self.assertEqual(self.query(coll, "SELECT VALUE c.id FROM c"), ["keep"])
        with self.assertRaises(errors.HTTPFailure) as e:
            self.client.CreateItem(coll, {"id": "bad", "pk": "p", "ttl": 0})
        self.assertEqual(e.exception.status_code, 400)

    def test_user_defined_functions(self):
        coll = self.container("udf")
        for i in range(1, 4):
            self.client.CreateItem(coll, {"id": "i%d" % i, "pk": "p", "total": i * 100})
        self.client.CreateUserDefinedFunction(coll, {"id": "tax", "body": "function tax(x) { return x * 1.2; }"})
        self.assertEqual([u["id"] for u in self.client.ReadUserDefinedFunctions(coll)], ["tax"])
        got = self.query(coll, "SELECT VALUE udf.tax(c.total) FROM c WHERE udf.tax(c.total) > 200")
        self.assertEqual(sorted(got), [240, 360])

    def test_triggers(self):
        coll = self.container("trig")
        self.client.CreateTrigger(coll, {
            "id": "stamp", "triggerType": "pre", "triggerOperation": "create",
            "body": "function () { var r = getContext().getRequest(); var d = r.getBody(); d.stamped = true; r.setBody(d); }",
        })
        created = self.client.CreateItem(coll, {"id": "x", "pk": "p"}, {"preTriggerInclude": "stamp"})
        self.assertTrue(created["stamped"])
        plain = self.client.CreateItem(coll, {"id": "y", "pk": "p"})
        self.assertNotIn("stamped", plain)

    def test_offers(self):
        coll = self.container("offer")
        container = self.client.ReadContainer(coll)
        offers = list(self.client.QueryOffers(
            "SELECT * FROM root r WHERE r.resource = '%s'" % container["_self"]))
        self.assertEqual(len(offers), 1)
        self.assertEqual(offers[0]["content"]["offerThroughput"], 400)
        offers[0]["content"]["offerThroughput"] = 1000
        replaced = self.client.ReplaceOffer(offers[0]["_self"], offers[0])
        self.assertEqual(replaced["content"]["offerThroughput"], 1000)
        self.assertEqual(self.client.ReadOffer(offers[0]["_self"])["content"]["offerThroughput"], 1000)


class RegionlabPythonSdkTlsTest(unittest.TestCase):
    """`regionlab up --tls`: the SDK trusts the exported CA through its SSL configuration
    (SSLCaCerts, which becomes requests' `verify`)."""

    @classmethod
    def setUpClass(cls):
        cls.proc = subprocess.Popen(
            [BIN, "up", "--regions", "uksouth,westeurope", "--port", "0", "--admin-port", "0", "--ephemeral",
             "--tls"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            cls.ready = json.loads(cls.proc.stdout.readline())
            assert cls.ready.get("event") == "ready", cls.ready
        except BaseException:
            cls.proc.kill()
            cls.proc.wait(timeout=10)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(timeout=10)

    def client(self, endpoint, ca):
        policy = documents.ConnectionPolicy()
        policy.EnableEndpointDiscovery = False
        if ca:
            policy.SSLConfiguration = documents.SSLConfiguration()
            policy.SSLConfiguration.SSLCaCerts = ca
        return cosmos_client.CosmosClient(endpoint, {"masterKey": KEY}, policy)

    def test_https_with_the_exported_ca(self):
        east, west = (r["endpoint"] for r in self.ready["regions"])
        self.assertTrue(east.startswith("https://"))
        ca = self.ready["caCert"]
        a, b = self.client(east, ca), self.client(west, ca)
        db = "py-tls-" + uuid.uuid4().hex[:8]
        a.CreateDatabase({"id": db})
        coll = "dbs/%s/colls/c" % db
        a.CreateContainer("dbs/" + db, {"id": "c", "partitionKey": {"paths": ["/pk"], "kind": "Hash"}})
        a.CreateItem(coll, {"id": "inv", "pk": "p", "total": 240})
        deadline = time.time() + 15
        doc = None
        while time.time() < deadline and doc is None:  # replication over mutual TLS
            try:
                doc = b.ReadItem(coll + "/docs/inv", {"partitionKey": "p"})
            except errors.HTTPFailure:
                time.sleep(0.05)
        self.assertIsNotNone(doc)
        self.assertEqual(doc["total"], 240)

    def test_a_client_trusting_other_cas_is_refused(self):
        # With an SSL configuration the SDK verifies against the CAs it is given: the public
        # ones do not vouch for regionlab's certificate. (Without one, SDK 3.x skips verification
        # for localhost and 127.0.0.1 -- synchronized_request.py -- as it did for the official
        # emulator; docs/tls.md.)
        east = self.ready["regions"][0]["endpoint"]
        with self.assertRaises(requests.exceptions.SSLError):
            list(self.client(east, requests.certs.where()).ReadDatabases())


if __name__ == "__main__":
    unittest.main(verbosity=2)
