#include "cli/conflicts.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <vector>

#include "client/cosmos_client.h"

namespace regionlab::cli {

using client::CosmosClient;
using client::CosmosClientOptions;
namespace {

using Json = nlohmann::ordered_json;

CosmosClient MakeClient(const ConflictsArgs& args) {
  CosmosClientOptions o;
  o.endpoint = args.endpoint;
  if (!args.key.empty()) o.key = args.key;
  o.ca_file = args.ca_cert;
  o.timeout = std::chrono::milliseconds(15000);
  return CosmosClient(o);
}

Result<Json> GetJson(CosmosClient& c, const std::string& path) {
  auto resp = c.Request("GET", path);
  if (!resp.ok()) return resp.status();
  if (!resp->ok()) return StatusFromResponse(*resp);
  Json j = Json::parse(resp->body, nullptr, false);
  if (j.is_discarded()) return Status::Internal("GET " + path + " answered something that is not JSON");
  return j;
}

// Every item of a paged feed under `array`.
Result<Json> ReadAll(CosmosClient& c, const std::string& path, const char* array) {
  auto all = c.ReadAllPages(path, array);
  if (!all.ok()) return all.status();
  Json items = Json::parse(*all, nullptr, false);
  if (!items.is_array()) return Status::Internal("read feed of " + path + ": not a JSON array");
  return items;
}

Status RequireContainer(const ConflictsArgs& args) {
  if (args.database.empty() || args.container.empty()) {
    return Status::BadRequest("name the container: --db DATABASE --container CONTAINER");
  }
  return Status::Ok();
}

std::string ConflictPath(const ConflictsArgs& args, const std::string& id) {
  return "/dbs/" + args.database + "/colls/" + args.container + "/conflicts" + (id.empty() ? "" : "/" + id);
}

}  // namespace

Status ConflictsList(const ConflictsArgs& args, std::ostream& out) {
  CosmosClient c = MakeClient(args);
  std::vector<std::pair<std::string, std::string>> containers;
  if (!args.database.empty() && !args.container.empty()) {
    containers.emplace_back(args.database, args.container);
  } else {
    std::vector<std::string> dbs;
    if (!args.database.empty()) {
      dbs.push_back(args.database);
    } else {
      auto all = ReadAll(c, "/dbs", "Databases");
      if (!all.ok()) return all.status();
      for (const auto& d : *all) dbs.push_back(d.value("id", ""));
    }
    for (const auto& db : dbs) {
      auto colls = ReadAll(c, "/dbs/" + db + "/colls", "DocumentCollections");
      if (!colls.ok()) return colls.status();
      for (const auto& coll : *colls) {
        std::string id = coll.value("id", "");
        if (args.container.empty() || args.container == id) containers.emplace_back(db, id);
      }
    }
  }
  Json all = Json::array();
  for (const auto& [db, coll] : containers) {
    auto items = ReadAll(c, "/dbs/" + db + "/colls/" + coll + "/conflicts", "Conflicts");
    if (!items.ok()) return items.status();
    for (auto& item : *items) {
      item["database"] = db;
      item["container"] = coll;
      all.push_back(std::move(item));
    }
  }
  if (args.json) {
    out << all.dump() << "\n";
    return Status::Ok();
  }
  char line[512];
  std::snprintf(line, sizeof line, "%-24s %-26s %-9s %-20s %-12s %-12s %s\n", "CONTAINER", "ID", "OP", "DOCUMENT",
                "LOSER", "WINNER", "REASON");
  out << line;
  for (const auto& item : all) {
    const Json ext = item.value("regionlab", Json::object());
    std::string where = item.value("database", "") + "/" + item.value("container", "");
    std::string doc = ext.value("documentId", item.value("resourceId", ""));
    std::string loser = ext.contains("loser") ? ext["loser"].value("region", "") : "";
    std::string winner = ext.contains("winner") ? ext["winner"].value("region", "") : "";
    std::snprintf(line, sizeof line, "%-24s %-26s %-9s %-20s %-12s %-12s %s\n", where.c_str(),
                  item.value("id", "").c_str(), item.value("operationType", "").c_str(), doc.c_str(), loser.c_str(),
                  winner.c_str(), ext.value("reason", "").c_str());
    out << line;
  }
  if (all.empty()) out << "(no conflicts)\n";
  return Status::Ok();
}

Status ConflictsShow(const ConflictsArgs& args, const std::string& id, std::ostream& out) {
  RL_RETURN_IF_ERROR(RequireContainer(args));
  CosmosClient c = MakeClient(args);
  auto item = GetJson(c, ConflictPath(args, id));
  if (!item.ok()) return item.status();
  if (item->contains("content") && (*item)["content"].is_string()) {
    Json decoded = Json::parse((*item)["content"].get<std::string>(), nullptr, false);
    if (!decoded.is_discarded()) (*item)["contentDecoded"] = decoded;
  }
  out << item->dump(2) << "\n";
  return Status::Ok();
}

Status ConflictsDelete(const ConflictsArgs& args, const std::string& id, std::ostream& out) {
  RL_RETURN_IF_ERROR(RequireContainer(args));
  CosmosClient c = MakeClient(args);
  auto resp = c.Request("DELETE", ConflictPath(args, id));
  if (!resp.ok()) return resp.status();
  if (!resp->ok()) return StatusFromResponse(*resp);
  out << Json{{"deleted", id}, {"database", args.database}, {"container", args.container}}.dump() << "\n";
  return Status::Ok();
}

Subcommand AddConflictsCommand(CLI::App& root) {
  struct State {
    ConflictsArgs args;
    std::string id;
    CLI::App *list, *show;
  };
  auto st = std::make_shared<State>();
  auto* conflicts = root.add_subcommand("conflicts", "list, show or delete conflicts of the conflicts feed");
  conflicts->require_subcommand(1);
  auto opts = [st](CLI::App* sub) {
    sub->add_option("--endpoint", st->args.endpoint, "a region's data-plane URL")->capture_default_str();
    sub->add_option("--key", st->args.key, "account key (default: the emulator key)");
    sub->add_option("--ca-cert", st->args.ca_cert, "https: the CA file to trust (up --tls prints it as caCert)")
        ->envname("REGIONLAB_CA_CERT");
    sub->add_option("--db", st->args.database, "database id");
    sub->add_option("--container", st->args.container, "container id");
  };
  st->list = conflicts->add_subcommand("list", "conflicts of one container, or of every container");
  opts(st->list);
  st->list->add_flag("--json", st->args.json, "print one JSON array instead of a table");
  st->show = conflicts->add_subcommand("show", "one conflict, with its losing version decoded");
  opts(st->show);
  // A conflict id is base64 and may start with '-': --id=ID (or `-- ID`) then.
  st->show->add_option("id,--id", st->id, "conflict id (one that starts with '-': --id=ID)")->required();
  auto* del = conflicts->add_subcommand("delete", "delete one conflict (in every region)");
  opts(del);
  del->add_option("id,--id", st->id, "conflict id (one that starts with '-': --id=ID)")->required();
  return {conflicts, [st] {
            Status s = st->list->parsed()   ? ConflictsList(st->args, std::cout)
                       : st->show->parsed() ? ConflictsShow(st->args, st->id, std::cout)
                                            : ConflictsDelete(st->args, st->id, std::cout);
            if (!s.ok()) {
              std::cerr << "conflicts: " << s.message() << "\n";
              return 1;
            }
            return 0;
          }};
}

}  // namespace regionlab::cli
