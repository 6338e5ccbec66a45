// POSIX port (Linux): real-time knobs. mlockall(MCL_CURRENT | MCL_FUTURE) pins the process;
// queries read the calling thread's scheduling and affinity back from the kernel, so tests and
// applications can check what was actually applied rather than what was asked for.
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include "steward/platform/rt.hpp"

namespace steward::platform {

result<void> lock_memory() noexcept {
  if (mlockall(MCL_CURRENT | MCL_FUTURE) == 0) return {};
  const int err = errno;
  if (err == EPERM) return fail(errc::permission_denied, "mlockall", err);
  if (err == ENOMEM || err == EAGAIN) return fail(errc::resource_exhausted, "mlockall", err);
  return fail(errc::platform_error, "mlockall", err);
}

result<void> unlock_memory() noexcept {
  if (munlockall() == 0) return {};
  return fail(errc::platform_error, "munlockall", errno);
}

std::size_t page_size() noexcept {
  const long v = sysconf(_SC_PAGESIZE);
  return v > 0 ? static_cast<std::size_t>(v) : static_cast<std::size_t>(4096);
}

result<thread_scheduling> current_scheduling() noexcept {
  int policy = 0;
  sched_param sp{};
  const int rc = pthread_getschedparam(pthread_self(), &policy, &sp);
  if (rc != 0) return fail(errc::platform_error, "pthread_getschedparam", rc);
  thread_scheduling out;
  out.priority = sp.sched_priority;
  out.policy = policy == SCHED_FIFO ? sched_policy::fifo
               : policy == SCHED_RR ? sched_policy::rr
                                    : sched_policy::other;
  return out;
}

result<std::uint64_t> current_affinity() noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  const int rc = pthread_getaffinity_np(pthread_self(), sizeof set, &set);
  if (rc != 0) return fail(errc::platform_error, "pthread_getaffinity_np", rc);
  std::uint64_t mask = 0;
  for (unsigned cpu = 0; cpu < 64U; ++cpu) {
    if (CPU_ISSET(cpu, &set)) mask |= std::uint64_t{1} << cpu;
  }
  return mask;
}

}  // namespace steward::platform
