#include "query/functions.h"

#include "query/functions_internal.h"

// The built-ins live in one file per family: functions_types.cc,
// functions_string.cc, functions_array.cc, functions_math.cc,
// functions_date.cc (helpers in functions_util.cc).
namespace regionlab::query {

const Builtin* FindBuiltin(std::string_view name) {
  for (auto family : {internal::TypeBuiltins(), internal::StringBuiltins(), internal::ArrayBuiltins(),
                      internal::MathBuiltins(), internal::DateBuiltins()}) {
    for (const Builtin& b : family) {
      if (internal::EqualsIgnoreCase(name, b.name)) return &b;
    }
  }
  return nullptr;
}

bool IsAggregateName(std::string_view name) {
  for (const char* a : {"COUNT", "SUM", "AVG", "MIN", "MAX"}) {
    if (internal::EqualsIgnoreCase(name, a)) return true;
  }
  return false;
}

}  // namespace regionlab::query
