#include "steward/core/periodic.hpp"

#include "steward/platform/clock.hpp"

namespace steward {

void periodic_timer::skip_to_after(time_point now) noexcept {
  // Whole periods between the missed deadline and now are skipped in one step (no loop).
  const auto behind = now - m_next;
  const auto skipped = behind / m_period + 1;
  m_next += m_period * skipped;
}

result<void> periodic_timer::wait_next(worker_context& ctx) noexcept {
  if (m_period <= duration::zero()) return fail(errc::invalid_argument, "period");
  auto now = platform::monotonic_now();
  if (!now) return fail(now.error());
  if (!m_anchored) {
    m_next = saturating_add(*now, m_period);
    m_anchored = true;
  } else if (*now >= m_next + m_period) {
    const auto before = m_next;
    skip_to_after(*now - m_period);  // keep the latest passed deadline: it runs late, once
    if (m_stats != nullptr) {
      m_stats->overruns.fetch_add(static_cast<std::uint64_t>((m_next - before) / m_period),
                                  std::memory_order_relaxed);
    }
  }
  for (;;) {
    const auto parks = ctx.park_count();
    STEWARD_TRY(ctx.sleep_until(m_next));
    auto woke = platform::monotonic_now();
    if (!woke) return fail(woke.error());
    if (ctx.park_count() != parks) {  // paused inside the wait: re-phase after the resume
      if (*woke >= m_next) skip_to_after(*woke);
      continue;
    }
    m_last_lateness = *woke - m_next;
    if (m_stats != nullptr) {
      const auto late = m_last_lateness.count();
      m_stats->latest_lateness_ns.store(late, std::memory_order_relaxed);
      auto worst = m_stats->worst_lateness_ns.load(std::memory_order_relaxed);
      while (late > worst &&
             !m_stats->worst_lateness_ns.compare_exchange_weak(worst, late, std::memory_order_relaxed)) {
      }
      m_stats->ticks.fetch_add(1, std::memory_order_relaxed);
    }
    m_next += m_period;
    return {};
  }
}

}  // namespace steward
