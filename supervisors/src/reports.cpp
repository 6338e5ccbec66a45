// Structured reports: an event becomes a record on the emitting thread (a clock read and one
// ring push, nothing else), and lines are made on the draining thread. Every buffer is a member;
// snprintf writes only integers and strings into it (no floating point), so nothing allocates.
#include "steward/supervisors/reports.hpp"

#include <cinttypes>
#include <cstdio>

#include "steward/platform/clock.hpp"

namespace steward {

const char* errc_name(errc code) noexcept {
  switch (code) {
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::invalid_handle:
      return "invalid_handle";
    case errc::stale_handle:
      return "stale_handle";
    case errc::not_running:
      return "not_running";
    case errc::already_running:
      return "already_running";
    case errc::already_paused:
      return "already_paused";
    case errc::stopping:
      return "stopping";
    case errc::cancelled:
      return "cancelled";
    case errc::exited:
      return "exited";
    case errc::timeout:
      return "timeout";
    case errc::stop_requested:
      return "stop_requested";
    case errc::would_deadlock:
      return "would_deadlock";
    case errc::capacity_exceeded:
      return "capacity_exceeded";
    case errc::stack_too_small:
      return "stack_too_small";
    case errc::permission_denied:
      return "permission_denied";
    case errc::resource_exhausted:
      return "resource_exhausted";
    case errc::platform_error:
      return "platform_error";
    case errc::io_error:
      return "io_error";
    case errc::worker_failed:
      return "worker_failed";
    case errc::exception:
      return "exception";
    case errc::cleanup_failed:
      return "cleanup_failed";
    case errc::intensity_exceeded:
      return "intensity_exceeded";
    case errc::hung:
      return "hung";
    case errc::unresponsive:
      return "unresponsive";
    case errc::queue_full:
      return "queue_full";
  }
  return "unknown";
}

namespace {

const char* text_or_dash(const char* s) noexcept {
  return s != nullptr && *s != '\0' ? s : "-";
}

// Seconds and nanoseconds of a monotonic time, for "t=12.000000041".
struct split_time {
  std::int64_t sec;
  std::int64_t nsec;
};
split_time split(time_point t) noexcept {
  const std::int64_t ns = t.time_since_epoch().count();
  return split_time{ns / 1'000'000'000, ns % 1'000'000'000};
}

// snprintf's result as the length inside `capacity - 1` bytes (room kept for the '\n'), then
// the '\n' and the terminator.
std::size_t end_line(int written, char* out, std::size_t capacity) noexcept {
  if (written < 0) written = 0;
  auto len = static_cast<std::size_t>(written);
  if (len > capacity - 2) len = capacity - 2;  // cut to fit: the line still ends in '\n'
  out[len] = '\n';
  out[len + 1] = '\0';
  return len + 1;
}

}  // namespace

const char* to_string(report_context c) noexcept {
  switch (c) {
    case report_context::progress:
      return "progress";
    case report_context::child_terminated:
      return "child_terminated";
    case report_context::start_error:
      return "start_error";
    case report_context::shutdown_error:
      return "shutdown_error";
    case report_context::shutdown:
      return "shutdown";
  }
  return "unknown";
}

report_context context_of(tree_event_kind k) noexcept {
  switch (k) {
    case tree_event_kind::child_started:
    case tree_event_kind::child_exited:
    case tree_event_kind::child_restarted:
    case tree_event_kind::backoff_scheduled:
    case tree_event_kind::subtree_paused:
    case tree_event_kind::subtree_resumed:
      return report_context::progress;
    case tree_event_kind::child_failed:
      return report_context::child_terminated;
    case tree_event_kind::start_failed:
      return report_context::start_error;
    case tree_event_kind::child_hung:
      return report_context::shutdown_error;
    case tree_event_kind::child_unresponsive:
      return report_context::child_terminated;
    case tree_event_kind::intensity_exceeded:
    case tree_event_kind::escalated:
    case tree_event_kind::auto_shutdown:
    case tree_event_kind::tree_failed:
      return report_context::shutdown;
  }
  return report_context::progress;
}

report make_report(const tree_event& e, time_point at) noexcept {
  report r;
  r.at = at;
  r.context = context_of(e.kind);
  r.event = e.kind;
  r.supervisor = e.supervisor;
  r.child = e.child;
  r.generation = e.generation;
  r.detail = e.delay;
  r.has_state = true;
  switch (e.kind) {
    case tree_event_kind::child_started:
    case tree_event_kind::child_restarted:
    case tree_event_kind::subtree_resumed:
      r.state = worker_state::running;
      break;
    case tree_event_kind::child_exited:
      r.has_exit = true;
      r.exit = e.reason;
      r.state = worker_state::stopped;
      break;
    case tree_event_kind::child_failed:
      r.has_exit = true;
      r.exit = e.reason;
      r.has_error = true;
      r.err = e.err;
      r.state = worker_state::failed;
      break;
    case tree_event_kind::start_failed:
    case tree_event_kind::escalated:
    case tree_event_kind::tree_failed:
      r.has_error = true;
      r.err = e.err;
      r.state = worker_state::failed;
      break;
    case tree_event_kind::child_unresponsive:  // err.value is the worker_state it went silent in
    case tree_event_kind::child_hung:          // err.value is the worker_state it is stuck in
      r.has_error = true;
      r.err = e.err;
      r.state = e.err.value >= 0 && e.err.value <= static_cast<std::int32_t>(worker_state::failed)
                    ? static_cast<worker_state>(e.err.value)
                    : worker_state::stopping;
      break;
    case tree_event_kind::subtree_paused:
      r.state = worker_state::paused;
      break;
    case tree_event_kind::auto_shutdown:
      r.state = worker_state::stopped;
      break;
    case tree_event_kind::intensity_exceeded:  // the offender is the child whose exit was one too many
      r.has_error = true;
      r.err = e.err;
      r.has_state = false;
      break;
    case tree_event_kind::backoff_scheduled:  // the child has exited; the event does not say how
      r.has_state = false;
      break;
  }
  return r;
}

std::size_t format_report(const report& r, char* out, std::size_t capacity) noexcept {
  if (out == nullptr || capacity < 2) return 0;
  const split_time t = split(r.at);
  const char* reason = r.has_exit ? to_string(r.exit) : r.has_error ? errc_name(r.err.code) : "-";
  const int n = std::snprintf(
      out, capacity - 1,
      "steward: t=%" PRId64 ".%09" PRId64 " seq=%" PRIu64
      " context=%s event=%s supervisor=%s child=%s generation=%" PRIu32
      " state=%s reason=%s error=%s value=%" PRId32 " subject=%s detail_ns=%" PRId64,
      t.sec, t.nsec, r.sequence, to_string(r.context), to_string(r.event), text_or_dash(r.supervisor),
      text_or_dash(r.child), r.generation, r.has_state ? to_string(r.state) : "-", reason,
      r.has_error ? errc_name(r.err.code) : "-", r.has_error ? r.err.value : 0,
      r.has_error ? text_or_dash(r.err.subject) : "-", static_cast<std::int64_t>(r.detail.count()));
  return end_line(n, out, capacity);
}

std::size_t format_suppressed(time_point at, std::uint64_t suppressed, std::uint64_t ring_full,
                              std::uint32_t burst, duration interval, char* out,
                              std::size_t capacity) noexcept {
  if (out == nullptr || capacity < 2) return 0;
  const split_time t = split(at);
  const int n =
      std::snprintf(out, capacity - 1,
                    "steward: t=%" PRId64 ".%09" PRId64 " suppressed=%" PRIu64 " ring_full=%" PRIu64
                    " burst=%" PRIu32 " interval_ns=%" PRId64,
                    t.sec, t.nsec, suppressed, ring_full, burst, static_cast<std::int64_t>(interval.count()));
  return end_line(n, out, capacity);
}

// ---- fd_report_sink ----

fd_report_sink::fd_report_sink(const fd_sink_config& config) noexcept
    : m_config(config), m_limiter(config.burst, config.interval) {}

void fd_report_sink::consume(const report& r) noexcept {
  const rate_limiter::verdict v = m_limiter.check(r.at);
  if (!v.allowed) return;
  if (v.suppressed_before > 0) summary(v.suppressed_before, r.at);
  write_line(format_report(r, m_line, sizeof m_line), true);
}

void fd_report_sink::lost(std::uint64_t count) noexcept {
  const std::uint64_t cap = 0xFFFF'FFFFU;
  const auto n = static_cast<std::uint32_t>(count < cap ? count : cap);
  m_limiter.add_suppressed(n);
  m_ring_full_pending += count;
}

void fd_report_sink::idle(time_point now) noexcept {
  const std::uint32_t n = m_limiter.flush(now);
  if (n > 0) summary(n, now);
}

void fd_report_sink::finish(time_point now) noexcept {
  const std::uint32_t n = m_limiter.take_pending();
  if (n > 0) summary(n, now);
}

void fd_report_sink::summary(std::uint32_t count, time_point at) noexcept {
  // The ring's drops are part of the count; say how many (the rest hit the rate limit).
  const std::uint64_t ring_full = m_ring_full_pending < count ? m_ring_full_pending : count;
  m_ring_full_pending -= ring_full;
  m_stats.summarised += count;
  write_line(
      format_suppressed(at, count, ring_full, m_config.burst, m_config.interval, m_line, sizeof m_line),
      false);
}

void fd_report_sink::write_line(std::size_t length, bool is_report) noexcept {
  const result<void> written = platform::write_all(m_config.fd, m_line, length);
  if (!written) {
    ++m_stats.write_errors;
    m_stats.last_write_error = written.error();
    return;
  }
  ++m_stats.lines;
  if (is_report) {
    ++m_stats.reports;
  } else {
    ++m_stats.summaries;
  }
}

// ---- reporter_base ----

time_point reporter_base::monotonic(void* /*user*/) noexcept {
  const result<time_point> now = platform::monotonic_now();
  return now ? *now : time_point{};
}

result<void> reporter_base::attach(tree_base& tree) noexcept {
  return tree.set_event_hook(&hook, this);
}

void reporter_base::hook(void* user, const tree_event& event) noexcept {
  static_cast<reporter_base*>(user)->post(event);
}

void reporter_base::post(const tree_event& event) noexcept {
  // A full ring counts the drop itself; the sequence is set at the drain (the ring's position).
  static_cast<void>(m_ring.try_push(make_report(event, m_clock(m_clock_user))));
}

result<std::size_t> reporter_base::drain(std::size_t max) noexcept {
  bool idle_drain = false;
  // acquire pairs with the release below: the previous drainer's sink writes happen before ours.
  if (!m_draining.compare_exchange_strong(idle_drain, true, std::memory_order_acquire,
                                          std::memory_order_relaxed))
    return fail(errc::already_running, "reporter");
  const std::uint64_t lost = m_ring.take_dropped();
  if (lost > 0) {
    m_lost.fetch_add(lost, std::memory_order_relaxed);
    m_sink.lost(lost);
  }
  std::size_t n = 0;
  report r;
  bool emptied = false;
  while (n < max) {
    if (!m_ring.try_pop(r, &r.sequence)) {
      emptied = true;
      break;
    }
    m_sink.consume(r);
    ++n;
  }
  if (emptied) m_sink.idle(m_clock(m_clock_user));
  m_draining.store(false, std::memory_order_release);
  return n;
}

result<void> reporter_base::drain_every(worker_context& ctx, duration period) noexcept {
  for (;;) {
    const result<void> slept = ctx.sleep_for(period);
    static_cast<void>(drain());  // another thread draining at this moment is just as good
    if (!slept) return slept;
  }
}

}  // namespace steward
