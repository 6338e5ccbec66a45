// Platform interface: threads on caller-owned stacks, with name, scheduling and affinity.
#pragma once

#include <cstddef>
#include <cstdint>

#include "steward/core/expected.hpp"

namespace steward::platform {

enum class sched_policy : std::uint8_t {
  inherit,  // whatever the creating thread has
  other,    // SCHED_OTHER (time sharing)
  fifo,     // SCHED_FIFO (real-time, needs privilege)
  rr,       // SCHED_RR (real-time, needs privilege)
};

// What to do when the OS refuses a real-time policy for lack of privilege.
enum class rt_fallback : std::uint8_t {
  run_unprivileged,  // start anyway with the inherited policy and report it (thread_report)
  fail,              // start() fails with permission_denied
};

struct thread_options {
  sched_policy policy{sched_policy::inherit};
  int priority{0};            // 1..99 for fifo/rr, 0 otherwise
  std::uint64_t affinity{0};  // bit i = CPU i; 0 = leave the affinity alone
  rt_fallback on_rt_refused{rt_fallback::run_unprivileged};
};

struct thread_params {
  const char* name{nullptr};      // up to 15 characters reach the OS; longer is cut
  unsigned char* stack{nullptr};  // caller-owned stack memory, required
  std::size_t stack_size{0};
  thread_options options{};
};

// What was actually applied when a thread started.
struct thread_report {
  bool rt_fell_back{false};    // a real-time policy was refused and the thread runs unprivileged
  std::int32_t rt_errno{0};    // why it was refused
  std::int32_t name_errno{0};  // the thread runs but its OS name could not be set (cosmetic)
};

using thread_entry = void (*)(void* arg) noexcept;

class thread_handle {
 public:
  [[nodiscard]] bool joinable() const noexcept { return m_joinable; }

 private:
  friend result<thread_report> create_thread(thread_handle& out, const thread_params& params,
                                             thread_entry entry, void* arg) noexcept;
  friend result<void> join_thread(thread_handle& handle) noexcept;
  friend struct thread_trampoline;
  alignas(8) unsigned char m_storage[8]{};  // holds a pthread_t
  thread_entry m_entry{nullptr};            // read by the new thread; the handle outlives it
  void* m_arg{nullptr};
  bool m_joinable{false};
};

// Smallest stack the OS accepts for a thread (sysconf(_SC_THREAD_STACK_MIN) on POSIX).
[[nodiscard]] std::size_t min_stack_size() noexcept;

// Starts `entry(arg)` on a new thread that runs on params.stack.
// Returns: what was applied; or invalid_argument (bad priority, policy, affinity or null stack),
// stack_too_small (value = minimum), permission_denied (RT refused and on_rt_refused == fail),
// resource_exhausted (EAGAIN after bounded retries), platform_error (value = errno).
// On error no thread exists and `out` stays not joinable.
[[nodiscard]] result<thread_report> create_thread(thread_handle& out, const thread_params& params,
                                                  thread_entry entry, void* arg) noexcept;

// Waits for the thread to finish and releases it.
// Returns: ok; invalid_handle if not joinable; would_deadlock if called by that thread itself;
// platform_error otherwise.
[[nodiscard]] result<void> join_thread(thread_handle& handle) noexcept;

// Test seam for fault injection (docs/invariants.md, fault point 1): the next `count` thread
// creations fail as if the OS returned `os_errno`. Thread-safe; count 0 disarms.
void inject_thread_create_failures(std::uint32_t count, int os_errno) noexcept;

// Call only from inside a catch (...) handler. If the exception being handled is the calling
// thread's own exit unwinding (pthread_exit() or cancellation), which may never be swallowed
// (bug class 22) and cannot be survived (the slot would never exit), reports the contract
// violation (module, id, what) and does not return; otherwise returns and the handler goes on.
// A no-op in a build without exceptions, where the thread's entry reports platform.thread/200.
void stop_if_thread_exit(const char* module, int id, const char* what) noexcept;

// Test seam for races at thread start (bug classes 6 and 7): when set, every new thread calls
// hook(user) before its entry function. Null removes it.
using thread_start_hook = void (*)(void* user) noexcept;
void set_thread_start_hook(thread_start_hook hook, void* user) noexcept;

}  // namespace steward::platform
