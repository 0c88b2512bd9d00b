// `regionlab conflicts list|show|delete`: the conflicts feed from the shell,
// through a region's data-plane port with the account key (the same signed
// REST calls as the SDK's container.conflicts.readAll() / conflict.read() /
// conflict.delete()). Knows the product only from the outside.
#pragma once

#include <ostream>
#include <string>

#include "base/status.h"
#include "cli/subcommand.h"

namespace regionlab::cli {

struct ConflictsArgs {
  std::string endpoint = "http://127.0.0.1:8081/";  // a region's data-plane URL
  std::string key;                                   // empty: the emulator key
  std::string ca_cert;                               // https: the CA to trust (--ca-cert)
  std::string database;                              // empty (list): every database
  std::string container;                             // empty (list): every container
  bool json = false;                                 // list: JSON instead of a table
};

// Lists conflicts: a table (container, id, operation, document, loser and
// winner regions, reason), or with `json` one JSON array of the records,
// each with "database" and "container" added.
Status ConflictsList(const ConflictsArgs& args, std::ostream& out);
// Prints one conflict record (JSON) with its losing version decoded under
// "contentDecoded".
Status ConflictsShow(const ConflictsArgs& args, const std::string& id, std::ostream& out);
// Deletes one conflict (in every region, once replicated).
Status ConflictsDelete(const ConflictsArgs& args, const std::string& id, std::ostream& out);

// `regionlab conflicts list|show|delete`.
Subcommand AddConflictsCommand(CLI::App& root);

}  // namespace regionlab::cli
