// Races that must be designed out, stressed from several controller threads with random delays
// (docs/invariants.md: INV-1..8, INV-15, bug classes 4, 6-10, 25). The ctest TIMEOUT and the
// doctest::timeout decorators are the hang watchdog.
#include <thread>
#include <vector>

#include "test_support.hpp"

using namespace testutil;
using steward::errc;
using steward::exit_reason;
using steward::worker_state;

namespace {

struct incarnation_book {
  ledger book;  // resource id = generation % 64, counted per release
  std::atomic<int> bodies{0};
  std::atomic<int> releases{0};
  std::atomic<int> exits{0};
  static void on_exit(void* user, const char*, const steward::exit_report&) noexcept {
    static_cast<incarnation_book*>(user)->exits.fetch_add(1);
  }
};

// Registers one resource per incarnation, then loops over safe points and sleeps.
steward::worker_config tracked(incarnation_book* b, int mode) {
  steward::worker_config cfg;
  cfg.name = "tracked";
  cfg.on_exit = &incarnation_book::on_exit;
  cfg.on_exit_user = b;
  cfg.body = [b, mode](steward::worker_context& ctx) -> steward::result<void> {
    b->bodies.fetch_add(1);
    incarnation_book* bk = b;
    STEWARD_TRY(ctx.defer([bk] { bk->releases.fetch_add(1); }));
    for (int i = 0;; ++i) {
      if (mode == 1 && i == 50) return {};  // exits by itself sometimes
      STEWARD_TRY(ctx.checkpoint());
      if (i % 16 == 0) STEWARD_TRY(ctx.sleep_for(std::chrono::microseconds(50)));
    }
  };
  return cfg;
}

bool is_one_of(int c, std::initializer_list<errc> allowed) {
  if (c == -1) return true;
  for (auto e : allowed) {
    if (c == code(e)) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("races: stop racing start never runs a stopped body and never hangs" * doctest::timeout(120)) {
  incarnation_book b;
  auto w = make_worker(tracked(&b, 0));
  xorshift rng(11);
  int before_start = 0;
  for (int i = 0; i < 500; ++i) {
    REQUIRE(w->start());
    std::thread stopper([&] {
      rng.jitter();
      auto r = w->stop(k_ack);
      CHECK(r);
      if (r && r->reason == exit_reason::stopped_before_start) {
        ++before_start;
        CHECK(r->cleanup.released == 0);
      }
    });
    stopper.join();
  }
  CHECK(b.exits == 500);
  CHECK(b.bodies == 500 - before_start);  // INV-2: a body ran exactly when stop lost the race
  CHECK(b.releases == b.bodies.load());   // INV-1: one resource per body, released once
  MESSAGE("stop won against start in ", before_start, " of 500 rounds");
}

TEST_CASE("races: pause racing stop never hangs and cleans up once" * doctest::timeout(120)) {
  incarnation_book b;
  auto w = make_worker(tracked(&b, 0));
  xorshift pause_rng(23);
  xorshift stop_rng(29);
  for (int i = 0; i < 300; ++i) {
    REQUIRE(w->start());
    std::thread pauser([&] {
      pause_rng.jitter();
      const int c = code_of(w->pause(k_ack));
      CHECK(is_one_of(c, {errc::stopping, errc::exited, errc::not_running, errc::stale_handle}));
    });
    std::thread stopper([&] {
      stop_rng.jitter();
      CHECK(w->stop(k_ack));
    });
    pauser.join();
    stopper.join();
    CHECK(w->stop(k_ack));
  }
  CHECK(b.exits == 300);
  CHECK(b.releases == b.bodies.load());
}

TEST_CASE("races: pause racing the worker's own exit never hangs" * doctest::timeout(120)) {
  incarnation_book b;
  auto w = make_worker(tracked(&b, 1));  // the body returns after 50 iterations
  xorshift rng(5);
  int acknowledged = 0;
  for (int i = 0; i < 300; ++i) {
    REQUIRE(w->start());
    rng.jitter();
    const int c = code_of(w->pause(k_ack));
    CHECK(is_one_of(c, {errc::exited, errc::not_running, errc::stopping}));
    if (c == -1) {
      ++acknowledged;
      CHECK(w->state() == worker_state::paused);
      CHECK(w->resume());
    }
    CHECK(w->stop(k_ack));
  }
  CHECK(b.exits == 300);
  CHECK(b.releases == b.bodies.load());
  MESSAGE(acknowledged, " of 300 pauses parked before the body returned");
}

TEST_CASE("races: concurrent stops from many threads run cleanup once and agree" * doctest::timeout(120)) {
  incarnation_book b;
  auto w = make_worker(tracked(&b, 0));
  for (int round = 0; round < 100; ++round) {
    REQUIRE(w->start());
    if (round % 2 == 1) REQUIRE(w->pause(k_ack));  // half the rounds stop a paused worker
    const int releases_before = b.releases.load();
    std::uint32_t gens[4]{};
    int reasons[4]{};
    std::vector<std::thread> stoppers;
    for (int t = 0; t < 4; ++t) {
      stoppers.emplace_back([&, t] {
        auto r = w->stop(k_ack);
        CHECK(r);
        if (r) {
          gens[t] = r->generation;
          reasons[t] = static_cast<int>(r->reason);
        }
      });
    }
    for (auto& t : stoppers) t.join();
    for (int t = 1; t < 4; ++t) {
      CHECK(gens[t] == gens[0]);
      CHECK(reasons[t] == reasons[0]);
    }
    CHECK(b.releases.load() - releases_before <= 1);
  }
  CHECK(b.exits == 100);
  CHECK(b.releases == b.bodies.load());
}

TEST_CASE("races: random control from several controllers keeps every invariant" * doctest::timeout(180)) {
  incarnation_book b;
  auto w = make_worker(tracked(&b, 1));
  std::atomic<bool> running{true};
  std::atomic<int> starts{0};
  auto controller = [&](std::uint32_t seed) {
    xorshift rng(seed);
    for (int i = 0; i < 1500; ++i) {
      rng.jitter();
      const auto h = w->handle();
      switch (rng.next() % 6U) {
        case 0: {
          auto s = w->start();
          if (s)
            starts.fetch_add(1);
          else
            CHECK(is_one_of(code_of(s), {errc::already_running, errc::stopping}));
          break;
        }
        case 1:
          CHECK(is_one_of(code_of(w->pause(std::chrono::milliseconds(50))),
                          {errc::timeout, errc::already_paused, errc::not_running, errc::stopping,
                           errc::exited, errc::cancelled, errc::stale_handle}));
          break;
        case 2:
          CHECK(is_one_of(code_of(w->resume()), {errc::not_running, errc::stopping, errc::stale_handle}));
          break;
        case 3:
          CHECK(is_one_of(code_of(w->stop(k_ack)), {errc::stale_handle}));
          break;
        case 4:  // a possibly stale handle
          CHECK(is_one_of(code_of(h.pause(std::chrono::milliseconds(50))),
                          {errc::timeout, errc::already_paused, errc::not_running, errc::stopping,
                           errc::exited, errc::cancelled, errc::stale_handle, errc::invalid_handle}));
          break;
        default:
          CHECK(is_one_of(code_of(h.stop(k_ack)), {errc::stale_handle, errc::invalid_handle}));
          break;
      }
    }
  };
  std::thread a(controller, 1U), c(controller, 2U), d(controller, 3U);
  a.join();
  c.join();
  d.join();
  running = false;
  REQUIRE(w->stop(k_ack));
  CHECK(b.exits == starts.load());       // every incarnation reported its exit once
  CHECK(b.releases == b.bodies.load());  // every body's resource released exactly once
  CHECK(steward::is_terminal(w->state()));
}

namespace {
// Every call through a stale handle fails with stale_handle and changes nothing: the worker
// keeps its state, its generation and (once ended) its last exit report.
void check_stale(const steward::worker_handle& stale, const test_worker& w, worker_state expected,
                 std::uint32_t generation) {
  const auto last_before = w.last_exit();
  CHECK(code_of(stale.pause(std::chrono::milliseconds(1))) == code(errc::stale_handle));
  CHECK(w.state() == expected);  // a pause request would show as pausing at once
  CHECK(code_of(stale.resume()) == code(errc::stale_handle));
  CHECK(w.state() == expected);  // a resume of a paused worker would show as running
  CHECK(code_of(stale.stop(std::chrono::milliseconds(1))) == code(errc::stale_handle));
  CHECK(w.state() == expected);  // a stop request would show as stopping
  CHECK(code_of(stale.state()) == code(errc::stale_handle));
  CHECK(w.generation() == generation);
  CHECK(w.handle().generation() == generation);
  const auto last_after = w.last_exit();
  CHECK(code_of(last_after) == code_of(last_before));
  if (last_before && last_after) {
    CHECK(last_after->generation == last_before->generation);
    CHECK(last_after->reason == last_before->reason);
    CHECK(last_after->cleanup.released == last_before->cleanup.released);
  }
}
}  // namespace

TEST_CASE("races: forged handles change nothing" * doctest::timeout(60)) {
  incarnation_book b;
  auto w = make_worker(tracked(&b, 0));
  auto first = w->start();
  CHECK(first);
  if (!first) return;
  const auto old = first->handle;
  CHECK(eventually([&] { return b.bodies.load() == 1; }));
  auto first_exit = old.stop(k_ack);
  CHECK(first_exit);
  if (!first_exit) return;
  auto second = w->start();
  CHECK(second);
  if (!second) return;
  const auto current = second->handle;
  const auto gen = current.generation();
  CHECK(gen == old.generation() + 1);
  CHECK(eventually([&] { return b.bodies.load() == 2; }));

  // Current incarnation running: stale calls from two threads at once, then one by one.
  auto hammer = [&] {
    for (int i = 0; i < 200; ++i) {
      CHECK(code_of(old.pause(std::chrono::milliseconds(1))) == code(errc::stale_handle));
      CHECK(code_of(old.resume()) == code(errc::stale_handle));
      CHECK(code_of(old.stop(std::chrono::milliseconds(1))) == code(errc::stale_handle));
      CHECK(code_of(old.state()) == code(errc::stale_handle));
    }
  };
  std::thread t1(hammer), t2(hammer);
  t1.join();
  t2.join();
  check_stale(old, *w, worker_state::running, gen);
  CHECK(code_of(w->last_exit()) == code(errc::already_running));

  // Current incarnation paused: a stale resume does not resume it, a stale stop does not stop it.
  CHECK(current.pause(k_ack));
  check_stale(old, *w, worker_state::paused, gen);
  CHECK(current.resume());
  CHECK(w->state() == worker_state::running);

  // Nothing of the current incarnation was touched: one body, its resource still held, one
  // exit so far (the first incarnation's).
  CHECK(b.bodies == 2);
  CHECK(b.releases == 1);
  CHECK(b.exits == 1);

  // Current incarnation stopped: its report stays the last exit; nothing starts again.
  auto second_exit = current.stop(k_ack);
  CHECK(second_exit);
  if (!second_exit) return;
  CHECK(second_exit->generation == gen);
  CHECK(second_exit->reason == exit_reason::stopped);
  CHECK(second_exit->cleanup.released == 1);
  check_stale(old, *w, worker_state::stopped, gen);
  auto last = w->last_exit();
  CHECK(last);
  if (last) CHECK(last->generation == gen);
  CHECK(b.bodies == 2);
  CHECK(b.releases == 2);
  CHECK(b.exits == 2);

  // Two incarnations on, both earlier handles are stale; the third runs untouched.
  auto third = w->start();
  CHECK(third);
  if (!third) return;
  CHECK(eventually([&] { return b.bodies.load() == 3; }));
  check_stale(old, *w, worker_state::running, gen + 1);
  check_stale(current, *w, worker_state::running, gen + 1);
  auto third_exit = third->handle.stop(k_ack);
  CHECK(third_exit);
  if (third_exit) CHECK(third_exit->generation == gen + 1);
  CHECK(b.releases == 3);
  CHECK(b.exits == 3);
}
