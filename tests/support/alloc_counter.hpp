// Test-only heap allocation counter, linked into test executables (never into the library).
// Mode 2: the executable defines malloc and friends and forwards to glibc's __libc_* entry
//         points, so C and C++ allocations by any thread are counted.
// Mode 1: global operator new/delete are replaced (sanitizer builds, static links).
// Mode 0: off, or the self-test found another interposer (valgrind) owning the allocator.
#pragma once

#include <cstdint>

namespace testutil {

int alloc_counting_mode() noexcept;
std::uint64_t allocs_this_thread() noexcept;
std::uint64_t allocs_all_threads() noexcept;

class alloc_scope {
 public:
  alloc_scope() noexcept : m_thread(allocs_this_thread()), m_all(allocs_all_threads()) {}
  [[nodiscard]] std::uint64_t this_thread() const noexcept { return allocs_this_thread() - m_thread; }
  [[nodiscard]] std::uint64_t all_threads() const noexcept { return allocs_all_threads() - m_all; }

 private:
  std::uint64_t m_thread;
  std::uint64_t m_all;
};

}  // namespace testutil
