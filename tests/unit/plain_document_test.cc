// The fast paths of server/plain_document.cc against the full paths they
// stand in for: whenever ScanPlainDocument accepts a body, parsing,
// validating and preparing it must give the same id, partition key and stored
// text, byte for byte; whenever PatchPlainDocument accepts a patch of a
// stored text, parsing it, applying the patch and preparing the result must
// give the same text.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "server/document_ops.h"
#include "server/handlers.h"
#include "server/plain_document.h"

namespace regionlab::server {
namespace {

ContainerInfo Info(std::vector<std::string> paths) {
  ContainerInfo info;
  info.pk_paths = std::move(paths);
  return info;
}

// What the full path stores for `body`, or its error.
struct Full {
  Status status = Status::Ok();
  std::string id, pk, text;
  int64_t ttl = 0;
};
Full FullPath(std::string_view body, const ContainerInfo& info) {
  Full out;
  auto parsed = ParseJsonBody(body);
  if (!parsed.ok()) {
    out.status = parsed.status();
    return out;
  }
  auto in = ValidateDocument(std::move(*parsed), info);
  if (!in.ok()) {
    out.status = in.status();
    return out;
  }
  out.id = in->id;
  out.pk = in->pk;
  PreparedDocument prepared = PrepareDocument(std::move(in->doc));
  out.text = prepared.text;
  out.ttl = prepared.ttl;
  return out;
}

// Checks one body; returns whether the fast path took it.
bool Agrees(const std::string& body, const ContainerInfo& info) {
  auto fast = ScanPlainDocument(body, info.pk_paths);
  if (!fast) return false;
  Full full = FullPath(body, info);
  Status id_ok = ValidateResourceId(fast->id, "Document");
  if (!id_ok.ok()) {
    EXPECT_EQ(full.status.ToString(), id_ok.ToString()) << body;
    return true;
  }
  EXPECT_TRUE(full.status.ok()) << body << ": " << full.status.ToString();
  EXPECT_EQ(fast->id, full.id) << body;
  EXPECT_EQ(fast->pk, full.pk) << body;
  EXPECT_EQ(body, full.text) << "the stored text differs";
  EXPECT_EQ(full.ttl, 0) << body;
  return true;
}

TEST(PlainDocumentTest, WhatTheSdkSendsTakesTheFastPathAndStoresTheSameText) {
  const ContainerInfo info = Info({"/pk"});
  for (const std::string body : {
           R"({"id":"a1","pk":"p1","n":42,"neg":-7,"big":18446744073709551615,"ok":true,"none":null})",
           R"({"id":"x","pk":"Zürich €","tags":["a","b",[1,2,{"k":"v"}]],"o":{"p":{"q":[]},"r":{}}})",
           R"({"pk":"p","id":"id with spaces","s":"a: b, {c} [d]"})",
           // Numbers as JSON.stringify writes them, which is also nlohmann's form.
           R"({"id":"i","pk":"p","total":1234.5,"lines":[{"price":10.25},{"price":0.1}],"big":1e+21})",
           R"({"id":"i","pk":"p","whole":99.0,"neg":-2.5})",
       }) {
    EXPECT_TRUE(Agrees(body, info)) << body;
  }
  // A body bigger than the per-thread parser keeps (256 KB).
  EXPECT_TRUE(Agrees(R"({"id":"big","pk":"p","pad":")" + std::string(300 << 10, 'x') + R"("})", info));
  // A missing partition key value is "none", as the full path says.
  EXPECT_TRUE(Agrees(R"({"id":"a"})", info));
  // Nested and hierarchical keys.
  EXPECT_TRUE(Agrees(R"({"id":"a","t":{"u":"v"},"w":"z"})", Info({"/t/u", "/w"})));
  EXPECT_TRUE(Agrees(R"({"id":"a","t":"not an object"})", Info({"/t/u"})));
}

TEST(PlainDocumentTest, BodiesTheSerialiserWouldRewriteTakeTheFullPath) {
  const std::vector<std::string> paths = {"/pk"};
  for (const std::string body : {
           R"({"id":"a","pk":"p","x":1.50})",         // numbers not in the serialiser's form
           R"({"id":"a","pk":"p","x":1e2})",
           R"({"id":"a","pk":"p","x":0.00001})",
           R"({"id":"a","pk":"p","x":1E+21})",
           R"({"id":"a","pk":"p","x":1e-7})",          // JSON.stringify's form; nlohmann writes 1e-07
           R"({"id":"a","pk":"p","x":-0})",           // negative zero
           R"({"id":"a","pk":"p","x":18446744073709551616})",  // beyond uint64
           R"({"id":"a","pk":"p","x":"\u00e9"})",     // escapes
           R"({"id":"a","pk":"p","x":"\/"})",
           R"({"id":"a", "pk":"p"})",                 // whitespace
           "{\"id\":\"a\",\"pk\":\"p\"}\n",
           R"({"id":"a","pk":"p","x":{"k":1,"k":2}})",  // duplicate names
           R"({"id":"a","pk":"p","id":"b"})",
           R"({"id":"a","pk":"p","_ts":5})",          // system properties are dropped
           R"({"id":"a","pk":"p","_rid":"r","_etag":"e","_self":"s","_attachments":"a"})",
           R"({"id":"a","pk":"p","ttl":60})",         // ttl is validated and kept
           R"({"id":"a","pk":5})",                    // non-string keys
           R"({"id":"a","pk":true})",
           R"({"id":7,"pk":"p"})",                    // errors are the full path's
           R"({"pk":"p"})",
           R"(["id","a"])",
           R"({"id":"a","pk":"p")",
           R"({"id":"a","pk":"p"}{})",
           "{\"id\":\"a\",\"pk\":\"\xff\"}",           // invalid UTF-8
       }) {
    EXPECT_FALSE(ScanPlainDocument(body, paths).has_value()) << body;
  }
}

TEST(PlainDocumentTest, InvalidIdsGetTheFullPathsError) {
  const ContainerInfo info = Info({"/pk"});
  EXPECT_TRUE(Agrees(R"({"id":"a/b","pk":"p"})", info));
  EXPECT_TRUE(Agrees(R"({"id":"","pk":"p"})", info));
  EXPECT_TRUE(Agrees(R"({"id":"trailing ","pk":"p"})", info));
}

// Random documents mixing what the fast path takes with what it must refuse.
class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  // A document as the store keeps it: a body, then (usually) the system
  // properties RenderPrepared appends, whose etag has escaped quotes.
  std::string Stored() {
    std::string body = Document();
    if (body.size() <= 2 || Chance(10)) return body;
    body.pop_back();
    return body + R"(,"_rid":"AAAAAA==","_self":"dbs/d/colls/c/docs/AAAAAA==/","_etag":"\"0000-)" +
           std::to_string(Pick(100)) + R"(\"","_attachments":"attachments/","_ts":1700000000})";
  }

  // One to three patch operations, mostly of top-level members, some of
  // what the fast path must leave to the full path.
  Json Operations() {
    static const char* kinds[] = {"set", "replace", "add", "remove", "incr", "incr", "Set", "move"};
    static const char* paths[] = {"/n", "/a", "/new", "/x", "/long name", "/é", "/id", "/pk", "/t", "/t/u",
                                  "/_ts", "/_etag", "/ttl", "/a~1b", "/", "/k/0"};
    Json ops = Json::array();
    const int n = 1 + Pick(3);
    for (int i = 0; i < n; ++i) {
      Json op = {{"op", kinds[Chance(85) ? Pick(6) : 6 + Pick(2)]}, {"path", paths[Chance(70) ? Pick(6) : 6 + Pick(10)]}};
      if (Chance(97)) {
        // An increment is mostly a number.
        const std::string text = op["op"] == "incr" && Chance(80) ? Number() : Value(2);
        Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
        op["value"] = value.is_discarded() ? Json(1) : value;
      }
      ops.push_back(op);
    }
    return ops;
  }

  std::string Document() {
    std::string out = "{";
    std::vector<std::string> members;
    if (Chance(95)) members.push_back(Key("id") + (Chance(95) ? String() : Number()));
    if (Chance(80)) members.push_back(Key("pk") + (Chance(85) ? String() : Value(2)));
    if (Chance(30)) members.push_back(Key("n") + Number());
    if (Chance(30)) members.push_back(Key("t") + (Chance(70) ? "{" + Key("u") + String() + "}" : Value(2)));
    if (Chance(5)) members.push_back(Key("ttl") + Number());
    if (Chance(5)) members.push_back(Key("_ts") + Number());
    const int extra = Pick(6);
    for (int i = 0; i < extra; ++i) members.push_back(Key(Name()) + Value(3));
    std::shuffle(members.begin(), members.end(), rng_);
    for (size_t i = 0; i < members.size(); ++i) out += (i ? Comma() : "") + members[i];
    return out + "}";
  }

 private:
  bool Chance(int percent) { return Pick(100) < percent; }
  int Pick(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  std::string Space() { return Chance(3) ? (Chance(50) ? " " : "\n") : ""; }
  std::string Comma() { return Space() + "," + Space(); }
  std::string Key(const std::string& name) { return "\"" + name + "\"" + Space() + ":" + Space(); }
  std::string Name() {
    static const char* names[] = {"a", "b", "n", "x", "id", "pk", "k", "é", "long name", "_x"};
    return names[Pick(10)];  // repeats make duplicate names
  }
  std::string String() {
    static const char* pieces[] = {"a", "Z", " ", "é", "€", "😀", ":", ",", "{", "]", "\\\"", "\\\\", "\\n", "\\u00e9", "\\/", "\x7f"};
    std::string s = "\"";
    const int n = Pick(8);
    for (int i = 0; i < n; ++i) s += pieces[Chance(85) ? Pick(10) : 10 + Pick(6)];
    return s + "\"";
  }
  std::string Number() {
    static const char* numbers[] = {"0", "1", "-1", "42", "9223372036854775807", "-9223372036854775808",
                                    "18446744073709551615", "1.5", "1.0", "0.1", "1e+21", "-2.5",
                                    "18446744073709551616", "-0", "1e2", "2.5E-3", "0.10", "-0.0",
                                    "1E+21", "-9223372036854775809", "0.00001", "1e400"};
    return numbers[Chance(75) ? Pick(12) : 12 + Pick(10)];
  }
  std::string Value(int depth) {
    switch (Pick(depth > 0 ? 7 : 5)) {
      case 0: return String();
      case 1: return Number();
      case 2: return Chance(50) ? "true" : "false";
      case 3: return "null";
      case 4: return String();
      case 5: {
        std::string a = "[" + Space();
        const int n = Pick(4);
        for (int i = 0; i < n; ++i) a += (i ? Comma() : "") + Value(depth - 1);
        return a + "]";
      }
      default: {
        std::string o = "{" + Space();
        const int n = Pick(4);
        for (int i = 0; i < n; ++i) o += (i ? Comma() : "") + Key(Name()) + Value(depth - 1);
        return o + "}";
      }
    }
  }

  std::mt19937_64 rng_;
};

// Checks one patch of a stored text; returns whether the fast path took it.
bool PatchAgrees(const std::string& stored, const Json& ops, const std::vector<std::string>& pk_paths) {
  auto fast = PatchPlainDocument(stored, ops, pk_paths);
  if (!fast) return false;
  Json doc = Json::parse(stored, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(doc.is_discarded()) << "the fast path patched a text that is not JSON: " << stored;
  if (doc.is_discarded()) return true;
  Status applied = ApplyPatch(doc, ops, pk_paths);
  EXPECT_TRUE(applied.ok()) << stored << " " << ops.dump() << ": " << applied.ToString();
  if (!applied.ok()) return true;
  PreparedDocument full = PrepareDocument(std::move(doc));
  EXPECT_EQ(*fast, full.text) << stored << " " << ops.dump();
  EXPECT_EQ(full.ttl, 0) << stored;
  return true;
}

TEST(PlainDocumentTest, TopLevelOperationsTakeThePatchFastPath) {
  const std::vector<std::string> pk = {"/pk"};
  const std::string stored =
      R"({"id":"r1","pk":"p1","n":1,"total":1234.5,"o":{"k":[1,2]},"_rid":"AA==","_self":"dbs/d/colls/c/docs/AA==/",)"
      R"("_etag":"\"0000-1\"","_attachments":"attachments/","_ts":1700000000})";
  for (const char* ops : {
           R"([{"op":"set","path":"/n","value":2}])",                       // an existing member keeps its place
           R"([{"op":"set","path":"/new","value":{"a":[true,null]}}])",     // a new one goes last
           R"([{"op":"replace","path":"/total","value":-0.5}])",
           R"([{"op":"set","path":"/n","value":"two"},{"op":"set","path":"/n","value":3}])",  // in order
           R"([{"op":"set","path":"/s","value":"Zürich"},{"op":"replace","path":"/s","value":1e-7}])",
           R"([{"op":"add","path":"/n","value":[1]}])",                     // add on a member is set
           R"([{"op":"remove","path":"/n"}])",                              // the others keep their order
           R"([{"op":"remove","path":"/n"},{"op":"set","path":"/n","value":1}])",  // back, last
           R"([{"op":"incr","path":"/n","value":41}])",
           R"([{"op":"incr","path":"/n","value":-3}])",
           R"([{"op":"incr","path":"/count","value":5}])",                 // a missing member is the increment
           R"([{"op":"incr","path":"/n","value":9223372036854775806}])",    // up to the 64-bit range
       }) {
    EXPECT_TRUE(PatchAgrees(stored, Json::parse(ops), pk)) << ops;
  }
  EXPECT_EQ(*PatchPlainDocument(R"({"id":"r","pk":"p","n":1,"m":2})",
                                Json::parse(R"([{"op":"incr","path":"/n","value":41},{"op":"remove","path":"/m"}])"), pk),
            R"({"id":"r","pk":"p","n":42})");
  // What the full path does (or refuses): nested paths, other operations, the
  // id, system properties, ttl, the partition key, a replace or remove of a
  // missing member, an incr of what is not an integer or past the range,
  // values the serialiser escapes.
  for (const char* ops : {
           R"([{"op":"set","path":"/o/k","value":1}])",
           R"([{"op":"incr","path":"/o/k/0","value":1}])",
           R"([{"op":"move","from":"/n","path":"/m"}])",
           R"([{"op":"Set","path":"/n","value":1}])",
           R"([{"op":"set","path":"/id","value":"x"}])",
           R"([{"op":"set","path":"/_ts","value":1}])",
           R"([{"op":"set","path":"/ttl","value":60}])",
           R"([{"op":"set","path":"/pk","value":"p2"}])",
           R"([{"op":"remove","path":"/pk"}])",
           R"([{"op":"replace","path":"/missing","value":1}])",
           R"([{"op":"remove","path":"/missing"}])",
           R"([{"op":"incr","path":"/total","value":1}])",                 // a fraction: added as a double
           R"([{"op":"incr","path":"/n","value":0.5}])",
           R"([{"op":"incr","path":"/o","value":1}])",                     // not a number: an error
           R"([{"op":"incr","path":"/n","value":"1"}])",
           R"([{"op":"incr","path":"/n","value":9223372036854775807}])",   // past the range
           R"([{"op":"incr","path":"/n","value":18446744073709551615}])",
           R"([{"op":"incr","path":"/n"}])",
           R"([{"op":"set","path":"/n","value":"say \"hi\""}])",
           R"([{"op":"set","path":"/n"}])",
           R"([{"op":"set","path":"/a~1b","value":1}])",
           R"([])",
       }) {
    EXPECT_FALSE(PatchPlainDocument(stored, Json::parse(ops), pk).has_value()) << ops;
  }
  // A stored text with a ttl, or not kept as written, takes the full path.
  const Json set_n = Json::parse(R"([{"op":"set","path":"/n","value":2}])");
  EXPECT_FALSE(PatchPlainDocument(R"({"id":"r","pk":"p","ttl":60,"n":1})", set_n, pk).has_value());
  EXPECT_FALSE(PatchPlainDocument(R"({"id":"r","pk":"p","m":1.50,"n":1})", set_n, pk).has_value());
  EXPECT_FALSE(PatchPlainDocument(R"({"id":"r","pk":"p","s":"a\"b"})", set_n, pk).has_value());
  EXPECT_FALSE(PatchPlainDocument(R"({"id":"r", "pk":"p"})", set_n, pk).has_value());
  EXPECT_FALSE(PatchPlainDocument(R"({"id":"r","o":{"k":1,"k":2}})", set_n, pk).has_value());
  EXPECT_FALSE(PatchPlainDocument(R"({"id":"r","_ts":1,"_ts":2})", set_n, pk).has_value());
  EXPECT_FALSE(PatchPlainDocument(R"({"id":"r","n":1)", set_n, pk).has_value());
  EXPECT_FALSE(PatchPlainDocument(R"({"id":"r","_ts":tru})", set_n, pk).has_value());
}

TEST(PlainDocumentTest, RandomPatchesAgreeWithTheFullPath) {
  const std::vector<std::vector<std::string>> pk_paths = {{"/pk"}, {"/t/u"}, {"/pk", "/t/u"}};
  int fast = 0, total = 0;
  std::map<std::string, int> fast_kinds;  // operations in patches the fast path took
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    Generator gen(seed);
    for (int i = 0; i < 500; ++i) {
      const std::string stored = gen.Stored();
      const Json ops = gen.Operations();
      for (const auto& paths : pk_paths) {
        ++total;
        if (PatchAgrees(stored, ops, paths)) {
          ++fast;
          for (const Json& op : ops) ++fast_kinds[op["op"].get<std::string>()];
        }
        if (::testing::Test::HasFailure()) return;  // the first disagreement is enough
      }
    }
  }
  // Both paths are exercised (most generated texts have an escape, a space
  // or a number the serialiser rewrites somewhere: the full path's).
  EXPECT_GT(fast, 500);
  EXPECT_LT(fast, total * 9 / 10);
  for (const char* kind : {"add", "set", "replace", "remove", "incr"}) EXPECT_GT(fast_kinds[kind], 25) << kind;
}

TEST(PlainDocumentTest, RandomDocumentsAgreeWithTheFullPath) {
  const std::vector<ContainerInfo> infos = {Info({"/pk"}), Info({"/t/u"}), Info({"/pk", "/t/u"})};
  int fast = 0, total = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    Generator gen(seed);
    for (int i = 0; i < 500; ++i) {
      const std::string body = gen.Document();
      for (const auto& info : infos) {
        ++total;
        if (Agrees(body, info)) ++fast;
        if (::testing::Test::HasFailure()) return;  // the first disagreement is enough
      }
    }
  }
  // Both paths are exercised.
  EXPECT_GT(fast, total / 20);
  EXPECT_LT(fast, total * 9 / 10);
}

}  // namespace
}  // namespace regionlab::server
