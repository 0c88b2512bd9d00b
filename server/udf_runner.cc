#include "server/udf_runner.h"

#include <nlohmann/json.hpp>

#include "scripting/script_host.h"
#include "storage/keys.h"
#include "storage/store.h"

namespace regionlab::server {
namespace {

using Json = nlohmann::json;

// Asks for calls with queryDocuments and answers them with createDocument
// (both call back synchronously), until told the page is done.
std::string DriverSource(const std::map<std::string, std::string>& sources) {
  std::string js = "function __regionlabUdfDriver() {\n  var coll = getContext().getCollection();\n  var fns = {};\n";
  for (const auto& [name, body] : sources) {
    js += "  fns[" + Json(name).dump() + "] = (" + body + "\n);\n";
  }
  js += R"(  for (;;) {
    var call = null;
    coll.queryDocuments(coll.getSelfLink(), 'next', function (err, docs) { if (err) throw err; call = docs[0]; });
    if (!call || call.done) return;
    var out;
    try {
      var f = fns[call.n];
      if (typeof f !== 'function') throw new Error('it is not a function');
      var v = f.apply(null, call.a);
      out = v === undefined ? { u: true } : { v: v };
    } catch (e) {
      out = { e: String(e) };
    }
    coll.createDocument(coll.getSelfLink(), out, function (err) { if (err) throw err; });
  }
}
)";
  return js;
}

}  // namespace

// The DataAccess the driver reaches: Query waits for the next call, Create
// hands back a result. Runs on the sandbox thread.
class UdfRunner::Channel final : public scripting::DataAccess {
 public:
  explicit Channel(UdfRunner& r) : r_(r) {}
  std::string SelfLink() const override { return "dbs/udf/colls/udf"; }
  Result<std::optional<std::string>> Read(const std::string&) override { return Refused(); }
  Result<std::vector<std::string>> Query(const std::string&) override {
    std::unique_lock<std::mutex> lock(r_.mu_);
    r_.cv_.wait(lock, [&] { return r_.request_.has_value() || r_.closing_; });
    if (!r_.request_) return std::vector<std::string>{"{\"done\":true}"};
    std::vector<std::string> out{std::move(*r_.request_)};
    r_.request_.reset();
    return out;
  }
  Result<std::string> Create(const std::string& doc_json) override {
    {
      std::lock_guard<std::mutex> lock(r_.mu_);
      r_.reply_ = doc_json;
    }
    r_.cv_.notify_all();
    return doc_json;
  }
  Result<std::string> Upsert(const std::string&) override { return Refused(); }
  Result<std::string> Replace(const std::string&, const std::string&, const std::optional<std::string>&) override {
    return Refused();
  }
  Status Delete(const std::string&, const std::optional<std::string>&) override { return Refused(); }

 private:
  static Status Refused() { return Status::BadRequest("a user-defined function cannot read or write documents"); }
  UdfRunner& r_;
};

UdfRunner::UdfRunner(std::map<std::string, std::string> sources, int64_t budget_ms)
    : sources_(std::move(sources)), budget_ms_(budget_ms) {}

UdfRunner::~UdfRunner() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  if (session_.joinable()) session_.join();
}

void UdfRunner::Fail(Status s) {
  if (status_.ok()) status_ = std::move(s);
}

query::Value UdfRunner::Call(const std::string& name, const query::Value* args, int n) {
  if (!status_.ok()) return query::Value();
  if (!sources_.count(name)) {
    Fail(Status::BadRequest("Unknown user-defined function 'udf." + name +
                            "': this container has no user-defined function with that id."));
    return query::Value();
  }
  std::string request = "{\"n\":" + Json(name).dump() + ",\"a\":[";
  for (int i = 0; i < n; ++i) {
    if (i) request += ',';
    // undefined has no JSON form: the function receives null in its place.
    request += args[i].is_defined() ? args[i].ToJson() : "null";
  }
  request += "]}";
  if (!session_.joinable()) {
    channel_ = std::make_unique<Channel>(*this);
    session_ = std::thread([this, source = DriverSource(sources_)] {
      scripting::Budget budget;
      budget.time_ms = budget_ms_;
      auto run = scripting::Run(source, "[]", *channel_, budget);
      {
        std::lock_guard<std::mutex> lock(mu_);
        ended_ = true;
        run_status_ = run.ok() ? Status::Ok() : run.status();
      }
      cv_.notify_all();
    });
  }
  ++calls_;
  std::string reply;
  {
    std::unique_lock<std::mutex> lock(mu_);
    request_ = std::move(request);
    cv_.notify_all();
    cv_.wait(lock, [&] { return reply_.has_value() || ended_; });
    if (!reply_) {
      const Status& s = run_status_;
      Fail(Status::BadRequest("The user-defined function 'udf." + name + "' failed: " +
                              (s.ok() ? std::string("the sandbox ended") : s.message())));
      return query::Value();
    }
    reply = std::move(*reply_);
    reply_.reset();
  }
  Json j = Json::parse(reply, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    Fail(Status::Internal("the sandbox answered a user-defined function call with '" + reply + "'"));
    return query::Value();
  }
  if (j.contains("e")) {
    Fail(Status::BadRequest("Encountered exception while executing user-defined function 'udf." + name +
                            "': " + j["e"].get<std::string>()));
    return query::Value();
  }
  if (j.contains("u")) return query::Value();
  auto v = query::ParseJson(j["v"].dump());
  if (!v.ok()) {
    Fail(v.status());
    return query::Value();
  }
  return std::move(*v);
}

Result<std::map<std::string, std::string>> LoadUdfSources(const storage::Store& store,
                                                          const std::string& coll_rid_bytes) {
  std::map<std::string, std::string> out;
  Status s = store.Scan(storage::keys::UdfPrefix(coll_rid_bytes), "", false,
                        [&](std::string_view, storage::Record&& r) {
                          Json doc = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
                          if (doc.is_object() && doc.contains("body") && doc["body"].is_string()) {
                            out[r.id] = doc["body"].get<std::string>();
                          }
                          return true;
                        });
  if (!s.ok()) return s;
  return out;
}

}  // namespace regionlab::server
