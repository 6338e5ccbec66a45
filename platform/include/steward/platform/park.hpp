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

// Wakes one / all threads parked on `word`.
void park_wake_one(const std::atomic<std::uint32_t>& word) noexcept;
void park_wake_all(const std::atomic<std::uint32_t>& word) noexcept;

}  // namespace steward::platform
