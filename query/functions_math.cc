// Built-in functions, math: ABS, ROUND, POWER, LOG, NumberBin, ....
#include "query/functions_internal.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <numbers>


namespace regionlab::query {
namespace {

using namespace internal;  // NOLINT: the family's helpers

template <double (*F)(double)>
Value Unary(const Value* a, int, const EvalContext&) {
  if (!a[0].is_number()) return Value();
  return Value::Number(F(a[0].as_number()));
}

double RoundAway(double d) { return std::round(d); }  // halves away from zero
double Sign(double d) { return d > 0 ? 1 : (d < 0 ? -1 : 0); }
double Square(double d) { return d * d; }
double Cot(double d) { return 1.0 / std::tan(d); }
double Degrees(double d) { return d * 180.0 / std::numbers::pi; }
double Radians(double d) { return d * std::numbers::pi / 180.0; }
double Abs(double d) { return std::fabs(d); }
double Ceil(double d) { return std::ceil(d); }
double Floor(double d) { return std::floor(d); }
double Trunc(double d) { return std::trunc(d); }
double Sqrt(double d) { return std::sqrt(d); }
double Exp(double d) { return std::exp(d); }
double Log10(double d) { return std::log10(d); }
double Sin(double d) { return std::sin(d); }
double Cos(double d) { return std::cos(d); }
double Tan(double d) { return std::tan(d); }
double Asin(double d) { return std::asin(d); }
double Acos(double d) { return std::acos(d); }
double Atan(double d) { return std::atan(d); }

Value Power(const Value* a, int, const EvalContext&) {
  if (!a[0].is_number() || !a[1].is_number()) return Value();
  return Value::Number(std::pow(a[0].as_number(), a[1].as_number()));
}

Value Log(const Value* a, int n, const EvalContext&) {
  if (!a[0].is_number()) return Value();
  if (n == 1) return Value::Number(std::log(a[0].as_number()));
  if (!a[1].is_number()) return Value();
  return Value::Number(std::log(a[0].as_number()) / std::log(a[1].as_number()));
}

Value Atn2(const Value* a, int, const EvalContext&) {
  if (!a[0].is_number() || !a[1].is_number()) return Value();
  // Cosmos DB's ATN2(x, y) is atan2(y, x).
  return Value::Number(std::atan2(a[1].as_number(), a[0].as_number()));
}

Value Pi(const Value*, int, const EvalContext&) { return Value::Number(std::numbers::pi); }

Value NumberBin(const Value* a, int n, const EvalContext&) {
  if (!a[0].is_number()) return Value();
  double size = 1;
  if (n > 1) {
    if (!a[1].is_number() || a[1].as_number() <= 0) return Value();
    size = a[1].as_number();
  }
  return Value::Number(std::floor(a[0].as_number() / size) * size);
}

const Builtin kMathBuiltins[] = {
    {"ABS", 1, 1, Unary<Abs>},
    {"CEILING", 1, 1, Unary<Ceil>},
    {"FLOOR", 1, 1, Unary<Floor>},
    {"ROUND", 1, 1, Unary<RoundAway>},
    {"TRUNC", 1, 1, Unary<Trunc>},
    {"SIGN", 1, 1, Unary<Sign>},
    {"SQRT", 1, 1, Unary<Sqrt>},
    {"SQUARE", 1, 1, Unary<Square>},
    {"EXP", 1, 1, Unary<Exp>},
    {"LOG10", 1, 1, Unary<Log10>},
    {"SIN", 1, 1, Unary<Sin>},
    {"COS", 1, 1, Unary<Cos>},
    {"TAN", 1, 1, Unary<Tan>},
    {"COT", 1, 1, Unary<Cot>},
    {"ASIN", 1, 1, Unary<Asin>},
    {"ACOS", 1, 1, Unary<Acos>},
    {"ATAN", 1, 1, Unary<Atan>},
    {"DEGREES", 1, 1, Unary<Degrees>},
    {"RADIANS", 1, 1, Unary<Radians>},
    {"POWER", 2, 2, Power},
    {"LOG", 1, 2, Log},
    {"ATN2", 2, 2, Atn2},
    {"PI", 0, 0, Pi},
    {"NumberBin", 1, 2, NumberBin},
};

}  // namespace

std::span<const Builtin> internal::MathBuiltins() { return kMathBuiltins; }

}  // namespace regionlab::query
