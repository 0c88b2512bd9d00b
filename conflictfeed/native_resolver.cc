#include "conflictfeed/native_resolver.h"
#include "base/json_depth.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <mutex>

#include "conflictfeed/json_util.h"

namespace regionlab::conflictfeed {
namespace {

using Json = nlohmann::ordered_json;

// Top-level properties of every version; on disagreement the later version
// in `versions` (the one last-writer-wins prefers) gives the value.
class MergeFields final : public NativeResolver {
 public:
  const char* Name() const override { return "merge-fields"; }
  Status ValidateArgument(std::string_view argument) const override {
    if (!argument.empty()) return Status::BadRequest("native:merge-fields takes no argument.");
    return Status::Ok();
  }
  Decision Resolve(const std::vector<storage::Record>& versions, std::string_view) const override {
    for (const auto& v : versions) {
      if (v.tombstone) return Decision::Delete();
    }
    Json merged = Json::object();
    for (const auto& v : versions) {
      Json doc = ParseJsonWithinDepth<Json>(v.body);
      if (!doc.is_object()) return Decision::Feed("a version is not a JSON object");
      for (auto it = doc.begin(); it != doc.end(); ++it) merged[it.key()] = it.value();
    }
    for (const char* p : storage::kDocumentSystemProperties) merged.erase(p);
    return Decision::Write(merged.dump());
  }
};

// The version with the highest number at a path; ties and non-numbers go to
// the feed.
class Highest final : public NativeResolver {
 public:
  const char* Name() const override { return "highest"; }
  Status ValidateArgument(std::string_view argument) const override {
    if (argument.size() < 2 || argument[0] != '/') {
      return Status::BadRequest("native:highest needs a property path, e.g. native:highest:/version.");
    }
    return Status::Ok();
  }
  Decision Resolve(const std::vector<storage::Record>& versions, std::string_view argument) const override {
    for (size_t i = 0; i < versions.size(); ++i) {
      if (versions[i].tombstone) return Decision::Keep(i);  // a delete wins
    }
    std::string pointer(argument);
    double best = 0;
    size_t best_index = 0, at_best = 0;
    for (size_t i = 0; i < versions.size(); ++i) {
      Json doc = ParseJsonWithinDepth<Json>(versions[i].body);
      const Json* v = internal::FindAtPointer(doc, pointer);
      if (!v || !v->is_number()) {
        return Decision::Feed("a version has no number at " + pointer);
      }
      double x = v->get<double>();
      if (i == 0 || x > best) {
        best = x;
        best_index = i;
        at_best = 1;
      } else if (x == best) {
        at_best++;
      }
    }
    if (at_best > 1) return Decision::Feed("versions tie on " + pointer);
    return Decision::Keep(best_index);
  }
};

struct Registry {
  std::mutex mu;
  std::map<std::string, std::unique_ptr<NativeResolver>, std::less<>> by_name;
  Registry() {
    for (auto* r : std::initializer_list<NativeResolver*>{new MergeFields, new Highest}) {
      by_name.emplace(r->Name(), std::unique_ptr<NativeResolver>(r));
    }
  }
};

Registry& GetRegistry() {
  static Registry* registry = new Registry;  // never destroyed: used until exit
  return *registry;
}

}  // namespace

bool RegisterNativeResolver(std::unique_ptr<NativeResolver> resolver) {
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  std::string name = resolver->Name();
  return r.by_name.emplace(std::move(name), std::move(resolver)).second;
}

const NativeResolver* FindNativeResolver(std::string_view name) {
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.by_name.find(name);
  return it == r.by_name.end() ? nullptr : it->second.get();
}

std::vector<std::string> NativeResolverNames() {
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  std::vector<std::string> names;
  for (const auto& [name, _] : r.by_name) names.push_back(name);
  return names;
}

bool ParseNativeProcedure(std::string_view procedure, std::string* name, std::string* argument) {
  constexpr std::string_view kPrefix = "native:";
  if (!procedure.starts_with(kPrefix)) return false;
  procedure.remove_prefix(kPrefix.size());
  size_t colon = procedure.find(':');
  *name = std::string(procedure.substr(0, colon));
  *argument = colon == std::string_view::npos ? std::string() : std::string(procedure.substr(colon + 1));
  return !name->empty();
}

}  // namespace regionlab::conflictfeed
