// A fresh directory under the test's temporary directory, removed with
// everything in it when the object goes. path() is empty if it could not be
// made (a test asserts that first).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace regionlab::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "regionlab_test") {
    std::string tmpl = ::testing::TempDir() + prefix + "_XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace regionlab::testing
