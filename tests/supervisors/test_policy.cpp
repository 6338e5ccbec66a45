// Restart policy on an injected clock: exact sequences, no threads, no sleeps.
#include <doctest/doctest.h>

#include <chrono>
#include <deque>
#include <random>

#include "steward/supervisors/policy.hpp"

using namespace std::chrono_literals;
using steward::backoff_delay;
using steward::backoff_policy;
using steward::duration;
using steward::intensity_window;
using steward::time_point;
using steward::xorshift32;

namespace {
time_point at(std::chrono::milliseconds ms) {
  return time_point{ms};
}
}  // namespace

TEST_CASE("intensity: MaxR restarts within MaxT are allowed, the next one is not") {
  intensity_window w(3, 10s);
  CHECK(w.add(at(0ms)));
  CHECK(w.add(at(1000ms)));
  CHECK(w.add(at(2000ms)));
  CHECK_FALSE(w.add(at(3000ms)));  // 4 restarts in 10 s > 3
}

TEST_CASE("intensity: restarts spaced beyond the period are survived forever") {
  intensity_window w(1, 5s);
  for (int i = 0; i < 1000; ++i) CHECK(w.add(at(std::chrono::milliseconds(i * 5001))));
  CHECK(w.count() == 1);  // constant memory however long the loop runs
}

TEST_CASE("intensity: a restart exactly one period ago still counts (as in OTP)") {
  intensity_window w(1, 5s);
  CHECK(w.add(at(0ms)));
  CHECK_FALSE(w.add(at(5000ms)));
  intensity_window v(1, 5s);
  CHECK(v.add(at(0ms)));
  CHECK(v.add(at(5001ms)));
}

TEST_CASE("intensity: zero allows no restart at all") {
  intensity_window w(0, 5s);
  CHECK_FALSE(w.add(at(0ms)));
}

TEST_CASE("intensity: matches a naive reference model on random restart times") {
  std::mt19937 rng(42);
  for (std::uint32_t maxr = 0; maxr <= 5; ++maxr) {
    intensity_window w(maxr, 1000ms);
    std::deque<long> model;  // every restart time, trimmed like OTP's list
    long t = 0;
    for (int i = 0; i < 2000; ++i) {
      t += static_cast<long>(rng() % 700);
      while (!model.empty() && model.front() < t - 1000) model.pop_front();
      model.push_back(t);
      const bool expected = model.size() <= maxr;
      CHECK(w.add(at(std::chrono::milliseconds(t))) == expected);
      if (model.size() > maxr + 1) model.pop_front();  // the ring keeps maxr + 1
    }
  }
}

TEST_CASE("intensity: the window follows the monotonic time it is given, not a wall clock") {
  // A wall-clock step would appear as a jump in these inputs; monotonic time never jumps back.
  intensity_window w(2, 10s);
  CHECK(w.add(at(100000ms)));
  CHECK(w.add(at(100001ms)));
  CHECK_FALSE(w.add(at(100002ms)));
}

TEST_CASE("backoff: geometric from base, capped") {
  backoff_policy p;
  p.base = 10ms;
  p.factor_permille = 2000;
  p.cap = 80ms;
  xorshift32 rng(1);
  const duration expected[] = {10ms, 20ms, 40ms, 80ms, 80ms, 80ms};
  for (std::uint32_t n = 0; n < 6; ++n) CHECK(backoff_delay(p, n, rng) == expected[n]);
  CHECK(backoff_delay(p, 1000000, rng) == 80ms);  // no overflow, still the cap
}

TEST_CASE("backoff: off by default, constant for a factor of one") {
  backoff_policy off;
  xorshift32 rng(1);
  CHECK(backoff_delay(off, 5, rng) == duration::zero());
  backoff_policy flat;
  flat.base = 7ms;
  flat.factor_permille = 1000;
  CHECK(backoff_delay(flat, 0, rng) == 7ms);
  CHECK(backoff_delay(flat, 9, rng) == 7ms);
}

TEST_CASE("backoff: jitter stays within its band and repeats for the same seed") {
  backoff_policy p;
  p.base = 100ms;
  p.factor_permille = 1000;
  p.jitter_permille = 200;  // +/- 20 %
  p.cap = 1s;
  xorshift32 a(7), b(7), c(8);
  bool differs = false;
  for (int i = 0; i < 200; ++i) {
    const auto da = backoff_delay(p, 0, a);
    CHECK(da >= 80ms);
    CHECK(da <= 120ms);
    CHECK(backoff_delay(p, 0, b) == da);
    differs = differs || backoff_delay(p, 0, c) != da;
  }
  CHECK(differs);
}
