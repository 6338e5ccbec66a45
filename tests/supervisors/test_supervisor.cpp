// Supervisor conformance, derived from the categories of Erlang/OTP's supervisor_SUITE:
// restart types, strategies, start/stop order, failed starts with rollback, intensity,
// escalation through nesting, shutdown timeouts and hung children, management calls,
// auto-shutdown, plus steward's own: backoff, acknowledged subtree pause, snapshots.
#include "supervisor_kit.hpp"

using namespace testutil;
using steward::errc;
using steward::restart_type;
using steward::strategy;
using steward::tree_event_kind;
using steward::tree_state;
using steward::worker_state;

namespace {
bool running(const kit& k, int i) {
  return k.workers[i]->state() == worker_state::running;
}
}  // namespace

// ------------------------------------------------------------------ start, stop, order

TEST_CASE("sup: children start in order and stop in reverse order" * doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one);
  for (int i = 0; i < 4; ++i) f.add(i);
  REQUIRE(f.tree->start());
  int order[8];
  REQUIRE(f.events.children_of(tree_event_kind::child_started, order, 8) == 4);
  for (int i = 0; i < 4; ++i) CHECK(order[i] == i);
  REQUIRE(eventually([&] { return f.k.trace_done.load() == 4; }));
  CHECK(f.tree->state() == tree_state::running);
  REQUIRE(f.tree->stop());
  REQUIRE(f.k.trace_done.load() == 8);
  for (int i = 0; i < 4; ++i) CHECK(f.k.trace[4 + i] == -(4 - i));  // cleanups, in reverse
  CHECK(f.tree->state() == tree_state::stopped);
}

TEST_CASE("sup: a child that fails to start stops the started ones in reverse, the rest never start" *
          doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one);
  f.add(0);
  f.add(1);
  f.add(2);
  auto bad = f.k.spec(3);
  bad.thread.policy = steward::platform::sched_policy::fifo;
  bad.thread.priority = 1000;  // refused by the platform at start
  REQUIRE(f.root.add_child(bad));
  f.add(4);
  auto started = f.tree->start();
  REQUIRE_FALSE(started);
  CHECK(started.error() == errc::invalid_argument);
  CHECK(std::string(started.error().subject) == "c3");
  for (int i = 0; i < 3; ++i) CHECK(f.k.ctl[i].releases == f.k.ctl[i].starts.load());
  CHECK(f.k.starts(4) == 0);
  CHECK(f.tree->state() == tree_state::idle);
}

TEST_CASE("sup: the whole spec is validated before anything starts" * doctest::timeout(60)) {
  kit k;
  steward::supervisor<4> root;
  auto dup = k.spec(0);
  REQUIRE(root.add_child(dup));
  CHECK(code_of(root.add_child(dup)) == code(errc::invalid_argument));  // duplicate id
  auto no_body = k.spec(1);
  no_body.body = steward::worker_body{};
  CHECK(code_of(root.add_child(no_body)) == code(errc::invalid_argument));
  auto both = k.spec(1);
  both.supervisor = &root;
  CHECK(code_of(root.add_child(both)) == code(errc::invalid_argument));
  auto significant_permanent = k.spec(1);
  significant_permanent.significant = true;
  CHECK(code_of(root.add_child(significant_permanent)) == code(errc::invalid_argument));
  auto zero_shutdown = k.spec(1);
  zero_shutdown.shutdown = steward::duration::zero();
  CHECK(code_of(root.add_child(zero_shutdown)) == code(errc::invalid_argument));
  steward::supervisor_config too_intense;
  too_intense.intensity = 1000;
  CHECK(code_of(root.configure(too_intense)) == code(errc::invalid_argument));
  auto same_worker = k.spec(1);
  same_worker.worker_slot = k.workers[0].get();  // c1 would run on c0's slot
  REQUIRE(root.add_child(same_worker));
  auto tree = std::make_unique<test_tree>(root);
  auto started = tree->start();
  REQUIRE_FALSE(started);
  CHECK(started.error() == errc::invalid_argument);
  CHECK(k.starts(0) == 0);  // nothing started
}

TEST_CASE("sup: adding past capacity is refused" * doctest::timeout(60)) {
  kit k;
  steward::supervisor<2> root;
  REQUIRE(root.add_child(k.spec(0)));
  REQUIRE(root.add_child(k.spec(1)));
  auto third = root.add_child(k.spec(2));
  CHECK(code_of(third) == code(errc::capacity_exceeded));
}

TEST_CASE("sup: a child stack below the platform minimum is refused at validation" * doctest::timeout(60)) {
  kit k;
  auto tiny = std::make_unique<steward::static_worker<4096, 2>>();
  steward::supervisor<2> root;
  auto s = k.spec(0);
  s.worker_slot = tiny.get();
  REQUIRE(root.add_child(s));
  auto tree = std::make_unique<test_tree>(root);
  auto started = tree->start();
  CHECK(code_of(started) == code(errc::stack_too_small));
}

TEST_CASE("sup: start twice is refused, stop is idempotent" * doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one);
  f.add(0);
  REQUIRE(f.tree->start());
  CHECK(code_of(f.tree->start()) == code(errc::already_running));
  REQUIRE(f.tree->stop());
  CHECK(f.tree->stop());
  CHECK(f.k.ctl[0].releases == 1);
}

// ------------------------------------------------------------------ restart types

namespace {
void exit_and_expect(restart_type type, int how, bool restarted) {
  tree_fixture f(strategy::one_for_one);
  f.add(0, type);
  f.add(1);
  REQUIRE(f.tree->start());
  REQUIRE(eventually([&] { return f.k.starts(0) == 1 && running(f.k, 0); }));
  f.k.command(0, how);
  if (restarted) {
    REQUIRE(eventually([&] { return f.events.count(tree_event_kind::child_restarted) == 1; }));
    REQUIRE(eventually([&] { return f.k.starts(0) == 2; }));  // the body runs just after the event
  } else {
    REQUIRE(eventually([&] {
      return f.events.count(tree_event_kind::child_exited) + f.events.count(tree_event_kind::child_failed) ==
             1;
    }));
    CHECK(f.k.starts(0) == 1);
    CHECK(f.events.count(tree_event_kind::child_restarted) == 0);
  }
  CHECK(f.k.starts(1) == 1);  // the sibling was not touched
  REQUIRE(f.tree->stop());
  CHECK(f.k.ctl[0].releases == f.k.starts(0));
}
}  // namespace

TEST_CASE("sup: permanent child is restarted after a normal return" * doctest::timeout(60)) {
  exit_and_expect(restart_type::permanent, return_ok, true);
}
TEST_CASE("sup: permanent child is restarted after an error" * doctest::timeout(60)) {
  exit_and_expect(restart_type::permanent, return_error, true);
}
#if STEWARD_USING_EXCEPTIONS
TEST_CASE("sup: permanent child is restarted after an exception" * doctest::timeout(60)) {
  exit_and_expect(restart_type::permanent, throw_up, true);
}
TEST_CASE("sup: transient child is restarted after an exception" * doctest::timeout(60)) {
  exit_and_expect(restart_type::transient, throw_up, true);
}
#endif
TEST_CASE("sup: transient child is not restarted after a normal return" * doctest::timeout(60)) {
  exit_and_expect(restart_type::transient, return_ok, false);
}
TEST_CASE("sup: transient child is restarted after an error" * doctest::timeout(60)) {
  exit_and_expect(restart_type::transient, return_error, true);
}
TEST_CASE("sup: temporary child is never restarted after an error" * doctest::timeout(60)) {
  exit_and_expect(restart_type::temporary, return_error, false);
}
TEST_CASE("sup: temporary child is never restarted after a normal return" * doctest::timeout(60)) {
  exit_and_expect(restart_type::temporary, return_ok, false);
}

TEST_CASE("sup: a temporary child's spec is removed when it exits" * doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one);
  f.add(0, restart_type::temporary);
  f.add(1);
  REQUIRE(f.tree->start());
  auto before = f.tree->count_children(f.root);
  REQUIRE(before);
  CHECK(before->specs == 2);
  f.k.command(0, return_error);
  REQUIRE(eventually([&] {
    auto c = f.tree->count_children(f.root);
    return c && c->specs == 1;
  }));
  REQUIRE(f.tree->stop());
}

// ------------------------------------------------------------------ strategies

TEST_CASE("sup: one_for_one restarts only the failed child" * doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one);
  for (int i = 0; i < 3; ++i) f.add(i);
  REQUIRE(f.tree->start());
  REQUIRE(eventually([&] { return running(f.k, 0) && running(f.k, 1) && running(f.k, 2); }));
  const auto g0 = f.gen(0), g2 = f.gen(2);
  f.k.command(1, return_error);
  REQUIRE(eventually([&] { return f.k.starts(1) == 2; }));
  CHECK(f.gen(0) == g0);
  CHECK(f.gen(2) == g2);
  REQUIRE(f.tree->stop());
}

TEST_CASE("sup: one_for_all stops the others in reverse and restarts all in order" * doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_all);
  for (int i = 0; i < 3; ++i) f.add(i);
  REQUIRE(f.tree->start());
  REQUIRE(eventually([&] { return f.k.trace_done.load() == 3; }));
  f.k.command(1, return_error);
  REQUIRE(eventually([&] { return f.events.count(tree_event_kind::child_restarted) == 3; }));
  // c1 exits (-2), then its siblings are stopped in reverse (-3, -1) ...
  const int stops[] = {-2, -3, -1};
  for (int i = 0; i < 3; ++i) CHECK(f.k.trace[3 + i] == stops[i]);
  // ... and all three are started again in order
  int order[4];
  REQUIRE(f.events.children_of(tree_event_kind::child_restarted, order, 4) == 3);
  for (int i = 0; i < 3; ++i) CHECK(order[i] == i);
  REQUIRE(f.tree->stop());
}

TEST_CASE("sup: rest_for_one restarts the failed child and those after it" * doctest::timeout(60)) {
  tree_fixture f(strategy::rest_for_one);
  for (int i = 0; i < 4; ++i) f.add(i);
  REQUIRE(f.tree->start());
  REQUIRE(eventually([&] { return f.k.trace_done.load() == 4; }));
  const auto g0 = f.gen(0);
  f.k.command(1, return_error);
  REQUIRE(eventually([&] { return f.events.count(tree_event_kind::child_restarted) == 3; }));
  CHECK(f.gen(0) == g0);
  CHECK(f.k.starts(0) == 1);
  const int stops[] = {-2, -4, -3};
  for (int i = 0; i < 3; ++i) CHECK(f.k.trace[4 + i] == stops[i]);
  int order[4];
  REQUIRE(f.events.children_of(tree_event_kind::child_restarted, order, 4) == 3);
  for (int i = 0; i < 3; ++i) CHECK(order[i] == i + 1);
  REQUIRE(f.tree->stop());
}

TEST_CASE("sup: one_for_all does not bring back temporary siblings" * doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_all);
  f.add(0);
  f.add(1, restart_type::temporary);
  REQUIRE(f.tree->start());
  REQUIRE(eventually([&] { return running(f.k, 0) && running(f.k, 1); }));
  f.k.command(0, return_error);
  REQUIRE(eventually([&] { return f.k.starts(0) == 2; }));
  CHECK(f.k.starts(1) == 1);
  CHECK(f.k.ctl[1].releases == 1);
  REQUIRE(f.tree->stop());
}

// ------------------------------------------------------------------ intensity and escalation

TEST_CASE("sup: intensity 0 gives up on the first failure and tells the hook" * doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one, 0);
  f.add(0);
  f.add(1);
  REQUIRE(f.tree->start());
  f.k.command(0, return_error);
  REQUIRE(f.tree->wait(k_ack));
  CHECK(f.tree->state() == tree_state::failed);
  CHECK(f.tree->failure().code == errc::intensity_exceeded);
  CHECK(f.events.count(tree_event_kind::intensity_exceeded) == 1);
  CHECK(f.events.count(tree_event_kind::tree_failed) == 1);
  CHECK(f.k.ctl[1].releases == 1);  // the sibling was stopped
  CHECK(f.tree->stop());
}

TEST_CASE("sup: MaxR restarts are survived, one more escalates" * doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one, 3, std::chrono::hours(1));
  f.add(0);
  REQUIRE(f.tree->start());
  for (int n = 1; n <= 3; ++n) {
    REQUIRE(eventually([&] { return f.k.starts(0) == n && running(f.k, 0); }));
    f.k.command(0, return_error);
  }
  REQUIRE(eventually([&] { return f.k.starts(0) == 4 && running(f.k, 0); }));
  CHECK(f.tree->state() == tree_state::running);
  f.k.command(0, return_error);
  REQUIRE(f.tree->wait(k_ack));
  CHECK(f.tree->state() == tree_state::failed);
  CHECK(f.k.starts(0) == 4);
  CHECK(f.k.ctl[0].releases == 4);
}

TEST_CASE("sup: a nested supervisor that gives up is restarted by its parent" * doctest::timeout(60)) {
  kit k;
  event_log events;
  steward::supervisor<4> root({"root", strategy::one_for_one, 5, std::chrono::hours(1)});
  steward::supervisor<4> acq({"acq", strategy::one_for_one, 0, std::chrono::hours(1)});
  REQUIRE(acq.add_child(k.spec(0)));
  REQUIRE(acq.add_child(k.spec(1)));
  REQUIRE(root.add_child(supervisor_child("acq", acq)));
  REQUIRE(root.add_child(k.spec(2)));
  auto tree = std::make_unique<test_tree>(root);
  REQUIRE(tree->set_event_hook(&event_log::hook, &events));
  REQUIRE(tree->start());
  REQUIRE(eventually([&] { return k.trace_done.load() == 3; }));
  k.command(0, return_error);  // acq has intensity 0: it gives up, root restarts all of acq
  REQUIRE(eventually([&] { return k.starts(0) == 2 && k.starts(1) == 2; }));
  CHECK(k.starts(2) == 1);
  CHECK(events.count(tree_event_kind::escalated) == 1);
  CHECK(tree->state() == tree_state::running);
  REQUIRE(tree->stop());
  for (int i = 0; i < 3; ++i) CHECK(k.ctl[i].releases == k.starts(i));
}

TEST_CASE("sup: escalation climbs to the root when every level gives up" * doctest::timeout(60)) {
  kit k;
  event_log events;
  steward::supervisor<2> root({"root", strategy::one_for_one, 0, std::chrono::hours(1)});
  steward::supervisor<2> mid({"mid", strategy::one_for_one, 0, std::chrono::hours(1)});
  steward::supervisor<2> leaf({"leaf", strategy::one_for_one, 0, std::chrono::hours(1)});
  REQUIRE(leaf.add_child(k.spec(0)));
  REQUIRE(mid.add_child(supervisor_child("leaf", leaf)));
  REQUIRE(root.add_child(supervisor_child("mid", mid)));
  REQUIRE(root.add_child(k.spec(1)));
  auto tree = std::make_unique<test_tree>(root);
  REQUIRE(tree->set_event_hook(&event_log::hook, &events));
  REQUIRE(tree->start());
  REQUIRE(eventually([&] { return k.trace_done.load() == 2; }));
  k.command(0, return_error);
  REQUIRE(eventually([&] { return tree->state() == tree_state::failed; }));
  CHECK(events.count(tree_event_kind::escalated) == 3);
  CHECK(events.count(tree_event_kind::tree_failed) == 1);
  CHECK(k.ctl[0].releases == 1);
  CHECK(k.ctl[1].releases == 1);
}

TEST_CASE("sup: a failed restart rolls the group back and escalates" * doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_all);
  f.add(0);
  f.add(1);
  REQUIRE(f.tree->start());
  REQUIRE(eventually([&] { return running(f.k, 0) && running(f.k, 1); }));
  steward::worker::inject_start_failures(1, 1, errc::resource_exhausted);  // c0 restarts, c1 cannot
  f.k.command(1, return_error);
  REQUIRE(f.tree->wait(k_ack));
  CHECK(f.tree->state() == tree_state::failed);
  steward::worker::inject_start_failures(0, 0, errc::resource_exhausted);
  CHECK(f.tree->failure().code == errc::resource_exhausted);
  CHECK(f.events.count(tree_event_kind::start_failed) == 1);
  CHECK(f.k.starts(0) == 2);  // c0 was restarted, then rolled back
  CHECK(f.k.ctl[0].releases == 2);
  CHECK(f.k.starts(1) == 1);
  CHECK(f.k.ctl[1].releases == 1);
  CHECK(steward::is_terminal(f.k.workers[0]->state()));
}

// ------------------------------------------------------------------ backoff

TEST_CASE("sup: a restart waits for its backoff and reports the delay" * doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one);
  steward::supervisor_config cfg = f.root.config();
  cfg.backoff.base = std::chrono::milliseconds(30);
  cfg.backoff.reset_after = std::chrono::hours(1);
  REQUIRE(f.root.configure(cfg));
  f.add(0);
  REQUIRE(f.tree->start());
  REQUIRE(eventually([&] { return running(f.k, 0); }));
  auto t0 = steward::platform::monotonic_now();
  f.k.command(0, return_error);
  REQUIRE(eventually([&] { return f.k.starts(0) == 2; }));
  auto t1 = steward::platform::monotonic_now();
  REQUIRE(eventually([&] { return f.events.count(tree_event_kind::child_restarted) == 1; }));
  REQUIRE(t0);
  REQUIRE(t1);
  CHECK(*t1 - *t0 >= std::chrono::milliseconds(30));  // never before its delay
  CHECK(f.events.last_delay_ns == std::chrono::nanoseconds(std::chrono::milliseconds(30)).count());
  const int backoff = f.events.index_of(tree_event_kind::backoff_scheduled);
  CHECK(backoff >= 0);
  CHECK(f.events.index_of(tree_event_kind::child_restarted, backoff) > backoff);
  // the streak grows: the next delay is twice the first
  REQUIRE(eventually([&] { return running(f.k, 0); }));
  f.k.command(0, return_error);
  REQUIRE(eventually([&] { return f.k.starts(0) == 3; }));
  CHECK(f.events.last_delay_ns == std::chrono::nanoseconds(std::chrono::milliseconds(60)).count());
  REQUIRE(f.tree->stop());
}

TEST_CASE("sup: a stop during a backoff wait cancels the restart and returns at once" *
          doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one);
  steward::supervisor_config cfg = f.root.config();
  cfg.backoff.base = std::chrono::hours(1);
  REQUIRE(f.root.configure(cfg));
  f.add(0);
  REQUIRE(f.tree->start());
  REQUIRE(eventually([&] { return running(f.k, 0); }));
  f.k.command(0, return_error);
  REQUIRE(eventually([&] { return f.events.count(tree_event_kind::backoff_scheduled) == 1; }));
  REQUIRE(f.tree->stop());  // the runner is waiting for an hour: stop must not
  CHECK(f.k.starts(0) == 1);
}

// ------------------------------------------------------------------ shutdown and hung children

TEST_CASE("sup: a child that misses its shutdown deadline is reported hung and quarantined" *
          doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one);
  f.add(0);
  auto stubborn = f.k.spec(1);
  stubborn.shutdown = std::chrono::milliseconds(20);
  REQUIRE(f.root.add_child(stubborn));
  f.add(2);
  REQUIRE(f.tree->start());
  REQUIRE(eventually([&] { return running(f.k, 1); }));
  f.k.command(1, hang);
  REQUIRE(eventually([&] { return f.k.ctl[1].cmd.load() == run; }));  // it took the command
  auto stopped = f.tree->stop();
  REQUIRE_FALSE(stopped);
  CHECK(stopped.error() == errc::timeout);
  CHECK(std::string(stopped.error().subject) == "c1");
  CHECK(stopped.error().value == 1);
  CHECK(f.k.ctl[0].releases == 1);  // the others were still stopped
  CHECK(f.k.ctl[2].releases == 1);
  CHECK(f.events.count(tree_event_kind::child_hung) == 1);
  CHECK(f.events.hung_state == static_cast<int>(worker_state::stopping));  // what it is stuck in
  CHECK(f.events.hung_for_ns.load() >= std::chrono::nanoseconds(std::chrono::milliseconds(20)).count());
  steward::child_snapshot snap[4];
  auto n = f.tree->snapshot(snap, 4);
  REQUIRE(n);
  CHECK(snap[1].quarantined);
  f.k.ctl[1].hang_release = true;
  REQUIRE(eventually([&] { return f.k.ctl[1].releases.load() == 1; }));
}

TEST_CASE("sup: a hung sibling during a group restart escalates instead of blocking" * doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_all);
  f.add(0);
  auto stubborn = f.k.spec(1);
  stubborn.shutdown = std::chrono::milliseconds(20);
  REQUIRE(f.root.add_child(stubborn));
  REQUIRE(f.tree->start());
  REQUIRE(eventually([&] { return running(f.k, 0) && running(f.k, 1); }));
  f.k.command(1, hang);
  REQUIRE(eventually([&] { return f.k.ctl[1].cmd.load() == run; }));
  f.k.command(0, return_error);
  REQUIRE(f.tree->wait(k_ack));
  CHECK(f.tree->state() == tree_state::failed);
  CHECK(f.tree->failure().code == errc::hung);
  CHECK(f.events.count(tree_event_kind::child_hung) == 1);
  f.k.ctl[1].hang_release = true;
  REQUIRE(eventually([&] { return f.k.ctl[1].releases.load() == 1; }));
}

// ------------------------------------------------------------------ management calls

TEST_CASE("sup: terminate_child stops without restart and is idempotent" * doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one);
  f.add(0);
  f.add(1);
  REQUIRE(f.tree->start());
  REQUIRE(f.tree->terminate_child(f.root, "c0"));
  CHECK(f.k.ctl[0].releases == 1);
  CHECK(f.tree->terminate_child(f.root, "c0"));
  auto c = f.tree->count_children(f.root);
  REQUIRE(c);
  CHECK(c->specs == 2);
  CHECK(c->active == 1);
  CHECK(f.k.starts(0) == 1);
  CHECK(f.events.count(tree_event_kind::child_restarted) == 0);
  REQUIRE(f.tree->stop());
}

TEST_CASE("sup: restart_child brings back a terminated child, refuses a running one" * doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one);
  f.add(0);
  REQUIRE(f.tree->start());
  CHECK(code_of(f.tree->restart_child(f.root, "c0")) == code(errc::already_running));
  REQUIRE(f.tree->terminate_child(f.root, "c0"));
  const auto g = f.gen(0);
  REQUIRE(f.tree->restart_child(f.root, "c0"));
  CHECK(f.gen(0) == g + 1);
  REQUIRE(eventually([&] { return f.k.starts(0) == 2; }));
  REQUIRE(f.tree->stop());
}

TEST_CASE("sup: delete_child needs a terminated child and frees its spec" * doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one);
  f.add(0);
  f.add(1);
  REQUIRE(f.tree->start());
  CHECK(code_of(f.tree->delete_child(f.root, "c0")) == code(errc::already_running));
  REQUIRE(f.tree->terminate_child(f.root, "c0"));
  REQUIRE(f.tree->delete_child(f.root, "c0"));
  CHECK(code_of(f.tree->restart_child(f.root, "c0")) == code(errc::invalid_argument));
  auto c = f.tree->count_children(f.root);
  REQUIRE(c);
  CHECK(c->specs == 1);
  REQUIRE(f.tree->stop());
}

TEST_CASE("sup: management calls with an unknown id or a foreign supervisor change nothing" *
          doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one);
  f.add(0);
  REQUIRE(f.tree->start());
  steward::supervisor<1> stranger;
  CHECK(code_of(f.tree->terminate_child(f.root, "nope")) == code(errc::invalid_argument));
  CHECK(code_of(f.tree->restart_child(f.root, "nope")) == code(errc::invalid_argument));
  CHECK(code_of(f.tree->delete_child(f.root, "nope")) == code(errc::invalid_argument));
  CHECK(code_of(f.tree->terminate_child(stranger, "c0")) == code(errc::invalid_handle));
  CHECK(code_of(f.tree->pause(stranger, k_ack)) == code(errc::invalid_handle));
  CHECK(code_of(f.tree->count_children(stranger)) == code(errc::invalid_handle));
  CHECK(running(f.k, 0));
  REQUIRE(eventually([&] { return f.k.starts(0) == 1; }));
  REQUIRE(f.tree->stop());
}

TEST_CASE("sup: a supervisor of one tree cannot be started in another" * doctest::timeout(60)) {
  kit k;
  steward::supervisor<2> shared;
  REQUIRE(shared.add_child(k.spec(0)));
  steward::supervisor<2> root_a;
  steward::supervisor<2> root_b;
  REQUIRE(root_a.add_child(supervisor_child("shared", shared)));
  REQUIRE(root_b.add_child(supervisor_child("shared", shared)));
  auto a = std::make_unique<test_tree>(root_a);
  auto b = std::make_unique<test_tree>(root_b);
  REQUIRE(a->start());
  auto started = b->start();
  CHECK(code_of(started) == code(errc::invalid_handle));
  REQUIRE(a->stop());
}

TEST_CASE("sup: count_children reports specs, active, workers and supervisors" * doctest::timeout(60)) {
  kit k;
  steward::supervisor<4> root;
  steward::supervisor<2> sub_sup;
  REQUIRE(sub_sup.add_child(k.spec(0)));
  REQUIRE(root.add_child(supervisor_child("sub", sub_sup)));
  REQUIRE(root.add_child(k.spec(1)));
  REQUIRE(root.add_child(k.spec(2)));
  auto tree = std::make_unique<test_tree>(root);
  REQUIRE(tree->start());
  auto c = tree->count_children(root);
  REQUIRE(c);
  CHECK(c->specs == 3);
  CHECK(c->active == 3);
  CHECK(c->supervisors == 1);
  CHECK(c->workers == 2);
  REQUIRE(tree->stop());
}

// ------------------------------------------------------------------ auto-shutdown

TEST_CASE("sup: any_significant shuts the supervisor down when one significant child ends" *
          doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one);
  steward::supervisor_config cfg = f.root.config();
  cfg.shutdown_on = steward::auto_shutdown::any_significant;
  REQUIRE(f.root.configure(cfg));
  auto sig = f.k.spec(0, restart_type::transient);
  sig.significant = true;
  REQUIRE(f.root.add_child(sig));
  f.add(1);
  REQUIRE(f.tree->start());
  REQUIRE(eventually([&] { return running(f.k, 0) && running(f.k, 1); }));
  f.k.command(0, return_ok);
  REQUIRE(f.tree->wait(k_ack));
  CHECK(f.tree->state() == tree_state::stopped);
  CHECK(f.events.count(tree_event_kind::auto_shutdown) == 1);
  CHECK(f.k.ctl[1].releases == 1);
  CHECK(f.tree->stop());
}

TEST_CASE("sup: all_significant waits for every significant child" * doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one);
  steward::supervisor_config cfg = f.root.config();
  cfg.shutdown_on = steward::auto_shutdown::all_significant;
  REQUIRE(f.root.configure(cfg));
  for (int i = 0; i < 2; ++i) {
    auto sig = f.k.spec(i, restart_type::transient);
    sig.significant = true;
    REQUIRE(f.root.add_child(sig));
  }
  f.add(2);
  REQUIRE(f.tree->start());
  REQUIRE(eventually([&] { return running(f.k, 0) && running(f.k, 1); }));
  f.k.command(0, return_ok);
  REQUIRE(eventually([&] { return f.events.count(tree_event_kind::child_exited) == 1; }));
  CHECK(f.tree->state() == tree_state::running);
  f.k.command(1, return_ok);
  REQUIRE(f.tree->wait(k_ack));
  CHECK(f.tree->state() == tree_state::stopped);
  CHECK(f.k.ctl[2].releases == 1);
}

// ------------------------------------------------------------------ pause

TEST_CASE("sup: pausing a subtree returns once every worker below parked" * doctest::timeout(60)) {
  kit k;
  event_log events;
  steward::supervisor<4> root;
  steward::supervisor<4> acq({"acq", strategy::one_for_one, 5, std::chrono::hours(1)});
  REQUIRE(acq.add_child(k.spec(0)));
  REQUIRE(acq.add_child(k.spec(1)));
  REQUIRE(root.add_child(supervisor_child("acq", acq)));
  REQUIRE(root.add_child(k.spec(2)));
  auto tree = std::make_unique<test_tree>(root);
  REQUIRE(tree->set_event_hook(&event_log::hook, &events));
  REQUIRE(tree->start());
  REQUIRE(tree->pause(acq, k_ack));
  CHECK(k.workers[0]->state() == worker_state::paused);
  CHECK(k.workers[1]->state() == worker_state::paused);
  CHECK(k.workers[2]->state() != worker_state::paused);  // outside the subtree
  CHECK(events.count(tree_event_kind::subtree_paused) == 1);
  REQUIRE(tree->resume(acq));
  CHECK(k.workers[0]->state() == worker_state::running);
  CHECK(k.workers[1]->state() == worker_state::running);
  REQUIRE(tree->pause(k_ack));  // the whole tree
  CHECK(k.workers[2]->state() == worker_state::paused);
  REQUIRE(tree->stop());  // pause-to-stop for the whole tree
  for (int i = 0; i < 3; ++i) CHECK(k.ctl[i].releases == 1);
}

TEST_CASE("sup: a pause timeout names the workers that did not park" * doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one);
  f.add(0);
  f.add(1);
  REQUIRE(f.tree->start());
  REQUIRE(eventually([&] { return running(f.k, 0) && running(f.k, 1); }));
  f.k.command(1, hang);  // spins with no safe point
  REQUIRE(eventually([&] { return f.k.ctl[1].cmd.load() == run; }));
  steward::pause_report report;
  auto paused = f.tree->pause(std::chrono::milliseconds(30), &report);
  REQUIRE_FALSE(paused);
  CHECK(paused.error() == errc::timeout);
  CHECK(report.count == 1);
  CHECK(std::string(report.not_parked[0]) == "c1");
  CHECK(f.k.workers[0]->state() == worker_state::paused);
  REQUIRE(f.tree->resume());
  f.k.ctl[1].hang_release = true;  // it returns; permanent: restarted
  REQUIRE(eventually([&] { return f.k.starts(1) == 2; }));
  REQUIRE(f.tree->stop());
}

TEST_CASE("sup: a restart due while the subtree is paused waits for resume" * doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one);
  steward::supervisor_config cfg = f.root.config();
  cfg.backoff.base = std::chrono::milliseconds(20);
  REQUIRE(f.root.configure(cfg));
  f.add(0);
  f.add(1);
  REQUIRE(f.tree->start());
  REQUIRE(eventually([&] { return running(f.k, 0) && running(f.k, 1); }));
  auto now = [] {
    auto t = steward::platform::monotonic_now();
    return t ? *t : steward::time_point{};
  };
  f.k.command(0, return_error);
  CHECK(eventually([&] {
    return f.events.count(tree_event_kind::backoff_scheduled) == 1 && f.events.last_delay_ns.load() != 0;
  }));
  // The runner read its clock before it emitted the event: c0's restart is due by `due_by`.
  const auto due_by = now() + std::chrono::nanoseconds(f.events.last_delay_ns.load());
  REQUIRE(f.tree->pause(k_ack));
  const auto restarts_before = f.events.count(tree_event_kind::child_restarted);
  CHECK(restarts_before == 0);
  CHECK(eventually([&] { return now() >= due_by; }));  // the backoff passes while paused
  // A runner pass holds the tree's operation lock from its clock read to its end, so after a
  // tree operation every later pass sees the restart due.
  CHECK(f.tree->set_event_hook(&event_log::hook, &f.events));
  // Make the runner run such a pass: c1's incarnation ends (stopped outside the tree, as if it
  // exited while paused), and the runner handles that exit - with the restart of c0 due.
  CHECK(f.k.workers[1]->stop(k_ack));
  CHECK(eventually([&] { return f.events.count(tree_event_kind::child_exited) == 1; }));
  CHECK(f.tree->set_event_hook(&event_log::hook, &f.events));  // that pass is over
  CHECK(f.events.count(tree_event_kind::child_restarted) == restarts_before);
  CHECK(f.k.starts(0) == 1);
  REQUIRE(f.tree->resume());
  REQUIRE(eventually([&] {
    return f.k.starts(0) == 2 && f.events.count(tree_event_kind::child_restarted) > 0;
  }));
  // The restart came after the resume, in the event order too.
  const int resumed_at = f.events.index_of(tree_event_kind::subtree_resumed);
  CHECK(resumed_at >= 0);
  CHECK(f.events.index_of(tree_event_kind::child_restarted) > resumed_at);
  REQUIRE(f.tree->stop());
}

// ------------------------------------------------------------------ introspection

TEST_CASE("sup: a snapshot lists every child with path, state, restarts and last failure" *
          doctest::timeout(60)) {
  kit k;
  steward::supervisor<4> root({"root", strategy::one_for_one, 5, std::chrono::hours(1)});
  steward::supervisor<4> acq({"acq", strategy::one_for_one, 5, std::chrono::hours(1)});
  REQUIRE(acq.add_child(k.spec(0)));
  REQUIRE(root.add_child(supervisor_child("acq", acq)));
  REQUIRE(root.add_child(k.spec(1)));
  auto tree = std::make_unique<test_tree>(root);
  REQUIRE(tree->start());
  REQUIRE(eventually([&] { return running(k, 0) && running(k, 1); }));
  k.command(0, return_error);
  steward::child_snapshot snap[3];
  REQUIRE(eventually([&] {
    auto n = tree->snapshot(snap, 3);
    return n && snap[1].restarts == 1;
  }));
  steward::child_snapshot too_small[2];
  auto small = tree->snapshot(too_small, 2);
  REQUIRE_FALSE(small);
  CHECK(small.error() == errc::capacity_exceeded);
  CHECK(small.error().value == 3);
  auto n = tree->snapshot(snap, 3);
  REQUIRE(n);
  REQUIRE(*n == 3);
  CHECK(std::string(snap[0].path) == "root/acq");
  CHECK(snap[0].kind == steward::child_kind::supervisor);
  CHECK(snap[0].state == worker_state::running);
  CHECK(std::string(snap[1].path) == "root/acq/c0");
  CHECK(snap[1].restarts == 1);
  CHECK(snap[1].last_reason == steward::exit_reason::error);
  CHECK(snap[1].last_error.value == 42);
  CHECK(snap[1].generation == 2);
  CHECK(std::string(snap[2].path) == "root/c1");
  CHECK(snap[2].restarts == 0);
  REQUIRE(tree->pause(k_ack));
  auto paused = tree->snapshot(snap, 3);
  REQUIRE(paused);
  CHECK(snap[1].state == worker_state::paused);
  REQUIRE(tree->stop());
}

TEST_CASE("sup: the event hook sees start, failure, restart in order" * doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one);
  f.add(0);
  REQUIRE(f.tree->start());
  REQUIRE(eventually([&] { return running(f.k, 0); }));
  f.k.command(0, return_error);
  REQUIRE(eventually([&] { return f.events.count(tree_event_kind::child_restarted) == 1; }));
  const int started = f.events.index_of(tree_event_kind::child_started);
  const int failed = f.events.index_of(tree_event_kind::child_failed);
  const int restarted = f.events.index_of(tree_event_kind::child_restarted);
  CHECK(started >= 0);
  CHECK(failed > started);
  CHECK(restarted > failed);
  REQUIRE(f.tree->stop());
}

// ------------------------------------------------------------------ calls from inside the tree

TEST_CASE("sup: a worker stopping its own tree or ancestor gets would_deadlock" * doctest::timeout(60)) {
  struct outcome {
    std::atomic<int> stop{-2}, pause{-2}, terminate{-2};
    std::atomic<bool> done{false};
    test_tree* tree{nullptr};
    steward::supervisor_base* root{nullptr};
  } o;
  kit k;
  steward::supervisor<2> root;
  auto s = k.spec(0);
  auto* out = &o;
  s.body = [out](steward::worker_context& ctx) -> steward::result<void> {
    out->stop = code_of(out->tree->stop());
    out->pause = code_of(out->tree->pause(std::chrono::seconds(1)));
    out->terminate = code_of(out->tree->terminate_child(*out->root, "c0"));
    out->done = true;
    for (;;) STEWARD_TRY(ctx.sleep_for(std::chrono::hours(1)));
  };
  REQUIRE(root.add_child(s));
  auto tree = std::make_unique<test_tree>(root);
  o.tree = tree.get();
  o.root = &root;
  REQUIRE(tree->start());
  REQUIRE(eventually([&] { return o.done.load(); }));
  CHECK(o.stop == code(errc::would_deadlock));
  CHECK(o.pause == code(errc::would_deadlock));
  CHECK(o.terminate == code(errc::would_deadlock));
  CHECK(tree->state() == tree_state::running);
  REQUIRE(tree->stop());
}

namespace {
struct thread_probe_log {
  kit* k{nullptr};
  std::atomic<int> restarted_on_child_thread{0};
  std::atomic<int> restarted_elsewhere{0};
  static void hook(void* user, const steward::tree_event& e) noexcept {
    auto* log = static_cast<thread_probe_log*>(user);
    if (e.kind != tree_event_kind::child_restarted) return;
    if (log->k->workers[0]->is_current_thread()) {
      log->restarted_on_child_thread.fetch_add(1);
    } else {
      log->restarted_elsewhere.fetch_add(1);
    }
  }
};
}  // namespace

TEST_CASE("sup: a one_for_one restart without backoff runs on the failing worker's own thread" *
          doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one, 16);
  thread_probe_log log;
  log.k = &f.k;
  REQUIRE(f.tree->set_event_hook(&thread_probe_log::hook, &log));
  f.add(0);
  REQUIRE(f.tree->start());
  for (int n = 1; n <= 5; ++n) {  // the runner may hold the tree lock at a given instant: retry
    REQUIRE(eventually([&] { return f.k.starts(0) == n && running(f.k, 0); }));
    f.k.command(0, return_error);
    REQUIRE(eventually([&] { return log.restarted_on_child_thread + log.restarted_elsewhere == n; }));
  }
  CHECK(log.restarted_on_child_thread.load() >= 1);
  REQUIRE(f.tree->stop());
  CHECK(f.k.ctl[0].releases == f.k.starts(0));
}

TEST_CASE("sup: a restart with backoff is made by the runner, not the failing thread" *
          doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one, 16);
  steward::supervisor_config cfg = f.root.config();
  cfg.backoff.base = std::chrono::milliseconds(1);
  REQUIRE(f.root.configure(cfg));
  thread_probe_log log;
  log.k = &f.k;
  REQUIRE(f.tree->set_event_hook(&thread_probe_log::hook, &log));
  f.add(0);
  REQUIRE(f.tree->start());
  REQUIRE(eventually([&] { return running(f.k, 0); }));
  f.k.command(0, return_error);
  REQUIRE(eventually([&] { return log.restarted_elsewhere.load() == 1; }));
  CHECK(log.restarted_on_child_thread.load() == 0);
  REQUIRE(f.tree->stop());
}

// ------------------------------------------------------------------ the matrix

TEST_CASE("sup matrix: strategy x restart type x exit reason" * doctest::timeout(180)) {
  const strategy strategies[] = {strategy::one_for_one, strategy::one_for_all, strategy::rest_for_one};
  const restart_type types[] = {restart_type::permanent, restart_type::transient, restart_type::temporary};
  enum class way { normal, error, exception, stop };
  const way ways[] = {
    way::normal,
    way::error,
#if STEWARD_USING_EXCEPTIONS
    way::exception,
#endif
    way::stop
  };
  for (auto strat : strategies) {
    for (auto type : types) {
      for (auto how : ways) {
        CAPTURE(static_cast<int>(strat));
        CAPTURE(static_cast<int>(type));
        CAPTURE(static_cast<int>(how));
        tree_fixture f(strat, 16);
        f.add(0);
        f.add(1, type);
        f.add(2);
        REQUIRE(f.tree->start());
        REQUIRE(eventually([&] { return running(f.k, 0) && running(f.k, 1) && running(f.k, 2); }));
        const bool abnormal = how == way::error || how == way::exception;
        bool restarted = false;
        if (how == way::stop) {
          REQUIRE(f.tree->terminate_child(f.root, "c1"));  // a stop by the supervisor is never restarted
        } else {
          f.k.command(1, how == way::normal ? return_ok : how == way::error ? return_error : throw_up);
          restarted = type == restart_type::permanent || (type == restart_type::transient && abnormal);
          if (restarted) {
            REQUIRE(eventually([&] { return f.k.starts(1) == 2; }));
          } else {
            REQUIRE(eventually([&] {
              return f.events.count(tree_event_kind::child_exited) +
                         f.events.count(tree_event_kind::child_failed) >=
                     1;
            }));
          }
        }
        // Which siblings went with it: the strategy's scope, only when the child is restarted.
        const bool c0_too = restarted && strat == strategy::one_for_all;
        const bool c2_too = restarted && strat != strategy::one_for_one;
        if (c0_too) REQUIRE(eventually([&] { return f.k.starts(0) == 2; }));
        if (c2_too) REQUIRE(eventually([&] { return f.k.starts(2) == 2; }));
        REQUIRE(f.tree->stop());
        CHECK(f.k.starts(0) == (c0_too ? 2 : 1));
        CHECK(f.k.starts(1) == (restarted ? 2 : 1));
        CHECK(f.k.starts(2) == (c2_too ? 2 : 1));
        for (int i = 0; i < 3; ++i) CHECK(f.k.ctl[i].releases == f.k.starts(i));
      }
    }
  }
}

TEST_CASE("sup: a quarantined child that finishes later frees its slot and stops counting as hung" *
          doctest::timeout(60)) {
  tree_fixture f(strategy::one_for_one);
  f.add(0);
  auto stubborn = f.k.spec(1);
  stubborn.shutdown = std::chrono::milliseconds(20);
  REQUIRE(f.root.add_child(stubborn));
  REQUIRE(f.tree->start());
  REQUIRE(eventually([&] { return running(f.k, 1); }));
  f.k.command(1, hang);
  REQUIRE(eventually([&] { return f.k.ctl[1].cmd.load() == run; }));
  CHECK(code_of(f.tree->terminate_child(f.root, "c1")) == code(errc::timeout));  // quarantined
  CHECK(code_of(f.tree->restart_child(f.root, "c1")) == code(errc::stopping));
  f.k.ctl[1].hang_release = true;
  REQUIRE(eventually([&] { return steward::is_terminal(f.k.workers[1]->state()); }));
  REQUIRE(f.tree->restart_child(f.root, "c1"));  // the slot is usable again
  REQUIRE(eventually([&] { return f.k.starts(1) == 2; }));
  CHECK(f.tree->stop());  // no stale hang is reported
}
