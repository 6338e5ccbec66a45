// Regressions of the application-code issue (#10): misuse that used to pass silently.
#include <unistd.h>

#include "steward/platform/clock.hpp"
#include "supervisor_kit.hpp"

using namespace testutil;
using steward::errc;
using steward::strategy;
using steward::tree_state;

TEST_CASE("issue10: a supervisor built from a bad config fails the tree's validation with its name" *
          doctest::timeout(60)) {
  SUBCASE("intensity out of range") {
    kit k;
    steward::supervisor<2> big({"big", strategy::one_for_all, 20, std::chrono::seconds(10)});
    CHECK(big.name() != std::string("big"));  // it did not take the config ...
    REQUIRE(big.add_child(k.spec(0)));
    test_tree tree(big);
    auto started = tree.start();
    REQUIRE_FALSE(started);  // ... and it does not run on defaults either
    CHECK(started.error() == errc::invalid_argument);
    CHECK(std::string(started.error().subject) == "big");
    CHECK(started.error().value == 20);
    CHECK(tree.state() == tree_state::idle);
    CHECK(k.starts(0) == 0);
  }
  SUBCASE("a zero period, nested") {
    kit k;
    steward::supervisor<1> root;
    steward::supervisor<1> inner({"inner", strategy::one_for_one, 1, std::chrono::seconds(0)});
    REQUIRE(inner.add_child(k.spec(0)));
    REQUIRE(root.add_child(supervisor_child("inner", inner)));
    test_tree tree(root);
    auto started = tree.start();
    REQUIRE_FALSE(started);
    CHECK(std::string(started.error().subject) == "inner");
    CHECK(k.starts(0) == 0);
  }
  SUBCASE("a later good configure() clears it") {
    kit k;
    steward::supervisor<1> sup({"big", strategy::one_for_all, 20, std::chrono::seconds(10)});
    REQUIRE(sup.configure({"fixed", strategy::one_for_all, 3, std::chrono::seconds(10)}));
    REQUIRE(sup.add_child(k.spec(0)));
    test_tree tree(sup);
    REQUIRE(tree.start());
    REQUIRE(tree.stop());
  }
}

// ------------------------------------------------------------------ waiting for an exit

TEST_CASE("issue10: join() waits for a body that returns by itself, with a deadline" * doctest::timeout(60)) {
  static std::atomic<bool> finish{false};
  finish = false;
  steward::worker_config cfg;
  cfg.name = "finisher";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    while (!finish.load()) STEWARD_TRY(ctx.checkpoint());
    return {};
  };
  auto w = make_worker(cfg);
  CHECK(code_of(w->join(k_ack)) == code(errc::not_running));  // never started
  REQUIRE(w->start());
  CHECK(code_of(w->join(std::chrono::milliseconds(1))) == code(errc::timeout));
  CHECK_FALSE(steward::is_terminal(w->state()));  // a join asks nothing of the worker
  finish = true;
  auto report = w->join(k_ack);
  REQUIRE(report);
  CHECK(report->reason == steward::exit_reason::returned);
  CHECK(report->generation == w->generation());
  auto again = w->join(k_ack);  // ended already: at once, the same report
  REQUIRE(again);
  CHECK(again->generation == report->generation);
}

TEST_CASE("issue10: a body joins another worker as a safe point that pause and stop reach" *
          doctest::timeout(60)) {
  static std::atomic<bool> finish{false};
  static std::atomic<int> joined_reason{-1};
  finish = false;
  steward::worker_config target_cfg;
  target_cfg.name = "target";
  target_cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    while (!finish.load()) STEWARD_TRY(ctx.sleep_for(std::chrono::microseconds(200)));
    return {};
  };
  auto target = make_worker(target_cfg);
  static test_worker* target_ptr = nullptr;
  target_ptr = target.get();
  steward::worker_config joiner_cfg;
  joiner_cfg.name = "joiner";
  joiner_cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    auto report = ctx.join(*target_ptr, std::chrono::hours(1));
    if (!report) return steward::fail(report.error());
    joined_reason = static_cast<int>(report->reason);
    return {};
  };
  auto joiner = make_worker(joiner_cfg);
  REQUIRE(target->start());
  REQUIRE(joiner->start());
  REQUIRE(joiner->pause(k_ack));  // parked inside the join
  REQUIRE(joiner->resume());
  finish = true;
  auto joined = joiner->join(k_ack);
  REQUIRE(joined);
  CHECK(joined->reason == steward::exit_reason::returned);
  CHECK(joined_reason == static_cast<int>(steward::exit_reason::returned));

  finish = false;  // and a stop ends the join at once
  REQUIRE(target->start());
  REQUIRE(joiner->start());
  REQUIRE(joiner->wait_initialised(k_ack));
  auto stopped = joiner->stop(k_ack);
  REQUIRE(stopped);
  CHECK(stopped->reason == steward::exit_reason::stopped);
  finish = true;
  CHECK(target->join(k_ack));
}

TEST_CASE("issue10: tree.wait() returns once the tree fails or stops on its own" * doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one, 0);
  f.add(0);
  CHECK(code_of(f.tree->wait(k_ack)) == code(errc::not_running));
  REQUIRE(f.tree->start());
  CHECK(code_of(f.tree->wait(std::chrono::milliseconds(1))) == code(errc::timeout));
  f.k.command(0, return_error);  // intensity 0: the root gives up
  auto reached = f.tree->wait(k_ack);
  REQUIRE(reached);
  CHECK(*reached == tree_state::failed);
  CHECK(f.events.count(steward::tree_event_kind::tree_failed) == 1);  // event before state
  CHECK(f.tree->stop());
  REQUIRE(f.tree->start());
  f.tree->request_stop_async();
  reached = f.tree->wait(k_ack);
  REQUIRE(reached);
  CHECK(*reached == tree_state::stopped);
  CHECK(f.tree->stop());
}

// ------------------------------------------------------------------ std::chrono at the surface

TEST_CASE("issue10: every wait takes steady_clock deadlines and durations" * doctest::timeout(60)) {
  static int read_fd = -1;
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  read_fd = fds[0];
  static std::atomic<int> step{0};
  steward::worker_config cfg;
  cfg.name = "chrono";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    using clock = std::chrono::steady_clock;
    STEWARD_TRY(ctx.sleep_until(clock::now() + std::chrono::milliseconds(1)));
    steward::notifier never_notified;
    auto timed_out = ctx.wait_until(never_notified, [] { return false; }, clock::now() + std::chrono::milliseconds(1));
    if (timed_out || timed_out.error() != errc::timeout) return steward::fail(errc::invalid_argument, "notifier");
    auto quiet = ctx.wait_readable(read_fd, clock::now() + std::chrono::milliseconds(1));
    if (quiet || quiet.error() != errc::timeout) return steward::fail(errc::invalid_argument, "fd deadline");
    auto quiet2 = ctx.wait_readable(read_fd, std::chrono::milliseconds(1));
    if (quiet2 || quiet2.error() != errc::timeout) return steward::fail(errc::invalid_argument, "fd duration");
    step = 1;
    auto ready = ctx.wait_readable(read_fd, clock::now() + std::chrono::hours(1));
    if (!ready) return steward::fail(ready.error());
    step = 2;
    return {};
  };
  auto w = make_worker(cfg);
  REQUIRE(w->start());
  REQUIRE(eventually([] { return step.load() == 1; }));
  REQUIRE(write(fds[1], "x", 1) == 1);
  auto report = w->join(k_ack);
  REQUIRE(report);
  CHECK(report->reason == steward::exit_reason::returned);
  CHECK(step == 2);
  close(fds[0]);
  close(fds[1]);
  CHECK(steward::platform::from_steady(std::chrono::steady_clock::time_point::max()) == steward::never);
}

TEST_CASE("issue10: notify_one wakes the longest waiter only" * doctest::timeout(60)) {
  static steward::notifier note;
  static std::atomic<int> tokens{0};
  static std::atomic<int> took[2];
  static std::atomic<int> evaluated[2];  // predicate evaluations: proof of being attached
  tokens = 0;
  took[0] = took[1] = 0;
  evaluated[0] = evaluated[1] = 0;
  auto make = [](int i) {
    steward::worker_config cfg;
    cfg.name = i == 0 ? "first" : "second";
    cfg.body = [i](steward::worker_context& ctx) -> steward::result<void> {
      for (;;) {
        STEWARD_TRY(ctx.wait_until(note, [i] {
          evaluated[i].fetch_add(1);  // attached to the notifier before the first evaluation
          int t = tokens.load();
          while (t > 0 && !tokens.compare_exchange_weak(t, t - 1)) {
          }
          return t > 0;
        }, steward::never));
        took[i].fetch_add(1);
      }
    };
    return cfg;
  };
  auto a = make_worker(make(0));
  auto b = make_worker(make(1));
  REQUIRE(a->start());
  REQUIRE(eventually([] { return evaluated[0].load() >= 1; }));  // a attached first
  REQUIRE(b->start());
  REQUIRE(eventually([] { return evaluated[1].load() >= 1; }));
  tokens = 1;
  note.notify_one();
  REQUIRE(eventually([] { return took[0].load() + took[1].load() == 1; }));
  CHECK(took[0] == 1);  // the one that waited longest
  CHECK(a->stop(k_ack));
  CHECK(b->stop(k_ack));
}

// ------------------------------------------------------------------ one wait for several sources

TEST_CASE("issue10: wait_any says which of an fd, a notifier and a deadline fired" * doctest::timeout(60)) {
  static int fds[2];
  REQUIRE(pipe(fds) == 0);
  static steward::notifier note;
  static std::atomic<int> flag{0};
  static std::atomic<int> got[4];
  static std::atomic<int> round{0};
  for (auto& g : got) g = -9;
  steward::worker_config cfg;
  cfg.name = "poller";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    auto pred = [] { return flag.load() == 1; };
    const steward::wait_source sources[] = {steward::wait_source::readable(fds[0]),
                                            steward::wait_source::notified(note, pred)};
    for (int r = 0; r < 3; ++r) {
      round = r + 1;
      auto fired = ctx.wait_any(sources, r == 2 ? std::chrono::milliseconds(5) : std::chrono::hours(1));
      if (fired) {
        got[r] = static_cast<int>(fired->index);
        if (fired->index == 0) {
          char c;
          if (read(fds[0], &c, 1) != 1) return steward::fail(errc::io_error);
        } else {
          flag = 0;
        }
      } else if (fired.error() == errc::timeout) {
        got[r] = -1;
      } else {
        return steward::fail(fired.error());
      }
    }
    const steward::wait_source bad[] = {steward::wait_source::readable(-1)};
    auto refused = ctx.wait_any(bad, std::chrono::seconds(1));
    got[3] = refused ? 99 : static_cast<int>(refused.error().code);
    round = 4;  // after got[3]: the test reads it once it sees 4
    for (;;) {  // paused and stopped inside a wait_any
      auto fired = ctx.wait_any(sources, std::chrono::hours(1));
      if (!fired) return steward::fail(fired.error());
    }
  };
  auto w = make_worker(cfg);
  REQUIRE(w->start());
  REQUIRE(eventually([] { return round.load() == 1; }));
  REQUIRE(write(fds[1], "x", 1) == 1);
  REQUIRE(eventually([] { return round.load() == 2; }));
  CHECK(got[0] == 0);  // the fd
  flag = 1;
  note.notify_all();
  REQUIRE(eventually([] { return round.load() >= 3; }));  // round 3 lasts only 5 ms
  CHECK(got[1] == 1);  // the notifier
  REQUIRE(eventually([] { return round.load() == 4; }));
  CHECK(got[2] == -1);  // the deadline
  CHECK(got[3] == code(errc::io_error));
  REQUIRE(w->pause(k_ack));  // a safe point
  REQUIRE(w->resume());
  auto report = w->stop(k_ack);
  REQUIRE(report);
  CHECK(report->reason == steward::exit_reason::stopped);
  close(fds[0]);
  close(fds[1]);
}

TEST_CASE("issue10: a notification reaches a wait_any that also waits on an fd" * doctest::timeout(60)) {
  static int fds[2];
  REQUIRE(pipe(fds) == 0);
  static steward::notifier note;
  static std::atomic<int> value{0};
  static std::atomic<int> seen{0};
  steward::worker_config cfg;
  cfg.name = "mixed";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    for (int target = 1; target <= 200; ++target) {
      auto pred = [target] { return value.load() >= target; };
      const steward::wait_source sources[] = {steward::wait_source::readable(fds[0]),
                                              steward::wait_source::notified(note, pred)};
      auto fired = ctx.wait_any(sources, std::chrono::hours(1));
      if (!fired) return steward::fail(fired.error());
      seen = target;
    }
    return {};
  };
  auto w = make_worker(cfg);
  REQUIRE(w->start());
  for (int i = 1; i <= 200; ++i) {
    value = i;  // no notification may be lost while the worker sits in ppoll()
    note.notify_one();
    REQUIRE(eventually([i] { return seen.load() >= i; }));
  }
  CHECK(w->join(k_ack));
  close(fds[0]);
  close(fds[1]);
}

// ------------------------------------------------------------------ stop callbacks

TEST_CASE("issue10: a stop callback unblocks a foreign wait, on the stopping thread" * doctest::timeout(60)) {
  static std::atomic<bool> cancelled{false};
  static std::atomic<const void*> ran_on{nullptr};
  static thread_local char tag = 0;
  cancelled = false;
  steward::worker_config cfg;
  cfg.name = "driver";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    steward::stop_callback cb(ctx, [] {
      ran_on = &tag;
      cancelled = true;  // what a driver's cancel() would do
    });
    ctx.declare_initialised();
    while (!cancelled.load()) std::this_thread::yield();  // a wait steward cannot reach
    return steward::fail(errc::stop_requested);
  };
  auto w = make_worker(cfg);
  REQUIRE(w->start());
  REQUIRE(w->wait_initialised(k_ack));
  auto report = w->stop(k_ack);
  REQUIRE(report);
  CHECK(report->reason == steward::exit_reason::stopped);
  CHECK(ran_on.load() == &tag);  // this (the stopping) thread ran it

  cancelled = false;  // after an async stop it runs on the thread that calls stop() next
  ran_on = nullptr;
  REQUIRE(w->start());
  REQUIRE(w->wait_initialised(k_ack));
  w->request_stop_async();
  CHECK_FALSE(cancelled.load());
  REQUIRE(w->stop(k_ack));
  CHECK(ran_on.load() == &tag);
}

TEST_CASE("issue10: a stop callback registered after the stop runs at once on the body's thread" *
          doctest::timeout(60)) {
  static std::atomic<int> ran{0};
  static std::atomic<bool> on_body{false};
  ran = 0;
  steward::worker_config cfg;
  cfg.name = "late-cb";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    ctx.declare_initialised();
    while (!ctx.should_stop()) std::this_thread::yield();
    steward::worker* self = &ctx.self();
    steward::stop_callback cb(ctx, [self] {
      ran.fetch_add(1);
      on_body = self->is_current_thread();
    });
    CHECK(cb.invoked());
    return steward::fail(errc::stop_requested);
  };
  auto w = make_worker(cfg);
  REQUIRE(w->start());
  REQUIRE(w->wait_initialised(k_ack));
  REQUIRE(w->stop(k_ack));
  CHECK(ran == 1);  // exactly once
  CHECK(on_body.load());
}

TEST_CASE("issue10: destroying a stop callback waits for its call on another thread" * doctest::timeout(60)) {
  static std::atomic<bool> entered{false};
  static std::atomic<bool> release{false};
  static std::atomic<bool> leaving{false};
  static std::atomic<int> seen_after{-1};
  steward::worker_config cfg;
  cfg.name = "cb-owner";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    {
      int scope_local = 0;  // captured by reference: must stay valid while the callback runs
      int* p = &scope_local;
      steward::stop_callback cb(ctx, [p] {
        entered = true;
        while (!release.load()) std::this_thread::yield();
        *p = 42;  // after release: a use-after-scope if the destructor did not wait (ASan)
      });
      ctx.declare_initialised();
      while (!entered.load()) std::this_thread::yield();
      leaving = true;
      // cb's destructor runs here, while the stopping thread is still inside the callback
      static_cast<void>(scope_local);
      seen_after = 0;
    }
    seen_after = 1;
    return steward::fail(errc::stop_requested);
  };
  auto w = make_worker(cfg);
  REQUIRE(w->start());
  REQUIRE(w->wait_initialised(k_ack));
  std::thread stopper([&] { CHECK(w->stop(k_ack)); });
  // The body has reached the end of its scope (it sets 0 just before cb's destructor runs); it
  // used to be read after a fixed number of yields, which a loaded machine did not always give.
  REQUIRE(eventually([] { return seen_after.load() == 0; }));
  // Time for a destructor that did not wait to run past the scope; a waiting one never does.
  for (int i = 0; i < 1000; ++i) std::this_thread::yield();
  CHECK(seen_after.load() == 0);  // still inside the destructor: it waits for the call
  release = true;
  stopper.join();
  CHECK(seen_after.load() == 1);
}

// ------------------------------------------------------------------ still no heap

#include "alloc_counter.hpp"

TEST_CASE("issue10: wait_any, stop callbacks, join and tree.wait allocate nothing" * doctest::timeout(120)) {
  if (alloc_counting_mode() == 0) {
    MESSAGE("skipped: allocation counting is off in this build");
    return;
  }
  static int fds[2];
  REQUIRE(pipe(fds) == 0);
  static steward::notifier note;
  static std::atomic<int> value{0};
  steward::worker_config cfg;
  cfg.name = "mixed";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    steward::stop_callback cb(ctx, [] { value.fetch_add(1000); });
    auto pred = [] { return value.load() % 2 == 1; };
    const steward::wait_source sources[] = {steward::wait_source::readable(fds[0]),
                                            steward::wait_source::notified(note, pred)};
    for (int i = 0; i < 3; ++i) {
      auto fired = ctx.wait_any(sources, std::chrono::microseconds(50));
      if (!fired && fired.error() != errc::timeout) return steward::fail(fired.error());
    }
    return {};  // ends by itself: join() collects it
  };
  auto w = make_worker(cfg);
  tree_fixture f(strategy::one_for_one);
  f.add(0);
  REQUIRE(w->start());  // the first start creates the thread (glibc allocates for that)
  REQUIRE(w->join(k_ack));
  REQUIRE(f.tree->start());
  REQUIRE(f.tree->stop());
  const alloc_scope scope;
  for (int round = 0; round < 200; ++round) {
    REQUIRE(w->start());
    value.fetch_add(1);
    note.notify_one();
    auto report = round % 2 == 0 ? w->join(k_ack) : w->stop(k_ack);
    REQUIRE(report);
  }
  for (int round = 0; round < 20; ++round) {
    REQUIRE(f.tree->start());
    f.tree->request_stop_async();
    auto reached = f.tree->wait(k_ack);
    REQUIRE(reached);
    REQUIRE(f.tree->stop());
  }
  CHECK(scope.all_threads() == 0);
  close(fds[0]);
  close(fds[1]);
}
