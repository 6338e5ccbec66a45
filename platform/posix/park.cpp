// POSIX port (Linux): parking is a private futex. FUTEX_WAIT_BITSET takes an absolute deadline
// on CLOCK_MONOTONIC, so a wait never drifts with wall-clock steps and needs no "remaining
// time" arithmetic. A port without futexes can implement the same three calls with a striped
// table of mutex+condvar pairs keyed by the word's address (NOTE-1).
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <ctime>

#include "manual_clock.hpp"
#include "steward/platform/clock.hpp"
#include "steward/platform/park.hpp"

namespace steward::platform {
namespace {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t), "futex needs a plain 32-bit word");

std::uint32_t* word_address(const std::atomic<std::uint32_t>& word) noexcept {
  // The kernel only compares and queues on the address; it never writes the word.
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast,cppcoreguidelines-pro-type-reinterpret-cast)
  return const_cast<std::uint32_t*>(reinterpret_cast<const std::uint32_t*>(&word));
}

// Process-wide statistics: atomic, file-local.
// NOLINTBEGIN(cppcoreguidelines-avoid-non-const-global-variables)
std::atomic<std::uint64_t> g_sleeps{0};
std::atomic<std::uint64_t> g_wakes{0};
// NOLINTEND(cppcoreguidelines-avoid-non-const-global-variables)

long futex(std::uint32_t* addr, int op, std::uint32_t val, const timespec* ts) noexcept {
  return syscall(SYS_futex, addr, op, val, ts, nullptr, FUTEX_BITSET_MATCH_ANY);
}

// Test seam (clock.hpp): the kernel does not know the manual clock, so sleep in slices of real
// time and compare with the manual clock between them (NOTE-2).
park_status park_wait_manual(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                             time_point deadline) noexcept {
  constexpr timespec slice{0, 1'000'000};  // relative, for FUTEX_WAIT
  const detail::manual_wait registered(deadline, true);
  bool counted = false;  // one kernel sleep per call, as the kernel path counts
  for (;;) {
    if (!manual_clock_installed()) return park_status::woken;  // removed: the caller looks again
    const auto now = monotonic_now();
    if (!now || *now >= deadline) return park_status::timed_out;
    if (!counted) g_sleeps.fetch_add(1, std::memory_order_relaxed);
    counted = true;
    const long rc = futex(word_address(word), FUTEX_WAIT | FUTEX_PRIVATE_FLAG, expected, &slice);
    if (rc == 0 || errno != ETIMEDOUT) return park_status::woken;
  }
}

}  // namespace

park_status park_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                      time_point deadline) noexcept {
  if (deadline != never && manual_clock_installed()) return park_wait_manual(word, expected, deadline);
  timespec ts{};
  const timespec* tsp = nullptr;
  if (deadline != never) {
    const auto ns = deadline.time_since_epoch().count();
    ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000LL);
    ts.tv_nsec = static_cast<long>(ns % 1'000'000'000LL);
    tsp = &ts;
  }
  g_sleeps.fetch_add(1, std::memory_order_relaxed);
  const long rc = futex(word_address(word), FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected, tsp);
  if (rc != 0 && errno == ETIMEDOUT) return park_status::timed_out;
  // EAGAIN (value changed), EINTR (signal) and real wake-ups all mean "look again".
  return park_status::woken;
}

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  asm volatile("yield" ::: "memory");
#else
  asm volatile("" ::: "memory");
#endif
}

park_status spin_then_park(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                           time_point deadline, unsigned spins) noexcept {
  for (unsigned i = 0; i < spins; ++i) {
    if (word.load(std::memory_order_acquire) != expected) return park_status::woken;
    cpu_relax();
  }
  return park_wait(word, expected, deadline);
}

park_counts park_counters() noexcept {
  return park_counts{g_sleeps.load(std::memory_order_relaxed), g_wakes.load(std::memory_order_relaxed)};
}

void park_wake_one(const std::atomic<std::uint32_t>& word) noexcept {
  g_wakes.fetch_add(1, std::memory_order_relaxed);
  futex(word_address(word), FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, nullptr);
}

void park_wake_all(const std::atomic<std::uint32_t>& word) noexcept {
  g_wakes.fetch_add(1, std::memory_order_relaxed);
  futex(word_address(word), FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT_MAX, nullptr);
}

}  // namespace steward::platform

// NOTE-1: FUTEX_WAIT_BITSET with FUTEX_BITSET_MATCH_ANY behaves as FUTEX_WAIT except that the
// timeout is absolute and measured on CLOCK_MONOTONIC (unless FUTEX_CLOCK_REALTIME is given).
//
// NOTE-2: with the manual clock installed (tests only) a timed park sleeps at most a millisecond
// of real time at once and then re-reads the manual clock: it returns timed_out once that clock
// has reached the deadline, and woken on a wake-up or a changed word, as the kernel path does.
