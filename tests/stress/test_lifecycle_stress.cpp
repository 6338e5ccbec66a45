// Full lifecycles spread over every stop phase, and restart storms (issue 9, part 4, the
// ASan/UBSan figures): each lifecycle is start -> a chosen phase -> stop (or the body's own
// end), checked against a ledger of what the incarnation registered; each storm cycle is a
// crash and a restart (in place, or a group restart through the runner) with the ledger
// balanced at the end. Settings: STEWARD_STRESS_SEED, STEWARD_STRESS_LIFECYCLES,
// STEWARD_STRESS_STORMS.
#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "stress_support.hpp"
#include "steward/supervisors/supervisor.hpp"

using namespace std::chrono_literals;
using steward::errc;
using steward::exit_reason;
using steward::tree_state;
using steward::worker_state;
using testutil::k_ack;

namespace {

#if defined(STEWARD_STRESS_CROSS)
constexpr std::uint64_t k_default_lifecycles = 2000;
constexpr std::uint64_t k_default_storms = 500;
#elif defined(STEWARD_TEST_TSAN)
constexpr std::uint64_t k_default_lifecycles = 20000;
constexpr std::uint64_t k_default_storms = 10000;
#else
constexpr std::uint64_t k_default_lifecycles = 100000;
constexpr std::uint64_t k_default_storms = 10000;
#endif

using slot_worker = steward::static_worker<testutil::k_stack, 8>;

enum phase : int {
  stop_at_once,      // start(); stop(): before the body, or anywhere in it
  stop_running,      // in a checkpoint loop
  stop_sleeping,     // in sleep_for
  stop_fd_wait,      // in wait_readable on a pipe nobody writes
  stop_notifier,     // in wait_until on a notifier nobody notifies
  stop_wait_any,     // in wait_any (the pipe and the notifier)
  stop_paused,       // pause(k_ack) acknowledged, then stop
  stop_pausing,      // pause(0), then stop at once
  stop_resumed,      // pause(0), resume, stop
  ends_returned,     // the body returns: join
  ends_error,        // the body returns an error: join
  ends_exception,    // the body throws (an error without exceptions): join
  ends_release_fail, // a release fails: cleanup_failed
  k_phases
};
const char* const k_phase_names[k_phases] = {"stop at once", "stop running", "stop sleeping", "stop in fd wait",
                                             "stop in notifier wait", "stop in wait_any", "stop paused",
                                             "stop pausing", "stop after resume", "returned", "error",
                                             "exception", "release fails"};

struct lane {
  std::unique_ptr<slot_worker> w;
  stress::slot_ledger book;
  std::atomic<int> ph{stop_at_once};
  std::atomic<std::uint32_t> ran_generation{0};
  int pipe_fds[2]{-1, -1};
  steward::notifier note;
};

steward::worker_body lane_body(lane* l) {
  return [l](steward::worker_context& ctx) -> steward::result<void> {
    l->ran_generation.store(ctx.generation());
    const int p = l->ph.load();
    stress::slot_ledger* book = &l->book;
    for (int i = 0; i < 2; ++i) {
      const std::uint32_t rec = book->acquire();
      const bool failing = p == ends_release_fail && i == 0;
      auto ref = ctx.defer([book, rec, failing]() -> bool {
        book->release(rec);
        return !failing;
      });
      if (!ref) {
        book->release(rec);
        return steward::fail(ref.error());
      }
    }
    ctx.declare_initialised();
    const int fd = l->pipe_fds[0];
    switch (p) {
      case stop_sleeping:
        STEWARD_TRY(ctx.sleep_for(std::chrono::hours(1)));
        break;
      case stop_fd_wait:
        STEWARD_TRY(ctx.wait_readable(fd, steward::never));
        break;
      case stop_notifier:
        STEWARD_TRY(ctx.wait_until(l->note, [] { return false; }, steward::never));
        break;
      case stop_wait_any: {
        auto never_true = [] { return false; };
        const steward::wait_source sources[] = {steward::wait_source::readable(fd),
                                                steward::wait_source::notified(l->note, never_true)};
        STEWARD_TRY(ctx.wait_any(sources, std::chrono::hours(1)));
        break;
      }
      case ends_returned:
      case ends_release_fail:
        return {};
      case ends_error:
        return steward::fail(errc::worker_failed, "lifecycle", 3);
      case ends_exception:
#if STEWARD_USING_EXCEPTIONS
        throw std::runtime_error("lifecycle");
#else
        return steward::fail(errc::worker_failed, "lifecycle (no exceptions)", 4);
#endif
      default:
        break;
    }
    for (;;) STEWARD_TRY(ctx.checkpoint());
  };
}

struct tally {
  std::atomic<std::uint64_t> per_phase[k_phases]{};
  std::atomic<std::uint64_t> before_start{0};
  std::atomic<std::uint64_t> failures{0};
};

// One lifecycle; returns false (and says why) on any broken promise.
bool one_lifecycle(lane& l, int p, tally& t) {
  auto fail = [&](const char* why, long long v = 0) {
    if (t.failures.fetch_add(1) < 20) std::fprintf(stderr, "lifecycle VIOLATION (%s): %s %lld\n", k_phase_names[p], why, v);
    return false;
  };
  l.ph.store(p);
  auto info = l.w->start();
  if (!info) return fail("start", static_cast<int>(info.error().code));
  const std::uint32_t gen = info->handle.generation();
  if (p != stop_at_once && p < ends_returned) {
    auto init = l.w->wait_initialised(k_ack);
    if (!init) return fail("wait_initialised", static_cast<int>(init.error().code));
  }
  if (p == stop_paused) {
    auto r = l.w->pause(k_ack);
    if (!r) return fail("pause", static_cast<int>(r.error().code));
    if (l.w->state() != worker_state::paused) return fail("pause ok but not paused");
  }
  if (p == stop_pausing || p == stop_resumed) {
    auto r = l.w->pause(0ns);
    if (!r && r.error() != errc::timeout) return fail("pause(0)", static_cast<int>(r.error().code));
  }
  if (p == stop_resumed) {
    auto r = l.w->resume();
    if (!r) return fail("resume", static_cast<int>(r.error().code));
  }
  auto rep = p >= ends_returned ? l.w->join(k_ack) : l.w->stop(k_ack);
  if (!rep) return fail("stop/join", static_cast<int>(rep.error().code));
  if (rep->generation != gen) return fail("report of another generation", rep->generation);
  if (!steward::is_terminal(l.w->state())) return fail("not terminal after the report");
  if (l.book.live() != 0) return fail("registrations still held after the report", l.book.live());
  const bool ran = l.ran_generation.load() == gen;
  if (rep->reason == exit_reason::stopped_before_start) {
    t.before_start.fetch_add(1);
    if (ran) return fail("stopped_before_start but the body ran");
    if (rep->cleanup.released != 0) return fail("stopped_before_start released", rep->cleanup.released);
    if (p != stop_at_once) return fail("stopped_before_start after the body was initialised");
  } else {
    if (!ran) return fail("the body did not run", static_cast<int>(rep->reason));
    if (rep->cleanup.released != 2) return fail("released", rep->cleanup.released);
    exit_reason want = exit_reason::stopped;
    if (p == ends_returned) want = exit_reason::returned;
    if (p == ends_error) want = exit_reason::error;
    if (p == ends_exception) want = STEWARD_USING_EXCEPTIONS ? exit_reason::exception : exit_reason::error;
    if (p == ends_release_fail) want = exit_reason::cleanup_failed;
    if (rep->reason != want) return fail("exit reason", static_cast<int>(rep->reason));
    if (rep->cleanup.failed != (p == ends_release_fail ? 1 : 0)) return fail("failed releases", rep->cleanup.failed);
  }
  t.per_phase[p].fetch_add(1);
  return true;
}

}  // namespace

TEST_CASE("stress: full lifecycles over every stop phase release each registration once" * doctest::timeout(1800)) {
  const std::uint64_t seed = stress::seed_from_env();
  const std::uint64_t target = stress::env_u64("STEWARD_STRESS_LIFECYCLES", k_default_lifecycles);
  std::fprintf(stderr, "lifecycles: seed %llu, %llu lifecycles (replay: STEWARD_STRESS_SEED=%llu)\n",
               static_cast<unsigned long long>(seed), static_cast<unsigned long long>(target),
               static_cast<unsigned long long>(seed));
  MESSAGE("seed ", seed, ", ", target, " lifecycles");
  const int threads0 = stress::baseline_thread_count();
  const int fds0 = stress::fd_count();
  const auto t0 = std::chrono::steady_clock::now();
  tally t;
  {
    constexpr int k_lanes = 2;  // one per core of the CI machine
    lane lanes[k_lanes];
    for (auto& l : lanes) {
      REQUIRE(::pipe2(l.pipe_fds, O_CLOEXEC | O_NONBLOCK) == 0);
      l.w = std::make_unique<slot_worker>();
      steward::worker_config cfg;
      cfg.name = "lane";
      cfg.body = lane_body(&l);
      REQUIRE(l.w->configure(cfg));
    }
    std::vector<std::thread> threads;
    for (int i = 0; i < k_lanes; ++i) {
      threads.emplace_back([&, i] {
        stress::rng r(seed + static_cast<std::uint64_t>(i) * 7919U);
        for (std::uint64_t n = static_cast<std::uint64_t>(i); n < target; n += k_lanes) {
          if (!one_lifecycle(lanes[i], static_cast<int>(r.below(k_phases)), t)) {
            // A lifecycle that broke a promise may leave the worker running: stop it.
            static_cast<void>(lanes[i].w->stop(k_ack));
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    for (auto& l : lanes) {
      CHECK(l.book.acquired.load() == l.book.released.load());
      CHECK(l.book.double_releases.load() == 0);
      CHECK(l.book.leaks.load() == 0);
      CHECK(l.book.held_records() == 0);
      l.w.reset();
      ::close(l.pipe_fds[0]);
      ::close(l.pipe_fds[1]);
    }
  }
  CHECK(t.failures.load() == 0);
  std::uint64_t total = 0;
  for (auto& n : t.per_phase) {
    CHECK(n.load() > 0);  // every phase was exercised
    total += n.load();
  }
  CHECK(total == target);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "lifecycles: %llu in %.1f s (%llu stopped before start):", static_cast<unsigned long long>(total),
               secs, static_cast<unsigned long long>(t.before_start.load()));
  for (int p = 0; p < k_phases; ++p)
    std::fprintf(stderr, " [%s]=%llu", k_phase_names[p], static_cast<unsigned long long>(t.per_phase[p].load()));
  std::fprintf(stderr, "\n");
  CHECK(stress::thread_count() == threads0);
  CHECK(stress::fd_count() == fds0);
}

namespace {

struct storm_child {
  std::unique_ptr<slot_worker> w = std::make_unique<slot_worker>();
  stress::slot_ledger book;
  std::atomic<std::uint64_t> bodies{0};
};

// A child that registers two entries, passes one safe point and fails at once (crashing) or
// waits (a sibling, restarted with the group).
steward::worker_body storm_body(storm_child* c, bool crash) {
  return [c, crash](steward::worker_context& ctx) -> steward::result<void> {
    c->bodies.fetch_add(1);
    stress::slot_ledger* book = &c->book;
    for (int i = 0; i < 2; ++i) {
      const std::uint32_t rec = book->acquire();
      auto ref = ctx.defer([book, rec] { book->release(rec); });
      if (!ref) {
        book->release(rec);
        return steward::fail(ref.error());
      }
    }
    STEWARD_TRY(ctx.checkpoint());
    if (crash) return steward::fail(errc::worker_failed, "storm", 1);
    for (;;) STEWARD_TRY(ctx.sleep_for(std::chrono::hours(1)));
  };
}

void run_storm(steward::strategy strat, int children) {
  const std::uint64_t seed = stress::seed_from_env();
  const std::uint64_t target = stress::env_u64("STEWARD_STRESS_STORMS", k_default_storms);
  std::fprintf(stderr, "storm (%s): seed %llu, %llu restart cycles (replay: STEWARD_STRESS_SEED=%llu)\n",
               steward::to_string(strat), static_cast<unsigned long long>(seed), static_cast<unsigned long long>(target),
               static_cast<unsigned long long>(seed));
  MESSAGE("seed ", seed, ", ", target, " restart cycles");
  const int threads0 = stress::baseline_thread_count();
  const int fds0 = stress::fd_count();
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t cycles = 0;
  std::uint64_t bad_codes = 0;
  {
    std::vector<std::unique_ptr<storm_child>> kids;
    // Intensity never trips: restarts count only within one nanosecond.
    steward::supervisor<4> root({"root", strat, 16, 1ns});
    const char* ids[] = {"s0", "s1", "s2", "s3"};
    for (int i = 0; i < children; ++i) {
      kids.push_back(std::make_unique<storm_child>());
      steward::child_spec spec;
      spec.id = ids[i];
      spec.worker_slot = kids.back()->w.get();
      spec.body = storm_body(kids.back().get(), i == children - 1);
      spec.shutdown = 10s;
      spec.start_timeout = 10s;
      REQUIRE(root.add_child(spec));
    }
    steward::supervision_tree<testutil::k_stack> tree(root);
    REQUIRE(tree.start());
    // A controller pauses, resumes, stops and restarts the storming tree meanwhile.
    std::atomic<bool> done{false};
    std::thread ctl([&] {
      stress::rng r(seed);
      while (!done.load()) {
        const auto roll = r.below(8);
        int c = -1;
        if (roll < 3) {
          c = testutil::code_of(tree.pause(r.one_in(2) ? 0ns : 20ms));
          if (c >= 0 && c != testutil::code(errc::timeout) && c != testutil::code(errc::already_paused) &&
              c != testutil::code(errc::not_running) && c != testutil::code(errc::exited))
            ++bad_codes;
        } else if (roll < 6) {
          c = testutil::code_of(tree.resume());
          if (c >= 0 && c != testutil::code(errc::not_running)) ++bad_codes;
        } else if (roll == 6 && r.one_in(16)) {
          if (!tree.stop()) ++bad_codes;
          if (!tree.start()) ++bad_codes;
        } else {
          std::this_thread::yield();
        }
      }
    });
    storm_child& crasher = *kids.back();
    // No acknowledgement exists for "n restarts happened": poll the body count (bounded).
    const bool reached = testutil::eventually([&] { return crasher.bodies.load() >= target; }, std::chrono::seconds(900));
    done.store(true);
    ctl.join();
    CHECK(reached);
    static_cast<void>(tree.resume());
    CHECK(tree.stop());
    CHECK(tree.state() == tree_state::stopped);
    cycles = crasher.bodies.load();
    for (auto& k : kids) {
      CHECK(steward::is_terminal(k->w->state()));
      CHECK(k->book.acquired.load() == k->book.released.load());
      CHECK(k->book.double_releases.load() == 0);
      CHECK(k->book.leaks.load() == 0);
      CHECK(k->book.held_records() == 0);
    }
  }
  CHECK(bad_codes == 0);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "storm (%s): %llu restart cycles in %.1f s\n", steward::to_string(strat),
               static_cast<unsigned long long>(cycles), secs);
  CHECK(stress::thread_count() == threads0);
  CHECK(stress::fd_count() == fds0);
}

}  // namespace

TEST_CASE("stress: a restart storm in place (one_for_one) keeps the ledger balanced" * doctest::timeout(1800)) {
  run_storm(steward::strategy::one_for_one, 1);
}

TEST_CASE("stress: a group restart storm (one_for_all, 3 children) keeps the ledger balanced" * doctest::timeout(1800)) {
  run_storm(steward::strategy::one_for_all, 3);
}
