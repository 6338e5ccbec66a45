// POSIX port: the monotonic clock is CLOCK_MONOTONIC, read with clock_gettime. Nothing in
// steward reads CLOCK_REALTIME, so wall-clock steps (NTP, manual) never move a deadline.
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <ctime>

#include "manual_clock.hpp"
#include "steward/platform/clock.hpp"

namespace steward::platform {
namespace {

// Test seam: the manual clock (clock.hpp). One acquire load on every read while it is off.
// Process-wide, atomic, file-local.
// NOLINTBEGIN(cppcoreguidelines-avoid-non-const-global-variables)
std::atomic<bool> g_manual{false};
std::atomic<std::int64_t> g_manual_ns{0};
// Deadlines of the timed waits in progress on the manual clock; 0 = free slot.
constexpr int k_wait_slots = 16;
std::atomic<std::int64_t> g_waits[k_wait_slots]{};
// NOLINTEND(cppcoreguidelines-avoid-non-const-global-variables)

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

int manual_clock_waiters(time_point deadline) noexcept {
  const auto ns = deadline.time_since_epoch().count();
  int n = 0;
  for (const auto& slot : g_waits) n += slot.load(std::memory_order_acquire) == ns ? 1 : 0;
  return n;
}

detail::manual_wait::manual_wait(time_point deadline, bool active) noexcept {
  if (!active) return;
  const auto ns = deadline.time_since_epoch().count();
  for (int i = 0; i < k_wait_slots; ++i) {
    std::int64_t free = 0;
    if (g_waits[i].compare_exchange_strong(free, ns, std::memory_order_acq_rel)) {
      m_slot = i;
      return;
    }
  }
}

detail::manual_wait::~manual_wait() {
  if (m_slot >= 0) g_waits[m_slot].store(0, std::memory_order_release);
}

}  // namespace steward::platform
