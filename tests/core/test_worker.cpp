// Worker lifecycle: each transition, each invalid call's error, and that errors change nothing.
#include <cerrno>

#include "test_support.hpp"

using namespace testutil;
using steward::errc;
using steward::exit_reason;
using steward::worker_state;

namespace {

struct spin_state {
  std::atomic<int> phase{0};  // 1 = inside checkpoint(), 2 = past it
  std::atomic<long> iterations{0};
  std::atomic<bool> body_ran{false};
  std::atomic<bool> hold{false};  // while true the body spins without a safe point
};

// A body that loops over checkpoint() until stopped.
steward::worker_config spinning(spin_state* st, const char* name = "spinner") {
  steward::worker_config cfg;
  cfg.name = name;
  cfg.body = [st](steward::worker_context& ctx) -> steward::result<void> {
    st->body_ran = true;
    for (;;) {
      while (st->hold.load()) std::this_thread::yield();
      st->phase = 1;
      STEWARD_TRY(ctx.checkpoint());
      st->phase = 2;
      st->iterations.fetch_add(1);
    }
  };
  return cfg;
}

struct exit_log {
  std::atomic<int> calls{0};
  std::atomic<std::uint32_t> last_generation{0};
  std::atomic<int> last_reason{-1};
  static void hook(void* user, const char*, const steward::exit_report& r) noexcept {
    auto* log = static_cast<exit_log*>(user);
    log->last_generation = r.generation;
    log->last_reason = static_cast<int>(r.reason);
    log->calls.fetch_add(1);
  }
};

}  // namespace

TEST_CASE("worker: start, body returns, stopped with report" * doctest::timeout(60)) {
  exit_log log;
  steward::worker_config cfg;
  cfg.name = "oneshot";
  cfg.body = [](steward::worker_context&) {};
  cfg.on_exit = &exit_log::hook;
  cfg.on_exit_user = &log;
  auto w = make_worker(cfg);
  CHECK(w->state() == worker_state::idle);
  CHECK(w->generation() == 0);
  auto started = w->start();
  REQUIRE(started);
  CHECK(started->handle.generation() == 1);
  REQUIRE(w->join(k_ack));  // an acknowledgement, no polling
  CHECK(w->state() == worker_state::stopped);
  auto report = w->stop(k_ack);
  REQUIRE(report);
  CHECK(report->generation == 1);
  CHECK(report->reason == exit_reason::returned);
  CHECK(w->state() == worker_state::stopped);
  CHECK(log.calls == 1);
  CHECK(log.last_generation == 1);
}

TEST_CASE("worker: a body that returns by itself is reported as returned" * doctest::timeout(60)) {
  std::atomic<bool> done{false};
  steward::worker_config cfg;
  auto* flag = &done;
  cfg.body = [flag](steward::worker_context&) { flag->store(true); };
  auto w = make_worker(cfg);
  REQUIRE(w->start());
  REQUIRE(w->join(k_ack));  // an acknowledgement, no polling
  CHECK(w->state() == worker_state::stopped);
  auto report = w->last_exit();
  REQUIRE(report);
  CHECK(report->reason == exit_reason::returned);
  CHECK(done);
}

TEST_CASE("worker: pause returns only once the worker is parked at a safe point" * doctest::timeout(60)) {
  spin_state st;
  auto w = make_worker(spinning(&st));
  REQUIRE(w->start());
  REQUIRE(eventually([&] { return st.iterations.load() > 10; }));
  REQUIRE(w->pause(k_ack));
  CHECK(w->state() == worker_state::paused);
  CHECK(st.phase == 1);  // it is inside checkpoint(), not past it (bug class 5)
  const long parked_at = st.iterations.load();
  for (int i = 0; i < 1000; ++i) std::this_thread::yield();
  CHECK(st.iterations.load() == parked_at);
  REQUIRE(w->resume());
  CHECK(w->state() == worker_state::running);
  REQUIRE(eventually([&] { return st.iterations.load() > parked_at; }));
  auto report = w->stop(k_ack);
  REQUIRE(report);
  CHECK(report->reason == exit_reason::stopped);
}

TEST_CASE("worker: pausing twice is reported, resuming a running worker is a no-op" * doctest::timeout(60)) {
  spin_state st;
  auto w = make_worker(spinning(&st));
  REQUIRE(w->start());
  CHECK(w->resume());  // running (or starting): harmless no-op
  REQUIRE(w->pause(k_ack));
  auto again = w->pause(k_ack);
  REQUIRE_FALSE(again);
  CHECK(again.error() == errc::already_paused);
  CHECK(again.error().subject == w->name());
  CHECK(w->state() == worker_state::paused);
  CHECK(w->resume());
  CHECK(w->resume());
  CHECK(w->state() == worker_state::running);
  CHECK(w->stop(k_ack));
}

TEST_CASE("worker: calls on an idle worker" * doctest::timeout(60)) {
  spin_state st;
  auto w = make_worker(spinning(&st));
  CHECK(code_of(w->pause(k_ack)) == code(errc::not_running));
  CHECK(code_of(w->resume()) == code(errc::not_running));
  auto s = w->stop(k_ack);  // stop works from every state
  REQUIRE(s);
  CHECK(s->generation == 0);
  CHECK(s->reason == exit_reason::stopped_before_start);
  auto last = w->last_exit();
  REQUIRE_FALSE(last);
  CHECK(last.error() == errc::not_running);
  CHECK(w->state() == worker_state::idle);
  CHECK(w->generation() == 0);
  CHECK_FALSE(st.body_ran);
}

TEST_CASE("worker: pause and resume of a stopped worker are refused" * doctest::timeout(60)) {
  spin_state st;
  auto w = make_worker(spinning(&st));
  REQUIRE(w->start());
  REQUIRE(eventually([&] { return st.body_ran.load(); }));
  REQUIRE(w->stop(k_ack));
  auto p = w->pause(k_ack);
  REQUIRE_FALSE(p);
  CHECK(p.error() == errc::not_running);
  auto r = w->resume();
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::not_running);
  auto again = w->stop(k_ack);  // idempotent
  REQUIRE(again);
  CHECK(again->reason == exit_reason::stopped);
  CHECK(w->state() == worker_state::stopped);
}

TEST_CASE("worker: pause timeout leaves the request pending and resume cancels it" * doctest::timeout(60)) {
  spin_state st;
  st.hold = true;  // the body spins with no safe point
  auto w = make_worker(spinning(&st, "busy"));
  REQUIRE(w->start());
  REQUIRE(eventually([&] { return st.body_ran.load(); }));
  auto p = w->pause(std::chrono::milliseconds(5));
  REQUIRE_FALSE(p);
  CHECK(p.error() == errc::timeout);
  CHECK(std::string(p.error().subject) == "busy");
  CHECK(w->state() == worker_state::pausing);
  REQUIRE(w->resume());  // cancels the pending request
  CHECK(w->state() == worker_state::running);
  st.hold = false;
  const long seen = st.iterations.load();
  REQUIRE(eventually([&] { return st.iterations.load() > seen + 10; }));  // it did not park
  CHECK(w->stop(k_ack));
}

TEST_CASE("worker: after a pause timeout the worker parks at its next safe point" * doctest::timeout(60)) {
  spin_state st;
  st.hold = true;
  auto w = make_worker(spinning(&st));
  REQUIRE(w->start());
  REQUIRE(eventually([&] { return st.body_ran.load(); }));
  auto p = w->pause(std::chrono::milliseconds(5));
  REQUIRE_FALSE(p);
  CHECK(p.error() == errc::timeout);
  // A second pause() waits for the same acknowledgement (or, if it comes after the worker
  // parked, reports already_paused): either way it returns with the worker parked.
  std::atomic<int> second{-2};
  std::thread pauser([&] { second = code_of(w->pause(k_ack)); });
  st.hold = false;
  pauser.join();
  CHECK((second == -1 || second == code(errc::already_paused)));
  CHECK(w->state() == worker_state::paused);
  CHECK(st.phase == 1);
  CHECK(w->stop(k_ack));
}

TEST_CASE("worker: stop timeout names the worker and never tears it down" * doctest::timeout(60)) {
  spin_state st;
  st.hold = true;
  auto w = make_worker(spinning(&st, "stubborn"));
  REQUIRE(w->start());
  REQUIRE(eventually([&] { return st.body_ran.load(); }));
  auto s = w->stop(std::chrono::milliseconds(5));
  REQUIRE_FALSE(s);
  CHECK(s.error() == errc::timeout);
  CHECK(std::string(s.error().subject) == "stubborn");
  CHECK(w->state() == worker_state::stopping);
  auto p = w->pause(k_ack);
  REQUIRE_FALSE(p);
  CHECK(p.error() == errc::stopping);
  auto r = w->resume();
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::stopping);
  st.hold = false;  // the body reaches a safe point and sees the stop
  auto report = w->stop(k_ack);
  REQUIRE(report);
  CHECK(report->reason == exit_reason::stopped);
}

TEST_CASE("worker: stop wins against start and the body never runs" * doctest::timeout(60)) {
  spin_state st;
  auto w = make_worker(spinning(&st));
  start_gate gate;
  REQUIRE(w->start());
  REQUIRE(eventually([&] { return gate.arrived() == 1; }));
  CHECK(w->state() == worker_state::starting);
  auto early = w->stop(std::chrono::milliseconds(0));  // the request lands before the body
  REQUIRE_FALSE(early);
  CHECK(early.error() == errc::timeout);
  gate.open();
  auto report = w->stop(k_ack);
  REQUIRE(report);
  CHECK(report->reason == exit_reason::stopped_before_start);
  CHECK(report->cleanup.released == 0);
  CHECK_FALSE(st.body_ran);
  CHECK(w->state() == worker_state::stopped);
}

// A pause posted before the body was entered is acknowledged at the body's first safe point:
// `paused` always means "parked inside the body", whatever the scheduler did.
TEST_CASE("worker: a pause sent before the thread reached its body is not lost" * doctest::timeout(60)) {
  spin_state st;
  auto w = make_worker(spinning(&st));
  start_gate gate;
  REQUIRE(w->start());
  REQUIRE(eventually([&] { return gate.arrived() == 1; }));
  auto early = w->pause(std::chrono::milliseconds(0));
  REQUIRE_FALSE(early);
  CHECK(early.error() == errc::timeout);
  CHECK(w->state() == worker_state::pausing);
  gate.open();
  const int again = code_of(w->pause(k_ack));  // the same acknowledgement, or already parked
  CHECK((again == -1 || again == code(errc::already_paused)));
  CHECK(w->state() == worker_state::paused);
  CHECK(st.body_ran);        // parked inside the body ...
  CHECK(st.phase == 1);      // ... at its first safe point
  CHECK(st.iterations == 0);
  REQUIRE(w->resume());
  REQUIRE(eventually([&] { return st.iterations.load() > 0; }));
  CHECK(w->stop(k_ack));
}

TEST_CASE("worker: a resume sent before the thread started is a no-op, the body runs" *
          doctest::timeout(60)) {
  spin_state st;
  auto w = make_worker(spinning(&st));
  start_gate gate;
  REQUIRE(w->start());
  REQUIRE(eventually([&] { return gate.arrived() == 1; }));
  CHECK(w->resume());
  gate.open();
  REQUIRE(eventually([&] { return st.iterations.load() > 0; }));
  CHECK(w->stop(k_ack));
}

TEST_CASE("worker: body error goes to failed, keeps the reason and tells the hook" * doctest::timeout(60)) {
  exit_log log;
  steward::worker_config cfg;
  cfg.name = "faulty";
  cfg.body = [](steward::worker_context&) -> steward::result<void> {
    return steward::fail(errc::worker_failed, "sensor", 42);
  };
  cfg.on_exit = &exit_log::hook;
  cfg.on_exit_user = &log;
  auto w = make_worker(cfg);
  REQUIRE(w->start());
  REQUIRE(w->join(k_ack));  // an acknowledgement, no polling
  CHECK(w->state() == worker_state::failed);
  auto report = w->stop(k_ack);
  REQUIRE(report);
  CHECK(report->reason == exit_reason::error);
  CHECK(report->err.code == errc::worker_failed);
  CHECK(report->err.value == 42);
  CHECK(log.calls == 1);
  CHECK(log.last_reason == static_cast<int>(exit_reason::error));
}

#if STEWARD_USING_EXCEPTIONS
TEST_CASE("worker: an escaped exception is captured at the thread boundary" * doctest::timeout(60)) {
  steward::worker_config cfg;
  cfg.name = "thrower";
  cfg.body = [](steward::worker_context&) -> steward::result<void> { throw std::runtime_error("boom"); };
  auto w = make_worker(cfg);
  REQUIRE(w->start());
  REQUIRE(w->join(k_ack));  // an acknowledgement, no polling
  CHECK(w->state() == worker_state::failed);
  auto report = w->last_exit();
  REQUIRE(report);
  CHECK(report->reason == exit_reason::exception);
  CHECK(report->err.code == errc::exception);
  CHECK(std::string(report->detail) == "boom");
}
#endif

TEST_CASE("worker: restart gives a new generation and makes old handles stale" * doctest::timeout(60)) {
  spin_state st;
  auto w = make_worker(spinning(&st));
  auto first = w->start();
  REQUIRE(first);
  const auto old_handle = first->handle;
  REQUIRE(old_handle.stop(k_ack));
  auto second = w->start();
  REQUIRE(second);
  CHECK(second->handle.generation() == old_handle.generation() + 1);
  REQUIRE(w->wait_initialised(k_ack));
  const long iterations_before = st.iterations.load();
  auto p = old_handle.pause(k_ack);
  REQUIRE_FALSE(p);
  CHECK(p.error() == errc::stale_handle);
  auto r = old_handle.resume();
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::stale_handle);
  auto s = old_handle.stop(k_ack);
  REQUIRE_FALSE(s);
  CHECK(s.error() == errc::stale_handle);
  auto q = old_handle.state();
  REQUIRE_FALSE(q);
  CHECK(q.error() == errc::stale_handle);
  // The stale calls changed nothing: the current incarnation runs on, under the same
  // generation and handle, with no stop or pause pending, and the last exit is the first one's.
  CHECK(w->state() == worker_state::running);
  CHECK(w->generation() == second->handle.generation());
  CHECK(w->handle().generation() == second->handle.generation());
  REQUIRE(eventually([&] { return st.iterations.load() > iterations_before + 100; }));  // not parked
  auto current = second->handle.state();
  REQUIRE(current);
  CHECK(*current == worker_state::running);
  REQUIRE(second->handle.pause(k_ack));
  REQUIRE(second->handle.stop(k_ack));
}

TEST_CASE("worker: a null handle is rejected" * doctest::timeout(60)) {
  const steward::worker_handle none;
  CHECK(none.is_null());
  CHECK(code_of(none.pause(k_ack)) == code(errc::invalid_handle));
  CHECK(code_of(none.resume()) == code(errc::invalid_handle));
  CHECK(code_of(none.stop(k_ack)) == code(errc::invalid_handle));
  CHECK(code_of(none.state()) == code(errc::invalid_handle));
}

TEST_CASE("worker: start while running is refused and changes nothing" * doctest::timeout(60)) {
  spin_state st;
  auto w = make_worker(spinning(&st));
  REQUIRE(w->start());
  auto again = w->start();
  REQUIRE_FALSE(again);
  CHECK(again.error() == errc::already_running);
  CHECK(w->generation() == 1);
  auto cfg = w->configure(spinning(&st));
  REQUIRE_FALSE(cfg);
  CHECK(cfg.error() == errc::already_running);
  CHECK(w->stop(k_ack));
}

TEST_CASE("worker: a worker without a body does not start" * doctest::timeout(60)) {
  auto w = make_worker(steward::worker_config{});
  auto s = w->start();
  REQUIRE_FALSE(s);
  CHECK(s.error() == errc::invalid_argument);
  CHECK(w->state() == worker_state::idle);
  CHECK(w->generation() == 0);
}

TEST_CASE("worker: a stack below the platform minimum is refused" * doctest::timeout(60)) {
  steward::worker_config cfg;
  cfg.body = [](steward::worker_context&) {};
  auto w = std::make_unique<steward::static_worker<4096, 2>>(cfg);
  auto s = w->start();
  REQUIRE_FALSE(s);
  CHECK(s.error() == errc::stack_too_small);
  CHECK(s.error().value >= 4096);
  CHECK(w->state() == worker_state::idle);
  CHECK(w->generation() == 0);
}

TEST_CASE("worker: thread creation failure is typed, bounded and changes nothing" * doctest::timeout(60)) {
  spin_state st;
  auto w = make_worker(spinning(&st));
  steward::platform::inject_thread_create_failures(100, EAGAIN);  // permanent
  auto s = w->start();
  steward::platform::inject_thread_create_failures(0, 0);
  REQUIRE_FALSE(s);
  CHECK(s.error() == errc::resource_exhausted);
  CHECK(s.error().value == EAGAIN);
  CHECK(w->state() == worker_state::idle);
  CHECK(w->generation() == 0);
  steward::platform::inject_thread_create_failures(1, EAGAIN);  // transient: retried
  auto t = w->start();
  REQUIRE(t);
  // The number the failed start drew is never handed out again (a handle read during the failed
  // start cannot become valid for a later incarnation).
  CHECK(w->generation() == 2);
  CHECK(t->handle.generation() == 2);
  CHECK(w->stop(k_ack));
}

TEST_CASE("worker: a refused real-time policy falls back and says so, or fails if asked" *
          doctest::timeout(60)) {
  spin_state st;
  auto cfg = spinning(&st);
  cfg.thread.policy = steward::platform::sched_policy::fifo;
  cfg.thread.priority = 10;
  auto w = make_worker(cfg);
  steward::platform::inject_thread_create_failures(1, EPERM);
  auto s = w->start();
  REQUIRE(s);
  CHECK(s->thread.rt_fell_back);
  CHECK(s->thread.rt_errno == EPERM);
  REQUIRE(w->stop(k_ack));
  cfg.thread.on_rt_refused = steward::platform::rt_fallback::fail;
  REQUIRE(w->configure(cfg));
  steward::platform::inject_thread_create_failures(1, EPERM);
  auto f = w->start();
  REQUIRE_FALSE(f);
  CHECK(f.error() == errc::permission_denied);
  CHECK(w->state() == worker_state::stopped);
  CHECK(w->generation() == 1);
}

TEST_CASE("worker: control calls from the worker on itself never deadlock" * doctest::timeout(60)) {
  struct seen {
    std::atomic<int> stop{-1}, pause{-1}, start{-1}, configure{-1}, resume_ok{-1};
    std::atomic<int> state_after{-1};
    std::atomic<bool> done{false};
  } s;
  steward::worker_config cfg;
  cfg.name = "selfish";
  auto* out = &s;
  cfg.body = [out](steward::worker_context& ctx) -> steward::result<void> {
    auto& me = ctx.self();
    out->stop = code_of(me.stop(std::chrono::seconds(1)));
    out->pause = code_of(me.pause(std::chrono::seconds(1)));
    out->start = code_of(me.start());
    out->configure = code_of(me.configure(steward::worker_config{}));
    out->resume_ok = me.resume().has_value() ? 1 : 0;
    out->state_after = static_cast<int>(me.state());
    out->done = true;
    for (;;) STEWARD_TRY(ctx.sleep_for(std::chrono::hours(1)));
  };
  auto w = make_worker(cfg);
  REQUIRE(w->start());
  REQUIRE(eventually([&] { return s.done.load(); }));
  CHECK(s.stop == static_cast<int>(errc::would_deadlock));
  CHECK(s.pause == static_cast<int>(errc::would_deadlock));
  CHECK(s.start == static_cast<int>(errc::would_deadlock));
  CHECK(s.configure == static_cast<int>(errc::would_deadlock));
  CHECK(s.resume_ok == 1);
  CHECK(s.state_after == static_cast<int>(worker_state::running));
  auto report = w->stop(k_ack);
  REQUIRE(report);
  CHECK(report->reason == exit_reason::stopped);
}

TEST_CASE("worker: a zero-timeout pause only posts the request" * doctest::timeout(60)) {
  spin_state st;
  st.hold = true;
  auto w = make_worker(spinning(&st));
  REQUIRE(w->start());
  REQUIRE(eventually([&] { return st.body_ran.load(); }));
  CHECK(code_of(w->pause(steward::duration::zero())) == code(errc::timeout));
  CHECK(w->state() == worker_state::pausing);  // posted, not yet parked
  st.hold = false;
  REQUIRE(eventually([&] { return w->state() == worker_state::paused; }));
  CHECK(code_of(w->pause(steward::duration::zero())) == code(errc::already_paused));
  CHECK(w->stop(k_ack));
}
