// Liveness: noticing a worker that hangs while running, before anyone tries to pause or stop it.
// The body proves progress with worker_context::heartbeat() (one relaxed store); every steward
// wait counts as alive while it waits, and so do the states in which the body is not running
// code of its own (starting, paused, stopping, ended). A liveness_monitor judges samples taken
// from the worker (worker::liveness_sample()) against a period: pure logic on the caller's clock,
// no thread, no allocation. A supervision tree runs one per child that declares a period; a
// plain worker's owner runs one from its own loop.
#pragma once

#include <cstdint>

#include "steward/core/lifecycle.hpp"
#include "steward/core/time.hpp"

namespace steward {

// What the worker shows at one moment. Trivially copyable.
struct liveness_sample {
  std::uint32_t generation{0};
  std::uint32_t beats{0};  // heartbeats and wait entries so far in this incarnation
  worker_state state{worker_state::idle};
  bool blocked{false};  // inside a steward wait right now
};

enum class liveness_verdict : std::uint8_t {
  alive,                // progress seen (or not judged: not running body code, no period)
  silent,               // no progress yet, still within the period
  newly_unresponsive,   // the period has just been missed: report (once per silence)
  still_unresponsive,   // missed earlier, still silent
};

class liveness_monitor {
 public:
  constexpr liveness_monitor() noexcept = default;
  explicit constexpr liveness_monitor(duration period) noexcept : m_period(period) {}

  [[nodiscard]] constexpr duration period() const noexcept { return m_period; }
  [[nodiscard]] constexpr bool enabled() const noexcept { return m_period > duration::zero(); }
  // Forget what was seen (a new incarnation, a new run): the next sample starts a period.
  constexpr void reset() noexcept { m_seen = false; }

  // Judges one sample taken at `now`. A worker is judged only while it runs body code
  // (running, pausing) outside a steward wait; progress is a change of beats or generation.
  constexpr liveness_verdict observe(const liveness_sample& s, time_point now) noexcept {
    if (!enabled()) return liveness_verdict::alive;
    m_sampled_at = now;
    const bool judged = (s.state == worker_state::running || s.state == worker_state::pausing) && !s.blocked;
    if (!judged || !m_seen || s.generation != m_generation || s.beats != m_beats) {
      m_seen = true;
      m_generation = s.generation;
      m_beats = s.beats;
      m_alive_at = now;
      m_reported = false;
      return liveness_verdict::alive;
    }
    if (now - m_alive_at < m_period) return liveness_verdict::silent;
    if (m_reported) return liveness_verdict::still_unresponsive;
    m_reported = true;
    return liveness_verdict::newly_unresponsive;
  }
  // How long it has been silent at `now` (zero while it shows progress).
  [[nodiscard]] constexpr duration silent_for(time_point now) const noexcept {
    return m_seen && now > m_alive_at ? now - m_alive_at : duration::zero();
  }
  // When the next sample is worth taking: the end of the current period; once reported, one
  // period after the last sample (to notice the worker recover); never when disabled.
  [[nodiscard]] constexpr time_point due() const noexcept {
    if (!enabled()) return never;
    if (!m_seen) return time_point{};  // sample now
    return saturating_add(m_reported ? m_sampled_at : m_alive_at, m_period);
  }
  [[nodiscard]] constexpr bool unresponsive() const noexcept { return m_reported; }

 private:
  duration m_period{};
  time_point m_alive_at{};
  time_point m_sampled_at{};
  std::uint32_t m_generation{0};
  std::uint32_t m_beats{0};
  bool m_seen{false};
  bool m_reported{false};
};

}  // namespace steward
