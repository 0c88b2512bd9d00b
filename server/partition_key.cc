// Partition keys: extracted from a document by the container's paths, or read
// from the x-ms-documentdb-partitionkey header, always as the same canonical
// JSON array text, which is also the key's byte form in storage.
#include <cmath>

#include "server/handlers.h"

namespace regionlab::server {
namespace {

// Numbers compare by value: 5 and 5.0 are the same partition key.
Json CanonicalValue(const Json& v) {
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.0e15) {
      return Json(static_cast<int64_t>(d));
    }
    return v;
  }
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(INT64_MAX)) return Json(static_cast<int64_t>(u));
    return v;
  }
  if (v.is_string() || v.is_boolean() || v.is_null() || v.is_number_integer()) return v;
  return Json::object();  // undefined / "none"
}

}  // namespace

std::vector<std::string> PartitionKeyPathTokens(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 1;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string ExtractPartitionKey(const Json& doc, const std::vector<std::string>& paths) {
  Json values = Json::array();
  for (const auto& path : paths) {
    const Json* cur = &doc;
    bool found = true;
    for (const auto& tok : PartitionKeyPathTokens(path)) {
      if (!cur->is_object()) {
        found = false;
        break;
      }
      auto it = cur->find(tok);
      if (it == cur->end()) {
        found = false;
        break;
      }
      cur = &*it;
    }
    values.push_back(found ? CanonicalValue(*cur) : Json::object());
  }
  return values.dump();
}

bool IsPlainStringKey(std::string_view header) {
  if (header.size() < 4 || header.substr(0, 2) != "[\"" || header.substr(header.size() - 2) != "\"]") return false;
  for (char c : header.substr(2, header.size() - 4)) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

Result<std::string> CanonicalPartitionKey(std::string_view header, size_t path_count) {
  if (path_count == 1 && IsPlainStringKey(header)) return std::string(header);
  Json v = Json::parse(header, nullptr, false);
  if (v.is_discarded() || !v.is_array()) {
    return Status::BadRequest("The partition key header '" + std::string(header) +
                              "' is not a JSON array such as [\"value\"].");
  }
  if (v.empty()) v.push_back(Json::object());
  if (v.size() != path_count) {
    return Status::BadRequest("The partition key " + std::string(header) + " has " + std::to_string(v.size()) +
                              " component(s); the container's partition key has " +
                              std::to_string(path_count) + " path(s).");
  }
  Json out = Json::array();
  for (const auto& e : v) {
    if (e.is_object() && !e.empty()) {
      return Status::BadRequest("A partition key value must be a string, number, boolean, null or {} (none).");
    }
    if (e.is_array()) return Status::BadRequest("A partition key value cannot be an array.");
    out.push_back(CanonicalValue(e));
  }
  return out.dump();
}

}  // namespace regionlab::server
