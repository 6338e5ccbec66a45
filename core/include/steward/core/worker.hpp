// A worker: one body run on its own thread, with acknowledged pause, immediate stop,
// interruptible waits and a cleanup stack that is unwound exactly once on every way out.
// See docs/lifecycle.md for the state machine and docs/architecture.md for the protocol.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "steward/core/cleanup_stack.hpp"
#include "steward/core/config.hpp"
#include "steward/core/expected.hpp"
#include "steward/core/inplace_function.hpp"
#include "steward/core/lifecycle.hpp"
#include "steward/core/liveness.hpp"
#include "steward/core/time.hpp"
#include "steward/platform/clock.hpp"
#include "steward/platform/io.hpp"
#include "steward/platform/mutex.hpp"
#include "steward/platform/park.hpp"
#include "steward/platform/thread.hpp"

namespace steward {

class worker;
class worker_context;
class notifier;
class stop_callback;

// What a worker body is: a callable taking the context and returning result<void> or void.
class worker_body {
 public:
  constexpr worker_body() noexcept = default;
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, worker_body>>>
  worker_body(F f) noexcept : m_fn(adapt(f)) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] explicit operator bool() const noexcept { return static_cast<bool>(m_fn); }
  result<void> operator()(worker_context& ctx) { return m_fn(ctx); }

 private:
  template <class F>
  static auto adapt(F f) noexcept {
    if constexpr (std::is_void_v<std::invoke_result_t<F&, worker_context&>>) {
      return [f](worker_context& ctx) mutable -> result<void> {
        f(ctx);
        return {};
      };
    } else {
      return f;
    }
  }
  inplace_function<result<void>(worker_context&), config::body_storage_bytes> m_fn;
};

enum class exit_reason : std::uint8_t {
  returned,              // the body returned success by itself
  stopped,               // stop was requested and the body returned (stop_requested or success)
  stopped_before_start,  // stop won the race against start: the body never ran
  error,                 // the body returned an error (kept in exit_report::err)
  exception,             // the body let an exception escape (what() kept in detail)
  cleanup_failed,        // the body ended cleanly but a release action failed
};

[[nodiscard]] constexpr bool is_failure(exit_reason r) noexcept {
  return r == exit_reason::error || r == exit_reason::exception || r == exit_reason::cleanup_failed;
}
[[nodiscard]] const char* to_string(exit_reason r) noexcept;

// How one incarnation ended. Trivially copyable; no allocation.
struct exit_report {
  std::uint32_t generation{0};
  exit_reason reason{exit_reason::stopped_before_start};
  error err{};                               // the body's error, errc::exception, or cleanup_failed
  cleanup_summary cleanup{};                 // releases run and releases that failed
  char detail[config::exit_detail_bytes]{};  // an exception's what(), cut to fit
};

// Told about every exit, on the worker's thread after its cleanup ran and before stop() returns.
// No steward lock is held: queries (state(), last_exit(), generation()) are safe; control calls
// on the same worker return would_deadlock. Must not block for long or allocate.
using exit_hook = void (*)(void* user, const char* worker_name, const exit_report& report) noexcept;

// Asked on the worker's thread after its cleanup. Phase `decide` runs while the worker holds its
// controller lock and no stop is pending (so no controller can act in between); returning true
// makes the same thread run the next incarnation at once - a restart without any hand-off. The
// generation then advances under that lock, the lock is released, and the decider is called
// once more in phase `committed` (no steward lock held; an async stop that landed while the
// decider ran carries over: the new incarnation begins as stopping and ends as
// stopped_before_start without running its body). Supervisors install it; it must never block.
enum class restart_phase : std::uint8_t { decide, committed };
using restart_decider = bool (*)(void* user, const exit_report& report, restart_phase phase) noexcept;

struct worker_config {
  const char* name{"worker"};  // static text; also the thread's name (15 chars reach the OS)
  worker_body body{};          // required
  platform::thread_options thread{};
  exit_hook on_exit{nullptr};
  void* on_exit_user{nullptr};
  restart_decider decide_restart{nullptr};  // uses on_exit_user too
  // Touch every page of the stack before the thread first runs on it, so that (with
  // platform::lock_memory()) the worker never page-faults on its stack.
  bool prefault_stack{false};
  duration destroy_timeout{std::chrono::seconds(5)};  // how long the destructor waits for a stop
};

// Names one incarnation of one worker. Calls through a handle whose incarnation has ended fail
// with stale_handle and change nothing; a default-constructed handle gives invalid_handle.
class worker_handle {
 public:
  constexpr worker_handle() noexcept = default;

  result<void> pause(duration timeout) const noexcept;
  result<void> resume() const noexcept;
  [[nodiscard]] result<exit_report> stop(duration timeout) const noexcept;
  [[nodiscard]] result<worker_state> state() const noexcept;
  [[nodiscard]] std::uint32_t generation() const noexcept { return m_generation; }
  [[nodiscard]] bool is_null() const noexcept { return m_worker == nullptr; }

 private:
  friend class worker;
  constexpr worker_handle(worker* w, std::uint32_t gen) noexcept : m_worker(w), m_generation(gen) {}
  worker* m_worker{nullptr};
  std::uint32_t m_generation{0};
};

struct start_info {
  worker_handle handle;            // the new incarnation
  platform::thread_report thread;  // e.g. whether a real-time policy fell back
};

// A condition a body waits on: producers change their state, then call notify_all() (or
// notify_one()). Waiting workers re-evaluate their predicate; pause and stop reach them like any
// wait. Costs nothing to notify while nobody waits (one atomic load).
class notifier {
 public:
  notifier() noexcept = default;
  ~notifier();  // contract: no worker may still wait on it
  notifier(const notifier&) = delete;
  notifier& operator=(const notifier&) = delete;

  // Wakes every worker waiting on this notifier. Safe from any thread (not from a signal).
  void notify_all() noexcept;
  // Wakes the worker that has waited longest; it re-evaluates its predicate (and waits on if it
  // is still false: the notification is then used up, as with a condition variable).
  void notify_one() noexcept;

 private:
  friend class worker_context;
  friend class worker;
  struct waiter {
    worker* target{nullptr};
    waiter* next{nullptr};
    notifier* owner{nullptr};         // set by attach()
    waiter* next_of_worker{nullptr};  // the target's other attached nodes (its own thread only)
    // Set by notify_one() on the waiter it chose, cleared when that worker evaluates its
    // predicate. A worker that parks for a pause first passes the wake on (NOTE-7 in worker.cpp).
    std::atomic<bool> chosen_alone{false};
  };
  void attach(waiter& w) noexcept;
  void detach(waiter& w) noexcept;
  // Hands a wake that `from` cannot use to a waiter free to use it. Returns: whether one took it.
  bool pass_on(waiter& from) noexcept;
  // Under m_mutex: wakes one waiter other than `except` (only a free one if `only_free`).
  bool wake_one_locked(const waiter* except, bool only_free) noexcept;

  platform::mutex m_mutex;
  waiter* m_head{nullptr};
  std::atomic<std::uint32_t> m_waiting{0};  // attached waiters (read without the lock, NOTE-7)
};

// One source of a multi-source wait (worker_context::wait_any): a descriptor that becomes
// readable or writable, or a notifier whose predicate holds. Predicates are held by reference:
// they must outlive the wait.
class wait_source {
 public:
  enum class kind : std::uint8_t { readable, writable, notified };
  [[nodiscard]] static wait_source readable(int fd) noexcept { return wait_source{kind::readable, fd}; }
  [[nodiscard]] static wait_source writable(int fd) noexcept { return wait_source{kind::writable, fd}; }
  template <class Pred>
  [[nodiscard]] static wait_source notified(notifier& n, Pred& pred) noexcept {
    wait_source s{kind::notified, -1};
    s.m_notifier = &n;
    s.m_ready = [](void* p) { return static_cast<bool>((*static_cast<Pred*>(p))()); };
    s.m_ready_arg = &pred;
    return s;
  }
  [[nodiscard]] kind what() const noexcept { return m_kind; }

 private:
  friend class worker;
  constexpr wait_source(kind k, int fd) noexcept : m_kind(k), m_fd(fd) {}
  kind m_kind;
  int m_fd;
  notifier* m_notifier{nullptr};
  bool (*m_ready)(void*){nullptr};
  void* m_ready_arg{nullptr};
};

// What fired in a wait_any(): the lowest-numbered ready source, and its events for a descriptor.
struct wait_any_result {
  std::size_t index{0};
  platform::io_events events{};
};

// Most sources one wait_any() takes (descriptors: platform::k_max_wait_fds of them).
inline constexpr std::size_t k_max_wait_sources = 8;

class worker {
 public:
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  // Replaces the configuration. Returns: ok; already_running / stopping while an incarnation
  // is live; would_deadlock from the worker's own thread.
  result<void> configure(const worker_config& config) noexcept;

  // Starts a new incarnation (a restart when stopped or failed: the generation advances and
  // the cleanup stack starts empty). The first start creates the worker's thread; later ones
  // hand the new incarnation to that thread, which waits parked between incarnations.
  // Returns: the new handle and what the thread layer applied; or invalid_argument (no body),
  // already_running / stopping, would_deadlock, or the platform's error (stack_too_small,
  // permission_denied, resource_exhausted...). On error nothing changes.
  result<start_info> start() noexcept;

  // Waits until the current incarnation has declared itself initialised: the body called
  // worker_context::declare_initialised(), or reached its first safe point (a checkpoint or any
  // steward wait). How a supervisor starts children strictly one after another (OTP's
  // synchronous init): a later child may rely on what an earlier one set up.
  // Returns: ok; exited (the body ended before that: stop() or last_exit() give the report);
  // stopping (a stop was requested first); timeout naming the worker; not_running (never
  // started); would_deadlock from the worker's own thread. An incarnation that already ended
  // answers at once (ok if it had initialised, else exited or stopping).
  result<void> wait_initialised(duration timeout) noexcept;

  // Test seam (fault injection, like platform::inject_thread_create_failures): after the next
  // `after` successful starts of any worker, `count` starts fail with `code` and change nothing.
  static void inject_start_failures(std::uint32_t after, std::uint32_t count, errc code) noexcept;

  // Requests a pause of the current incarnation and waits until the worker is parked at a safe
  // point inside its body. A pause posted before the body was entered is acknowledged at the
  // body's first safe point: `paused` always means "parked inside the body". A zero timeout
  // only posts the request (so many workers can be asked at once and then waited for).
  // Returns: ok once parked; timeout (naming the worker) if not parked by then - the request
  // stays pending and the worker parks at its next safe point unless resume() cancels it;
  // already_paused; not_running (idle, stopped, failed); stopping (a stop was requested before
  // or during the wait); exited (the body returned by itself, before or during the wait);
  // cancelled (another controller resumed); would_deadlock from the worker's own thread.
  // Acts on whichever incarnation is current when it takes the controller lock: never
  // stale_handle.
  result<void> pause(duration timeout) noexcept;
  // Waits for the acknowledgement of a pause already requested, without posting one.
  // Returns: as pause(), but not_running also when no pause is pending (nothing to wait for).
  result<void> wait_paused(duration timeout) noexcept;

  // Cancels a pending pause or unparks a paused worker. Returns at once: the worker runs again
  // when the OS schedules it. Returns: ok (also a no-op on a running or starting worker);
  // not_running (idle, stopped, failed); stopping. Never stale_handle (acts on the current
  // incarnation).
  result<void> resume() noexcept;

  // Requests a stop, wakes the worker from any pause or steward wait, and waits until the
  // body has returned, the cleanup has run and the thread has left the incarnation for good
  // (it parks idle, touching nothing of it, until the next start or shutdown).
  // Returns: the exit report; timeout naming the worker if it did not exit by then (it is
  // never torn down from outside: call stop() again to keep waiting); would_deadlock from the
  // worker's own thread; stale_handle only if, while this call waited, other controllers
  // started the worker again and that incarnation ended too, so the report it waited for was
  // replaced (the incarnation it stopped did end). Idle, stopped and failed workers return at
  // once. A zero timeout only posts the request and returns timeout unless it has ended already
  // (so many workers can be asked at once and then waited for). Acts on the incarnation current when it takes
  // the controller lock; a stop set then also forbids that incarnation's restart in place.
  result<exit_report> stop(duration timeout) noexcept;

  // Waits until the current incarnation ends by itself (the body returned, or someone else
  // stopped it), without asking it to: how a thread waits for a worker that finishes on its own.
  // A blocking wait for ordinary threads; inside a body use worker_context::join(), which is a
  // safe point. Returns: its exit report (at once when it has ended already); timeout naming
  // the worker; not_running if never started; would_deadlock from the worker's own thread;
  // stale_handle if it was restarted and ended again before this call looked (as stop()).
  result<exit_report> join(duration timeout) noexcept;

  // Async-signal-safe stop request (INV-19): marks the current incarnation for stopping and wakes
  // it - atomics, a futex wake and an eventfd write, nothing else - and returns at once. Call
  // stop() from an ordinary thread to wait for the exit. A no-op when nothing runs.
  void request_stop_async() noexcept;
  // Async-signal-safe: makes the worker re-evaluate the condition of the wait it is in.
  void poke_async() noexcept { wake_worker(); }

  [[nodiscard]] worker_state state() const noexcept;
  [[nodiscard]] std::uint32_t generation() const noexcept;
  // A handle to the current incarnation (null if never started).
  [[nodiscard]] worker_handle handle() const noexcept;
  [[nodiscard]] const char* name() const noexcept { return m_name.load(std::memory_order_relaxed); }
  // Returns: the last incarnation's report (also from an exit hook or a supervisor event hook
  // running on the worker's own thread: the report being announced); not_running if never
  // started; already_running while an incarnation is live.
  [[nodiscard]] result<exit_report> last_exit() const noexcept;
  // True when called from this worker's own thread.
  [[nodiscard]] bool is_current_thread() const noexcept;
  [[nodiscard]] std::size_t stack_size() const noexcept { return m_stack_size; }
  // Time the current (or last) incarnation has spent parked, including an ongoing park.
  [[nodiscard]] duration time_parked() const noexcept;
  // What a liveness_monitor judges (liveness.hpp): a few relaxed loads, from any thread.
  [[nodiscard]] liveness_sample liveness() const noexcept;
  [[nodiscard]] const cleanup_stack_base& cleanup() const noexcept { return m_cleanup; }

 protected:
  worker(unsigned char* stack, std::size_t stack_size, cleanup_stack_base& cleanup,
         const worker_config& config) noexcept;
  ~worker();
  // Stops (bounded by destroy_timeout), retires and joins the thread; owners call it while the
  // stack still exists.
  // A worker that does not exit in time is a contract violation: its memory cannot be freed.
  void shutdown() noexcept;

 private:
  friend class worker_context;
  friend class worker_handle;
  friend class notifier;
  friend class stop_callback;

  using ready_fn = bool (*)(void*);
  class attached_nodes;  // wait_any()'s notifier registrations
  // Control word layout (NOTE-4 in worker.cpp): low 8 bits the worker_state, then flags.
  static constexpr std::uint32_t k_state_mask = 0xFFU;
  static constexpr std::uint32_t k_stop_flag = 0x100U;         // a stop was requested
  static constexpr std::uint32_t k_initialised_flag = 0x200U;  // the body declared itself initialised
  // The one value the checkpoint fast path accepts: running, initialised, no stop.
  static constexpr std::uint32_t k_running_initialised =
      static_cast<std::uint32_t>(worker_state::running) | k_initialised_flag;
  // Passed as a generation by the worker-level calls: "whichever incarnation is current".
  static constexpr std::uint32_t k_current_generation = 0;
  struct wait_outcome {
    bool ended;          // the incarnation being waited on is over (generation moved on)
    std::uint32_t ctrl;  // the control word seen last
  };

  // Controller side.
  result<void> pause_generation(std::uint32_t gen, duration timeout, bool post) noexcept;
  result<void> resume_generation(std::uint32_t gen) noexcept;
  result<exit_report> stop_generation(std::uint32_t gen, duration timeout) noexcept;
  result<exit_report> await_exit(std::uint32_t gen, time_point deadline) noexcept;
  // Resolves k_current_generation to the live generation and checks a handle's generation.
  result<void> check_generation_locked(std::uint32_t& gen) const noexcept;
  std::uint32_t issue_generation_locked() noexcept;
  template <class Done>
  result<wait_outcome> wait_for_worker(std::uint32_t gen, time_point deadline, Done done) noexcept;
  void wake_worker() noexcept;
  void wake_controllers() noexcept;
  bool park_blocked_worker_locked() noexcept;
  void run_stop_callbacks() noexcept;

  // Worker side.
  static void thread_entry(void* self) noexcept;
  void retire_thread_locked() noexcept;
  void prefault_stack() noexcept;
  void end_park_accounting() noexcept;
  void pass_on_single_wakes() noexcept;
  platform::park_status sleep_on_wake(std::uint32_t seen, time_point deadline, unsigned spins) noexcept;
  void begin_blocking() noexcept {
    beat();  // entering a wait is progress, and the wait counts as alive while it lasts
    m_wait.store(k_wait_blocked, std::memory_order_seq_cst);
  }
  // Only the worker's own thread writes the count: a load and a store, no read-modify-write.
  void beat() noexcept {
    m_beats.store(m_beats.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  // True when a controller parked this worker while it was blocked: it must pass through park().
  [[nodiscard]] bool end_blocking() noexcept {
    return m_wait.exchange(k_wait_none, std::memory_order_seq_cst) == k_wait_proxied;
  }
  bool finish_incarnation_locked(const exit_report& report) noexcept;
  void run() noexcept;
  bool enter() noexcept;
  void mark_initialised() noexcept;
  void run_body(worker_context& ctx, exit_report& report) noexcept;
  void transition_self(lifecycle_event event) noexcept;
  result<void> park() noexcept;
  result<void> checkpoint_slow() noexcept;
  result<void> wait_loop(ready_fn ready, void* arg, time_point deadline) noexcept;
  result<platform::io_events> wait_fd(int fd, platform::io_interest interest, time_point deadline) noexcept;
  result<wait_any_result> wait_any(const wait_source* sources, std::size_t count,
                                   time_point deadline) noexcept;

  // Control word: low 8 bits worker_state, k_stop_flag when a stop was requested. Controllers
  // park on it waiting for acknowledgements; the checkpoint fast path is one acquire load of it.
  std::atomic<std::uint32_t> m_ctrl;
  // Wake word: the worker parks on it in every steward wait; bumped by whoever wakes it.
  std::atomic<std::uint32_t> m_wake{0};
  notifier::waiter* m_attached{nullptr};  // this worker's notifier waits (its own thread only)
  std::atomic<std::uint32_t> m_generation{0};
  std::uint32_t m_issued_generation{0};  // last number handed out; never reused (under m_mutex)
  std::atomic<std::uint32_t> m_ctrl_waiters{0};
  std::atomic<bool> m_in_fd_wait{false};
  std::atomic<bool> m_wake_sleeping{false};  // the worker sleeps (or is about to) on m_wake
  std::atomic<bool> m_retire{false};         // asks the idle thread to exit (shutdown)
  // Where the worker is with respect to a blocking steward wait (NOTE-9 in worker.cpp).
  static constexpr std::uint32_t k_wait_none = 0;     // body code, or a wait's checks
  static constexpr std::uint32_t k_wait_blocked = 1;  // blocked in a wait; re-reads m_ctrl first
  static constexpr std::uint32_t k_wait_proxied = 2;  // a controller acknowledged a pause for it
  std::atomic<std::uint32_t> m_wait{k_wait_none};
  std::atomic<std::uint32_t> m_beats{0};  // liveness: heartbeats and wait entries

  worker_config m_config;           // written by configure() only while no incarnation is live
  std::atomic<const char*> m_name;  // read by any thread for error subjects
  unsigned char* m_stack;
  std::size_t m_stack_size;
  cleanup_stack_base& m_cleanup;
  // Serialises controllers (start, requests, retire). The worker takes it only between
  // incarnations, to restart in place; never while its body runs.
  mutable platform::mutex m_mutex;
  platform::thread_handle m_thread;
  platform::thread_report m_thread_report{};
  bool m_thread_outdated{false};  // configure() changed name or scheduling
  platform::fd_waker m_waker;
  notifier m_exit_note;  // notified when an incarnation ends (worker_context::join)
  // Stop callbacks of the running body (stop_callback objects on its stack), newest first.
  platform::mutex m_callbacks_mutex;
  stop_callback* m_callbacks{nullptr};
  std::atomic<std::uint32_t> m_callbacks_pending{0};  // registered and not yet run
  exit_report m_last_exit{};  // written by the worker under m_mutex before it leaves an incarnation
  // Parks in this incarnation: counted by whoever acknowledges one (the worker, or a controller
  // on behalf of a worker blocked in a wait).
  std::atomic<std::uint32_t> m_parks{0};
  bool m_reporting{false};  // the worker's thread is running its exit hooks; worker thread only
  std::atomic<std::int64_t> m_parked_total_ns{0};
  std::atomic<std::int64_t> m_parked_since_ns{0};  // 0 when not parked
  bool m_shut_down{false};
};

// A worker that owns its stack and cleanup storage. Place it in static storage or inside
// another long-lived object; it must not move while started.
template <std::size_t StackBytes = config::default_stack_bytes,
          std::size_t CleanupCapacity = config::default_cleanup_capacity>
class static_worker final : public worker {
 public:
  // m_stack_storage is left uninitialised: it is the thread's stack (zeroing it would touch every
  // page, which prefault_stack does only when asked).
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init)
  explicit static_worker(const worker_config& config = {}) noexcept
      : worker(m_stack_storage, StackBytes, m_cleanup_storage, config) {}
  ~static_worker() { shutdown(); }
  static_worker(const static_worker&) = delete;
  static_worker& operator=(const static_worker&) = delete;

 private:
  alignas(64) unsigned char m_stack_storage[StackBytes];
  cleanup_stack<CleanupCapacity> m_cleanup_storage;
};

// Handed to the body: safe points, interruptible waits and the cleanup stack.
// Every wait here is a safe point: a pause is acknowledged inside it without the body's help,
// and after resume the wait goes on towards its original deadline; a stop ends it at once with
// stop_requested, which the body should return (the worker counts that as a clean stop).
class worker_context {
 public:
  worker_context(const worker_context&) = delete;
  worker_context& operator=(const worker_context&) = delete;
  ~worker_context() = default;

  // A safe point. Fast path: one acquire load, no syscall, no lock.
  // Returns: ok to go on (after parking, if a pause was pending); stop_requested.
  result<void> checkpoint() noexcept {
    if (m_worker.m_ctrl.load(std::memory_order_acquire) == worker::k_running_initialised) return {};
    return m_worker.checkpoint_slow();
  }
  // Declares the body initialised: a supervisor starting children in order starts the next one
  // now (without this call, the body's first safe point counts as the declaration). Idempotent.
  void declare_initialised() noexcept { m_worker.mark_initialised(); }
  [[nodiscard]] bool should_stop() const noexcept;
  // Proves progress to a liveness watchdog (liveness.hpp): one relaxed store, no system call.
  // Every steward wait counts as progress too, and as alive for as long as it waits.
  void heartbeat() noexcept { m_worker.beat(); }
  [[nodiscard]] bool should_pause() const noexcept;

  // Returns: ok when the time is up; stop_requested.
  result<void> sleep_for(duration d) noexcept;
  result<void> sleep_until(time_point deadline) noexcept;
  result<void> sleep_until(std::chrono::steady_clock::time_point deadline) noexcept {
    return sleep_until(platform::from_steady(deadline));
  }

  // Waits until pred() holds (evaluated on this thread after each notify_all()).
  // Returns: ok; timeout; stop_requested.
  template <class Pred>
  result<void> wait_until(notifier& n, Pred pred, time_point deadline) noexcept {
    notifier::waiter node{&m_worker, nullptr};
    const attachment guard(n, node);
    return m_worker.wait_loop([](void* p) { return (*static_cast<Pred*>(p))(); }, &pred, deadline);
  }
  template <class Pred>
  result<void> wait_until(notifier& n, Pred pred, std::chrono::steady_clock::time_point deadline) noexcept {
    return wait_until(n, pred, platform::from_steady(deadline));
  }
  template <class Pred>
  result<void> wait_for(notifier& n, Pred pred, duration timeout) noexcept;

  // Waits for the first of several sources - descriptors, notifiers - or the deadline: one wait
  // for "data on this fd, or a notification, or the next period" (poll(), Zephyr's k_poll). A
  // safe point like every other wait. Returns: the lowest ready source and its events; timeout;
  // stop_requested; io_error (value = fd) for a bad descriptor; invalid_argument for 0 or more
  // than k_max_wait_sources sources.
  result<wait_any_result> wait_any(const wait_source* sources, std::size_t count,
                                   time_point deadline) noexcept;
  template <std::size_t N>
  result<wait_any_result> wait_any(const wait_source (&sources)[N], time_point deadline) noexcept {
    return wait_any(sources, N, deadline);
  }
  template <std::size_t N>
  result<wait_any_result> wait_any(const wait_source (&sources)[N], duration timeout) noexcept {
    auto deadline = platform::deadline_after(timeout);
    if (!deadline) return fail(deadline.error());
    return wait_any(sources, N, *deadline);
  }
  template <std::size_t N>
  result<wait_any_result> wait_any(const wait_source (&sources)[N],
                                   std::chrono::steady_clock::time_point deadline) noexcept {
    return wait_any(sources, N, platform::from_steady(deadline));
  }

  // Waits, as a safe point, until `other`'s current incarnation ends by itself (worker::join()
  // for a body). Returns: its exit report; timeout; stop_requested; not_running (never
  // started); would_deadlock (other is this worker); stale_handle as worker::join().
  result<exit_report> join(worker& other, duration timeout) noexcept;

  // Waits until fd is readable / writable (hang-up counts as readable).
  // Returns: the events seen; timeout; stop_requested; io_error; platform_error.
  // The deadline may be steward's time_point, a std::chrono::steady_clock::time_point, or a
  // duration from now.
  result<platform::io_events> wait_readable(int fd, time_point deadline = never) noexcept;
  result<platform::io_events> wait_writable(int fd, time_point deadline = never) noexcept;
  result<platform::io_events> wait_readable(int fd, duration timeout) noexcept;
  result<platform::io_events> wait_writable(int fd, duration timeout) noexcept;
  result<platform::io_events> wait_readable(int fd, std::chrono::steady_clock::time_point deadline) noexcept {
    return wait_readable(fd, platform::from_steady(deadline));
  }
  result<platform::io_events> wait_writable(int fd, std::chrono::steady_clock::time_point deadline) noexcept {
    return wait_writable(fd, platform::from_steady(deadline));
  }

  // The cleanup stack of this incarnation (see cleanup_stack_base).
  template <class F>
  result<cleanup_ref> defer(F action) noexcept {
    return m_worker.m_cleanup.defer(action);
  }
  template <class H, class R>
  result<cleanup_ref> adopt(H handle, R (*release_fn)(H)) noexcept {
    return m_worker.m_cleanup.adopt(handle, release_fn);
  }
  result<void> release(cleanup_ref ref) noexcept { return m_worker.m_cleanup.release(ref); }
  result<void> dismiss(cleanup_ref ref) noexcept { return m_worker.m_cleanup.dismiss(ref); }

  [[nodiscard]] std::uint32_t generation() const noexcept;
  // How many times this incarnation has parked for a pause (a wait can tell it was paused).
  [[nodiscard]] std::uint32_t park_count() const noexcept {
    return m_worker.m_parks.load(std::memory_order_relaxed);
  }
  [[nodiscard]] const char* name() const noexcept { return m_worker.name(); }
  [[nodiscard]] worker& self() noexcept { return m_worker; }

 private:
  friend class worker;
  explicit worker_context(worker& w) noexcept : m_worker(w) {}

  class attachment {
   public:
    attachment(notifier& n, notifier::waiter& w) noexcept : m_notifier(n), m_waiter(w) {
      m_notifier.attach(m_waiter);
    }
    ~attachment() { m_notifier.detach(m_waiter); }
    attachment(const attachment&) = delete;
    attachment& operator=(const attachment&) = delete;

   private:
    notifier& m_notifier;
    notifier::waiter& m_waiter;
  };

  worker& m_worker;
};

// Runs a callback when a stop is requested for the incarnation whose body registered it - like
// std::stop_callback - so that a third-party blocking call (a driver's own wait, a library
// socket) can be cut short. Lives on the body's stack; fixed storage, no allocation.
//  - It runs once, on the thread that requests the stop: stop() or a handle's stop() (also a
//    zero-timeout request), a tree's stop or group restart. After request_stop_async() (a signal
//    handler, where arbitrary code must not run) it runs on the thread that calls stop() next -
//    for a tree, its runner. Registered when a stop is already requested, it runs at once on
//    the body's thread.
//  - Destruction removes it; if it is running on another thread just then, the destructor waits
//    for that call to return (so what it captured stays valid), unless the callback itself is
//    what destroys it. It must be noexcept, short, and must not call control functions that
//    wait for this worker.
class stop_callback {
 public:
  template <class F>
  stop_callback(worker_context& ctx, F f) noexcept : m_worker(ctx.self()), m_fn(f) {
    attach();
  }
  ~stop_callback();
  stop_callback(const stop_callback&) = delete;
  stop_callback& operator=(const stop_callback&) = delete;

  // True once it has run (or started running).
  [[nodiscard]] bool invoked() const noexcept { return m_state.load(std::memory_order_acquire) != k_waiting; }

 private:
  friend class worker;
  static constexpr std::uint32_t k_waiting = 0, k_running = 1, k_done = 2;
  void attach() noexcept;
  worker& m_worker;
  inplace_function<void(), config::cleanup_storage_bytes> m_fn;
  stop_callback* m_next{nullptr};
  std::atomic<std::uint32_t> m_state{k_waiting};  // futex word for a waiting destructor
  const void* m_runner{nullptr};                  // the thread-identity of the invoker
};

}  // namespace steward

template <class Pred>
steward::result<void> steward::worker_context::wait_for(notifier& n, Pred pred, duration timeout) noexcept {
  auto deadline = platform::deadline_after(timeout);
  if (!deadline) return fail(deadline.error());
  return wait_until(n, pred, *deadline);
}
