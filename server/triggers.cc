// Pre- and post-triggers on document writes: a create, upsert, replace or
// delete whose request names triggers (x-ms-documentdb-pre-trigger-include,
// x-ms-documentdb-post-trigger-include, comma-separated ids) runs, under the
// store's write lock, in one transaction:
//
//   1. each pre-trigger, in order, with getContext().getRequest().getBody()
//      returning the document and setBody() replacing it;
//   2. the operation itself, on the (possibly changed) document;
//   3. each post-trigger, in order, with getResponse().getBody() returning
//      the stored document; it may read, query and write documents of the
//      same partition key through getCollection();
//
// and everything the triggers and the operation wrote commits as one store
// write, or nothing does when any of them throws (400) or runs past its time
// budget (408). A trigger must be of the named type (pre/post) and for the
// operation ("all", or the operation's own name), else the request is a 400,
// as in Azure.
#include "server/triggers.h"

#include "base/json_depth.h"
#include "server/charge.h"
#include "server/errors.h"
#include "server/partition_data.h"
#include "storage/keys.h"

namespace regionlab::server {
namespace {

namespace keys = storage::keys;
using storage::Record;

constexpr scripting::Budget kTriggerBudget{2000, 64u * 1024 * 1024};

const char* OpName(TriggerOp op) {
  switch (op) {
    case TriggerOp::kCreate: return "Create";
    case TriggerOp::kUpsert: return "Upsert";
    case TriggerOp::kReplace: return "Replace";
    case TriggerOp::kDelete: return "Delete";
  }
  return "";
}

// Whether a trigger declared for `declared` ("all", "create", ...) runs on `op`.
bool Applies(const std::string& declared, TriggerOp op) {
  const std::string d = ToLower(declared);
  if (d == "all") return true;
  switch (op) {
    case TriggerOp::kCreate: return d == "create";
    case TriggerOp::kUpsert: return d == "create" || d == "replace" || d == "update" || d == "upsert";
    case TriggerOp::kReplace: return d == "replace" || d == "update";
    case TriggerOp::kDelete: return d == "delete";
  }
  return false;
}

std::vector<std::string> Names(const std::string* header) {
  std::vector<std::string> out;
  if (!header) return out;
  size_t start = 0;
  while (start <= header->size()) {
    size_t comma = header->find(',', start);
    if (comma == std::string::npos) comma = header->size();
    std::string name = header->substr(start, comma - start);
    while (!name.empty() && name.front() == ' ') name.erase(name.begin());
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (!name.empty()) out.push_back(name);
    start = comma + 1;
  }
  return out;
}

// The sources of the named triggers, checked for type and operation.
Result<std::vector<std::string>> LoadTriggers(RequestContext& ctx, const ContainerInfo& info,
                                              const std::vector<std::string>& names, const char* type, TriggerOp op) {
  std::vector<std::string> sources;
  const std::string coll_rid = RidBytes(info.record.rid).value_or("");
  for (const std::string& name : names) {
    auto rec = ctx.region.store->Get(keys::Trigger(coll_rid, name));
    if (!rec.ok()) return rec.status();
    if (!rec->has_value() || (*rec)->tombstone) {
      return Status::BadRequest("The trigger '" + name + "' named in the request does not exist in this container.");
    }
    Json t = Json::parse((*rec)->body, nullptr, /*allow_exceptions=*/false);
    if (!t.is_object()) return Status::Corruption("trigger '" + name + "' is not JSON");
    if (ToLower(t.value("triggerType", "")) != type) {
      return Status::BadRequest("The trigger '" + name + "' is a " + t.value("triggerType", "?") +
                                "-trigger; the request names it as a " + type + "-trigger.");
    }
    if (!Applies(t.value("triggerOperation", ""), op)) {
      return Status::BadRequest("The trigger '" + name + "' is for operation '" + t.value("triggerOperation", "?") +
                                "', not " + OpName(op) + ".");
    }
    sources.push_back(t.value("body", ""));
  }
  return sources;
}

std::string PreWrapper(const std::string& source, TriggerOp op) {
  return std::string("function __regionlabPreTrigger(__body) {\n") +
         "  var __ctx = getContext(), __req = __ctx.getRequest(), __cur = __body;\n"
         "  __req.getBody = function () { return __cur; };\n"
         "  __req.setBody = function (b) { __cur = b; };\n"
         "  __req.getValue = __req.getBody; __req.setValue = __req.setBody;\n"
         "  __req.getOperationType = function () { return '" + OpName(op) + "'; };\n"
         "  (" + source + "\n)();\n"
         "  __ctx.getResponse().setBody(__cur);\n"
         "}\n";
}

std::string PostWrapper(const std::string& source, TriggerOp op) {
  return std::string("function __regionlabPostTrigger(__stored, __body) {\n") +
         "  var __ctx = getContext(), __req = __ctx.getRequest();\n"
         "  __req.getBody = function () { return __body; }; __req.getValue = __req.getBody;\n"
         "  __req.getOperationType = function () { return '" + OpName(op) + "'; };\n"
         "  __ctx.getResponse().setBody(__stored);\n"
         "  (" + source + "\n)();\n"
         "}\n";
}

// A trigger's failure as the client sees it.
HttpResponse TriggerFailure(const Status& s) {
  if (s.code() == StatusCode::kUnavailable && s.message().find("time budget") != std::string::npos) {
    Json body = {{"code", "RequestTimeout"},
                 {"message", "A trigger exceeded its allowed execution time and was stopped; nothing was committed."}};
    return JsonResponse(408, body.dump());
  }
  return ErrorResponse(s);
}

}  // namespace

bool NamesTriggers(const HttpRequest& request) {
  return request.Header("x-ms-documentdb-pre-trigger-include") ||
         request.Header("x-ms-documentdb-post-trigger-include");
}

HttpResponse WriteWithTriggers(RequestContext& ctx, const ContainerInfo& info, TriggerOp op, const std::string& pk,
                               const std::string& id, const Json* body) {
  auto pres = LoadTriggers(ctx, info, Names(ctx.request.Header("x-ms-documentdb-pre-trigger-include")), "pre", op);
  if (!pres.ok()) return ErrorResponse(pres.status());
  auto posts = LoadTriggers(ctx, info, Names(ctx.request.Header("x-ms-documentdb-post-trigger-include")), "post", op);
  if (!posts.ok()) return ErrorResponse(posts.status());
  std::optional<std::string> if_match;
  if (const std::string* h = ctx.request.Header("if-match")) if_match = *h;
  const std::string key = keys::Document(RidBytes(info.record.rid).value_or(""), pk, id);
  const std::string request_body = body ? body->dump() : "null";

  std::optional<Record> stored;
  std::string response_body;
  bool existed = false;
  auto commit = ctx.region.store->Write([&](const storage::WriteContext& w) -> Result<storage::WriteSet> {
    PartitionData data(ctx, info, pk, w);
    auto before = data.Read(id);
    if (!before.ok()) return before.status();
    existed = before->has_value();
    std::string doc = request_body;
    for (const std::string& source : *pres) {
      auto ran = scripting::Run(PreWrapper(source, op), "[" + doc + "]", data, kTriggerBudget);
      if (!ran.ok()) return ran.status();
      doc = ran->body_json;
    }
    Result<std::string> written = std::string();
    switch (op) {
      case TriggerOp::kCreate: written = data.Create(doc); break;
      case TriggerOp::kUpsert: written = data.Upsert(doc); break;
      case TriggerOp::kReplace: written = data.Replace(id, doc, if_match); break;
      case TriggerOp::kDelete: {
        Status s = data.Delete(id, if_match);
        if (!s.ok()) return s;
        written = std::string("null");
        break;
      }
    }
    if (!written.ok()) return written.status();
    response_body = *written;
    for (const std::string& source : *posts) {
      auto ran = scripting::Run(PostWrapper(source, op), "[" + response_body + "," + request_body + "]", data,
                                kTriggerBudget);
      if (!ran.ok()) return ran.status();
      if (ran->body_json != "null") response_body = ran->body_json;
    }
    storage::WriteSet set;
    for (const auto& [k, rec] : data.writes()) {
      if (k == key) stored = rec;
      set.puts.emplace_back(k, rec);
    }
    return set;
  });
  if (!commit.ok()) return TriggerFailure(commit.status());
  ctx.session_lsn = commit->lsn;
  const size_t triggers = pres->size() + posts->size();
  if (op == TriggerOp::kDelete) {
    ctx.request_charge = DeleteCharge(0) + 5.0 * static_cast<double>(triggers);
    return JsonResponse(204, "");
  }
  if (!stored) return ErrorResponse(Status::Internal("the write made by a triggered request was not staged"));
  const bool replaced = op == TriggerOp::kReplace || existed;
  ctx.request_charge = (replaced ? ReplaceCharge(stored->body.size()) : CreateCharge(stored->body.size())) +
                       5.0 * static_cast<double>(triggers);
  HttpResponse resp = RecordResponse(replaced ? 200 : 201, *stored);
  resp.body = response_body;
  return resp;
}

}  // namespace regionlab::server
