// Periodic workers: ticks on absolute deadlines, overruns counted, pause and stop reach them.
#include "steward/core/periodic.hpp"

#include "test_support.hpp"

using namespace testutil;
using steward::errc;
using steward::exit_reason;
using steward::worker_state;

namespace {
struct tick_probe {
  steward::periodic_stats stats;
  std::atomic<int> ticks{0};
  std::atomic<int> slow_ticks{0};  // ticks that should take 3.5 periods
};

// On the manual clock (frozen at t0 until the test advances it) the timer's grid is known:
// t0 + period, t0 + 2 periods... A slow tick advances the clock itself by 3.5 periods, which
// is exactly what a tick that runs that long looks like to the timer.
steward::worker_config manual_ticker(tick_probe* pr, steward::duration period) {
  steward::worker_config cfg;
  cfg.name = "manual-ticker";
  cfg.body = steward::periodic_body(
      period,
      [pr, period](steward::worker_context&) {
        if (pr->slow_ticks.load() > 0) {
          pr->slow_ticks.fetch_sub(1);
          manual_clock::advance(period * 7 / 2);
        }
        pr->ticks.fetch_add(1);
      },
      &pr->stats);
  return cfg;
}

// Waits until the worker waits for `deadline` (so it has read the clock and decided), then
// moves the manual clock to `deadline` and waits for the tick that must fall due.
bool tick_at(steward::time_point deadline, const tick_probe& p, int expected_ticks) {
  if (!manual_clock::waited_for(deadline)) return false;
  manual_clock::advance(deadline - manual_clock::now());
  return eventually([&] { return p.ticks.load() == expected_ticks; });
}
}  // namespace

TEST_CASE("periodic: ticks run, lateness is recorded and never negative" * doctest::timeout(60)) {
  tick_probe p;
  steward::worker_config cfg;
  cfg.name = "ticker";
  auto* pr = &p;
  cfg.body = steward::periodic_body(
      std::chrono::milliseconds(1), [pr](steward::worker_context&) { pr->ticks.fetch_add(1); }, &p.stats);
  auto w = make_worker(cfg);
  REQUIRE(w->start());
  REQUIRE(eventually([&] { return p.ticks.load() >= 20; }));
  auto report = w->stop(k_ack);
  REQUIRE(report);
  CHECK(report->reason == exit_reason::stopped);
  CHECK(p.stats.ticks.load() >= 20);
  CHECK(p.stats.latest_lateness_ns.load() >= 0);
  CHECK(p.stats.worst_lateness_ns.load() >= p.stats.latest_lateness_ns.load());
}

TEST_CASE("periodic: a tick that runs 3.5 periods skips and counts exactly two deadlines" *
          doctest::timeout(60)) {
  manual_clock clock;
  CHECK(clock.installed());
  if (!clock.installed()) return;
  const auto t0 = manual_clock::now();
  static constexpr auto k_period = std::chrono::milliseconds(20);
  tick_probe p;
  p.slow_ticks = 1;
  auto w = make_worker(manual_ticker(&p, k_period));
  CHECK(w->start());
  // Tick 1 at t0 + 1 period runs until t0 + 4.5 periods: the deadlines at 2 and 3 periods are
  // skipped and counted, the one at 4 periods runs at once, half a period late.
  const bool second_tick = tick_at(t0 + k_period, p, 2);
  CHECK(second_tick);
  if (!second_tick) return;
  const auto half = std::chrono::nanoseconds(k_period / 2).count();
  CHECK(p.stats.overruns.load() == 2);
  CHECK(p.stats.latest_lateness_ns.load() == half);
  CHECK(p.stats.worst_lateness_ns.load() == half);
  // Back on the grid: the next deadline is t0 + 5 periods, met exactly.
  const bool third_tick = tick_at(t0 + 5 * k_period, p, 3);
  CHECK(third_tick);
  if (!third_tick) return;
  CHECK(p.stats.overruns.load() == 2);
  CHECK(p.stats.latest_lateness_ns.load() == 0);
  CHECK(p.stats.worst_lateness_ns.load() == half);
  CHECK(p.stats.ticks.load() == 3);
  CHECK(w->stop(k_ack));
}

TEST_CASE("periodic: stop reaches a worker waiting for a distant deadline at once" * doctest::timeout(60)) {
  tick_probe p;
  steward::worker_config cfg;
  auto* pr = &p;
  cfg.body = steward::periodic_body(
      std::chrono::hours(1), [pr](steward::worker_context&) { pr->ticks.fetch_add(1); }, &p.stats);
  auto w = make_worker(cfg);
  REQUIRE(w->start());
  REQUIRE(eventually([&] { return w->state() == worker_state::running; }));
  auto report = w->stop(k_ack);  // only the wake-up can end a one-hour wait
  REQUIRE(report);
  CHECK(report->reason == exit_reason::stopped);
  CHECK(p.ticks == 0);
}

TEST_CASE("periodic: a pause inside the period wait is acknowledged, ticks resume after" * doctest::timeout(60)) {
  manual_clock clock;
  CHECK(clock.installed());
  if (!clock.installed()) return;
  const auto t0 = manual_clock::now();
  static constexpr auto k_period = std::chrono::milliseconds(2);
  tick_probe p;
  auto w = make_worker(manual_ticker(&p, k_period));
  CHECK(w->start());
  for (int i = 1; i <= 3; ++i) {  // each deadline reached exactly
    const bool ticked = tick_at(t0 + i * k_period, p, i);
    CHECK(ticked);
    if (!ticked) return;
  }
  // The worker waits for t0 + 4 periods: the pause parks it inside that wait.
  const bool waiting = manual_clock::waited_for(t0 + 4 * k_period);
  CHECK(waiting);
  if (!waiting) return;
  const bool paused = static_cast<bool>(w->pause(k_ack));
  CHECK(paused);
  if (!paused) return;
  CHECK(w->state() == worker_state::paused);
  clock.advance(k_period * 100);  // t0 + 103 periods: 100 periods pass while paused
  CHECK(p.ticks.load() == 3);
  CHECK(w->resume());
  // Re-phased to the first deadline after the resume, t0 + 104 periods: no tick for the
  // deadlines missed while paused, and they are not overruns.
  for (int i = 4; i <= 6; ++i) {
    const bool ticked = tick_at(t0 + (100 + i) * k_period, p, i);
    CHECK(ticked);
    if (!ticked) return;
  }
  CHECK(p.stats.overruns.load() == 0);  // the paused time is not an overrun
  CHECK(p.stats.ticks.load() == 6);
  CHECK(p.stats.latest_lateness_ns.load() == 0);  // on the new grid, exactly on time
  CHECK(p.stats.worst_lateness_ns.load() == 0);   // no late tick for the paused time
  CHECK(w->stop(k_ack));
}

TEST_CASE("periodic: a non-positive period is refused" * doctest::timeout(60)) {
  std::atomic<int> result{-2};
  steward::worker_config cfg;
  auto* out = &result;
  cfg.body = [out](steward::worker_context& ctx) {
    steward::periodic_timer timer(std::chrono::milliseconds(0));
    *out = code_of(timer.wait_next(ctx));
  };
  auto w = make_worker(cfg);
  REQUIRE(w->start());
  REQUIRE(w->join(k_ack));
  CHECK(w->state() == worker_state::stopped);
  CHECK(result == code(errc::invalid_argument));
}
