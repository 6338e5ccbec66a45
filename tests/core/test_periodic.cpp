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

TEST_CASE("periodic: a tick that runs 3.5 periods skips and counts at least two deadlines" * doctest::timeout(60)) {
  tick_probe p;
  p.slow_ticks = 1;
  steward::worker_config cfg;
  cfg.name = "overrunner";
  auto* pr = &p;
  static constexpr auto k_period = std::chrono::milliseconds(20);
  cfg.body = steward::periodic_body(
      k_period,
      [pr](steward::worker_context&) {
        if (pr->slow_ticks.fetch_sub(1) > 0) std::this_thread::sleep_for(k_period * 7 / 2);
        pr->ticks.fetch_add(1);
      },
      &p.stats);
  auto w = make_worker(cfg);
  REQUIRE(w->start());
  REQUIRE(eventually([&] { return p.ticks.load() >= 3; }));
  REQUIRE(w->stop(k_ack));
  CHECK(p.stats.overruns.load() >= 2);
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
  tick_probe p;
  steward::worker_config cfg;
  auto* pr = &p;
  cfg.body = steward::periodic_body(
      std::chrono::milliseconds(2), [pr](steward::worker_context&) { pr->ticks.fetch_add(1); }, &p.stats);
  auto w = make_worker(cfg);
  REQUIRE(w->start());
  REQUIRE(eventually([&] { return p.ticks.load() >= 3; }));
  REQUIRE(w->pause(k_ack));
  const int frozen = p.ticks.load();
  for (int i = 0; i < 1000; ++i) std::this_thread::yield();
  CHECK(p.ticks.load() == frozen);
  const auto overruns_before = p.stats.overruns.load();
  REQUIRE(w->resume());
  REQUIRE(eventually([&] { return p.ticks.load() >= frozen + 3; }));
  CHECK(p.stats.overruns.load() == overruns_before);  // the paused time is not an overrun
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
  REQUIRE(eventually([&] { return w->state() == worker_state::stopped; }));
  CHECK(result == code(errc::invalid_argument));
}
