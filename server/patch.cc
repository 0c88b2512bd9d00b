// Cosmos partial document update (PATCH): add, set, replace, remove, incr,
// move, on JSON-pointer paths. Operations apply in order to a copy; any
// failure leaves the document unchanged (the caller commits nothing).
#include <cmath>

#include "base/encoding.h"
#include "server/handlers.h"

namespace regionlab::server {
namespace {

Result<std::vector<std::string>> ParsePointer(const Json& path_json, const char* field) {
  if (!path_json.is_string()) {
    return Status::BadRequest(std::string("Patch operation '") + field + "' must be a string path such as '/a/b'.");
  }
  std::string path = path_json.get<std::string>();
  if (path.empty() || path[0] != '/') {
    return Status::BadRequest("Patch path '" + path + "' must start with '/'.");
  }
  std::vector<std::string> tokens;
  size_t i = 1;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string tok = path.substr(i, j - i);
    std::string un;
    for (size_t k = 0; k < tok.size(); ++k) {
      if (tok[k] == '~' && k + 1 < tok.size() && (tok[k + 1] == '0' || tok[k + 1] == '1')) {
        un += tok[k + 1] == '0' ? '~' : '/';
        ++k;
      } else {
        un += tok[k];
      }
    }
    tokens.push_back(un);
    i = j + 1;
  }
  return tokens;
}

std::string JoinPath(const std::vector<std::string>& t) {
  std::string s;
  for (const auto& x : t) s += "/" + x;
  return s;
}

bool ParseIndex(const std::string& tok, size_t* out) {
  if (tok.empty() || tok.size() > 9) return false;
  for (char c : tok) {
    if (c < '0' || c > '9') return false;
  }
  *out = std::stoul(tok);
  return true;
}

// The container of the last token, or an error if the parent is missing.
Result<Json*> Parent(Json& doc, const std::vector<std::string>& tokens) {
  Json* cur = &doc;
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    const std::string& tok = tokens[i];
    if (cur->is_object()) {
      auto it = cur->find(tok);
      if (it == cur->end()) {
        return Status::BadRequest("Patch path '" + JoinPath(tokens) + "': '" + tok + "' does not exist.");
      }
      cur = &*it;
    } else if (cur->is_array()) {
      size_t idx;
      if (!ParseIndex(tok, &idx) || idx >= cur->size()) {
        return Status::BadRequest("Patch path '" + JoinPath(tokens) + "': index '" + tok + "' is out of range.");
      }
      cur = &(*cur)[idx];
    } else {
      return Status::BadRequest("Patch path '" + JoinPath(tokens) + "' goes through a value that is not an object or array.");
    }
  }
  return cur;
}

Json* Find(Json& parent, const std::string& tok) {
  if (parent.is_object()) {
    auto it = parent.find(tok);
    return it == parent.end() ? nullptr : &*it;
  }
  size_t idx;
  if (parent.is_array() && ParseIndex(tok, &idx) && idx < parent.size()) return &parent[idx];
  return nullptr;
}

Status Insert(Json& doc, const std::vector<std::string>& tokens, Json value, bool array_insert) {
  auto parent = Parent(doc, tokens);
  if (!parent.ok()) return parent.status();
  Json& p = **parent;
  const std::string& last = tokens.back();
  if (p.is_object()) {
    p[last] = std::move(value);
    return Status::Ok();
  }
  if (p.is_array()) {
    if (last == "-") {
      p.push_back(std::move(value));
      return Status::Ok();
    }
    size_t idx;
    if (!ParseIndex(last, &idx) || idx > p.size()) {
      return Status::BadRequest("Patch path '" + JoinPath(tokens) + "': array index '" + last + "' is out of range.");
    }
    if (array_insert || idx == p.size()) {
      p.insert(p.begin() + static_cast<long>(idx), std::move(value));
    } else {
      p[idx] = std::move(value);
    }
    return Status::Ok();
  }
  return Status::BadRequest("Patch path '" + JoinPath(tokens) + "': the parent is not an object or array.");
}

Status Remove(Json& doc, const std::vector<std::string>& tokens, Json* removed) {
  auto parent = Parent(doc, tokens);
  if (!parent.ok()) return parent.status();
  Json& p = **parent;
  Json* target = Find(p, tokens.back());
  if (!target) return Status::BadRequest("Patch path '" + JoinPath(tokens) + "' does not exist.");
  if (removed) *removed = *target;
  if (p.is_object()) {
    p.erase(tokens.back());
  } else {
    p.erase(p.begin() + static_cast<long>(std::stoul(tokens.back())));
  }
  return Status::Ok();
}

Status Guard(const std::vector<std::string>& tokens, const std::vector<std::string>& pk_paths) {
  if (tokens.empty() || (tokens.size() == 1 && tokens[0].empty())) {
    return Status::BadRequest("Patch cannot replace the whole document; use replace.");
  }
  const std::string& first = tokens[0];
  if (tokens.size() == 1 && (first == "id" || first == "_rid" || first == "_self" || first == "_etag" ||
                             first == "_ts" || first == "_attachments")) {
    return Status::BadRequest("Patch cannot change the system property '/" + first + "'.");
  }
  std::string path = JoinPath(tokens);
  for (const auto& pk : pk_paths) {
    if (path == pk || pk.starts_with(path + "/")) {
      return Status::BadRequest("Patch cannot change the partition key path '" + pk + "'.");
    }
  }
  return Status::Ok();
}

}  // namespace

Status ApplyPatch(Json& doc, const Json& operations, const std::vector<std::string>& pk_paths) {
  if (!operations.is_array() || operations.empty()) {
    return Status::BadRequest("Patch needs a non-empty array of operations.");
  }
  if (operations.size() > kMaxPatchOperations) {
    return Status::BadRequest("Patch accepts at most 10 operations per request; got " +
                              std::to_string(operations.size()) + ".");
  }
  Json work = doc;
  for (const auto& op : operations) {
    if (!op.is_object() || !op.contains("op") || !op["op"].is_string() || !op.contains("path")) {
      return Status::BadRequest("Each patch operation needs 'op' and 'path': " + op.dump());
    }
    std::string kind = ToLower(op["op"].get<std::string>());
    auto tokens = ParsePointer(op["path"], "path");
    if (!tokens.ok()) return tokens.status();
    RL_RETURN_IF_ERROR(Guard(*tokens, pk_paths));
    bool needs_value = kind == "add" || kind == "set" || kind == "replace" || kind == "incr";
    if (needs_value && !op.contains("value")) {
      return Status::BadRequest("Patch operation '" + kind + "' on '" + op["path"].get<std::string>() + "' needs a 'value'.");
    }
    if (kind == "add") {
      RL_RETURN_IF_ERROR(Insert(work, *tokens, op["value"], /*array_insert=*/true));
    } else if (kind == "set") {
      RL_RETURN_IF_ERROR(Insert(work, *tokens, op["value"], /*array_insert=*/false));
    } else if (kind == "replace") {
      auto parent = Parent(work, *tokens);
      if (!parent.ok()) return parent.status();
      Json* target = Find(**parent, tokens->back());
      if (!target) return Status::BadRequest("Patch replace: path '" + JoinPath(*tokens) + "' does not exist.");
      *target = op["value"];
    } else if (kind == "remove") {
      RL_RETURN_IF_ERROR(Remove(work, *tokens, nullptr));
    } else if (kind == "incr") {
      const Json& by = op["value"];
      if (!by.is_number()) return Status::BadRequest("Patch incr needs a numeric 'value'.");
      auto parent = Parent(work, *tokens);
      if (!parent.ok()) return parent.status();
      Json* target = Find(**parent, tokens->back());
      if (!target) {
        RL_RETURN_IF_ERROR(Insert(work, *tokens, by, false));
      } else if (!target->is_number()) {
        return Status::BadRequest("Patch incr: the value at '" + JoinPath(*tokens) + "' is not a number.");
      } else if (target->is_number_float() || by.is_number_float()) {
        *target = target->get<double>() + by.get<double>();
      } else {
        *target = target->get<int64_t>() + by.get<int64_t>();
      }
    } else if (kind == "move") {
      if (!op.contains("from")) return Status::BadRequest("Patch move needs a 'from' path.");
      auto from = ParsePointer(op["from"], "from");
      if (!from.ok()) return from.status();
      RL_RETURN_IF_ERROR(Guard(*from, pk_paths));
      std::string to_path = JoinPath(*tokens), from_path = JoinPath(*from);
      if (to_path.starts_with(from_path + "/")) {
        return Status::BadRequest("Patch move cannot move '" + from_path + "' into its own child '" + to_path + "'.");
      }
      Json value;
      RL_RETURN_IF_ERROR(Remove(work, *from, &value));
      RL_RETURN_IF_ERROR(Insert(work, *tokens, std::move(value), false));
    } else {
      return Status::BadRequest("Unknown patch operation '" + kind + "'; use add, set, replace, remove, incr or move.");
    }
  }
  doc = std::move(work);
  return Status::Ok();
}

}  // namespace regionlab::server
