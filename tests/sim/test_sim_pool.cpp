// The task pool under the deterministic simulation: a pool of 2 threads and 4 task slots, and
// three controllers submitting (with and without block_for), cancelling and waiting on handles
// old and new, pausing and resuming, and, halfway, one of them shutting the pool down (drain or
// cancel, deadlines from 0 to 1 ms) while the others go on. Tasks take safe points, sleep, wait
// on a notifier, run stretches without a safe point, fail, and hold a cleanup registration.
// Checked per seed: every error is one the call documents; a pause that succeeded with no other
// pool call in flight leaves every thread parked, a resume none paused; after a final
// shutdown(cancel): no thread hung, every accepted task has an outcome (or its slot was reused),
// the totals add up with nothing queued or running, every registration released once; no
// deadlock. Settings: STEWARD_SIM_POOL_SEEDS (default 1000), STEWARD_SIM_POOL_SEED (one seed).
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "sim_support.hpp"
#include "steward/core/pool.hpp"
#include "steward/platform/clock.hpp"
#include "steward/platform/sim.hpp"
#include "steward/platform/thread.hpp"

using namespace std::chrono_literals;
using steward::errc;
using steward::task_state;
using steward::worker_state;
namespace sim = steward::platform::sim;

namespace {

constexpr std::size_t k_stack = 64 * 1024;
constexpr int k_controllers = 3;
constexpr int k_remembered = 64;
using sim_pool = steward::pool<2, 4, 64, k_stack>;

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

std::uint64_t draw(std::uint64_t n) {
  return sim::draw() % n;
}

struct pool_world {
  std::unique_ptr<sim_pool> pool;
  steward::notifier note;
  std::uint64_t acquired{0};
  std::uint64_t released{0};
  std::uint64_t twice{0};
  std::uint8_t held[2048]{};
  int in_flight{0};
  std::uint64_t epoch{0};
  int pauses_in_flight{0};
  std::uint64_t pause_epoch{0};  // bumped as each pause() begins
  int resumes_in_flight{0};
  // A pause withdrawn by a resume, with no other pause around it: once that resume has
  // returned too, none of its requests may be left (checked then).
  bool withdrawn_pending{false};
  std::uint64_t withdrawn_epoch{0};
  void check_withdrawn() {
    if (!withdrawn_pending || resumes_in_flight != 0) return;
    withdrawn_pending = false;
    if (pauses_in_flight != 0 || pause_epoch != withdrawn_epoch || closed) return;  // another pause came
    for (std::size_t t = 0; t < pool->thread_count(); ++t) {
      const worker_state st = pool->thread_worker(t).state();
      if (st == worker_state::paused || st == worker_state::pausing) {
        violation("pause cancelled by a resume, both returned, yet a thread is left paused");
        return;
      }
    }
  }
  bool closed{false};
  std::uint64_t violations{0};
  std::string first;
  std::uint64_t calls{0};
  std::uint64_t accepted{0};
  steward::task_handle remembered[k_controllers][k_remembered];
  int remembered_count[k_controllers]{};

  void violation(const std::string& what) {
    if (violations++ == 0) {
      first = what;
      if (std::getenv("STEWARD_SIM_POOL_SEED") != nullptr) {
        std::fprintf(stderr, "sim pool: violation: %s\n%s", what.c_str(), log.c_str());
        sim::dump(what.c_str());
      }
    }
  }
  std::string log;  // the pool calls so far, kept when replaying one seed
  void record(int id, const char* what, const char* phase, int code) {
    if (std::getenv("STEWARD_SIM_POOL_SEED") == nullptr) return;
    char line[160];
    std::snprintf(line, sizeof line, "  ctl %d %s %s -> %d, threads %d %d\n", id, what, phase, code,
                  static_cast<int>(pool->thread_worker(0).state()),
                  static_cast<int>(pool->thread_worker(1).state()));
    log += line;
  }
};

steward::result<void> task_body(steward::task_context& ctx, pool_world* w) {
  const std::uint64_t rec = w->acquired++ % sizeof w->held;
  w->held[rec] = 1;
  auto ref = ctx.defer([w, rec]() -> bool {
    if (w->held[rec] != 1) ++w->twice;
    w->held[rec] = 2;
    ++w->released;
    return true;
  });
  if (!ref && ref.error() != errc::capacity_exceeded) w->violation("task defer failed");
  for (;;) {
    switch (draw(10)) {
      case 0:
      case 1:
        STEWARD_TRY(ctx.checkpoint());
        break;
      case 2:
        STEWARD_TRY(ctx.sleep_for(std::chrono::microseconds(draw(200))));
        break;
      case 3: {
        auto waited = ctx.wait_for(
            w->note, [] { return false; }, std::chrono::microseconds(draw(100)));
        if (!waited && waited.error() != errc::timeout) return waited;
        break;
      }
      case 4:
        return {};
      case 5:
        if (draw(4) == 0) return steward::fail(errc::worker_failed, "sim task", 5);
        break;
      case 6: {
        const std::uint64_t n = draw(10);
        for (std::uint64_t i = 0; i < n; ++i) static_cast<void>(sim::draw());
        break;
      }
      default:
        if (draw(3) == 0) return {};
        break;
    }
  }
}

bool all_threads(pool_world& w, bool (*pred)(worker_state)) {
  for (std::size_t t = 0; t < w.pool->thread_count(); ++t) {
    if (!pred(w.pool->thread_worker(t).state())) return false;
  }
  return true;
}

void pool_control(pool_world& w, int id, int steps) {
  for (int step = 0; step < steps; ++step) {
    const bool others = w.in_flight > 0;
    ++w.in_flight;
    const std::uint64_t mine = ++w.epoch;
    const auto alone = [&] { return !others && w.epoch == mine; };
    ++w.calls;
    const std::uint64_t op = (id == 0 && step == steps / 2) ? 99 : draw(10);
    switch (op) {
      case 0:
      case 1:
      case 2:
      case 3: {
        steward::submit_options opts;
        opts.block_for = draw(2) == 0 ? steward::duration::zero() : std::chrono::microseconds(draw(300));
        pool_world* self = &w;
        auto h = w.pool->submit([self](steward::task_context& ctx) { return task_body(ctx, self); }, opts);
        if (h) {
          ++w.accepted;
          int& n = w.remembered_count[id];
          w.remembered[id][n % k_remembered] = *h;
          ++n;
        } else if (h.error() != errc::queue_full && h.error() != errc::stopping &&
                   h.error() != errc::platform_error) {
          w.violation(std::string("submit answered ") + steward::describe(h.error().code));
        }
        break;
      }
      case 4:
      case 5: {
        const int n = w.remembered_count[id];
        if (n == 0) break;
        const steward::task_handle h =
            w.remembered[id][draw(static_cast<std::uint64_t>(std::min(n, k_remembered)))];
        if (op == 4) {
          auto c = h.cancel();
          if (!c && c.error() != errc::stale_handle && c.error() != errc::exited) {
            w.violation(std::string("cancel answered ") + steward::describe(c.error().code));
          }
        } else {
          auto r = h.wait(std::chrono::microseconds(draw(1000)));
          if (!r && r.error() != errc::timeout && r.error() != errc::stale_handle &&
              r.error() != errc::platform_error) {
            w.violation(std::string("wait answered ") + steward::describe(r.error().code));
          }
        }
        break;
      }
      case 6: {
        // No other pause overlapping this one: none in flight when it began, none begun since
        // (another pause may post its requests after the resume that withdrew this one's).
        const bool no_pause_before = w.pauses_in_flight == 0;
        ++w.pauses_in_flight;
        const std::uint64_t my_pause = ++w.pause_epoch;
        w.record(id, "pause", "begin", 0);
        auto r = w.pool->pause(std::chrono::microseconds(draw(2000)));
        w.record(id, "pause", "end", r ? -1 : static_cast<int>(r.error().code));
        const bool only_pause = no_pause_before && w.pause_epoch == my_pause;
        --w.pauses_in_flight;
        if (!r && r.error() == errc::cancelled && only_pause) {
          w.withdrawn_pending = true;
          w.withdrawn_epoch = my_pause;
          w.check_withdrawn();  // at once if the resume already returned
        }
        if (r && alone() && !w.closed && !all_threads(w, [](worker_state s) {
              return s == worker_state::paused || steward::is_terminal(s);
            })) {
          w.violation("pause ok but a thread is not parked");
        }
        if (!r && r.error() != errc::timeout && r.error() != errc::cancelled && r.error() != errc::stopping &&
            r.error() != errc::platform_error) {
          w.violation(std::string("pause answered ") + steward::describe(r.error().code));
        }
        break;
      }
      case 7: {
        w.record(id, "resume", "begin", 0);
        ++w.resumes_in_flight;
        auto r = w.pool->resume();
        --w.resumes_in_flight;
        w.record(id, "resume", "end", r ? -1 : static_cast<int>(r.error().code));
        w.check_withdrawn();
        if (r && alone() && !all_threads(w, [](worker_state s) {
              return s != worker_state::paused && s != worker_state::pausing;
            })) {
          w.violation("resume ok but a thread is paused");
        }
        if (!r && r.error() != errc::stopping)
          w.violation(std::string("resume answered ") + steward::describe(r.error().code));
        break;
      }
      case 99: {  // the shutdown, halfway through this controller's share
        const auto mode = draw(2) == 0 ? steward::shutdown_mode::drain : steward::shutdown_mode::cancel;
        w.closed = true;
        auto r = w.pool->shutdown(mode, std::chrono::microseconds(draw(1000)));
        if (!r && r.error() != errc::platform_error) {
          w.violation(std::string("shutdown answered ") + steward::describe(r.error().code));
        }
        break;
      }
      default:
        steward::platform::advance_manual_clock(std::chrono::microseconds(draw(500)));
        break;
    }
    --w.in_flight;
    ++w.epoch;
  }
}

struct pool_result {
  std::uint64_t violations{0};
  std::string first;
  std::uint64_t calls{0};
  std::uint64_t accepted{0};
};

void pool_main(void* arg) {
  auto* out = static_cast<pool_result*>(arg);
  auto owner = std::make_unique<pool_world>();
  pool_world& w = *owner;
  w.pool = std::make_unique<sim_pool>("simpool");
  REQUIRE(w.pool->start(1s).has_value());
  sim::set_faults(true);
  auto share_of = [&w](int id) { pool_control(w, id, 40); };
  if (run_sim_controllers(k_controllers, share_of) != 0) w.violation("join controller");
  sim::set_faults(false);
  auto final_report = w.pool->shutdown(steward::shutdown_mode::cancel, 1s);
  if (!final_report) {
    w.violation("final shutdown failed");
  } else {
    if (final_report->hung_threads != 0) w.violation("a thread hung in the final shutdown");
    if (final_report->submits_in_flight != 0)
      w.violation("a submit in flight after every submitter returned");
  }
  for (int c = 0; c < k_controllers; ++c) {
    for (int k = 0; k < std::min(w.remembered_count[c], k_remembered); ++k) {
      auto r = w.remembered[c][k].wait(1s);
      if (r ? !steward::is_outcome(r->outcome) : r.error() != errc::stale_handle) {
        w.violation("an accepted task has no outcome");
      }
    }
  }
  const auto counters = w.pool->counters();
  if (counters.queued != 0 || counters.running != 0) w.violation("tasks left queued or running");
  if (counters.submitted != counters.completed + counters.failed + counters.cancelled + counters.stopped) {
    w.violation("the totals do not add up");
  }
  if (counters.submitted != w.accepted) w.violation("submitted is not the number of accepted submits");
  w.pool.reset();
  if (w.acquired != w.released) w.violation("ledger: a task's registration was not released");
  if (w.twice != 0) w.violation("ledger: a registration was released twice");
  out->violations = w.violations;
  out->first = w.first;
  out->calls = w.calls;
  out->accepted = w.accepted;
}

}  // namespace

TEST_CASE("sim: a pool under random submits, cancels, pauses and a shutdown keeps every task's outcome") {
  const std::uint64_t one = env_or("STEWARD_SIM_POOL_SEED", 0);
  const std::uint64_t seeds = one != 0 ? 1 : env_or("STEWARD_SIM_POOL_SEEDS", 1000);
  std::uint64_t failed = 0, calls = 0, accepted = 0, faults = 0;
  for (std::uint64_t k = 0; k < seeds; ++k) {
    const std::uint64_t seed = one != 0 ? one : k + 1;
    pool_result res;
    const std::string hint = "STEWARD_SIM_POOL_SEED=" + std::to_string(seed) + " " + STEWARD_SIM_BINARY;
    sim::set_replay_hint(hint.c_str());
    sim::config cfg;
    cfg.seed = seed;
    cfg.fault_permille = static_cast<std::uint32_t>(10 + seed % 41);
    const auto run = sim::run(cfg, &pool_main, &res);
    calls += res.calls;
    accepted += res.accepted;
    faults += run.faults;
    if (res.violations != 0 && ++failed <= 5) {
      std::fprintf(stderr, "sim pool: seed %llu: %llu violations, first: %s\nsim pool: replay: %s\n",
                   static_cast<unsigned long long>(seed), static_cast<unsigned long long>(res.violations),
                   res.first.c_str(), hint.c_str());
    }
  }
  std::printf(
      "sim pool: %llu seeds: %llu pool calls, %llu tasks accepted, %llu faults, %llu seeds with violations\n",
      static_cast<unsigned long long>(seeds), static_cast<unsigned long long>(calls),
      static_cast<unsigned long long>(accepted), static_cast<unsigned long long>(faults),
      static_cast<unsigned long long>(failed));
  CHECK(failed == 0);
}
