#include "steward/core/cleanup_stack.hpp"

#include "steward/core/contract.hpp"

namespace steward {

result<cleanup_ref> cleanup_stack_base::push(const cleanup_entry& entry) noexcept {
  if (m_top == m_capacity) {
    auto action = entry.action;
    const bool ok = action();  // release at once: a full stack must not leak the resource
    return fail(errc::capacity_exceeded, ok ? "cleanup stack" : "cleanup stack (release failed)",
                static_cast<std::int32_t>(m_capacity));
  }
  m_entries[m_top] = entry;
  const cleanup_ref ref{static_cast<std::uint32_t>(m_top), m_epoch};
  ++m_top;
  ++m_live;
  if (m_top > m_high_water) m_high_water = m_top;
  return ref;
}

result<cleanup_entry*> cleanup_stack_base::find(cleanup_ref ref) noexcept {
  if (ref.epoch != m_epoch) return fail(errc::stale_handle, "cleanup ref");
  if (ref.index >= m_top || !m_entries[ref.index].live) return fail(errc::invalid_handle, "cleanup ref");
  return &m_entries[ref.index];
}

void cleanup_stack_base::drop_dead_top() noexcept {
  while (m_top > 0 && !m_entries[m_top - 1].live) --m_top;
}

result<void> cleanup_stack_base::release(cleanup_ref ref) noexcept {
  auto entry = find(ref);
  if (!entry) return fail(entry.error());
  (*entry)->live = false;  // mark first: exactly once even if the action re-enters
  --m_live;
  const bool ok = (*entry)->action();
  drop_dead_top();
  if (!ok) return fail(errc::cleanup_failed, "cleanup ref");
  return {};
}

result<void> cleanup_stack_base::dismiss(cleanup_ref ref) noexcept {
  auto entry = find(ref);
  if (!entry) return fail(entry.error());
  (*entry)->live = false;
  --m_live;
  drop_dead_top();
  return {};
}

cleanup_summary cleanup_stack_base::unwind() noexcept {
  cleanup_summary summary{};
  while (m_top > 0) {
    cleanup_entry& entry = m_entries[--m_top];
    if (!entry.live) continue;
    // Move the action out and free its slot before running it: an action that registers a new
    // one (defer() during unwinding) then takes the slot above, which this loop runs next
    // (newest first), instead of overwriting the action that is running.
    auto action = entry.action;
    entry.live = false;
    entry.action = {};
    --m_live;
    ++summary.released;
    if (!action()) ++summary.failed;
  }
  return summary;
}

void cleanup_stack_base::reset(std::uint32_t epoch) noexcept {
  STEWARD_REQUIRE("core.cleanup", 100, m_live == 0);
  m_top = 0;
  m_epoch = epoch;
}

}  // namespace steward
