// Shared helpers for steward's tests.
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "steward/core/worker.hpp"

#if defined(__SANITIZE_THREAD__)
#define STEWARD_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STEWARD_TEST_TSAN 1
#endif
#endif

namespace testutil {

using namespace std::chrono_literals;

// GCC's TSan refuses user stacks below about 900 KiB.
#if defined(STEWARD_TEST_TSAN)
inline constexpr std::size_t k_stack = 1024U * 1024U;
#else
inline constexpr std::size_t k_stack = 256U * 1024U;
#endif

using test_worker = steward::static_worker<k_stack, 8>;

// Generous bound for acknowledgements in tests: a watchdog, not a timing assertion.
inline constexpr steward::duration k_ack = std::chrono::seconds(20);

inline std::unique_ptr<test_worker> make_worker(const steward::worker_config& cfg) {
  return std::make_unique<test_worker>(cfg);
}

// Spins (yielding) until pred() holds; used only where no acknowledgement exists, e.g. to
// observe that a body reached a given line. Fails the test after `limit`.
template <class Pred>
bool eventually(Pred pred, std::chrono::seconds limit = std::chrono::seconds(20)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::yield();
  }
  return true;
}

// Counts releases per resource id: the ledger that proves exactly-once cleanup.
struct ledger {
  static constexpr int k_slots = 64;
  std::atomic<int> released[k_slots]{};
  std::atomic<int> order[k_slots]{};
  std::atomic<int> next_order{0};
  void release(int id) noexcept {
    released[id].fetch_add(1);
    order[next_order.fetch_add(1)].store(id);
  }
  int count(int id) const noexcept { return released[id].load(); }
};

// Small deterministic PRNG for random delays in stress tests.
struct xorshift {
  std::uint32_t state;
  explicit xorshift(std::uint32_t seed) : state(seed == 0 ? 0x9E3779B9U : seed) {}
  std::uint32_t next() noexcept {
    state ^= state << 13U;
    state ^= state >> 17U;
    state ^= state << 5U;
    return state;
  }
  void jitter() noexcept {
    const auto r = next() % 8U;
    if (r < 4U) return;
    if (r < 7U) {
      std::this_thread::yield();
      return;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(next() % 50U));
  }
};

}  // namespace testutil

#include "steward/platform/thread.hpp"

namespace testutil {

// Holds every new thread at its entry until opened: makes "stop/pause before the body ran"
// deterministic (docs/invariants.md, bug classes 6 and 7).
class start_gate {
 public:
  start_gate() noexcept { steward::platform::set_thread_start_hook(&hook, this); }
  ~start_gate() {
    open();
    steward::platform::set_thread_start_hook(nullptr, nullptr);
  }
  start_gate(const start_gate&) = delete;
  start_gate& operator=(const start_gate&) = delete;
  void open() noexcept { m_open.store(true); }
  [[nodiscard]] int arrived() const noexcept { return m_arrived.load(); }

 private:
  static void hook(void* self) noexcept {
    auto* gate = static_cast<start_gate*>(self);
    gate->m_arrived.fetch_add(1);
    while (!gate->m_open.load()) std::this_thread::yield();
  }
  std::atomic<bool> m_open{false};
  std::atomic<int> m_arrived{0};
};

}  // namespace testutil

namespace testutil {
// The error code of a result, or -1 if it holds a value (never .error() on a value: UB).
template <class R>
int code_of(const R& r) noexcept {
  return r ? -1 : static_cast<int>(r.error().code);
}
inline int code(steward::errc c) noexcept {
  return static_cast<int>(c);
}
}  // namespace testutil

namespace testutil {
// Installs the platform's manual clock for one test case (a test seam, clock.hpp): time moves
// only when the test advances it, so a deadline is reached by a logical step, never by waiting.
// Check installed() and return early if it failed; the destructor removes it.
class manual_clock {
 public:
  manual_clock() noexcept : m_installed(static_cast<bool>(steward::platform::install_manual_clock())) {}
  ~manual_clock() { steward::platform::remove_manual_clock(); }
  manual_clock(const manual_clock&) = delete;
  manual_clock& operator=(const manual_clock&) = delete;
  [[nodiscard]] bool installed() const noexcept { return m_installed; }
  [[nodiscard]] static steward::time_point now() noexcept {
    auto t = steward::platform::monotonic_now();
    return t ? *t : steward::time_point{};
  }
  static void advance(steward::duration d) noexcept { steward::platform::advance_manual_clock(d); }
  // Until some thread waits for exactly `deadline` (so it has read the clock and decided).
  [[nodiscard]] static bool waited_for(steward::time_point deadline) {
    return eventually([&] { return steward::platform::manual_clock_waiters(deadline) > 0; });
  }

 private:
  bool m_installed;
};
}  // namespace testutil
