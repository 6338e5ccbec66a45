// Bounds how often something may happen - typically a log line from an event or exit hook -
// so a crash loop cannot flood a log (docs/invariants.md, INV-17). At most `burst` events pass per
// `interval` of monotonic time; the rest are counted, and one summary per interval reports them:
// the first event to pass in a later interval carries the count of those suppressed before it,
// or flush() hands the count out when no event comes (systemd's ratelimit, without a lock: use
// one limiter per hook, from one thread at a time).
#pragma once

#include <cstdint>
#include <limits>

#include "steward/core/time.hpp"

namespace steward {

class rate_limiter {
 public:
  struct verdict {
    bool allowed{false};
    std::uint32_t suppressed_before{0};  // events dropped since the last summary
  };

  constexpr rate_limiter(std::uint32_t burst, duration interval) noexcept
      : m_burst(burst), m_interval(interval) {}

  // Returns: whether this event may pass, and (when it may) how many were suppressed before it.
  // Only one event per interval carries a count, so an interval has at most `burst` events and
  // one summary.
  constexpr verdict check(time_point now) noexcept {
    if (due(now)) open(now);
    if (m_count >= m_burst) {
      add_suppressed(1);
      return verdict{false, 0};
    }
    ++m_count;
    verdict v{true, 0};
    if (!m_summarised && m_suppressed > 0) v.suppressed_before = take();
    return v;
  }

  // Counts `n` events that were lost before they reached check() (a full queue in front of the
  // limiter): they are reported in the next summary like suppressed ones. Saturates.
  constexpr void add_suppressed(std::uint32_t n) noexcept {
    const std::uint32_t room = std::numeric_limits<std::uint32_t>::max() - m_suppressed;
    m_suppressed += n < room ? n : room;
  }

  // The summary when no event comes to carry it: call it when idle (a drain found nothing).
  // Returns: the count to report now, if some are pending and the interval is over (a new one
  // opens now and this summary is its one); otherwise 0 (they stay pending).
  constexpr std::uint32_t flush(time_point now) noexcept {
    if (m_suppressed == 0 || !due(now)) return 0;
    open(now);
    return take();
  }

  // The pending count, whatever the interval, reset to 0: for a last summary at shutdown.
  constexpr std::uint32_t take_pending() noexcept {
    const std::uint32_t n = m_suppressed;
    m_suppressed = 0;
    return n;
  }

  [[nodiscard]] constexpr std::uint32_t pending_suppressed() const noexcept { return m_suppressed; }

 private:
  [[nodiscard]] constexpr bool due(time_point now) const noexcept {
    return !m_open || now - m_start >= m_interval;
  }
  constexpr void open(time_point now) noexcept {
    m_open = true;
    m_start = now;
    m_count = 0;
    m_summarised = false;
  }
  constexpr std::uint32_t take() noexcept {
    const std::uint32_t n = m_suppressed;
    m_suppressed = 0;
    m_summarised = true;
    return n;
  }

  std::uint32_t m_burst;
  duration m_interval;
  time_point m_start{};
  std::uint32_t m_count{0};
  std::uint32_t m_suppressed{0};
  bool m_open{false};        // an interval has begun (m_start is meaningful)
  bool m_summarised{false};  // this interval's one summary went out
};

}  // namespace steward
