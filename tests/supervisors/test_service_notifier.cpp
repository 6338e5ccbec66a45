// A tree reported to the service manager: the STATUS= line follows snapshot(), and WATCHDOG=1
// goes out only while the tree is healthy. The manager is a local datagram socket
// (notify_listener); every datagram is queued before sendto() returns, so it is read at once.
#include <string>

#include "alloc_counter.hpp"
#include "notify_listener.hpp"
#include "steward/platform/sd_notify.hpp"
#include "steward/supervisors/service_notifier.hpp"
#include "supervisor_kit.hpp"

using namespace testutil;
using steward::child_kind;
using steward::child_snapshot;
using steward::errc;
using steward::notify_tick;
using steward::service_notifier;
using steward::strategy;
using steward::tree_event_kind;
using steward::tree_state;
using steward::worker_state;
using steward::platform::notify_environment;
using steward::platform::sd_notifier;

namespace {

// A manager listening on an abstract socket, with the watchdog on for this process.
struct manager_fixture {
  notify_listener manager{notify_listener::kind::abstract};
  sd_notifier sd;
  manager_fixture() {
    REQUIRE(manager.is_open());
    notify_environment env;
    env.notify_socket = manager.name().c_str();
    env.watchdog_usec = "2000000";
    REQUIRE(sd.open(env));
    REQUIRE(sd.watchdog_enabled());
  }
};

std::string status_line(const char* text) {
  return std::string("STATUS=") + text + "\n";
}

}  // namespace

TEST_CASE("service: summarise counts workers by state, and a hung child or a failed root is unhealthy") {
  child_snapshot records[7]{};
  records[0].kind = child_kind::supervisor;  // its workers are counted one by one
  records[0].state = worker_state::running;
  records[1].state = worker_state::running;
  records[2].state = worker_state::pausing;
  records[3].state = worker_state::paused;
  records[4].state = worker_state::failed;
  records[4].restart_pending = true;  // waiting for its backoff: restarting, not failed
  records[5].state = worker_state::failed;
  records[6].state = worker_state::stopped;
  auto h = steward::summarise(tree_state::running, records, 7);
  CHECK(h.running == 1);
  CHECK(h.paused == 2);
  CHECK(h.restarting == 1);
  CHECK(h.failed == 1);
  CHECK(h.stopped == 1);
  CHECK(h.hung == 0);
  CHECK(h.healthy);  // a failed temporary child, a pause and a restart are all in the policy

  records[0].restart_pending = true;  // a nested supervisor waiting for its restart counts once
  CHECK(steward::summarise(tree_state::running, records, 7).restarting == 2);

  records[6].state = worker_state::stopping;
  records[6].quarantined = true;
  h = steward::summarise(tree_state::running, records, 7);
  CHECK(h.hung == 1);
  CHECK(h.stopped == 0);
  CHECK_FALSE(h.healthy);

  records[6].quarantined = false;
  CHECK_FALSE(steward::summarise(tree_state::failed, records, 7).healthy);
  CHECK_FALSE(steward::summarise(tree_state::stopped, records, 7).healthy);
  CHECK_FALSE(steward::summarise(tree_state::idle, records, 7).healthy);

  char line[128];
  const auto n = steward::format_status(h, line, sizeof line);
  CHECK(std::string(line) == "running: 1 running, 2 paused, 2 restarting, 1 failed, 1 hung");
  CHECK(n == std::string(line).size());
  char tiny[8];
  CHECK(steward::format_status(h, tiny, sizeof tiny) == 7);  // cut to fit, terminated
  CHECK(std::string(tiny) == "running");
}

TEST_CASE("service: READY=1 with the status, then WATCHDOG=1 while healthy, STOPPING=1 at the end" *
          doctest::timeout(60)) {
  manager_fixture m;
  tree_fixture f(strategy::one_for_one);
  for (int i = 0; i < 3; ++i) f.add(i);
  service_notifier<8> notifier(*f.tree, m.sd);

  const auto early = notifier.ready();  // before start: no READY=1
  REQUIRE_FALSE(early);
  CHECK(early.error() == errc::not_running);
  CHECK(m.manager.next().empty());

  REQUIRE(f.tree->start());
  REQUIRE(notifier.ready());
  CHECK(m.manager.next() ==
        "READY=1\n" + status_line("running: 3 running, 0 paused, 0 restarting, 0 failed, 0 hung"));

  auto t = notifier.tick();
  REQUIRE(t);
  CHECK(t->health.healthy);
  CHECK(t->watchdog_sent);
  CHECK_FALSE(t->status_sent);  // the line has not changed
  CHECK(m.manager.next() == "WATCHDOG=1\n");

  REQUIRE(f.tree->pause(k_ack));  // a paused tree is healthy: the operator asked for it
  t = notifier.tick();
  REQUIRE(t);
  CHECK(t->watchdog_sent);
  CHECK(t->status_sent);
  CHECK(m.manager.next() ==
        "WATCHDOG=1\n" + status_line("running: 0 running, 3 paused, 0 restarting, 0 failed, 0 hung"));
  REQUIRE(f.tree->resume());

  REQUIRE(notifier.stopping());
  CHECK(m.manager.next() == "STOPPING=1\n" + status_line("stopping"));
  REQUIRE(f.tree->stop());
  t = notifier.tick();  // a stopped tree is not fed
  REQUIRE(t);
  CHECK_FALSE(t->health.healthy);
  CHECK_FALSE(t->watchdog_sent);
  CHECK(m.manager.next() == status_line("stopped: 0 running, 0 paused, 0 restarting, 0 failed, 0 hung"));
  CHECK(m.manager.next().empty());
}

TEST_CASE("service: a hung child stops the watchdog until its slot is usable again" * doctest::timeout(60)) {
  manager_fixture m;
  tree_fixture f(strategy::one_for_one);
  f.add(0);
  auto stubborn = f.k.spec(1);
  stubborn.shutdown = std::chrono::milliseconds(20);
  REQUIRE(f.root.add_child(stubborn));
  service_notifier<8> notifier(*f.tree, m.sd);
  REQUIRE(f.tree->start());
  REQUIRE(notifier.ready());
  CHECK_FALSE(m.manager.next().empty());

  f.k.command(1, hang);
  REQUIRE(eventually([&] { return f.k.ctl[1].cmd.load() == run; }));  // it took the command
  const auto terminated = f.tree->terminate_child(f.root, "c1");
  REQUIRE_FALSE(terminated);
  CHECK(terminated.error() == errc::timeout);  // quarantined
  auto t = notifier.tick();
  REQUIRE(t);
  CHECK_FALSE(t->health.healthy);
  CHECK(t->health.hung == 1);
  CHECK_FALSE(t->watchdog_sent);
  CHECK(m.manager.next() == status_line("running: 1 running, 0 paused, 0 restarting, 0 failed, 1 hung"));
  t = notifier.tick();  // still hung: nothing at all (the status is unchanged)
  REQUIRE(t);
  CHECK_FALSE(t->watchdog_sent);
  CHECK(m.manager.next().empty());

  f.k.ctl[1].hang_release = true;
  REQUIRE(eventually([&] { return steward::is_terminal(f.k.workers[1]->state()); }));
  REQUIRE(f.tree->restart_child(f.root, "c1"));  // the slot is usable again
  REQUIRE(eventually([&] { return f.k.workers[1]->state() == worker_state::running; }));
  t = notifier.tick();
  REQUIRE(t);
  CHECK(t->health.healthy);
  CHECK(m.manager.next() ==
        "WATCHDOG=1\n" + status_line("running: 2 running, 0 paused, 0 restarting, 0 failed, 0 hung"));
  REQUIRE(f.tree->stop());
}

TEST_CASE("service: a root that gave up gets no WATCHDOG=1" * doctest::timeout(60)) {
  manager_fixture m;
  tree_fixture f(strategy::one_for_one, 0);  // intensity 0: the first failure ends the tree
  f.add(0);
  f.add(1);
  service_notifier<8> notifier(*f.tree, m.sd);
  REQUIRE(f.tree->start());
  REQUIRE(notifier.ready());
  CHECK_FALSE(m.manager.next().empty());
  f.k.command(0, return_error);
  REQUIRE(f.tree->wait(k_ack));
  REQUIRE(f.tree->state() == tree_state::failed);
  auto t = notifier.tick();
  REQUIRE(t);
  CHECK_FALSE(t->health.healthy);
  CHECK_FALSE(t->watchdog_sent);
  const std::string got = m.manager.next();
  CHECK(got.compare(0, std::string("STATUS=failed: ").size(), "STATUS=failed: ") == 0);
  CHECK(got.find("WATCHDOG") == std::string::npos);
}

TEST_CASE("service: a child waiting for its backoff counts as restarting and keeps the tree healthy" *
          doctest::timeout(60)) {
  manager_fixture m;
  tree_fixture f(strategy::one_for_one);
  steward::supervisor_config cfg = f.root.config();
  cfg.backoff.base = std::chrono::hours(1);  // the restart stays pending for the whole test
  cfg.backoff.cap = std::chrono::hours(1);
  REQUIRE(f.root.configure(cfg));
  f.add(0);
  f.add(1);
  service_notifier<8> notifier(*f.tree, m.sd);
  REQUIRE(f.tree->start());
  f.k.command(0, return_error);
  REQUIRE(eventually([&] { return f.events.count(tree_event_kind::backoff_scheduled) == 1; }));
  auto t = notifier.tick();
  REQUIRE(t);
  CHECK(t->health.restarting == 1);
  CHECK(t->health.healthy);
  CHECK(m.manager.next() ==
        "WATCHDOG=1\n" + status_line("running: 1 running, 0 paused, 1 restarting, 0 failed, 0 hung"));
  REQUIRE(f.tree->stop());
}

TEST_CASE("service: a snapshot that does not fit is an error and sends nothing" * doctest::timeout(60)) {
  manager_fixture m;
  tree_fixture f(strategy::one_for_one);
  for (int i = 0; i < 3; ++i) f.add(i);
  service_notifier<2> notifier(*f.tree, m.sd);
  REQUIRE(f.tree->start());
  const auto r = notifier.ready();
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::capacity_exceeded);
  CHECK(r.error().value == 3);
  const auto t = notifier.tick();
  REQUIRE_FALSE(t);
  CHECK(t.error() == errc::capacity_exceeded);
  CHECK(m.manager.next().empty());
  REQUIRE(f.tree->stop());
}

TEST_CASE("service: without a service manager tick() still reports the health and sends nothing" *
          doctest::timeout(60)) {
  sd_notifier sd;
  REQUIRE(sd.open(notify_environment{}));
  tree_fixture f(strategy::one_for_one);
  f.add(0);
  service_notifier<4> notifier(*f.tree, sd);
  REQUIRE(f.tree->start());
  REQUIRE(notifier.ready());
  const auto t = notifier.tick();
  REQUIRE(t);
  CHECK(t->health.healthy);
  CHECK(t->health.running == 1);
  CHECK_FALSE(t->watchdog_sent);
  CHECK_FALSE(t->status_sent);
  REQUIRE(notifier.stopping());
  REQUIRE(f.tree->stop());
}

TEST_CASE("no heap: a service tick allocates nothing" * doctest::timeout(60)) {
  manager_fixture m;
  tree_fixture f(strategy::one_for_one);
  for (int i = 0; i < 3; ++i) f.add(i);
  service_notifier<8> notifier(*f.tree, m.sd);
  REQUIRE(f.tree->start());
  REQUIRE(notifier.ready());
  if (alloc_counting_mode() == 0) {
    MESSAGE("skipped: allocations cannot be counted in this build");
    REQUIRE(f.tree->stop());
    return;
  }
  bool ok = true;
  std::uint64_t allocations = 0;
  {
    const alloc_scope scope;
    for (int i = 0; i < 100; ++i) ok = notifier.tick().has_value() && m.manager.drain_one() && ok;
    allocations = scope.this_thread();
  }
  CHECK(ok);
  CHECK(allocations == 0);
  REQUIRE(f.tree->stop());
}
