#include "cli/splitbrain.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include "base/encoding.h"
#include "cli/admin_auth.h"
#include "cli/fault.h"

namespace regionlab::cli {

Subcommand AddSplitBrainCommand(CLI::App& root) {
  struct State {
    std::string admin = "http://127.0.0.1:8090/";
    AdminCredentials creds;
    std::string window = "1s";
    int64_t since_ms = 0;
    std::string database, container;
    bool json = false;
  };
  auto st = std::make_shared<State>();
  auto* cmd = root.add_subcommand("splitbrain", "documents written in two or more regions within a window");
  cmd->add_option("--admin", st->admin, "management API URL")->capture_default_str();
  cmd->add_option("--window", st->window, "how close two regions' writes must be, e.g. 1s, 500ms")->capture_default_str();
  cmd->add_option("--since-ms", st->since_ms, "only writes at or after this time (ms since the epoch)");
  cmd->add_option("--db", st->database, "only this database");
  cmd->add_option("--container", st->container, "only this container");
  cmd->add_flag("--json", st->json, "print the JSON of GET /splitbrain");
  AddAdminCredentialOptions(cmd, &st->creds);
  return {cmd, [st]() -> int {
            auto window = ParseDurationMs(st->window, false);
            if (!window.ok()) {
              std::cerr << "splitbrain: " << window.status().message() << "\n";
              return 2;
            }
            std::string path = "/splitbrain?windowMs=" + std::to_string(*window);
            if (st->since_ms > 0) path += "&sinceMs=" + std::to_string(st->since_ms);
            if (!st->database.empty()) path += "&database=" + PercentEncodeComponent(st->database);
            if (!st->container.empty()) path += "&container=" + PercentEncodeComponent(st->container);
            std::ostringstream raw;
            Status s = AdminRequest(st->admin, "GET", path, "", raw, st->creds);
            if (!s.ok()) {
              std::cerr << "splitbrain: " << s.message() << "\n";
              return 1;
            }
            if (st->json) {
              std::cout << raw.str();
              return 0;
            }
            auto j = nlohmann::json::parse(raw.str(), nullptr, false);
            if (!j.is_object() || !j.contains("documents")) {
              std::cerr << "splitbrain: unexpected answer: " << raw.str();
              return 1;
            }
            std::printf("%zu document(s) written in two or more regions within %lld ms\n", j["documents"].size(),
                        static_cast<long long>(*window));
            for (const auto& d : j["documents"]) {
              std::printf("%s/%s  id=%s  pk=%s\n", d["database"].get<std::string>().c_str(),
                          d["container"].get<std::string>().c_str(), d["id"].get<std::string>().c_str(),
                          d["partitionKey"].dump().c_str());
              for (const auto& w : d["writes"]) {
                std::printf("    %-12s t=%lld  %s%s  version=%s\n", w["region"].get<std::string>().c_str(),
                            static_cast<long long>(w["timeMs"].get<int64_t>()),
                            w["concurrent"].get<bool>() ? "CONCURRENT" : "ordered",
                            w["delete"].get<bool>() ? " (delete)" : "", w["version"].dump().c_str());
              }
            }
            return 0;
          }};
}

}  // namespace regionlab::cli
