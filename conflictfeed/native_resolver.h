// Native resolvers: conflict resolution compiled into regionlab.
//
// A container selects one with a Custom policy whose procedure names it:
//
//   "conflictResolutionPolicy": {"mode": "Custom",
//                                "conflictResolutionProcedure": "native:NAME[:ARGUMENT]"}
//
// NAME is looked up in a process-wide registry; ARGUMENT (everything after the
// second colon, possibly empty) is passed to the resolver. An unknown NAME is
// refused with 400 when the container is created.
//
// Built in:
//   native:merge-fields     merges the top-level properties of every version;
//                           where versions disagree on a property, the version
//                           that last-writer-wins on _ts prefers gives it. A
//                           delete wins over the merge.
//   native:highest:/PATH    keeps the version with the highest number at PATH
//                           (e.g. native:highest:/version); a tie on the
//                           highest value, or a version without a number
//                           there, sends the conflict to the feed.
//
// Adding one: implement NativeResolver and register it before the regions
// start, e.g. from main() or a static initializer in a file linked into the
// binary:
//
//   class KeepLargestTotal final : public NativeResolver { ... };
//   static const bool registered =
//       RegisterNativeResolver(std::make_unique<KeepLargestTotal>());
//
// The contract is the ConflictResolver one: deterministic, free of side
// effects, thread-safe; the decision must not depend on the order of
// `versions` beyond the canonical order it is given in.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "storage/types.h"

namespace regionlab::conflictfeed {

// What a resolver decided for a set of concurrent versions.
struct Decision {
  enum class Kind {
    kKeep,    // keep versions[index] as it is
    kWrite,   // store `body` (a JSON object: the document without system properties)
    kDelete,  // delete the document
    kFeed,    // leave the conflict to the application: it goes to the conflicts feed
  };
  Kind kind = Kind::kFeed;
  size_t index = 0;
  std::string body;
  std::string reason;  // for kFeed: why (shown in the conflict record)

  static Decision Keep(size_t i) { return {Kind::kKeep, i, {}, {}}; }
  static Decision Write(std::string b) { return {Kind::kWrite, 0, std::move(b), {}}; }
  static Decision Delete() { return {Kind::kDelete, 0, {}, {}}; }
  static Decision Feed(std::string why) { return {Kind::kFeed, 0, {}, std::move(why)}; }
};

class NativeResolver {
 public:
  virtual ~NativeResolver() = default;
  // The NAME in "native:NAME".
  virtual const char* Name() const = 0;
  // Checks the ARGUMENT when a container names this resolver; an error is
  // the 400 the container create answers.
  virtual Status ValidateArgument(std::string_view argument) const { return Status::Ok(); }
  // `versions`: pairwise concurrent versions of one document (two or more),
  // ordered from the one last-writer-wins on _ts likes least to the one it
  // likes most. Bodies are the stored JSON (with system properties);
  // tombstones have an empty body.
  virtual Decision Resolve(const std::vector<storage::Record>& versions, std::string_view argument) const = 0;
};

// Registers `resolver` under its Name(); returns false (and drops it) if the
// name is taken. Thread-safe.
bool RegisterNativeResolver(std::unique_ptr<NativeResolver> resolver);
// The resolver registered as `name`, or null.
const NativeResolver* FindNativeResolver(std::string_view name);
// Names of every registered resolver, sorted.
std::vector<std::string> NativeResolverNames();

// Splits "native:NAME[:ARGUMENT]"; false if `procedure` is not of that form.
bool ParseNativeProcedure(std::string_view procedure, std::string* name, std::string* argument);

}  // namespace regionlab::conflictfeed
