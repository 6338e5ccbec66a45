// steward-top: a live view of a running supervision tree, over the application's control socket
// (supervisors/control_server.hpp; protocol in docs/operation.md).
//
//   steward-top SOCKET          full screen: one line per child, refreshed twice a second
//   steward-top --once SOCKET   one snapshot as a plain table on stdout, then exit
//   --timeout SECONDS           the longest wait for the server: connecting, and each answer
//                               (default 5; fractions allowed). A server that does not answer
//                               in time is an error (exit status 1), in both modes. The
//                               answer to a command (which may wait for a shutdown deadline)
//                               is awaited without it; q quits meanwhile.
//
// Keys: up/down or k/j select a line; p pause, r resume (a supervisor's line: its subtree),
// s stop, R restart (capital: a restart stops the child first); q or Ctrl-C quits.
//
// A server that goes away or stops answering ends steward-top with a message on stderr and exit
// status 1, and the terminal is restored on every way out: SIGPIPE is ignored (writes use
// MSG_NOSIGNAL as well), SIGTERM, SIGHUP, SIGINT and SIGQUIT restore it before exiting, and so
// does std::terminate.
//
// The screen is redrawn in place - cursor home, each line overwritten and cleared to its end,
// the rest of the screen cleared once - so it never flickers the way a full clear does, and
// lines are cut to the terminal's width so that none wraps. Plain ANSI escapes: every terminal
// emulator (and tmux) understands these few, so no curses library is needed.
//
// This is an application, not library code: like examples/demo.cpp it uses the terminal's POSIX
// interface (termios for raw keys, ioctl for the width) directly; the socket goes through
// steward's platform layer.
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "steward/platform/clock.hpp"
#include "steward/platform/io.hpp"
#include "steward/platform/local_socket.hpp"
#include "steward/supervisors/control_server.hpp"

namespace {

using namespace std::chrono_literals;

constexpr auto k_refresh = 500ms;

// ---------------------------------------------------------------- the connection

// The descriptor has SO_RCVTIMEO / SO_SNDTIMEO set (platform::local_connect with a timeout), so
// a blocking read or write that waited too long fails with EAGAIN.
struct connection {
  int fd{-1};
  std::string timeout_text;  // "5 s", for the message
  std::string pending;
  std::string failure;  // why the last line() or send() failed

  // The next line (without '\n'); false when the server closed the connection, did not answer
  // in time, or the read failed (failure says which).
  bool line(std::string& out) {
    for (;;) {
      const auto nl = pending.find('\n');
      if (nl != std::string::npos) {
        out = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        return true;
      }
      char buf[4096];
      const auto n = ::read(fd, buf, sizeof buf);  // blocking up to the timeout
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return lost(n < 0 ? errno : 0);
      pending.append(buf, static_cast<std::size_t>(n));
    }
  }
  [[nodiscard]] bool has_line() const { return pending.find('\n') != std::string::npos; }
  void set_lost(int e) { static_cast<void>(lost(e)); }
  bool send(const std::string& text) {
    std::size_t at = 0;
    while (at < text.size()) {
      const auto n = ::send(fd, text.data() + at, text.size() - at, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return lost(n < 0 ? errno : 0);
      at += static_cast<std::size_t>(n);
    }
    return true;
  }

 private:
  bool lost(int e) {
    if (e == EAGAIN || e == EWOULDBLOCK) {
      failure = "the server did not answer within " + timeout_text;
    } else if (e == 0 || e == EPIPE || e == ECONNRESET) {
      failure = "the server closed the connection";
    } else {
      failure = std::string("the connection failed: ") + std::strerror(e);
    }
    return false;
  }
};

struct row {
  std::string path, kind, state, reason, error, flags;
  std::uint64_t generation{0}, restarts{0}, in_state_ns{0}, parked_ns{0}, pause_ack_ns{0};
};

struct view {
  std::string tree_state = "?";
  std::string head_error;  // an `err` instead of a snapshot
  std::vector<row> rows;
};

std::string field(const std::string& line, const char* key) {
  char out[128];
  return steward::control_field(line.c_str(), key, out, sizeof out) ? std::string(out) : std::string("-");
}

std::uint64_t number(const std::string& line, const char* key) {
  std::uint64_t v = 0;
  return steward::control_number(line.c_str(), key, v) ? v : 0;
}

// Asks for a snapshot. Returns false when the connection is gone.
bool fetch(connection& c, view& v) {
  if (!c.send("snapshot\n")) return false;
  std::string head;
  if (!c.line(head)) return false;
  v.rows.clear();
  if (head.rfind("ok snapshot ", 0) != 0) {
    v.head_error = head;
    return true;
  }
  v.head_error.clear();
  v.tree_state = field(head, "tree");
  const std::uint64_t count = number(head, "children");
  for (std::uint64_t i = 0; i < count; ++i) {
    std::string l;
    if (!c.line(l)) return false;
    row r;
    r.path = field(l, "path");
    r.kind = field(l, "kind");
    r.state = field(l, "state");
    r.reason = field(l, "reason");
    r.error = field(l, "error");
    r.flags = field(l, "flags");
    r.generation = number(l, "generation");
    r.restarts = number(l, "restarts");
    r.in_state_ns = number(l, "in_state_ns");
    r.parked_ns = number(l, "parked_ns");
    r.pause_ack_ns = number(l, "pause_ack_ns");
    v.rows.push_back(r);
  }
  std::string end;
  return c.line(end);  // "end"
}

// ---------------------------------------------------------------- drawing

std::string human(std::uint64_t ns, bool zero_is_none) {
  if (ns == 0 && zero_is_none) return "-";
  char b[32];
  const double s = static_cast<double>(ns) / 1e9;
  if (ns < 1000000ULL) {
    std::snprintf(b, sizeof b, "%.1fus", static_cast<double>(ns) / 1e3);
  } else if (ns < 1000000000ULL) {
    std::snprintf(b, sizeof b, "%.1fms", static_cast<double>(ns) / 1e6);
  } else if (s < 600.0) {
    std::snprintf(b, sizeof b, "%.1fs", s);
  } else {
    std::snprintf(b, sizeof b, "%.0fm", s / 60.0);
  }
  return b;
}

std::string last_failure(const row& r) {
  if (r.reason == "-") return "-";
  std::string s = r.reason;
  if (r.error != "-") s += ":" + r.error;
  return s;
}

std::string table_line(const row& r) {
  char b[512];
  std::string path = r.path + (r.kind == "supervisor" ? "/" : "");
  std::string state = r.state;
  if (r.flags.find("quarantined") != std::string::npos) state += "!hung";
  if (r.flags.find("restart_pending") != std::string::npos) state += "+restart";
  if (r.flags.find("unresponsive") != std::string::npos) state += "!silent";  // missed its liveness period
  // A supervisor has no incarnation number of its own.
  const std::string generation = r.kind == "supervisor" ? "-" : std::to_string(r.generation);
  std::snprintf(b, sizeof b, "%-32s %-16s %5s %8llu  %-26s %9s %9s %9s", path.c_str(), state.c_str(),
                generation.c_str(), static_cast<unsigned long long>(r.restarts), last_failure(r).c_str(),
                human(r.in_state_ns, false).c_str(), human(r.parked_ns, true).c_str(),
                human(r.pause_ack_ns, true).c_str());
  return b;
}

const char* k_columns =
    "PATH                             STATE              GEN RESTARTS  LAST FAILURE               "
    "IN STATE    PARKED PAUSE ACK";

std::size_t terminal_width() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 132;
}

void put(std::string& frame, const std::string& text, std::size_t width, bool selected = false) {
  if (selected) frame += "\x1b[7m";
  frame += text.size() > width ? text.substr(0, width) : text;
  if (selected) frame += "\x1b[0m";
  frame += "\x1b[K\r\n";  // clear what an earlier, longer line left, then the next line
}

void draw(const view& v, std::size_t selected, const std::string& socket, const std::string& mode,
          const std::string& status) {
  const std::size_t width = terminal_width();
  std::string frame = "\x1b[H";  // home: overwrite in place
  put(frame,
      "steward-top  " + socket + "  tree=" + v.tree_state + "  " + mode +
          "  children=" + std::to_string(v.rows.size()),
      width);
  put(frame, "", width);
  put(frame, k_columns, width);
  if (!v.head_error.empty()) put(frame, v.head_error, width);
  for (std::size_t i = 0; i < v.rows.size(); ++i) put(frame, table_line(v.rows[i]), width, i == selected);
  put(frame, "", width);
  put(frame, status, width);
  put(frame, "keys: up/down select  p pause  r resume  s stop  R restart  q quit", width);
  frame += "\x1b[J";  // below the last line: whatever a taller frame left
  const std::size_t n = frame.size();
  std::size_t at = 0;
  while (at < n) {
    const auto w = ::write(STDOUT_FILENO, frame.data() + at, n - at);
    if (w <= 0) return;
    at += static_cast<std::size_t>(w);
  }
}

// ---------------------------------------------------------------- the terminal

termios g_saved{};
volatile sig_atomic_t g_raw = 0;

void leave_screen() {
  static const char k_leave[] = "\x1b[?25h\x1b[?1049l";  // cursor back, main screen back
  if (g_raw != 0) {
    g_raw = 0;  // once: a signal during the normal exit path does not repeat it
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved);
    static_cast<void>(::write(STDOUT_FILENO, k_leave, sizeof k_leave - 1));
  }
}

extern "C" void on_terminate(int sig) {
  leave_screen();  // tcsetattr and write are async-signal-safe
  ::_exit(128 + sig);
}

[[noreturn]] void on_std_terminate() {
  leave_screen();
  std::abort();
}

bool enter_screen() {
  if (::tcgetattr(STDIN_FILENO, &g_saved) != 0) return false;
  termios raw = g_saved;
  raw.c_lflag &= ~static_cast<tcflag_t>(ECHO | ICANON | ISIG | IEXTEN);  // Ctrl-C is a key here
  raw.c_iflag &= ~static_cast<tcflag_t>(IXON | ICRNL);
  raw.c_cc[VMIN] = 0;
  raw.c_cc[VTIME] = 0;
  if (::tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) != 0) return false;
  g_raw = 1;
  std::set_terminate(on_std_terminate);
  struct sigaction sa {};
  sa.sa_handler = on_terminate;
  for (const int sig : {SIGTERM, SIGHUP, SIGINT, SIGQUIT}) ::sigaction(sig, &sa, nullptr);
  static const char k_enter[] = "\x1b[?1049h\x1b[?25l\x1b[2J";  // alternate screen, no cursor, clear once
  static_cast<void>(::write(STDOUT_FILENO, k_enter, sizeof k_enter - 1));
  return true;
}

int usage() {
  std::fprintf(stderr, "usage: steward-top [--once] [--timeout SECONDS] SOCKET\n");
  return 2;
}

int print_once(connection& c) {
  view v;
  if (!fetch(c, v)) {
    std::fprintf(stderr, "steward-top: %s\n", c.failure.c_str());
    return 1;
  }
  std::printf("tree=%s children=%zu\n%s\n", v.tree_state.c_str(), v.rows.size(), k_columns);
  if (!v.head_error.empty()) std::printf("%s\n", v.head_error.c_str());
  for (const row& r : v.rows) std::printf("%s\n", table_line(r).c_str());
  return v.head_error.empty() ? 0 : 1;
}

enum class answer_wait : std::uint8_t { answered, quit, lost };

// The answer to a command: stop and restart wait up to the child's shutdown deadline, pause up
// to the server's pause timeout, so this waits without the --timeout, for the socket or a key,
// and q (or Ctrl-C) gives up and quits. Other keys are dropped meanwhile.
answer_wait await_answer(connection& c, const steward::platform::fd_waker& waker, std::string& answer) {
  using steward::platform::io_interest;
  for (;;) {
    if (c.has_line()) return c.line(answer) ? answer_wait::answered : answer_wait::lost;
    const steward::platform::fd_request waits[2] = {{c.fd, io_interest::readable},
                                                    {STDIN_FILENO, io_interest::readable}};
    auto now = steward::platform::monotonic_now();
    if (!now) return answer_wait::quit;
    auto ready = steward::platform::wait_fds(waits, 2, waker, *now + std::chrono::seconds(60));
    if (!ready) {  // a descriptor in error: the socket (a reset), or the terminal
      c.set_lost(ECONNRESET);
      return answer_wait::lost;
    }
    if (ready->status != steward::platform::fd_wait_status::ready) continue;
    if (ready->index == 0) return c.line(answer) ? answer_wait::answered : answer_wait::lost;  // data or EOF
    char keys[16];
    const auto n = ::read(STDIN_FILENO, keys, sizeof keys);
    if (n <= 0) return answer_wait::quit;
    for (ssize_t i = 0; i < n; ++i) {
      if (keys[i] == 'q' || keys[i] == '\x03') return answer_wait::quit;
    }
  }
}

// "--timeout SECONDS": a positive number of seconds, at most a day.
bool parse_timeout(const char* text, steward::duration& out, std::string& shown) {
  char* end = nullptr;
  const double seconds = std::strtod(text, &end);
  if (end == text || *end != '\0' || !std::isfinite(seconds) || seconds <= 0.0 || seconds > 86400.0)
    return false;
  out = std::chrono::duration_cast<steward::duration>(std::chrono::duration<double>(seconds));
  if (out.count() <= 0) return false;
  shown = std::string(text) + " s";
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  // A server gone between two requests is an error value from send(), never a signal.
  ::signal(SIGPIPE, SIG_IGN);
  bool once = false;
  const char* socket = nullptr;
  steward::duration timeout = std::chrono::seconds(5);
  std::string timeout_text = "5 s";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--once") == 0) {
      once = true;
    } else if (std::strcmp(argv[i], "--timeout") == 0) {
      if (i + 1 >= argc || !parse_timeout(argv[i + 1], timeout, timeout_text)) return usage();
      ++i;
    } else if (socket == nullptr && argv[i][0] != '-') {
      socket = argv[i];
    } else {
      return usage();
    }
  }
  if (socket == nullptr) return usage();
  auto fd = steward::platform::local_connect(socket, timeout);
  if (!fd && fd.error().code == steward::errc::timeout) {
    std::fprintf(stderr, "steward-top: cannot connect to %s: the server did not accept within %s\n", socket,
                 timeout_text.c_str());
    return 1;
  }
  if (!fd) {
    std::fprintf(stderr, "steward-top: cannot connect to %s: %s (errno %d)\n", socket,
                 steward::describe(fd.error().code), static_cast<int>(fd.error().value));
    return 1;
  }
  connection c;
  c.fd = *fd;
  c.timeout_text = timeout_text;
  std::string greeting;
  std::string hello;
  if (!c.line(greeting)) {
    std::fprintf(stderr, "steward-top: %s\n", c.failure.c_str());
    return 1;
  }
  if (!c.send("hello 1\n") || !c.line(hello) || hello.rfind("ok hello 1 ", 0) != 0) {
    const bool refused = greeting.rfind("err ", 0) == 0;
    std::fprintf(stderr, "steward-top: %s\n",
                 refused ? greeting.c_str()
                         : (!c.failure.empty() ? c.failure.c_str() : "the server does not speak version 1"));
    return 1;
  }
  const std::string mode = hello.substr(std::strlen("ok hello 1 "));
  if (once) return print_once(c);
  if (::isatty(STDIN_FILENO) == 0 || !enter_screen()) {
    std::fprintf(stderr, "steward-top: stdin is not a terminal (use --once for a plain table)\n");
    return 1;
  }

  steward::platform::fd_waker waker;  // wait_fds needs one; nothing signals it here
  if (!waker.open()) {
    leave_screen();
    return 1;
  }
  view v;
  std::size_t selected = 0;
  std::string status = "connected (" + mode + ")";
  int rc = 0;
  for (bool running = true; running;) {
    if (!fetch(c, v)) {
      status = c.failure;
      rc = 1;
      break;
    }
    if (!v.rows.empty() && selected >= v.rows.size()) selected = v.rows.size() - 1;
    draw(v, selected, socket, mode, status);
    auto now = steward::platform::monotonic_now();
    if (!now) break;
    const steward::time_point next = *now + k_refresh;
    // Keys until the next refresh; a command refreshes at once.
    for (bool refresh = false; !refresh && running;) {
      auto ready =
          steward::platform::wait_fd(STDIN_FILENO, steward::platform::io_interest::readable, waker, next);
      if (!ready || ready->status != steward::platform::fd_wait_status::ready) break;
      char keys[16];
      const auto n = ::read(STDIN_FILENO, keys, sizeof keys);
      if (n <= 0) break;
      for (ssize_t i = 0; i < n && running; ++i) {
        const char k = keys[i];
        const bool arrow = k == '\x1b' && i + 2 < n && keys[i + 1] == '[';
        const char dir = arrow ? keys[i + 2] : k;
        if (arrow) i += 2;
        const char* verb = nullptr;
        if (dir == 'A' || (!arrow && k == 'k')) {
          if (selected > 0) --selected;
        } else if (dir == 'B' || (!arrow && k == 'j')) {
          if (selected + 1 < v.rows.size()) ++selected;
        } else if (!arrow && (k == 'q' || k == '\x03')) {
          running = false;
        } else if (!arrow && k == 'p') {
          verb = "pause";
        } else if (!arrow && k == 'r') {
          verb = "resume";
        } else if (!arrow && k == 's') {
          verb = "stop";
        } else if (!arrow && k == 'R') {
          verb = "restart";
        }
        if (verb != nullptr && selected < v.rows.size() &&
            v.rows[selected].flags.find("path_cut") != std::string::npos) {
          // A cut path may be another child's whole path: never send a command with it.
          status = "refused: this child's path is cut to fit the snapshot (ids too long)";
          verb = nullptr;
        }
        if (verb != nullptr && selected < v.rows.size()) {
          const std::string command = std::string(verb) + " " + v.rows[selected].path;
          if (!c.send(command + "\n")) {
            status = c.failure;
            running = false;
            rc = 1;
            break;
          }
          draw(v, selected, socket, mode, "waiting for the answer to " + command + "  (q quits)");
          std::string answer;
          const answer_wait w = await_answer(c, waker, answer);
          if (w != answer_wait::answered) {
            status = c.failure;
            running = false;
            rc = w == answer_wait::lost ? 1 : 0;
            break;
          }
          status = answer;
          refresh = true;
        }
      }
      if (!refresh) draw(v, selected, socket, mode, status);  // the selection moved
    }
  }
  leave_screen();
  if (rc != 0) std::fprintf(stderr, "steward-top: %s\n", status.c_str());
  steward::platform::close_fd(c.fd);
  return rc;
}
