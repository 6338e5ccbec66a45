// Periodic work on absolute deadlines. The deadline grid is anchored once and advanced by whole
// periods, so lateness never accumulates into drift; waiting is a steward wait (a futex with an
// absolute CLOCK_MONOTONIC deadline, the same hrtimer path as clock_nanosleep(TIMER_ABSTIME)),
// so pause and stop reach a periodic worker at once like any other.
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "steward/core/expected.hpp"
#include "steward/core/time.hpp"
#include "steward/core/worker.hpp"

namespace steward {

// Readable from any thread while the worker runs; no allocation.
struct periodic_stats {
  std::atomic<std::uint64_t> ticks{0};
  std::atomic<std::uint64_t> overruns{0};           // whole periods skipped because a tick ran too long
  std::atomic<std::int64_t> latest_lateness_ns{0};  // wake-up time minus deadline, last tick
  std::atomic<std::int64_t> worst_lateness_ns{0};
};

class periodic_timer {
 public:
  explicit periodic_timer(duration period, periodic_stats* stats = nullptr) noexcept
      : m_period(period), m_stats(stats) {}

  // Waits for the next deadline on the grid (the first call anchors it at now + period).
  // A caller that comes back more than a whole period after its deadline (its tick ran long)
  // skips the deadlines it missed entirely, counted as overruns, and runs at once for the latest
  // passed one (late, with that lateness recorded). A pause inside the wait re-phases to the
  // first deadline after the resume (not counted as an overrun).
  // Returns: ok at the deadline, with lateness recorded; stop_requested; invalid_argument if
  // the period is not positive; the clock's error.
  result<void> wait_next(worker_context& ctx) noexcept;

  [[nodiscard]] time_point next_deadline() const noexcept { return m_next; }
  [[nodiscard]] duration period() const noexcept { return m_period; }
  // Lateness of the most recent wake-up, for callers that keep their own statistics.
  [[nodiscard]] duration last_lateness() const noexcept { return m_last_lateness; }

 private:
  void skip_to_after(time_point now) noexcept;

  duration m_period;
  periodic_stats* m_stats;
  time_point m_next{};
  duration m_last_lateness{};
  bool m_anchored{false};
};

// A worker body that calls `tick(ctx)` every `period`. Tick returns void or result<void>; an
// error ends the worker like any body error. `stats` may be null.
template <class Tick>
worker_body periodic_body(duration period, Tick tick, periodic_stats* stats) noexcept {
  return [period, tick, stats](worker_context& ctx) mutable -> result<void> {
    periodic_timer timer(period, stats);
    for (;;) {
      STEWARD_TRY(timer.wait_next(ctx));
      if constexpr (std::is_void_v<std::invoke_result_t<Tick&, worker_context&>>) {
        tick(ctx);
      } else {
        STEWARD_TRY(tick(ctx));
      }
    }
  };
}

}  // namespace steward
