// JSON helpers shared by conflictfeed's .cc files (not part of its interface).
#pragma once

#include <nlohmann/json.hpp>

#include <exception>
#include <string>

namespace regionlab::conflictfeed::internal {

// The value at JSON pointer `pointer` ("/a/b") in `doc`, or null when there
// is none or `pointer` is not a valid JSON pointer.
inline const nlohmann::ordered_json* FindAtPointer(const nlohmann::ordered_json& doc, const std::string& pointer) {
  try {
    return &doc.at(nlohmann::ordered_json::json_pointer(pointer));
  } catch (const std::exception&) {
    return nullptr;
  }
}

}  // namespace regionlab::conflictfeed::internal
