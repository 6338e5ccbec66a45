// Structured reports of a supervision tree: every lifecycle event becomes a record shaped like
// OTP's supervisor reports - context, reason and offender - and goes through a fixed-capacity
// lock-free ring (core/report_ring.hpp) to a sink the application installs. The event hook only
// copies the record into the ring: the worker or runner that emitted the event never blocks on
// logging, never allocates, and a full ring counts the record as dropped. The application drains
// the ring off the hot path - from its main loop, or from a steward worker it owns
// (drain_every()); there is no hidden thread. The default sink, fd_report_sink, writes one line
// per record to a file descriptor (stderr by default) under a rate limit: `burst` lines per
// interval, then one summary line per interval saying how many were suppressed.
// See docs/supervisors.md, "Structured reports".
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "steward/core/expected.hpp"
#include "steward/core/rate_limiter.hpp"
#include "steward/core/report_ring.hpp"
#include "steward/core/time.hpp"
#include "steward/core/worker.hpp"
#include "steward/platform/fd_write.hpp"
#include "steward/supervisors/supervisor.hpp"

namespace steward {

// OTP's errorContext, extended with `progress` for the events OTP reports as progress.
enum class report_context : std::uint8_t {
  progress,          // child_started, child_restarted, child_exited (clean), backoff_scheduled,
                     // subtree_paused, subtree_resumed
  child_terminated,  // child_failed: an incarnation ended with an error, exception or failed cleanup
  start_error,       // start_failed
  shutdown_error,    // child_hung: a child missed its shutdown deadline
  shutdown,          // intensity_exceeded, escalated, auto_shutdown, tree_failed
};
[[nodiscard]] const char* to_string(report_context c) noexcept;
// The error code's identifier as written in report lines ("worker_failed"). Never null.
[[nodiscard]] const char* errc_name(errc code) noexcept;
[[nodiscard]] report_context context_of(tree_event_kind k) noexcept;

// One report. Trivially copyable: text fields point at static text (ids, names, error subjects).
struct report {
  std::uint64_t sequence{0};  // position in the ring, in claim order (a dropped record takes none)
  time_point at{};            // when the event was emitted, on the reporter's clock
  report_context context{report_context::progress};
  tree_event_kind event{tree_event_kind::child_started};
  // Reason.
  bool has_exit{false};  // child_exited / child_failed: how the incarnation ended
  exit_reason exit{exit_reason::returned};
  bool has_error{false};  // the event carries an error (failures, start errors, escalations)
  error err{};
  // Offender.
  const char* supervisor{nullptr};         // the supervisor's name (tree_event::supervisor)
  const char* child{nullptr};              // the child's id; null for an event of the supervisor itself
  std::uint32_t generation{0};             // the worker incarnation the event concerns (0: none)
  bool has_state{false};                   // false when the event does not say (backoff, intensity)
  worker_state state{worker_state::idle};  // the state the event leaves the offender in
  // Detail.
  duration detail{};  // backoff delay, time to acknowledge a pause, or time a hung child is stuck
};

// The record for one event (sequence 0). Pure.
[[nodiscard]] report make_report(const tree_event& event, time_point at) noexcept;

// Writes one report as a single line ending in '\n', keys in a fixed order, '-' for an absent
// value, text cut to fit:
//   steward: t=12.000000041 seq=41 context=child_terminated event=child_failed supervisor=acq
//   child=sampler generation=3 state=failed reason=error error=worker_failed value=7
//   subject=sampler detail_ns=0
// (one line). Returns: the length written, '\n' included, without the terminator; 0 if
// `capacity` < 2.
std::size_t format_report(const report& r, char* out, std::size_t capacity) noexcept;

// The summary line: "steward: t=13.000000000 suppressed=9979 ring_full=0 burst=20
// interval_ns=1000000000\n" (ring_full: how many of them never reached the sink because the
// ring was full). Returns: as format_report().
std::size_t format_suppressed(time_point at, std::uint64_t suppressed, std::uint64_t ring_full,
                              std::uint32_t burst, duration interval, char* out,
                              std::size_t capacity) noexcept;

// Where drained reports go; called only by the draining thread, one drain at a time, so a sink
// needs no lock. It may block (it runs off the hot path) but must not call tree operations
// when it drains from inside the tree.
class report_sink {
 public:
  report_sink(const report_sink&) = delete;
  report_sink& operator=(const report_sink&) = delete;

  // One record, in ring order (per producer: in the order each thread emitted them).
  virtual void consume(const report& r) noexcept = 0;
  // `count` records were dropped because the ring was full (told before the records drained
  // with them).
  virtual void lost(std::uint64_t count) noexcept = 0;
  // The ring was found empty; `now` on the reporter's clock (a chance to write a summary).
  virtual void idle(time_point now) noexcept = 0;

 protected:
  report_sink() noexcept = default;
  // Protected and not virtual: a sink is never destroyed through this base, and a virtual
  // destructor would make the library reference operator delete (tests: no allocator symbols).
  ~report_sink() = default;
};

struct fd_sink_config {
  int fd{platform::k_stderr_fd};
  std::uint32_t burst{20};                     // lines per interval
  duration interval{std::chrono::seconds(1)};  // of report time (report::at)
};

// The default sink: one line per report to a descriptor, rate-limited on report time - at most
// `burst` report lines and one summary line per interval, whatever the event rate.
// Final, and never destroyed through report_sink, whose destructor is protected (a virtual one
// would reference operator delete):
// NOLINTNEXTLINE(cppcoreguidelines-virtual-class-destructor)
class fd_report_sink final : public report_sink {
 public:
  struct counters {
    std::uint64_t lines{0};         // lines written (reports and summaries)
    std::uint64_t reports{0};       // report lines written
    std::uint64_t summaries{0};     // summary lines written
    std::uint64_t summarised{0};    // reports counted in summary lines
    std::uint64_t write_errors{0};  // lines the descriptor did not take whole
    error last_write_error{};       // the last of them
  };

  explicit fd_report_sink(const fd_sink_config& config = {}) noexcept;
  ~fd_report_sink() = default;
  fd_report_sink(const fd_report_sink&) = delete;
  fd_report_sink& operator=(const fd_report_sink&) = delete;

  void consume(const report& r) noexcept override;
  void lost(std::uint64_t count) noexcept override;
  void idle(time_point now) noexcept override;

  // Writes the pending count (pending()) as a summary line now, even if this interval had its
  // summary: call it once at shutdown, after the last drain, so that no report goes uncounted.
  void finish(time_point now) noexcept;

  [[nodiscard]] const counters& stats() const noexcept { return m_stats; }
  // Reports suppressed or lost and not yet counted in a summary line (the next interval's).
  [[nodiscard]] std::uint32_t pending() const noexcept { return m_limiter.pending_suppressed(); }
  [[nodiscard]] const fd_sink_config& config() const noexcept { return m_config; }

 private:
  void summary(std::uint32_t count, time_point at) noexcept;
  void write_line(std::size_t length, bool is_report) noexcept;

  fd_sink_config m_config;
  rate_limiter m_limiter;
  std::uint64_t m_ring_full_pending{0};  // of the pending count, how many the ring dropped
  counters m_stats{};
  char m_line[320]{};
};

// Reads the reporter's clock; `user` as given to the reporter. Must not block.
using report_clock = time_point (*)(void* user) noexcept;

class reporter_base {
 public:
  reporter_base(const reporter_base&) = delete;
  reporter_base& operator=(const reporter_base&) = delete;

  // Installs this reporter as the tree's event hook (replacing any other).
  // Returns: ok; would_deadlock from a thread of the tree (tree_base::set_event_hook).
  result<void> attach(tree_base& tree) noexcept;

  // Records one event: reads the clock, copies the record into the ring. Any thread, lock-free,
  // never blocks or allocates; a full ring counts a drop. For an application's own hook that
  // does more than report; attach() installs hook() instead.
  void post(const tree_event& event) noexcept;
  // A tree_event_hook; `user` is the reporter_base.
  static void hook(void* user, const tree_event& event) noexcept;

  // Hands up to `max` records to the sink, in ring order, telling it first of records dropped
  // since the last drain, and calls sink.idle() if the ring was emptied. Call it off the hot
  // path: a main loop, or drain_every() in a worker the application owns.
  // Returns: how many records were handed over; already_running if another thread is draining
  // (nothing done: drains never wait for each other).
  result<std::size_t> drain(std::size_t max = static_cast<std::size_t>(-1)) noexcept;

  // A worker body's loop: drains every `period` until a stop is requested, then drains once
  // more. Returns: stop_requested (a clean stop), or the sleep's error.
  result<void> drain_every(worker_context& ctx, duration period) noexcept;

  // Records posted into the ring, and records dropped because it was full, since construction.
  [[nodiscard]] std::uint64_t posted() const noexcept { return m_ring.pushed(); }
  [[nodiscard]] std::uint64_t dropped() const noexcept {
    return m_lost.load(std::memory_order_relaxed) + m_ring.dropped();
  }
  [[nodiscard]] std::size_t capacity() const noexcept { return m_ring.capacity(); }

  // The monotonic clock (platform::monotonic_now(); 0 if it cannot be read).
  static time_point monotonic(void* user) noexcept;

 protected:
  reporter_base(report_ring_base<report>& ring, report_sink& sink, report_clock clock,
                void* clock_user) noexcept
      : m_ring(ring),
        m_sink(sink),
        m_clock(clock != nullptr ? clock : &monotonic),
        m_clock_user(clock_user) {}
  ~reporter_base() = default;

 private:
  report_ring_base<report>& m_ring;
  report_sink& m_sink;
  report_clock m_clock;
  void* m_clock_user;
  std::atomic<bool> m_draining{false};
  std::atomic<std::uint64_t> m_lost{0};  // drops already handed to the sink
};

// A reporter with its ring inside (Capacity records, a power of two). Declare it, and its sink,
// before the tree it is attached to, so that the tree (and its hook) goes first.
template <std::size_t Capacity = 256>
class reporter final : public reporter_base {
 public:
  explicit reporter(report_sink& sink, report_clock clock = nullptr, void* clock_user = nullptr) noexcept
      : reporter_base(m_ring, sink, clock, clock_user) {}
  ~reporter() = default;
  reporter(const reporter&) = delete;
  reporter& operator=(const reporter&) = delete;

 private:
  report_ring<report, Capacity> m_ring;
};

}  // namespace steward
