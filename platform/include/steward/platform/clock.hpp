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

}  // namespace steward::platform
