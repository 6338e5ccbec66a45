// Fault injection at every seam x every lifecycle phase (issue 9, part 3), on the simulation
// port so that each case is deterministic: the fault lands on exactly the call it names, and a
// hang is a reported deadlock, not a timeout. Each case drives one worker into a phase, arms
// one fault, makes the call of that phase and checks the answer: the documented typed error
// with nothing changed, or success that means what it says. It then clears the faults, stops
// the worker, and checks that every registration was released exactly once.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "steward/core/worker.hpp"
#include "steward/platform/clock.hpp"
#include "steward/platform/sim.hpp"

using namespace std::chrono_literals;
using steward::errc;
using steward::exit_reason;
using steward::worker_state;
namespace sim = steward::platform::sim;
using sim::fault;

namespace {

constexpr std::size_t k_stack = 64 * 1024;
using fault_worker = steward::static_worker<k_stack, 8>;

// Runs f inside a fresh simulation (seeded, no random faults).
void in_sim(const std::function<void()>& f, std::uint64_t seed = 7) {
  sim::config cfg;
  cfg.seed = seed;
  static_cast<void>(sim::run(
      cfg, [](void* arg) { (*static_cast<const std::function<void()>*>(arg))(); },
      const_cast<std::function<void()>*>(&f)));  // NOLINT(cppcoreguidelines-pro-type-const-cast)
}

struct ledger {
  int acquired{0};
  int released{0};
  int twice{0};
  bool held[16]{};
};

// What the body does besides registering two resources and looping over safe points.
enum class act : std::uint8_t {
  loop,               // safe points and sleeps until stopped
  throw_at_entry,     // throws before its first safe point
  throw_on_stop,      // throws when it sees the stop
  fail_at_entry,      // returns an error at once
  fail_on_stop,       // returns an error (not stop_requested) when stopped
  failing_release,    // one of its releases reports failure
  ignore_stop,        // keeps running 50 safe-point-free rounds after the stop
  return_during_stop  // returns success as soon as it sees the stop
};

constexpr fault k_faults[] = {fault::clock,         fault::spurious_wake, fault::late_wake,
                              fault::thread_create, fault::waker_open,    fault::rt_refused};

void disarm() {
  for (const fault f : k_faults) sim::fail_calls(f, 0, 0);
}

struct rig {
  ledger book;
  act what{act::loop};
  std::unique_ptr<fault_worker> w;
  int entered{0};

  explicit rig(act a, steward::platform::thread_options opts = {}) : what(a) {
    steward::worker_config cfg;
    cfg.name = "faulty";
    cfg.thread = opts;
    cfg.body = [this](steward::worker_context& ctx) { return body(ctx); };
    w = std::make_unique<fault_worker>(cfg);
  }

  void hold(steward::worker_context& ctx, bool failing) {
    const int rec = book.acquired++;
    book.held[rec % 16] = true;
    auto ref = ctx.defer([this, rec, failing]() -> bool {
      if (!book.held[rec % 16]) ++book.twice;
      book.held[rec % 16] = false;
      ++book.released;
      return !failing;
    });
    REQUIRE(ref.has_value());
  }

  steward::result<void> body(steward::worker_context& ctx) {
    ++entered;
    hold(ctx, false);
    hold(ctx, what == act::failing_release);
#if STEWARD_USING_EXCEPTIONS
    if (what == act::throw_at_entry) throw std::runtime_error("thrown at entry");
#endif
    if (what == act::fail_at_entry) return steward::fail(errc::worker_failed, "faulty", 1);
    for (;;) {
      auto safe = ctx.sleep_for(1ms);
      if (safe) continue;
      if (safe.error() != errc::stop_requested) return safe;
      switch (what) {
#if STEWARD_USING_EXCEPTIONS
        case act::throw_on_stop:
          throw std::runtime_error("thrown on stop");
#endif
        case act::fail_on_stop:
          return steward::fail(errc::worker_failed, "faulty", 2);
        case act::ignore_stop:
          for (int i = 0; i < 50; ++i) static_cast<void>(sim::draw());
          return safe;
        case act::return_during_stop:
          return {};
        default:
          return safe;
      }
    }
  }

  // Faults cleared: the worker ends, and everything it registered was released once.
  void finish() {
    disarm();
    for (int attempt = 0;
         attempt < 10 && !steward::is_terminal(w->state()) && w->state() != worker_state::idle; ++attempt) {
      static_cast<void>(w->stop(1s));
    }
    const worker_state end = w->state();
    CHECK((steward::is_terminal(end) || end == worker_state::idle));
    w.reset();
    CHECK(book.released == book.acquired);
    CHECK(book.twice == 0);
  }
};

// The phases a control call can meet a worker in.
enum class phase : std::uint8_t { start, restart, pause, resume, stop_running, stop_paused, join };
constexpr phase k_phases[] = {phase::start,        phase::restart,     phase::pause, phase::resume,
                              phase::stop_running, phase::stop_paused, phase::join};
const char* phase_name(phase p) {
  switch (p) {
    case phase::start:
      return "start";
    case phase::restart:
      return "restart";
    case phase::pause:
      return "pause";
    case phase::resume:
      return "resume";
    case phase::stop_running:
      return "stop_running";
    case phase::stop_paused:
      return "stop_paused";
    case phase::join:
      return "join";
  }
  return "?";
}
const char* fault_name(fault f) {
  switch (f) {
    case fault::clock:
      return "clock";
    case fault::spurious_wake:
      return "spurious_wake";
    case fault::late_wake:
      return "late_wake";
    case fault::thread_create:
      return "thread_create";
    case fault::waker_open:
      return "waker_open";
    case fault::rt_refused:
      return "rt_refused";
  }
  return "?";
}

// Puts the worker into the state the phase needs (no faults armed).
void prepare(rig& r, phase p) {
  if (p == phase::start) return;
  REQUIRE(r.w->start().has_value());
  REQUIRE(r.w->wait_initialised(1s).has_value());
  if (p == phase::restart || p == phase::join) {
    if (p == phase::restart) REQUIRE(r.w->stop(1s).has_value());
    return;
  }
  if (p == phase::resume || p == phase::stop_paused) REQUIRE(r.w->pause(1s).has_value());
}

// One call of the phase with `f` armed on its first matching call. Checks the answer.
void one_case(phase p, fault f) {
  in_sim([&] {
    rig r(act::loop);
    prepare(r, p);
    const worker_state before = r.w->state();
    sim::fail_calls(f, 0, 1);
    switch (p) {
      case phase::start:
      case phase::restart: {
        auto s = r.w->start();
        disarm();                                // what follows checks the outcome, without the fault
        const bool creates = p == phase::start;  // a restart reuses the retained thread
        if ((f == fault::thread_create && creates) || (f == fault::waker_open && creates)) {
          REQUIRE_FALSE(s.has_value());
          CHECK(s.error() == errc::resource_exhausted);
          CHECK(r.w->state() == before);  // nothing changed
          CHECK(r.entered == 0);
          REQUIRE(r.w->start().has_value());  // and the next start works
        } else {
          REQUIRE(s.has_value());
        }
        auto ready = r.w->wait_initialised(1s);
        if (!ready && f == fault::clock) {
          // The new incarnation ran first and its own sleep met the failed clock read: the body
          // returned that error, and the exit says so.
          auto last = r.w->last_exit();
          REQUIRE(last.has_value());
          CHECK(last->reason == exit_reason::error);
          CHECK(last->err.code == errc::platform_error);
        } else {
          CHECK(ready.has_value());
        }
        CHECK(r.entered == (p == phase::restart ? 2 : 1));
        break;
      }
      case phase::pause: {
        auto s = r.w->pause(1s);
        if (f == fault::clock) {
          REQUIRE_FALSE(s.has_value());
          CHECK(s.error() == errc::platform_error);
          CHECK(r.w->state() == worker_state::running);  // not even a pause request left behind
        } else {
          REQUIRE(s.has_value());
          CHECK(r.w->state() == worker_state::paused);
        }
        break;
      }
      case phase::resume: {
        REQUIRE(r.w->resume().has_value());
        CHECK(r.w->state() != worker_state::paused);
        break;
      }
      case phase::stop_running:
      case phase::stop_paused: {
        auto s = r.w->stop(1s);
        if (f == fault::clock) {
          REQUIRE_FALSE(s.has_value());
          CHECK(s.error() == errc::platform_error);
          CHECK(r.w->state() == before);  // the stop was not posted
        } else {
          REQUIRE(s.has_value());
          CHECK(s->reason == exit_reason::stopped);
          CHECK(s->cleanup.released == 2);
          CHECK(r.w->state() == worker_state::stopped);
        }
        break;
      }
      case phase::join: {
        auto s = r.w->join(10ms);
        REQUIRE_FALSE(s.has_value());  // nobody stops it: the join times out or meets the fault
        CHECK(s.error() == (f == fault::clock ? errc::platform_error : errc::timeout));
        CHECK(r.w->state() == worker_state::running);
        break;
      }
    }
    r.finish();
  });
}

// A body's own failure, seen by a stop (or by the start that runs it).
void body_case(act a, exit_reason expected, int released_expected) {
  in_sim([&] {
    rig r(a);
    REQUIRE(r.w->start().has_value());
    auto s = r.w->stop(a == act::ignore_stop ? 1s : 1s);
    REQUIRE(s.has_value());
    CHECK(s->reason == expected);
    CHECK(s->cleanup.released == released_expected);
    CHECK(r.w->state() == (steward::is_failure(expected) ? worker_state::failed : worker_state::stopped));
    r.finish();
  });
}

}  // namespace

TEST_CASE("sim faults: every seam x every lifecycle phase answers a typed error or holds") {
  int cases = 0;
  for (const phase p : k_phases) {
    for (const fault f : k_faults) {
      const std::string where = std::string(phase_name(p)) + " x " + fault_name(f);
      CAPTURE(where);
      one_case(p, f);
      ++cases;
    }
  }
  CHECK(cases == 42);
}

TEST_CASE("sim faults: a real-time policy refused falls back and says so, or fails and changes nothing") {
  steward::platform::thread_options rt;
  rt.policy = steward::platform::sched_policy::fifo;
  rt.priority = 10;
  in_sim([&] {
    rig r(act::loop, rt);
    sim::fail_calls(fault::rt_refused, 0, 1);
    auto s = r.w->start();
    REQUIRE(s.has_value());
    CHECK(s->thread.rt_fell_back);
    CHECK(s->thread.rt_errno == 1);
    r.finish();
  });
  rt.on_rt_refused = steward::platform::rt_fallback::fail;
  in_sim([&] {
    rig r(act::loop, rt);
    sim::fail_calls(fault::rt_refused, 0, 1);
    auto s = r.w->start();
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error() == errc::permission_denied);
    CHECK(r.w->state() == worker_state::idle);
    REQUIRE(r.w->start().has_value());  // granted now
    r.finish();
  });
}

TEST_CASE("sim faults: thread creation refused for good keeps failing with resource_exhausted") {
  in_sim([&] {
    rig r(act::loop);
    sim::fail_calls(fault::thread_create, 0, 1000);
    for (int i = 0; i < 5; ++i) {
      auto s = r.w->start();
      REQUIRE_FALSE(s.has_value());
      CHECK(s.error() == errc::resource_exhausted);
      CHECK(r.w->state() == worker_state::idle);
    }
    CHECK(sim::failed_calls(fault::thread_create) == 5);
    r.finish();
  });
}

TEST_CASE("sim faults: spurious and late wake-ups on every wait never end a pause or a sleep early") {
  in_sim([&] {
    rig r(act::loop);
    REQUIRE(r.w->start().has_value());
    sim::fail_calls(fault::spurious_wake, 0, 200);
    REQUIRE(r.w->pause(1s).has_value());
    CHECK(r.w->state() == worker_state::paused);
    steward::platform::advance_manual_clock(10ms);
    CHECK(r.w->state() == worker_state::paused);  // spurious returns do not unpark it
    sim::fail_calls(fault::late_wake, 0, 200);
    REQUIRE(r.w->resume().has_value());
    REQUIRE(r.w->pause(1s).has_value());
    CHECK(r.w->state() == worker_state::paused);
    r.finish();
  });
}

TEST_CASE(
    "sim faults: a body that fails, throws or misbehaves at each phase is reported and cleaned up once") {
  body_case(act::loop, exit_reason::stopped, 2);
  body_case(act::fail_at_entry, exit_reason::error, 2);
  body_case(act::fail_on_stop, exit_reason::error, 2);
  body_case(act::failing_release, exit_reason::cleanup_failed, 2);
  body_case(act::ignore_stop, exit_reason::stopped, 2);
  body_case(act::return_during_stop, exit_reason::stopped, 2);
#if STEWARD_USING_EXCEPTIONS
  body_case(act::throw_at_entry, exit_reason::exception, 2);
  body_case(act::throw_on_stop, exit_reason::exception, 2);
#endif
}

TEST_CASE("sim faults: a worker that ignores stop for a while makes a short stop time out, then stops") {
  in_sim([&] {
    rig r(act::ignore_stop);
    REQUIRE(r.w->start().has_value());
    REQUIRE(r.w->wait_initialised(1s).has_value());
    auto early = r.w->stop(steward::duration::zero());
    REQUIRE_FALSE(early.has_value());
    CHECK(early.error() == errc::timeout);
    CHECK(r.w->state() == worker_state::stopping);
    auto later = r.w->stop(1s);
    REQUIRE(later.has_value());
    CHECK(later->reason == exit_reason::stopped);
    r.finish();
  });
}

TEST_CASE("sim faults: a restart reuses its thread and waker, so their creation faults cannot hit it") {
  in_sim([&] {
    rig r(act::loop);
    REQUIRE(r.w->start().has_value());
    REQUIRE(r.w->stop(1s).has_value());
    // The waker stays open across incarnations, so a restart does not meet the fault: it
    // stays armed, and the count of calls failed says so.
    sim::fail_calls(fault::waker_open, 0, 1);
    sim::fail_calls(fault::thread_create, 0, 1);
    REQUIRE(r.w->start().has_value());
    CHECK(sim::failed_calls(fault::waker_open) == 0);
    CHECK(sim::failed_calls(fault::thread_create) == 0);
    CHECK(r.w->wait_initialised(1s).has_value());
    CHECK(r.entered == 2);
    r.finish();
  });
}
