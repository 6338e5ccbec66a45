// steward pool: a fixed set of steward workers running short tasks from a bounded queue, with no
// allocation after construction. Tasks are callables stored inline in their slot; each gets a
// context with the worker's safe points and its own cleanup scope. A pause is acknowledged
// (every running task parked, no queued task starts), a task can be cancelled before or while
// it runs, and shutdown drains or cancels. See docs/pool.md.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "steward/core/cleanup_stack.hpp"
#include "steward/core/config.hpp"
#include "steward/core/expected.hpp"
#include "steward/core/inplace_function.hpp"
#include "steward/core/mpmc_ring.hpp"
#include "steward/core/time.hpp"
#include "steward/core/worker.hpp"
#include "steward/platform/io.hpp"
#include "steward/platform/mutex.hpp"

namespace steward {

class pool_base;
class task_context;

// Where a task is. queued and running are live; the rest are outcomes (each task has exactly one).
enum class task_state : std::uint8_t {
  queued = 1,  // accepted, not started
  running,     // its callable is executing on a pool thread
  completed,   // returned success
  failed,      // returned an error, let an exception escape, or a cleanup release failed
  cancelled,   // cancelled (or cancelled by shutdown) while queued: it never ran
  stopped,     // asked to stop while running (cancel(), shutdown(cancel), its thread stopped) and returned
};
[[nodiscard]] const char* to_string(task_state s) noexcept;
[[nodiscard]] constexpr bool is_outcome(task_state s) noexcept {
  return s >= task_state::completed;
}

// How a task ended. Trivially copyable.
struct task_report {
  task_state outcome{task_state::cancelled};
  // failed: the task's own error, errc::exception (what() in detail) or errc::cleanup_failed;
  // cancelled: errc::cancelled; stopped: errc::stop_requested; completed: unused.
  error err{};
  cleanup_summary cleanup{};                 // what the task's cleanup scope released
  char detail[config::exit_detail_bytes]{};  // an escaped exception's what(), cut to fit
  // The task's result as a value. Returns: ok for completed; err otherwise.
  [[nodiscard]] result<void> status() const noexcept {
    if (outcome == task_state::completed) return {};
    return fail(err);
  }
};

struct submit_options {
  const char* name{"task"};  // static text; named in a pause() timeout and in errors
  // How long submit() may wait for a free slot when every slot is taken: zero (the default)
  // answers queue_full at once; a positive duration blocks up to it, then answers queue_full.
  duration block_for{duration::zero()};
};

enum class shutdown_mode : std::uint8_t {
  drain,   // queued tasks still run; then the threads return
  cancel,  // queued tasks are cancelled, running tasks asked to stop; then the threads return
};

// Outcomes over the pool's life, read when shutdown() returns.
struct shutdown_report {
  std::uint64_t completed{0};
  std::uint64_t failed{0};
  std::uint64_t cancelled{0};
  std::uint64_t stopped{0};
  std::uint32_t hung_threads{0};  // threads that had not returned by the deadline
  // Submits past the close that had not queued their task by the deadline (a submitter
  // preempted mid-submit). Each cancels its own task when it queues it, unless a hung thread of
  // a drain is left to run it; the totals add up once they are out.
  std::uint32_t submits_in_flight{0};
  const char* offender{nullptr};  // the task one of them was running (or its thread's name)
};

// Read with relaxed loads only: no lock, no allocation. Totals are exact once they are read
// after the outcomes they count (a wait() that returned, shutdown()); the gauges queued and
// running are derived from totals read one after another, so while tasks flow they may be off by
// the few tasks that moved in between.
struct pool_counters {
  std::uint64_t submitted{0};
  std::uint64_t queued{0};   // now
  std::uint64_t running{0};  // now
  std::uint64_t completed{0};
  std::uint64_t failed{0};
  std::uint64_t cancelled{0};
  std::uint64_t stopped{0};
  std::uint64_t queue_high_water{0};  // most entries the run queue held at once (seen at submit)
  duration time_parked{};             // summed over the threads' current incarnations
};

// Names one task: a slot and the generation it had when the task was submitted. Once the task
// has ended its slot is reused by a later submit; the handle is then stale and every call
// answers stale_handle and changes nothing. A default-constructed handle gives invalid_handle.
class task_handle {
 public:
  constexpr task_handle() noexcept = default;

  // Waits until the task has an outcome. Blocking (not a safe point): call it from ordinary
  // threads. Returns: the task's report; timeout (naming the task) if it had none by then;
  // stale_handle; invalid_handle.
  [[nodiscard]] result<task_report> wait(duration timeout) const noexcept;
  // Returns: the task's state; stale_handle; invalid_handle.
  [[nodiscard]] result<task_state> state() const noexcept;
  // Cancels the task. Returns: queued - it was queued and will never run (outcome cancelled);
  // running - it is asked to stop at its next safe point, and ends as stopped (or failed, if it
  // returns an error or a cleanup release fails); exited once its callable has returned (its
  // outcome is then fixed, even if wait() has not seen it yet); stale_handle; invalid_handle.
  [[nodiscard]] result<task_state> cancel() const noexcept;

  [[nodiscard]] bool is_null() const noexcept { return m_pool == nullptr; }
  [[nodiscard]] std::uint64_t generation() const noexcept { return m_generation; }
  [[nodiscard]] std::uint32_t slot() const noexcept { return m_index; }

 private:
  friend class pool_base;
  // NOLINTNEXTLINE(bugprone-easily-swappable-parameters): private, built by pool_base::publish() only
  constexpr task_handle(pool_base* p, std::uint32_t index, std::uint64_t gen) noexcept
      : m_pool(p), m_index(index), m_generation(gen) {}
  pool_base* m_pool{nullptr};
  std::uint32_t m_index{0};
  std::uint64_t m_generation{0};
};

namespace detail {

inline constexpr std::uint32_t k_no_task = 0xFFFFFFFFU;
inline constexpr std::size_t k_detail_words = (config::exit_detail_bytes + 7U) / 8U;

// One task slot's shared state. The word holds the generation (high 56 bits: a slot reused
// every 100 ns would take over 200 years to wrap, so a stale handle never matches a later task),
// the state (low 3) and three flags; everything else is published through it (NOTE-1 in
// pool.cpp). A wait() sleeps on `outcome_seq`, a 32-bit futex word bumped when an outcome
// lands, since the OS parks on 32-bit words only.
struct task_slot {
  static constexpr std::uint64_t k_state_mask = 0x7U;
  static constexpr std::uint64_t k_cancel_flag = 0x8U;     // cancel() asked the running task to stop
  static constexpr std::uint64_t k_waiter_flag = 0x10U;    // a wait() sleeps on outcome_seq
  static constexpr std::uint64_t k_returned_flag = 0x20U;  // the callable returned: outcome decided
  static constexpr std::uint64_t k_generation_shift = 8U;
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
                "the pool's task word needs lock-free 64-bit atomics");

  std::atomic<std::uint64_t> word{0};
  std::atomic<std::uint32_t> outcome_seq{0};
  std::atomic<std::uint32_t> thread{0};  // the pool thread running it
  std::atomic<const char*> name{"task"};
  // The outcome's details: written before the word publishes the outcome, read as a seqlock.
  std::atomic<std::uint8_t> code{0};
  std::atomic<std::int32_t> value{0};
  std::atomic<const char*> subject{nullptr};
  std::atomic<std::uint16_t> released{0};
  std::atomic<std::uint16_t> failed_releases{0};
  std::atomic<std::uint64_t> detail[k_detail_words]{};
};

// What one pool thread keeps apart from its worker, on its own cache lines: its tallies have a
// single writer (the thread), so counting a task costs no locked instruction and no line that
// another thread writes (NOTE-2 in pool.cpp).
struct alignas(64) pool_thread {
  cleanup_stack<config::default_cleanup_capacity> cleanup;  // the running task's cleanup scope
  notifier cancel_note;  // the waits of a task attach here; cancel() wakes them through the worker
  std::atomic<std::uint32_t> current{k_no_task};  // slot of the task it runs
  std::uint32_t epoch{0};
  std::atomic<std::uint64_t> started{0};
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> stopped{0};
  // 1 from just before a task's outcome is published until its slot is back on the free list:
  // a submit that finds no free slot meanwhile waits for it (its caller may have seen the
  // outcome already, and must find the slot free).
  std::atomic<std::uint32_t> freeing{0};
};

}  // namespace detail

// Handed to a task: the pool thread's safe points, each of which also ends when the task is
// cancelled, and the task's own cleanup scope, unwound exactly once when the task ends - on
// return, error, exception, cancel or stop - on the task's thread, before its outcome is
// published.
class task_context {
 public:
  task_context(const task_context&) = delete;
  task_context& operator=(const task_context&) = delete;
  ~task_context() = default;

  // A safe point (parks here while the pool is paused). Fast path: two acquire loads.
  // Returns: ok; stop_requested (cancelled, or the thread is stopping: return from the task).
  result<void> checkpoint() noexcept {
    if (cancel_requested()) return fail(errc::stop_requested, m_name);
    STEWARD_TRY(m_ctx.checkpoint());
    if (cancel_requested()) return fail(errc::stop_requested, m_name);
    return {};
  }
  [[nodiscard]] bool should_stop() const noexcept { return cancel_requested() || m_ctx.should_stop(); }
  [[nodiscard]] bool cancel_requested() const noexcept {
    return (m_slot.word.load(std::memory_order_acquire) & detail::task_slot::k_cancel_flag) != 0;
  }

  // Returns: ok when the time is up; stop_requested.
  result<void> sleep_for(duration d) noexcept;
  result<void> sleep_until(time_point deadline) noexcept;

  // Waits until pred() holds (re-evaluated after each notify of `n`). Returns: ok; timeout;
  // stop_requested.
  template <class Pred>
  result<void> wait_until(notifier& n, Pred pred, time_point deadline) noexcept {
    bool cancelled = false;
    auto waited = m_ctx.wait_until(
        n, [&] { return (cancelled = cancel_requested()) || static_cast<bool>(pred()); }, deadline);
    if (waited && cancelled) return fail(errc::stop_requested, m_name);
    return waited;
  }
  template <class Pred>
  result<void> wait_for(notifier& n, Pred pred, duration timeout) noexcept {
    auto deadline = platform::deadline_after(timeout);
    if (!deadline) return fail(deadline.error());
    return wait_until(n, pred, *deadline);
  }

  // Waits until fd is readable / writable. Returns: the events; timeout; stop_requested;
  // io_error; platform_error.
  result<platform::io_events> wait_readable(int fd, time_point deadline) noexcept;
  result<platform::io_events> wait_writable(int fd, time_point deadline) noexcept;
  result<platform::io_events> wait_readable(int fd, duration timeout) noexcept;
  result<platform::io_events> wait_writable(int fd, duration timeout) noexcept;

  // The task's cleanup scope (see cleanup_stack_base): released when the task ends.
  template <class F>
  result<cleanup_ref> defer(F action) noexcept {
    return m_thread.cleanup.defer(action);
  }
  template <class H, class R>
  result<cleanup_ref> adopt(H handle, R (*release_fn)(H)) noexcept {
    return m_thread.cleanup.adopt(handle, release_fn);
  }
  result<void> release(cleanup_ref ref) noexcept { return m_thread.cleanup.release(ref); }
  result<void> dismiss(cleanup_ref ref) noexcept { return m_thread.cleanup.dismiss(ref); }

  [[nodiscard]] const char* name() const noexcept { return m_name; }
  [[nodiscard]] std::uint64_t generation() const noexcept { return m_generation; }
  // The pool thread's own context (its other waits, e.g. wait_any); those do not end on cancel.
  [[nodiscard]] worker_context& thread_context() noexcept { return m_ctx; }

 private:
  friend class pool_base;
  task_context(worker_context& ctx, detail::task_slot& slot, detail::pool_thread& thread,
               std::uint64_t generation, const char* name) noexcept
      : m_ctx(ctx), m_slot(slot), m_thread(thread), m_generation(generation), m_name(name) {}
  result<platform::io_events> wait_fd(wait_source source, time_point deadline) noexcept;

  worker_context& m_ctx;
  detail::task_slot& m_slot;
  detail::pool_thread& m_thread;
  std::uint64_t m_generation;
  const char* m_name;
};

// Capacity-erased pool algorithms; pool<...> owns the storage.
class pool_base {
 public:
  pool_base(const pool_base&) = delete;
  pool_base& operator=(const pool_base&) = delete;

  // Starts every pool thread and waits until each is at its first safe point (a pool run by a
  // supervisor skips this: see thread_worker()). Returns: ok; the first thread's start error, or
  // timeout naming a thread not ready by then (the threads already started are stopped again);
  // already_running; stopping after shutdown().
  result<void> start(duration timeout = std::chrono::seconds(5)) noexcept;

  // Pauses the pool: returns once every running task is parked at a safe point and no queued
  // task will start (submit() still queues). A zero timeout only posts the request.
  // Returns: ok; timeout naming the task that did not reach a safe point (value = its slot) or
  // its thread - the request stays pending; resume() withdraws it; cancelled if a resume() from
  // another thread withdrew it first; would_deadlock from a pool thread; stopping once
  // shutdown() has begun (a pause racing shutdown() withdraws itself, so a drain never meets a
  // parked thread).
  result<void> pause(duration timeout) noexcept;
  // Lets every task run again. Returns: ok; stopping after shutdown().
  result<void> resume() noexcept;

  // Closes the pool to new tasks and ends it. A submit() that had a slot before the close still
  // queues its task; every other submit() answers stopping. drain: resumes a paused pool, runs
  // every queued task (those late submits included), then the threads return. cancel: queued
  // tasks are cancelled and running ones asked to stop (through their threads' stop, which also
  // ends a pause). Returns: the report (with hung_threads > 0 and the offender if a thread had not
  // returned by the deadline); a later call waits again, and a later cancel escalates a drain
  // that has not finished; would_deadlock from a pool thread. Once it returns with no hung
  // thread, every task submitted has an outcome.
  result<shutdown_report> shutdown(shutdown_mode mode, duration timeout) noexcept;

  [[nodiscard]] pool_counters counters() const noexcept;
  [[nodiscard]] std::size_t thread_count() const noexcept { return m_thread_count; }
  [[nodiscard]] std::size_t capacity() const noexcept { return m_capacity; }

  // For a supervisor: the i-th pool thread's worker and the body it runs. A child spec uses
  // them as worker_slot and body (restart transient: a thread returns after shutdown()); the
  // pool's tasks then pause with the subtree and a restarted thread goes on with the queue.
  [[nodiscard]] worker& thread_worker(std::size_t i) const noexcept;
  [[nodiscard]] worker_body thread_body(std::size_t i) noexcept;

 protected:
  using invoke_fn = result<void> (*)(pool_base& self, std::uint32_t slot, task_context& ctx);
  struct storage {
    detail::task_slot* slots;
    std::size_t capacity;
    detail::pool_thread* threads;
    worker* const* workers;
    std::size_t thread_count;
    mpmc_ring_base* run_queue;
    mpmc_ring_base* free_slots;
    invoke_fn invoke;
  };
  explicit pool_base(const storage& s) noexcept;
  ~pool_base() = default;
  // Configures the workers and fills the free list; the owner calls it once its storage exists.
  void init(const char* name) noexcept;
  // Shuts down (cancel) if still open; the owner calls it before its storage goes.
  void close_for_destruction() noexcept;

  // Takes a free slot (waiting up to opts.block_for) and counts the submit in flight; publish()
  // counts it out. Returns: its index; queue_full; stopping.
  result<std::uint32_t> acquire_slot(const submit_options& opts) noexcept;
  // Queues the task in `slot` (its callable is stored). Returns: its handle.
  task_handle publish(std::uint32_t slot, const char* name) noexcept;

 private:
  friend class task_handle;
  // m_gate: the phase in the low two bits, above them the submits in flight (between taking a
  // slot and queueing the task). One RMW both checks the phase and counts a submit in, so a
  // drain waits for every submit that got past the check (NOTE-3 in pool.cpp).
  enum class phase : std::uint32_t { open = 0, draining = 1, cancelling = 2 };
  static constexpr std::uint32_t k_phase_mask = 0x3U;
  static constexpr std::uint32_t k_one_submit = 0x4U;
  [[nodiscard]] phase current_phase() const noexcept {
    return static_cast<phase>(m_gate.load(std::memory_order_acquire) & k_phase_mask);
  }
  // Closed, and no submit in flight: a pool thread may return once the queue is empty.
  [[nodiscard]] bool drained() const noexcept {
    const std::uint32_t g = m_gate.load(std::memory_order_seq_cst);
    return (g & k_phase_mask) != 0 && g < k_one_submit;
  }
  result<std::uint32_t> take_free_slot(const submit_options& opts) noexcept;
  // No free slot: waits for one a pool thread is freeing right now. Returns: whether it got one.
  bool take_slot_being_freed(std::uint32_t& slot) const noexcept;
  // Counts a submit out. Returns: the gate before.
  std::uint32_t end_submit() noexcept;
  // Waits until no submit is in flight. Returns: whether none is (false: the deadline passed).
  bool wait_submits_out(time_point deadline) noexcept;

  result<void> thread_main(worker_context& ctx, std::size_t t) noexcept;
  void run_one(worker_context& ctx, std::size_t t, std::uint32_t slot) noexcept;
  [[nodiscard]] static bool finish(detail::pool_thread& thread, detail::task_slot& s, std::uint64_t gen,
                                   task_state outcome, const error& err, cleanup_summary cleanup,
                                   const char* detail) noexcept;
  void free_slot(std::uint32_t slot) noexcept;
  void note_queued() noexcept;
  bool cancel_queued(std::uint32_t slot) noexcept;
  void cancelled_queued(detail::task_slot& s, std::uint64_t before) noexcept;
  void cancel_leftovers() noexcept;
  [[nodiscard]] bool from_pool_thread() const noexcept;
  [[nodiscard]] const char* offender_of(std::size_t t) const noexcept;
  [[nodiscard]] result<task_report> wait_task(std::uint32_t slot, std::uint64_t gen,
                                              duration timeout) const noexcept;
  [[nodiscard]] result<task_state> state_of_task(std::uint32_t slot, std::uint64_t gen) const noexcept;
  result<task_state> cancel_task(std::uint32_t slot, std::uint64_t gen) noexcept;
  [[nodiscard]] shutdown_report report() const noexcept;

  storage m_storage;
  std::size_t m_capacity;
  std::size_t m_thread_count;
  notifier m_work;  // "a task was queued, or the pool closed"
  // Free-slot hand-off for blocking submits: bumped on every free, slept on by waiters.
  std::atomic<std::uint32_t> m_free_epoch{0};
  std::atomic<std::uint32_t> m_free_waiters{0};
  // Orders pool-level pause() posting against resume(): a resume that lands while a pause is
  // posting would otherwise withdraw only the requests already posted (a break-it review found
  // threads left paused with nobody holding a pause). Held only while requests are posted.
  platform::mutex m_control;
  // Written by submitters and cancellers; the pool threads count in their own pool_thread.
  alignas(64) std::atomic<std::uint32_t> m_gate{0};
  std::atomic<std::uint64_t> m_submitted{0};
  std::atomic<std::uint64_t> m_cancelled{0};
  std::atomic<std::uint64_t> m_high_water{0};
  // Set by shutdown() once no pool thread is left to take a task: a submit that queues its
  // task after that cancels what is queued itself (NOTE-3).
  std::atomic<bool> m_sweep_armed{false};
};

// A pool of Threads steward workers (each with StackBytes of stack) and QueueCapacity task
// slots of TaskBytes each. A task is a callable taking (task_context&) or nothing and returning
// void or result<void>; it must be trivially copyable and fit TaskBytes (else: compile-time
// error). Place the pool in static storage or a long-lived object; it must not move.
template <std::size_t Threads, std::size_t QueueCapacity, std::size_t TaskBytes = 64,
          std::size_t StackBytes = config::default_stack_bytes>
class pool final : public pool_base {
  static_assert(Threads > 0, "a pool needs a thread");
  static_assert(QueueCapacity > 0 && QueueCapacity < (1U << 24U), "QueueCapacity out of range");
  using task_fn = inplace_function<result<void>(task_context&), TaskBytes>;

 public:
  explicit pool(const char* name = "pool") noexcept
      : pool_base(
            storage{m_slots, QueueCapacity, m_threads, m_worker_ptrs, Threads, &m_run, &m_free, &invoke}) {
    for (std::size_t i = 0; i < Threads; ++i) m_worker_ptrs[i] = &m_workers[i];
    init(name);
  }
  ~pool() { close_for_destruction(); }
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;

  // Queues a task. Returns: its handle; queue_full (every slot taken, after opts.block_for);
  // stopping (shut down).
  template <class F>
  result<task_handle> submit(F f, const submit_options& opts = {}) noexcept {
    static_assert(std::is_invocable_v<F&, task_context&> || std::is_invocable_v<F&>,
                  "a task is callable as f(task_context&) or f()");
    static_assert(sizeof(F) <= TaskBytes,
                  "task callable larger than the pool's TaskBytes: capture less "
                  "(a pointer to the data) or give the pool a larger TaskBytes");
    static_assert(std::is_trivially_copyable_v<F> && std::is_trivially_destructible_v<F>,
                  "a task must be trivially copyable: capture pointers, references or values");
    auto slot = acquire_slot(opts);
    if (!slot) return fail(slot.error());
    m_fns[*slot] = task_fn{adapt(f)};
    return publish(*slot, opts.name);
  }

 private:
  template <class F>
  static auto adapt(F f) noexcept {
    return [f](task_context& ctx) mutable -> result<void> {
      if constexpr (std::is_invocable_v<F&, task_context&>) {
        if constexpr (std::is_void_v<std::invoke_result_t<F&, task_context&>>) {
          f(ctx);
          return {};
        } else {
          return f(ctx);
        }
      } else {
        (void)ctx;
        if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
          f();
          return {};
        } else {
          return f();
        }
      }
    };
  }
  static result<void> invoke(pool_base& self, std::uint32_t slot, task_context& ctx) {
    return static_cast<pool&>(self).m_fns[slot](ctx);
  }

  detail::task_slot m_slots[QueueCapacity];
  detail::pool_thread m_threads[Threads];
  static_worker<StackBytes, 4> m_workers[Threads];
  worker* m_worker_ptrs[Threads]{};
  mpmc_ring<2 * QueueCapacity> m_run;  // twice the slots: a push never meets a lap-old cell
  mpmc_ring<QueueCapacity> m_free;
  task_fn m_fns[QueueCapacity];
};

}  // namespace steward
