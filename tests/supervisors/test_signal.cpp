// INV-19: the one async-signal-safe entry point, a stop request, used from a real signal handler
// (ThreadSanitizer reports any signal-unsafe call made inside it).
#include <csignal>

#include "supervisor_kit.hpp"

using namespace testutil;
using steward::exit_reason;
using steward::strategy;
using steward::tree_state;
using steward::worker_state;

namespace {
std::atomic<steward::worker*> g_worker_target{nullptr};
std::atomic<steward::tree_base*> g_tree_target{nullptr};

extern "C" void on_sigusr1(int) {
  if (auto* w = g_worker_target.load()) w->request_stop_async();
  if (auto* t = g_tree_target.load()) t->request_stop_async();
}

struct handler_scope {
  struct sigaction previous {};
  handler_scope() {
    struct sigaction sa {};
    sa.sa_handler = &on_sigusr1;
    sigemptyset(&sa.sa_mask);
    REQUIRE(sigaction(SIGUSR1, &sa, &previous) == 0);
  }
  ~handler_scope() {
    sigaction(SIGUSR1, &previous, nullptr);
    g_worker_target = nullptr;
    g_tree_target = nullptr;
  }
};
}  // namespace

TEST_CASE("signal: a handler stops a sleeping worker, then stop() collects the report" *
          doctest::timeout(60)) {
  handler_scope scope;
  steward::worker_config cfg;
  cfg.name = "sleeper";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    for (;;) STEWARD_TRY(ctx.sleep_for(std::chrono::hours(1)));
  };
  auto w = make_worker(cfg);
  REQUIRE(w->start());
  REQUIRE(eventually([&] { return w->state() == worker_state::running; }));
  g_worker_target = w.get();
  REQUIRE(std::raise(SIGUSR1) == 0);
  REQUIRE(w->join(k_ack));  // the hour did not pass
  CHECK(w->state() == worker_state::stopped);
  auto report = w->stop(k_ack);
  REQUIRE(report);
  CHECK(report->reason == exit_reason::stopped);
}

TEST_CASE("signal: a handler stops a whole tree in reverse order, resources released once" *
          doctest::timeout(60)) {
  handler_scope scope;
  tree_fixture f(strategy::one_for_one);
  for (int i = 0; i < 3; ++i) f.add(i);
  REQUIRE(f.tree->start());
  REQUIRE(eventually([&] { return f.k.trace_done.load() == 3; }));
  g_tree_target = f.tree.get();
  REQUIRE(std::raise(SIGUSR1) == 0);
  REQUIRE(f.tree->wait(k_ack));
  CHECK(f.tree->state() == tree_state::stopped);
  for (int i = 0; i < 3; ++i) CHECK(f.k.ctl[i].releases == 1);
  for (int i = 0; i < 3; ++i) CHECK(f.k.trace[3 + i] == -(3 - i));  // reverse order
  CHECK(f.tree->stop());                                            // idempotent: collects the runner
}
