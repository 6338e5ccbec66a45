// Bounds how often something may happen - typically a log line from an event or exit hook -
// so a crash loop cannot flood a log (docs/invariants.md, INV-17). At most `burst` events pass per
// `interval` of monotonic time; the rest are counted, and the first event to pass in a later
// interval carries the count of those suppressed before it (systemd's ratelimit, without a lock:
// use one limiter per hook, from one thread at a time).
#pragma once

#include <cstdint>

#include "steward/core/time.hpp"

namespace steward {

class rate_limiter {
 public:
  struct verdict {
    bool allowed{false};
    std::uint32_t suppressed_before{0};  // events dropped since the last one allowed
  };

  constexpr rate_limiter(std::uint32_t burst, duration interval) noexcept
      : m_burst(burst), m_interval(interval) {}

  // Returns: whether this event may pass, and (when it may) how many were suppressed before it.
  constexpr verdict check(time_point now) noexcept {
    if (m_count == 0 || now - m_start >= m_interval) {  // a new interval opens
      m_start = now;
      m_count = 0;
    }
    if (m_count >= m_burst) {
      ++m_suppressed;
      return verdict{false, 0};
    }
    ++m_count;
    const verdict v{true, m_suppressed};
    m_suppressed = 0;
    return v;
  }

  [[nodiscard]] constexpr std::uint32_t pending_suppressed() const noexcept { return m_suppressed; }

 private:
  std::uint32_t m_burst;
  duration m_interval;
  time_point m_start{};
  std::uint32_t m_count{0};
  std::uint32_t m_suppressed{0};
};

}  // namespace steward
