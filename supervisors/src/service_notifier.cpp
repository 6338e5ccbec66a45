// The tree's report to the service manager: snapshot -> counts -> one STATUS= line, and the
// watchdog fed only while the counts say the tree is healthy. Everything lives in the object
// (snapshot records, the line, the last line sent); the datagram is built by the platform's
// sd_notifier on the caller's stack.
#include "steward/supervisors/service_notifier.hpp"

#include <cstdio>

namespace steward {
namespace {

bool same_text(const char* a, const char* b) noexcept {
  for (; *a != '\0' && *a == *b; ++a, ++b) {
  }
  return *a == *b;
}

void copy_text(char* out, std::size_t capacity, const char* in) noexcept {
  std::size_t i = 0;
  for (; i + 1 < capacity && in[i] != '\0'; ++i) out[i] = in[i];
  out[i] = '\0';
}

}  // namespace

tree_health summarise(tree_state state, const child_snapshot* records, std::size_t count) noexcept {
  tree_health h;
  h.state = state;
  for (std::size_t i = 0; i < count; ++i) {
    const child_snapshot& c = records[i];
    if (c.quarantined) ++h.hung;
    if (c.unresponsive) ++h.unresponsive;
    if (c.restart_pending) {
      ++h.restarting;  // a worker waiting for its restart, or a whole nested supervisor
      continue;
    }
    if (c.kind == child_kind::supervisor) continue;  // its workers are counted one by one
    if (c.quarantined) continue;
    switch (c.state) {
      case worker_state::running:
      case worker_state::starting:
        ++h.running;
        break;
      case worker_state::paused:
      case worker_state::pausing:
        ++h.paused;
        break;
      case worker_state::failed:
        ++h.failed;
        break;
      case worker_state::idle:
      case worker_state::stopping:
      case worker_state::stopped:
        ++h.stopped;
        break;
    }
  }
  h.healthy = state == tree_state::running && h.hung == 0 && h.unresponsive == 0;
  return h;
}

std::size_t format_status(const tree_health& h, char* out, std::size_t capacity) noexcept {
  if (capacity == 0) return 0;
  const int n =
      std::snprintf(out, capacity, "%s: %zu running, %zu paused, %zu restarting, %zu failed, %zu hung",
                    to_string(h.state), h.running, h.paused, h.restarting, h.failed, h.hung);
  if (n < 0) {
    out[0] = '\0';
    return 0;
  }
  auto written = static_cast<std::size_t>(n);
  if (h.unresponsive != 0 && written + 1 < capacity) {  // only when there are some: lines stay short
    const int more = std::snprintf(out + written, capacity - written, ", %zu unresponsive", h.unresponsive);
    if (more > 0) written += static_cast<std::size_t>(more);
  }
  return written < capacity ? written : capacity - 1;
}

result<std::size_t> service_notifier_base::observe() noexcept {
  // The state first: a tree seen running whose snapshot then shows a hung child is unhealthy;
  // one that fails in between is reported running once more and failed at the next tick.
  const tree_state state = m_tree.state();
  auto count = m_tree.snapshot(m_records, m_capacity);
  if (!count) return fail(count.error());
  m_last = summarise(state, m_records, *count);
  return format_status(m_last, m_line, sizeof m_line);
}

result<void> service_notifier_base::ready() noexcept {
  STEWARD_TRY(observe());
  if (m_last.state != tree_state::running) return fail(errc::not_running, m_tree.root().name());
  STEWARD_TRY(m_sd.notify(platform::notify_flags::ready, m_line));
  copy_text(m_sent, sizeof m_sent, m_line);
  return {};
}

result<notify_tick> service_notifier_base::tick() noexcept {
  STEWARD_TRY(observe());
  notify_tick out;
  out.health = m_last;
  const bool changed = !same_text(m_line, m_sent);
  const auto flags = m_last.healthy ? platform::notify_flags::watchdog : platform::notify_flags::none;
  STEWARD_TRY(m_sd.notify(flags, changed ? m_line : nullptr));
  out.watchdog_sent = m_last.healthy && m_sd.watchdog_enabled();
  out.status_sent = changed && m_sd.enabled();
  if (changed) copy_text(m_sent, sizeof m_sent, m_line);
  return out;
}

result<void> service_notifier_base::stopping() noexcept {
  STEWARD_TRY(m_sd.stopping("stopping"));
  copy_text(m_sent, sizeof m_sent, "stopping");
  return {};
}

}  // namespace steward
