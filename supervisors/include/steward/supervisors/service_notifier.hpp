// A supervision tree reported to the service manager (systemd): READY=1 once the tree has
// started, STATUS= with a one-line count of its workers, WATCHDOG=1 only while the tree is
// healthy, STOPPING=1 on shutdown. It reads the tree through snapshot() into storage it owns,
// allocates nothing and runs no thread: the application calls tick() periodically (at half
// the watchdog period, platform::sd_notifier::watchdog_period() / 2, or more often), from one
// thread at a time - a plain thread or a steward worker outside the tree.
#pragma once

#include <cstddef>
#include <cstdint>

#include "steward/core/expected.hpp"
#include "steward/platform/sd_notify.hpp"
#include "steward/supervisors/supervisor.hpp"

namespace steward {

// What a snapshot says about a tree. Counts are of worker children (a nested supervisor is
// the sum of its workers), except `restarting`, which also counts a nested supervisor waiting
// for its own restart once.
struct tree_health {
  tree_state state{tree_state::idle};
  std::size_t running{0};     // running or starting
  std::size_t paused{0};      // paused, or a pause requested and not yet acknowledged
  std::size_t restarting{0};  // a restart is due (backoff, a group restart, a paused subtree)
  std::size_t failed{0};      // failed and not going to be restarted
  std::size_t stopped{0};     // idle, stopping, stopped (terminated, or ended for good)
  std::size_t hung{0};        // quarantined: missed a shutdown deadline, still running
  std::size_t unresponsive{0};  // missed its liveness period, no progress since
  // Healthy: the tree runs (its root has not given up), no child is hung and none is
  // unresponsive. A paused or a restarting child is healthy: the tree is doing what it was told
  // or what its policy says.
  bool healthy{false};
};

// Counts `count` snapshot records of a tree in `state`. Pure: no clock, no lock.
[[nodiscard]] tree_health summarise(tree_state state, const child_snapshot* records,
                                    std::size_t count) noexcept;

// Writes the one-line summary, e.g. "running: 3 running, 0 paused, 0 restarting, 0 failed,
// 0 hung" (the first word is the tree's state), cut to fit and always terminated.
// Returns: the length written (without the terminator).
std::size_t format_status(const tree_health& health, char* out, std::size_t capacity) noexcept;

// What one tick() did.
struct notify_tick {
  tree_health health{};
  bool watchdog_sent{false};  // WATCHDOG=1 went out (healthy, and the watchdog applies to us)
  bool status_sent{false};    // the STATUS= line changed and went out
};

class service_notifier_base {
 public:
  service_notifier_base(const service_notifier_base&) = delete;
  service_notifier_base& operator=(const service_notifier_base&) = delete;

  // READY=1 with the current STATUS=. Call it once the tree's start() has returned ok.
  // Returns: ok (a no-op without a service manager); not_running if the tree is not running
  // (READY=1 is not sent); capacity_exceeded (value = records needed) if the snapshot does not
  // fit; the sd_notifier's send error.
  [[nodiscard]] result<void> ready() noexcept;

  // Takes a snapshot; sends WATCHDOG=1 if the tree is healthy, and STATUS= when the line
  // differs from the last one sent - in one datagram. An unhealthy tree gets no WATCHDOG=1, so
  // the manager's watchdog fires after its period (systemd then restarts the service).
  // Returns: what it found and sent; capacity_exceeded (value = records needed) - nothing is
  // sent, the health cannot be known; the sd_notifier's send error (the next tick tries again).
  [[nodiscard]] result<notify_tick> tick() noexcept;

  // STOPPING=1 with STATUS=stopping. Call it before stopping the tree, and stop calling tick().
  // Returns: ok; the sd_notifier's send error.
  [[nodiscard]] result<void> stopping() noexcept;

  // The health found by the last ready() or tick().
  [[nodiscard]] const tree_health& last_health() const noexcept { return m_last; }

 protected:
  service_notifier_base(tree_base& tree, const platform::sd_notifier& sd, child_snapshot* records,
                        std::size_t capacity) noexcept
      : m_tree(tree), m_sd(sd), m_records(records), m_capacity(capacity) {}
  ~service_notifier_base() = default;

 private:
  static constexpr std::size_t k_status_bytes = 160;
  // Snapshot, summary and status line into m_line; the line's length.
  result<std::size_t> observe() noexcept;

  tree_base& m_tree;
  const platform::sd_notifier& m_sd;
  child_snapshot* m_records;
  std::size_t m_capacity;
  tree_health m_last{};
  char m_line[k_status_bytes]{};
  char m_sent[k_status_bytes]{};  // the STATUS= text the manager has (empty: none yet)
};

// Owns room for a snapshot of up to MaxChildren records (every child of every supervisor).
template <std::size_t MaxChildren>
class service_notifier final : public service_notifier_base {
 public:
  static_assert(MaxChildren > 0, "a tree has at least one child");
  service_notifier(tree_base& tree, const platform::sd_notifier& sd) noexcept
      : service_notifier_base(tree, sd, m_storage, MaxChildren) {}
  ~service_notifier() = default;
  service_notifier(const service_notifier&) = delete;
  service_notifier& operator=(const service_notifier&) = delete;

 private:
  child_snapshot m_storage[MaxChildren]{};
};

}  // namespace steward
