#include "steward/supervisors/policy.hpp"

#include <cstdint>

namespace steward {

const char* to_string(strategy s) noexcept {
  switch (s) {
    case strategy::one_for_one:
      return "one_for_one";
    case strategy::one_for_all:
      return "one_for_all";
    case strategy::rest_for_one:
      return "rest_for_one";
  }
  return "?";
}

const char* to_string(restart_type r) noexcept {
  switch (r) {
    case restart_type::permanent:
      return "permanent";
    case restart_type::transient:
      return "transient";
    case restart_type::temporary:
      return "temporary";
  }
  return "?";
}

bool intensity_window::add(time_point now) noexcept {
  constexpr std::size_t k_ring = k_max_intensity + 1;
  const time_point threshold = now - m_period;
  while (m_count > 0 && m_ring[m_head] < threshold) {  // drop those older than the period
    m_head = (m_head + 1) % k_ring;
    --m_count;
  }
  if (m_count == k_ring) {  // full: the oldest cannot change the verdict any more
    m_head = (m_head + 1) % k_ring;
    --m_count;
  }
  m_ring[(m_head + m_count) % k_ring] = now;
  ++m_count;
  return m_count <= m_intensity;
}

bool intensity_window::allows(time_point now) const noexcept {
  constexpr std::size_t k_ring = k_max_intensity + 1;
  const time_point threshold = now - m_period;
  std::size_t recent = 0;
  for (std::size_t i = 0; i < m_count; ++i) {
    if (m_ring[(m_head + i) % k_ring] >= threshold) ++recent;
  }
  return recent + 1 <= m_intensity;
}

duration backoff_delay(const backoff_policy& policy, std::uint32_t consecutive, xorshift32& rng) noexcept {
  if (policy.base <= duration::zero()) return duration::zero();
  const auto cap = policy.cap > policy.base ? policy.cap : policy.base;
  auto delay = policy.base;
  if (policy.factor_permille > 1000) {  // a factor of 1 or less keeps the delay at base
    const auto factor = static_cast<std::int64_t>(policy.factor_permille);
    for (std::uint32_t i = 0; i < consecutive && delay < cap; ++i) {
      const auto count = delay.count();
      if (count > INT64_MAX / factor) {
        delay = cap;
        break;
      }
      delay = duration{count * factor / 1000};
    }
    if (delay > cap) delay = cap;
  }
  const auto jitter =
      policy.jitter_permille > 1000 ? std::int64_t{1000} : std::int64_t{policy.jitter_permille};
  const auto span = delay.count() / 1000 * jitter;  // the delay moves by up to +/- span
  if (span > 0) {
    const std::uint64_t draw = (std::uint64_t{rng.next()} << 32U) | rng.next();
    const auto offset = static_cast<std::int64_t>(draw % static_cast<std::uint64_t>(2 * span + 1)) - span;
    delay += duration{offset};
  }
  return delay;
}

}  // namespace steward
