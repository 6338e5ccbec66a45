// Static supervisor trees (Erlang/OTP's supervisor, for threads on a device). A supervisor owns
// a fixed number of child slots; a child is a worker (whose storage, a static_worker, the
// application owns) or another supervisor. A tree's policy runs on one thread, its runner: a
// steward worker the tree owns. Children report exits lock-free; the runner applies restart
// types, strategies, intensity, backoff, escalation and hung-child handling.
// See docs/supervisors.md for the semantics and the OTP conformance table.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "steward/core/expected.hpp"
#include "steward/core/pool.hpp"
#include "steward/core/time.hpp"
#include "steward/core/worker.hpp"
#include "steward/platform/mutex.hpp"
#include "steward/supervisors/policy.hpp"

namespace steward {

class supervisor_base;
class tree_base;

enum class child_kind : std::uint8_t { worker, supervisor };

// Device defaults: a worker gets 1 s to stop (OTP: 5000 ms; a device watchdog is often a few
// seconds, so the whole tree must be able to stop well inside it). A supervisor child's deadline
// is not set by hand: it is the sum of its children's, so it is bounded by construction
// (OTP's default for supervisors is infinity).
inline constexpr duration k_default_worker_shutdown = std::chrono::seconds(1);
// How long a worker child may take to declare itself initialised (its first safe point or
// worker_context::declare_initialised()) before its start counts as failed.
inline constexpr duration k_default_start_timeout = std::chrono::seconds(5);

// What the runner does with a worker child that missed its liveness period.
enum class liveness_action : std::uint8_t {
  report,  // child_unresponsive only (and the tree counts as unhealthy until it shows progress)
  fail,    // and treat it as failed: stopped within its shutdown deadline (quarantined if it
           // misses that too), then its restart type, the strategy and the intensity apply
};

struct child_spec {
  const char* id{nullptr};               // unique in its supervisor; static; printable, no space or /
  worker* worker_slot{nullptr};          // a worker child: its storage (stack, cleanup capacity)
  supervisor_base* supervisor{nullptr};  // or a supervisor child
  worker_body body{};                    // required for a worker child
  restart_type restart{restart_type::permanent};
  duration shutdown{k_default_worker_shutdown};
  duration start_timeout{k_default_start_timeout};  // a worker child's initialisation deadline
  // Liveness watchdog (liveness.hpp), off when zero: a worker child that shows no progress
  // (worker_context::heartbeat() or a steward wait) for this long while running is reported
  // (child_unresponsive) and handled as on_unresponsive says. Checked by the tree's runner.
  duration liveness{};
  platform::thread_options thread{};
  bool significant{false};  // for auto_shutdown; must be transient or temporary (as in OTP)
  bool prefault_stack{false};
  liveness_action on_unresponsive{liveness_action::report};
  // A thread of this pool (worker_slot = pool.thread_worker(i)): the pool's counters are copied
  // into this child's snapshot record. Not owned.
  const pool_base* pool{nullptr};
};

// How a supervisor starts and stops its children (OTP has only `sequential`).
//  sequential: OTP's strict order. Start: each child initialised before the next starts. Stop:
//    newest first, each one finished (or past its deadline) before the next is asked - by the
//    finished child's own thread, a hand-off chain (NOTE-4 in supervisor.cpp).
//  parallel: for children that do not depend on each other. Start: every worker child is
//    started, then each is waited for, in order, to initialise. Stop (also the stop of a group
//    restart's siblings): every worker below - through nested `parallel` supervisors - is asked
//    before anyone is waited for; each still gets its own deadline, measured from the request,
//    so the tree waits once. A nested `sequential` supervisor keeps its own order.
enum class child_order : std::uint8_t { sequential, parallel };

struct supervisor_config {
  const char* name{"supervisor"};
  strategy restart_strategy{strategy::one_for_one};
  std::uint32_t intensity{1};                // OTP default: 1 restart ...
  duration period{std::chrono::seconds(5)};  // ... in 5 seconds
  backoff_policy backoff{};                  // off by default (base 0), as OTP
  auto_shutdown shutdown_on{auto_shutdown::off};
  child_order order{child_order::sequential};
};

enum class tree_event_kind : std::uint8_t {
  child_started,
  child_exited,  // a clean exit (returned, stopped)
  child_failed,  // error, exception, cleanup_failed
  child_restarted,
  backoff_scheduled,   // delay = how long until the restart
  start_failed,        // a (re)start returned an error (err)
  intensity_exceeded,  // the supervisor gives up
  escalated,           // the supervisor failed; its parent applies its strategy
  child_hung,          // missed its shutdown deadline; the slot is quarantined (err.value = the
                       // worker_state it is stuck in, delay = time in its last known state)
  subtree_paused,      // every worker below parked (delay = time to acknowledge)
  subtree_resumed,
  auto_shutdown,  // significant children ended; the supervisor shut down
  tree_failed,    // the root gave up
  child_unresponsive,  // no progress for its liveness period while running (err.value = the
                       // worker_state it went silent in, delay = how long it has been silent)
};
[[nodiscard]] const char* to_string(tree_event_kind k) noexcept;

struct tree_event {
  tree_event_kind kind{tree_event_kind::child_started};
  const char* supervisor{nullptr};
  const char* child{nullptr};
  std::uint32_t generation{0};
  exit_reason reason{exit_reason::returned};
  error err{};
  duration delay{};
};

// Called for every event, on the runner, a child's or the calling thread, while the tree's
// operation lock is held: it must not block, allocate, or call tree operations (they return
// would_deadlock); queries (state(), snapshot(), a worker's last_exit()) are safe. An event is
// always emitted before the change it reports is visible through tree_base::state(): a thread
// that sees the tree `failed` has had tree_failed delivered already.
using tree_event_hook = void (*)(void* user, const tree_event& event) noexcept;

// Per child, in a caller-provided buffer.
struct child_snapshot {
  char path[64]{};  // "root/acquisition/sampler", cut to fit (then path_cut is set)
  child_kind kind{child_kind::worker};
  worker_state state{worker_state::idle};  // supervisors: running, paused, stopped or failed
  std::uint32_t generation{0};
  std::uint32_t restarts{0};
  exit_reason last_reason{exit_reason::returned};
  error last_error{};
  bool has_exited{false};
  bool quarantined{false};
  bool restart_pending{false};
  bool unresponsive{false};  // missed its liveness period and has shown no progress since
  // The path did not fit: `path` is a prefix of it (possibly another child's whole path), so
  // it must not be used to address this child.
  bool path_cut{false};
  bool has_pool{false};  // the child is a pool's thread (child_spec::pool): `pool` is filled in
  duration time_in_state{};
  duration time_parked{};
  // How long the last acknowledged pause that covered this child took, request to every worker
  // of the paused subtree parked (a worker: its supervisor's; zero: never paused).
  duration last_pause_ack{};
  pool_counters pool{};  // the whole pool's, read when the snapshot was taken (lock-free)
};

// Where a snapshot path leads (tree_base::locate()).
struct child_location {
  supervisor_base* parent{nullptr};      // the supervisor that holds the child; null for the root
  const char* id{nullptr};               // the child's id (the root: its name)
  supervisor_base* supervisor{nullptr};  // set when the child is a supervisor (or the root)
  bool parent_paused{false};             // the parent's subtree is paused (restarts wait for resume)
};

struct child_counts {
  std::size_t specs{0};   // children in the supervisor
  std::size_t active{0};  // started and not terminated
  std::size_t supervisors{0};
  std::size_t workers{0};
};

// Which workers did not park in time, for a pause that timed out.
struct pause_report {
  static constexpr std::size_t k_listed = 8;
  const char* not_parked[k_listed]{};
  std::size_t count{0};  // may exceed k_listed; the first k_listed are named
};

namespace detail {
struct child_slot {
  child_spec spec{};
  supervisor_base* owner{nullptr};
  bool in_use{false};
  bool active{false};       // should be running: started, not terminated or ended for good
  bool quarantined{false};  // a hung worker still runs here; never restarted
  bool restart_pending{false};
  bool has_exited{false};
  time_point restart_due{};
  time_point started_at{};
  time_point state_since{};
  std::uint32_t restarts{0};
  std::uint32_t consecutive{0};    // backoff streak
  std::uint32_t generation{0};     // the worker incarnation the supervisor started last
  std::uint32_t stopped_by_us{0};  // an incarnation the supervisor stopped on purpose
  std::uint32_t handled{0};        // the last incarnation whose exit was handled
  bool in_group{false};            // scratch for a group restart: bring this sibling back
  bool restarted_now{false};       // scratch for a group restart: started by this round
  bool launched{false};            // scratch for a parallel start: started, not yet awaited
  time_point stop_asked{};         // when a parallel stop asked this worker (its deadline's origin)
  exit_reason last_reason{exit_reason::returned};
  error last_error{};
  std::atomic<std::uint32_t> exit_seen{0};           // set by the worker's exit hook (lock-free)
  std::atomic<std::uint32_t> restarted_in_place{0};  // an incarnation restarted on its own thread
  // Armed by a sequential stop (NOTE-4): when this child's stopped incarnation exits, its own
  // thread asks the sibling stopped next. (sibling index + 1) << 32 | that sibling's generation;
  // 0 when unarmed. Taken with an exchange, so exactly one of the exit hook and the stopper acts.
  std::atomic<std::uint64_t> hand_off{0};
  // The incarnation whose stop has been sent (by the stopper or by the hand-off): only that
  // exit passes the chain on, so a child that ends on its own before its turn asks nobody.
  std::atomic<std::uint32_t> stop_sent{0};
  liveness_monitor liveness{};  // the runner's watchdog for this child (under m_op)
  // The incarnation the watchdog asked to stop (`fail`); read by the in-place restart decider.
  std::atomic<std::uint32_t> liveness_kill{0};
  time_point liveness_kill_deadline{};  // its shutdown deadline (under m_op)
  std::int32_t liveness_silent_ms{0};   // how long it had been silent (under m_op)
  bool unresponsive{false};             // reported by the watchdog, no progress since (under m_state)
};
}  // namespace detail

class supervisor_base {
 public:
  supervisor_base(const supervisor_base&) = delete;
  supervisor_base& operator=(const supervisor_base&) = delete;

  // Both legal only while the tree is not running. Returns: ok; invalid_argument;
  // capacity_exceeded (value = capacity); already_running.
  result<void> configure(const supervisor_config& config) noexcept;
  result<void> add_child(const child_spec& spec) noexcept;

  [[nodiscard]] const char* name() const noexcept { return m_config.name; }
  [[nodiscard]] std::size_t capacity() const noexcept { return m_capacity; }
  [[nodiscard]] const supervisor_config& config() const noexcept { return m_config; }

 protected:
  void remember_config_error(const result<void>& configured, const char* name) noexcept {
    if (!configured) m_config_error = error{configured.error().code, configured.error().value, name != nullptr ? name : "supervisor"};
  }
  supervisor_base(detail::child_slot* slots, std::size_t capacity) noexcept
      : m_slots(slots), m_capacity(capacity) {}
  ~supervisor_base() = default;

 private:
  friend class tree_base;
  detail::child_slot* m_slots;
  std::size_t m_capacity;
  std::size_t m_count{0};
  supervisor_config m_config{};
  error m_config_error{errc::invalid_argument, 0, nullptr};  // subject set: the last config was refused
  intensity_window m_window{};
  xorshift32 m_rng{1};
  std::atomic<tree_base*> m_tree{nullptr};  // set once by the first validation; read by any thread
  supervisor_base* m_parent{nullptr};
  detail::child_slot* m_parent_slot{nullptr};
  bool m_running{false};
  bool m_failed{false};
  bool m_paused{false};
  time_point m_state_since{};
  duration m_last_pause_ack{};  // under the tree's state lock
};

template <std::size_t Capacity>
class supervisor final : public supervisor_base {
 public:
  static_assert(Capacity > 0, "a supervisor needs at least one child slot");
  // A config that configure() refuses is kept as an error: the tree's validation then fails
  // with it (subject = the config's name), so a bad supervisor never runs on defaults.
  explicit supervisor(const supervisor_config& config = {}) noexcept : supervisor_base(m_storage, Capacity) {
    remember_config_error(configure(config), config.name);
  }

 private:
  detail::child_slot m_storage[Capacity]{};
};

enum class tree_state : std::uint8_t { idle, running, stopped, failed };
// "idle", "running", "stopped", "failed": the words the control protocol and STATUS= use.
[[nodiscard]] const char* to_string(tree_state s) noexcept;

class tree_base {
 public:
  tree_base(const tree_base&) = delete;
  tree_base& operator=(const tree_base&) = delete;

  // Returns: ok; would_deadlock from a thread of this tree.
  result<void> set_event_hook(tree_event_hook hook, void* user) noexcept;

  // Validates every spec of the tree as a whole, then starts the runner and the children in
  // order, depth first: each worker child must declare itself initialised (its first safe point,
  // or worker_context::declare_initialised()) within its start_timeout before the next starts,
  // so later children may rely on what earlier ones set up (OTP's synchronous init). An error,
  // an exception or a missed deadline before that point is a start failure; a clean return
  // before it counts as started (its exit is then handled under its restart type). If a child
  // fails to start, those already started are stopped in reverse.
  // Returns: ok; invalid_argument / stack_too_small naming the offending child (nothing
  // started); the failing child's start error, subject = its id (everything rolled back);
  // already_running; would_deadlock from a thread of this tree.
  result<void> start() noexcept;

  // Stops every child in reverse order (each within its shutdown deadline), then the runner.
  // A paused subtree is woken and cleaned up; a pause() in progress never delays it (the pause
  // returns stopping). On a tree that is already stopped or failed it waits once more, up to
  // their deadlines, for children quarantined earlier. Returns: ok; timeout naming the first
  // hung child (value = how many are hung; they are quarantined, never torn down);
  // would_deadlock.
  result<void> stop() noexcept;

  // Async-signal-safe (INV-19): asks the runner to stop the whole tree, in reverse order as
  // stop() does, and returns at once (atomics and a futex wake only). Call stop() afterwards from
  // an ordinary thread to wait for it and collect the result. It applies to the run in progress
  // only: on a tree that is not running it does nothing, and it never stops a later start().
  void request_stop_async() noexcept;

  // Pauses every worker below `sub` (the whole tree by default) and returns once each has
  // parked, or timeout (subject = first not parked, value = how many) with `report` listing
  // them. Restarts that fall due while paused wait for resume. The wait does not hold the
  // tree's operation lock: a stop() or resume() issued meanwhile goes ahead at once, and this
  // call then returns stopping or cancelled. Returns also invalid_handle if `sub` is not in
  // this tree; not_running; would_deadlock.
  result<void> pause(duration timeout, pause_report* report = nullptr) noexcept;
  result<void> pause(supervisor_base& sub, duration timeout, pause_report* report = nullptr) noexcept;
  result<void> resume() noexcept;
  result<void> resume(supervisor_base& sub) noexcept;

  // OTP's management calls, on a supervisor of this tree, by child id.
  // terminate: stop and keep the spec (not restarted); restart: start a terminated child;
  // delete: remove a terminated child's spec. Returns: ok; invalid_argument (unknown id);
  // invalid_handle (foreign supervisor); already_running; not_running; stopping (quarantined);
  // would_deadlock from a thread of this tree.
  result<void> terminate_child(supervisor_base& sup, const char* id) noexcept;
  result<void> restart_child(supervisor_base& sup, const char* id) noexcept;
  result<void> delete_child(supervisor_base& sup, const char* id) noexcept;
  // Stops the child if it runs and starts it again, as one operation: every check is made
  // before anything is stopped, and no pause or other operation can land in between, so a
  // refusal leaves the child as it was. Returns: ok; the refusals of restart_child() except
  // already_running; stopping if the child or a worker below it is quarantined; timeout if it
  // missed its shutdown deadline now (it is quarantined and stays stopped).
  result<void> cycle_child(supervisor_base& sup, const char* id) noexcept;
  [[nodiscard]] result<child_counts> count_children(const supervisor_base& sup) const noexcept;

  // Copies one record per child (depth first) into `out`. Returns: how many were written; or
  // capacity_exceeded with value = how many are needed (nothing written). Never blocks on a
  // running tree operation for longer than a few slot copies.
  [[nodiscard]] result<std::size_t> snapshot(child_snapshot* out, std::size_t capacity) const noexcept;

  // Finds the child a snapshot path names: "root/acquisition/sampler" (`length` bytes, no
  // terminator needed); the root's own name is the root. Takes only the short state lock.
  // Returns: where it is; invalid_argument (subject = the root's name) if no child has that path.
  [[nodiscard]] result<child_location> locate(const char* path, std::size_t length) const noexcept;

  [[nodiscard]] tree_state state() const noexcept { return m_state_value.load(std::memory_order_acquire); }

  // Waits until the tree is no longer running: stopped (stop() on another thread, an async stop,
  // auto-shutdown) or failed (the root gave up). A blocking wait for ordinary threads; inside a
  // worker body wait on state_notifier() with ctx.wait_for(...), which is a safe point.
  // Returns: the state reached (at once if it is not running); timeout; not_running if it never
  // started (or its start failed); would_deadlock from a thread of this tree.
  result<tree_state> wait(duration timeout) noexcept;
  // Notified after every change of state(): for waits inside worker bodies.
  [[nodiscard]] notifier& state_notifier() noexcept { return m_state_note; }
  // The reason the root gave up (state() == failed).
  [[nodiscard]] error failure() const noexcept;
  [[nodiscard]] supervisor_base& root() noexcept { return m_root; }

 protected:
  tree_base(supervisor_base& root, worker& runner) noexcept;
  ~tree_base();
  void shutdown() noexcept;

 private:
  using slot = detail::child_slot;
  friend class supervisor_base;

  // Runner and event intake.
  static void on_worker_exit(void* user, const char* name, const exit_report& report) noexcept;
  static bool decide_restart_in_place(void* user, const exit_report& report, restart_phase phase) noexcept;
  result<void> runner_body(worker_context& ctx) noexcept;
  void post_event() noexcept;
  void process_locked(time_point now) noexcept;
  void process_supervisor(supervisor_base& sup, time_point now) noexcept;
  time_point next_due_locked(const supervisor_base& sup) const noexcept;

  // Policy.
  void handle_exit(supervisor_base& sup, slot& s, const exit_report& report, time_point now) noexcept;
  void schedule_restart(supervisor_base& sup, std::size_t index, time_point now) noexcept;
  bool run_due_restarts(supervisor_base& sup, time_point now) noexcept;
  void fail_supervisor(supervisor_base& sup, const error& why, time_point now) noexcept;
  void auto_shutdown_check(supervisor_base& sup, time_point now) noexcept;

  // Mechanics.
  result<void> validate(supervisor_base& sup, supervisor_base* parent, std::size_t depth) noexcept;
  result<void> check_unique_workers() const noexcept;
  result<void> start_locked() noexcept;
  template <class F>
  static bool for_each_worker_slot(const supervisor_base& sup, F& f) noexcept;
  result<void> start_supervisor(supervisor_base& sup, time_point now) noexcept;
  result<void> start_child(supervisor_base& sup, slot& s, time_point now) noexcept;
  result<void> launch_child(supervisor_base& sup, slot& s) noexcept;
  result<void> await_child(supervisor_base& sup, slot& s, time_point now, time_point init_deadline) noexcept;
  void request_stop_walk(supervisor_base& sup, time_point now) noexcept;
  void request_stop_one(slot& s, time_point now) noexcept;
  template <typename WillStop>
  void arm_hand_offs(supervisor_base& sup, std::size_t first, std::size_t last, WillStop will_stop) noexcept;
  static void disarm_hand_offs(supervisor_base& sup) noexcept;
  void rollback_started(supervisor_base& sup, std::size_t end, time_point now) noexcept;
  std::size_t stop_supervisor(supervisor_base& sup, time_point now, const char** first_hung) noexcept;
  bool stop_child(supervisor_base& sup, slot& s, time_point now, const char** first_hung) noexcept;
  void request_pause_walk(supervisor_base& sup) noexcept;
  void wait_paused_walk(supervisor_base& sup, time_point deadline, pause_report& report) noexcept;
  std::size_t recheck_quarantined(supervisor_base& sup, const char** first_hung) noexcept;
  void resume_walk(supervisor_base& sup) noexcept;
  void record_pause_ack_walk(supervisor_base& sup, duration took) noexcept;
  bool contains(const supervisor_base& sup) const noexcept;
  bool called_from_tree() const noexcept;
  bool called_from_tree(const supervisor_base& sup) const noexcept;
  static slot* find(supervisor_base& sup, const char* id) noexcept;
  result<void> check_management(const supervisor_base& sup, const char* id) const noexcept;
  result<slot*> find_managed(supervisor_base& sup, const char* id) noexcept;
  void emit(tree_event_kind kind, const supervisor_base& sup, const slot* s, const error& err = {},
            duration delay = {}, exit_reason reason = exit_reason::returned) noexcept;
  void wait_for_stragglers(supervisor_base& sup) noexcept;
  void publish_state(tree_state s) noexcept;
  bool still_hung(slot& s) noexcept;
  bool any_hung_below(supervisor_base& sup) noexcept;
  bool watch_liveness(supervisor_base& sup, slot& s, time_point now) noexcept;
  std::size_t snapshot_walk(const supervisor_base& sup, const char* prefix, child_snapshot* out,
                            std::size_t capacity, std::size_t at, time_point now) const noexcept;
  duration shutdown_budget(const slot& s) const noexcept;

  supervisor_base& m_root;
  worker& m_runner;
  platform::mutex m_op;             // serialises tree operations, held across waits
  mutable platform::mutex m_state;  // guards slot data read by snapshot(); never held across waits
  notifier m_events_ready;
  std::atomic<std::uint32_t> m_events{0};
  // Async stop (NOTE-3): each start() begins a new run; a request names the run it was made in.
  std::atomic<std::uint32_t> m_run{0};
  std::atomic<std::uint32_t> m_stop_requested_run{0};  // 0: none; set from a signal handler
  std::uint32_t m_resume_round{0};  // bumped by every resume (under m_op): a waiting pause is cancelled
  std::atomic<tree_state> m_state_value{tree_state::idle};
  std::atomic<std::uint32_t> m_state_changes{0};  // bumped after every state change; wait() parks on it
  notifier m_state_note;
  tree_event_hook m_hook{nullptr};
  void* m_hook_user{nullptr};
  error m_failure{};
  bool m_shut_down{false};
};

// A tree: its root supervisor and the runner thread that applies its policy.
template <std::size_t RunnerStack = config::default_stack_bytes>
class supervision_tree final : public tree_base {
 public:
  explicit supervision_tree(supervisor_base& root) noexcept : tree_base(root, m_runner) {}
  ~supervision_tree() { shutdown(); }
  supervision_tree(const supervision_tree&) = delete;
  supervision_tree& operator=(const supervision_tree&) = delete;

 private:
  static_worker<RunnerStack, 2> m_runner;
};

}  // namespace steward
