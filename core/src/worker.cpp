// The worker protocol (see docs/architecture.md, "How a request reaches a worker"):
//  - m_ctrl holds the lifecycle state plus a stop flag and an initialised flag (NOTE-4).
//    Controllers change it under m_mutex, so a generation check and the change are one step;
//    the worker and request_stop_async() change it with CAS only, never with a plain store over
//    a word someone else may have changed. The worker takes m_mutex only between incarnations
//    (to publish its report and to restart in place), never while its body runs and never
//    across a user callback. Every change goes through lifecycle_next(), the shared table.
//  - A controller that changed m_ctrl bumps m_wake and wakes it: the worker parks only on m_wake
//    and always reads m_wake before m_ctrl, so a request landing between its check and its
//    sleep makes the sleep return at once (no lost wake-up, INV-5).
//  - A worker inside wait_fd() is told through the eventfd waker; m_in_fd_wait and m_ctrl are
//    written and read seq_cst on both sides, so either the worker sees the request or the
//    controller sees the flag (NOTE-1).
//  - Controllers wait for acknowledgements by parking on m_ctrl; the worker wakes them after
//    each of its transitions when m_ctrl_waiters says someone waits (same Dekker pairing).
//  - One OS thread serves every incarnation of a worker: it is created by the first start(),
//    runs an incarnation, publishes its terminal state as its last touch of that incarnation,
//    then parks idle until the next start() or until shutdown() retires and joins it (NOTE-3).
//    So a restart costs a wake-up, not a pthread_create, and no cycle allocates.
#include "steward/core/worker.hpp"

#include <cstring>
#include <exception>

#include "steward/core/contract.hpp"
#include "steward/platform/clock.hpp"
#include "steward/platform/park.hpp"
#include "steward/platform/rt.hpp"

namespace steward {
namespace {

constexpr const char* k_module = "core.worker";
constexpr std::uint32_t k_ctrl_state_mask = 0xFFU;
constexpr std::uint32_t k_ctrl_stop = 0x100U;
constexpr std::uint32_t k_ctrl_initialised = 0x200U;

constexpr worker_state state_of(std::uint32_t ctrl) noexcept {
  return static_cast<worker_state>(ctrl & k_ctrl_state_mask);
}
constexpr bool stop_flag_of(std::uint32_t ctrl) noexcept {
  return (ctrl & k_ctrl_stop) != 0;
}
constexpr bool initialised_of(std::uint32_t ctrl) noexcept {
  return (ctrl & k_ctrl_initialised) != 0;
}
// The word for state `s` with ctrl's flags kept (both flags belong to the incarnation).
constexpr std::uint32_t with_state(std::uint32_t ctrl, worker_state s) noexcept {
  return (ctrl & ~k_ctrl_state_mask) | static_cast<std::uint32_t>(s);
}
// A fresh incarnation's word: no flags.
constexpr std::uint32_t fresh(worker_state s) noexcept {
  return static_cast<std::uint32_t>(s);
}

// Rounds of spinning before a control handshake sleeps in the kernel (a few microseconds):
// acknowledgements usually arrive within that, and a sleep + wake costs much more on a VM.
constexpr unsigned k_handshake_spins = 200;
// A parked worker spins far less: with many workers paused at once every spin round is CPU the
// others need (a PAUSE costs ~50 ns on some VMs), and a long pause ends with a futex wake anyway.
// A resume that follows the acknowledgement at once is still caught without a sleep.
constexpr unsigned k_park_spins = 32;

std::int64_t now_ns() noexcept {
  const auto now = platform::monotonic_now();
  return now ? now->time_since_epoch().count() : 0;
}

// Per-thread and process-wide (atomic test seam) state, file-local.
// NOLINTBEGIN(cppcoreguidelines-avoid-non-const-global-variables)
thread_local worker* t_current_worker = nullptr;

std::atomic<std::uint32_t> g_start_fail_after{0};
std::atomic<std::uint32_t> g_start_fail_count{0};
std::atomic<errc> g_start_fail_code{errc::platform_error};
// NOLINTEND(cppcoreguidelines-avoid-non-const-global-variables)

// What a pause that cannot (or can no longer) be acknowledged reports, from the word seen.
errc pause_refusal(std::uint32_t ctrl) noexcept {
  switch (state_of(ctrl)) {
    case worker_state::paused:
      return errc::already_paused;
    case worker_state::starting:
    case worker_state::running:  // the pending pause was cancelled by resume()
      return errc::cancelled;
    case worker_state::stopping:  // a stop was requested, or the body returned by itself
    case worker_state::stopped:
    case worker_state::failed:
      return stop_flag_of(ctrl) ? errc::stopping : errc::exited;
    default:
      return errc::not_running;
  }
}

// Returns the injected failure for this start, if one is armed.
bool take_injected_start_failure(errc& code) noexcept {
  if (g_start_fail_count.load(std::memory_order_relaxed) == 0) return false;
  std::uint32_t after = g_start_fail_after.load();
  while (after > 0) {
    if (g_start_fail_after.compare_exchange_weak(after, after - 1)) return false;
  }
  std::uint32_t left = g_start_fail_count.load();
  while (left > 0) {
    if (g_start_fail_count.compare_exchange_weak(left, left - 1)) {
      code = g_start_fail_code.load();
      return true;
    }
  }
  return false;
}

}  // namespace

const char* to_string(exit_reason r) noexcept {
  switch (r) {
    case exit_reason::returned:
      return "returned";
    case exit_reason::stopped:
      return "stopped";
    case exit_reason::stopped_before_start:
      return "stopped_before_start";
    case exit_reason::error:
      return "error";
    case exit_reason::exception:
      return "exception";
    case exit_reason::cleanup_failed:
      return "cleanup_failed";
  }
  return "?";
}

// ---------------------------------------------------------------- construction and teardown

worker::worker(unsigned char* stack, std::size_t stack_size, cleanup_stack_base& cleanup,
               const worker_config& config) noexcept
    : m_ctrl(fresh(worker_state::idle)),
      m_config(config),
      m_name(config.name),
      m_stack(stack),
      m_stack_size(stack_size),
      m_cleanup(cleanup) {
  static_assert(k_ctrl_state_mask == k_state_mask && k_ctrl_stop == k_stop_flag &&
                k_ctrl_initialised == k_initialised_flag);
}

worker::~worker() {
  // Owners call shutdown() first; this catches a derived class that forgot to.
  STEWARD_REQUIRE(k_module, 100, m_shut_down || state() == worker_state::idle);
}

void worker::shutdown() noexcept {
  if (m_shut_down) return;
  if (!is_terminal(state())) {
    const auto stopped = stop(m_config.destroy_timeout);
    STEWARD_REQUIRE(k_module, 110, stopped.has_value() && "worker destroyed while its thread runs");
  }
  {
    platform::lock_guard lock(m_mutex);
    retire_thread_locked();
  }
  m_shut_down = true;
}

void worker::retire_thread_locked() noexcept {
  if (!m_thread.joinable()) return;
  m_retire.store(true, std::memory_order_release);
  wake_worker();
  const auto joined = platform::join_thread(m_thread);
  STEWARD_REQUIRE(k_module, 120, joined.has_value());
  m_retire.store(false, std::memory_order_relaxed);
}

// ---------------------------------------------------------------- queries

worker_state worker::state() const noexcept {
  return state_of(m_ctrl.load(std::memory_order_acquire));
}

std::uint32_t worker::generation() const noexcept {
  return m_generation.load(std::memory_order_acquire);
}

worker_handle worker::handle() const noexcept {
  const auto gen = generation();
  // A handle controls the worker; asking a const worker for one is a query, as state() is.
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast)
  return gen == 0 ? worker_handle{} : worker_handle{const_cast<worker*>(this), gen};
}

liveness_sample worker::liveness() const noexcept {
  liveness_sample out;
  out.generation = m_generation.load(std::memory_order_acquire);
  out.beats = m_beats.load(std::memory_order_relaxed);
  out.state = state();
  out.blocked = m_wait.load(std::memory_order_relaxed) != k_wait_none;
  return out;
}

bool worker::is_current_thread() const noexcept {
  return t_current_worker == this;
}

result<exit_report> worker::last_exit() const noexcept {
  if (is_current_thread() && m_reporting) return m_last_exit;  // a hook on the worker's thread
  platform::lock_guard lock(m_mutex);                          // never held by the worker across a callback
  const auto s = state();
  if (s == worker_state::idle) return fail(errc::not_running, name());
  if (!is_terminal(s)) return fail(errc::already_running, name());
  return m_last_exit;
}

// ---------------------------------------------------------------- controller side

result<void> worker::configure(const worker_config& config) noexcept {
  if (is_current_thread()) return fail(errc::would_deadlock, name());
  platform::lock_guard lock(m_mutex);
  const auto s = state();
  if (!is_terminal(s)) {
    return fail(s == worker_state::stopping ? errc::stopping : errc::already_running, name());
  }
  const auto& a = m_config.thread;
  const auto& b = config.thread;
  if (a.policy != b.policy || a.priority != b.priority || a.affinity != b.affinity ||
      a.on_rt_refused != b.on_rt_refused || m_config.name != config.name) {
    m_thread_outdated = true;  // the next start() replaces the thread
  }
  m_config = config;
  m_name.store(config.name, std::memory_order_relaxed);
  return {};
}

void worker::inject_start_failures(std::uint32_t after, std::uint32_t count, errc code) noexcept {
  g_start_fail_code.store(code);
  g_start_fail_after.store(after);
  g_start_fail_count.store(count);
}

// A generation number is never handed out twice, even when the start that drew it failed: a
// handle read during a failed start can never become valid for a later incarnation (no ABA).
std::uint32_t worker::issue_generation_locked() noexcept {
  std::uint32_t next = m_issued_generation + 1;
  if (next == 0) next = 1;  // 0 is the null handle's generation
  m_issued_generation = next;
  return next;
}

result<start_info> worker::start() noexcept {
  if (is_current_thread()) return fail(errc::would_deadlock, name());
  if (errc injected{}; take_injected_start_failure(injected)) return fail(injected, name());
  platform::lock_guard lock(m_mutex);
  const std::uint32_t before = m_ctrl.load(std::memory_order_acquire);
  const auto* row = lifecycle_next(state_of(before), lifecycle_event::start);
  if (row == nullptr) {
    return fail(state_of(before) == worker_state::stopping ? errc::stopping : errc::already_running, name());
  }
  if (!m_config.body || m_config.name == nullptr) return fail(errc::invalid_argument, name());
  if (m_thread_outdated) {
    retire_thread_locked();
    m_thread_outdated = false;
  }
  STEWARD_TRY(m_waker.open());

  const std::uint32_t old_gen = m_generation.load(std::memory_order_relaxed);
  const std::uint32_t new_gen = issue_generation_locked();
  m_cleanup.reset(new_gen);
  // The generation before the word: a reader that sees the new word sees the new generation
  // (worker_handle::state() relies on this order).
  m_generation.store(new_gen, std::memory_order_seq_cst);
  // Terminal states take no request (request_stop_async() is a no-op there), so nothing else
  // can have changed the word since `before`: a plain store loses nothing.
  m_ctrl.store(fresh(row->to), std::memory_order_seq_cst);

  if (m_thread.joinable()) {  // the idle thread takes the new incarnation
    wake_worker();
    return start_info{worker_handle{this, new_gen}, m_thread_report};
  }
  if (m_config.prefault_stack) prefault_stack();
  const platform::thread_params params{m_config.name, m_stack, m_stack_size, m_config.thread};
  auto created = platform::create_thread(m_thread, params, &worker::thread_entry, this);
  if (!created) {  // roll back: nothing changed (the drawn generation stays burned)
    m_cleanup.reset(old_gen);
    m_ctrl.store(before, std::memory_order_seq_cst);
    m_generation.store(old_gen, std::memory_order_seq_cst);
    return fail(created.error());
  }
  m_thread_report = *created;
  return start_info{worker_handle{this, new_gen}, *created};
}

void worker::prefault_stack() noexcept {
  // The thread does not exist yet, so nothing else uses this memory; volatile keeps the writes.
  volatile unsigned char* bytes = m_stack;
  const std::size_t page = platform::page_size();
  for (std::size_t offset = 0; offset < m_stack_size; offset += page) bytes[offset] = 0;
  if (m_stack_size > 0) bytes[m_stack_size - 1] = 0;
}

void worker::request_stop_async() noexcept {
  // No lock (a signal may have interrupted its holder): a CAS on the current incarnation only.
  std::uint32_t ctrl = m_ctrl.load(std::memory_order_seq_cst);
  for (;;) {
    const auto* row = lifecycle_next(state_of(ctrl), lifecycle_event::stop_request);
    if (row == nullptr || is_terminal(row->to)) return;
    const std::uint32_t next = with_state(ctrl, row->to) | k_ctrl_stop;
    if (next == ctrl) return;
    if (m_ctrl.compare_exchange_weak(ctrl, next, std::memory_order_seq_cst)) break;
  }
  wake_worker();
  wake_controllers();
}

result<void> worker::check_generation_locked(std::uint32_t& gen) const noexcept {
  const std::uint32_t current = m_generation.load(std::memory_order_relaxed);
  if (gen == k_current_generation) {
    if (current == 0) return fail(errc::not_running, name());
    gen = current;
    return {};
  }
  if (gen != current) return fail(errc::stale_handle, name());
  return {};
}

void worker::wake_worker() noexcept {
  m_wake.fetch_add(1, std::memory_order_seq_cst);
  // The futex call only when the worker sleeps on m_wake (NOTE-6): a running or fd-blocked
  // worker costs no system call here.
  if (m_wake_sleeping.load(std::memory_order_seq_cst)) platform::park_wake_one(m_wake);
  if (m_in_fd_wait.load(std::memory_order_seq_cst)) m_waker.signal();  // NOTE-1
}

platform::park_status worker::sleep_on_wake(std::uint32_t seen, time_point deadline,
                                            unsigned spins) noexcept {
  m_wake_sleeping.store(true, std::memory_order_seq_cst);
  platform::park_status status = platform::park_status::woken;
  if (m_wake.load(std::memory_order_seq_cst) == seen) {
    status = spins == 0 ? platform::park_wait(m_wake, seen, deadline)
                        : platform::spin_then_park(m_wake, seen, deadline, spins);
  }
  m_wake_sleeping.store(false, std::memory_order_relaxed);
  return status;
}

void worker::wake_controllers() noexcept {
  if (m_ctrl_waiters.load(std::memory_order_seq_cst) != 0) platform::park_wake_all(m_ctrl);
}

// Under m_mutex, with a pause pending: if the worker is blocked in a steward wait, acknowledge
// the pause on its behalf without waking it (NOTE-9). Returns true when it claimed the worker:
// then no wake is needed, the worker passes through park() whenever its wait wakes it.
bool worker::park_blocked_worker_locked() noexcept {
  std::uint32_t ctrl = m_ctrl.load(std::memory_order_seq_cst);
  if (state_of(ctrl) != worker_state::pausing) return false;
  std::uint32_t blocked = k_wait_blocked;
  if (!m_wait.compare_exchange_strong(blocked, k_wait_proxied, std::memory_order_seq_cst)) return false;
  // The park clock starts before the acknowledgement, as in park(); whoever starts it first wins.
  std::int64_t not_parked = 0;
  m_parked_since_ns.compare_exchange_strong(not_parked, now_ns(), std::memory_order_relaxed);
  for (;;) {
    const auto* row = lifecycle_next(state_of(ctrl), lifecycle_event::parked);
    // Not pausing any more: the worker acknowledged first (it was waking up), or an async stop
    // landed; either way the worker, which is claimed, settles it in park().
    if (row == nullptr || state_of(ctrl) != worker_state::pausing) return true;
    if (m_ctrl.compare_exchange_weak(ctrl, with_state(ctrl, row->to), std::memory_order_seq_cst)) {
      m_parks.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
  }
}

template <class Done>
result<worker::wait_outcome> worker::wait_for_worker(std::uint32_t gen, time_point deadline,
                                                     Done done) noexcept {
  m_ctrl_waiters.fetch_add(1, std::memory_order_seq_cst);
  result<wait_outcome> outcome = fail(errc::timeout, name());
  for (;;) {
    const std::uint32_t ctrl = m_ctrl.load(std::memory_order_seq_cst);
    if (m_generation.load(std::memory_order_seq_cst) != gen) {
      outcome = wait_outcome{true, ctrl};
      break;
    }
    if (done(ctrl)) {
      outcome = wait_outcome{false, ctrl};
      break;
    }
    if (platform::spin_then_park(m_ctrl, ctrl, deadline, k_handshake_spins) ==
        platform::park_status::timed_out) {
      const std::uint32_t last = m_ctrl.load(std::memory_order_seq_cst);
      if (m_generation.load(std::memory_order_seq_cst) != gen) {
        outcome = wait_outcome{true, last};
      } else if (done(last)) {
        outcome = wait_outcome{false, last};
      }
      break;
    }
  }
  m_ctrl_waiters.fetch_sub(1, std::memory_order_seq_cst);
  return outcome;
}

result<void> worker::pause(duration timeout) noexcept {
  return pause_generation(k_current_generation, timeout, true);
}
result<void> worker::wait_paused(duration timeout) noexcept {
  return pause_generation(k_current_generation, timeout, false);
}
result<void> worker::resume() noexcept {
  return resume_generation(k_current_generation);
}
result<exit_report> worker::stop(duration timeout) noexcept {
  return stop_generation(k_current_generation, timeout);
}

result<exit_report> worker::join(duration timeout) noexcept {
  if (is_current_thread()) return fail(errc::would_deadlock, name());
  const auto deadline = platform::deadline_after(timeout);
  if (!deadline) return fail(deadline.error());
  std::uint32_t gen = k_current_generation;
  {
    platform::lock_guard lock(m_mutex);
    STEWARD_TRY(check_generation_locked(gen));
    if (is_terminal(state())) return m_last_exit;
  }
  return await_exit(gen, *deadline);
}

// Waits until incarnation `gen` has ended and returns its report. The worker wrote the report
// under m_mutex before it left the incarnation; only when other controllers started and ended a
// newer incarnation meanwhile is it gone (stale_handle).
result<exit_report> worker::await_exit(std::uint32_t gen, time_point deadline) noexcept {
  auto outcome =
      wait_for_worker(gen, deadline, [](std::uint32_t ctrl) { return is_terminal(state_of(ctrl)); });
  if (!outcome) return fail(outcome.error());
  platform::lock_guard lock(m_mutex);
  if (m_last_exit.generation != gen) return fail(errc::stale_handle, name());
  return m_last_exit;
}

result<void> worker::wait_initialised(duration timeout) noexcept {
  if (is_current_thread()) return fail(errc::would_deadlock, name());
  const auto deadline = platform::deadline_after(timeout);
  if (!deadline) return fail(deadline.error());
  std::uint32_t gen = k_current_generation;
  {
    platform::lock_guard lock(m_mutex);
    STEWARD_TRY(check_generation_locked(gen));
  }
  auto outcome = wait_for_worker(gen, *deadline, [](std::uint32_t ctrl) {
    return initialised_of(ctrl) || state_of(ctrl) == worker_state::stopping || is_terminal(state_of(ctrl));
  });
  if (!outcome) return fail(outcome.error());
  if (outcome->ended) return fail(errc::exited, name());  // restarted in place: it ran and ended
  if (initialised_of(outcome->ctrl)) return {};
  return fail(stop_flag_of(outcome->ctrl) ? errc::stopping : errc::exited, name());
}

result<void> worker::pause_generation(std::uint32_t gen, duration timeout, bool post) noexcept {
  if (is_current_thread()) return fail(errc::would_deadlock, name());
  const auto deadline = platform::deadline_after(timeout);
  if (!deadline) return fail(deadline.error());
  bool changed = false;
  bool proxied = false;
  {
    platform::lock_guard lock(m_mutex);
    STEWARD_TRY(check_generation_locked(gen));
    std::uint32_t ctrl = m_ctrl.load(std::memory_order_acquire);
    const auto s = state_of(ctrl);
    if (is_terminal(s)) return fail(errc::not_running, name());
    if (!post) {
      if (s == worker_state::paused) return {};
      if (s != worker_state::pausing) return fail(pause_refusal(ctrl), name());
    } else {
      for (;;) {
        const auto* row = lifecycle_next(state_of(ctrl), lifecycle_event::pause_request);
        if (row == nullptr) {
          const errc why = pause_refusal(ctrl);
          return fail(why == errc::cancelled ? errc::not_running : why, name());
        }
        const std::uint32_t next = with_state(ctrl, row->to);
        if (next == ctrl) break;
        if (m_ctrl.compare_exchange_weak(ctrl, next, std::memory_order_seq_cst)) {
          changed = true;
          break;
        }
      }
    }
    proxied = park_blocked_worker_locked();
  }
  if (proxied) {
    wake_controllers();  // other pause() callers waiting for the same acknowledgement
  } else if (changed) {
    wake_worker();
  }
  if (timeout <= duration::zero()) {  // a request only: report whether it is parked already
    const std::uint32_t ctrl = m_ctrl.load(std::memory_order_seq_cst);
    if (m_generation.load(std::memory_order_seq_cst) != gen) return fail(errc::exited, name());
    if (state_of(ctrl) == worker_state::paused) return {};
    if (state_of(ctrl) == worker_state::pausing) return fail(errc::timeout, name());
    return fail(pause_refusal(ctrl), name());
  }
  auto outcome = wait_for_worker(gen, *deadline,
                                 [](std::uint32_t ctrl) { return state_of(ctrl) != worker_state::pausing; });
  if (!outcome) return fail(outcome.error());
  if (outcome->ended) return fail(errc::exited, name());
  if (state_of(outcome->ctrl) == worker_state::paused) return {};
  return fail(pause_refusal(outcome->ctrl), name());
}

result<void> worker::resume_generation(std::uint32_t gen) noexcept {
  bool changed = false;
  {
    platform::lock_guard lock(m_mutex);
    STEWARD_TRY(check_generation_locked(gen));
    std::uint32_t ctrl = m_ctrl.load(std::memory_order_acquire);
    for (;;) {
      const auto s = state_of(ctrl);
      const auto* row = lifecycle_next(s, lifecycle_event::resume);
      if (row == nullptr) {
        return fail(s == worker_state::stopping ? errc::stopping : errc::not_running, name());
      }
      const std::uint32_t next = with_state(ctrl, row->to);
      if (next == ctrl) break;
      if (m_ctrl.compare_exchange_weak(ctrl, next, std::memory_order_seq_cst)) {
        changed = true;
        break;
      }
    }
  }
  if (changed) {
    wake_worker();
    wake_controllers();  // pause() callers still waiting get cancelled
  }
  return {};
}

result<exit_report> worker::stop_generation(std::uint32_t gen, duration timeout) noexcept {
  if (is_current_thread()) return fail(errc::would_deadlock, name());
  const auto deadline = platform::deadline_after(timeout);
  if (!deadline) return fail(deadline.error());
  bool changed = false;
  {
    platform::lock_guard lock(m_mutex);
    if (gen == k_current_generation && m_generation.load(std::memory_order_relaxed) == 0) {
      return exit_report{};  // never started: nothing to stop
    }
    STEWARD_TRY(check_generation_locked(gen));
    std::uint32_t ctrl = m_ctrl.load(std::memory_order_acquire);
    for (;;) {
      const auto* row = lifecycle_next(state_of(ctrl), lifecycle_event::stop_request);
      STEWARD_REQUIRE(k_module, 200, row != nullptr);  // stop is valid in every state
      if (is_terminal(row->to)) return m_last_exit;
      const std::uint32_t next = with_state(ctrl, row->to) | k_ctrl_stop;
      if (next == ctrl) break;
      if (m_ctrl.compare_exchange_weak(ctrl, next, std::memory_order_seq_cst)) {
        changed = true;
        break;
      }
    }
  }
  if (changed) {
    wake_worker();
    wake_controllers();  // pause() callers still waiting get stopping
  }
  run_stop_callbacks();               // on this thread, whoever set the flag (an async stop runs none)
  if (timeout <= duration::zero()) {  // a request only (many workers asked at once, then waited for)
    // Still running (the usual case for a request): no second trip through the lock.
    if (m_generation.load(std::memory_order_seq_cst) == gen && !is_terminal(state())) {
      return fail(errc::timeout, name());
    }
    platform::lock_guard lock(m_mutex);
    if (m_last_exit.generation == gen &&
        (m_generation.load(std::memory_order_relaxed) != gen || is_terminal(state()))) {
      return m_last_exit;
    }
    return fail(errc::timeout, name());
  }
  return await_exit(gen, *deadline);
}

// ---------------------------------------------------------------- worker side

void worker::thread_entry(void* self) noexcept {
  auto* w = static_cast<worker*>(self);
  for (;;) {
    const std::uint32_t seen = w->m_wake.load(std::memory_order_acquire);  // NOTE-2
    if (w->m_retire.load(std::memory_order_acquire)) return;
    // Any live state seen here belongs to a new incarnation: the previous one published its
    // terminal state before this thread came back to the loop.
    if (!is_terminal(state_of(w->m_ctrl.load(std::memory_order_acquire)))) {
      w->run();
      continue;
    }
    w->sleep_on_wake(seen, never, 0);
  }
}

void worker::transition_self(lifecycle_event event) noexcept {
  std::uint32_t ctrl = m_ctrl.load(std::memory_order_acquire);
  for (;;) {
    const auto* row = lifecycle_next(state_of(ctrl), event);
    STEWARD_REQUIRE(k_module, 300, row != nullptr);
    const std::uint32_t next = with_state(ctrl, row->to);
    if (next == ctrl) return;  // nothing changed, so no waiter's condition did: wake nobody
    if (m_ctrl.compare_exchange_weak(ctrl, next, std::memory_order_seq_cst)) break;
  }
  wake_controllers();
}

// The table decides (rows for `entered`): starting -> running; pausing stays pausing (the body
// runs to its first safe point and parks there); running means a pause posted before the body
// was cancelled by resume(); stopping means a stop won the race against start (INV-2).
bool worker::enter() noexcept {
  std::uint32_t ctrl = m_ctrl.load(std::memory_order_acquire);
  for (;;) {
    const auto* row = lifecycle_next(state_of(ctrl), lifecycle_event::entered);
    STEWARD_REQUIRE(k_module, 310, row != nullptr);
    if (row->to == worker_state::stopping || stop_flag_of(ctrl)) return false;
    const std::uint32_t next = with_state(ctrl, row->to);
    if (next == ctrl || m_ctrl.compare_exchange_weak(ctrl, next, std::memory_order_seq_cst)) return true;
  }
}

void worker::mark_initialised() noexcept {
  std::uint32_t ctrl = m_ctrl.load(std::memory_order_acquire);
  while (!initialised_of(ctrl)) {
    const auto* row = lifecycle_next(state_of(ctrl), lifecycle_event::initialised);
    if (row == nullptr) return;  // paused: only reachable after the first safe point marked it
    if (row->to == worker_state::stopping) return;  // the table: no effect once it is ending
    if (m_ctrl.compare_exchange_weak(ctrl, with_state(ctrl, row->to) | k_ctrl_initialised,
                                     std::memory_order_seq_cst)) {
      wake_controllers();  // wait_initialised() callers
      return;
    }
  }
}

void worker::run_body(worker_context& ctx, exit_report& report) noexcept {
  result<void> outcome;
#if STEWARD_USING_EXCEPTIONS
  try {
    outcome = m_config.body(ctx);
  } catch (const std::exception& e) {
    report.reason = exit_reason::exception;
    report.err = error{errc::exception, 0, m_config.name};
    std::strncpy(report.detail, e.what(), sizeof report.detail - 1);
    return;
  } catch (...) {
    // pthread_exit()/cancellation unwinds as an exception that must not be swallowed (glibc
    // aborts with "exception not rethrown") and cannot be survived: the slot would never exit.
    platform::stop_if_thread_exit(k_module, 400, "pthread_exit or cancellation in a worker body");
    report.reason = exit_reason::exception;
    report.err = error{errc::exception, 0, m_config.name};
    std::strncpy(report.detail, "non-standard exception", sizeof report.detail - 1);
    return;
  }
#else
  outcome = m_config.body(ctx);
#endif
  const bool stop_asked = stop_flag_of(m_ctrl.load(std::memory_order_acquire));
  if (outcome) {
    report.reason = stop_asked ? exit_reason::stopped : exit_reason::returned;
  } else if (outcome.error() == errc::stop_requested && stop_asked) {
    report.reason = exit_reason::stopped;
  } else {
    report.reason = exit_reason::error;
    report.err = outcome.error();
  }
}

void worker::run() noexcept {
  t_current_worker = this;
  exit_report report{};
  report.generation = m_generation.load(std::memory_order_acquire);
  m_parks.store(0, std::memory_order_relaxed);
  m_parked_total_ns.store(0, std::memory_order_relaxed);
  // Alive until the cleanup has run: a release action may use the context it captured (even
  // register another action, which then runs next).
  worker_context ctx(*this);
  if (enter()) {
    run_body(ctx, report);
  } else {
    report.reason = exit_reason::stopped_before_start;
  }
  transition_self(lifecycle_event::body_returned);
  report.cleanup = m_cleanup.unwind();
  if (report.cleanup.failed != 0 && !is_failure(report.reason)) {
    report.reason = exit_reason::cleanup_failed;
    report.err = error{errc::cleanup_failed, report.cleanup.failed, m_config.name};
  }
  bool again = false;
  {
    // Between incarnations the worker may take its controllers' lock: a controller never waits
    // for the worker while holding it, so this is bounded (and priority-inheriting).
    platform::lock_guard lock(m_mutex);
    again = finish_incarnation_locked(report);
  }
  // No steward lock is held from here on: hooks may query this worker (NOTE-5), and last_exit()
  // from this thread returns the report being announced.
  m_reporting = true;
  if (again) m_config.decide_restart(m_config.on_exit_user, report, restart_phase::committed);
  if (m_config.on_exit != nullptr) m_config.on_exit(m_config.on_exit_user, m_config.name, report);
  m_reporting = false;
  t_current_worker = nullptr;
  if (again) {
    wake_controllers();        // waiters on the old generation see it ended
    m_exit_note.notify_all();  // and so do joiners inside bodies
    return;                    // thread_entry runs the next incarnation now
  }
  // Publishing the terminal state is this incarnation's last use of the slot (the exit notifier
  // belongs to the worker object, which outlives its thread).
  transition_self(is_failure(report.reason) ? lifecycle_event::exited_failed : lifecycle_event::exited_clean);
  m_exit_note.notify_all();  // worker_context::join() callers; free when nobody waits
}

// Under m_mutex: records the report where stop() collects it and, when a restart decider is
// installed and no stop is pending, asks it whether to run the next incarnation on this thread.
// Holding the lock across the decision and the new generation makes the two one step for every
// controller; only request_stop_async() (lock-free) can change the word meanwhile, and a CAS
// loop carries its stop flag into the new incarnation instead of erasing it.
bool worker::finish_incarnation_locked(const exit_report& report) noexcept {
  m_last_exit = report;
  if (m_config.decide_restart == nullptr) return false;
  std::uint32_t ctrl = m_ctrl.load(std::memory_order_seq_cst);
  if (stop_flag_of(ctrl)) return false;  // a stop won: end as usual
  const auto* row = lifecycle_next(state_of(ctrl), lifecycle_event::restart_in_place);
  if (row == nullptr) return false;
  if (!m_config.decide_restart(m_config.on_exit_user, report, restart_phase::decide)) return false;
  const std::uint32_t new_gen = issue_generation_locked();
  m_cleanup.reset(new_gen);
  m_generation.store(new_gen, std::memory_order_seq_cst);  // before the word, as in start()
  for (;;) {
    // An async stop that landed while the decider ran carries over: the new incarnation begins
    // as stopping, so its body never runs (stopped_before_start) and it then ends for good.
    const std::uint32_t next =
        stop_flag_of(ctrl) ? fresh(worker_state::stopping) | k_ctrl_stop : fresh(row->to);
    if (m_ctrl.compare_exchange_weak(ctrl, next, std::memory_order_seq_cst)) break;
  }
  return true;
}

duration worker::time_parked() const noexcept {
  auto total = m_parked_total_ns.load(std::memory_order_relaxed);
  const auto since = m_parked_since_ns.load(std::memory_order_relaxed);
  if (since != 0) total += now_ns() - since;
  return duration{total};
}

void worker::end_park_accounting() noexcept {
  const auto since = m_parked_since_ns.exchange(0, std::memory_order_relaxed);
  if (since != 0) m_parked_total_ns.fetch_add(now_ns() - since, std::memory_order_relaxed);
}

result<void> worker::park() noexcept {
  mark_initialised();  // a park point is a safe point
  for (;;) {
    const std::uint32_t seen = m_wake.load(std::memory_order_acquire);  // before m_ctrl: NOTE-2
    std::uint32_t ctrl = m_ctrl.load(std::memory_order_acquire);
    switch (state_of(ctrl)) {
      case worker_state::pausing: {
        // The park clock starts before the acknowledgement, so a controller that sees `paused`
        // also sees the ongoing park in time_parked().
        // A controller may start it too (NOTE-9): the first start counts.
        std::int64_t not_parked = 0;
        const bool clock_started =
            m_parked_since_ns.compare_exchange_strong(not_parked, now_ns(), std::memory_order_relaxed);
        if (m_ctrl.compare_exchange_strong(ctrl, with_state(ctrl, worker_state::paused),
                                           std::memory_order_seq_cst)) {
          m_parks.fetch_add(1, std::memory_order_relaxed);
          wake_controllers();  // the acknowledgement pause() waits for
        } else if (clock_started && state_of(ctrl) != worker_state::paused) {
          m_parked_since_ns.store(0, std::memory_order_relaxed);  // not parked after all
        }
        continue;
      }
      case worker_state::paused:
        // A notify_one() that chose this worker between a resume and a new pause (state() said
        // running for a moment) would wait here with it until the next resume: pass it on.
        pass_on_single_wakes();
        sleep_on_wake(seen, never, k_park_spins);
        continue;
      case worker_state::stopping:
        end_park_accounting();
        return fail(errc::stop_requested, name());
      default:
        end_park_accounting();
        return {};
    }
  }
}

result<void> worker::checkpoint_slow() noexcept {
  mark_initialised();
  const auto s = state_of(m_ctrl.load(std::memory_order_acquire));
  if (s == worker_state::stopping) return fail(errc::stop_requested, name());
  if (s == worker_state::pausing || s == worker_state::paused) return park();
  return {};
}

result<void> worker::wait_loop(ready_fn ready, void* arg, time_point deadline) noexcept {
  mark_initialised();
  bool deadline_passed = false;
  for (;;) {
    const std::uint32_t seen = m_wake.load(std::memory_order_acquire);  // NOTE-2
    const auto s = state_of(m_ctrl.load(std::memory_order_acquire));
    if (s == worker_state::stopping) return fail(errc::stop_requested, name());
    if (s == worker_state::pausing || s == worker_state::paused) {
      pass_on_single_wakes();
      STEWARD_TRY(park());
      continue;
    }
    for (notifier::waiter* n = m_attached; n != nullptr; n = n->next_of_worker) {
      // Used now: the predicate runs. Cleared with an RMW, so that it is not reordered after the
      // predicate's loads (a plain store could be, and a wake set meanwhile would be cleared
      // unseen); only when set, so an unmarked wait pays one load.
      if (n->chosen_alone.load(std::memory_order_acquire))
        n->chosen_alone.exchange(false, std::memory_order_acq_rel);
    }
    if (ready != nullptr && ready(arg)) return {};
    if (deadline_passed) return fail(errc::timeout, name());
    begin_blocking();
    deadline_passed = sleep_on_wake(seen, deadline, 0) == platform::park_status::timed_out;
    if (end_blocking()) {  // paused while blocked: settle it before the predicate
      pass_on_single_wakes();
      STEWARD_TRY(park());
    }
  }
}

// A notify_one() that chose this worker, which now parks for a pause instead of evaluating its
// predicate, goes to another waiter of that notifier (NOTE-7).
// Only to a waiter free to use it (not pausing or paused, no wake pending): passing among paused
// waiters would bounce the wake between them. With none free the mark stays here; a waiter that
// is resumed evaluates its predicate anyway, and so does this one.
void worker::pass_on_single_wakes() noexcept {
  for (notifier::waiter* n = m_attached; n != nullptr; n = n->next_of_worker) {
    if (n->chosen_alone.exchange(false, std::memory_order_acq_rel) && !n->owner->pass_on(*n)) {
      n->chosen_alone.store(true, std::memory_order_release);
    }
  }
}

result<platform::io_events> worker::wait_fd(int fd, platform::io_interest interest,
                                            time_point deadline) noexcept {
  mark_initialised();
  for (;;) {
    const auto s = state_of(m_ctrl.load(std::memory_order_acquire));
    if (s == worker_state::stopping) return fail(errc::stop_requested, name());
    if (s == worker_state::pausing || s == worker_state::paused) {
      STEWARD_TRY(park());
      continue;
    }
    m_in_fd_wait.store(true, std::memory_order_seq_cst);
    if (state_of(m_ctrl.load(std::memory_order_seq_cst)) != worker_state::running) {  // NOTE-1
      m_in_fd_wait.store(false, std::memory_order_seq_cst);
      continue;
    }
    begin_blocking();
    auto waited = platform::wait_fd(fd, interest, m_waker, deadline);
    const bool parked_while_blocked = end_blocking();
    m_in_fd_wait.store(false, std::memory_order_seq_cst);
    if (parked_while_blocked) {
      pass_on_single_wakes();
      STEWARD_TRY(park());  // whatever the descriptor did waits until the pause ends
      if (waited && waited->status == platform::fd_wait_status::woken) m_waker.drain();
      continue;  // and is looked at again (readiness is level-triggered)
    }
    if (!waited) return fail(waited.error());
    switch (waited->status) {
      case platform::fd_wait_status::ready:
        return waited->events;
      case platform::fd_wait_status::timed_out:
        return fail(errc::timeout, name());
      case platform::fd_wait_status::woken:
        m_waker.drain();
        break;
    }
  }
}

// Detaches the notifier nodes of a wait_any() on every way out.
class worker::attached_nodes {
 public:
  attached_nodes() noexcept = default;
  ~attached_nodes() {
    for (std::size_t i = 0; i < m_count; ++i) m_notifiers[i]->detach(m_nodes[i]);
  }
  attached_nodes(const attached_nodes&) = delete;
  attached_nodes& operator=(const attached_nodes&) = delete;
  [[nodiscard]] notifier::waiter& at(std::size_t i) noexcept { return m_nodes[i]; }
  void attach(notifier& n, worker* target) noexcept {
    m_nodes[m_count].target = target;
    m_notifiers[m_count] = &n;
    n.attach(m_nodes[m_count]);
    ++m_count;
  }

 private:
  notifier::waiter m_nodes[k_max_wait_sources]{};
  notifier* m_notifiers[k_max_wait_sources]{};
  std::size_t m_count{0};
};

result<wait_any_result> worker::wait_any(const wait_source* sources, std::size_t count,
                                         time_point deadline) noexcept {
  if (count == 0 || count > k_max_wait_sources) {
    return fail(errc::invalid_argument, "wait_any", static_cast<std::int32_t>(count));
  }
  mark_initialised();
  attached_nodes nodes;
  platform::fd_request fds[platform::k_max_wait_fds];
  std::size_t fd_source[platform::k_max_wait_fds]{};
  std::size_t fd_count = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const wait_source& s = sources[i];
    if (s.m_kind == wait_source::kind::notified) {
      nodes.attach(*s.m_notifier, this);
      continue;
    }
    if (s.m_fd < 0) return fail(errc::io_error, "fd", s.m_fd);
    fds[fd_count] = platform::fd_request{s.m_fd, s.m_kind == wait_source::kind::readable
                                                     ? platform::io_interest::readable
                                                     : platform::io_interest::writable};
    fd_source[fd_count++] = i;
  }
  bool deadline_passed = false;
  for (;;) {
    const std::uint32_t seen = m_wake.load(std::memory_order_seq_cst);  // NOTE-2
    const auto s = state_of(m_ctrl.load(std::memory_order_acquire));
    if (s == worker_state::stopping) return fail(errc::stop_requested, name());
    if (s == worker_state::pausing || s == worker_state::paused) {
      pass_on_single_wakes();
      STEWARD_TRY(park());
      continue;
    }
    // Each source's mark is cleared just before its own predicate runs: returning for an earlier
    // source leaves a later one's mark set, and detach() passes that wake on.
    std::size_t node = 0;
    for (std::size_t i = 0; i < count; ++i) {
      if (sources[i].m_kind != wait_source::kind::notified) continue;
      std::atomic<bool>& mark = nodes.at(node++).chosen_alone;
      if (mark.load(std::memory_order_acquire)) mark.exchange(false, std::memory_order_acq_rel);
      if (sources[i].m_ready(sources[i].m_ready_arg)) return wait_any_result{i, {}};
    }
    if (deadline_passed) return fail(errc::timeout, name());
    if (fd_count == 0) {
      begin_blocking();
      deadline_passed = sleep_on_wake(seen, deadline, 0) == platform::park_status::timed_out;
      if (end_blocking()) {
        pass_on_single_wakes();
        STEWARD_TRY(park());
      }
      continue;
    }
    // NOTE-1, extended: a notifier bumps m_wake before it reads m_in_fd_wait, so either it
    // signals the eventfd or this re-read of m_wake sees its bump.
    m_in_fd_wait.store(true, std::memory_order_seq_cst);
    if (state_of(m_ctrl.load(std::memory_order_seq_cst)) != worker_state::running ||
        m_wake.load(std::memory_order_seq_cst) != seen) {
      m_in_fd_wait.store(false, std::memory_order_seq_cst);
      continue;
    }
    begin_blocking();
    auto waited = platform::wait_fds(fds, fd_count, m_waker, deadline);
    const bool parked_while_blocked = end_blocking();
    m_in_fd_wait.store(false, std::memory_order_seq_cst);
    if (parked_while_blocked) {
      pass_on_single_wakes();
      STEWARD_TRY(park());
      if (waited && waited->status == platform::fd_wait_status::woken) m_waker.drain();
      if (waited && waited->status == platform::fd_wait_status::timed_out) deadline_passed = true;
      continue;
    }
    if (!waited) return fail(waited.error());
    switch (waited->status) {
      case platform::fd_wait_status::ready:
        return wait_any_result{fd_source[waited->index], waited->events};
      case platform::fd_wait_status::timed_out:
        deadline_passed = true;  // look at the notifiers once more, then time out
        break;
      case platform::fd_wait_status::woken:
        m_waker.drain();
        break;
    }
  }
}

// ---------------------------------------------------------------- stop callbacks

namespace {
thread_local const char t_thread_tag = 0;  // its address names the calling thread
}  // namespace

void worker::run_stop_callbacks() noexcept {
  if (m_callbacks_pending.load(std::memory_order_seq_cst) == 0) return;
  for (;;) {
    stop_callback* cb = nullptr;
    {
      platform::lock_guard lock(m_callbacks_mutex);
      cb = m_callbacks;
      if (cb == nullptr) return;
      m_callbacks = cb->m_next;
      m_callbacks_pending.fetch_sub(1, std::memory_order_relaxed);
      cb->m_runner = &t_thread_tag;
      cb->m_state.store(stop_callback::k_running, std::memory_order_release);
    }
    cb->m_fn();  // NOTE-8
    cb->m_state.store(stop_callback::k_done, std::memory_order_release);
    platform::park_wake_all(cb->m_state);  // a destructor waiting on another thread
  }
}

void stop_callback::attach() noexcept {
  bool run_now = false;
  {
    platform::lock_guard lock(m_worker.m_callbacks_mutex);
    if (stop_flag_of(m_worker.m_ctrl.load(std::memory_order_seq_cst))) {
      run_now = true;
      m_state.store(k_running, std::memory_order_relaxed);
    } else {
      m_next = m_worker.m_callbacks;
      m_worker.m_callbacks = this;
      m_worker.m_callbacks_pending.fetch_add(1, std::memory_order_seq_cst);
    }
  }
  if (run_now) {  // a stop was requested already: run here, on the body's thread
    m_fn();
    m_state.store(k_done, std::memory_order_release);
  }
}

stop_callback::~stop_callback() {
  {
    platform::lock_guard lock(m_worker.m_callbacks_mutex);
    for (stop_callback** link = &m_worker.m_callbacks; *link != nullptr; link = &(*link)->m_next) {
      if (*link == this) {  // never ran: just unlink
        *link = m_next;
        m_worker.m_callbacks_pending.fetch_sub(1, std::memory_order_relaxed);
        return;
      }
    }
  }
  // Destroyed from inside its own invocation: the invoker would write to it afterwards.
  STEWARD_REQUIRE(k_module, 500,
                  m_runner != &t_thread_tag || m_state.load(std::memory_order_acquire) != k_running);
  // Running (or just run) on another thread: wait until that call returned (bug class 39).
  for (std::uint32_t s = m_state.load(std::memory_order_acquire); s == k_running;
       s = m_state.load(std::memory_order_acquire)) {
    platform::park_wait(m_state, s, never);
  }
}

// ---------------------------------------------------------------- context

bool worker_context::should_stop() const noexcept {
  return state_of(m_worker.m_ctrl.load(std::memory_order_acquire)) == worker_state::stopping;
}

bool worker_context::should_pause() const noexcept {
  const auto s = state_of(m_worker.m_ctrl.load(std::memory_order_acquire));
  return s == worker_state::pausing || s == worker_state::paused;
}

result<void> worker_context::sleep_for(duration d) noexcept {
  auto deadline = platform::deadline_after(d);
  if (!deadline) return fail(deadline.error());
  return sleep_until(*deadline);
}

result<void> worker_context::sleep_until(time_point deadline) noexcept {
  auto slept = m_worker.wait_loop(nullptr, nullptr, deadline);
  if (!slept && slept.error() == errc::timeout) return {};
  return slept;
}

result<exit_report> worker_context::join(worker& other, duration timeout) noexcept {
  if (&other == &m_worker) return fail(errc::would_deadlock, m_worker.name());
  const auto deadline = platform::deadline_after(timeout);
  if (!deadline) return fail(deadline.error());
  const std::uint32_t gen = other.generation();
  if (gen == 0) return fail(errc::not_running, other.name());
  worker* target = &other;
  auto ended = [target, gen] { return target->generation() != gen || is_terminal(target->state()); };
  STEWARD_TRY(wait_until(other.m_exit_note, ended, *deadline));
  platform::lock_guard lock(other.m_mutex);
  if (other.m_last_exit.generation != gen) return fail(errc::stale_handle, other.name());
  return other.m_last_exit;
}

result<wait_any_result> worker_context::wait_any(const wait_source* sources, std::size_t count,
                                                 time_point deadline) noexcept {
  return m_worker.wait_any(sources, count, deadline);
}

result<platform::io_events> worker_context::wait_readable(int fd, duration timeout) noexcept {
  auto deadline = platform::deadline_after(timeout);
  if (!deadline) return fail(deadline.error());
  return wait_readable(fd, *deadline);
}

result<platform::io_events> worker_context::wait_writable(int fd, duration timeout) noexcept {
  auto deadline = platform::deadline_after(timeout);
  if (!deadline) return fail(deadline.error());
  return wait_writable(fd, *deadline);
}

result<platform::io_events> worker_context::wait_readable(int fd, time_point deadline) noexcept {
  return m_worker.wait_fd(fd, platform::io_interest::readable, deadline);
}

result<platform::io_events> worker_context::wait_writable(int fd, time_point deadline) noexcept {
  return m_worker.wait_fd(fd, platform::io_interest::writable, deadline);
}

std::uint32_t worker_context::generation() const noexcept {
  return m_worker.generation();
}

// ---------------------------------------------------------------- handle

result<void> worker_handle::pause(duration timeout) const noexcept {
  if (m_worker == nullptr) return fail(errc::invalid_handle);
  return m_worker->pause_generation(m_generation, timeout, true);
}

result<void> worker_handle::resume() const noexcept {
  if (m_worker == nullptr) return fail(errc::invalid_handle);
  return m_worker->resume_generation(m_generation);
}

result<exit_report> worker_handle::stop(duration timeout) const noexcept {
  if (m_worker == nullptr) return fail(errc::invalid_handle);
  return m_worker->stop_generation(m_generation, timeout);
}

result<worker_state> worker_handle::state() const noexcept {
  if (m_worker == nullptr) return fail(errc::invalid_handle);
  // Generation, word, generation: writers store the generation before the word, so when both
  // reads agree the word belongs to that generation (never the next incarnation's state).
  for (;;) {
    const std::uint32_t before = m_worker->m_generation.load(std::memory_order_seq_cst);
    const std::uint32_t ctrl = m_worker->m_ctrl.load(std::memory_order_seq_cst);
    const std::uint32_t after = m_worker->m_generation.load(std::memory_order_seq_cst);
    if (before != after) continue;
    if (before != m_generation) return fail(errc::stale_handle, m_worker->name());
    return state_of(ctrl);
  }
}

// ---------------------------------------------------------------- notifier

notifier::~notifier() {
  STEWARD_REQUIRE("core.notifier", 100, m_head == nullptr);
}

void notifier::attach(waiter& w) noexcept {
  w.owner = this;
  w.next_of_worker = w.target->m_attached;  // on the waiting worker's own thread
  w.target->m_attached = &w;
  {
    platform::lock_guard lock(m_mutex);
    w.next = m_head;
    m_head = &w;
  }
  m_waiting.fetch_add(1, std::memory_order_acq_rel);  // NOTE-7: before the first predicate
}

void notifier::detach(waiter& w) noexcept {
  for (waiter** mine = &w.target->m_attached; *mine != nullptr; mine = &(*mine)->next_of_worker) {
    if (*mine == &w) {
      *mine = w.next_of_worker;
      break;
    }
  }
  platform::lock_guard lock(m_mutex);
  for (waiter** link = &m_head; *link != nullptr; link = &(*link)->next) {
    if (*link == &w) {
      *link = w.next;
      m_waiting.fetch_sub(1, std::memory_order_relaxed);
      break;
    }
  }
  // Chosen by notify_one() but leaving without having used it (a stop, a timeout, or another
  // source of a wait_any): pass it on, so the notification is not lost.
  if (w.chosen_alone.exchange(false, std::memory_order_acq_rel))
    static_cast<void>(wake_one_locked(&w, false));
}

void notifier::notify_all() noexcept {
  if (m_waiting.fetch_add(0, std::memory_order_acq_rel) == 0) return;  // NOTE-7
  // Under the lock: a waiter that attached before us gets its wake word bumped, one that
  // attaches after us sees the producer's change when it evaluates its predicate.
  platform::lock_guard lock(m_mutex);
  for (waiter* w = m_head; w != nullptr; w = w->next) w->target->wake_worker();
}

void notifier::notify_one() noexcept {
  if (m_waiting.fetch_add(0, std::memory_order_acq_rel) == 0) return;  // NOTE-7
  platform::lock_guard lock(m_mutex);
  static_cast<void>(wake_one_locked(nullptr, false));
}

bool notifier::pass_on(waiter& from) noexcept {
  platform::lock_guard lock(m_mutex);
  return wake_one_locked(&from, true);
}

bool notifier::wake_one_locked(const waiter* except, bool only_free) noexcept {
  // attach() pushes at the head: the tail has waited longest. In order of preference, the
  // oldest waiter that: has no wake pending from an earlier notify_one() and is not pausing or
  // paused (it evaluates no predicate until resumed); has no wake pending; any. Skipping those
  // already chosen makes two notify_one() calls wake two waiters, as with a condition variable.
  waiter* best[3] = {nullptr, nullptr, nullptr};
  for (waiter* w = m_head; w != nullptr; w = w->next) {
    if (w == except) continue;
    best[2] = w;
    if (w->chosen_alone.load(std::memory_order_acquire)) continue;
    best[1] = w;
    const worker_state s = w->target->state();
    if (s != worker_state::pausing && s != worker_state::paused) best[0] = w;
  }
  waiter* pick = best[0] != nullptr ? best[0] : best[1] != nullptr ? best[1] : best[2];
  if (only_free) pick = best[0];
  if (pick == nullptr) return false;
  pick->chosen_alone.store(true, std::memory_order_release);
  pick->target->wake_worker();
  return true;
}

}  // namespace steward

// NOTE-1: Dekker pairing for fd waits. The worker stores m_in_fd_wait = true and then loads
// m_ctrl; a controller CASes m_ctrl and then loads m_in_fd_wait; all four are seq_cst, so at
// least one side sees the other's write: either the worker does not enter ppoll(), or the
// controller signals the eventfd. A stale signal only makes the next fd wait loop once.
// NOTE-2: the worker reads m_wake before m_ctrl. A controller writes m_ctrl before bumping
// m_wake (release). If the worker's read of m_wake precedes the bump, the futex sees a
// different value or is woken; if it follows it, the acquire read makes the new m_ctrl visible.
// NOTE-3: why one thread per worker rather than one per incarnation. glibc allocates (calloc) a
// DTV for every thread created on a caller-supplied stack, so pthread_create per start would
// break "no heap after init"; and a restart that reuses a parked thread costs one futex wake
// instead of a thread creation. The thread is replaced only when configure() changes its name
// or scheduling, and joined by shutdown().
// NOTE-4: the control word. Bits 0-7 hold the worker_state; k_stop_flag says a stop was
// requested for this incarnation (so an exit is counted as `stopped` and no restart in place
// happens); k_initialised_flag says the body declared itself initialised (or reached its first
// safe point), which wait_initialised() waits for. Both flags belong to one incarnation: start()
// and a restart in place write a fresh word, every other change keeps them (with_state()). The
// checkpoint fast path compares the whole word with running|initialised, so a pending flag or
// an uninitialised body takes the slow path once.
// NOTE-5: no user callback runs under m_mutex. The exit hook and the committed phase of a
// restart decider (where a supervisor emits its events) run after the worker released the
// lock, so a hook may call last_exit() or any other query; control calls on the same worker
// from its own thread still return would_deadlock.
// NOTE-6: skipping the futex wake when the worker is not asleep. The worker stores
// m_wake_sleeping = true and then re-reads m_wake before it sleeps; a waker increments m_wake and
// then reads m_wake_sleeping; all four are seq_cst, so either the worker sees the new m_wake and
// does not sleep, or the waker sees the flag and makes the futex call (the futex itself compares
// m_wake atomically with the sleep, so a wake between the flag and the call is not lost).
// NOTE-7: notifying costs one uncontended read-modify-write while nobody waits. A waiter adds
// itself to m_waiting with an acq_rel RMW before it first evaluates its predicate; a producer
// changes its state and then does an acq_rel RMW (adding 0) on m_waiting. RMWs on one atomic are
// totally ordered: if the producer's comes second it reads the waiter's count and wakes it; if
// it comes first, the waiter's RMW reads from it, so the producer's change happens-before the
// waiter's predicate. (A fence would do the same but ThreadSanitizer cannot check fences.)
// notify_one() and pause: a pausing or paused worker evaluates no predicate until it is resumed,
// so a notify_one() that lands on it would be used up while another waiter sleeps (a pool with
// some threads paused then left queued tasks unstarted; found by a break-it review). So
// notify_one() prefers the oldest waiter not pausing or paused, marks the one it chose
// (chosen_alone), and a chosen worker that parks for a pause before evaluating its predicate
// (also when it is paused again inside park(), after a resume made it look free), or leaves the
// wait without evaluating it, passes the wake to another waiter. It passes only to a waiter free
// to use it, so a wake never bounces between paused waiters; with none free the mark stays, and
// every waiter evaluates its predicate when resumed anyway. notify_one() skips waiters already
// marked, so two calls wake two waiters. The mark is cleared (an RMW, ordered before the
// predicate's loads) just before that waiter's predicate runs; in a wait_any() each source's own
// mark, so returning for one source leaves another's to be passed on at detach.
// NOTE-8: run_stop_callbacks() publishes k_done (and wakes) only after the call returned, so a
// destructor on another thread that waits for k_done never frees the object under the call. A
// callback that destroys its own stop_callback cannot be made safe that way (the invoker writes
// to it afterwards): that is a contract violation (core.worker/500).
// NOTE-9: a pause acknowledged on behalf of a blocked worker (as the Linux freezer freezes a task
// sleeping in a freezable wait without waking it). A worker about to block in a steward wait
// stores m_wait = blocked; from then until it swaps m_wait back to none after the blocking call
// it runs no body code, and after the swap it re-reads m_ctrl before any. A controller that has
// posted a pause CASes m_wait blocked -> proxied (under m_mutex) and, if that wins, takes the
// table's `parked` row itself: the worker is at a safe point and cannot leave it unseen, so the
// acknowledgement costs no wake-up and no context switch. Exactly one side wins the m_wait race:
// if the worker swapped first, the controller wakes it and it acknowledges in park() as usual.
// A worker that finds `proxied` goes through park() before anything else: it sleeps on while
// paused, ends the park clock after a resume, and returns stop_requested after a stop. Whatever
// woke the blocking call meanwhile (a notification, readiness, its deadline) is looked at again
// after the pause, as for a worker that parked by itself.
