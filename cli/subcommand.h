// One subcommand of the `regionlab` binary. Each cli/<name>.cc has an
// Add<Name>Command(CLI::App& root) that registers the subcommand and its
// options on `root` and returns it with the function that runs it; main()
// parses the command line and runs the one that was selected. The option
// values live in state owned by `run`, so a Subcommand must outlive parsing.
#pragma once

#include <functional>

namespace CLI {
class App;
}  // namespace CLI

namespace regionlab::cli {

struct Subcommand {
  CLI::App* app = nullptr;   // the subcommand as registered on the root app
  std::function<int()> run;  // its process exit code: 0 ok, 1 failed, 2 bad usage
};

}  // namespace regionlab::cli
