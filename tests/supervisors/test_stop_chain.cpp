// The sequential stop's hand-off chain (NOTE-4 in supervisor.cpp): each stopped child's exit,
// on its own thread, asks the sibling stopped next - strict reverse order kept, deadlines per
// child kept, and a child that hangs or ends on its own early breaks the chain safely.
// Seeded mutants (on_worker_exit in supervisor.cpp), each caught here: without the stop_sent
// guard, "ends on its own before its turn" fails (child 0 asked too early); without the
// hand-off itself, all four fail (every child asked by the stopper).
#include <string>
#include <thread>

#include "supervisor_kit.hpp"

using namespace testutil;
using steward::tree_state;

namespace {

constexpr int k_n = 4;
constexpr int k_controller = -1;  // "asked by the stopper's own thread"

enum class step_kind : int { stop_callback = 1, released = 2 };

// Children that sleep until stopped, recording which thread asked each one to stop (the
// stop callback runs on whoever set the stop flag) and the order of asks and releases.
struct chain_fixture {
  std::unique_ptr<test_worker> workers[k_n];
  std::atomic<int> asked_by[k_n];
  std::atomic<int> steps[64]{};
  std::atomic<int> step_count{0};
  std::atomic<bool> hang_release{false};
  std::atomic<int> hang_child{-1};        // this child ignores its stop until hang_release
  std::atomic<int> hanging{0};            // set once the hanging child ignores its stop
  std::atomic<int> return_child{-1};      // this child returns on its own when told
  std::atomic<bool> return_now{false};
  std::atomic<int> ready{0};              // bodies whose stop callback is attached
  steward::notifier note;
  steward::supervisor<8> root;
  std::unique_ptr<test_tree> tree;

  explicit chain_fixture(steward::strategy s = steward::strategy::one_for_one) {
    for (auto& w : workers) w = std::make_unique<test_worker>();
    for (auto& a : asked_by) a = -2;
    steward::supervisor_config cfg;
    cfg.name = "root";
    cfg.restart_strategy = s;
    cfg.intensity = 10;
    REQUIRE(root.configure(cfg));
    tree = std::make_unique<test_tree>(root);
  }
  ~chain_fixture() { hang_release = true; }

  void record(step_kind kind, int child) { steps[step_count.fetch_add(1)] = static_cast<int>(kind) * 16 + child; }
  int step(int at) const { return steps[at].load(); }
  static int encode(step_kind kind, int child) { return static_cast<int>(kind) * 16 + child; }

  int asking_thread() const {
    for (int j = 0; j < k_n; ++j) {
      if (workers[j]->is_current_thread()) return j;
    }
    return k_controller;
  }

  steward::child_spec spec(int i, steward::duration shutdown = std::chrono::seconds(30)) {
    steward::child_spec s;
    s.id = kit::k_ids[i];
    s.worker_slot = workers[i].get();
    s.restart = steward::restart_type::permanent;
    s.shutdown = shutdown;
    chain_fixture* self = this;
    s.body = [self, i](steward::worker_context& ctx) -> steward::result<void> {
      STEWARD_TRY(ctx.defer([self, i] { self->record(step_kind::released, i); }));
      steward::stop_callback on_stop(ctx, [self, i] {
        self->asked_by[i] = self->asking_thread();
        self->record(step_kind::stop_callback, i);
      });
      ctx.declare_initialised();
      self->ready.fetch_add(1);
      if (self->hang_child.load() == i) {
        while (!on_stop.invoked()) std::this_thread::yield();
        self->hanging = 1;
        while (!self->hang_release.load()) std::this_thread::yield();  // ignores its stop
        return {};
      }
      // One return per telling: the exchange makes the next incarnation wait again.
      auto told = [self, i] { return self->return_child.load() == i && self->return_now.exchange(false); };
      auto woke = ctx.wait_until(self->note, told, steward::never);
      if (!woke) {
        // The asker wakes this worker before it runs the stop callbacks; wait for ours to have
        // run, or its record (who asked) would be lost when the callback leaves scope.
        while (!on_stop.invoked()) std::this_thread::yield();
        return woke;
      }
      return {};  // returned on its own
    };
    return s;
  }
  void add_all(steward::duration shutdown = std::chrono::seconds(30)) {
    for (int i = 0; i < k_n; ++i) REQUIRE(root.add_child(spec(i, shutdown)));
  }
  void start_and_wait_running() {
    ready = 0;
    REQUIRE(tree->start());
    REQUIRE(eventually([&] { return ready.load() == k_n; }));
  }
};

}  // namespace

TEST_CASE("stop chain: each child of a sequential stop is asked by the sibling stopped before it" *
          doctest::timeout(60)) {
  chain_fixture f;
  f.add_all();
  f.start_and_wait_running();
  REQUIRE(f.tree->stop());
  // The newest is asked by the stopper; every other one by the exit of the one after it.
  CHECK(f.asked_by[3].load() == k_controller);
  CHECK(f.asked_by[2].load() == 3);
  CHECK(f.asked_by[1].load() == 2);
  CHECK(f.asked_by[0].load() == 1);
  // Strict reverse order: a child is asked only once the one after it has released everything.
  REQUIRE(f.step_count.load() == 2 * k_n);
  for (int i = 0; i < k_n; ++i) {
    const int child = k_n - 1 - i;
    CHECK(f.step(2 * i) == chain_fixture::encode(step_kind::stop_callback, child));
    CHECK(f.step(2 * i + 1) == chain_fixture::encode(step_kind::released, child));
  }
  for (auto& w : f.workers) CHECK(w->state() == steward::worker_state::stopped);
}

TEST_CASE("stop chain: a child that ends on its own before its turn asks nobody" * doctest::timeout(60)) {
  chain_fixture f;
  f.hang_child = 3;  // holds the stop at the newest child while child 1 ends by itself
  f.return_child = 1;
  f.add_all();
  f.start_and_wait_running();
  steward::result<void> stopped;
  std::thread stopper([&] { stopped = f.tree->stop(); });
  REQUIRE(eventually([&] { return f.hanging.load() == 1; }));  // the stop has reached child 3
  f.return_now = true;
  f.note.notify_all();
  REQUIRE(eventually([&] { return steward::is_terminal(f.workers[1]->state()); }));
  // Child 1's own exit must not have asked child 0: children 3 and 2 are not done yet.
  CHECK(f.asked_by[0].load() == -2);
  f.hang_release = true;
  stopper.join();
  REQUIRE(stopped);
  CHECK(f.asked_by[2].load() == 3);
  CHECK(f.asked_by[1].load() == -2);  // it had ended: nobody asked it
  // Child 0 is asked by the stopper: child 1 ended before the chain reached it.
  CHECK(f.asked_by[0].load() == k_controller);
  // Child 0 released only after children 3 and 2 did.
  int released[k_n] = {};
  int n = 0;
  for (int at = 0; at < f.step_count.load(); ++at) {
    for (int c = 0; c < k_n; ++c) {
      if (f.step(at) == chain_fixture::encode(step_kind::released, c)) released[n++] = c;
    }
  }
  REQUIRE(n == k_n);
  CHECK(released[0] == 1);
  CHECK(released[1] == 3);
  CHECK(released[2] == 2);
  CHECK(released[3] == 0);
}

TEST_CASE("stop chain: a child that misses its deadline is quarantined and the stopper asks the next" *
          doctest::timeout(60)) {
  chain_fixture f;
  f.hang_child = 2;
  for (int i = 0; i < k_n; ++i) {
    REQUIRE(f.root.add_child(f.spec(i, i == 2 ? std::chrono::milliseconds(20) : std::chrono::seconds(30))));
  }
  f.start_and_wait_running();
  const auto stopped = f.tree->stop();
  REQUIRE_FALSE(stopped);
  CHECK(stopped.error() == steward::errc::timeout);
  CHECK(std::string(stopped.error().subject) == "c2");
  CHECK(f.asked_by[2].load() == 3);
  CHECK(f.asked_by[1].load() == k_controller);  // the chain broke at the hung child
  CHECK(f.asked_by[0].load() == 1);             // and goes on from the next one
  CHECK(steward::is_terminal(f.workers[1]->state()));
  CHECK(steward::is_terminal(f.workers[0]->state()));
  // Its late exit finds the chain cleared: nobody is asked again.
  const int steps_before = f.step_count.load();
  f.hang_release = true;
  REQUIRE(eventually([&] { return steward::is_terminal(f.workers[2]->state()); }));
  CHECK(f.step_count.load() == steps_before + 1);  // only its own release
}

TEST_CASE("stop chain: a sequential one_for_all restart stops the siblings through the chain" *
          doctest::timeout(60)) {
  chain_fixture f(steward::strategy::one_for_all);
  f.return_child = 0;  // child 0 ends (a permanent child: a restart of the whole group)
  f.add_all();
  f.start_and_wait_running();
  f.ready = 0;
  f.return_now = true;
  f.note.notify_all();
  REQUIRE(eventually([&] { return f.ready.load() == k_n; }));  // all four running again
  // The siblings were stopped newest first, each asked by the one after it.
  CHECK(f.asked_by[3].load() == k_controller);
  CHECK(f.asked_by[2].load() == 3);
  CHECK(f.asked_by[1].load() == 2);
  REQUIRE(f.tree->stop());
}
