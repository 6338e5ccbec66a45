// The control server (issue 12, the live view): the line protocol on its own (parse, bounds,
// versions, read-only refusal), answers against a real tree, then the real socket - a server
// running as a steward worker outside the tree, clients on the same machine - with garbage,
// oversized lines, floods, foreign uids (a child process that drops to another uid) and random
// bytes from a printed seed. Replies are read with a blocking poll bounded by a 20 s watchdog:
// the server answers every line, so no test waits for time to pass.
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "alloc_counter.hpp"
#include "temp_dir.hpp"
#include "steward/platform/local_socket.hpp"
#include "steward/supervisors/control_server.hpp"
#include "supervisor_kit.hpp"

using namespace testutil;
using steward::control_options;
using steward::control_server;
using steward::control_verb;
using steward::errc;
using steward::worker_state;
namespace platform = steward::platform;
using testutil::temp_dir;

namespace {

// root (one_for_one) { sub (one_for_one) { c0, c1 }, c2 }
struct control_tree {
  kit k;
  steward::supervisor<2> sub{{"sub", steward::strategy::one_for_one, 5, std::chrono::seconds(60)}};
  steward::supervisor<2> root{{"root", steward::strategy::one_for_one, 5, std::chrono::seconds(60)}};
  test_tree tree{root};
  control_tree() {
    REQUIRE(sub.add_child(k.spec(0)));
    REQUIRE(sub.add_child(k.spec(1)));
    REQUIRE(root.add_child(supervisor_child("sub", sub)));
    REQUIRE(root.add_child(k.spec(2)));
    REQUIRE(tree.start());
  }
};

using test_server = control_server<8, 3>;

std::string answer(test_server& server, const std::string& line) {
  std::string out(test_server::k_reply_bytes, '\0');
  const std::size_t n = server.answer(line.data(), line.size(), &out[0], out.size());
  out.resize(n);
  return out;
}

bool starts_with(const std::string& s, const char* prefix) {
  return s.compare(0, std::strlen(prefix), prefix) == 0;
}

// A client on a blocking descriptor; reads are bounded by a watchdog, not used as timing.
struct client {
  int fd{-1};
  std::string pending;
  explicit client(const char* path) {
    auto c = platform::local_connect(path);
    REQUIRE(c.has_value());
    fd = *c;
  }
  ~client() { platform::close_fd(fd); }
  client(const client&) = delete;
  client& operator=(const client&) = delete;
  void send(const std::string& text) const {
    std::size_t at = 0;
    while (at < text.size()) {
      const auto n = ::write(fd, text.data() + at, text.size() - at);
      REQUIRE(n > 0);
      at += static_cast<std::size_t>(n);
    }
  }
  // The next line without its '\n'; false at end of stream (or after the 20 s watchdog).
  bool line(std::string& out) {
    for (;;) {
      const auto nl = pending.find('\n');
      if (nl != std::string::npos) {
        out = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        return true;
      }
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20000) != 1) return false;
      char buf[4096];
      const auto n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return false;
      pending.append(buf, static_cast<std::size_t>(n));
    }
  }
  std::string line() {
    std::string s;
    CHECK(line(s));
    return s;
  }
  // A snapshot request; returns the child lines (after checking header and "end").
  std::vector<std::string> snapshot() {
    send("snapshot\n");
    std::vector<std::string> rows;
    const std::string head = line();
    CHECK(starts_with(head, "ok snapshot "));
    std::uint64_t count = 0;
    CHECK(steward::control_number(head.c_str(), "children", count));
    for (std::uint64_t i = 0; i < count; ++i) rows.push_back(line());
    CHECK(line() == "end");
    return rows;
  }
};

// The server as a steward worker outside the tree (so its tree operations are allowed).
struct serving {
  test_server& server;
  std::unique_ptr<test_worker> worker;
  explicit serving(test_server& s) : server(s) {
    steward::worker_config cfg;
    cfg.name = "control";
    cfg.body = [this](steward::worker_context& ctx) { return server.serve(ctx); };
    worker = make_worker(cfg);
    REQUIRE(worker->start());
  }
  ~serving() {
    auto r = worker->stop(k_ack);
    CHECK(r.has_value());
    if (r) CHECK(r->reason == steward::exit_reason::stopped);
  }
};

std::string field(const std::string& line, const char* key) {
  char out[80];
  return steward::control_field(line.c_str(), key, out, sizeof out) ? std::string(out)
                                                                    : std::string("<none>");
}

}  // namespace

// ---------------------------------------------------------------- the protocol alone

TEST_CASE("control protocol: every request parses, with its path") {
  auto hello = steward::parse_control_request("hello 1", 7);
  REQUIRE(hello.has_value());
  CHECK(hello->verb == control_verb::hello);
  CHECK(hello->version == 1);
  auto snap = steward::parse_control_request("snapshot\r", 9);  // a CR before the LF is ignored
  REQUIRE(snap.has_value());
  CHECK(snap->verb == control_verb::snapshot);
  const char* verbs[] = {"pause", "resume", "stop", "restart"};
  const control_verb expected[] = {control_verb::pause, control_verb::resume, control_verb::stop,
                                   control_verb::restart};
  for (int i = 0; i < 4; ++i) {
    const std::string line = std::string(verbs[i]) + "\troot/sub/c0";
    auto r = steward::parse_control_request(line.data(), line.size());
    REQUIRE(r.has_value());
    CHECK(r->verb == expected[i]);
    CHECK(std::string(r->path, r->path_length) == "root/sub/c0");
  }
}

TEST_CASE("control protocol: malformed requests are refused with bad_request") {
  const char* bad[] = {"",           " snapshot", "snapshot ",   "snapshot  x",
                       "snapshot x", "pause",     "pause  root", "pause a b",
                       "hello",      "hello x",   "hello 1 2",   "hello -1",
                       "Snapshot",   "snap",      "pauseroot",   "hello 1x"};
  for (const char* line : bad) {
    CAPTURE(line);
    auto r = steward::parse_control_request(line, std::strlen(line));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == errc::invalid_argument);
    CHECK(std::string(r.error().subject) == "bad_request");
  }
  const char binary[] = {'p', 'a', 'u', 's', 'e', ' ', 'r', '\0', 'x'};
  CHECK(std::string(steward::parse_control_request(binary, sizeof binary).error().subject) == "bad_request");
  const char high[] = {'s', 'n', 'a', 'p', 's', 'h', 'o', 't', '\xff'};
  CHECK(std::string(steward::parse_control_request(high, sizeof high).error().subject) == "bad_request");
  CHECK(std::string(steward::parse_control_request(nullptr, 0).error().subject) == "bad_request");
}

TEST_CASE("control protocol: a line of k_control_line_bytes or more is too_long, one less is parsed") {
  std::string longest = "pause " + std::string(steward::k_control_line_bytes - 1 - 6, 'a');
  REQUIRE(longest.size() == steward::k_control_line_bytes - 1);
  CHECK(steward::parse_control_request(longest.data(), longest.size()).has_value());
  longest += 'a';
  auto r = steward::parse_control_request(longest.data(), longest.size());
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::capacity_exceeded);
  CHECK(std::string(r.error().subject) == "too_long");
}

TEST_CASE("control protocol: only version 1 is spoken") {
  auto two = steward::parse_control_request("hello 2", 7);
  REQUIRE_FALSE(two.has_value());
  CHECK(std::string(two.error().subject) == "unsupported_version");
  CHECK(two.error().value == 2);
  char line[128];
  steward::format_control_error(two.error(), line, sizeof line);
  CHECK(std::string(line) == "err unsupported_version asked 2, this server speaks 1\n");
  CHECK_FALSE(steward::parse_control_request("hello 0", 7).has_value());
  // A number of any length is a version, reported as the largest int when it does not fit.
  auto huge = steward::parse_control_request("hello 12345678901234567890", 26);
  REQUIRE_FALSE(huge.has_value());
  CHECK(std::string(huge.error().subject) == "unsupported_version");
  CHECK(huge.error().value == 2147483647);
  CHECK(steward::parse_control_request("hello 0001", 10).has_value());
}

TEST_CASE("control protocol: fields are read back from reply lines") {
  const char* line = "child path=root/a kind=worker generation=7 restarts=x";
  char out[16];
  CHECK(steward::control_field(line, "path", out, sizeof out));
  CHECK(std::string(out) == "root/a");
  CHECK_FALSE(steward::control_field(line, "ath", out, sizeof out));  // whole keys only
  std::uint64_t n = 0;
  CHECK(steward::control_number(line, "generation", n));
  CHECK(n == 7);
  CHECK_FALSE(steward::control_number(line, "restarts", n));
  CHECK_FALSE(steward::control_number(line, "missing", n));
  CHECK(steward::control_field(line, "path", out, 4));  // cut to fit, terminated
  CHECK(std::string(out) == "roo");
}

TEST_CASE("control protocol: a child line has every field, flags listed, odd path bytes as '?'") {
  steward::child_snapshot c;
  std::snprintf(c.path, sizeof c.path, "root/a b\x01");
  c.kind = steward::child_kind::worker;
  c.state = worker_state::running;
  c.generation = 3;
  c.restarts = 2;
  c.has_exited = true;
  c.last_reason = steward::exit_reason::error;
  c.last_error = steward::error{errc::worker_failed, 7, "a"};
  c.quarantined = true;
  c.unresponsive = true;
  c.time_in_state = std::chrono::nanoseconds(5);
  c.time_parked = std::chrono::nanoseconds(6);
  c.last_pause_ack = std::chrono::nanoseconds(7);
  char line[steward::k_control_reply_line_bytes];
  const std::size_t n = steward::format_child_line(c, line, sizeof line);
  CHECK(std::string(line, n) ==
        "child path=root/a?b? kind=worker state=running generation=3 restarts=2 reason=error error=worker_failed "
        "flags=exited,quarantined,unresponsive in_state_ns=5 parked_ns=6 pause_ack_ns=7\n");
  c = steward::child_snapshot{};
  std::snprintf(c.path, sizeof c.path, "root/s");
  c.kind = steward::child_kind::supervisor;
  steward::format_child_line(c, line, sizeof line);
  CHECK(std::string(line) ==
        "child path=root/s kind=supervisor state=idle generation=0 restarts=0 reason=- error=- flags=- "
        "in_state_ns=0 parked_ns=0 pause_ack_ns=0\n");
}

// ---------------------------------------------------------------- answers against a tree

TEST_CASE("control: locate() turns snapshot paths back into children") {
  control_tree t;
  auto root = t.tree.locate("root", 4);
  REQUIRE(root.has_value());
  CHECK(root->parent == nullptr);
  CHECK(root->supervisor == &t.root);
  auto sub = t.tree.locate("root/sub", 8);
  REQUIRE(sub.has_value());
  CHECK(sub->parent == &t.root);
  CHECK(sub->supervisor == &t.sub);
  CHECK(std::string(sub->id) == "sub");
  auto c1 = t.tree.locate("root/sub/c1", 11);
  REQUIRE(c1.has_value());
  CHECK(c1->parent == &t.sub);
  CHECK(c1->supervisor == nullptr);
  CHECK(std::string(c1->id) == "c1");
  const char* missing[] = {"",           "r",         "roo",       "rootx",
                           "root/",      "root/su",   "root/sub/", "root/sub/c1/x",
                           "root/c2/c0", "root//sub", "/root",     "sub"};
  for (const char* p : missing) {
    CAPTURE(p);
    CHECK(t.tree.locate(p, std::strlen(p)).error() == errc::invalid_argument);
  }
  CHECK(t.tree.locate(nullptr, 0).error() == errc::invalid_argument);
}

TEST_CASE("control: hello and snapshot answer, a read-only server refuses every command") {
  control_tree t;
  test_server server(t.tree);  // read-only by default
  CHECK(answer(server, "hello 1") == "ok hello 1 read-only\n");
  const std::string snap = answer(server, "snapshot");
  CHECK(starts_with(snap, "ok snapshot tree=running root=root children=4\n"));
  CHECK(snap.find("child path=root/sub kind=supervisor state=running") != std::string::npos);
  CHECK(snap.find("child path=root/sub/c0 kind=worker state=running generation=1 restarts=0") !=
        std::string::npos);
  CHECK(snap.find("child path=root/c2 kind=worker") != std::string::npos);
  CHECK(snap.size() > 4);
  CHECK(snap.substr(snap.size() - 4) == "end\n");
  for (const char* cmd : {"pause root/sub", "resume root/sub", "stop root/c2", "restart root/c2"}) {
    CAPTURE(cmd);
    CHECK(starts_with(answer(server, cmd), "err read_only "));
  }
  CHECK(t.k.workers[0]->state() == worker_state::running);
  CHECK(t.k.workers[2]->state() == worker_state::running);
  CHECK(t.k.starts(2) == 1);
  CHECK(server.stats().commands == 0);
  CHECK(server.stats().errors == 4);
}

TEST_CASE("control: with control enabled, pause, resume, stop and restart act on the named subtree" *
          doctest::timeout(60)) {
  control_tree t;
  control_options opts;
  opts.allow_control = true;
  opts.pause_timeout = k_ack;
  test_server server(t.tree, opts);
  CHECK(answer(server, "hello 1") == "ok hello 1 control\n");

  CHECK(answer(server, "pause root/sub") == "ok pause root/sub\n");
  CHECK(t.k.workers[0]->state() == worker_state::paused);
  CHECK(t.k.workers[1]->state() == worker_state::paused);
  CHECK(t.k.workers[2]->state() == worker_state::running);
  const std::string paused = answer(server, "snapshot");
  CHECK(paused.find("child path=root/sub kind=supervisor state=paused") != std::string::npos);
  CHECK(paused.find("child path=root/sub/c0 kind=worker state=paused") != std::string::npos);
  // The pause's acknowledgement time is in the snapshot (it took some nanoseconds at least).
  std::uint64_t ack = 0;
  const auto c0_at = paused.find("child path=root/sub/c0");
  REQUIRE(c0_at != std::string::npos);
  CHECK(steward::control_number(paused.c_str() + c0_at, "pause_ack_ns", ack));
  CHECK(ack > 0);
  const auto c2_at = paused.find("child path=root/c2");
  REQUIRE(c2_at != std::string::npos);
  CHECK(steward::control_number(paused.c_str() + c2_at, "pause_ack_ns", ack));
  CHECK(ack == 0);  // c2 was never paused

  CHECK(starts_with(answer(server, "pause root/sub/c0"), "err not_a_subtree "));
  CHECK(answer(server, "resume root/sub") == "ok resume root/sub\n");
  CHECK(t.k.workers[0]->state() == worker_state::running);

  CHECK(answer(server, "stop root/c2") == "ok stop root/c2\n");
  CHECK(t.k.workers[2]->state() == worker_state::stopped);
  CHECK(answer(server, "restart root/c2") == "ok restart root/c2\n");
  CHECK(t.k.starts(2) == 2);
  CHECK(answer(server, "restart root/sub/c1") == "ok restart root/sub/c1\n");  // a running child
  CHECK(t.k.starts(1) == 2);

  CHECK(starts_with(answer(server, "stop root"), "err root "));
  CHECK(starts_with(answer(server, "restart root"), "err root "));
  CHECK(starts_with(answer(server, "stop root/nothing"), "err not_found "));
  CHECK(answer(server, "pause root") == "ok pause root\n");  // the whole tree
  CHECK(t.k.workers[2]->state() == worker_state::paused);
  CHECK(starts_with(answer(server, "restart root/c2"), "err already_paused c2"));  // refused, not stopped
  CHECK(t.k.workers[2]->state() == worker_state::paused);
  CHECK(answer(server, "resume root") == "ok resume root\n");
  CHECK(server.stats().commands == 7);
}

TEST_CASE("control: a snapshot that does not fit is an error line, not a cut reply") {
  control_tree t;
  control_server<2, 1> small(t.tree);  // the tree has 4 children
  std::string out(control_server<2, 1>::k_reply_bytes, '\0');
  const std::size_t n = small.answer("snapshot", 8, &out[0], out.size());
  out.resize(n);
  CHECK(out == "err capacity_exceeded root: capacity exceeded\n");
}

TEST_CASE("control: answering, including snapshots and commands, allocates nothing" * doctest::timeout(60)) {
  control_tree t;
  control_options opts;
  opts.allow_control = true;
  opts.pause_timeout = k_ack;
  test_server server(t.tree, opts);
  static char out[test_server::k_reply_bytes];
  const alloc_scope scope;
  for (int i = 0; i < 50; ++i) {
    server.answer("snapshot", 8, out, sizeof out);
    server.answer("pause root/sub", 14, out, sizeof out);
    server.answer("resume root/sub", 15, out, sizeof out);
    server.answer("stop root/c2", 12, out, sizeof out);
    server.answer("restart root/c2", 15, out, sizeof out);
    server.answer("garbage \x01", 9, out, sizeof out);
  }
  CHECK(scope.this_thread() == 0);
  CHECK(server.stats().commands == 200);
}

// ---------------------------------------------------------------- the real socket

TEST_CASE("control socket: greeting, snapshot, garbage and oversized lines get errors, serving goes on" *
          doctest::timeout(60)) {
  control_tree t;
  temp_dir tmp;
  test_server server(t.tree);
  const std::string dir = tmp.path + "/ctl";
  REQUIRE(server.open(dir.c_str(), "control"));
  auto mode = platform::stat_path(server.socket_path());
  REQUIRE(mode.has_value());
  CHECK(mode->mode == 0600U);
  CHECK(platform::stat_path(dir.c_str())->mode == 0700U);
  serving running(server);

  client c(server.socket_path());
  CHECK(c.line() == "steward-control 1 read-only");
  CHECK(c.snapshot().size() == 4);
  c.send("hello 2\n");
  CHECK(c.line() == "err unsupported_version asked 2, this server speaks 1");
  c.send(std::string("\x00\x01\x02\xff garbage\n", 13));
  CHECK(starts_with(c.line(), "err bad_request "));
  c.send("pause root/sub\n");
  CHECK(starts_with(c.line(), "err read_only "));
  // 10 KB without a newline: one error, the rest skipped up to its newline.
  c.send(std::string(10000, 'x') + "\n");
  CHECK(starts_with(c.line(), "err too_long "));
  c.send("hello 1\n");
  CHECK(c.line() == "ok hello 1 read-only");
  // Several requests in one write are answered in order.
  c.send("hello 1\nbogus\nhello 1\n");
  CHECK(c.line() == "ok hello 1 read-only");
  CHECK(starts_with(c.line(), "err bad_request "));
  CHECK(c.line() == "ok hello 1 read-only");
  const auto rows = c.snapshot();
  REQUIRE(rows.size() == 4);
  CHECK(field(rows[1], "path") == "root/sub/c0");
  CHECK(field(rows[1], "state") == "running");
  CHECK(t.k.workers[0]->state() == worker_state::running);
}

TEST_CASE("control socket: a client over its rate gets rate_limited until the interval ends" *
          doctest::timeout(60)) {
  control_tree t;
  temp_dir tmp;
  control_options opts;
  opts.burst = 5;
  opts.interval = std::chrono::hours(1);  // no second interval starts during the test
  test_server server(t.tree, opts);
  REQUIRE(server.open((tmp.path + "/ctl").c_str(), "control"));
  serving running(server);
  client c(server.socket_path());
  CHECK(c.line() == "steward-control 1 read-only");
  std::string flood;
  for (int i = 0; i < 40; ++i) flood += "hello 1\n";
  c.send(flood);
  int ok = 0;
  int limited = 0;
  for (int i = 0; i < 40; ++i) {
    const std::string l = c.line();
    CAPTURE(l);
    if (l == "ok hello 1 read-only") ++ok;
    if (starts_with(l, "err rate_limited ")) ++limited;
  }
  CHECK(ok == 5);
  CHECK(limited == 35);
  // Another client has its own allowance.
  client d(server.socket_path());
  CHECK(d.line() == "steward-control 1 read-only");
  d.send("hello 1\n");
  CHECK(d.line() == "ok hello 1 read-only");
}

TEST_CASE("control socket: a peer with another uid is refused (SO_PEERCRED), the server goes on" *
          doctest::timeout(60)) {
  control_tree t;
  temp_dir tmp;
  control_options opts;
  opts.allowed_uid = static_cast<std::int64_t>(platform::effective_uid()) + 1;  // not us
  test_server server(t.tree, opts);
  REQUIRE(server.open((tmp.path + "/ctl").c_str(), "control"));
  serving running(server);
  client c(server.socket_path());
  CHECK(starts_with(c.line(), "err refused uid "));
  std::string more;
  CHECK_FALSE(c.line(more));  // closed
  CHECK(server.stats().refused_peer == 1);
  CHECK(server.stats().accepted == 0);
}

TEST_CASE("control socket: more clients than MaxClients are told busy" * doctest::timeout(60)) {
  control_tree t;
  temp_dir tmp;
  test_server server(t.tree);  // 3 clients
  REQUIRE(server.open((tmp.path + "/ctl").c_str(), "control"));
  serving running(server);
  client a(server.socket_path());
  client b(server.socket_path());
  client c(server.socket_path());
  for (client* x : {&a, &b, &c}) CHECK(x->line() == "steward-control 1 read-only");
  client d(server.socket_path());
  CHECK(starts_with(d.line(), "err busy "));
  std::string more;
  CHECK_FALSE(d.line(more));
  a.send("hello 1\n");
  CHECK(a.line() == "ok hello 1 read-only");
  // A slot freed by a client that leaves is used again: when the slots are full, the accept
  // first looks for clients that hung up (b's hang-up happened before e's connect), whether or
  // not a service pass has seen it yet.
  platform::close_fd(b.fd);
  b.fd = -1;
  client e(server.socket_path());
  CHECK(e.line() == "steward-control 1 read-only");
}

TEST_CASE("control socket: another user cannot connect, and is refused by uid when the modes let it in" *
          doctest::timeout(60)) {
  if (::geteuid() != 0) {
    MESSAGE("skipped: dropping to another uid needs root (run the suite as root to cover this)");
    return;
  }
  control_tree t;
  temp_dir tmp;
  test_server server(t.tree);
  const std::string dir = tmp.path + "/ctl";
  REQUIRE(server.open(dir.c_str(), "control"));
  REQUIRE(::chmod(tmp.path.c_str(), 0711) == 0);  // the temporary parent: traversable
  serving running(server);
  const std::string path = server.socket_path();
  constexpr uid_t k_nobody = 65534;

  // Child exit codes: 0 refused as expected, 10+ setup failures, 20 connected / answered.
  auto as_nobody = [&](bool expect_refused_by_server) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      if (::setgid(k_nobody) != 0 || ::setuid(k_nobody) != 0) ::_exit(10);
      auto fd = platform::local_connect(path.c_str());
      if (!expect_refused_by_server) ::_exit(fd ? 20 : (fd.error() == errc::permission_denied ? 0 : 11));
      if (!fd) ::_exit(12);
      char buf[128];
      std::size_t got = 0;
      for (;;) {  // until the server closes
        const auto n = ::read(*fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
      }
      buf[got] = '\0';
      ::_exit(std::strncmp(buf, "err refused uid 65534 ", 22) == 0 ? 0 : 20);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    return WEXITSTATUS(status);
  };
  // The file system keeps it out: a 0700 directory and a 0600 socket.
  CHECK(as_nobody(false) == 0);
  CHECK(server.stats().refused_peer == 0);
  // Opened up by mistake (0711 directory, 0666 socket): SO_PEERCRED still refuses it.
  REQUIRE(::chmod(dir.c_str(), 0711) == 0);
  REQUIRE(::chmod(path.c_str(), 0666) == 0);
  CHECK(as_nobody(true) == 0);
  CHECK(server.stats().refused_peer == 1);
  client c(path.c_str());
  CHECK(c.line() == "steward-control 1 read-only");
}

TEST_CASE("control socket: random bytes never crash the server and every reply is a protocol line" *
          doctest::timeout(120)) {
  control_tree t;
  temp_dir tmp;
  control_options opts;
  opts.allow_control = true;
  opts.pause_timeout = k_ack;
  opts.burst = 1000000;
  test_server server(t.tree, opts);
  REQUIRE(server.open((tmp.path + "/ctl").c_str(), "control"));
  serving running(server);

  const char* env = std::getenv("STEWARD_FUZZ_SEED");  // NOLINT(concurrency-mt-unsafe)
  const std::uint32_t seed =
      env != nullptr ? static_cast<std::uint32_t>(std::strtoul(env, nullptr, 10)) : 20261203U;
  const char* count_env = std::getenv("STEWARD_FUZZ_INPUTS");  // NOLINT(concurrency-mt-unsafe)
  const int inputs = count_env != nullptr ? std::atoi(count_env) : 20000;
  std::printf("control fuzz: seed %u (STEWARD_FUZZ_SEED), %d inputs (STEWARD_FUZZ_INPUTS)\n", seed, inputs);
  std::mt19937 rng(seed);
  // Inputs: random bytes, and random mixes of the protocol's own words (which reach deeper).
  // No "hello" alone: "hello 1" is the end marker of each connection's run.
  const char* words[] = {"hello 2", "hello x", "1",    "2",        "snapshot",    "pause",      "resume",
                         "stop",    "restart", "root", "root/sub", "root/sub/c0", "root/c2",    " ",
                         "\t",      "\r",      "\n",   "/",        "\xff",        "99999999999"};
  int replies = 0;
  for (int conn = 0; conn < inputs / 500; ++conn) {
    client c(server.socket_path());
    CHECK(c.line() == "steward-control 1 control");
    std::string batch;
    for (int i = 0; i < 500; ++i) {
      std::string in;
      if (rng() % 2 == 0) {
        const std::size_t n = rng() % 600;
        for (std::size_t k = 0; k < n; ++k) in += static_cast<char>(rng() % 256);
      } else {
        const int n = static_cast<int>(rng() % 6);
        for (int k = 0; k < n; ++k) in += words[rng() % (sizeof words / sizeof words[0])];
      }
      batch += in + "\n";
    }
    batch += "hello 1\n";  // the last answer this connection must get
    // Sent from another thread while this one reads: the server answers as it reads, and a
    // client that does not read its answers is (rightly) no longer read from.
    std::thread sender([&c, &batch] { c.send(batch); });
    std::string l;
    bool ended = false;
    while (!ended && c.line(l)) {
      ++replies;
      const bool protocol_line = starts_with(l, "ok ") || starts_with(l, "err ") ||
                                 starts_with(l, "child ") || l == "end" || starts_with(l, "steward-control ");
      if (!protocol_line) {
        CAPTURE(l);
        FAIL_CHECK("not a protocol line");
      }
      ended = l == "ok hello 1 control";
    }
    sender.join();
    CHECK(ended);
    c.send("resume root\n");  // undo what the mixes may have paused
    CHECK(starts_with(c.line(), "ok resume root"));
  }
  std::printf("control fuzz: %d replies\n", replies);
  client last(server.socket_path());
  CHECK(last.line() == "steward-control 1 control");
  CHECK(last.snapshot().size() >= 3);
  CHECK(t.tree.state() == steward::tree_state::running);
}

TEST_CASE("control socket: poll() serves a client without allocating" * doctest::timeout(60)) {
  control_tree t;
  temp_dir tmp;
  test_server server(t.tree);
  REQUIRE(server.open((tmp.path + "/ctl").c_str(), "control"));
  client c(server.socket_path());
  auto now = platform::monotonic_now();
  REQUIRE(now.has_value());
  const std::string requests = "snapshot\nbogus\n" + std::string(300, 'y') + "\n";
  const alloc_scope scope;
  const auto polled = server.poll(*now);  // accept, greeting
  c.send(requests);
  const auto again = server.poll(*now);
  const std::uint64_t allocations = scope.this_thread();
  CHECK(allocations == 0);
  CHECK(polled.has_value());
  CHECK(again.has_value());
  CHECK(c.line() == "steward-control 1 read-only");
  CHECK(starts_with(c.line(), "ok snapshot tree=running root=root children=4"));
  for (int i = 0; i < 4; ++i) CHECK(starts_with(c.line(), "child path=root/"));
  CHECK(c.line() == "end");
  CHECK(starts_with(c.line(), "err bad_request "));
  CHECK(starts_with(c.line(), "err too_long "));
}

TEST_CASE("control socket: a poll runs at most one command that waits, then starts with the next client" *
          doctest::timeout(60)) {
  control_tree t;
  temp_dir tmp;
  control_options opts;
  opts.allow_control = true;
  opts.pause_timeout = k_ack;
  test_server server(t.tree, opts);
  REQUIRE(server.open((tmp.path + "/ctl").c_str(), "control"));
  client first(server.socket_path());
  client second(server.socket_path());
  auto now = platform::monotonic_now();
  REQUIRE(now.has_value());
  REQUIRE(server.poll(*now));  // accepts both (first into the first slot), greets them
  REQUIRE(server.clients() == 2);
  CHECK(first.line() == "steward-control 1 control");
  CHECK(second.line() == "steward-control 1 control");
  // A local socket's write is in the peer's buffer when it returns: both requests are there.
  first.send("stop root/c2\nrestart root/c2\n");
  second.send("hello 1\n");

  REQUIRE(server.poll(*now));
  CHECK(server.stats().commands == 1);  // the stop, and nothing after it in this poll
  CHECK(t.k.workers[2]->state() == worker_state::stopped);
  CHECK(first.line() == "ok stop root/c2");
  pollfd unanswered{second.fd, POLLIN, 0};
  CHECK(::poll(&unanswered, 1, 0) == 0);  // the server runs in this thread: nothing is on its way

  REQUIRE(server.poll(*now));  // the second client first, then the first one's restart
  CHECK(second.line() == "ok hello 1 control");
  CHECK(first.line() == "ok restart root/c2");
  CHECK(server.stats().commands == 2);
  CHECK(t.k.starts(2) == 2);
}

TEST_CASE("control: restart refused by a paused supervisor or a hung worker below leaves the child as it was" *
          doctest::timeout(60)) {
  kit k;
  steward::supervisor<2> sub{{"sub", steward::strategy::one_for_one, 5, std::chrono::seconds(60)}};
  steward::supervisor<2> root{{"root", steward::strategy::one_for_one, 5, std::chrono::seconds(60)}};
  REQUIRE(sub.add_child(k.spec(0)));
  auto stubborn = k.spec(1);
  stubborn.shutdown = std::chrono::milliseconds(20);
  REQUIRE(sub.add_child(stubborn));
  REQUIRE(root.add_child(supervisor_child("sub", sub)));
  test_tree tree{root};
  REQUIRE(tree.start());
  control_options opts;
  opts.allow_control = true;
  opts.pause_timeout = k_ack;
  test_server server(tree, opts);

  CHECK(answer(server, "pause root/sub") == "ok pause root/sub\n");
  CHECK(starts_with(answer(server, "restart root/sub/c0"), "err already_paused c0"));
  CHECK(k.workers[0]->state() == worker_state::paused);
  CHECK(answer(server, "resume root/sub") == "ok resume root/sub\n");

  // c1 hangs and misses its deadline: quarantined. Restarting its subtree would stop c0 and
  // then fail on c1, so it is refused before anything stops.
  REQUIRE(eventually([&] { return k.workers[1]->state() == worker_state::running; }));
  k.command(1, hang);
  REQUIRE(eventually([&] { return k.ctl[1].cmd.load() == run; }));  // it took the command
  CHECK(starts_with(answer(server, "stop root/sub/c1"), "err timeout c1"));
  CHECK(starts_with(answer(server, "restart root/sub"), "err stopping sub"));
  CHECK(k.workers[0]->state() == worker_state::running);
  CHECK(k.starts(0) == 1);
  k.ctl[1].hang_release = true;
  REQUIRE(eventually([&] { return steward::is_terminal(k.workers[1]->state()); }));
  CHECK(answer(server, "restart root/sub") == "ok restart root/sub\n");  // out of quarantine now
  CHECK(k.starts(0) == 2);
  CHECK(k.starts(1) == 2);
}

TEST_CASE("control: restarts racing pauses of the parent never leave the child stopped" * doctest::timeout(120)) {
  control_tree t;
  control_options opts;
  opts.allow_control = true;
  opts.pause_timeout = k_ack;
  test_server server(t.tree, opts);
  std::atomic<bool> done{false};
  std::thread pauser([&] {
    while (!done.load()) {
      CHECK(t.tree.pause(t.sub, k_ack));
      CHECK(t.tree.resume(t.sub));
    }
  });
  int restarted = 0;
  int refused = 0;
  for (int i = 0; i < 300; ++i) {
    const std::string r = answer(server, "restart root/sub/c0");
    if (r == "ok restart root/sub/c0\n") {
      ++restarted;
    } else {
      CHECK(starts_with(r, "err already_paused c0"));
      ++refused;
    }
    // Whatever the answer, c0 runs or is parked by the pause: it was never left stopped.
    const worker_state s = t.k.workers[0]->state();
    CHECK((s == worker_state::running || s == worker_state::paused || s == worker_state::pausing));
  }
  done = true;
  pauser.join();
  CHECK(t.k.starts(0) == 1 + restarted);
  MESSAGE("restarted " << restarted << ", refused while paused " << refused);
}

TEST_CASE("control: a path cut to fit the snapshot is flagged so that no client addresses it") {
  kit k;
  steward::supervisor<1> deep{{"a-supervisor-with-a-name-rather-too-long-for-the-view-xxy",
                               steward::strategy::one_for_one, 5, std::chrono::seconds(60)}};
  steward::supervisor<1> root{{"root", steward::strategy::one_for_one, 5, std::chrono::seconds(60)}};
  REQUIRE(deep.add_child(k.spec(0)));
  REQUIRE(root.add_child(supervisor_child("a-supervisor-with-a-name-rather-too-long-for-the-view-xxy", deep)));
  test_tree tree{root};
  REQUIRE(tree.start());
  steward::child_snapshot snap[2];
  auto n = tree.snapshot(snap, 2);
  REQUIRE(n);
  REQUIRE(*n == 2);
  CHECK_FALSE(snap[0].path_cut);  // "root/<57 bytes>" fits in 63
  CHECK(snap[1].path_cut);
  CHECK(std::string(snap[1].path) == (std::string(snap[0].path) + "/c0").substr(0, 63));
  test_server server(tree);
  const std::string reply = answer(server, "snapshot");
  CHECK(reply.find("flags=path_cut ") != std::string::npos);
}

TEST_CASE("control: ids that would make two snapshot paths look alike are refused by add_child") {
  kit k;
  steward::supervisor<4> root{{"root", steward::strategy::one_for_one, 5, std::chrono::seconds(60)}};
  for (const char* id : {"p/q", "a b", "", "tab\there", "nl\n", "del\x7f", "hi\xc3\xa9"}) {
    CAPTURE(id);
    auto spec = k.spec(0);
    spec.id = id;
    auto added = root.add_child(spec);
    REQUIRE_FALSE(added.has_value());
    CHECK(added.error() == errc::invalid_argument);
  }
  auto spec = k.spec(0);
  spec.id = "a?b_c-d.e:1";  // printable words are ids
  CHECK(root.add_child(spec).has_value());
}
