// child_order::parallel: one request reaches every worker of a subtree before anyone is waited
// for, nested sequential supervisors keep their order, hung children are reported and
// quarantined as in a sequential stop, and starts and group restarts launch before they wait.
#include "supervisor_kit.hpp"

using namespace testutil;
using steward::child_order;
using steward::errc;
using steward::restart_type;
using steward::strategy;
using steward::tree_event_kind;
using steward::tree_state;
using steward::worker_state;

namespace {

// Children whose cleanup waits until every one of them has seen its stop: a sequential stop
// (which asks the next child only after the previous one finished) can never complete it.
struct barrier_kit {
  static constexpr int k_children = 6;
  std::unique_ptr<test_worker> workers[k_children];
  std::atomic<int> saw_stop{0};
  std::atomic<int> released{0};
  std::atomic<int> starts{0};
  std::atomic<int> fail_next{-1};
  std::atomic<int> exempt{-1};  // a child whose cleanup does not wait (the one that failed)
  steward::notifier note;
  char ids[k_children][4]{};
  barrier_kit() {
    for (int i = 0; i < k_children; ++i) {
      workers[i] = std::make_unique<test_worker>();
      ids[i][0] = 'p';
      ids[i][1] = static_cast<char>('0' + i);
    }
  }
  steward::child_spec spec(int i, steward::duration shutdown = std::chrono::seconds(20)) {
    steward::child_spec s;
    s.id = ids[i];
    s.worker_slot = workers[i].get();
    s.shutdown = shutdown;
    barrier_kit* self = this;
    s.body = [self, i](steward::worker_context& ctx) -> steward::result<void> {
      self->starts.fetch_add(1);
      STEWARD_TRY(ctx.defer([self, i] {
        self->saw_stop.fetch_add(1);
        if (self->exempt.load() != i) {
          while (self->saw_stop.load() < k_children) std::this_thread::yield();  // the barrier
        }
        self->released.fetch_add(1);
      }));
      auto waited = ctx.wait_until(self->note, [self, i] { return self->fail_next.load() == i; }, steward::never);
      if (!waited) return waited;
      self->fail_next = -1;
      return steward::fail(errc::worker_failed, "scripted");
    };
    return s;
  }
};

steward::supervisor_config parallel_config(const char* name, strategy s = strategy::one_for_one) {
  steward::supervisor_config cfg;
  cfg.name = name;
  cfg.restart_strategy = s;
  cfg.intensity = 5;
  cfg.period = std::chrono::hours(1);
  cfg.order = child_order::parallel;
  return cfg;
}

}  // namespace

TEST_CASE("parallel: a stop reaches every worker before any is waited for" * doctest::timeout(120)) {
  barrier_kit k;
  steward::supervisor<barrier_kit::k_children> root(parallel_config("root"));
  for (int i = 0; i < barrier_kit::k_children; ++i) REQUIRE(root.add_child(k.spec(i)));
  auto tree = std::make_unique<test_tree>(root);
  REQUIRE(tree->start());
  CHECK(k.starts == barrier_kit::k_children);
  CHECK(tree->stop());  // a sequential stop would wait for p5's cleanup, which waits for p0
  CHECK(k.released == barrier_kit::k_children);
  for (auto& w : k.workers) CHECK(w->state() == worker_state::stopped);
}

TEST_CASE("parallel: nested parallel supervisors are asked in the same round, sequential ones keep "
          "reverse order" *
          doctest::timeout(120)) {
  barrier_kit k;  // p0..p2 under the root, p3..p5 under a nested parallel supervisor
  steward::supervisor<4> root(parallel_config("root"));
  steward::supervisor<3> inner(parallel_config("inner"));
  for (int i = 0; i < 3; ++i) REQUIRE(root.add_child(k.spec(i)));
  for (int i = 3; i < 6; ++i) REQUIRE(inner.add_child(k.spec(i)));
  REQUIRE(root.add_child(supervisor_child("inner", inner)));
  auto tree = std::make_unique<test_tree>(root);
  REQUIRE(tree->start());
  CHECK(tree->stop());  // the barrier spans both levels
  CHECK(k.released == barrier_kit::k_children);

  kit seq;  // a sequential supervisor nested in a parallel one stops newest first
  steward::supervisor<2> outer(parallel_config("outer"));
  steward::supervisor<4> ordered({"ordered", strategy::one_for_one, 5, std::chrono::hours(1)});
  for (int i = 0; i < 4; ++i) REQUIRE(ordered.add_child(seq.spec(i)));
  REQUIRE(outer.add_child(supervisor_child("ordered", ordered)));
  auto tree2 = std::make_unique<test_tree>(outer);
  REQUIRE(tree2->start());
  REQUIRE(tree2->stop());
  REQUIRE(seq.trace_done.load() == 8);
  for (int i = 0; i < 4; ++i) CHECK(seq.trace[4 + i] == -(4 - i));  // cleanups c3, c2, c1, c0
}

TEST_CASE("parallel: a hung child is reported and quarantined, the others are released" *
          doctest::timeout(120)) {
  tree_fixture f(strategy::one_for_one);
  REQUIRE(f.root.configure(parallel_config("root")));
  for (int i = 0; i < 4; ++i) {
    auto spec = f.k.spec(i);
    spec.shutdown = std::chrono::milliseconds(100);
    REQUIRE(f.root.add_child(spec));
  }
  REQUIRE(f.tree->start());
  f.k.command(1, hang);
  REQUIRE(eventually([&] { return f.k.ctl[1].cmd.load() == run; }));  // c1 took the command
  auto stopped = f.tree->stop();
  REQUIRE_FALSE(stopped);
  CHECK(stopped.error() == errc::timeout);
  CHECK(std::string(stopped.error().subject) == "c1");
  CHECK(stopped.error().value == 1);
  CHECK(f.events.count(tree_event_kind::child_hung) == 1);
  for (int i : {0, 2, 3}) CHECK(f.k.ctl[i].releases == 1);
  auto snap = std::make_unique<steward::child_snapshot[]>(8);
  auto n = f.tree->snapshot(snap.get(), 8);
  REQUIRE(n);
  CHECK(snap[1].quarantined);
  f.k.ctl[1].hang_release = true;
  REQUIRE(f.k.workers[1]->stop(k_ack));
  CHECK(f.tree->stop());
  CHECK(f.k.ctl[1].releases == 1);
}

TEST_CASE("parallel: start launches every child, then waits, and a failed initialisation rolls all back" *
          doctest::timeout(120)) {
  tree_fixture f(strategy::one_for_one);
  REQUIRE(f.root.configure(parallel_config("root")));
  f.add(0);
  f.add(1);
  auto bad = f.k.spec(2);
  bad.body = [](steward::worker_context&) -> steward::result<void> {
    return steward::fail(errc::io_error, "no device", 5);
  };
  REQUIRE(f.root.add_child(bad));
  f.add(3);
  auto started = f.tree->start();
  REQUIRE_FALSE(started);
  CHECK(started.error() == errc::io_error);
  CHECK(std::string(started.error().subject) == "c2");
  for (int i : {0, 1, 3}) {
    CHECK(f.k.ctl[i].releases == f.k.starts(i));  // launched ones were stopped and released
    CHECK(steward::is_terminal(f.k.workers[i]->state()));
  }
  CHECK(f.tree->state() == tree_state::idle);
}

TEST_CASE("parallel: a one_for_all restart stops the siblings in one round and brings all back" *
          doctest::timeout(120)) {
  barrier_kit k;
  steward::supervisor<barrier_kit::k_children> root(parallel_config("root", strategy::one_for_all));
  for (int i = 0; i < barrier_kit::k_children; ++i) REQUIRE(root.add_child(k.spec(i)));
  auto tree = std::make_unique<test_tree>(root);
  event_log events;
  REQUIRE(tree->set_event_hook(&event_log::hook, &events));
  REQUIRE(tree->start());
  k.exempt = 0;  // p0 fails by itself; the barrier then needs the 5 siblings stopped together
  k.fail_next = 0;
  k.note.notify_all();
  REQUIRE(eventually([&] { return events.count(tree_event_kind::child_restarted) == barrier_kit::k_children; }));
  CHECK(k.starts == 2 * barrier_kit::k_children);
  CHECK(tree->state() == tree_state::running);
  k.saw_stop = 0;
  k.exempt = -1;
  CHECK(tree->stop());
  CHECK(k.released == 2 * barrier_kit::k_children);
}
