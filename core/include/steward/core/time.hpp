// Monotonic time as steward sees it: nanoseconds on the platform's monotonic clock. The clock
// itself is read through platform::monotonic_now(), which can fail and says so.
#pragma once

#include <chrono>
#include <cstdint>

namespace steward {

// A tag clock: its now() lives in the platform layer and returns a result.
struct monotonic_clock {
  using rep = std::int64_t;
  using period = std::nano;
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<monotonic_clock, duration>;
  static constexpr bool is_steady = true;
};

using duration = monotonic_clock::duration;
using time_point = monotonic_clock::time_point;

inline constexpr duration forever = duration::max();
inline constexpr time_point never = time_point::max();

// now + d without overflow; forever (or any overflow) gives never.
[[nodiscard]] constexpr time_point saturating_add(time_point now, duration d) noexcept {
  if (d <= duration::zero()) return now;
  if (now.time_since_epoch().count() > duration::max().count() - d.count()) return never;
  return now + d;
}

}  // namespace steward
