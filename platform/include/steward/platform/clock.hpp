// Platform interface: the monotonic clock.
#pragma once

#include "steward/core/expected.hpp"
#include "steward/core/time.hpp"

namespace steward::platform {

// Reads the monotonic clock. Returns: the time, or platform_error (value = errno) if the OS
// could not read it (never silently a garbage value).
[[nodiscard]] result<time_point> monotonic_now() noexcept;

// now() + d, saturating; forever gives never. Returns: the deadline, or the clock's error.
[[nodiscard]] result<time_point> deadline_after(duration d) noexcept;

// The same instant on steward's monotonic clock as `t` on std::chrono::steady_clock (so
// application code can pass steady_clock deadlines to every steward wait). Exact and free on
// POSIX, where both are CLOCK_MONOTONIC; time_point::max() maps to never.
[[nodiscard]] time_point from_steady(std::chrono::steady_clock::time_point t) noexcept;

// Test seam (like inject_thread_create_failures): a manual monotonic clock, so tests reach a
// deadline by a logical step instead of by waiting for it. While it is installed,
// monotonic_now() returns its value, which moves only through advance_manual_clock(), and every
// timed wait of the port (park_wait, wait_fd, wait_fds) times out once the manual clock has
// reached its deadline: such waits re-read the manual clock at least every millisecond of real
// time, so an advance needs no wake-up. Controllers' timeouts follow it too; from_steady() and
// std::chrono::steady_clock do not. Thread-safe.
// Returns: ok (the manual clock starts at the current monotonic time); the clock's error.
[[nodiscard]] result<void> install_manual_clock() noexcept;
// Moves the installed manual clock forward by d (d <= 0 does nothing).
void advance_manual_clock(duration d) noexcept;
// Back to the OS clock. Remove it only when no timed wait still depends on a manual deadline.
void remove_manual_clock() noexcept;
// True while a manual clock is installed (the port's timed waits consult it).
[[nodiscard]] bool manual_clock_installed() noexcept;
// How many threads are inside a timed wait (park_wait, wait_fd, wait_fds) for exactly
// `deadline` on the manual clock: once a thread waits for it, every clock read that led to that
// wait is done, so a test can advance the clock knowing what the thread decided. Up to 16
// concurrent waits are counted.
[[nodiscard]] int manual_clock_waiters(time_point deadline) noexcept;

}  // namespace steward::platform
