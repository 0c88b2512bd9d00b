// Built-in functions, arrays: ARRAY_CONTAINS, ARRAY_SLICE, SetUnion, ....
#include "query/functions_internal.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <numbers>


namespace regionlab::query {
namespace {

using namespace internal;  // NOLINT: the family's helpers

// `part` is contained in `whole`: every property of part is in whole with an
// equal value (recursively for nested objects).
bool PartialMatch(const Value& whole, const Value& part) {
  if (!part.is_object() || !whole.is_object())
    return whole.type() == part.type() && DeepEquals(whole, part);
  for (const auto& [k, v] : part.as_object()) {
    if (v.is_undefined()) continue;
    const Value* w = whole.Find(k);
    if (!w || !PartialMatch(*w, v)) return false;
  }
  return true;
}

Value ArrayContains(const Value* a, int n, const EvalContext&) {
  bool partial;
  if (!a[0].is_array() || !FlagArg(a, n, 2, &partial)) return Value();
  if (a[1].is_undefined()) return Value::Bool(false);
  for (const Value& e : a[0].as_array()) {
    if (partial ? PartialMatch(e, a[1]) : DeepEquals(e, a[1])) return Value::Bool(true);
  }
  return Value::Bool(false);
}

bool ArrayHas(const Array& arr, const Value& v) {
  for (const Value& e : arr) {
    if (DeepEquals(e, v)) return true;
  }
  return false;
}

Value ArrayContainsAny(const Value* a, int n, const EvalContext&) {
  if (!a[0].is_array()) return Value();
  for (int i = 1; i < n; ++i) {
    if (ArrayHas(a[0].as_array(), a[i])) return Value::Bool(true);
  }
  return Value::Bool(false);
}

Value ArrayContainsAll(const Value* a, int n, const EvalContext&) {
  if (!a[0].is_array()) return Value();
  for (int i = 1; i < n; ++i) {
    if (!ArrayHas(a[0].as_array(), a[i])) return Value::Bool(false);
  }
  return Value::Bool(true);
}

Value ArrayLength(const Value* a, int, const EvalContext&) {
  if (!a[0].is_array()) return Value();
  return Value::Number(static_cast<double>(a[0].as_array().size()));
}

Value ArraySlice(const Value* a, int n, const EvalContext&) {
  int64_t start, len = INT64_MAX;
  if (!a[0].is_array() || !IntArg(a[1], &start)) return Value();
  if (n > 2 && !IntArg(a[2], &len)) return Value();
  const Array& arr = a[0].as_array();
  int64_t size = static_cast<int64_t>(arr.size());
  if (start < 0) start = std::max<int64_t>(0, size + start);
  if (start > size) start = size;
  if (len < 0) len = 0;
  int64_t end = (len > size - start) ? size : start + len;
  return Value::MakeArray(Array(arr.begin() + start, arr.begin() + end));
}

Value ArrayConcat(const Value* a, int n, const EvalContext&) {
  Array out;
  for (int i = 0; i < n; ++i) {
    if (!a[i].is_array()) return Value();
    out.insert(out.end(), a[i].as_array().begin(), a[i].as_array().end());
  }
  return Value::MakeArray(std::move(out));
}

Value SetIntersect(const Value* a, int, const EvalContext&) {
  if (!a[0].is_array() || !a[1].is_array()) return Value();
  Array out;
  for (const Value& e : a[0].as_array()) {
    if (ArrayHas(a[1].as_array(), e) && !ArrayHas(out, e)) out.push_back(e);
  }
  return Value::MakeArray(std::move(out));
}

Value SetUnion(const Value* a, int, const EvalContext&) {
  if (!a[0].is_array() || !a[1].is_array()) return Value();
  Array out;
  for (int i = 0; i < 2; ++i) {
    for (const Value& e : a[i].as_array()) {
      if (!ArrayHas(out, e)) out.push_back(e);
    }
  }
  return Value::MakeArray(std::move(out));
}

const Builtin kArrayBuiltins[] = {
    {"ARRAY_CONTAINS", 2, 3, ArrayContains},
    {"ARRAY_CONTAINS_ANY", 2, -1, ArrayContainsAny},
    {"ARRAY_CONTAINS_ALL", 2, -1, ArrayContainsAll},
    {"ARRAY_LENGTH", 1, 1, ArrayLength},
    {"ARRAY_SLICE", 2, 3, ArraySlice},
    {"ARRAY_CONCAT", 2, -1, ArrayConcat},
    {"SetIntersect", 2, 2, SetIntersect},
    {"SetUnion", 2, 2, SetUnion},
};

}  // namespace

std::span<const Builtin> internal::ArrayBuiltins() { return kArrayBuiltins; }

}  // namespace regionlab::query
