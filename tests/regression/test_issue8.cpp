// Regressions of the speed issue (#8): a stop costs one wake-up of the worker and at most one of
// the controller, counted at the platform seam (system calls, not time).
#include <unistd.h>

#include "steward/platform/park.hpp"
#include "test_support.hpp"

using namespace testutil;
using steward::exit_reason;

namespace {
std::atomic<int> g_asleep{0};

steward::worker_config sleeper(int cleanup_entries) {
  steward::worker_config cfg;
  cfg.name = "sleeper";
  static std::atomic<int> released{0};
  released = 0;
  cfg.body = [cleanup_entries](steward::worker_context& ctx) -> steward::result<void> {
    for (int i = 0; i < cleanup_entries; ++i) STEWARD_TRY(ctx.defer([] { released.fetch_add(1); }));
    g_asleep = 1;
    return ctx.sleep_for(std::chrono::hours(1));
  };
  return cfg;
}

// Waits until the worker sleeps in the kernel: its thread's sleep count moved past `before`.
void wait_until_asleep(std::uint64_t sleeps_before) {
  REQUIRE(eventually([&] {
    return g_asleep.load() == 1 && steward::platform::park_counters().sleeps > sleeps_before;
  }));
}
}  // namespace

TEST_CASE("issue8: stopping a sleeping worker wakes it once and its controller at most once" *
          doctest::timeout(60)) {
  for (int entries : {0, 4}) {
    auto w = make_worker(sleeper(entries));
    for (int round = 0; round < 50; ++round) {
      g_asleep = 0;
      const auto before_start = steward::platform::park_counters();
      REQUIRE(w->start());
      wait_until_asleep(before_start.sleeps);
      const auto before = steward::platform::park_counters();
      auto report = w->stop(k_ack);
      const auto after = steward::platform::park_counters();
      REQUIRE(report);
      CHECK(report->reason == exit_reason::stopped);
      CHECK(report->cleanup.released == entries);
      // One wake of the worker, at most one of this controller (the old protocol made three:
      // it also woke the controller when the body returned, before the cleanup).
      CHECK_MESSAGE(after.wakes - before.wakes <= 2, "entries ", entries, " round ", round);
    }
  }
}

TEST_CASE("issue8: stopping an fd-blocked worker makes no futex wake for it" * doctest::timeout(60)) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  static int read_fd = -1;
  read_fd = fds[0];
  steward::worker_config cfg;
  cfg.name = "reader";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    ctx.declare_initialised();
    // A short sleep in the kernel first: once the test has seen it, the controller wake that the
    // initialisation may have issued is over and cannot be counted as part of the stop.
    STEWARD_TRY(ctx.sleep_for(std::chrono::milliseconds(1)));
    g_asleep = 1;
    auto r = ctx.wait_readable(read_fd);
    if (!r) return steward::fail(r.error());
    return {};
  };
  auto w = make_worker(cfg);
  for (int round = 0; round < 50; ++round) {
    g_asleep = 0;
    const auto before_start = steward::platform::park_counters();
    REQUIRE(w->start());
    wait_until_asleep(before_start.sleeps);  // it slept once after it declared itself initialised
    const auto before = steward::platform::park_counters();
    auto report = w->stop(k_ack);
    const auto after = steward::platform::park_counters();
    REQUIRE(report);
    CHECK(report->reason == exit_reason::stopped);
    CHECK(after.wakes - before.wakes <= 1);  // the eventfd reaches the worker; one controller wake
  }
  close(fds[0]);
  close(fds[1]);
}
