// The RAII cleanup protocol through a real worker: every registered resource is released
// exactly once, newest first, on every way out (INV-1), and a restart starts empty.
#include "test_support.hpp"

using namespace testutil;
using steward::errc;
using steward::exit_reason;
using steward::worker_state;

namespace {

enum class way_out { normal_return, error_return, exception, stop_running, stop_waiting, stop_paused };

struct scenario {
  ledger book;
  way_out how{way_out::normal_return};
  std::atomic<int> registered{0};
  std::atomic<bool> armed{false};  // all three resources registered
};

steward::worker_config resource_owner(scenario* sc) {
  steward::worker_config cfg;
  cfg.name = "owner";
  cfg.body = [sc](steward::worker_context& ctx) -> steward::result<void> {
    for (int id = 0; id < 3; ++id) {
      ledger* book = &sc->book;
      STEWARD_TRY(ctx.defer([book, id] { book->release(id); }));
      sc->registered.fetch_add(1);
    }
    sc->armed = true;
    switch (sc->how) {
      case way_out::normal_return:
        return {};
      case way_out::error_return:
        return steward::fail(errc::worker_failed, "owner", 7);
      case way_out::exception:
#if STEWARD_USING_EXCEPTIONS
        throw std::runtime_error("lost the sensor");
#else
        return {};
#endif
      case way_out::stop_running:
        for (;;) STEWARD_TRY(ctx.checkpoint());
      case way_out::stop_waiting:
      case way_out::stop_paused:
        for (;;) STEWARD_TRY(ctx.sleep_for(std::chrono::hours(1)));
    }
    return {};
  };
  return cfg;
}

void check_released_once_in_reverse(const scenario& sc) {
  CHECK(sc.book.count(0) == 1);
  CHECK(sc.book.count(1) == 1);
  CHECK(sc.book.count(2) == 1);
  CHECK(sc.book.order[0].load() == 2);
  CHECK(sc.book.order[1].load() == 1);
  CHECK(sc.book.order[2].load() == 0);
}

steward::exit_report run_scenario(scenario& sc) {
  auto w = make_worker(resource_owner(&sc));
  REQUIRE(w->start());
  REQUIRE(eventually([&] { return sc.armed.load(); }));
  if (sc.how == way_out::stop_paused) {
    REQUIRE(w->pause(k_ack));
    CHECK(sc.book.count(0) == 0);  // nothing released while paused
  }
  auto report = w->stop(k_ack);
  REQUIRE(report);
  CHECK(report->cleanup.released == 3);
  CHECK(report->cleanup.failed == 0);
  check_released_once_in_reverse(sc);
  // Stopping again, or destroying, must not release anything twice.
  CHECK(w->stop(k_ack));
  w.reset();
  check_released_once_in_reverse(sc);
  return *report;
}

}  // namespace

TEST_CASE("cleanup: normal return releases everything once, newest first" * doctest::timeout(60)) {
  scenario sc;
  sc.how = way_out::normal_return;
  CHECK(run_scenario(sc).reason != exit_reason::error);
}

TEST_CASE("cleanup: an error return releases everything once" * doctest::timeout(60)) {
  scenario sc;
  sc.how = way_out::error_return;
  const auto report = run_scenario(sc);
  CHECK(report.reason == exit_reason::error);
  CHECK(report.err.value == 7);
}

#if STEWARD_USING_EXCEPTIONS
TEST_CASE("cleanup: an exception releases everything once" * doctest::timeout(60)) {
  scenario sc;
  sc.how = way_out::exception;
  const auto report = run_scenario(sc);
  CHECK(report.reason == exit_reason::exception);
}
#endif

TEST_CASE("cleanup: stop while running releases everything once" * doctest::timeout(60)) {
  scenario sc;
  sc.how = way_out::stop_running;
  CHECK(run_scenario(sc).reason == exit_reason::stopped);
}

TEST_CASE("cleanup: stop while waiting releases everything once" * doctest::timeout(60)) {
  scenario sc;
  sc.how = way_out::stop_waiting;
  CHECK(run_scenario(sc).reason == exit_reason::stopped);
}

TEST_CASE("cleanup: stop while paused (pause-to-stop) releases everything once" * doctest::timeout(60)) {
  scenario sc;
  sc.how = way_out::stop_paused;
  CHECK(run_scenario(sc).reason == exit_reason::stopped);
}

TEST_CASE("cleanup: registering past capacity inside a worker releases at once" * doctest::timeout(60)) {
  struct probe {
    ledger book;
    std::atomic<int> overflow_code{-2};
  } p;
  steward::worker_config cfg;
  auto* pr = &p;
  cfg.body = [pr](steward::worker_context& ctx) -> steward::result<void> {
    ledger* book = &pr->book;
    for (int id = 0; id < 8; ++id) STEWARD_TRY(ctx.defer([book, id] { book->release(id); }));
    auto extra = ctx.defer([book] { book->release(8); });
    pr->overflow_code = code_of(extra);
    return {};
  };
  auto w = make_worker(cfg);  // capacity 8
  REQUIRE(w->start());
  REQUIRE(w->join(k_ack));  // an acknowledgement, no polling
  CHECK(w->state() == worker_state::stopped);
  CHECK(p.overflow_code == code(errc::capacity_exceeded));
  CHECK(p.book.order[0].load() == 8);  // released first, at registration time
  for (int id = 0; id <= 8; ++id) CHECK(p.book.count(id) == 1);
}

TEST_CASE("cleanup: a failed release is reported and fails the worker" * doctest::timeout(60)) {
  steward::worker_config cfg;
  cfg.name = "leaky";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    STEWARD_TRY(ctx.defer([] { return -1; }));  // e.g. close() returning -1
    return {};
  };
  auto w = make_worker(cfg);
  REQUIRE(w->start());
  REQUIRE(w->join(k_ack));  // an acknowledgement, no polling
  CHECK(w->state() == worker_state::failed);
  auto report = w->last_exit();
  REQUIRE(report);
  CHECK(report->reason == exit_reason::cleanup_failed);
  CHECK(report->err.code == errc::cleanup_failed);
  CHECK(report->cleanup.failed == 1);
}

TEST_CASE("cleanup: a restart starts with an empty stack" * doctest::timeout(60)) {
  struct probe {
    std::atomic<int> size_at_entry[3]{{-1}, {-1}, {-1}};
    std::atomic<int> runs{0};
    ledger book;
  } p;
  steward::worker_config cfg;
  auto* pr = &p;
  cfg.body = [pr](steward::worker_context& ctx) -> steward::result<void> {
    const int run = pr->runs.fetch_add(1);
    pr->size_at_entry[run] = static_cast<int>(ctx.self().cleanup().size());
    ledger* book = &pr->book;
    STEWARD_TRY(ctx.defer([book, run] { book->release(run); }));
    STEWARD_TRY(ctx.defer([book, run] { book->release(10 + run); }));
    return {};
  };
  auto w = make_worker(cfg);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(w->start());
    REQUIRE(w->join(k_ack));  // an acknowledgement, no polling
    CHECK(w->state() == worker_state::stopped);
  }
  for (int i = 0; i < 3; ++i) {
    CHECK(p.size_at_entry[i] == 0);
    CHECK(p.book.count(i) == 1);
    CHECK(p.book.count(10 + i) == 1);
  }
}
