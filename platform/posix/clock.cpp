// POSIX port: the monotonic clock is CLOCK_MONOTONIC, read with clock_gettime. Nothing in
// steward reads CLOCK_REALTIME, so wall-clock steps (NTP, manual) never move a deadline.
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <ctime>

#include "steward/platform/clock.hpp"

namespace steward::platform {
namespace {

// Test seam: the manual clock (clock.hpp). One acquire load on every read while it is off.
std::atomic<bool> g_manual{false};
std::atomic<std::int64_t> g_manual_ns{0};

result<time_point> os_now() noexcept {
  timespec ts{};
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return fail(errc::platform_error, "clock", errno);
  const auto ns = static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000LL + ts.tv_nsec;
  return time_point{duration{ns}};
}

}  // namespace

result<time_point> monotonic_now() noexcept {
  if (g_manual.load(std::memory_order_acquire)) {
    return time_point{duration{g_manual_ns.load(std::memory_order_acquire)}};
  }
  return os_now();
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

result<void> install_manual_clock() noexcept {
  auto now = os_now();
  if (!now) return fail(now.error());
  g_manual_ns.store(now->time_since_epoch().count(), std::memory_order_release);
  g_manual.store(true, std::memory_order_release);
  return {};
}

void advance_manual_clock(duration d) noexcept {
  if (d > duration::zero()) g_manual_ns.fetch_add(d.count(), std::memory_order_acq_rel);
}

void remove_manual_clock() noexcept {
  g_manual.store(false, std::memory_order_release);
}

bool manual_clock_installed() noexcept {
  return g_manual.load(std::memory_order_acquire);
}

}  // namespace steward::platform
