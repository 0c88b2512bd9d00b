// A driver for the fuzz targets where libFuzzer is not available (GCC): runs
// every file of the corpus directories given, then N inputs made by seeded
// mutations of them (byte flips, inserts, deletes, splices, bracket runs), and
// calls LLVMFuzzerTestOneInput on each. No coverage guidance: it is the
// regression run that ctest does on every build; clang builds get the real
// libFuzzer (tests/fuzz/CMakeLists.txt).
//
//   fuzz_target [--runs N] [--seed S] CORPUS_DIR...
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::string Mutate(const std::vector<std::string>& corpus, std::mt19937_64& rng) {
  std::string s = corpus.empty() ? std::string() : corpus[rng() % corpus.size()];
  const int steps = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < steps; ++i) {
    const size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 6) {
      case 0:
        if (!s.empty()) s[rng() % s.size()] = static_cast<char>(rng());
        break;
      case 1:
        s.insert(pos, 1, static_cast<char>(rng()));
        break;
      case 2:
        if (!s.empty()) s.erase(rng() % s.size(), 1 + rng() % 8);
        break;
      case 3:  // splice another input
        if (!corpus.empty()) {
          const std::string& o = corpus[rng() % corpus.size()];
          if (!o.empty()) s.insert(pos, o.substr(rng() % o.size(), 1 + rng() % 32));
        }
        break;
      case 4: {  // deep nesting
        const char* pairs[] = {"[", "{\"a\":", "("};
        const std::string open = pairs[rng() % 3];
        std::string run;
        const size_t n = 1 + rng() % 3000;
        for (size_t k = 0; k < n; ++k) run += open;
        s.insert(pos, run);
        break;
      }
      case 5:  // interesting tokens
      {
        const char* tokens[] = {"\"", "\\", "\\u0000", "null", "-0", "1e400", "\xff", "\r\n", "%", "\x01"};
        s.insert(pos, tokens[rng() % 10]);
        break;
      }
    }
  }
  if (s.size() > 1 << 20) s.resize(1 << 20);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  long runs = 1000;
  uint64_t seed = 1;
  std::vector<std::string> corpus;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--runs") && i + 1 < argc) {
      runs = std::atol(argv[++i]);
    } else if (!std::strcmp(argv[i], "--seed") && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else {
      for (const auto& e : std::filesystem::directory_iterator(argv[i])) {
        std::ifstream in(e.path(), std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        corpus.push_back(ss.str());
      }
    }
  }
  for (const std::string& s : corpus) LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  std::mt19937_64 rng(seed);
  for (long i = 0; i < runs; ++i) {
    const std::string s = Mutate(corpus, rng);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  std::printf("fuzz: %zu corpus inputs and %ld mutations, no crash\n", corpus.size(), runs);
  return 0;
}
