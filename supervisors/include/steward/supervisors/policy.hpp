// Supervisor policy as pure functions and small value types over an injected time: the restart
// intensity window, backoff delays and the seeded jitter generator. No OS, no threads, so the
// tests drive them with a manual clock and assert exact sequences.
#pragma once

#include <cstddef>
#include <cstdint>

#include "steward/core/config.hpp"
#include "steward/core/time.hpp"


namespace steward {

// OTP's vocabulary.
enum class strategy : std::uint8_t { one_for_one, one_for_all, rest_for_one };
enum class restart_type : std::uint8_t {
  permanent,  // always restarted
  transient,  // restarted only after an abnormal exit (error, exception, failed cleanup)
  temporary,  // never restarted
};
enum class auto_shutdown : std::uint8_t { off, any_significant, all_significant };  // OTP: never, any, all

[[nodiscard]] const char* to_string(strategy s) noexcept;
[[nodiscard]] const char* to_string(restart_type r) noexcept;

// A small seeded generator for backoff jitter: reproducible sequences, no global state.
class xorshift32 {
 public:
  explicit constexpr xorshift32(std::uint32_t seed) noexcept : m_state(seed == 0 ? 0x9E3779B9U : seed) {}
  constexpr std::uint32_t next() noexcept {
    m_state ^= m_state << 13U;
    m_state ^= m_state >> 17U;
    m_state ^= m_state << 5U;
    return m_state;
  }

 private:
  std::uint32_t m_state;
};

// Restart intensity: at most `intensity` restarts within any `period` (OTP's MaxR / MaxT),
// measured on the monotonic clock. A fixed ring of intensity + 1 time stamps: no list, no heap,
// and memory stays constant however long a crash loop runs.
class intensity_window {
 public:
  static constexpr std::size_t k_max_intensity = STEWARD_MAX_INTENSITY;

  constexpr intensity_window() noexcept = default;
  constexpr intensity_window(std::uint32_t intensity, duration period) noexcept
      : m_intensity(intensity), m_period(period) {}

  // Records a restart at `now` and forgets those older than the period (a restart exactly
  // `period` ago still counts, as in OTP). Returns: true if the restart is allowed, false if
  // it makes more than `intensity` restarts in the period (the supervisor must give up).
  bool add(time_point now) noexcept;
  // Whether add(now) would allow the restart, without recording it.
  [[nodiscard]] bool allows(time_point now) const noexcept;
  void clear() noexcept { m_count = 0; }
  [[nodiscard]] std::size_t count() const noexcept { return m_count; }
  [[nodiscard]] std::uint32_t intensity() const noexcept { return m_intensity; }
  [[nodiscard]] duration period() const noexcept { return m_period; }

 private:
  time_point m_ring[k_max_intensity + 1]{};
  std::size_t m_head{0};  // index of the oldest entry
  std::size_t m_count{0};
  std::uint32_t m_intensity{1};
  duration m_period{std::chrono::seconds(5)};
};

// Delay between restarts of the same child, which OTP does not have: geometric growth from
// `base` by `factor_permille` / 1000 per consecutive restart, capped, with optional +/- jitter.
// A child that ran `reset_after` without failing starts a new streak. base == 0 disables it.
struct backoff_policy {
  duration base{duration::zero()};
  std::uint32_t factor_permille{2000};
  duration cap{std::chrono::seconds(30)};
  std::uint32_t jitter_permille{0};  // 0..1000: the delay moves by up to this fraction either way
  std::uint32_t seed{1};
  duration reset_after{std::chrono::seconds(10)};
};

// The delay before restart number `consecutive` (0 for the first of a streak).
[[nodiscard]] duration backoff_delay(const backoff_policy& policy, std::uint32_t consecutive,
                                     xorshift32& rng) noexcept;

}  // namespace steward
