// INV-16: after initialisation nothing allocates - proven by counting every allocation of every
// thread while thousands of lifecycle cycles run (alloc_counter.cpp replaces the allocator).
#include <fcntl.h>
#include <unistd.h>

#include "alloc_counter.hpp"
#include "test_support.hpp"

using namespace testutil;
using steward::worker_state;

namespace {

struct probe {
  steward::notifier note;
  std::atomic<int> ticks{0};
  std::atomic<int> bodies{0};  // a stop or pause can win before the body runs
  int fd{-1};
};

steward::worker_config busy_worker(probe* p) {
  steward::worker_config cfg;
  cfg.name = "alloc-free";
  cfg.body = [p](steward::worker_context& ctx) -> steward::result<void> {
    probe* pp = p;
    pp->bodies.fetch_add(1);
    STEWARD_TRY(ctx.defer([pp] { pp->ticks.fetch_add(1); }));
    for (int i = 0;; ++i) {
      STEWARD_TRY(ctx.checkpoint());
      switch (i % 3) {
        case 0:
          STEWARD_TRY(ctx.sleep_for(std::chrono::microseconds(20)));
          break;
        case 1: {
          auto r = ctx.wait_for(
              pp->note, [] { return false; }, std::chrono::microseconds(20));
          if (!r && r.error() != steward::errc::timeout) return steward::fail(r.error());
          break;
        }
        default: {
          auto soon = steward::platform::deadline_after(std::chrono::microseconds(20));
          if (!soon) return steward::fail(soon.error());
          auto r = ctx.wait_readable(pp->fd, *soon);
          if (!r && r.error() != steward::errc::timeout) return steward::fail(r.error());
        }
      }
    }
  };
  return cfg;
}

}  // namespace

TEST_CASE("allocation counter: positive control") {
  if (alloc_counting_mode() == 0) {
    MESSAGE("skipped: allocation counting is not active in this build (valgrind or similar)");
    return;
  }
  alloc_scope scope;
  int* volatile p = new int(3);
  delete p;
  CHECK(scope.this_thread() >= 1);
  CHECK(scope.all_threads() >= 1);
}

TEST_CASE("no heap: thousands of start/pause/resume/stop/restart cycles allocate nothing" *
          doctest::timeout(180)) {
  if (alloc_counting_mode() == 0) {
    MESSAGE("skipped: allocation counting is not active in this build (valgrind or similar)");
    return;
  }
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  probe p;
  p.fd = fds[0];
  auto w = make_worker(busy_worker(&p));  // the allocation of the test fixture itself
  // Initialisation: the first cycle may touch lazily created process state (the eventfd).
  REQUIRE(w->start());
  REQUIRE(w->pause(k_ack));
  REQUIRE(w->resume());
  REQUIRE(w->stop(k_ack));

  constexpr int k_cycles = 2000;
  int failures = 0;
  alloc_scope scope;
  for (int i = 0; i < k_cycles; ++i) {
    auto started = w->start();
    failures += started ? 0 : 1;
    failures += w->pause(k_ack) ? 0 : 1;
    p.note.notify_all();
    failures += w->resume() ? 0 : 1;
    if (i % 2 == 0) failures += w->pause(k_ack) ? 0 : 1;  // half stop a paused worker
    if (started) failures += started->handle.stop(k_ack) ? 0 : 1;
  }
  const auto allocated = scope.all_threads();
  CHECK(failures == 0);
  CHECK(allocated == 0);
  CHECK(p.ticks == p.bodies.load());  // every body's resource released once
  CHECK(w->state() == worker_state::stopped);
  ::close(fds[0]);
  ::close(fds[1]);
}
