// POSIX port: the monotonic clock is CLOCK_MONOTONIC, read with clock_gettime. Nothing in
// steward reads CLOCK_REALTIME, so wall-clock steps (NTP, manual) never move a deadline.
#include <cerrno>
#include <ctime>

#include "steward/platform/clock.hpp"

namespace steward::platform {

result<time_point> monotonic_now() noexcept {
  timespec ts{};
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return fail(errc::platform_error, "clock", errno);
  const auto ns = static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000LL + ts.tv_nsec;
  return time_point{duration{ns}};
}

// libstdc++ and libc++ read steady_clock from CLOCK_MONOTONIC on Linux: same epoch, same units
// after a cast, so the conversion is a cast (no clock reads, no skew between two readings).
time_point from_steady(std::chrono::steady_clock::time_point t) noexcept {
  if (t == std::chrono::steady_clock::time_point::max()) return never;
  return time_point{std::chrono::duration_cast<duration>(t.time_since_epoch())};
}

result<time_point> deadline_after(duration d) noexcept {
  if (d == forever) return never;
  auto now = monotonic_now();
  if (!now) return now;
  return saturating_add(*now, d);
}

}  // namespace steward::platform
