// The simulation driver (docs/verification.md, "The driver"), shared by the seed sweep
// (test_sim.cpp) and the fuzzer (fuzz_control.cpp): three workers whose bodies do a random walk
// and three controllers issuing random control calls, every choice drawn from sim::draw(), with
// the checks listed in the docs. Header-only: each test program gets its own copy.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "sim_support.hpp"
#include "steward/core/worker.hpp"
#include "steward/platform/clock.hpp"
#include "steward/platform/sim.hpp"
#include "steward/platform/thread.hpp"

using namespace std::chrono_literals;
using steward::errc;
using steward::worker_state;
namespace sim = steward::platform::sim;

// Anonymous: each program that includes this has one translation unit doing so.
namespace {

constexpr int k_workers = 3;
constexpr int k_controllers = 3;  // the main sim thread and two created ones
constexpr std::size_t k_stack = 64 * 1024;
using sim_worker = steward::static_worker<k_stack, 8>;

struct slot {
  std::unique_ptr<sim_worker> w;
  std::uint64_t acquired{0};
  std::uint64_t released{0};
  std::uint64_t double_releases{0};
  std::uint8_t held[1024]{};  // per registration: 1 held, 2 released
  std::uint64_t incarnations{0};
  // Bumped by every controller as each call on the worker begins and ends: a controller that
  // began with no other call in flight and finds it unchanged once its call returned knows
  // nobody else acted in between (a decision point inside the call may let others run after
  // the call took effect, so "nothing ran since it returned" is not enough).
  std::uint64_t epoch{0};
  int in_flight{0};  // control calls on this worker not yet returned
  // "The body never ran" needs a stop that began after the start that made the incarnation
  // (or was in flight then). That start is one still in flight or the last that succeeded
  // (an exit can be told before its start() returned).
  struct start_record {
    bool valid{false};
    std::uint64_t begin{0};
    bool stop_in_flight{false};
  };
  std::uint64_t last_stop_begin{0};
  int stops_in_flight{0};
  start_record starts_in_flight[k_controllers];
  start_record last_started;
  steward::notifier note;
};

struct world {
  std::uint64_t seed{0};
  int steps{0};
  slot slots[k_workers];
  std::uint64_t violations{0};
  std::string first_violation;
  std::uint64_t ops{0};
  std::uint64_t ok_ops{0};
  std::uint64_t seq{0};  // orders the calls' beginnings
  // The last control calls, printed with a violation when replaying one seed.
  struct logged {
    int controller, worker;
    const char* op;
    int code;  // -1: ok
    int state_after;
  };
  static constexpr std::size_t k_log = 64;
  logged log[k_log]{};
  std::uint64_t logged_count{0};
  void note(int worker, const char* op, int code, worker_state after) {
    log[logged_count++ % k_log] =
        logged{steward::platform::sim::current_thread(), worker, op, code, static_cast<int>(after)};
  }
  void print_log() const {
    const std::uint64_t from = logged_count > k_log ? logged_count - k_log : 0;
    for (std::uint64_t k = from; k < logged_count; ++k) {
      const logged& l = log[k % k_log];
      std::fprintf(stderr, "sim:   #%llu thread %d %s(worker %d) -> %d, state then %d\n",
                   static_cast<unsigned long long>(k), l.controller, l.op, l.worker, l.code, l.state_after);
    }
  }

  void violation(const char* what, int worker, int code) {
    ++violations;
    if (std::getenv("STEWARD_SIM_SEED") != nullptr && violations == 1) {
      std::fprintf(stderr, "sim: violation: %s (worker %d, code %d); calls before it:\n", what, worker, code);
      print_log();
    }
    if (first_violation.empty()) {
      first_violation =
          std::string(what) + " (worker " + std::to_string(worker) + ", code " + std::to_string(code) + ")";
    }
  }
};

world* g_world = nullptr;  // the run in progress (one at a time)

std::uint64_t draw(std::uint64_t n) {
  return sim::draw() % n;
}

steward::duration random_timeout() {
  switch (draw(5)) {
    case 0:
      return steward::duration::zero();
    case 1:
      return 10us;
    case 2:
      return 1ms;
    case 3:
      return 100ms;
    default:
      return 1s;
  }
}

// A body: a random walk over what bodies do, for as long as it is let run.
steward::result<void> body(steward::worker_context& ctx, int index) {
  world& w = *g_world;
  slot& s = w.slots[index];
  ++s.incarnations;
  for (;;) {
    switch (draw(16)) {
      case 0:
      case 1:
      case 2:
      case 3:
        STEWARD_TRY(ctx.checkpoint());
        break;
      case 4:
      case 5: {  // a registration, released exactly once on every path out
        const std::uint64_t rec = s.acquired++ % sizeof s.held;
        if (s.held[rec] == 1) w.violation("ledger ring wrapped onto a held registration", index, 0);
        s.held[rec] = 1;
        auto ref = ctx.defer([&s, rec]() -> bool {
          if (s.held[rec] != 1) ++s.double_releases;
          s.held[rec] = 2;
          ++s.released;
          return true;
        });
        // Full: defer() ran the release at once (the ledger saw it); anything else is a bug.
        if (!ref && ref.error() != errc::capacity_exceeded) {
          w.violation("defer failed", index, static_cast<int>(ref.error().code));
        }
        break;
      }
      case 6:
        STEWARD_TRY(ctx.sleep_for(std::chrono::microseconds(draw(50))));
        break;
      case 7: {
        auto deadline = steward::platform::deadline_after(std::chrono::microseconds(draw(100)));
        if (!deadline) break;  // a failed clock read (a fault): this body skips the wait
        auto waited = ctx.wait_until(
            s.note, [] { return false; }, *deadline);
        if (!waited && waited.error() != errc::timeout) return waited;
        break;
      }
      case 8:
        if (draw(16) == 0) return {};
        break;
      case 9:
        if (draw(16) == 0) return steward::fail(errc::worker_failed, "sim body", 7);
        break;
      case 10: {  // a stretch without a safe point: pause and stop wait for it
        const std::uint64_t n = draw(20);
        for (std::uint64_t i = 0; i < n; ++i) static_cast<void>(sim::draw());
        break;
      }
      default:
        STEWARD_TRY(ctx.checkpoint());
        break;
    }
  }
}

bool allowed(const char* op, errc code) {
  // Every control call may meet a failed clock read (a fault) as platform_error.
  if (code == errc::platform_error) return true;
  const std::string o(op);
  if (o == "start")
    return code == errc::already_running || code == errc::stopping || code == errc::resource_exhausted;
  if (o == "pause") {
    return code == errc::timeout || code == errc::not_running || code == errc::already_paused ||
           code == errc::stopping || code == errc::cancelled || code == errc::exited;
  }
  if (o == "resume") return code == errc::not_running || code == errc::stopping;
  // stale_handle: while it waited, others restarted the worker and that incarnation ended too,
  // replacing the report (docs/lifecycle.md).
  if (o == "stop" || o == "join") return code == errc::timeout || code == errc::stale_handle;
  if (o == "stale") return code == errc::stale_handle;
  return false;
}

void check(world& w, const char* op, int index, const steward::error& e) {
  if (!allowed(op, e.code)) w.violation(op, index, static_cast<int>(e.code));
}

// One controller's share of the steps. An acknowledgement is checked against the state when
// nobody else acted on the worker since the call began (slot::epoch).
void control(world& w, int steps, int id) {
  steward::worker_handle remembered[k_workers];
  for (int step = 0; step < steps; ++step) {
    const int i = static_cast<int>(draw(k_workers));
    slot& s = w.slots[i];
    sim_worker& wk = *s.w;
    ++w.ops;
    const bool others_in_flight = s.in_flight > 0;
    ++s.in_flight;
    const std::uint64_t mine = ++s.epoch;
    const auto alone = [&] { return !others_in_flight && s.epoch == mine; };
    switch (draw(8)) {
      case 0: {
        const slot::start_record rec{true, ++w.seq, s.stops_in_flight > 0};
        s.starts_in_flight[id] = rec;
        auto r = wk.start();
        s.starts_in_flight[id].valid = false;
        if (r) s.last_started = rec;
        w.note(i, "start", r ? -1 : static_cast<int>(r.error().code), wk.state());
        if (r) {
          remembered[i] = r->handle;
          ++w.ok_ops;
        } else {
          check(w, "start", i, r.error());
        }
        break;
      }
      case 1:
      case 2: {
        auto r = wk.pause(random_timeout());
        w.note(i, "pause", r ? -1 : static_cast<int>(r.error().code), wk.state());
        if (r) {
          ++w.ok_ops;
          if (alone() && wk.state() != worker_state::paused)
            w.violation("pause ok but not paused", i, static_cast<int>(wk.state()));
        } else {
          check(w, "pause", i, r.error());
        }
        break;
      }
      case 3: {
        auto r = wk.resume();
        w.note(i, "resume", r ? -1 : static_cast<int>(r.error().code), wk.state());
        if (r) {
          ++w.ok_ops;
          if (alone() && wk.state() == worker_state::paused) w.violation("resume ok but still paused", i, 0);
        } else {
          check(w, "resume", i, r.error());
        }
        break;
      }
      case 4: {
        s.last_stop_begin = ++w.seq;
        ++s.stops_in_flight;
        auto r = wk.stop(random_timeout());
        --s.stops_in_flight;
        w.note(i, "stop", r ? -1 : static_cast<int>(r.error().code), wk.state());
        if (r) {
          ++w.ok_ops;
          if (alone() && !steward::is_terminal(wk.state()))
            w.violation("stop ok but not terminal", i, static_cast<int>(wk.state()));
        } else {
          check(w, "stop", i, r.error());
        }
        break;
      }
      case 5: {
        auto r = wk.join(random_timeout());
        w.note(i, "join", r ? -1 : static_cast<int>(r.error().code), wk.state());
        if (r) {
          ++w.ok_ops;
          if (alone() && !steward::is_terminal(wk.state()))
            w.violation("join ok but not terminal", i, static_cast<int>(wk.state()));
        } else if (r.error() != errc::not_running) {
          check(w, "join", i, r.error());
        }
        break;
      }
      case 6: {  // through a handle read earlier: current, or stale and refused
        const steward::worker_handle h = remembered[i];
        if (h.is_null()) break;
        const bool pausing = draw(2) == 0;
        const bool stale_before = h.generation() != wk.generation();  // generations only grow
        auto r = pausing ? h.pause(random_timeout()) : h.resume();
        if (r && stale_before) w.violation("a stale handle acted on a newer incarnation", i, 0);
        w.note(i, pausing ? "handle.pause" : "handle.resume", r ? -1 : static_cast<int>(r.error().code),
               wk.state());
        if (!r && r.error() != errc::stale_handle) check(w, pausing ? "pause" : "resume", i, r.error());
        break;
      }
      default:
        steward::platform::advance_manual_clock(std::chrono::microseconds(draw(2000)));
        break;
    }
    --s.in_flight;
    ++s.epoch;
  }
}

// Everything stops (no faults now): each worker's incarnation ends and its registrations are
// all released. A body in a stretch without a safe point needs a few stop attempts.
void teardown(world& w) {
  for (int i = 0; i < k_workers; ++i) {
    sim_worker& wk = *w.slots[i].w;
    for (int attempt = 0;
         attempt < 1000 && !steward::is_terminal(wk.state()) && wk.state() != worker_state::idle; ++attempt) {
      w.slots[i].last_stop_begin = ++w.seq;
      ++w.slots[i].stops_in_flight;
      auto r = wk.stop(1s);
      --w.slots[i].stops_in_flight;
      if (!r && r.error() != errc::timeout && r.error() != errc::not_running)
        w.violation("teardown stop", i, static_cast<int>(r.error().code));
    }
    if (!steward::is_terminal(wk.state()) && wk.state() != worker_state::idle)
      w.violation("never stopped", i, static_cast<int>(wk.state()));
  }
  for (int i = 0; i < k_workers; ++i) {
    slot& s = w.slots[i];
    if (s.acquired != s.released)
      w.violation("ledger: a registration was not released", i, static_cast<int>(s.acquired - s.released));
    if (s.double_releases != 0)
      w.violation("ledger: a registration was released twice", i, static_cast<int>(s.double_releases));
    s.w.reset();  // retires the thread (joined inside the run)
  }
}

// Told about every exit, on the worker's thread.
void on_exit(void* user, const char* /*name*/, const steward::exit_report& report) noexcept {
  const auto index = static_cast<int>(reinterpret_cast<std::intptr_t>(user));
  slot& s = g_world->slots[index];
  if (report.reason != steward::exit_reason::stopped_before_start || s.stops_in_flight > 0) return;
  bool any = false;
  bool stop_then = false;
  std::uint64_t earliest = UINT64_MAX;
  const auto consider = [&](const slot::start_record& r) {
    if (!r.valid) return;
    any = true;
    stop_then = stop_then || r.stop_in_flight;
    earliest = std::min(earliest, r.begin);
  };
  for (const auto& r : s.starts_in_flight) consider(r);
  consider(s.last_started);
  if (any && !stop_then && s.last_stop_begin < earliest) {
    g_world->violation("the body never ran, yet nobody asked for a stop", index, 0);
  }
}

void sim_main(void* arg) {
  world& w = *static_cast<world*>(arg);
  for (int i = 0; i < k_workers; ++i) {
    steward::worker_config cfg;
    static const char* const names[k_workers] = {"sim0", "sim1", "sim2"};
    cfg.name = names[i];
    cfg.body = [i](steward::worker_context& ctx) { return body(ctx, i); };
    cfg.on_exit = &on_exit;
    cfg.on_exit_user = reinterpret_cast<void*>(static_cast<std::intptr_t>(i));  // NOLINT
    w.slots[i].w = std::make_unique<sim_worker>(cfg);
  }
  sim::set_faults(true);
  const int share = w.steps / k_controllers;
  auto share_of = [&w, share](int id) { control(w, id == 0 ? w.steps - 2 * share : share, id); };
  if (run_sim_controllers(k_controllers, share_of) != 0) w.violation("join controller", 0, 0);
  sim::set_faults(false);
  teardown(w);
}

struct seed_outcome {
  sim::run_result run;
  std::uint64_t violations{0};
  std::string first;
  std::uint64_t ops{0}, ok_ops{0};
};

std::string replay_line(std::uint64_t seed, int steps) {
  return "STEWARD_SIM_SEED=" + std::to_string(seed) + " STEWARD_SIM_STEPS=" + std::to_string(steps) + " " +
         STEWARD_SIM_BINARY;
}

// One seed. `script` (optional, the fuzzer's input) supplies the driver's draws while it lasts.
seed_outcome run_seed(std::uint64_t seed, int steps, bool trace, const std::uint8_t* script = nullptr,
                      std::size_t script_size = 0) {
  auto w = std::make_unique<world>();
  w->seed = seed;
  w->steps = steps;
  g_world = w.get();
  const std::string hint = replay_line(seed, steps);
  sim::set_replay_hint(hint.c_str());
  sim::config cfg;
  cfg.seed = seed;
  cfg.fault_permille = static_cast<std::uint32_t>(10 + seed % 41);  // 1 % to 5 %
  cfg.trace = trace;
  cfg.script = script;
  cfg.script_size = script_size;
  seed_outcome out;
  out.run = sim::run(cfg, &sim_main, w.get());
  out.violations = w->violations;
  out.first = w->first_violation;
  out.ops = w->ops;
  out.ok_ops = w->ok_ops;
  g_world = nullptr;
  return out;
}

}  // namespace
