// Small non-cryptographic hashes (for seeds, fingerprints and scopes, never
// for anything an attacker chooses to collide).
#pragma once

#include <cstdint>
#include <string_view>

namespace regionlab {

// 64-bit FNV-1a of `s`, continuing from `h` (the standard offset basis by
// default, so Fnv1a64(b, Fnv1a64(a)) == Fnv1a64(a + b)).
inline uint64_t Fnv1a64(std::string_view s, uint64_t h = 0xcbf29ce484222325ull) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace regionlab
