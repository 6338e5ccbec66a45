// Issue 12, item 2: the demo under a service manager. The test plays systemd: it binds the
// notification socket, starts the demo with NOTIFY_SOCKET and WATCHDOG_USEC set (as systemd
// does for Type=notify with WatchdogSec=), reads every datagram while the demo runs, and checks
// the protocol after the demo has exited. The demo's end is seen as the end of its stdout, so
// nothing here waits for a time.
#include <doctest/doctest.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "notify_listener.hpp"

namespace {

struct demo_run {
  int exit_code{-1};
  std::string output;
  std::vector<std::string> messages;
};

#if defined(STEWARD_DEMO_PATH)
demo_run run_demo_under(testutil::notify_listener& manager, const std::string& watchdog_pid) {
  demo_run run;
  int out[2];
  if (::pipe(out) != 0) return run;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  posix_spawn_file_actions_addclose(&actions, out[1]);
  std::string socket_var = "NOTIFY_SOCKET=" + manager.name();
  std::string usec_var = "WATCHDOG_USEC=200000";  // a feed every 100 ms
  std::string pid_var = "WATCHDOG_PID=" + watchdog_pid;
  std::string log_path = std::string(STEWARD_TEST_BINARY_DIR) + "/issue12-demo.log";
  std::string demo = STEWARD_DEMO_PATH;
  std::vector<char*> env{socket_var.data(), usec_var.data()};
  if (!watchdog_pid.empty()) env.push_back(pid_var.data());
  env.push_back(nullptr);
  char* argv[] = {demo.data(), log_path.data(), nullptr};
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, demo.c_str(), &actions, nullptr, argv, env.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (spawned != 0) {
    ::close(out[0]);
    return run;
  }
  // Read datagrams as they come (the socket's queue is short) until the demo's stdout closes.
  pollfd fds[2] = {{manager.fd(), POLLIN, 0}, {out[0], POLLIN, 0}};
  for (bool open = true; open;) {
    if (::poll(fds, 2, -1) < 0) continue;
    if ((fds[0].revents & POLLIN) != 0) run.messages.push_back(manager.next());
    if ((fds[1].revents & (POLLIN | POLLHUP)) != 0) {
      char buffer[4096];
      const auto got = ::read(out[0], buffer, sizeof buffer);
      if (got > 0) run.output.append(buffer, static_cast<std::size_t>(got));
      open = got > 0;
    }
  }
  ::close(out[0]);
  int status = 0;
  if (::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  for (std::string m = manager.next(); !m.empty(); m = manager.next()) run.messages.push_back(m);
  return run;
}
#endif

[[maybe_unused]] int index_of(const std::vector<std::string>& messages, const std::string& prefix, bool last = false) {
  int found = -1;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].compare(0, prefix.size(), prefix) == 0) {
      found = static_cast<int>(i);
      if (!last) break;
    }
  }
  return found;
}

}  // namespace

TEST_CASE("issue12: the demo sends READY=1, WATCHDOG=1 while healthy and STOPPING=1 to NOTIFY_SOCKET" *
          doctest::timeout(60)) {
#if !defined(STEWARD_DEMO_PATH)
  MESSAGE("skipped: the demo is not built (STEWARD_BUILD_EXAMPLES=OFF) or cannot be run (cross build)");
#else
  testutil::notify_listener manager(testutil::notify_listener::kind::abstract);
  REQUIRE(manager.is_open());
  const auto run = run_demo_under(manager, "");
  CHECK(run.exit_code == 0);
  CHECK(run.output.find("DEMO OK") != std::string::npos);
  REQUIRE(!run.messages.empty());
  CHECK(run.messages.front() ==
        "READY=1\nSTATUS=running: 3 running, 0 paused, 0 restarting, 0 failed, 0 hung\n");
  CHECK(run.messages.back() == "STOPPING=1\nSTATUS=stopping\n");
  const int first_watchdog = index_of(run.messages, "WATCHDOG=1\n");
  const int last_watchdog = index_of(run.messages, "WATCHDOG=1\n", true);
  CHECK(first_watchdog == 1);              // the feeder's first tick follows READY=1 at once
  CHECK(last_watchdog >= first_watchdog);  // and none after STOPPING=1, which is last
  for (const auto& m : run.messages) {
    // Every message is one of the protocol's assignments, newline-terminated.
    CHECK((m.rfind("READY=1\n", 0) == 0 || m.rfind("WATCHDOG=1\n", 0) == 0 || m.rfind("STATUS=", 0) == 0 ||
           m.rfind("STOPPING=1\n", 0) == 0));
    CHECK(m.back() == '\n');
  }
#endif
}

TEST_CASE("issue12: under a WATCHDOG_PID of another process the demo sends no WATCHDOG=1" *
          doctest::timeout(60)) {
#if !defined(STEWARD_DEMO_PATH)
  MESSAGE("skipped: the demo is not built (STEWARD_BUILD_EXAMPLES=OFF) or cannot be run (cross build)");
#else
  testutil::notify_listener manager(testutil::notify_listener::kind::path);
  REQUIRE(manager.is_open());
  const auto run = run_demo_under(manager, "1");  // pid 1: never the demo
  CHECK(run.exit_code == 0);
  REQUIRE(!run.messages.empty());
  CHECK(run.messages.front().rfind("READY=1\n", 0) == 0);
  CHECK(run.messages.back() == "STOPPING=1\nSTATUS=stopping\n");
  CHECK(index_of(run.messages, "WATCHDOG=1") == -1);
#endif
}
