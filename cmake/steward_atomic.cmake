# Sets STEWARD_ATOMIC_LIB to "atomic" when sub-word or 64-bit std::atomic operations need
# libatomic on this target (riscv64 with GCC 12, armv6), and to "" otherwise.
include(CheckCXXSourceCompiles)
set(_steward_atomic_probe [[
#include <atomic>
#include <cstdint>
std::atomic<bool> b{false};
std::atomic<std::uint8_t> u8{0};
std::atomic<std::uint16_t> u16{0};
std::atomic<std::uint64_t> u64{0};
int main() {
  b.exchange(true);
  std::uint8_t e = 0;
  u8.compare_exchange_strong(e, 1);
  u16.fetch_add(1);
  u64.fetch_add(1);
  return static_cast<int>(u64.load());
}
]])
check_cxx_source_compiles("${_steward_atomic_probe}" STEWARD_ATOMIC_LOCK_FREE_BUILTIN)
set(STEWARD_ATOMIC_LIB "")
if(NOT STEWARD_ATOMIC_LOCK_FREE_BUILTIN)
  set(CMAKE_REQUIRED_LIBRARIES atomic)
  check_cxx_source_compiles("${_steward_atomic_probe}" STEWARD_ATOMIC_NEEDS_LIBATOMIC)
  unset(CMAKE_REQUIRED_LIBRARIES)
  if(STEWARD_ATOMIC_NEEDS_LIBATOMIC)
    set(STEWARD_ATOMIC_LIB atomic)
  else()
    message(FATAL_ERROR "std::atomic does not link on this target, with or without libatomic")
  endif()
endif()
