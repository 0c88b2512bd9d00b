#include <nlohmann/json.hpp>

#include "conflictfeed/resolver.h"
#include "base/json_depth.h"

namespace regionlab::conflictfeed {
namespace {

class LastWriterWins final : public ConflictResolver {
 public:
  explicit LastWriterWins(std::string path) : path_(std::move(path)) {
    if (path_.empty()) path_ = "/_ts";
  }
  const char* Name() const override { return "LastWriterWins"; }

  bool Prefers(const storage::Record& a, const storage::Record& b) const override {
    if (a.tombstone != b.tombstone) return a.tombstone;
    double va = Value(a), vb = Value(b);
    if (va != vb) return va > vb;
    if (a.write_micros != b.write_micros) return a.write_micros > b.write_micros;
    if (a.origin_region != b.origin_region) return a.origin_region > b.origin_region;
    return a.etag > b.etag;
  }

 private:
  double Value(const storage::Record& r) const {
    if (r.tombstone || path_ == "/_ts") return static_cast<double>(r.ts);
    auto doc = ParseJsonWithinDepth<nlohmann::json>(r.body);
    if (doc.is_discarded()) return static_cast<double>(r.ts);
    const nlohmann::json* cur = &doc;
    size_t i = 1;
    while (i <= path_.size()) {
      size_t j = path_.find('/', i);
      if (j == std::string::npos) j = path_.size();
      std::string tok = path_.substr(i, j - i);
      if (!cur->is_object()) return static_cast<double>(r.ts);
      auto it = cur->find(tok);
      if (it == cur->end()) return static_cast<double>(r.ts);
      cur = &*it;
      i = j + 1;
    }
    return cur->is_number() ? cur->get<double>() : static_cast<double>(r.ts);
  }

  std::string path_;
};

}  // namespace

std::unique_ptr<ConflictResolver> NewLastWriterWins(std::string path) {
  return std::make_unique<LastWriterWins>(std::move(path));
}

}  // namespace regionlab::conflictfeed
