// Value: the JSON data model of the query engine, plus Cosmos DB's
// `undefined` (a missing property, or the result of an expression that has no
// value, such as a comparison across types).
//
// Values are immutable once built: arrays and objects are shared through
// shared_ptr, so copying a Value is cheap (a string copy at worst). Numbers are
// IEEE doubles, as in Cosmos DB. Objects keep their property order.
//
// Thread-safety: a Value may be read from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/status.h"

namespace regionlab::query {

class Value;
using Array = std::vector<Value>;
using Object = std::vector<std::pair<std::string, Value>>;

// Declaration order is Cosmos DB's type order for ORDER BY:
// undefined < null < boolean < number < string < array < object.
enum class Type : uint8_t { kUndefined = 0, kNull, kBool, kNumber, kString, kArray, kObject };

std::string_view TypeName(Type t);

class Value {
 public:
  Value() = default;  // undefined
  static Value Null() { return Value(Rep(nullptr)); }
  static Value Bool(bool b) { return Value(Rep(b)); }
  // A non-finite number (NaN, infinity) has no JSON form: it becomes undefined.
  static Value Number(double d);
  static Value String(std::string s) { return Value(Rep(std::move(s))); }
  static Value MakeArray(Array a) {
    return Value(Rep(std::make_shared<const Array>(std::move(a))));
  }
  static Value MakeObject(Object o) {
    return Value(Rep(std::make_shared<const Object>(std::move(o))));
  }

  Type type() const { return static_cast<Type>(rep_.index()); }
  bool is_undefined() const { return type() == Type::kUndefined; }
  bool is_defined() const { return type() != Type::kUndefined; }
  bool is_null() const { return type() == Type::kNull; }
  bool is_bool() const { return type() == Type::kBool; }
  bool is_number() const { return type() == Type::kNumber; }
  bool is_string() const { return type() == Type::kString; }
  bool is_array() const { return type() == Type::kArray; }
  bool is_object() const { return type() == Type::kObject; }
  bool is_true() const { return is_bool() && std::get<bool>(rep_); }

  // Accessors; calling one for another type is a bug (asserts via std::get).
  bool as_bool() const { return std::get<bool>(rep_); }
  double as_number() const { return std::get<double>(rep_); }
  const std::string& as_string() const { return std::get<std::string>(rep_); }
  const Array& as_array() const { return *std::get<ArrayPtr>(rep_); }
  const Object& as_object() const { return *std::get<ObjectPtr>(rep_); }

  // The member `key` of an object, or nullptr (also for non-objects).
  const Value* Find(std::string_view key) const;
  // Member / element access with Cosmos semantics: undefined when absent or
  // when the value is not an object (array).
  Value Member(std::string_view key) const;
  Value Element(double index) const;

  // Compact JSON. Undefined renders as nothing at the top level and is left
  // out of objects and arrays, as Cosmos DB does.
  std::string ToJson() const;
  void AppendJson(std::string* out) const;

 private:
  using ArrayPtr = std::shared_ptr<const Array>;
  using ObjectPtr = std::shared_ptr<const Object>;
  struct Undefined {};
  using Rep =
      std::variant<Undefined, std::nullptr_t, bool, double, std::string, ArrayPtr, ObjectPtr>;
  explicit Value(Rep r) : rep_(std::move(r)) {}
  Rep rep_;
};

// Deep equality with Cosmos semantics: objects compare regardless of property
// order. Only meaningful for two values of the same type.
bool DeepEquals(const Value& a, const Value& b);

// Total order used by ORDER BY, MIN/MAX and DISTINCT: first by type (see
// Type), then by value. Strings compare by code point (UTF-8 bytes). Returns
// <0, 0, >0.
int CompareTotal(const Value& a, const Value& b);

// Appends `s` as a JSON string literal.
void AppendJsonString(std::string* out, std::string_view s);
// Appends code point `cp` as UTF-8.
void AppendUtf8(std::string* out, uint32_t cp);
// Appends a number the way JavaScript prints it in JSON: integers without a
// fraction, others in the shortest form that reads back the same.
void AppendJsonNumber(std::string* out, double d);

// A set of property paths of a document that a query reads. Parsing a
// document against a PathSet materialises only those paths (and skips the
// rest of the text quickly). `whole` means the entire subtree is needed.
struct PathSet {
  std::string name;  // of this node below its parent; empty at the root
  bool whole = false;
  std::vector<PathSet> children;

  PathSet* Child(std::string_view name);  // finds or adds
  const PathSet* Find(std::string_view name) const;
  void MarkWhole() {
    whole = true;
    children.clear();
  }
};

// Parses JSON text. 400 (BadRequest) with the byte offset when malformed.
Result<Value> ParseJson(std::string_view text);
// Parses only the paths in `need` (the whole document if need.whole).
Result<Value> ParseJsonProjected(std::string_view text, const PathSet& need);

}  // namespace regionlab::query
