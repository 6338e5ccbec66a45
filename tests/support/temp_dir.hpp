// A temporary directory for one test, removed (with whatever the test left in it) at the end.
#pragma once

#include <cstdlib>  // mkdtemp (POSIX, declared by glibc here), system
#include <string>

#include <doctest/doctest.h>

namespace testutil {

struct temp_dir {
  std::string path;
  temp_dir() {
    char name[] = "/tmp/steward-test-XXXXXX";
    const char* made = ::mkdtemp(name);
    REQUIRE(made != nullptr);
    path = made;
  }
  ~temp_dir() {
    const std::string cmd = "rm -rf '" + path + "'";
    CHECK(std::system(cmd.c_str()) == 0);  // NOLINT(concurrency-mt-unsafe)
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  [[nodiscard]] std::string sub(const char* name) const { return path + "/" + name; }
};

}  // namespace testutil
