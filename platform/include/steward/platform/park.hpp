// Platform interface: the parking primitive every steward wait is built on. It has the shape of
// a futex (and of C++20 atomic::wait): a thread sleeps while a 32-bit word still holds the value
// it last saw; whoever changes the word then wakes it. Because the kernel re-checks the word
// before sleeping, a wake-up that lands between the caller's check and its sleep is never lost.
#pragma once

#include <atomic>
#include <cstdint>

#include "steward/core/time.hpp"

namespace steward::platform {

enum class park_status : std::uint8_t {
  woken,      // woken, or the word no longer held `expected` (callers re-check either way)
  timed_out,  // the deadline passed
};

// Sleeps while word == expected, until woken or until `deadline` on the monotonic clock
// (never = no deadline). Spurious returns are allowed; callers loop on their own condition.
// Returns: woken or timed_out.
park_status park_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                      time_point deadline) noexcept;

// Tells the CPU the caller is spinning (x86 PAUSE, Arm YIELD); a no-op where there is none.
void cpu_relax() noexcept;

// Spins up to `spins` rounds while word == expected, then parks as park_wait() does. A wake-up
// that arrives within a few microseconds is then seen without a sleep and a wake-up in the
// kernel, which on a VM costs far more than the spin (bench/ shows both).
park_status spin_then_park(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                           time_point deadline, unsigned spins) noexcept;

// Wakes one / all threads parked on `word`.
void park_wake_one(const std::atomic<std::uint32_t>& word) noexcept;
void park_wake_all(const std::atomic<std::uint32_t>& word) noexcept;

// How many kernel sleeps and wake-up calls the port made, process-wide (relaxed counters, one
// increment per system call): lets tests assert how many hand-offs an operation costs.
struct park_counts {
  std::uint64_t sleeps{0};  // park_wait() calls that entered the kernel
  std::uint64_t wakes{0};   // park_wake_one() / park_wake_all() calls
};
[[nodiscard]] park_counts park_counters() noexcept;

}  // namespace steward::platform
