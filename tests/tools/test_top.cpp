// steward-top against servers that misbehave: one that never answers, one whose queue is full,
// and one that goes away between two requests. steward-top runs as a child process (--once,
// stdout and stderr to files); each test asserts how it ended and what it said. The fake servers
// are built from the platform's socket and plain POSIX calls, so each step they take is known:
// a listener that is never accepted from answers nothing, and shutdown(SHUT_RD) makes the next
// write of the client fail with EPIPE every time, without any timing.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.hpp"
#include "steward/platform/local_socket.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): posix_spawn's environment

namespace platform = steward::platform;
using testutil::temp_dir;

namespace {

std::string contents(const std::string& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// How one run of steward-top ended.
struct run_result {
  bool exited{false};  // false: killed by a signal
  int status{-1};      // exit status, or the signal
  std::string out, err;
};

run_result run_top(const temp_dir& tmp, std::vector<std::string> args) {
  args.insert(args.begin(), STEWARD_TOP_PATH);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string out = tmp.path + "/out";
  const std::string err = tmp.path + "/err";
  posix_spawn_file_actions_t files;
  REQUIRE(::posix_spawn_file_actions_init(&files) == 0);
  ::posix_spawn_file_actions_addopen(&files, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ::posix_spawn_file_actions_addopen(&files, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, argv[0], &files, nullptr, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&files);
  REQUIRE(spawned == 0);
  int wstatus = 0;
  pid_t waited = -1;
  do {
    waited = ::waitpid(pid, &wstatus, 0);
  } while (waited < 0 && errno == EINTR);
  REQUIRE(waited == pid);
  run_result r;
  r.exited = WIFEXITED(wstatus);
  r.status = r.exited ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus);
  r.out = contents(out);
  r.err = contents(err);
  return r;
}

// Blocks until the listener has a connection and takes it.
int accept_one(const platform::local_listener& listener) {
  for (;;) {
    pollfd p{listener.native(), POLLIN, 0};
    if (::poll(&p, 1, -1) < 0 && errno != EINTR) return -1;
    auto peer = listener.accept();
    if (!peer) return -1;
    if (peer->fd >= 0) return peer->fd;
  }
}

// Reads from a non-blocking descriptor until `line` (with its '\n') has arrived.
bool read_line(int fd, const std::string& line) {
  std::string got;
  while (got.find('\n') == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, -1) < 0 && errno != EINTR) return false;
    char buf[64];
    auto r = platform::read_some(fd, buf, sizeof buf);
    if (!r || r->closed) return false;
    got.append(buf, r->bytes);
  }
  return got == line;
}

bool write_all(int fd, const std::string& text) {
  std::size_t at = 0;
  while (at < text.size()) {
    auto w = platform::write_some(fd, text.data() + at, text.size() - at);
    if (!w || w->closed) return false;
    if (w->would_block) {
      pollfd p{fd, POLLOUT, 0};
      static_cast<void>(::poll(&p, 1, -1));
    }
    at += w->bytes;
  }
  return true;
}

}  // namespace

TEST_CASE("steward-top: --once against a server that never answers ends with a timeout" *
          doctest::timeout(60)) {
  temp_dir tmp;
  platform::local_listener listener;  // listening, never accepted from: connect() completes, no greeting
  REQUIRE(listener.open((tmp.path + "/ctl").c_str(), "control").has_value());
  const run_result r = run_top(tmp, {"--once", "--timeout", "0.2", listener.path()});
  CHECK(r.exited);
  CHECK(r.status == 1);
  CHECK(r.err == "steward-top: the server did not answer within 0.2 s\n");
  CHECK(r.out.empty());
}

TEST_CASE("steward-top: --once against a server whose queue is full ends with a timeout" *
          doctest::timeout(60)) {
  temp_dir tmp;
  platform::local_listener listener;
  REQUIRE(listener.open((tmp.path + "/ctl").c_str(), "control").has_value());
  // Fill the listen queue: non-blocking connects succeed until it is full, then EAGAIN.
  std::vector<int> queued;
  for (int i = 0; i < 64; ++i) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = listener.path();
    path.copy(addr.sun_path, path.size());
    const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr),  // NOLINT: the socket API's cast
                             static_cast<socklen_t>(sizeof addr));
    if (rc != 0) {
      CHECK(errno == EAGAIN);
      ::close(fd);
      break;
    }
    queued.push_back(fd);
  }
  REQUIRE_FALSE(queued.empty());
  REQUIRE(queued.size() < 64);  // the queue did fill up
  const run_result r = run_top(tmp, {"--once", "--timeout", "0.2", listener.path()});
  CHECK(r.exited);
  CHECK(r.status == 1);
  CHECK(r.err == "steward-top: cannot connect to " + std::string(listener.path()) +
                     ": the server did not accept within 0.2 s\n");
  for (const int fd : queued) ::close(fd);
}

TEST_CASE("steward-top: --once against a server that goes away between two requests exits with a message" *
          doctest::timeout(60)) {
  temp_dir tmp;
  platform::local_listener listener;
  REQUIRE(listener.open((tmp.path + "/ctl").c_str(), "control").has_value());
  std::atomic<bool> server_ok{false};
  int served = -1;  // kept open until steward-top has ended; closed after the join
  std::thread server([&] {
    const int fd = accept_one(listener);
    served = fd;
    if (fd < 0) return;
    // Greeting and hello as the real server says them; then this end stops receiving before
    // it answers, so steward-top's next request (snapshot) meets EPIPE, as it would a closed
    // server, however soon it sends it.
    const bool ok = write_all(fd, "steward-control 1 control\n") && read_line(fd, "hello 1\n") &&
                    ::shutdown(fd, SHUT_RD) == 0 && write_all(fd, "ok hello 1 control\n");
    server_ok.store(ok);
  });
  const run_result r = run_top(tmp, {"--once", listener.path()});
  server.join();
  platform::close_fd(served);
  CHECK(server_ok.load());
  CHECK(r.exited);  // not killed by SIGPIPE
  CHECK(r.status == 1);
  CHECK(r.err == "steward-top: the server closed the connection\n");
}

TEST_CASE("steward-top: a bad --timeout is a usage error") {
  temp_dir tmp;
  for (const char* bad : {"0", "-1", "x", "1s", "1e9"}) {
    CAPTURE(bad);
    const run_result r = run_top(tmp, {"--once", "--timeout", bad, tmp.path + "/none"});
    CHECK(r.exited);
    CHECK(r.status == 2);
    CHECK(r.err.rfind("usage: steward-top", 0) == 0);
  }
  const run_result missing = run_top(tmp, {"--once", tmp.path + "/none", "--timeout"});
  CHECK(missing.status == 2);
}
