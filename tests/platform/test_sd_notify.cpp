// The service manager's notification protocol, against a local AF_UNIX datagram socket that
// plays systemd's part. A datagram sent to a local socket is queued on the receiver before
// sendto() returns, so each check reads it with MSG_DONTWAIT: no waiting, no timing.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "alloc_counter.hpp"
#include "notify_listener.hpp"
#include "steward/platform/sd_notify.hpp"

using steward::errc;
using steward::platform::notify_environment;
using steward::platform::notify_flags;
using steward::platform::sd_notifier;
using testutil::notify_listener;

namespace {

std::string own_pid() {
  return std::to_string(::getpid());
}

}  // namespace

TEST_CASE("sd_notify: no NOTIFY_SOCKET makes every message a no-op that succeeds") {
  sd_notifier sd;
  CHECK(sd.open(notify_environment{}).has_value());
  CHECK_FALSE(sd.enabled());
  CHECK_FALSE(sd.watchdog_enabled());
  CHECK(sd.watchdog_period() == steward::duration::zero());
  CHECK(sd.ready("up").has_value());
  CHECK(sd.watchdog().has_value());
  CHECK(sd.status("s").has_value());
  CHECK(sd.stopping().has_value());

  SUBCASE("an empty NOTIFY_SOCKET is the same as none") {
    notify_environment env;
    env.notify_socket = "";
    env.watchdog_usec = "1000000";
    sd_notifier other;
    CHECK(other.open(env).has_value());
    CHECK_FALSE(other.enabled());
    CHECK_FALSE(other.watchdog_enabled());
  }
  SUBCASE("from the environment, unset") {
    ::unsetenv("NOTIFY_SOCKET");
    sd_notifier from_env;
    CHECK(from_env.open_from_environment().has_value());
    CHECK_FALSE(from_env.enabled());
    CHECK(from_env.ready().has_value());
  }
}

TEST_CASE("sd_notify: READY, STATUS, WATCHDOG and STOPPING reach a socket named by a path") {
  notify_listener manager(notify_listener::kind::path);
  REQUIRE(manager.is_open());
  notify_environment env;
  env.notify_socket = manager.name().c_str();
  const std::string pid = own_pid();
  env.watchdog_usec = "4000000";
  env.watchdog_pid = pid.c_str();
  sd_notifier sd;
  REQUIRE(sd.open(env).has_value());
  CHECK(sd.enabled());
  CHECK(sd.watchdog_enabled());
  CHECK(sd.watchdog_period() == std::chrono::seconds(4));

  CHECK(sd.ready().has_value());
  CHECK(manager.next() == "READY=1\n");
  CHECK(sd.status("3 running").has_value());
  CHECK(manager.next() == "STATUS=3 running\n");
  CHECK(sd.watchdog().has_value());
  CHECK(manager.next() == "WATCHDOG=1\n");
  CHECK(sd.stopping("bye").has_value());
  CHECK(manager.next() == "STOPPING=1\nSTATUS=bye\n");
  CHECK(sd.notify(notify_flags::ready | notify_flags::watchdog, "all at once").has_value());
  CHECK(manager.next() == "READY=1\nWATCHDOG=1\nSTATUS=all at once\n");
  CHECK(manager.next().empty());  // nothing else was sent
}

TEST_CASE("sd_notify: an abstract socket name (@name) is reached in the abstract namespace") {
  notify_listener manager(notify_listener::kind::abstract);
  REQUIRE(manager.is_open());
  REQUIRE(manager.name()[0] == '@');
  notify_environment env;
  env.notify_socket = manager.name().c_str();
  env.watchdog_usec = "250000";
  sd_notifier sd;
  REQUIRE(sd.open(env).has_value());
  CHECK(sd.watchdog_period() == std::chrono::milliseconds(250));  // WATCHDOG_PID unset: ours
  CHECK(sd.ready("ok").has_value());
  CHECK(manager.next() == "READY=1\nSTATUS=ok\n");
  CHECK(sd.watchdog().has_value());
  CHECK(manager.next() == "WATCHDOG=1\n");
}

TEST_CASE("sd_notify: the environment is read as systemd sets it") {
  notify_listener manager(notify_listener::kind::abstract);
  REQUIRE(manager.is_open());
  const std::string pid = own_pid();
  REQUIRE(::setenv("NOTIFY_SOCKET", manager.name().c_str(), 1) == 0);
  REQUIRE(::setenv("WATCHDOG_USEC", "2000000", 1) == 0);
  REQUIRE(::setenv("WATCHDOG_PID", pid.c_str(), 1) == 0);
  sd_notifier sd;
  const auto opened = sd.open_from_environment();
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  REQUIRE(opened.has_value());
  CHECK(sd.watchdog_period() == std::chrono::seconds(2));
  CHECK(sd.watchdog().has_value());
  CHECK(manager.next() == "WATCHDOG=1\n");
}

TEST_CASE("sd_notify: a WATCHDOG_PID naming another process means no watchdog for us") {
  notify_listener manager(notify_listener::kind::path);
  REQUIRE(manager.is_open());
  notify_environment env;
  env.notify_socket = manager.name().c_str();
  env.watchdog_usec = "1000000";
  const std::string other = std::to_string(::getpid() + 1);
  env.watchdog_pid = other.c_str();
  sd_notifier sd;
  REQUIRE(sd.open(env).has_value());
  CHECK(sd.enabled());
  CHECK_FALSE(sd.watchdog_enabled());
  CHECK(sd.watchdog_period() == steward::duration::zero());
  CHECK(sd.watchdog().has_value());  // a no-op, not an error
  CHECK(manager.next().empty());
  CHECK(sd.notify(notify_flags::watchdog, "still here").has_value());
  CHECK(manager.next() == "STATUS=still here\n");  // the rest of the message still goes out
  CHECK(sd.ready().has_value());
  CHECK(manager.next() == "READY=1\n");
}

TEST_CASE("sd_notify: a STATUS text is one line, cut to fit the fixed buffer") {
  notify_listener manager(notify_listener::kind::abstract);
  REQUIRE(manager.is_open());
  notify_environment env;
  env.notify_socket = manager.name().c_str();
  sd_notifier sd;
  REQUIRE(sd.open(env).has_value());
  CHECK(sd.status("first line\nREADY=1").has_value());  // no assignment smuggled in
  CHECK(manager.next() == "STATUS=first line\n");
  const std::string long_text(2 * steward::platform::k_notify_message_bytes, 'x');
  CHECK(sd.status(long_text.c_str()).has_value());
  const std::string got = manager.next();
  CHECK(got.size() == steward::platform::k_notify_message_bytes);
  CHECK(got.compare(0, 7, "STATUS=") == 0);
  CHECK(got.back() == '\n');
}

TEST_CASE("sd_notify: malformed settings are refused by name and nothing is opened") {
  struct bad_case {
    const char* socket;
    const char* usec;
    const char* pid;
    const char* subject;
  };
  const std::string too_long = "/" + std::string(steward::platform::k_notify_socket_name_bytes, 'a');
  const bad_case cases[] = {
      {"relative/path", nullptr, nullptr, "NOTIFY_SOCKET"},
      {"vsock:2:1234", nullptr, nullptr, "NOTIFY_SOCKET"},
      {"@", nullptr, nullptr, "NOTIFY_SOCKET"},
      {too_long.c_str(), nullptr, nullptr, "NOTIFY_SOCKET"},
      {"@x", "", nullptr, "WATCHDOG_USEC"},
      {"@x", "0", nullptr, "WATCHDOG_USEC"},
      {"@x", "12s", nullptr, "WATCHDOG_USEC"},
      {"@x", "-5", nullptr, "WATCHDOG_USEC"},
      {"@x", "99999999999999999999999", nullptr, "WATCHDOG_USEC"},
      {"@x", "1000", "abc", "WATCHDOG_PID"},
      {"@x", "1000", "0", "WATCHDOG_PID"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.socket);
    CAPTURE(c.subject);
    notify_environment env;
    env.notify_socket = c.socket;
    env.watchdog_usec = c.usec;
    env.watchdog_pid = c.pid;
    sd_notifier sd;
    const auto opened = sd.open(env);
    REQUIRE_FALSE(opened.has_value());
    CHECK(opened.error().code == errc::invalid_argument);
    CHECK(std::strcmp(opened.error().subject, c.subject) == 0);
    CHECK_FALSE(sd.enabled());
  }
  // The longest name that fits is accepted.
  const std::string longest = "/" + std::string(steward::platform::k_notify_socket_name_bytes - 1, 'a');
  notify_environment env;
  env.notify_socket = longest.c_str();
  sd_notifier sd;
  CHECK(sd.open(env).has_value());
  CHECK(sd.enabled());
}

TEST_CASE("sd_notify: nobody listening is an error value, and a second open is refused") {
  notify_environment env;
  env.notify_socket = "@steward-test-nobody-listens-here";
  sd_notifier sd;
  REQUIRE(sd.open(env).has_value());
  const auto sent = sd.ready();
  REQUIRE_FALSE(sent.has_value());
  CHECK(sent.error().code == errc::platform_error);
  CHECK(sent.error().value == ECONNREFUSED);
  const auto again = sd.open(env);
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().code == errc::already_running);
  sd.close();
  CHECK_FALSE(sd.enabled());
  CHECK(sd.ready().has_value());  // closed: a no-op again
}

TEST_CASE("sd_notify: a full manager queue is reported, never waited for") {
  notify_listener manager(notify_listener::kind::abstract);
  REQUIRE(manager.is_open());
  notify_environment env;
  env.notify_socket = manager.name().c_str();
  sd_notifier sd;
  REQUIRE(sd.open(env).has_value());
  // The manager reads nothing: the queue (net.unix.max_dgram_qlen, 10 by default, or the
  // receive buffer) fills, and then the send fails at once instead of blocking.
  steward::result<void> sent{};
  int accepted = 0;
  for (; accepted < 100000 && sent.has_value(); ++accepted) sent = sd.status("queue filler");
  REQUIRE_FALSE(sent.has_value());
  CHECK(sent.error().code == errc::resource_exhausted);
  CHECK(manager.next() == "STATUS=queue filler\n");  // what was queued is intact
}

TEST_CASE("sd_notify: sending allocates nothing") {
  notify_listener manager(notify_listener::kind::abstract);
  REQUIRE(manager.is_open());
  notify_environment env;
  env.notify_socket = manager.name().c_str();
  env.watchdog_usec = "1000000";
  sd_notifier sd;
  REQUIRE(sd.open(env).has_value());
  if (testutil::alloc_counting_mode() == 0) {
    MESSAGE("skipped: allocations cannot be counted in this build");
    return;
  }
  bool all_sent = true;
  std::uint64_t allocations = 0;
  {
    const testutil::alloc_scope scope;
    for (int i = 0; i < 5; ++i) {
      all_sent = sd.notify(notify_flags::watchdog, "counting").has_value() && manager.drain_one() && all_sent;
    }
    allocations = scope.all_threads();
  }
  CHECK(all_sent);
  CHECK(allocations == 0);
}
