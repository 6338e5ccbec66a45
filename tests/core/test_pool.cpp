// steward pool (issue 11): outcomes, cancellation races, pause/resume across every kind of wait,
// full queue, stale handles, shutdown in both modes, and no allocation after construction.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "alloc_counter.hpp"
#include "steward/core/pool.hpp"
#include "steward/supervisors/control_server.hpp"
#include "steward/supervisors/supervisor.hpp"
#include "test_support.hpp"

using namespace testutil;
using steward::errc;
using steward::task_context;
using steward::task_handle;
using steward::task_state;

namespace {

template <std::size_t Threads, std::size_t Capacity>
using test_pool = steward::pool<Threads, Capacity, 64, k_stack>;

template <class Pool>
std::unique_ptr<Pool> started_pool() {
  auto p = std::make_unique<Pool>("pool-test");
  auto started = p->start();
  CHECK(started.has_value());
  return p;
}

struct pipe_pair {
  int fds[2]{-1, -1};
  pipe_pair() { REQUIRE(::pipe2(fds, O_CLOEXEC) == 0); }
  ~pipe_pair() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  pipe_pair(const pipe_pair&) = delete;
  pipe_pair& operator=(const pipe_pair&) = delete;
  void write_one() const { CHECK(::write(fds[1], "x", 1) == 1); }
};

// Holds a task until released, as a safe point (a notifier wait).
struct latch {
  steward::notifier note;
  std::atomic<bool> open{false};
  std::atomic<int> entered{0};
  void release() {
    open.store(true);
    note.notify_all();
  }
};

steward::result<void> wait_on(task_context& ctx, latch* l) {
  l->entered.fetch_add(1);
  return ctx.wait_until(
      l->note, [l] { return l->open.load(); }, steward::never);
}

task_state outcome_of(const task_handle& h) {
  auto r = h.wait(k_ack);
  CHECK(r.has_value());
  return r ? r->outcome : task_state::queued;
}

}  // namespace

TEST_CASE("pool: thousands of tasks from several producers each run exactly once" * doctest::timeout(120)) {
  constexpr int k_tasks = 6000;
  auto p = started_pool<test_pool<2, 64>>();
  std::vector<std::atomic<int>> ran(k_tasks);
  std::atomic<int>* runs = ran.data();
  std::atomic<int> refused{0};
  std::vector<std::thread> producers;
  for (int w = 0; w < 3; ++w) {
    producers.emplace_back([&, w] {
      for (int i = w; i < k_tasks; i += 3) {
        auto h = p->submit([runs, i] { runs[i].fetch_add(1); }, {"counted", k_ack});
        if (!h) refused.fetch_add(1);
      }
    });
  }
  for (auto& t : producers) t.join();
  auto report = p->shutdown(steward::shutdown_mode::drain, k_ack);
  REQUIRE(report.has_value());
  CHECK(refused.load() == 0);
  CHECK(report->completed == k_tasks);
  CHECK(report->failed + report->cancelled + report->stopped == 0);
  CHECK(report->hung_threads == 0);
  for (int i = 0; i < k_tasks; ++i) CHECK(runs[i].load() == 1);
  const auto c = p->counters();
  CHECK(c.submitted == k_tasks);
  CHECK(c.queued == 0);
  CHECK(c.running == 0);
  CHECK(c.queue_high_water >= 1);
  CHECK(c.queue_high_water <= 64);
}

TEST_CASE("pool: wait() gives the task's result, its error, or the escaped exception" *
          doctest::timeout(60)) {
  auto p = started_pool<test_pool<2, 8>>();
  auto ok = p->submit([](task_context&) -> steward::result<void> { return {}; });
  auto bad = p->submit([]() -> steward::result<void> { return steward::fail(errc::worker_failed, "bad", 7); },
                       {"bad", {}});
  REQUIRE(ok.has_value());
  REQUIRE(bad.has_value());
  auto r1 = ok->wait(k_ack);
  REQUIRE(r1.has_value());
  CHECK(r1->outcome == task_state::completed);
  CHECK(r1->status().has_value());
  auto r2 = bad->wait(k_ack);
  REQUIRE(r2.has_value());
  CHECK(r2->outcome == task_state::failed);
  CHECK(code_of(r2->status()) == code(errc::worker_failed));
  CHECK(r2->err.value == 7);
#if STEWARD_USING_EXCEPTIONS
  auto thrower = p->submit([] { throw std::runtime_error("boom"); }, {"thrower", {}});
  REQUIRE(thrower.has_value());
  auto r3 = thrower->wait(k_ack);
  REQUIRE(r3.has_value());
  CHECK(r3->outcome == task_state::failed);
  CHECK(r3->err.code == errc::exception);
  CHECK(std::strcmp(r3->detail, "boom") == 0);
  // The task's failure is the task's: its thread goes on with the next task.
  auto after = p->submit([] {});
  REQUIRE(after.has_value());
  CHECK(outcome_of(*after) == task_state::completed);
  for (std::size_t t = 0; t < 2; ++t) {
    CHECK(p->thread_worker(t).generation() == 1);  // never restarted
    CHECK(p->thread_worker(t).state() == steward::worker_state::running);
  }
#endif
  CHECK(p->counters().failed == (STEWARD_USING_EXCEPTIONS ? 2U : 1U));
}

TEST_CASE("pool: a task's cleanup scope is released once, when the task ends, not when its thread does" *
          doctest::timeout(60)) {
  auto p = started_pool<test_pool<1, 4>>();
  std::atomic<int> released{0};
  std::atomic<int>* rel = &released;
  auto h = p->submit([rel](task_context& ctx) -> steward::result<void> {
    STEWARD_TRY(ctx.defer([rel] { rel->fetch_add(1); }));
    STEWARD_TRY(ctx.defer([rel] { rel->fetch_add(10); }));
    return {};
  });
  REQUIRE(h.has_value());
  auto r = h->wait(k_ack);
  REQUIRE(r.has_value());
  CHECK(r->cleanup.released == 2);
  CHECK(released.load() == 11);  // already, while the thread lives on
  CHECK(p->thread_worker(0).state() == steward::worker_state::running);
  // A failing release makes the task failed with cleanup_failed.
  auto f = p->submit([](task_context& ctx) -> steward::result<void> {
    STEWARD_TRY(ctx.defer([] { return false; }));
    return {};
  });
  REQUIRE(f.has_value());
  auto rf = f->wait(k_ack);
  REQUIRE(rf.has_value());
  CHECK(rf->outcome == task_state::failed);
  CHECK(rf->err.code == errc::cleanup_failed);
}

TEST_CASE("pool: a full queue answers queue_full and changes nothing, or blocks until a slot frees" *
          doctest::timeout(60)) {
  auto p = started_pool<test_pool<1, 4>>();
  latch hold;
  latch* l = &hold;
  auto blocker = p->submit([l](task_context& ctx) { return wait_on(ctx, l); }, {"blocker", {}});
  REQUIRE(blocker.has_value());
  REQUIRE(eventually([&] { return hold.entered.load() == 1; }));
  std::atomic<int> ran{0};
  std::atomic<int>* r = &ran;
  for (int i = 0; i < 3; ++i) REQUIRE(p->submit([r] { r->fetch_add(1); }).has_value());
  const auto before = p->counters();
  CHECK(before.queued == 3);
  auto refused = p->submit([r] { r->fetch_add(100); }, {"refused", {}});
  CHECK(code_of(refused) == code(errc::queue_full));
  CHECK(refused.error().subject != nullptr);
  CHECK(std::strcmp(refused.error().subject, "refused") == 0);
  // A short wait that no slot frees during: still queue_full.
  auto waited = p->submit([r] { r->fetch_add(100); }, {"waited", std::chrono::milliseconds(5)});
  CHECK(code_of(waited) == code(errc::queue_full));
  const auto after = p->counters();
  CHECK(after.submitted == before.submitted);
  CHECK(after.queued == 3);
  // A blocking submit gets the first slot that frees.
  std::atomic<bool> accepted{false};
  std::thread producer([&] {
    auto h = p->submit([r] { r->fetch_add(1000); }, {"late", k_ack});
    accepted.store(h.has_value());
  });
  hold.release();
  producer.join();
  CHECK(accepted.load());
  auto report = p->shutdown(steward::shutdown_mode::drain, k_ack);
  REQUIRE(report.has_value());
  CHECK(ran.load() == 1003);
  CHECK(report->completed == 5);
}

TEST_CASE("pool: stale and null handles change nothing" * doctest::timeout(60)) {
  auto p = started_pool<test_pool<1, 2>>();
  auto first = p->submit([] {});
  REQUIRE(first.has_value());
  CHECK(outcome_of(*first) == task_state::completed);
  // Finished, slot not reused yet: the outcome stays readable; cancel answers exited.
  CHECK(code_of(first->cancel()) == code(errc::exited));
  auto st = first->state();
  REQUIRE(st.has_value());
  CHECK(*st == task_state::completed);
  // Reuse both slots (free slots are handed out oldest first).
  latch hold;
  latch* l = &hold;
  // A slot goes back to the free list just after its outcome is published: block_for covers
  // that instant (a waiter that did not sleep can see the outcome first).
  auto a = p->submit([l](task_context& ctx) { return wait_on(ctx, l); }, {"a", k_ack});
  auto b = p->submit([l](task_context& ctx) { return wait_on(ctx, l); }, {"b", k_ack});
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK((a->slot() == first->slot() || b->slot() == first->slot()));
  CHECK(code_of(first->wait(k_ack)) == code(errc::stale_handle));
  CHECK(code_of(first->state()) == code(errc::stale_handle));
  CHECK(code_of(first->cancel()) == code(errc::stale_handle));
  // The stale cancel did not touch the task now in that slot.
  hold.release();
  CHECK(outcome_of(*a) == task_state::completed);
  CHECK(outcome_of(*b) == task_state::completed);
  const task_handle none;
  CHECK(code_of(none.wait(k_ack)) == code(errc::invalid_handle));
  CHECK(code_of(none.state()) == code(errc::invalid_handle));
  CHECK(code_of(none.cancel()) == code(errc::invalid_handle));
  CHECK(p->counters().cancelled == 0);
}

TEST_CASE("pool: a cancelled queued task never runs" * doctest::timeout(60)) {
  auto p = started_pool<test_pool<2, 16>>();
  REQUIRE(p->pause(k_ack).has_value());  // both threads parked while idle
  std::atomic<int> ran[4]{};
  std::atomic<int>* r = ran;
  task_handle h[4];
  for (int i = 0; i < 4; ++i) {
    auto s = p->submit([r, i] { r[i].fetch_add(1); });
    REQUIRE(s.has_value());
    h[i] = *s;
  }
  auto c = h[2].cancel();
  REQUIRE(c.has_value());
  CHECK(*c == task_state::queued);
  CHECK(code_of(h[2].cancel()) == code(errc::exited));
  REQUIRE(p->resume().has_value());
  CHECK(outcome_of(h[0]) == task_state::completed);
  CHECK(outcome_of(h[1]) == task_state::completed);
  CHECK(outcome_of(h[3]) == task_state::completed);
  auto rep = h[2].wait(k_ack);
  REQUIRE(rep.has_value());
  CHECK(rep->outcome == task_state::cancelled);
  CHECK(rep->err.code == errc::cancelled);
  auto report = p->shutdown(steward::shutdown_mode::drain, k_ack);
  REQUIRE(report.has_value());
  CHECK(ran[2].load() == 0);
  CHECK(report->cancelled == 1);
  CHECK(report->completed == 3);
}

namespace {
enum class wait_kind { sleep, notifier, fd, checkpoint };

struct cancel_probe {
  latch never_opened;
  int fd{-1};
  std::atomic<int> released{0};
  std::atomic<int> wait_code{-2};
  std::atomic<int> entered{0};
};

steward::result<void> waiting_task(task_context& ctx, cancel_probe* c, wait_kind kind) {
  STEWARD_TRY(ctx.defer([c] { c->released.fetch_add(1); }));
  c->entered.fetch_add(1);
  steward::result<void> r;
  switch (kind) {
    case wait_kind::sleep:
      r = ctx.sleep_for(std::chrono::hours(1));
      break;
    case wait_kind::notifier:
      r = ctx.wait_until(
          c->never_opened.note, [c] { return c->never_opened.open.load(); }, steward::never);
      break;
    case wait_kind::fd: {
      auto e = ctx.wait_readable(c->fd, steward::never);
      r = e ? steward::result<void>{} : steward::result<void>{steward::fail(e.error())};
      break;
    }
    case wait_kind::checkpoint:
      for (;;) {
        r = ctx.checkpoint();
        if (!r) break;
      }
      break;
  }
  c->wait_code.store(code_of(r));
  return r;
}
}  // namespace

TEST_CASE("pool: cancel stops a running task in any wait, and its cleanup runs once" * doctest::timeout(60)) {
  const wait_kind kinds[] = {wait_kind::sleep, wait_kind::notifier, wait_kind::fd, wait_kind::checkpoint};
  for (const wait_kind kind : kinds) {
    CAPTURE(static_cast<int>(kind));
    auto p = started_pool<test_pool<1, 4>>();
    pipe_pair pipe;
    cancel_probe probe;
    probe.fd = pipe.fds[0];
    cancel_probe* c = &probe;
    auto h = p->submit([c, kind](task_context& ctx) { return waiting_task(ctx, c, kind); }, {"waiter", {}});
    REQUIRE(h.has_value());
    REQUIRE(eventually([&] { return probe.entered.load() == 1; }));
    auto cancelled = h->cancel();
    REQUIRE(cancelled.has_value());
    CHECK(*cancelled == task_state::running);
    auto again = h->cancel();  // asked already: same answer, or exited if it has stopped since
    CHECK(((again && *again == task_state::running) || code_of(again) == code(errc::exited)));
    auto rep = h->wait(k_ack);
    REQUIRE(rep.has_value());
    CHECK(rep->outcome == task_state::stopped);
    CHECK(rep->err.code == errc::stop_requested);
    CHECK(probe.wait_code.load() == code(errc::stop_requested));
    CHECK(probe.released.load() == 1);
    // The thread survives its task's cancellation.
    auto next = p->submit([] {});
    REQUIRE(next.has_value());
    CHECK(outcome_of(*next) == task_state::completed);
    CHECK(p->counters().stopped == 1);
  }
}

TEST_CASE("pool: cancel racing start and completion from several threads gives one outcome and one cleanup" *
          doctest::timeout(300)) {
  constexpr int k_tasks = 2000;
  constexpr int k_cancellers = 3;
  auto p = started_pool<test_pool<2, 2048>>();  // no slot reuse: every handle stays valid
  std::vector<std::atomic<int>> ran(k_tasks), released(k_tasks), queued_answers(k_tasks);
  std::atomic<int>* ran_p = ran.data();
  std::atomic<int>* rel_p = released.data();
  std::vector<task_handle> handles(k_tasks);
  std::atomic<int> submitted{0};
  std::vector<std::thread> cancellers;
  for (int c = 0; c < k_cancellers; ++c) {
    cancellers.emplace_back([&, c] {
      xorshift rng(static_cast<std::uint32_t>(c + 1) * 7919U);
      for (int i = 0; i < k_tasks; ++i) {
        while (submitted.load(std::memory_order_acquire) <= i) std::this_thread::yield();
        if (rng.next() % 3U == 0) rng.jitter();
        auto r = handles[static_cast<std::size_t>(i)].cancel();
        if (r && *r == task_state::queued) queued_answers[static_cast<std::size_t>(i)].fetch_add(1);
        if (!r) {
          const auto e = r.error().code;
          CHECK((e == errc::exited));  // no reuse, so never stale
        }
      }
    });
  }
  for (int i = 0; i < k_tasks; ++i) {
    auto h = p->submit(
        [ran_p, rel_p, i](task_context& ctx) -> steward::result<void> {
          STEWARD_TRY(ctx.defer([rel_p, i] { rel_p[i].fetch_add(1); }));
          ran_p[i].fetch_add(1);
          for (int k = 0; k < 50; ++k) STEWARD_TRY(ctx.checkpoint());
          return {};
        },
        {"racer", {}});
    REQUIRE(h.has_value());
    handles[static_cast<std::size_t>(i)] = *h;
    submitted.store(i + 1, std::memory_order_release);
  }
  for (auto& t : cancellers) t.join();
  int outcomes[8]{};
  for (int i = 0; i < k_tasks; ++i) {
    auto rep = handles[static_cast<std::size_t>(i)].wait(k_ack);
    REQUIRE(rep.has_value());
    const auto o = rep->outcome;
    ++outcomes[static_cast<int>(o)];
    const auto idx = static_cast<std::size_t>(i);
    if (o == task_state::cancelled) {
      CHECK(queued_answers[idx].load() == 1);
      CHECK(ran[idx].load() == 0);
      CHECK(released[idx].load() == 0);
    } else {
      CHECK(queued_answers[idx].load() == 0);
      CHECK(((o == task_state::completed) || (o == task_state::stopped)));
      CHECK(ran[idx].load() == 1);
      CHECK(released[idx].load() == 1);
    }
  }
  auto report = p->shutdown(steward::shutdown_mode::drain, k_ack);
  REQUIRE(report.has_value());
  CHECK(report->completed == static_cast<std::uint64_t>(outcomes[static_cast<int>(task_state::completed)]));
  CHECK(report->stopped == static_cast<std::uint64_t>(outcomes[static_cast<int>(task_state::stopped)]));
  CHECK(report->cancelled == static_cast<std::uint64_t>(outcomes[static_cast<int>(task_state::cancelled)]));
  CHECK(report->failed == 0);
  CHECK(report->completed + report->stopped + report->cancelled == k_tasks);
}

namespace {
struct pause_probe {
  latch gate;  // the notifier task waits on it
  int fd{-1};
  std::atomic<int> entered{0};
  std::atomic<bool> stop_sleeping{false};
  std::atomic<unsigned> parks[3]{};
  std::atomic<bool> late_started{false};
};
}  // namespace

TEST_CASE("pool: pause is acknowledged while tasks sleep, wait on a notifier and on an fd, then resume" *
          doctest::timeout(60)) {
  auto p = started_pool<test_pool<3, 8>>();
  pipe_pair pipe;
  pause_probe probe;
  probe.fd = pipe.fds[0];
  pause_probe* pp = &probe;
  auto sleeper = p->submit(
      [pp](task_context& ctx) -> steward::result<void> {
        pp->entered.fetch_add(1);
        while (!pp->stop_sleeping.load()) STEWARD_TRY(ctx.sleep_for(std::chrono::milliseconds(1)));
        pp->parks[0].store(ctx.thread_context().park_count());
        return {};
      },
      {"sleeper", {}});
  auto waiter = p->submit(
      [pp](task_context& ctx) -> steward::result<void> {
        pp->entered.fetch_add(1);
        STEWARD_TRY(ctx.wait_until(
            pp->gate.note, [pp] { return pp->gate.open.load(); }, steward::never));
        pp->parks[1].store(ctx.thread_context().park_count());
        return {};
      },
      {"notified", {}});
  auto reader = p->submit(
      [pp](task_context& ctx) -> steward::result<void> {
        pp->entered.fetch_add(1);
        auto e = ctx.wait_readable(pp->fd, steward::never);
        if (!e) return steward::fail(e.error());
        pp->parks[2].store(ctx.thread_context().park_count());
        return {};
      },
      {"reader", {}});
  REQUIRE(sleeper.has_value());
  REQUIRE(waiter.has_value());
  REQUIRE(reader.has_value());
  REQUIRE(eventually([&] { return probe.entered.load() == 3; }));
  REQUIRE(p->pause(k_ack).has_value());
  // Everything a task waits for happens while it is parked; and a task queued now must not start.
  probe.stop_sleeping.store(true);
  probe.gate.release();
  pipe.write_one();
  auto late = p->submit([pp] { pp->late_started.store(true); }, {"late", {}});
  REQUIRE(late.has_value());
  for (int t = 0; t < 3; ++t)
    CHECK(p->thread_worker(static_cast<std::size_t>(t)).state() == steward::worker_state::paused);
  CHECK(p->counters().running == 3);
  CHECK(!probe.late_started.load());
  auto st = late->state();
  REQUIRE(st.has_value());
  CHECK(*st == task_state::queued);
  REQUIRE(p->resume().has_value());
  CHECK(outcome_of(*sleeper) == task_state::completed);
  CHECK(outcome_of(*waiter) == task_state::completed);
  CHECK(outcome_of(*reader) == task_state::completed);
  CHECK(outcome_of(*late) == task_state::completed);
  for (auto& parks : probe.parks) CHECK(parks.load() >= 1);  // each one parked inside its wait
  CHECK(p->counters().time_parked > steward::duration::zero());
}

TEST_CASE("pool: a pause timeout names the task that reaches no safe point" * doctest::timeout(60)) {
  auto p = started_pool<test_pool<2, 4>>();
  std::atomic<bool> spin{true};
  std::atomic<bool> spinning{false};
  std::atomic<bool>* s = &spin;
  std::atomic<bool>* sg = &spinning;
  auto h = p->submit(
      [s, sg] {
        sg->store(true);
        while (s->load()) std::this_thread::yield();  // no safe point
      },
      {"stubborn", {}});
  REQUIRE(h.has_value());
  REQUIRE(eventually([&] { return spinning.load(); }));
  auto paused = p->pause(std::chrono::milliseconds(20));
  REQUIRE(!paused.has_value());
  CHECK(paused.error().code == errc::timeout);
  REQUIRE(paused.error().subject != nullptr);
  CHECK(std::strcmp(paused.error().subject, "stubborn") == 0);
  CHECK(paused.error().value == static_cast<std::int32_t>(h->slot()));
  spin.store(false);
  REQUIRE(p->resume().has_value());  // withdraws the pending request
  CHECK(outcome_of(*h) == task_state::completed);
}

TEST_CASE("pool: shutdown(drain) while paused runs what is queued" * doctest::timeout(60)) {
  auto p = started_pool<test_pool<2, 16>>();
  REQUIRE(p->pause(k_ack).has_value());
  std::atomic<int> ran{0};
  std::atomic<int>* r = &ran;
  for (int i = 0; i < 10; ++i) REQUIRE(p->submit([r] { r->fetch_add(1); }).has_value());
  auto report = p->shutdown(steward::shutdown_mode::drain, k_ack);
  REQUIRE(report.has_value());
  CHECK(ran.load() == 10);
  CHECK(report->completed == 10);
  CHECK(report->cancelled == 0);
  CHECK(report->hung_threads == 0);
  CHECK(code_of(p->submit([] {})) == code(errc::stopping));
  CHECK(code_of(p->pause(k_ack)) == code(errc::stopping));
  auto again = p->shutdown(steward::shutdown_mode::cancel, k_ack);  // answers the same
  REQUIRE(again.has_value());
  CHECK(again->completed == 10);
}

TEST_CASE("pool: shutdown(cancel) while paused cancels the queue and stops parked tasks, each cleanup once" *
          doctest::timeout(60)) {
  auto p = started_pool<test_pool<2, 16>>();
  cancel_probe probe[2];
  cancel_probe* c0 = &probe[0];
  cancel_probe* c1 = &probe[1];
  auto a = p->submit([c0](task_context& ctx) { return waiting_task(ctx, c0, wait_kind::sleep); });
  auto b = p->submit([c1](task_context& ctx) { return waiting_task(ctx, c1, wait_kind::notifier); });
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  REQUIRE(eventually([&] { return probe[0].entered.load() == 1 && probe[1].entered.load() == 1; }));
  REQUIRE(p->pause(k_ack).has_value());
  std::atomic<int> ran{0};
  std::atomic<int>* r = &ran;
  for (int i = 0; i < 5; ++i) REQUIRE(p->submit([r] { r->fetch_add(1); }).has_value());
  auto report = p->shutdown(steward::shutdown_mode::cancel, k_ack);
  REQUIRE(report.has_value());
  CHECK(report->stopped == 2);
  CHECK(report->cancelled == 5);
  CHECK(report->completed == 0);
  CHECK(report->hung_threads == 0);
  CHECK(ran.load() == 0);
  CHECK(probe[0].released.load() == 1);
  CHECK(probe[1].released.load() == 1);
  CHECK(outcome_of(*a) == task_state::stopped);
  CHECK(outcome_of(*b) == task_state::stopped);
}

TEST_CASE("pool: control calls from a task on its own pool would deadlock and are refused" *
          doctest::timeout(60)) {
  using pool_t = test_pool<1, 4>;
  auto p = started_pool<pool_t>();
  std::atomic<int> pause_code{-2}, shutdown_code{-2};
  pool_t* self = p.get();
  std::atomic<int>* pc = &pause_code;
  std::atomic<int>* sc = &shutdown_code;
  auto h = p->submit([self, pc, sc] {
    pc->store(code_of(self->pause(std::chrono::seconds(1))));
    sc->store(code_of(self->shutdown(steward::shutdown_mode::drain, std::chrono::seconds(1))));
  });
  REQUIRE(h.has_value());
  CHECK(outcome_of(*h) == task_state::completed);
  CHECK(pause_code.load() == code(errc::would_deadlock));
  CHECK(shutdown_code.load() == code(errc::would_deadlock));
}

TEST_CASE("pool: no allocation after construction" * doctest::timeout(120)) {
  if (alloc_counting_mode() == 0) {
    MESSAGE("skipped: allocation counting is not active in this build");
    return;
  }
  auto p = started_pool<test_pool<2, 32>>();
  pipe_pair pipe;
  cancel_probe probe;
  probe.fd = pipe.fds[0];
  cancel_probe* c = &probe;
  std::atomic<int> ran{0};
  std::atomic<int>* r = &ran;
  // Warm up once (first use of each path), then count.
  REQUIRE(p->submit([r] { r->fetch_add(1); }).has_value());
  REQUIRE(p->pause(k_ack).has_value());
  REQUIRE(p->resume().has_value());
  alloc_scope scope;
  for (int round = 0; round < 200; ++round) {
    task_handle hs[8];
    for (auto& h : hs) {
      auto s = p->submit(
          [r](task_context& ctx) -> steward::result<void> {
            STEWARD_TRY(ctx.defer([r] { r->fetch_add(1); }));
            STEWARD_TRY(ctx.checkpoint());
            return ctx.sleep_for(std::chrono::microseconds(10));
          },
          {"counted", k_ack});
      REQUIRE(s.has_value());
      h = *s;
    }
    auto w = p->submit([c](task_context& ctx) { return waiting_task(ctx, c, wait_kind::fd); }, {"fd", k_ack});
    REQUIRE(w.has_value());
    static_cast<void>(hs[7].cancel());
    if (round % 20 == 0) {
      REQUIRE(p->pause(k_ack).has_value());
      REQUIRE(p->resume().has_value());
    }
    static_cast<void>(w->cancel());
    for (auto& h : hs) static_cast<void>(h.wait(k_ack));
    REQUIRE(w->wait(k_ack).has_value());
    static_cast<void>(p->counters());
  }
  auto report = p->shutdown(steward::shutdown_mode::cancel, k_ack);
  CHECK(scope.all_threads() == 0);
  REQUIRE(report.has_value());
  CHECK(report->completed + report->stopped + report->cancelled == 200U * 9U + 1U);
}

TEST_CASE(
    "pool: its threads are supervisor children - a subtree pause pauses the tasks, a restarted thread "
    "goes on with the queue" *
    doctest::timeout(60)) {
  using pool_t = test_pool<2, 16>;
  cancel_probe probe;                             // outlives the pool, whose threads wait on it
  auto p = std::make_unique<pool_t>("sup-pool");  // started by the tree, not by start()
  steward::supervisor_config cfg;
  cfg.name = "pool-sup";
  cfg.intensity = 5;
  steward::supervisor<2> sup(cfg);
  steward::supervision_tree<> tree(sup);
  const char* const ids[2] = {"pool-t0", "pool-t1"};
  for (std::size_t i = 0; i < 2; ++i) {
    steward::child_spec spec;
    spec.id = ids[i];
    spec.worker_slot = &p->thread_worker(i);
    spec.body = p->thread_body(i);
    spec.restart = steward::restart_type::transient;  // a thread returns for good after shutdown()
    spec.pool = p.get();                               // its counters go into the snapshot
    REQUIRE(sup.add_child(spec).has_value());
  }
  REQUIRE(tree.start().has_value());
  cancel_probe* c = &probe;
  auto h = p->submit([c](task_context& ctx) { return waiting_task(ctx, c, wait_kind::notifier); },
                     {"supervised", {}});
  REQUIRE(h.has_value());
  REQUIRE(eventually([&] { return probe.entered.load() == 1; }));
  REQUIRE(tree.pause(k_ack).has_value());
  CHECK(p->thread_worker(0).state() == steward::worker_state::paused);
  CHECK(p->thread_worker(1).state() == steward::worker_state::paused);
  auto st = h->state();
  REQUIRE(st.has_value());
  CHECK(*st == task_state::running);  // parked inside its wait
  REQUIRE(tree.resume().has_value());
  // The supervisor stops both threads (OTP terminate_child): the running task is stopped and its
  // cleanup runs once; restarted, the threads serve the queue again.
  for (const char* id : ids) CHECK(code_of(tree.terminate_child(sup, id)) == -1);
  CHECK(outcome_of(*h) == task_state::stopped);
  auto queued = p->submit([] {});  // waits in the queue while no thread runs
  REQUIRE(queued.has_value());
  for (const char* id : ids) CHECK(code_of(tree.restart_child(sup, id)) == -1);
  CHECK(outcome_of(*queued) == task_state::completed);
  CHECK(outcome_of(*h) == task_state::stopped);
  CHECK(probe.released.load() == 1);
  auto next = p->submit([] {});
  REQUIRE(next.has_value());
  CHECK(outcome_of(*next) == task_state::completed);
  // The tree's snapshot carries the pool's counters on each of its threads' records.
  steward::child_snapshot snap[2];
  auto n = tree.snapshot(snap, 2);
  REQUIRE(n.has_value());
  REQUIRE(*n == 2);
  for (const auto& rec : snap) {
    CHECK(rec.has_pool);
    CHECK(rec.pool.completed == 2);
    CHECK(rec.pool.stopped == 1);
    CHECK(rec.pool.failed == 0);
    CHECK(rec.pool.queued == 0);
    CHECK(rec.pool.running == 0);
    CHECK(rec.pool.submitted == 3);
  }
  char line[steward::k_control_reply_line_bytes];
  steward::format_child_line(snap[0], line, sizeof line);
  std::uint64_t completed = 0;
  CHECK(steward::control_number(line, "pool_completed", completed));
  CHECK(completed == 2);
  std::uint64_t stopped = 0;
  CHECK(steward::control_number(line, "pool_stopped", stopped));
  CHECK(stopped == 1);
  CHECK(std::string(line).back() == '\n');
  auto report = p->shutdown(steward::shutdown_mode::drain, k_ack);
  REQUIRE(report.has_value());
  CHECK(report->hung_threads == 0);
  CHECK(report->stopped == 1);
  CHECK(report->completed == 2);
  REQUIRE(tree.stop().has_value());
}
