// Simulation port, control interface: the platform interface (clock, parking, mutex, threads,
// fd waits) implemented over a virtual clock and a seeded scheduler, so that the real core and
// supervisor code run reproducibly (docs/verification.md, "The simulation platform").
//
// Every thread that uses steward under the simulation is a sim thread; exactly one of them runs
// at a time. Each platform call is a decision point: the scheduler, drawing from the seed,
// either lets the caller go on or hands the CPU to another runnable thread. A thread that parks,
// waits for a mutex or joins a thread blocks until it is woken. When no thread can run, the
// virtual clock jumps to the earliest deadline of a timed wait; if there is none, the run is
// deadlocked: the scheduler prints what every thread waits for and the replay hint, then ends
// the process with exit code 3. Atomics touched between two platform calls run without any
// interleaving, so the simulation explores the orders of platform calls, not memory orders
// (ThreadSanitizer and the model cover those).
//
// Faults (when enabled, each at `fault_permille` of the calls that can fail): a park_wait()
// that returns early (a spurious wake-up), a thread creation refused (EAGAIN), an fd waker that
// cannot be created, a clock read that fails.
#pragma once

#include <cstddef>
#include <cstdint>

namespace steward::platform::sim {

// The faults the simulation can inject, at random (config) or on a chosen call (fail_calls).
enum class fault : std::uint8_t {
  clock,          // monotonic_now() fails (platform_error, EINVAL)
  spurious_wake,  // park_wait() returns woken at once, without a wake-up
  late_wake,      // park_wait() returns 5 ms (virtual) after it was woken or timed out
  thread_create,  // create_thread() is refused with EAGAIN (resource_exhausted)
  waker_open,     // fd_waker::open() fails (resource_exhausted, EMFILE)
  rt_refused,     // create_thread() with a real-time policy meets EPERM
};
inline constexpr int k_fault_kinds = 6;

struct config {
  std::uint64_t seed{1};
  std::uint32_t switch_permille{250};  // chance that a decision point hands the CPU over
  std::uint32_t fault_permille{0};     // chance that a call that can fail does (0..1000)
  std::uint32_t random_faults{~0U};    // which kinds fail at random: bit (1 << fault)
  bool trace{false};                   // print every decision to stderr
  // Optional bytes that draw() hands out (two per draw) before it falls back to the seed's
  // generator: a fuzzer's input steers the driver, the seed still steers the scheduler.
  const std::uint8_t* script{nullptr};
  std::size_t script_size{0};
};

struct run_result {
  std::uint64_t trace_hash{0};  // FNV-1a over every decision: equal for equal seeds
  std::uint64_t decisions{0};
  std::uint64_t switches{0};
  std::uint64_t faults{0};
  std::int64_t virtual_ns{0};  // virtual time that passed
};

using sim_main = void (*)(void* arg);

// Runs main(arg) on the calling thread, which becomes sim thread 0, under a fresh scheduler.
// Returns once main has returned and every thread it created has been joined (a thread still
// alive then is reported as a deadlock). Not reentrant.
run_result run(const config& cfg, sim_main main, void* arg) noexcept;

// Faults on or off from inside a run (setup and teardown usually run without them).
void set_faults(bool on) noexcept;

// After `skip` more calls of that kind, the next `count` fail (count 0 disarms). Reset by run().
void fail_calls(fault kind, std::uint32_t skip, std::uint32_t count) noexcept;
// How many calls of that kind failed by fail_calls() in this run.
[[nodiscard]] std::uint32_t failed_calls(fault kind) noexcept;
// A random number from the run's generator (deterministic for the seed), for the test driver.
std::uint64_t draw() noexcept;
// A line printed with a deadlock report, e.g. the command that replays the seed.
void set_replay_hint(const char* hint) noexcept;
// Prints every sim thread's state and what it waits for (as a deadlock report does), to stderr.
void dump(const char* why) noexcept;
// The current sim thread's index (0 = the one that called run()); -1 outside a run.
int current_thread() noexcept;

}  // namespace steward::platform::sim
