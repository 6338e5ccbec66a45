// The live view's server: a local control socket (platform/local_socket.hpp) that speaks a small
// versioned line protocol about one supervision tree. A client - steward-top, a script - asks for
// snapshots and, only when the application enables control, pauses, resumes, stops or restarts
// a subtree by its snapshot path. Every connection's peer uid is checked (SO_PEERCRED) on top of
// the file's own mode (0600 in a 0700 directory). Requests are bounded in size (a line of at
// most k_control_line_bytes) and in rate (a burst per interval, per client); garbage, oversized
// and refused requests get an `err` line and the server goes on serving.
//
// No thread is started and nothing is allocated after construction: the application calls
// poll() (non-blocking) from its own loop, or runs serve(ctx) as the body of a steward worker it
// owns, outside the tree (tree operations from the tree's own threads return would_deadlock):
// serve() waits with steward's fd waits, so that worker pauses and stops like any other.
// Storage (client buffers, snapshot records) is inside control_server<MaxChildren, MaxClients>.
// Protocol: docs/operation.md.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "steward/core/expected.hpp"
#include "steward/core/rate_limiter.hpp"
#include "steward/core/time.hpp"
#include "steward/core/worker.hpp"
#include "steward/platform/local_socket.hpp"
#include "steward/supervisors/supervisor.hpp"

namespace steward {

inline constexpr std::uint32_t k_control_protocol_version = 1;
// Longest request line, its newline included. A longer one is answered `err too_long` and skipped
// up to its newline.
inline constexpr std::size_t k_control_line_bytes = 256;
// Longest reply line (a snapshot's `child` line is the longest).
inline constexpr std::size_t k_control_reply_line_bytes = 512;
// Most requests served from one client per poll() (fairness between clients).
inline constexpr std::size_t k_control_requests_per_poll = 16;

// The protocol's refusals, the first word after `err`. An error made by the protocol carries one
// of these as its subject (compared by address: a child that happens to be called "root" is
// still a child); the tree's own errors are written as their errc name and the child's id.
namespace control_word {
inline constexpr char bad_request[] = "bad_request";
inline constexpr char too_long[] = "too_long";
inline constexpr char unsupported_version[] = "unsupported_version";
inline constexpr char read_only[] = "read_only";
inline constexpr char rate_limited[] = "rate_limited";
inline constexpr char not_found[] = "not_found";
inline constexpr char not_a_subtree[] = "not_a_subtree";
inline constexpr char root[] = "root";
}  // namespace control_word

enum class control_verb : std::uint8_t { hello, snapshot, pause, resume, stop, restart };
[[nodiscard]] const char* to_string(control_verb v) noexcept;

// One parsed request. `path` points into the line it was parsed from.
struct control_request {
  control_verb verb{control_verb::snapshot};
  std::uint32_t version{0};   // hello
  const char* path{nullptr};  // pause, resume, stop, restart: a snapshot path
  std::size_t path_length{0};
};

// Parses one request line (`length` bytes, without its newline; a trailing carriage return is ignored):
//   hello <version> | snapshot | pause <path> | resume <path> | stop <path> | restart <path>
// Words are separated by single spaces or tabs. Returns: the request; errors whose subject is
// the protocol's word for them: invalid_argument "bad_request" (unknown verb, a missing or
// extra argument, a byte outside printable ASCII, an empty line), capacity_exceeded "too_long"
// (length >= k_control_line_bytes), invalid_argument "unsupported_version" (value = the
// version asked; a hello for another version).
[[nodiscard]] result<control_request> parse_control_request(const char* line, std::size_t length) noexcept;

// Writes the `err` line for a refused request: "err <subject or errc name> <description>" and a newline.
// Returns: the length written (without the terminator); cut to fit.
std::size_t format_control_error(const error& e, char* out, std::size_t capacity) noexcept;

// Writes one snapshot record as a `child` line:
//   child path=root/acquisition/sampler kind=worker state=paused generation=2 restarts=1
//   reason=error error=worker_failed flags=exited,unresponsive in_state_ns=... parked_ns=...
//   pause_ack_ns=...
// and, for a pool's thread, pool_queued= pool_running= pool_completed= pool_failed=
// pool_cancelled= pool_stopped= pool_high_water= (one line, ended by a newline). Bytes of the path outside printable ASCII (and spaces) are
// written as '?'. Returns: the length written (without the terminator); cut to fit.
std::size_t format_child_line(const child_snapshot& c, char* out, std::size_t capacity) noexcept;

// For clients: copies the value of `key=` in a reply line (up to the next space or newline)
// into `out`, terminated and cut to fit. Returns: true if the key is there.
[[nodiscard]] bool control_field(const char* line, const char* key, char* out, std::size_t capacity) noexcept;
// The same for a decimal number. Returns: true if the key is there with a number that fits.
[[nodiscard]] bool control_number(const char* line, const char* key, std::uint64_t& out) noexcept;

struct control_options {
  // Off: a read-only view; pause/resume/stop/restart are answered `err read_only`.
  bool allow_control{false};
  // The only peer uid served; the default -1 means this process's effective uid.
  std::int64_t allowed_uid{-1};
  // Per client: at most `burst` requests per `interval`; the rest are answered `err rate_limited`.
  std::uint32_t burst{50};
  duration interval{std::chrono::seconds(1)};
  // How long a `pause` request waits for the subtree to acknowledge (the server waits with it).
  duration pause_timeout{std::chrono::seconds(1)};
};

// What the server has done since it was opened.
struct control_stats {
  std::uint64_t accepted{0};
  std::uint64_t refused_peer{0};  // connections whose uid is not allowed (closed at once)
  std::uint64_t refused_busy{0};  // connections beyond MaxClients (closed at once)
  std::uint64_t requests{0};      // lines taken, valid or not
  std::uint64_t errors{0};        // `err` replies
  std::uint64_t commands{0};      // control requests carried out (ok)
};

namespace detail {
// control_stats as the serving thread counts it: relaxed counters, read from any thread.
struct control_counters {
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> refused_peer{0};
  std::atomic<std::uint64_t> refused_busy{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> commands{0};
};

struct control_client {
  int fd{-1};
  bool discarding{false};  // skipping the rest of an oversized line
  bool closing{false};     // the peer closed; serve what it sent, then drop it
  std::size_t in_used{0};
  char in[k_control_line_bytes]{};
  std::size_t out_used{0};
  std::size_t out_sent{0};
  rate_limiter limiter{1, std::chrono::seconds(1)};
};
}  // namespace detail

class control_server_base {
 public:
  control_server_base(const control_server_base&) = delete;
  control_server_base& operator=(const control_server_base&) = delete;

  // Opens the socket `directory/name` (platform::local_listener::open: a 0700 directory, a
  // 0600 socket file). Returns: ok; the listener's errors; already_running if open.
  [[nodiscard]] result<void> open(const char* directory, const char* name) noexcept;
  // Disconnects every client and removes the socket file. Idempotent.
  void close() noexcept;
  [[nodiscard]] bool is_open() const noexcept { return m_listener.is_open(); }
  [[nodiscard]] const char* socket_path() const noexcept { return m_listener.path(); }

  // Accepts pending connections, reads, answers and writes what can be done now; never blocks
  // (a pause request waits up to options.pause_timeout for the tree). Call it from one thread
  // at a time. Returns: ok; not_running if not open; the listener's accept error
  // (resource_exhausted: out of descriptors - the connection stays queued).
  [[nodiscard]] result<void> poll(time_point now) noexcept;

  // A worker body: poll(), then wait (a steward fd wait: a safe point) until the listener or a
  // client is ready, and again, until stopped. Returns: stop_requested (a stop: return it from
  // the body); poll()'s errors; the wait's errors other than a client's bad descriptor (that
  // client is dropped).
  [[nodiscard]] result<void> serve(worker_context& ctx) noexcept;

  // Answers one request line (without its newline) into `out`; the same code poll() runs for
  // each line (exposed for tests of the protocol without a socket). Returns: the reply's length.
  std::size_t answer(const char* line, std::size_t length, char* out, std::size_t capacity) noexcept;

  // Safe from any thread (each count is read on its own).
  [[nodiscard]] control_stats stats() const noexcept;
  // Connected clients; from the thread that serves only.
  [[nodiscard]] std::size_t clients() const noexcept;
  [[nodiscard]] const control_options& options() const noexcept { return m_options; }

 protected:
  control_server_base(tree_base& tree, const control_options& options, child_snapshot* records,
                      std::size_t record_capacity, detail::control_client* clients,
                      std::size_t client_capacity, char* replies, std::size_t reply_bytes) noexcept;
  // The derived class closes: by now its client arrays are gone. The listener closes itself.
  ~control_server_base() = default;

 private:
  std::size_t answer_snapshot(char* out, std::size_t capacity) noexcept;
  result<void> execute(const control_request& r) noexcept;
  result<void> accept_pending() noexcept;
  void service(detail::control_client& c, time_point now) noexcept;
  bool flush(detail::control_client& c) noexcept;  // false: the client is gone
  void take_line(detail::control_client& c, std::size_t end, time_point now) noexcept;
  void reply(detail::control_client& c, const char* line, std::size_t length) noexcept;
  [[nodiscard]] char* out_of(const detail::control_client& c) const noexcept;  // its reply buffer

  tree_base& m_tree;
  control_options m_options;
  child_snapshot* m_records;
  std::size_t m_record_capacity;
  detail::control_client* m_clients;
  std::size_t m_client_capacity;
  char* m_replies;  // m_client_capacity buffers of m_reply_bytes, one per client slot
  std::size_t m_reply_bytes;
  platform::local_listener m_listener;
  detail::control_counters m_stats{};
  bool m_backlog{false};  // a client has complete lines left for the next poll()
  bool m_waited{false};   // this poll ran a command that may wait (pause, stop, restart)
  std::size_t m_first_client{0};  // where the next poll() starts serving
};

// A control server for a tree of up to MaxChildren children (every child of every supervisor,
// as snapshot() counts them) and up to MaxClients connections at once (one fd wait takes the
// listener and every client: at most platform::k_max_wait_fds - 1 clients).
template <std::size_t MaxChildren, std::size_t MaxClients = 4>
class control_server final : public control_server_base {
 public:
  static_assert(MaxChildren > 0, "a tree has at least one child");
  static_assert(MaxClients > 0 && MaxClients < k_max_wait_sources,
                "one fd wait holds the listener and every client");
  // A snapshot reply: its header, one line per child and "end".
  static constexpr std::size_t k_reply_bytes = (MaxChildren + 2) * k_control_reply_line_bytes;

  explicit control_server(tree_base& tree, const control_options& options = {}) noexcept
      : control_server_base(tree, options, m_records, MaxChildren, m_clients, MaxClients, &m_replies[0][0],
                            k_reply_bytes) {}
  ~control_server() { close(); }
  control_server(const control_server&) = delete;
  control_server& operator=(const control_server&) = delete;

 private:
  child_snapshot m_records[MaxChildren]{};
  detail::control_client m_clients[MaxClients]{};
  char m_replies[MaxClients][k_reply_bytes]{};
};

}  // namespace steward
