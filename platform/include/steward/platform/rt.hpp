// Platform interface: process-wide real-time knobs and queries about the calling thread.
#pragma once

#include <cstddef>
#include <cstdint>

#include "steward/core/expected.hpp"
#include "steward/platform/thread.hpp"

namespace steward::platform {

// Locks all current and future pages of the process in RAM (mlockall), so a real-time thread
// never takes a page fault on its stack or data. Needs CAP_IPC_LOCK or a large RLIMIT_MEMLOCK.
// Returns: ok; permission_denied (EPERM) or resource_exhausted (ENOMEM: over RLIMIT_MEMLOCK),
// value = errno.
[[nodiscard]] result<void> lock_memory() noexcept;
// Undoes lock_memory(). Returns: ok or platform_error.
[[nodiscard]] result<void> unlock_memory() noexcept;

// The size of a memory page.
[[nodiscard]] std::size_t page_size() noexcept;

struct thread_scheduling {
  sched_policy policy{sched_policy::other};
  int priority{0};
};
// The calling thread's scheduling policy and priority. Returns: them, or platform_error.
[[nodiscard]] result<thread_scheduling> current_scheduling() noexcept;
// The calling thread's CPU affinity (bit i = CPU i, CPUs 0..63). Returns: it, or platform_error.
[[nodiscard]] result<std::uint64_t> current_affinity() noexcept;

}  // namespace steward::platform
