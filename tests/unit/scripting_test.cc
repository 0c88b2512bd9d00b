// scripting/: Cosmos-style stored procedures in a forked Duktape child,
// against an in-memory DataAccess.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "scripting/script_host.h"
#include "scripting/spawn.h"

namespace regionlab::scripting {
namespace {

using Json = nlohmann::json;

// A container in memory: documents by id, each given _rid, _self and _etag.
// Every call is recorded (as "op ref" lines) so tests can check what the
// procedure did.
class FakeData : public DataAccess {
 public:
  std::string SelfLink() const override { return "dbs/db1/colls/c1"; }

  void Put(Json doc) {
    std::lock_guard lock(mu_);
    Stamp(doc);
    docs_[doc["id"].get<std::string>()] = doc;
  }
  std::optional<Json> Get(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = docs_.find(id);
    if (it == docs_.end()) return std::nullopt;
    return it->second;
  }
  size_t Size() {
    std::lock_guard lock(mu_);
    return docs_.size();
  }
  std::vector<std::string> Calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::string LastQuery() {
    std::lock_guard lock(mu_);
    return last_query_;
  }

  Result<std::optional<std::string>> Read(const std::string& ref) override {
    std::lock_guard lock(mu_);
    calls_.push_back("read " + ref);
    auto it = Find(ref);
    if (it == docs_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second.dump());
  }
  Result<std::vector<std::string>> Query(const std::string& spec) override {
    std::lock_guard lock(mu_);
    calls_.push_back("query");
    last_query_ = spec;
    Json s = Json::parse(spec);
    if (s["query"] == "bad") return Status::BadRequest("Syntax error near 'bad'");
    std::vector<std::string> rows;
    for (auto& [id, doc] : docs_) rows.push_back(doc.dump());
    return rows;
  }
  Result<std::string> Create(const std::string& doc_json) override {
    std::lock_guard lock(mu_);
    Json doc = Json::parse(doc_json);
    calls_.push_back("create " + doc.value("id", ""));
    if (!doc.contains("id"))
      return Status::BadRequest(
          "The input content is invalid because the required properties - 'id; ' - are missing");
    if (docs_.count(doc["id"]))
      return Status::Conflict("Entity with the specified id already exists in the system.");
    Stamp(doc);
    docs_[doc["id"].get<std::string>()] = doc;
    return doc.dump();
  }
  Result<std::string> Upsert(const std::string& doc_json) override {
    std::lock_guard lock(mu_);
    Json doc = Json::parse(doc_json);
    calls_.push_back("upsert " + doc.value("id", ""));
    Stamp(doc);
    docs_[doc["id"].get<std::string>()] = doc;
    return doc.dump();
  }
  Result<std::string> Replace(const std::string& ref, const std::string& doc_json,
                              const std::optional<std::string>& if_match) override {
    std::lock_guard lock(mu_);
    calls_.push_back("replace " + ref + (if_match ? " if-match " + *if_match : ""));
    auto it = Find(ref);
    if (it == docs_.end())
      return Status::NotFound("Entity with the specified id does not exist in the system.");
    if (if_match && *if_match != it->second["_etag"]) {
      return Status::PreconditionFailed("One of the specified pre-condition is not met");
    }
    Json doc = Json::parse(doc_json);
    doc["id"] = it->first;
    Stamp(doc);
    it->second = doc;
    return doc.dump();
  }
  Status Delete(const std::string& ref, const std::optional<std::string>& if_match) override {
    std::lock_guard lock(mu_);
    calls_.push_back("delete " + ref + (if_match ? " if-match " + *if_match : ""));
    auto it = Find(ref);
    if (it == docs_.end())
      return Status::NotFound("Entity with the specified id does not exist in the system.");
    if (if_match && *if_match != it->second["_etag"]) {
      return Status::PreconditionFailed("One of the specified pre-condition is not met");
    }
    docs_.erase(it);
    return Status::Ok();
  }

 private:
  void Stamp(Json& doc) {
    const std::string id = doc["id"];
    doc["_rid"] = "rid-" + id;
    doc["_self"] = "dbs/db1/colls/c1/docs/rid-" + id + "/";
    doc["_etag"] = "\"" + std::to_string(++lsn_) + "\"";
  }
  std::map<std::string, Json>::iterator Find(const std::string& ref) {
    auto it = docs_.find(ref);
    if (it != docs_.end()) return it;
    for (it = docs_.begin(); it != docs_.end(); ++it) {
      if (it->second["_rid"] == ref) return it;
    }
    return docs_.end();
  }

  std::mutex mu_;
  std::map<std::string, Json> docs_;
  std::vector<std::string> calls_;
  std::string last_query_;
  int lsn_ = 0;
};

Budget SmallBudget() {
  Budget b;
  b.time_ms = 5000;  // generous: the machine may be busy; the timeout test sets its own
  b.memory_bytes = 16u << 20;
  return b;
}

// Runs and expects success; returns the body parsed.
Json RunOk(std::string_view src, std::string_view args, FakeData& data,
           std::string* log = nullptr) {
  auto r = scripting::Run(src, args, data, SmallBudget());
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return Json();
  if (log != nullptr) *log = r->log;
  return Json::parse(r->body_json);
}

int CountOpenFds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n;
}

// ---------------------------------------------------------------- basics

TEST(ScriptingTest, SetBodyWithAValue) {
  FakeData data;
  auto r = scripting::Run(
      "function sp() { getContext().getResponse().setBody({a: 1, b: [true, null, 'x']}); }", "[]",
      data, SmallBudget());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body_json, R"({"a":1,"b":[true,null,"x"]})");
  EXPECT_EQ(r->log, "");
}

TEST(ScriptingTest, BodyIsNullWhenNeverSetAndLastSetBodyWins) {
  FakeData data;
  auto r = scripting::Run("function sp() { }", "[]", data, SmallBudget());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body_json, "null");
  auto r2 = scripting::Run(
      "function sp() { var res = getContext().getResponse(); res.setBody(1); res.setBody('two');"
      " res.setBody(res.getBody() + '!'); }",
      "[]", data, SmallBudget());
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_EQ(r2->body_json, "\"two!\"");
}

TEST(ScriptingTest, ConsoleLogIsCollected) {
  FakeData data;
  std::string log;
  RunOk("function sp() { console.log('hello', 1, {a: 2}); console.log('second'); }", "[]", data,
        &log);
  EXPECT_EQ(log, "hello 1 {\"a\":2}\nsecond");
}

TEST(ScriptingTest, ArgumentsArePassed) {
  FakeData data;
  Json body = RunOk(
      "function sp(a, b, c, d) { getContext().getResponse().setBody([a, b.x, c, typeof d]); }",
      R"([1, {"x": "y"}, null])", data);
  EXPECT_EQ(body, Json::parse(R"([1, "y", null, "undefined"])"));
}

TEST(ScriptingTest, SourceForms) {
  FakeData data;
  // Leading comments, a function expression, a declaration with a trailing
  // semicolon and helper functions after it, nested functions.
  EXPECT_EQ(RunOk("// a comment\n/* another */\n  function resolver(x) {\n"
                  "  function twice(v) { return v * 2; }\n"
                  "  getContext().getResponse().setBody(twice(x)); }",
                  "[21]", data),
            Json(42));
  EXPECT_EQ(RunOk("function (x) { getContext().getResponse().setBody(x + 1); }", "[1]", data),
            Json(2));
  EXPECT_EQ(RunOk("function main(x) { getContext().getResponse().setBody(helper(x)); };\n"
                  "function helper(v) { return 'h' + v; }",
                  "[1]", data),
            Json("h1"));
  EXPECT_EQ(RunOk("function sp() { getContext().getResponse().setBody(1); } // trailing comment",
                  "[]", data),
            Json(1));
}

TEST(ScriptingTest, BadArgumentsAreBadRequests) {
  FakeData data;
  auto r = scripting::Run("function sp() {}", R"({"a": 1})", data, SmallBudget());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kBadRequest);
  EXPECT_NE(r.status().message().find("array"), std::string::npos) << r.status().message();

  auto r2 = scripting::Run("function sp() {}", "[1,", data, SmallBudget());
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().code(), StatusCode::kBadRequest);

  auto r3 = scripting::Run("var x = 1;", "[]", data, SmallBudget());
  ASSERT_FALSE(r3.ok());
  EXPECT_EQ(r3.status().code(), StatusCode::kBadRequest);
}

TEST(ScriptingTest, TextComesBackAsUtf8) {
  FakeData data;
  // U+1F600 arrives as UTF-8 and is also built in JavaScript from a
  // surrogate pair (which Duktape holds as CESU-8); both leave as UTF-8.
  Json body = RunOk(R"(function sp(s) {
      var built = '\u00e9\ud83d\ude00';
      __.createDocument(__.getSelfLink(), {id: 'u', text: built, same: s === built});
      console.log(built);
      getContext().getResponse().setBody([s, built, '\ud800']);
    })",
                    "[\"\u00e9\U0001F600\"]", data);
  ASSERT_EQ(body.size(), 3u);
  EXPECT_EQ(body[0], "\u00e9\U0001F600");
  EXPECT_EQ(body[1], "\u00e9\U0001F600");
  EXPECT_EQ(body[2], "\uFFFD");  // a lone surrogate cannot be UTF-8
  ASSERT_TRUE(data.Get("u").has_value());
  EXPECT_EQ((*data.Get("u"))["text"], "\u00e9\U0001F600");
}

// ---------------------------------------------------------------- data access

TEST(ScriptingTest, CrudThroughCallbacks) {
  FakeData data;
  Json body = RunOk(R"(
    function sp(id) {
      var c = getContext().getCollection(), out = {};
      var accepted = c.createDocument(c.getSelfLink(), {id: id, n: 1}, {}, function (err, doc, opts) {
        if (err) throw err;
        out.created = doc.n;
        out.etag = doc._etag;
        c.readDocument(c.getAltLink() + '/docs/' + id, function (err, read) {
          if (err) throw err;
          out.read = read.n;
          c.replaceDocument(read._self, {id: id, n: 2}, {etag: read._etag}, function (err, replaced) {
            if (err) throw err;
            out.replaced = replaced.n;
            c.upsertDocument(c.getSelfLink(), {id: 'other', n: 3}, function (err, upserted) {
              if (err) throw err;
              out.upserted = upserted.n;
              c.deleteDocument(replaced._self, {}, function (err, responseOptions) {
                if (err) throw err;
                out.deleted = true;
              });
            });
          });
        });
      });
      out.accepted = accepted;
      getContext().getResponse().setBody(out);
    })",
                    R"(["doc-1"])", data);
  EXPECT_EQ(body["accepted"], true);
  EXPECT_EQ(body["created"], 1);
  EXPECT_EQ(body["read"], 1);
  EXPECT_EQ(body["replaced"], 2);
  EXPECT_EQ(body["upserted"], 3);
  EXPECT_EQ(body["deleted"], true);
  EXPECT_FALSE(data.Get("doc-1").has_value());
  ASSERT_TRUE(data.Get("other").has_value());
  EXPECT_EQ((*data.Get("other"))["n"], 3);
  std::vector<std::string> want = {"create doc-1", "read doc-1", "replace rid-doc-1 if-match \"1\"",
                                   "upsert other", "delete rid-doc-1"};
  EXPECT_EQ(data.Calls(), want);
}

TEST(ScriptingTest, CrudWithoutCallbacks) {
  FakeData data;
  data.Put({{"id", "a"}, {"n", 1}});
  Json body = RunOk(R"(
    function sp() {
      var c = __;
      var r = [];
      r.push(c.createDocument(c.getSelfLink(), {id: 'b', n: 2}));
      r.push(c.replaceDocument('dbs/db1/colls/c1/docs/a', {n: 10}));
      r.push(c.upsertDocument(c.getSelfLink(), {id: 'c', n: 3}, {}));
      r.push(c.deleteDocument('dbs/db1/colls/c1/docs/b/'));
      r.push(c.readDocument('dbs/db1/colls/c1/docs/c'));
      getContext().getResponse().setBody(r);
    })",
                    "[]", data);
  EXPECT_EQ(body, Json::parse("[true, true, true, true, true]"));
  EXPECT_EQ((*data.Get("a"))["n"], 10);
  EXPECT_FALSE(data.Get("b").has_value());
  EXPECT_EQ((*data.Get("c"))["n"], 3);
}

TEST(ScriptingTest, ReadOfAMissingDocumentGives404InErr) {
  FakeData data;
  Json body = RunOk(R"(
    function sp() {
      var c = getContext().getCollection();
      c.readDocument(c.getSelfLink() + '/docs/nope', {}, function (err, doc) {
        getContext().getResponse().setBody({number: err.number, message: err.message,
            body: JSON.parse(err.body), isError: err instanceof Error, doc: doc === undefined});
      });
    })",
                    "[]", data);
  EXPECT_EQ(body["number"], 404);
  EXPECT_EQ(body["body"]["code"], "NotFound");
  EXPECT_EQ(body["isError"], true);
  EXPECT_EQ(body["doc"], true);
  EXPECT_NE(body["message"].get<std::string>().find("does not exist"), std::string::npos);
  EXPECT_EQ(data.Calls(), std::vector<std::string>{"read nope"});
}

TEST(ScriptingTest, DataAccessErrorsMapToHttpNumbers) {
  FakeData data;
  data.Put({{"id", "a"}});
  Json body = RunOk(R"(
    function sp() {
      var c = getContext().getCollection(), out = [];
      c.createDocument(c.getSelfLink(), {id: 'a'}, function (err) { out.push(err.number); });
      c.replaceDocument('dbs/db1/colls/c1/docs/a', {x: 1}, {accessCondition: {type: 'IfMatch', condition: 'stale'}},
          function (err) { out.push(err.number); });
      c.deleteDocument('dbs/db1/colls/c1/docs/zz', function (err) { out.push(err.number); });
      c.readDocument('not-a-document-link', function (err) { out.push(err.number); });
      c.queryDocuments(c.getSelfLink(), 'bad', function (err) { out.push(err.number); });
      getContext().getResponse().setBody(out);
    })",
                    "[]", data);
  EXPECT_EQ(body, Json::parse("[409, 412, 404, 400, 400]"));
  auto calls = data.Calls();
  ASSERT_GE(calls.size(), 2u);
  EXPECT_EQ(calls[1], "replace a if-match stale");
}

TEST(ScriptingTest, QueryDocuments) {
  FakeData data;
  data.Put({{"id", "a"}, {"n", 1}});
  data.Put({{"id", "b"}, {"n", 2}});
  Json body = RunOk(R"(
    function sp() {
      var c = getContext().getCollection();
      c.queryDocuments(c.getSelfLink(), {query: 'SELECT * FROM c WHERE c.n > @n', parameters: [{name: '@n', value: 0}]},
          {}, function (err, docs, opts) {
        if (err) throw err;
        getContext().getResponse().setBody(docs.map(function (d) { return d.id; }));
      });
    })",
                    "[]", data);
  EXPECT_EQ(body, Json::parse(R"(["a", "b"])"));
  Json spec = Json::parse(data.LastQuery());
  EXPECT_EQ(spec["query"], "SELECT * FROM c WHERE c.n > @n");
  EXPECT_EQ(spec["parameters"][0]["name"], "@n");
}

TEST(ScriptingTest, ErrorWithoutACallbackAbortsTheProcedure) {
  FakeData data;
  auto r = scripting::Run(R"(
    function sp() {
      var c = getContext().getCollection();
      c.readDocument(c.getSelfLink() + '/docs/missing');
      getContext().getResponse().setBody('not reached');
    })",
                          "[]", data, SmallBudget());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kBadRequest);
  EXPECT_NE(r.status().message().find("404"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("does not exist"), std::string::npos) << r.status().message();
}

TEST(ScriptingTest, ThrowingFromACallbackAborts) {
  FakeData data;
  data.Put({{"id", "a"}});
  auto r = scripting::Run(R"(
    function sp() {
      var c = getContext().getCollection();
      c.createDocument(c.getSelfLink(), {id: 'a'}, function (err) { if (err) throw err; });
    })",
                          "[]", data, SmallBudget());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kBadRequest);
  EXPECT_NE(r.status().message().find("409"), std::string::npos) << r.status().message();
}

// ---------------------------------------------------------------- failures

TEST(ScriptingTest, ThrownErrorIsABadRequestWithItsText) {
  FakeData data;
  auto r =
      scripting::Run("function sp() {\n  throw new Error('boom');\n}", "[]", data, SmallBudget());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kBadRequest);
  EXPECT_NE(r.status().message().find("Error: boom"), std::string::npos) << r.status().message();

  auto r2 = scripting::Run("function sp() { throw 'just a string'; }", "[]", data, SmallBudget());
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().code(), StatusCode::kBadRequest);
  EXPECT_NE(r2.status().message().find("just a string"), std::string::npos)
      << r2.status().message();

  auto r3 = scripting::Run("function sp() { getContext().abort(new Error('stop here')); }", "[]",
                           data, SmallBudget());
  ASSERT_FALSE(r3.ok());
  EXPECT_NE(r3.status().message().find("Error: stop here"), std::string::npos)
      << r3.status().message();
}

TEST(ScriptingTest, SyntaxErrorIsABadRequest) {
  FakeData data;
  auto r = scripting::Run("function sp( { getContext().getResponse().setBody(1); }", "[]", data,
                          SmallBudget());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kBadRequest);
  EXPECT_NE(r.status().message().find("SyntaxError"), std::string::npos) << r.status().message();
}

TEST(ScriptingTest, RunawayRecursionIsABadRequest) {
  FakeData data;
  auto r = scripting::Run("function sp() { function f(n) { return f(n + 1) + 1; } f(0); }", "[]",
                          data, SmallBudget());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kBadRequest);
  EXPECT_NE(r.status().message().find("RangeError"), std::string::npos) << r.status().message();
}

TEST(ScriptingTest, EndlessLoopRunsOutOfTime) {
  FakeData data;
  Budget b;
  b.time_ms = 200;
  auto r = scripting::Run("function sp() { while (true) {} }", "[]", data, b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("time budget"), std::string::npos) << r.status().message();
}

TEST(ScriptingTest, EndlessLoopOfDataAccessRunsOutOfTime) {
  FakeData data;
  data.Put({{"id", "a"}});
  Budget b;
  b.time_ms = 200;
  auto r = scripting::Run("function sp() { var c = __; while (true) c.readDocument('docs/a'); }",
                          "[]", data, b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

TEST(ScriptingTest, MemoryHogRunsOutOfMemoryAndTheNextRunWorks) {
  FakeData data;
  // Duktape interns strings, so the identical 100 KB strings this hog pushes
  // share one copy: what it needs beyond the engine's ~130 KB is the 100 KB
  // join buffer, which a 256 KB budget refuses.
  Budget b;
  b.time_ms = 10000;
  b.memory_bytes = 256u << 10;
  auto r = scripting::Run(
      "function sp() { var a=[]; while(true) a.push(new Array(1e5).join('x')) }", "[]", data, b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTooLarge) << r.status().ToString();
  EXPECT_NE(r.status().message().find("memory budget"), std::string::npos) << r.status().message();

  // Distinct strings: each push keeps 100 KB more, until 4 MB. (Duktape
  // takes ~50 ms per `new Array(1e5).join`, so the string is made once.)
  b.memory_bytes = 4u << 20;
  auto r2 = scripting::Run(
      "function sp() { var a = [], s = new Array(1e5).join('x'); while (true) a.push(s + "
      "a.length); }",
      "[]", data, b);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().code(), StatusCode::kTooLarge) << r2.status().ToString();

  // Catching the allocation failure does not get around the budget.
  auto r3 = scripting::Run(
      "function sp() { var a = [], s = new Array(1e5).join('x');"
      " try { while (true) a.push(s + a.length); }"
      " catch (e) { a = null; throw new Error('caught: ' + e); } }",
      "[]", data, b);
  ASSERT_FALSE(r3.ok());
  EXPECT_EQ(r3.status().code(), StatusCode::kTooLarge) << r3.status().ToString();

  // A budget too small for the engine itself.
  for (size_t tiny : {size_t{0}, size_t{1000}, size_t{96} << 10, size_t{128} << 10}) {
    Budget t;
    t.memory_bytes = tiny;
    auto r4 = scripting::Run("function sp() {}", "[]", data, t);
    ASSERT_FALSE(r4.ok()) << tiny;
    EXPECT_EQ(r4.status().code(), StatusCode::kTooLarge) << tiny << " " << r4.status().ToString();
  }

  Json body = RunOk("function sp() { getContext().getResponse().setBody('fine'); }", "[]", data);
  EXPECT_EQ(body, "fine");
}

TEST(ScriptingTest, NoClockAndNoRandomness) {
  FakeData data;
  Json body = RunOk(R"(
    function sp() {
      var out = [];
      function attempt(f) {
        try { f(); out.push('no error'); } catch (e) { out.push(e.name + ': ' + e.message); }
      }
      attempt(function () { return Date.now(); });
      attempt(function () { return new Date(); });
      attempt(function () { return Date(); });
      attempt(function () { return Math.random(); });
      getContext().getResponse().setBody(out);
    })",
                    "[]", data);
  ASSERT_EQ(body.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(body[i], "TypeError: merge and stored procedures have no clock in regionlab");
  }
  EXPECT_NE(body[3].get<std::string>().find("TypeError"), std::string::npos) << body[3];
  EXPECT_NE(body[3].get<std::string>().find("no randomness"), std::string::npos) << body[3];

  auto r = scripting::Run("function sp() { getContext().getResponse().setBody(Date.now()); }", "[]",
                          data, SmallBudget());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kBadRequest);
  EXPECT_NE(r.status().message().find("no clock"), std::string::npos) << r.status().message();
}

// ---------------------------------------------------------------- the Cosmos merge sample

// The custom conflict resolution procedure from "Manage conflict resolution
// policies" (learn.microsoft.com), resolving on /metadata/sortableTimestamp:
// the lowest value wins.
constexpr const char* kMergeSample =
    R"(function resolver(incomingItem, existingItem, isTombstone, conflictingItems) {
  var collection = getContext().getCollection();

  if (!incomingItem) {
      if (existingItem) {

          collection.deleteDocument(existingItem._self, {}, function (err, responseOptions) {
              if (err) throw err;
          });
      }
  } else if (isTombstone) {
      // delete always wins.
  } else {
      if (existingItem) {
          if (incomingItem.metadata.sortableTimestamp > existingItem.metadata.sortableTimestamp) {
              return; // existing item wins
          }
      }

      var i;
      for (i = 0; i < conflictingItems.length; i++) {
          if (incomingItem.metadata.sortableTimestamp > conflictingItems[i].metadata.sortableTimestamp) {
              return; // existing conflict item wins
          }
      }

      // incoming item wins - clear conflicts and replace existing with incoming.
      tryDelete(conflictingItems, incomingItem, existingItem);
  }

  function tryDelete(documents, incoming, existing) {
      if (documents.length > 0) {
          collection.deleteDocument(documents[0]._self, {}, function (err, responseOptions) {
              if (err) throw err;

              documents.shift();
              tryDelete(documents, incoming, existing);
          });
      } else if (existing) {
          collection.replaceDocument(existing._self, incoming,
              function (err, documentCreated) {
                  if (err) throw err;
              });
      } else {
          collection.createDocument(collection.getSelfLink(), incoming,
              function (err, documentCreated) {
                  if (err) throw err;
              });
      }
  }
})";

TEST(ScriptingTest, CosmosMergeSampleReplacesTheExistingItem) {
  FakeData data;
  data.Put({{"id", "inv-1"}, {"total", 10}, {"metadata", {{"sortableTimestamp", 200}}}});
  data.Put({{"id", "inv-1-conflict"}, {"total", 11}, {"metadata", {{"sortableTimestamp", 300}}}});
  Json existing = *data.Get("inv-1");
  Json conflicting = *data.Get("inv-1-conflict");
  Json incoming = {{"id", "inv-1"}, {"total", 12}, {"metadata", {{"sortableTimestamp", 100}}}};
  Json args = Json::array({incoming, existing, false, Json::array({conflicting})});

  RunOk(kMergeSample, args.dump(), data);
  std::vector<std::string> want = {"delete rid-inv-1-conflict", "replace rid-inv-1"};
  EXPECT_EQ(data.Calls(), want);
  ASSERT_TRUE(data.Get("inv-1").has_value());
  EXPECT_EQ((*data.Get("inv-1"))["total"], 12);
  EXPECT_FALSE(data.Get("inv-1-conflict").has_value());

  // The existing item wins when the incoming timestamp is higher: nothing is written.
  FakeData data2;
  data2.Put({{"id", "inv-1"}, {"metadata", {{"sortableTimestamp", 200}}}});
  Json args2 = Json::array({{{"id", "inv-1"}, {"metadata", {{"sortableTimestamp", 500}}}},
                            *data2.Get("inv-1"),
                            false,
                            Json::array()});
  RunOk(kMergeSample, args2.dump(), data2);
  EXPECT_TRUE(data2.Calls().empty());

  // No existing item: the incoming one is created.
  FakeData data3;
  Json args3 = Json::array(
      {{{"id", "new"}, {"metadata", {{"sortableTimestamp", 1}}}}, nullptr, false, Json::array()});
  RunOk(kMergeSample, args3.dump(), data3);
  EXPECT_EQ(data3.Calls(), std::vector<std::string>{"create new"});
}

// ---------------------------------------------------------------- processes

TEST(ScriptingTest, ConcurrentRunsFromEightThreads) {
  FakeData data;
  std::atomic<int> ok{0};
  std::vector<std::string> errors(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto r = scripting::Run(R"(function sp(id, n) {
                        var c = getContext().getCollection();
                        c.createDocument(c.getSelfLink(), {id: id, n: n});
                        c.readDocument(c.getSelfLink() + '/docs/' + id, function (err, doc) {
                          if (err) throw err;
                          getContext().getResponse().setBody(doc.n);
                        });
                      })",
                                Json::array({id, t * 100 + i}).dump(), data, SmallBudget());
        if (r.ok() && r->body_json == std::to_string(t * 100 + i)) {
          ++ok;
        } else {
          errors[t] = r.ok() ? r->body_json : r.status().ToString();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 40);
  for (auto& e : errors) EXPECT_EQ(e, "");
  EXPECT_EQ(data.Size(), 40u);
}

struct ProcInfo {
  pid_t pid;
  pid_t ppid;
  char state;
  std::string name;
};

// Every process below this one (children, grandchildren...), from /proc.
std::vector<ProcInfo> Descendants() {
  std::vector<ProcInfo> all;
  DIR* d = opendir("/proc");
  if (d == nullptr) return {};
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    FILE* f = std::fopen((std::string("/proc/") + e->d_name + "/stat").c_str(), "r");
    if (f == nullptr) continue;
    char buf[1024];
    const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    std::string stat(buf, n);
    const size_t open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close + 4 >= stat.size())
      continue;
    ProcInfo p;
    p.pid = std::atoi(stat.c_str());
    p.name = stat.substr(open + 1, close - open - 1);
    p.state = stat[close + 2];
    p.ppid = std::atoi(stat.c_str() + close + 4);
    all.push_back(p);
  }
  closedir(d);
  std::vector<ProcInfo> out;
  std::vector<pid_t> parents = {getpid()};
  while (!parents.empty()) {
    const pid_t parent = parents.back();
    parents.pop_back();
    for (const auto& p : all) {
      if (p.ppid == parent) {
        out.push_back(p);
        parents.push_back(p.pid);
      }
    }
  }
  return out;
}

std::string Show(const std::vector<ProcInfo>& ps) {
  std::string s;
  for (const auto& p : ps) {
    s += std::to_string(p.pid) + " " + p.name + " " + p.state + " (parent " +
         std::to_string(p.ppid) + "); ";
  }
  return s;
}

// Descendants other than the helper, after giving the procedure processes a
// moment to be reaped (the helper reaps them as they exit, asynchronously).
std::vector<ProcInfo> LeftoverProcesses() {
  std::vector<ProcInfo> left;
  for (int i = 0; i < 200; ++i) {
    left.clear();
    for (const auto& p : Descendants()) {
      if (p.pid != internal::HelperPidForTesting()) left.push_back(p);
    }
    if (left.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return left;
}

void RunAMix(FakeData& data) {
  Budget quick;
  quick.time_ms = 100;
  Budget small;
  small.memory_bytes = 256u << 10;
  for (int i = 0; i < 3; ++i) {
    auto ok = scripting::Run("function sp() { getContext().getResponse().setBody(1); }", "[]", data,
                             SmallBudget());
    EXPECT_TRUE(ok.ok()) << ok.status().ToString();
    auto slow = scripting::Run("function sp() { while (true) {} }", "[]", data, quick);
    EXPECT_EQ(slow.status().code(), StatusCode::kUnavailable);
    auto bad = scripting::Run("function sp( {", "[]", data, SmallBudget());
    EXPECT_EQ(bad.status().code(), StatusCode::kBadRequest);
    auto thrown =
        scripting::Run("function sp() { throw new Error('x'); }", "[]", data, SmallBudget());
    EXPECT_EQ(thrown.status().code(), StatusCode::kBadRequest);
    auto big = scripting::Run(
        "function sp() { var a = []; while (true) a.push(new Array(1e5).join('x')); }", "[]", data,
        small);
    EXPECT_EQ(big.status().code(), StatusCode::kTooLarge);
  }
}

TEST(ScriptingTest, NoProcessesOrDescriptorsAreLeftBehind) {
  FakeData data;
  StartHelper();
  const int fds_before = CountOpenFds();
  RunAMix(data);
  EXPECT_EQ(CountOpenFds(), fds_before);
  // Only the helper is left (a child of this process, asleep), and no zombie
  // is waiting to be reaped.
  EXPECT_TRUE(LeftoverProcesses().empty()) << Show(LeftoverProcesses());
  const pid_t helper = internal::HelperPidForTesting();
  ASSERT_GT(helper, 0);
  for (const auto& p : Descendants()) {
    EXPECT_EQ(p.pid, helper) << Show(Descendants());
    EXPECT_EQ(p.name, "regionlab-js");
    EXPECT_EQ(p.ppid, getpid());
  }
  int status = 0;
  EXPECT_EQ(waitpid(-1, &status, WNOHANG), 0);  // the helper runs; nothing to reap
}

TEST(ScriptingTest, AHelperThatDiedIsReplaced) {
  FakeData data;
  StartHelper();
  const pid_t helper = internal::HelperPidForTesting();
  ASSERT_GT(helper, 0);
  ASSERT_EQ(kill(helper, SIGKILL), 0);
  Json body = RunOk("function sp() { getContext().getResponse().setBody('again'); }", "[]", data);
  EXPECT_EQ(body, "again");
  EXPECT_NE(internal::HelperPidForTesting(), helper);
  EXPECT_GT(internal::HelperPidForTesting(), 0);
  EXPECT_TRUE(LeftoverProcesses().empty()) << Show(LeftoverProcesses());
}

TEST(ScriptingTest, WithoutTheHelperProceduresAreForkedDirectly) {
  FakeData data;
  internal::UseHelperForTesting(false);
  const int fds_before = CountOpenFds();
  RunAMix(data);
  Json body = RunOk(
      kMergeSample,
      Json::array(
          {{{"id", "x"}, {"metadata", {{"sortableTimestamp", 1}}}}, nullptr, false, Json::array()})
          .dump(),
      data);
  EXPECT_EQ(body, nullptr);
  EXPECT_TRUE(data.Get("x").has_value());
  EXPECT_EQ(CountOpenFds(), fds_before);
  EXPECT_TRUE(Descendants().empty()) << Show(Descendants());
  int status = 0;
  errno = 0;
  EXPECT_EQ(waitpid(-1, &status, WNOHANG), -1);  // no child at all, so no zombie
  EXPECT_EQ(errno, ECHILD);
  internal::UseHelperForTesting(true);
}

TEST(ScriptingTest, TrivialRunOverhead) {
  FakeData data;
  constexpr int kRuns = 50;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRuns; ++i) {
    auto r = scripting::Run("function sp(x) { getContext().getResponse().setBody(x); }", "[1]",
                            data, SmallBudget());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() /
      kRuns;
  std::printf("trivial stored procedure: %.0f us per run (%d runs)\n", us, kRuns);
  RecordProperty("microseconds_per_run", static_cast<int>(us));
}

}  // namespace
}  // namespace regionlab::scripting
