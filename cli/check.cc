#include "cli/check.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "cli/admin_auth.h"
#include "cli/fault.h"

namespace regionlab::cli {

Subcommand AddCheckCommand(CLI::App& root) {
  struct State {
    std::string admin = "http://127.0.0.1:8090/";
    AdminCredentials creds;
    std::string history;
    std::string wait = "0s";
    bool json = false;
  };
  auto st = std::make_shared<State>();
  auto* cmd = root.add_subcommand("check", "check that every acknowledged write of a recorded history is accounted for");
  cmd->add_option("history", st->history, "JSONL file: one acknowledged write per line")->required();
  cmd->add_option("--admin", st->admin, "management API URL")->capture_default_str();
  cmd->add_option("--wait", st->wait, "keep checking while writes are only pending (not yet replicated), up to this long")
      ->capture_default_str();
  cmd->add_flag("--json", st->json, "print the JSON answer of POST /check on stdout");
  AddAdminCredentialOptions(cmd, &st->creds);
  return {cmd, [st]() -> int {
            auto wait = ParseDurationMs(st->wait, false);
            if (!wait.ok()) {
              std::cerr << "check: " << wait.status().message() << "\n";
              return 2;
            }
            std::ifstream in(st->history, std::ios::binary);
            if (!in) {
              std::cerr << "check: cannot read " << st->history << "\n";
              return 2;
            }
            std::stringstream buf;
            buf << in.rdbuf();
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(*wait);
            nlohmann::json j;
            std::string raw;
            for (;;) {
              std::ostringstream out;
              Status s = AdminRequest(st->admin, "POST", "/check", buf.str(), out, st->creds);
              if (!s.ok()) {
                std::cerr << "check: " << s.message() << "\n";
                return 1;
              }
              raw = out.str();
              j = nlohmann::json::parse(raw, nullptr, false);
              if (!j.is_object() || !j.contains("ok")) {
                std::cerr << "check: unexpected answer: " << raw << "\n";
                return 1;
              }
              // Not settled yet (pending writes, or regions still disagreeing): ask again.
              const bool unsettled = !j["ok"].get<bool>() && j["lost"].empty() &&
                                     (!j["pending"].empty() || !j["divergent"].empty());
              if (!unsettled || std::chrono::steady_clock::now() >= deadline) break;
              std::this_thread::sleep_for(std::chrono::milliseconds(200));  // replication still catching up
            }
            if (st->json) std::cout << raw << (raw.ends_with("\n") ? "" : "\n");
            std::cerr << "check: " << j["writes"] << " acknowledged writes in " << j["regions"] << " region(s): "
                      << j["current"] << " current, " << j["superseded"] << " superseded, " << j["inConflictsFeed"]
                      << " in the conflicts feed, " << j["pending"].size() << " pending, " << j["lost"].size()
                      << " LOST, " << j["divergent"].size() << " divergent key(s)\n";
            for (const auto& f : j["lost"]) {
              std::cerr << "  LOST    line " << f["line"] << " " << f["region"].get<std::string>() << " "
                        << f["database"].get<std::string>() << "/" << f["container"].get<std::string>() << "/"
                        << f["id"].get<std::string>() << " " << f["etag"].get<std::string>() << ": "
                        << f["detail"].get<std::string>() << "\n";
            }
            for (const auto& f : j["pending"]) {
              std::cerr << "  pending line " << f["line"] << " " << f["region"].get<std::string>() << " "
                        << f["id"].get<std::string>() << ": " << f["detail"].get<std::string>() << "\n";
            }
            for (const auto& d : j["divergent"]) std::cerr << "  divergent " << d.get<std::string>() << "\n";
            std::cerr << "check: " << j.value("reads", 0) << " reads checked for session guarantees: "
                      << j["sessionViolations"].size() << " violation(s); " << j["duplicateConflicts"].size()
                      << " conflict(s) recorded twice\n";
            for (const auto& v : j["sessionViolations"]) std::cerr << "  SESSION " << v.get<std::string>() << "\n";
            for (const auto& v : j["duplicateConflicts"]) std::cerr << "  DUPLICATE " << v.get<std::string>() << "\n";
            return j["ok"].get<bool>() ? 0 : 1;
          }};
}

}  // namespace regionlab::cli
