// The regionlab binary: one subcommand per cli/<name>.cc. `up` starts a
// cluster of regions in one process (`serve` one region); `status`, `fault`
// and `conflicts` talk to a running one; `bench` measures one. Logs go to
// stderr; stdout carries only machine-readable output (the ready line, JSON
// answers, tables asked for).
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "base/logging.h"
#include "bench/bench_command.h"
#include "cli/cluster_commands.h"
#include "cli/conflicts.h"
#include "cli/fault.h"
#include "cli/check.h"
#include "cli/frontdoor.h"
#include "cli/splitbrain.h"
#include "cli/status.h"
#include "scripting/script_host.h"

int main(int argc, char** argv) {
  namespace cli = regionlab::cli;
  CLI::App app{"regionlab: a local multi-region Cosmos DB-compatible document store"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off")->capture_default_str();

  const cli::Subcommand up = cli::AddUpCommand(app);
  auto bench = regionlab::bench::AddBenchCommand(app);
  const cli::Subcommand serve = cli::AddServeCommand(app);
  const std::vector<cli::Subcommand> commands = {
      up, serve, cli::AddStatusCommand(app), cli::AddConflictsCommand(app), cli::AddFaultCommand(app),
      cli::AddSplitBrainCommand(app), cli::AddCheckCommand(app), cli::AddFrontDoorCommand(app)};

  std::vector<std::string> args(argv, argv + argc);
  cli::RewriteNegativeSkew(args);
  std::vector<char*> argp;
  for (auto& a : args) argp.push_back(a.data());
  CLI11_PARSE(app, static_cast<int>(argp.size()), argp.data());

  if (up.app->parsed() || serve.app->parsed()) {
    // The JavaScript helper process forks from this still-small process, so
    // that running a procedure later does not fork the whole server.
    regionlab::scripting::StartHelper();
  }
  regionlab::InitLogging(log_level);
  for (const cli::Subcommand& c : commands) {
    if (c.app->parsed()) return c.run();
  }
  if (bench->parsed()) return bench->Run();
  return 2;
}
