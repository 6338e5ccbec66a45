// The liveness watchdog (issue 12, item 1): the monitor's rules on synthetic samples, and a tree
// that reports or fails a silent child, on the manual clock - each step is reached by
// advancing time and waiting for the runner's acknowledgement (it waits for its next deadline),
// never by sleeping. Seeded mutants, each caught here: a monitor without its period (the slot
// never armed) fails the tree cases; a watchdog that never emits child_unresponsive fails the
// report, fail and quarantine cases.
#include <string>
#include <thread>

#include "steward/core/liveness.hpp"
#include "steward/supervisors/service_notifier.hpp"
#include "supervisor_kit.hpp"

using namespace testutil;
using steward::liveness_monitor;
using steward::liveness_sample;
using steward::liveness_verdict;
using steward::tree_event_kind;
using steward::worker_state;

namespace {
constexpr auto k_period = std::chrono::seconds(1);
const steward::time_point k_t0{std::chrono::hours(1)};

liveness_sample running_sample(std::uint32_t beats, bool blocked = false, std::uint32_t gen = 1) {
  liveness_sample s;
  s.generation = gen;
  s.beats = beats;
  s.state = worker_state::running;
  s.blocked = blocked;
  return s;
}
}  // namespace

TEST_CASE("liveness monitor: silence for a whole period is reported once, progress clears it") {
  liveness_monitor m(k_period);
  CHECK(m.due() == steward::time_point{});  // never seen: sample now
  CHECK(m.observe(running_sample(5), k_t0) == liveness_verdict::alive);
  CHECK(m.due() == k_t0 + k_period);
  CHECK(m.observe(running_sample(5), k_t0 + k_period / 2) == liveness_verdict::silent);
  CHECK(m.observe(running_sample(5), k_t0 + k_period) == liveness_verdict::newly_unresponsive);
  CHECK(m.silent_for(k_t0 + k_period) == k_period);
  CHECK(m.unresponsive());
  CHECK(m.due() == k_t0 + 2 * k_period);  // reported: looked at once a period, to see it recover
  CHECK(m.observe(running_sample(5), k_t0 + 5 * k_period) == liveness_verdict::still_unresponsive);
  CHECK(m.due() == k_t0 + 6 * k_period);
  CHECK(m.observe(running_sample(6), k_t0 + 6 * k_period) == liveness_verdict::alive);  // a beat
  CHECK_FALSE(m.unresponsive());
  CHECK(m.due() == k_t0 + 7 * k_period);
}

TEST_CASE("liveness monitor: waits, pauses, other states and a new incarnation count as alive") {
  liveness_monitor m(k_period);
  REQUIRE(m.observe(running_sample(1), k_t0) == liveness_verdict::alive);
  CHECK(m.observe(running_sample(1, true), k_t0 + 2 * k_period) == liveness_verdict::alive);  // blocked
  liveness_sample paused = running_sample(1);
  paused.state = worker_state::paused;
  CHECK(m.observe(paused, k_t0 + 4 * k_period) == liveness_verdict::alive);
  liveness_sample stopping = running_sample(1);
  stopping.state = worker_state::stopping;
  CHECK(m.observe(stopping, k_t0 + 6 * k_period) == liveness_verdict::alive);
  CHECK(m.observe(running_sample(1, false, 2), k_t0 + 8 * k_period) == liveness_verdict::alive);  // new gen
  liveness_sample pausing = running_sample(1, false, 2);
  pausing.state = worker_state::pausing;  // still running body code: judged
  CHECK(m.observe(pausing, k_t0 + 9 * k_period) == liveness_verdict::newly_unresponsive);
}

TEST_CASE("liveness monitor: leaving a wait or a park without a beat starts a new period") {
  liveness_monitor m(k_period);
  REQUIRE(m.observe(running_sample(3, true), k_t0) == liveness_verdict::alive);  // blocked
  // Left the wait at some moment since, and runs: not silent for a whole period yet.
  CHECK(m.observe(running_sample(3), k_t0 + 2 * k_period) == liveness_verdict::alive);
  CHECK(m.observe(running_sample(3), k_t0 + 2 * k_period + k_period / 2) == liveness_verdict::silent);
  CHECK(m.observe(running_sample(3), k_t0 + 3 * k_period) == liveness_verdict::newly_unresponsive);
  liveness_sample paused = running_sample(3);
  paused.state = worker_state::paused;
  CHECK(m.observe(paused, k_t0 + 4 * k_period) == liveness_verdict::alive);
  CHECK(m.observe(running_sample(3), k_t0 + 6 * k_period) == liveness_verdict::alive);  // resumed
}

TEST_CASE("liveness monitor: a zero period watches nothing") {
  liveness_monitor m;
  CHECK_FALSE(m.enabled());
  CHECK(m.observe(running_sample(1), k_t0) == liveness_verdict::alive);
  CHECK(m.observe(running_sample(1), k_t0 + std::chrono::hours(100)) == liveness_verdict::alive);
  CHECK(m.due() == steward::never);
}

TEST_CASE("liveness: heartbeat() and every steward wait move the worker's beat count") {
  std::atomic<int> step{0};
  steward::notifier note;
  steward::worker_config cfg;
  cfg.name = "beater";
  cfg.body = [&](steward::worker_context& ctx) -> steward::result<void> {
    ctx.heartbeat();
    step = 1;
    STEWARD_TRY(ctx.wait_until(note, [&] { return step.load() == 2; }, steward::never));
    return {};
  };
  auto w = make_worker(cfg);
  const auto before = w->liveness().beats;
  REQUIRE(w->start());
  REQUIRE(eventually([&] { return w->liveness().blocked; }));  // in the wait: counted as alive
  const auto in_wait = w->liveness();
  CHECK(in_wait.beats >= before + 2);  // the heartbeat and the wait's entry
  CHECK(in_wait.state == worker_state::running);
  step = 2;
  note.notify_all();
  REQUIRE(w->join(std::chrono::seconds(20)));
  CHECK_FALSE(w->liveness().blocked);
}

namespace {
// A tree with one watched child whose body stays silent (no beat, no wait) until told.
struct silent_fixture {
  std::atomic<int> beat_requests{0};
  std::atomic<int> beats_done{0};
  std::atomic<bool> release{false};
  std::atomic<bool> obey_stop{true};
  std::atomic<int> incarnations{0};
  std::unique_ptr<test_worker> workers[2] = {std::make_unique<test_worker>(), std::make_unique<test_worker>()};
  test_worker* worker = workers[0].get();
  int children;
  event_log events;
  steward::supervisor<2> root;
  std::unique_ptr<test_tree> tree;

  explicit silent_fixture(steward::liveness_action action, int n = 1) : children(n) {
    steward::supervisor_config cfg;
    cfg.name = "root";
    cfg.intensity = 5;
    REQUIRE(root.configure(cfg));
    for (int i = 0; i < n; ++i) add(action, i);
    tree = std::make_unique<test_tree>(root);
    REQUIRE(tree->set_event_hook(&event_log::hook, &events));
  }
  void add(steward::liveness_action action, int i) {
    steward::child_spec s;
    s.id = kit::k_ids[i];
    s.worker_slot = workers[i].get();
    s.restart = steward::restart_type::permanent;
    s.shutdown = std::chrono::seconds(3);
    s.liveness = k_period;
    s.on_unresponsive = action;
    silent_fixture* self = this;
    s.body = [self](steward::worker_context& ctx) -> steward::result<void> {
      ctx.declare_initialised();
      self->incarnations.fetch_add(1);
      while (!self->release.load()) {
        if (self->obey_stop.load() && ctx.should_stop()) return {};
        if (self->beat_requests.load() != self->beats_done.load()) {
          ctx.heartbeat();
          self->beats_done.fetch_add(1);
        }
        std::this_thread::yield();
      }
      return {};
    };
    REQUIRE(root.add_child(s));
  }
  ~silent_fixture() {
    release = true;
    if (tree) static_cast<void>(tree->stop());
  }
  // The runner has sampled and now sleeps until `deadline` (its next check).
  static void runner_waits_for(steward::time_point deadline) { REQUIRE(manual_clock::waited_for(deadline)); }
  void beat_once() {
    beat_requests.fetch_add(1);
    REQUIRE(eventually([&] { return beats_done.load() == beat_requests.load(); }));
  }
  bool snapshot_unresponsive(int i = 0) const {
    steward::child_snapshot snap[2];
    auto n = tree->snapshot(snap, 2);
    REQUIRE(n);
    REQUIRE(*n == static_cast<std::size_t>(children));
    return snap[i].unresponsive;
  }
};
}  // namespace

TEST_CASE("liveness: a silent child is reported once, and a heartbeat keeps it alive and clears it" *
          doctest::timeout(60)) {
  manual_clock clock;
  REQUIRE(clock.installed());
  silent_fixture f(steward::liveness_action::report);
  const auto t0 = manual_clock::now();
  REQUIRE(f.tree->start());
  f.runner_waits_for(t0 + k_period);
  f.beat_once();  // progress within the first period
  manual_clock::advance(k_period);
  f.runner_waits_for(t0 + 2 * k_period);  // alive: the next check one period on
  CHECK(f.events.count(tree_event_kind::child_unresponsive) == 0);
  manual_clock::advance(k_period);  // a whole period without progress
  REQUIRE(eventually([&] { return f.events.count(tree_event_kind::child_unresponsive) == 1; }));
  const int at = f.events.index_of(tree_event_kind::child_unresponsive);
  CHECK(f.events.child[at].load() == 0);
  CHECK(f.snapshot_unresponsive());
  steward::child_snapshot snap[2];
  auto n = f.tree->snapshot(snap, 2);
  REQUIRE(n);
  const auto health = steward::summarise(f.tree->state(), snap, *n);
  CHECK(health.unresponsive == 1);
  CHECK_FALSE(health.healthy);  // systemd's watchdog is not fed for it
  // Reported only: the child keeps running, nothing restarts; silence goes on unreported.
  CHECK(f.events.count(tree_event_kind::child_failed) == 0);
  CHECK(f.incarnations.load() == 1);
  f.runner_waits_for(t0 + 3 * k_period);  // still silent: looked at again one period on
  CHECK(f.events.count(tree_event_kind::child_unresponsive) == 1);  // reported once per silence
  // Progress again: healthy at the runner's next look.
  f.beat_once();
  manual_clock::advance(k_period);
  f.runner_waits_for(t0 + 4 * k_period);
  CHECK_FALSE(f.snapshot_unresponsive());
  CHECK(f.events.count(tree_event_kind::child_unresponsive) == 1);
}

TEST_CASE("liveness: a child blocked in a steward wait is never unresponsive" * doctest::timeout(60)) {
  manual_clock clock;
  REQUIRE(clock.installed());
  std::unique_ptr<test_worker> worker = std::make_unique<test_worker>();
  event_log events;
  steward::supervisor<2> root;
  steward::supervisor_config cfg;
  cfg.name = "root";
  REQUIRE(root.configure(cfg));
  steward::child_spec s;
  s.id = "c0";
  s.worker_slot = worker.get();
  s.liveness = k_period;
  s.on_unresponsive = steward::liveness_action::fail;
  s.body = [](steward::worker_context& ctx) -> steward::result<void> { return ctx.sleep_for(std::chrono::hours(24)); };
  REQUIRE(root.add_child(s));
  test_tree tree(root);
  REQUIRE(tree.set_event_hook(&event_log::hook, &events));
  REQUIRE(tree.start());
  REQUIRE(eventually([&] { return worker->liveness().blocked; }));
  const auto t0 = manual_clock::now();
  for (int i = 1; i <= 5; ++i) {
    manual_clock::advance(k_period);
    REQUIRE(manual_clock::waited_for(t0 + (i + 1) * k_period));  // sampled: alive, next check
  }
  CHECK(events.count(tree_event_kind::child_unresponsive) == 0);
  CHECK(tree.stop());
}

TEST_CASE("liveness: `fail` stops a silent child and restarts it under its restart type" *
          doctest::timeout(60)) {
  manual_clock clock;
  REQUIRE(clock.installed());
  silent_fixture f(steward::liveness_action::fail);
  const auto t0 = manual_clock::now();
  REQUIRE(f.tree->start());
  const auto gen = f.worker->generation();
  f.runner_waits_for(t0 + k_period);
  manual_clock::advance(k_period);
  REQUIRE(eventually([&] { return f.events.count(tree_event_kind::child_restarted) == 1; }));
  const int unresponsive = f.events.index_of(tree_event_kind::child_unresponsive);
  const int failed = f.events.index_of(tree_event_kind::child_failed);
  const int restarted = f.events.index_of(tree_event_kind::child_restarted);
  CHECK(unresponsive >= 0);
  CHECK(unresponsive < failed);
  CHECK(failed < restarted);
  CHECK(f.worker->generation() == gen + 1);
  REQUIRE(eventually([&] { return f.incarnations.load() == 2; }));
  CHECK_FALSE(f.snapshot_unresponsive());
  steward::child_snapshot snap[2];
  auto n = f.tree->snapshot(snap, 2);
  REQUIRE(n);
  CHECK(snap[0].last_error.code == steward::errc::unresponsive);
  CHECK(snap[0].last_error.value == 1000);  // milliseconds of silence
  CHECK(snap[0].restarts == 1);
}

TEST_CASE("liveness: `fail` quarantines a silent child that also ignores its stop" * doctest::timeout(60)) {
  manual_clock clock;
  REQUIRE(clock.installed());
  silent_fixture f(steward::liveness_action::fail);
  f.obey_stop = false;
  const auto t0 = manual_clock::now();
  REQUIRE(f.tree->start());
  f.runner_waits_for(t0 + k_period);
  manual_clock::advance(k_period);
  // The runner now waits for the stop, up to the child's shutdown deadline.
  REQUIRE(manual_clock::waited_for(t0 + k_period + std::chrono::seconds(3)));
  CHECK(f.events.count(tree_event_kind::child_unresponsive) == 1);
  manual_clock::advance(std::chrono::seconds(3));
  REQUIRE(eventually([&] { return f.events.count(tree_event_kind::child_hung) == 1; }));
  CHECK(f.events.count(tree_event_kind::child_restarted) == 0);
  steward::child_snapshot snap[2];
  auto n = f.tree->snapshot(snap, 2);
  REQUIRE(n);
  CHECK(snap[0].quarantined);
  CHECK_FALSE(snap[0].unresponsive);  // counted as hung now
  // When it does end, it leaves quarantine as a failure and its restart type applies.
  f.release = true;  // (later incarnations return at once: restarts go on until the intensity)
  REQUIRE(eventually([&] { return f.events.count(tree_event_kind::child_restarted) >= 1; }));
  const int failed = f.events.index_of(tree_event_kind::child_failed);
  CHECK(f.events.index_of(tree_event_kind::child_hung) < failed);
  CHECK(failed < f.events.index_of(tree_event_kind::child_restarted));
  // The restart is reported once the new incarnation is initialised, before its body counts itself.
  CHECK(eventually([&] { return f.incarnations.load() >= 2; }));
}

TEST_CASE("liveness: `fail` never makes the runner wait for one child while another is silent" *
          doctest::timeout(60)) {
  manual_clock clock;
  REQUIRE(clock.installed());
  silent_fixture f(steward::liveness_action::fail, 2);
  f.obey_stop = false;  // neither stops: a runner that waited for the first would not see the second
  const auto t0 = manual_clock::now();
  REQUIRE(f.tree->start());
  f.runner_waits_for(t0 + k_period);
  manual_clock::advance(k_period);
  // Both reported at the same instant, and the runner waits for their common stop deadline.
  REQUIRE(manual_clock::waited_for(t0 + k_period + std::chrono::seconds(3)));
  CHECK(f.events.count(tree_event_kind::child_unresponsive) == 2);
  manual_clock::advance(std::chrono::seconds(3));
  REQUIRE(eventually([&] { return f.events.count(tree_event_kind::child_hung) == 2; }));
}

TEST_CASE("liveness: a child stopped by the tree is no longer counted unresponsive" * doctest::timeout(60)) {
  manual_clock clock;
  REQUIRE(clock.installed());
  silent_fixture f(steward::liveness_action::report, 2);
  const auto t0 = manual_clock::now();
  REQUIRE(f.tree->start());
  f.runner_waits_for(t0 + k_period);
  manual_clock::advance(k_period);
  REQUIRE(eventually([&] { return f.events.count(tree_event_kind::child_unresponsive) == 2; }));
  REQUIRE(f.tree->terminate_child(f.root, "c1"));
  CHECK(f.snapshot_unresponsive(0));
  CHECK_FALSE(f.snapshot_unresponsive(1));
  REQUIRE(f.tree->stop());
  CHECK_FALSE(f.snapshot_unresponsive(0));
  steward::child_snapshot snap[2];
  auto n = f.tree->snapshot(snap, 2);
  REQUIRE(n);
  CHECK(steward::summarise(steward::tree_state::running, snap, *n).unresponsive == 0);
}

TEST_CASE("liveness: the STATUS line names unresponsive children only when there are some") {
  steward::child_snapshot records[2];
  records[0].state = worker_state::running;
  records[1].state = worker_state::running;
  records[1].unresponsive = true;
  auto h = steward::summarise(steward::tree_state::running, records, 2);
  char line[128];
  steward::format_status(h, line, sizeof line);
  CHECK(std::string(line) == "running: 2 running, 0 paused, 0 restarting, 0 failed, 0 hung, 1 unresponsive");
  records[1].unresponsive = false;
  h = steward::summarise(steward::tree_state::running, records, 2);
  CHECK(h.healthy);
  steward::format_status(h, line, sizeof line);
  CHECK(std::string(line) == "running: 2 running, 0 paused, 0 restarting, 0 failed, 0 hung");
}
