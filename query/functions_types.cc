// Built-in functions, type checks: IS_DEFINED, IS_NUMBER, ....
#include "query/functions_internal.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <numbers>


namespace regionlab::query {
namespace {

using namespace internal;  // NOLINT: the family's helpers

Value IsDefined(const Value* a, int, const EvalContext&) { return Value::Bool(a[0].is_defined()); }
Value IsNull(const Value* a, int, const EvalContext&) { return Value::Bool(a[0].is_null()); }
Value IsNumber(const Value* a, int, const EvalContext&) { return Value::Bool(a[0].is_number()); }
Value IsString(const Value* a, int, const EvalContext&) { return Value::Bool(a[0].is_string()); }
Value IsBool(const Value* a, int, const EvalContext&) { return Value::Bool(a[0].is_bool()); }
Value IsArray(const Value* a, int, const EvalContext&) { return Value::Bool(a[0].is_array()); }
Value IsObject(const Value* a, int, const EvalContext&) { return Value::Bool(a[0].is_object()); }
Value IsPrimitive(const Value* a, int, const EvalContext&) {
  return Value::Bool(a[0].is_null() || a[0].is_bool() || a[0].is_number() || a[0].is_string());
}
Value IsFiniteNumber(const Value* a, int, const EvalContext&) {
  return Value::Bool(a[0].is_number());
}
Value IsInteger(const Value* a, int, const EvalContext&) {
  return Value::Bool(a[0].is_number() && a[0].as_number() == std::trunc(a[0].as_number()) &&
                     std::fabs(a[0].as_number()) < 9.2e18);
}

const Builtin kTypeBuiltins[] = {
    {"IS_DEFINED", 1, 1, IsDefined},
    {"IS_NULL", 1, 1, IsNull},
    {"IS_NUMBER", 1, 1, IsNumber},
    {"IS_STRING", 1, 1, IsString},
    {"IS_BOOL", 1, 1, IsBool},
    {"IS_ARRAY", 1, 1, IsArray},
    {"IS_OBJECT", 1, 1, IsObject},
    {"IS_PRIMITIVE", 1, 1, IsPrimitive},
    {"IS_FINITE_NUMBER", 1, 1, IsFiniteNumber},
    {"IS_INTEGER", 1, 1, IsInteger},
};

}  // namespace

std::span<const Builtin> internal::TypeBuiltins() { return kTypeBuiltins; }

}  // namespace regionlab::query
