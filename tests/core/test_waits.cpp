// Every steward wait (sleep, notifier, fd) wakes at once on stop, acknowledges a pause without
// the body's help, and goes on towards its original deadline after resume.
#include <fcntl.h>
#include <unistd.h>

#include "steward/platform/clock.hpp"
#include "test_support.hpp"

using namespace testutil;
using steward::errc;
using steward::exit_reason;
using steward::worker_state;

namespace {

struct wait_probe {
  std::atomic<int> entered{0};      // how many times the body entered the wait
  std::atomic<int> evaluations{0};  // notifier waits: how often the predicate was evaluated
  std::atomic<int> result{-2};      // code_of() of the wait's result (-1 = ok)
  std::atomic<std::uint32_t> parks{99};  // ctx.park_count() right after the wait returned
  std::atomic<bool> ready{false};
  steward::notifier note;
  bool notifier_wait{false};  // set by note_waiter(), before the worker starts
  int fd{-1};
};

struct pipe_pair {
  int fds[2]{-1, -1};
  pipe_pair() { REQUIRE(::pipe2(fds, O_CLOEXEC) == 0); }
  ~pipe_pair() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
};

steward::worker_config sleeper(wait_probe* p) {
  steward::worker_config cfg;
  cfg.name = "sleeper";
  cfg.body = [p](steward::worker_context& ctx) -> steward::result<void> {
    p->entered.fetch_add(1);
    auto r = ctx.sleep_for(std::chrono::hours(1));
    p->parks = ctx.park_count();
    p->result = code_of(r);
    return r;
  };
  return cfg;
}

// The predicate counts its evaluations: once it has returned false the worker is provably
// inside the wait (attached to the notifier, about to block or blocked).
steward::worker_config note_waiter(wait_probe* p) {
  steward::worker_config cfg;
  cfg.name = "note-waiter";
  p->notifier_wait = true;
  cfg.body = [p](steward::worker_context& ctx) -> steward::result<void> {
    p->entered.fetch_add(1);
    auto r = ctx.wait_until(
        p->note,
        [p] {
          const bool ready = p->ready.load();
          p->evaluations.fetch_add(1);
          return ready;
        },
        steward::never);
    p->parks = ctx.park_count();
    p->result = code_of(r);
    return r;
  };
  return cfg;
}

steward::worker_config fd_waiter(wait_probe* p) {
  steward::worker_config cfg;
  cfg.name = "fd-waiter";
  cfg.body = [p](steward::worker_context& ctx) -> steward::result<void> {
    p->entered.fetch_add(1);
    auto r = ctx.wait_readable(p->fd);
    p->parks = ctx.park_count();
    p->result = code_of(r);
    if (!r) return steward::fail(r.error());
    return {};
  };
  return cfg;
}

// Until the worker is inside its wait: for a notifier wait, until the predicate has been
// evaluated (false: `ready` is not set) after `after` evaluations; otherwise until the body has
// entered the wait call (no safe point lies between that line and the wait).
bool inside_wait(const wait_probe& p, int after = 0) {
  return eventually([&] { return p.entered.load() == 1; }) &&
         (!p.notifier_wait || eventually([&] { return p.evaluations.load() > after; }));
}

void stop_while_waiting(const steward::worker_config& cfg, wait_probe& p) {
  auto w = make_worker(cfg);
  CHECK(w->start());
  CHECK(inside_wait(p));
  auto report = w->stop(k_ack);  // a one-hour / forever wait: only the wake-up ends it
  CHECK(report);
  if (!report) return;
  CHECK(report->reason == exit_reason::stopped);
  CHECK(p.result == code(errc::stop_requested));
}

// Pause inside the wait, check the acknowledgement, resume, then let the wait finish.
// `finish` ends the wait; `rewait` (after the resume) returns once the worker is inside the
// same wait again, so that `finish` provably reaches a waiting worker.
template <class Rewait, class Finish>
void pause_inside_wait(const steward::worker_config& cfg, wait_probe& p, Rewait rewait, Finish finish) {
  auto w = make_worker(cfg);
  CHECK(w->start());
  CHECK(inside_wait(p));
  const bool paused = static_cast<bool>(w->pause(k_ack));  // no body cooperation
  CHECK(paused);
  if (!paused) return;
  CHECK(w->state() == worker_state::paused);
  CHECK(p.result == -2);  // acknowledged inside the wait: it has not returned
  CHECK(w->resume());
  CHECK(rewait());
  CHECK(p.result == -2);  // still waiting after resume
  finish();
  CHECK(eventually([&] { return w->state() == worker_state::stopped; }));
  CHECK(p.result == -1);
  CHECK(p.parks == 1);  // the pause parked inside this wait, once
  auto report = w->stop(k_ack);
  CHECK(report);
  if (report) CHECK(report->reason == exit_reason::returned);
}

}  // namespace

TEST_CASE("waits: stop wakes a sleeping worker at once" * doctest::timeout(60)) {
  wait_probe p;
  stop_while_waiting(sleeper(&p), p);
}

TEST_CASE("waits: stop wakes a worker waiting on a notifier" * doctest::timeout(60)) {
  wait_probe p;
  stop_while_waiting(note_waiter(&p), p);
}

TEST_CASE("waits: stop wakes a worker blocked waiting for an fd" * doctest::timeout(60)) {
  wait_probe p;
  pipe_pair pipe;
  p.fd = pipe.fds[0];
  stop_while_waiting(fd_waiter(&p), p);
}

TEST_CASE("waits: stop wakes a paused worker that was sleeping" * doctest::timeout(60)) {
  wait_probe p;
  auto w = make_worker(sleeper(&p));
  CHECK(w->start());
  CHECK(inside_wait(p));
  CHECK(w->pause(k_ack));
  auto report = w->stop(k_ack);
  CHECK(report);
  if (!report) return;
  CHECK(report->reason == exit_reason::stopped);
  CHECK(p.result == code(errc::stop_requested));
  CHECK(p.parks == 1);  // it was parked inside the sleep when the stop came
}

TEST_CASE("waits: a pause inside sleep is acknowledged, and after resume the sleep keeps its deadline" *
          doctest::timeout(60)) {
  // The manual clock makes the deadline a logical step: the sleep's deadline is exactly
  // t0 + 1 h, and time moves only when the test says so. A sleep that restarted its full
  // hour (or its remaining time) after a resume would need manual time that never comes.
  manual_clock clock;
  CHECK(clock.installed());
  if (!clock.installed()) return;
  const auto t0 = manual_clock::now();
  static constexpr auto k_half = std::chrono::minutes(30);
  static constexpr auto k_sleep = 2 * k_half;
  struct probe {
    std::atomic<int> result{-2};  // code_of() of the sleep (-1 = ok)
    std::atomic<std::uint32_t> parks_before{99}, parks_after{99};
    std::atomic<std::int64_t> returned_at{0};
  } p;
  steward::worker_config cfg;
  cfg.name = "timed-sleeper";
  auto* pr = &p;
  cfg.body = [pr](steward::worker_context& ctx) -> steward::result<void> {
    pr->parks_before = ctx.park_count();
    auto r = ctx.sleep_for(k_sleep);
    pr->returned_at = manual_clock::now().time_since_epoch().count();
    pr->parks_after = ctx.park_count();
    pr->result = code_of(r);
    return r;
  };
  auto w = make_worker(cfg);
  CHECK(w->start());
  // (a) The worker waits for its deadline, t0 + 1 h: the pause is acknowledged inside the sleep.
  CHECK(clock.waited_for(t0 + k_sleep));
  const bool paused = static_cast<bool>(w->pause(k_ack));
  CHECK(paused);
  if (!paused) return;
  CHECK(w->state() == worker_state::paused);
  CHECK(p.result == -2);  // the sleep has not returned
  clock.advance(k_half);  // half the sleep passes while it is paused
  CHECK(w->resume());
  // (b) After the resume the same sleep waits for its original deadline again (a restarted
  // sleep would wait for t0 + 1.5 h, one that forgot it would have returned).
  CHECK(clock.waited_for(t0 + k_sleep));
  CHECK(p.result == -2);
  // A second pause, and the deadline passes while the worker is parked.
  const bool paused_again = static_cast<bool>(w->pause(k_ack));
  CHECK(paused_again);
  if (!paused_again) return;
  CHECK(p.result == -2);
  clock.advance(k_half);  // now exactly the original deadline, t0 + 1 h
  CHECK(p.result == -2);  // parked: nothing returns while paused
  CHECK(w->resume());
  // (b) the deadline passed while paused, so the sleep ends at once after the resume.
  CHECK(eventually([&] { return w->state() == worker_state::stopped; }));
  CHECK(p.result == -1);  // a sleep ends in success, not an error
  CHECK(p.returned_at.load() == (t0 + k_sleep).time_since_epoch().count());
  CHECK(p.parks_before == 0);
  CHECK(p.parks_after == 2);  // both pauses parked inside this one sleep
  auto report = w->stop(k_ack);
  CHECK(report);
  if (report) CHECK(report->reason == exit_reason::returned);
}

TEST_CASE("waits: a pause inside a notifier wait is acknowledged, the wait resumes" * doctest::timeout(60)) {
  wait_probe p;
  pause_inside_wait(
      note_waiter(&p), p,
      [&] {
        // A notify with the predicate still false must make the resumed worker evaluate it
        // again: then it is provably back inside the wait, and the next notify must reach it.
        const int before = p.evaluations.load();
        p.note.notify_all();
        return inside_wait(p, before);
      },
      [&] {
        p.ready = true;
        p.note.notify_all();
      });
}

TEST_CASE("waits: a pause inside an fd wait is acknowledged, the wait resumes" * doctest::timeout(60)) {
  wait_probe p;
  pipe_pair pipe;
  p.fd = pipe.fds[0];
  pause_inside_wait(
      fd_waiter(&p), p, [] { return true; },  // a blocked ppoll() cannot be observed
      [&] {
        const char byte = 'x';
        CHECK(::write(pipe.fds[1], &byte, 1) == 1);
      });
}

TEST_CASE("waits: notifier wait returns when the predicate holds, and times out otherwise" *
          doctest::timeout(60)) {
  struct probe {
    steward::notifier note;
    std::atomic<int> value{0};
    std::atomic<int> last_seen{-1};  // the value the predicate saw when last evaluated
    std::atomic<int> first{-2}, second{-2};
  } p;
  steward::worker_config cfg;
  auto* pr = &p;
  cfg.body = [pr](steward::worker_context& ctx) -> steward::result<void> {
    pr->first = code_of(ctx.wait_for(
        pr->note,
        [pr] {
          const int v = pr->value.load();
          pr->last_seen = v;
          return v == 3;
        },
        std::chrono::hours(1)));
    pr->second = code_of(ctx.wait_for(
        pr->note, [] { return false; }, std::chrono::milliseconds(1)));
    return {};
  };
  auto w = make_worker(cfg);
  CHECK(w->start());
  for (int i = 1; i <= 3; ++i) {
    // The worker has evaluated the predicate on the previous value (false): it is waiting,
    // so only this notify can make it see the new value.
    const bool waiting = eventually([&] { return p.last_seen.load() == i - 1; });
    CHECK(waiting);
    if (!waiting) return;
    CHECK(p.first == -2);  // a false predicate does not end the wait
    p.value = i;
    p.note.notify_all();
  }
  CHECK(eventually([&] { return w->state() == worker_state::stopped; }));
  CHECK(p.last_seen == 3);
  CHECK(p.first == -1);
  CHECK(p.second == code(errc::timeout));
}

TEST_CASE("waits: fd wait reports readiness, timeout and a bad descriptor" * doctest::timeout(60)) {
  struct probe {
    int fd_read{-1};
    std::atomic<int> ready{-2}, timed{-2}, bad{-2};
    std::atomic<bool> readable{false};
  } p;
  pipe_pair pipe;
  p.fd_read = pipe.fds[0];
  const char byte = 'x';
  REQUIRE(::write(pipe.fds[1], &byte, 1) == 1);
  steward::worker_config cfg;
  auto* pr = &p;
  cfg.body = [pr](steward::worker_context& ctx) -> steward::result<void> {
    auto r = ctx.wait_readable(pr->fd_read);
    pr->ready = code_of(r);
    pr->readable = r && r->readable;
    char c = 0;
    if (::read(pr->fd_read, &c, 1) != 1) return steward::fail(errc::io_error);
    auto soon = steward::platform::deadline_after(std::chrono::milliseconds(1));
    if (!soon) return steward::fail(soon.error());
    pr->timed = code_of(ctx.wait_readable(pr->fd_read, *soon));
    pr->bad = code_of(ctx.wait_readable(-1));
    return {};
  };
  auto w = make_worker(cfg);
  REQUIRE(w->start());
  REQUIRE(w->join(k_ack));
  CHECK(w->state() == worker_state::stopped);
  CHECK(p.ready == -1);
  CHECK(p.readable);
  CHECK(p.timed == code(errc::timeout));
  CHECK(p.bad == code(errc::io_error));
}

TEST_CASE("waits: no notification is lost between a producer and a waiting worker" * doctest::timeout(120)) {
  struct queue {
    steward::notifier note;
    std::atomic<int> produced{0};
    std::atomic<int> consumed{0};
  } q;
  constexpr int k_items = 20000;
  steward::worker_config cfg;
  cfg.name = "consumer";
  auto* qp = &q;
  cfg.body = [qp](steward::worker_context& ctx) -> steward::result<void> {
    while (qp->consumed.load() < k_items) {
      const int seen = qp->consumed.load();
      STEWARD_TRY(ctx.wait_until(
          qp->note, [qp, seen] { return qp->produced.load() > seen; }, steward::never));
      qp->consumed.fetch_add(1);
    }
    return {};
  };
  auto w = make_worker(cfg);
  REQUIRE(w->start());
  xorshift rng(7);
  for (int i = 0; i < k_items; ++i) {
    while (q.produced.load() - q.consumed.load() > 4) std::this_thread::yield();
    q.produced.fetch_add(1);
    q.note.notify_all();
    rng.jitter();
  }
  REQUIRE(w->join(k_ack));
  CHECK(w->state() == worker_state::stopped);
  CHECK(q.consumed == k_items);
}
