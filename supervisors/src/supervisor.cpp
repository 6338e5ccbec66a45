// The supervision tree's runtime. Locking (NOTE-1): m_op serialises tree operations and is held
// across waits (stopping a child, a pause acknowledgement); m_state guards the slot fields that
// snapshot() reads and is only held for short copies, never across a wait or a hook. Workers
// report exits lock-free (an atomic per slot plus a notifier), so a worker never waits for a
// lock that a thread stopping it holds.
#include "steward/supervisors/supervisor.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <limits>

#include "steward/core/contract.hpp"
#include "steward/platform/clock.hpp"
#include "steward/platform/park.hpp"

namespace steward {
namespace {

constexpr std::size_t k_max_depth = 16;
constexpr duration k_runner_stop = std::chrono::seconds(5);
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables): per thread
thread_local const tree_base* t_tree_op = nullptr;  // the tree whose operation this thread runs

// The last monotonic reading that succeeded, process-wide (the clock is shared, so is its last
// value). Used when a read fails: a deadline then starts from a slightly old "now" and ends a
// little early, by the time since that read. Time zero instead (as before) put every deadline
// in the past, so one failed read quarantined a healthy child as hung (found by the simulation).
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables)
std::atomic<std::int64_t> g_last_now_ns{0};

time_point now_or_last() noexcept {
  auto now = platform::monotonic_now();
  if (!now) now = platform::monotonic_now();  // one retry: a failure is rare and transient
  if (now) {
    const std::int64_t ns = now->time_since_epoch().count();
    std::int64_t last = g_last_now_ns.load(std::memory_order_relaxed);
    while (ns > last && !g_last_now_ns.compare_exchange_weak(last, ns, std::memory_order_relaxed)) {
    }
    return *now;
  }
  return time_point{duration{g_last_now_ns.load(std::memory_order_relaxed)}};
}

bool same_id(const char* a, const char* b) noexcept {
  return a != nullptr && b != nullptr && std::strcmp(a, b) == 0;
}

class op_guard {
 public:
  op_guard(platform::mutex& m, const tree_base* tree) noexcept : m_mutex(m), m_previous(t_tree_op) {
    m_mutex.lock();
    t_tree_op = tree;
  }
  ~op_guard() {
    t_tree_op = m_previous;
    m_mutex.unlock();
  }
  op_guard(const op_guard&) = delete;
  op_guard& operator=(const op_guard&) = delete;

 private:
  platform::mutex& m_mutex;
  const tree_base* m_previous;
};

}  // namespace

const char* to_string(tree_state s) noexcept {
  switch (s) {
    case tree_state::idle:
      return "idle";
    case tree_state::running:
      return "running";
    case tree_state::stopped:
      return "stopped";
    case tree_state::failed:
      return "failed";
  }
  return "unknown";
}

const char* to_string(tree_event_kind k) noexcept {
  switch (k) {
    case tree_event_kind::child_started:
      return "child_started";
    case tree_event_kind::child_exited:
      return "child_exited";
    case tree_event_kind::child_failed:
      return "child_failed";
    case tree_event_kind::child_restarted:
      return "child_restarted";
    case tree_event_kind::backoff_scheduled:
      return "backoff_scheduled";
    case tree_event_kind::start_failed:
      return "start_failed";
    case tree_event_kind::intensity_exceeded:
      return "intensity_exceeded";
    case tree_event_kind::escalated:
      return "escalated";
    case tree_event_kind::child_hung:
      return "child_hung";
    case tree_event_kind::child_unresponsive:
      return "child_unresponsive";
    case tree_event_kind::subtree_paused:
      return "subtree_paused";
    case tree_event_kind::subtree_resumed:
      return "subtree_resumed";
    case tree_event_kind::auto_shutdown:
      return "auto_shutdown";
    case tree_event_kind::tree_failed:
      return "tree_failed";
  }
  return "?";
}

// ---------------------------------------------------------------- supervisor_base

result<void> supervisor_base::configure(const supervisor_config& config) noexcept {
  if (const tree_base* t = m_tree.load(std::memory_order_acquire);
      t != nullptr && t->state() == tree_state::running)
    return fail(errc::already_running, config.name);
  if (config.name == nullptr || config.period <= duration::zero() ||
      config.intensity > intensity_window::k_max_intensity) {
    return fail(errc::invalid_argument, config.name, static_cast<std::int32_t>(config.intensity));
  }
  m_config = config;
  m_config_error = error{errc::invalid_argument, 0, nullptr};  // a good config replaces a refused one
  return {};
}

// A child id is one word of a snapshot path: printable ASCII without spaces or '/', not empty,
// so that every path names one child and reads back as it was written (control socket).
namespace {
bool is_path_word(const char* id) noexcept {
  if (id == nullptr || id[0] == '\0') return false;
  for (const char* p = id; *p != '\0'; ++p) {
    const auto b = static_cast<unsigned char>(*p);
    if (b <= 0x20 || b >= 0x7f || b == '/') return false;
  }
  return true;
}
}  // namespace

result<void> supervisor_base::add_child(const child_spec& spec) noexcept {
  if (const tree_base* t = m_tree.load(std::memory_order_acquire);
      t != nullptr && t->state() == tree_state::running)
    return fail(errc::already_running, spec.id);
  const bool is_worker = spec.worker_slot != nullptr;
  const bool is_supervisor = spec.supervisor != nullptr;
  if (!is_path_word(spec.id) || is_worker == is_supervisor || (is_worker && !spec.body) ||
      spec.supervisor == this || (is_worker && spec.shutdown <= duration::zero()) ||
      (is_worker && spec.start_timeout <= duration::zero()) ||
      (spec.significant && spec.restart == restart_type::permanent) || spec.liveness < duration::zero() ||
      (is_supervisor && spec.liveness != duration::zero())) {
    return fail(errc::invalid_argument, spec.id);
  }
  for (std::size_t i = 0; i < m_count; ++i) {
    if (m_slots[i].in_use && same_id(m_slots[i].spec.id, spec.id))
      return fail(errc::invalid_argument, spec.id);
  }
  if (m_count == m_capacity)
    return fail(errc::capacity_exceeded, spec.id, static_cast<std::int32_t>(m_capacity));
  auto& s = m_slots[m_count++];
  s.spec = spec;
  s.owner = this;
  s.liveness = liveness_monitor(spec.liveness);
  s.unresponsive = false;
  s.in_use = true;
  return {};
}

// ---------------------------------------------------------------- construction

tree_base::tree_base(supervisor_base& root, worker& runner) noexcept : m_root(root), m_runner(runner) {}

tree_base::~tree_base() {
  STEWARD_REQUIRE("supervisors.tree", 100, m_shut_down || state() != tree_state::running);
}

void tree_base::shutdown() noexcept {
  if (m_shut_down) return;
  if (state() == tree_state::running) static_cast<void>(stop());
  static_cast<void>(m_runner.stop(k_runner_stop));
  wait_for_stragglers(m_root);
  m_shut_down = true;
}

// A quarantined (hung) worker may still finish later and report to this tree: the tree must
// outlive that report. Wait for it once more, bounded by its deadline; a worker still running
// then cannot be left with a dangling tree, so that is a contract violation.
void tree_base::wait_for_stragglers(supervisor_base& sup) noexcept {
  for (std::size_t i = 0; i < sup.m_count; ++i) {
    slot& s = sup.m_slots[i];
    if (s.spec.supervisor != nullptr) {
      wait_for_stragglers(*s.spec.supervisor);
    } else if (s.spec.worker_slot != nullptr && !is_terminal(s.spec.worker_slot->state())) {
      static_cast<void>(s.spec.worker_slot->stop(s.spec.shutdown));
      STEWARD_REQUIRE("supervisors.tree", 110, is_terminal(s.spec.worker_slot->state()));
    }
  }
}

result<void> tree_base::set_event_hook(tree_event_hook hook, void* user) noexcept {
  if (called_from_tree()) return fail(errc::would_deadlock, m_root.name());
  op_guard op(m_op, this);
  m_hook = hook;
  m_hook_user = user;
  return {};
}

error tree_base::failure() const noexcept {
  platform::lock_guard lock(m_state);
  return m_failure;
}

void tree_base::emit(tree_event_kind kind, const supervisor_base& sup, const slot* s, const error& err,
                     duration delay, exit_reason reason) noexcept {
  if (m_hook == nullptr) return;
  tree_event e;
  e.kind = kind;
  e.supervisor = sup.name();
  e.child = s != nullptr ? s->spec.id : nullptr;
  e.generation = s != nullptr ? s->generation : 0;
  e.reason = reason;
  e.err = err;
  e.delay = delay;
  m_hook(m_hook_user, e);
}

// Every change of the tree's state goes through here: waiters in wait() and on the state
// notifier see it.
void tree_base::publish_state(tree_state s) noexcept {
  m_state_value.store(s, std::memory_order_seq_cst);
  m_state_changes.fetch_add(1, std::memory_order_seq_cst);
  platform::park_wake_all(m_state_changes);
  m_state_note.notify_all();
}

result<tree_state> tree_base::wait(duration timeout) noexcept {
  if (called_from_tree()) return fail(errc::would_deadlock, m_root.name());
  const auto deadline = platform::deadline_after(timeout);
  if (!deadline) return fail(deadline.error());
  for (;;) {
    const std::uint32_t seen = m_state_changes.load(std::memory_order_seq_cst);
    const tree_state s = state();
    if (s == tree_state::idle) return fail(errc::not_running, m_root.name());
    if (s != tree_state::running) return s;
    if (platform::park_wait(m_state_changes, seen, *deadline) == platform::park_status::timed_out &&
        state() == tree_state::running) {
      return fail(errc::timeout, m_root.name());
    }
  }
}

// ---------------------------------------------------------------- queries about membership

bool tree_base::contains(const supervisor_base& sup) const noexcept {
  return sup.m_tree.load(std::memory_order_acquire) == this;
}

bool tree_base::called_from_tree(const supervisor_base& sup) const noexcept {
  for (std::size_t i = 0; i < sup.m_count; ++i) {
    const slot& s = sup.m_slots[i];
    if (!s.in_use) continue;
    if (s.spec.supervisor != nullptr) {
      if (called_from_tree(*s.spec.supervisor)) return true;
    } else if (s.spec.worker_slot->is_current_thread()) {
      return true;
    }
  }
  return false;
}

bool tree_base::called_from_tree() const noexcept {
  if (t_tree_op == this || m_runner.is_current_thread()) return true;
  platform::lock_guard lock(m_state);  // slots may be retired by the runner meanwhile
  return called_from_tree(m_root);
}

tree_base::slot* tree_base::find(supervisor_base& sup, const char* id) noexcept {
  for (std::size_t i = 0; i < sup.m_count; ++i) {
    if (sup.m_slots[i].in_use && same_id(sup.m_slots[i].spec.id, id)) return &sup.m_slots[i];
  }
  return nullptr;
}

duration tree_base::shutdown_budget(const slot& s) const noexcept {
  if (s.spec.supervisor == nullptr) return s.spec.shutdown;
  duration total{};
  const auto& sup = *s.spec.supervisor;
  for (std::size_t i = 0; i < sup.m_count; ++i) {
    if (sup.m_slots[i].in_use) total += shutdown_budget(sup.m_slots[i]);
  }
  return total;
}

// ---------------------------------------------------------------- validation

result<void> tree_base::validate(supervisor_base& sup, supervisor_base* parent, std::size_t depth) noexcept {
  if (depth > k_max_depth) return fail(errc::invalid_argument, sup.name(), static_cast<std::int32_t>(depth));
  const tree_base* owner = sup.m_tree.load(std::memory_order_acquire);
  if (owner != nullptr && owner != this) return fail(errc::invalid_handle, sup.name());
  if (sup.m_config_error.subject != nullptr) return fail(sup.m_config_error);  // refused at construction
  if (sup.m_config.intensity > intensity_window::k_max_intensity)
    return fail(errc::invalid_argument, sup.name());
  if (owner == nullptr) sup.m_tree.store(this, std::memory_order_release);  // written once (INV-18)
  sup.m_parent = parent;
  const std::size_t minimum = platform::min_stack_size();
  for (std::size_t i = 0; i < sup.m_count; ++i) {
    slot& s = sup.m_slots[i];
    if (!s.in_use) continue;
    if (s.spec.supervisor != nullptr) {
      const tree_base* nested_owner = s.spec.supervisor->m_tree.load(std::memory_order_acquire);
      if (nested_owner != nullptr && nested_owner != this) {
        return fail(errc::invalid_handle, s.spec.id);  // it belongs to another tree (INV-18)
      }
      if (s.spec.supervisor->m_parent_slot != nullptr && s.spec.supervisor->m_parent_slot != &s) {
        return fail(errc::invalid_argument, s.spec.id);  // one supervisor nested in two places
      }
      s.spec.supervisor->m_parent_slot = &s;
      STEWARD_TRY(validate(*s.spec.supervisor, &sup, depth + 1));
      continue;
    }
    if (s.spec.worker_slot->stack_size() < minimum) {
      return fail(errc::stack_too_small, s.spec.id, static_cast<std::int32_t>(minimum));
    }
  }
  return {};
}

// ---------------------------------------------------------------- start

// Calls f(slot) for every worker slot below `sup`, depth first; stops early when f returns false.
template <class F>
bool tree_base::for_each_worker_slot(const supervisor_base& sup, F& f) noexcept {
  for (std::size_t i = 0; i < sup.m_count; ++i) {
    const slot& s = sup.m_slots[i];
    if (!s.in_use) continue;
    if (s.spec.supervisor != nullptr) {
      if (!for_each_worker_slot(*s.spec.supervisor, f)) return false;
    } else if (!f(s)) {
      return false;
    }
  }
  return true;
}

// A worker may serve only one slot of the whole tree. Quadratic in the number of workers, but
// bounded, allocation-free and run once per start (about 0.5 M comparisons for 1,024 workers).
result<void> tree_base::check_unique_workers() const noexcept {
  const char* duplicate = nullptr;
  auto outer = [&](const slot& a) {
    std::size_t seen = 0;
    auto inner = [&](const slot& b) {
      if (&b == &a) return false;  // only the slots before `a`
      if (b.spec.worker_slot == a.spec.worker_slot) ++seen;
      return true;
    };
    for_each_worker_slot(m_root, inner);
    if (seen != 0) duplicate = a.spec.id;
    return seen == 0;
  };
  for_each_worker_slot(m_root, outer);
  if (duplicate != nullptr) return fail(errc::invalid_argument, duplicate);
  return {};
}

result<void> tree_base::start_child(supervisor_base& sup, slot& s, time_point now) noexcept {
  if (s.spec.supervisor != nullptr) {
    STEWARD_TRY(start_supervisor(*s.spec.supervisor, now));
    {
      platform::lock_guard lock(m_state);
      s.active = true;
      s.restart_pending = false;
      s.started_at = s.state_since = now;
    }
    emit(tree_event_kind::child_started, sup, &s);
    return {};
  }
  STEWARD_TRY(launch_child(sup, s));
  return await_child(sup, s, now, saturating_add(now_or_last(), s.spec.start_timeout));
}

// Starts a worker child's next incarnation without waiting for it.
result<void> tree_base::launch_child(supervisor_base& sup, slot& s) noexcept {
  worker_config cfg;
  cfg.name = s.spec.id;
  cfg.body = s.spec.body;
  cfg.thread = s.spec.thread;
  cfg.on_exit = &tree_base::on_worker_exit;
  cfg.decide_restart = &tree_base::decide_restart_in_place;
  cfg.on_exit_user = &s;
  cfg.prefault_stack = s.spec.prefault_stack;
  cfg.destroy_timeout = s.spec.shutdown;
  // Not null: add_child() admits exactly one of worker_slot and supervisor, and start_child() sends
  // supervisors elsewhere; the analyzer cannot see the first.
  auto configured = s.spec.worker_slot->configure(cfg);  // NOLINT(clang-analyzer-core.CallAndMessage)
  if (!configured) return fail(error{configured.error().code, configured.error().value, s.spec.id});
  auto started = s.spec.worker_slot->start();
  if (!started) {
    emit(tree_event_kind::start_failed, sup, &s, started.error());
    return fail(error{started.error().code, started.error().value, s.spec.id});
  }
  platform::lock_guard lock(m_state);
  s.generation = started->handle.generation();
  s.launched = true;
  s.unresponsive = false;  // a new incarnation is judged afresh (its generation resets the monitor)
  return {};
}

// Waits for a launched worker child to declare itself initialised (its first safe point, or
// declare_initialised()), then counts it as started. Under m_op, so no restart in place can
// replace the incarnation meanwhile: the worker-level calls below act on the launched one.
// NOLINTNEXTLINE(bugprone-easily-swappable-parameters): (now, deadline), as everywhere in the tree
result<void> tree_base::await_child(supervisor_base& sup, slot& s, time_point now,
                                    time_point init_deadline) noexcept {
  worker& w = *s.spec.worker_slot;
  const auto at = now_or_last();
  auto initialised = w.wait_initialised(init_deadline > at ? init_deadline - at : duration::zero());
  if (!initialised && initialised.error() == errc::exited) {
    // It ended before declaring: a failure there is a start failure; a clean return is a start
    // followed by an exit, which the runner handles under the restart type.
    auto ended = w.stop(s.spec.shutdown);
    if (ended && !is_failure(ended->reason)) initialised = {};
  }
  {
    platform::lock_guard lock(m_state);
    s.launched = false;
  }
  if (!initialised) {
    if (!stop_child(sup, s, now, nullptr)) return fail(errc::hung, s.spec.id);  // quarantined
    error why = initialised.error();
    if (why.code == errc::exited) {  // report what the body said, not just that it ended
      auto report = w.last_exit();
      if (report) why = report->err;
    }
    emit(tree_event_kind::start_failed, sup, &s, why);
    return fail(error{why.code, why.value, s.spec.id});
  }
  {
    platform::lock_guard lock(m_state);
    s.active = true;
    s.restart_pending = false;
    s.started_at = s.state_since = now;
  }
  emit(tree_event_kind::child_started, sup, &s);
  return {};
}

// Stops, newest first, the children of `sup` below index `end` that were started or launched.
void tree_base::rollback_started(supervisor_base& sup, std::size_t end, time_point now) noexcept {
  if (sup.m_config.order == child_order::parallel) {
    for (std::size_t j = end; j-- > 0;) {
      slot& s = sup.m_slots[j];
      if (s.in_use && (s.active || s.launched) && s.spec.worker_slot != nullptr) request_stop_one(s, now);
    }
  }
  for (std::size_t j = end; j-- > 0;) {
    slot& s = sup.m_slots[j];
    if (!s.in_use || !(s.active || s.launched)) continue;
    stop_child(sup, s, now, nullptr);
    platform::lock_guard lock(m_state);
    s.launched = false;
  }
}

result<void> tree_base::start_supervisor(supervisor_base& sup, time_point now) noexcept {
  {
    platform::lock_guard lock(m_state);
    sup.m_window = intensity_window(sup.m_config.intensity, sup.m_config.period);
    sup.m_rng = xorshift32(sup.m_config.backoff.seed);
    sup.m_running = true;
    sup.m_failed = false;
    sup.m_state_since = now;
  }
  const bool parallel = sup.m_config.order == child_order::parallel;
  const auto launched_at = now_or_last();
  for (std::size_t i = 0; i < sup.m_count; ++i) {
    slot& s = sup.m_slots[i];
    if (!s.in_use || still_hung(s)) continue;
    auto started =
        parallel && s.spec.worker_slot != nullptr ? launch_child(sup, s) : start_child(sup, s, now);
    if (!started) {  // OTP: stop those already started, in reverse, and report the failing child
      rollback_started(sup, i, now);
      platform::lock_guard lock(m_state);
      sup.m_running = false;
      return started;
    }
  }
  if (parallel) {  // every worker is on its way: now wait for each, in order
    for (std::size_t i = 0; i < sup.m_count; ++i) {
      slot& s = sup.m_slots[i];
      if (!s.in_use || !s.launched) continue;
      auto initialised = await_child(sup, s, now, saturating_add(launched_at, s.spec.start_timeout));
      if (!initialised) {
        rollback_started(sup, sup.m_count, now);
        platform::lock_guard lock(m_state);
        sup.m_running = false;
        return initialised;
      }
    }
  }
  return {};
}

result<void> tree_base::start() noexcept {
  if (called_from_tree()) return fail(errc::would_deadlock, m_root.name());
  for (;;) {
    worker_handle previous_runner;
    {
      op_guard op(m_op, this);
      if (state() == tree_state::running) return fail(errc::already_running, m_root.name());
      if (is_terminal(m_runner.state())) return start_locked();
      previous_runner = m_runner.handle();
    }
    // The previous run's runner has not left yet (a stop() on another thread is about to stop
    // it, or the runner stopped the tree itself). Stop that incarnation - outside m_op, which it
    // may be waiting for - and look again.
    auto stopped = previous_runner.stop(k_runner_stop);
    if (!stopped && stopped.error() == errc::timeout) return fail(errc::stopping, "tree-runner");
  }
}

result<void> tree_base::start_locked() noexcept {
  STEWARD_TRY(validate(m_root, nullptr, 0));
  STEWARD_TRY(check_unique_workers());
  worker_config runner_cfg;
  runner_cfg.name = "tree-runner";
  runner_cfg.body = [this](worker_context& ctx) { return runner_body(ctx); };
  STEWARD_TRY(m_runner.configure(runner_cfg));
  const auto now = now_or_last();
  {
    platform::lock_guard lock(m_state);
    m_failure = error{};
  }
  // A new run before the state says running (NOTE-3); a request left from an earlier run is void.
  std::uint32_t run = m_run.load(std::memory_order_relaxed) + 1;
  if (run == 0) run = 1;
  m_run.store(run, std::memory_order_seq_cst);
  m_stop_requested_run.store(0, std::memory_order_seq_cst);
  publish_state(tree_state::running);
  auto started = start_supervisor(m_root, now);
  if (!started) {
    publish_state(tree_state::idle);
    return started;
  }
  auto runner = m_runner.start();
  if (!runner) {
    stop_supervisor(m_root, now, nullptr);
    publish_state(tree_state::idle);
    return fail(runner.error());
  }
  return {};
}

// ---------------------------------------------------------------- stop

bool tree_base::stop_child(supervisor_base& sup, slot& s, time_point now, const char** first_hung) noexcept {
  if (s.spec.supervisor != nullptr) {
    const std::size_t hung = stop_supervisor(*s.spec.supervisor, now, first_hung);
    platform::lock_guard lock(m_state);
    s.active = false;
    s.restart_pending = false;
    s.state_since = now;
    return hung == 0;
  }
  worker& w = *s.spec.worker_slot;
  {
    platform::lock_guard lock(m_state);
    s.restart_pending = false;
    s.stopped_by_us = s.generation;
    s.unresponsive = false;  // stopped on purpose: no longer the watchdog's
  }
  s.liveness_kill.store(0, std::memory_order_relaxed);
  // A parallel stop asked it earlier: its deadline runs from that request, not from now.
  duration budget = s.spec.shutdown;
  if (s.stop_asked != time_point{}) {
    const auto deadline = saturating_add(s.stop_asked, s.spec.shutdown);
    const auto at = now_or_last();
    budget = deadline > at ? deadline - at : duration::zero();
    s.stop_asked = time_point{};
  }
  if (!s.active && is_terminal(w.state())) return true;
  s.stop_sent.store(s.generation, std::memory_order_release);  // its exit may pass the chain on
  // Again if it moved to a newer incarnation (stale), or if the stop could not read the clock
  // and so posted nothing (platform_error, transient): either way the worker has not been asked
  // yet, and quarantining it as hung would be wrong (found by the simulation).
  for (int attempt = 0; attempt < 8; ++attempt) {
    auto stopped = w.stop(budget);
    if (stopped || (stopped.error() != errc::stale_handle && stopped.error() != errc::platform_error)) break;
  }
  if (!is_terminal(w.state())) {                          // missed its deadline: quarantine, never tear down
    const auto hung_for = now_or_last() - s.state_since;  // time in its last known state
    {
      platform::lock_guard lock(m_state);
      s.quarantined = true;
      s.active = false;
      s.state_since = now;
    }
    if (first_hung != nullptr && *first_hung == nullptr) *first_hung = s.spec.id;
    emit(tree_event_kind::child_hung, sup, &s,
         error{errc::hung, static_cast<std::int32_t>(w.state()), s.spec.id}, hung_for);
    return false;
  }
  platform::lock_guard lock(m_state);
  s.active = false;
  s.handled = s.generation;
  s.state_since = now;
  return true;
}

// A quarantined worker that has finished since is released from quarantine: its slot is usable.
bool tree_base::still_hung(slot& s) noexcept {
  if (!s.quarantined) return false;
  if (s.spec.worker_slot != nullptr && !is_terminal(s.spec.worker_slot->state())) return true;
  platform::lock_guard lock(m_state);
  s.quarantined = false;
  return false;
}

// Whether a worker below `sup` is still quarantined. Under m_op.
bool tree_base::any_hung_below(supervisor_base& sup) noexcept {
  for (std::size_t i = 0; i < sup.m_count; ++i) {
    slot& s = sup.m_slots[i];
    if (!s.in_use) continue;
    if (s.spec.supervisor != nullptr ? any_hung_below(*s.spec.supervisor) : still_hung(s)) return true;
  }
  return false;
}

// Posts a stop to one live worker child without waiting (a parallel stop's first phase).
void tree_base::request_stop_one(slot& s, time_point now) noexcept {
  static_cast<void>(now);
  worker& w = *s.spec.worker_slot;
  if (s.quarantined || (!s.active && !s.launched && is_terminal(w.state()))) return;
  {
    platform::lock_guard lock(m_state);
    s.restart_pending = false;
    s.stopped_by_us = s.generation;
  }
  if (s.stop_asked == time_point{}) s.stop_asked = now_or_last();  // the first request counts
  static_cast<void>(w.stop(duration::zero()));                     // a request only
}

// Asks every live worker below `sup` to stop, through nested parallel supervisors, newest first.
void tree_base::request_stop_walk(supervisor_base& sup, time_point now) noexcept {
  for (std::size_t i = sup.m_count; i-- > 0;) {
    slot& s = sup.m_slots[i];
    if (!s.in_use) continue;
    if (s.spec.supervisor != nullptr) {
      if (s.spec.supervisor->m_config.order == child_order::parallel && s.spec.supervisor->m_running)
        request_stop_walk(*s.spec.supervisor, now);
    } else {
      request_stop_one(s, now);
    }
  }
}

// Links each worker child that `will_stop` names (newest first, within [first, last]) to the
// next one the stopper will stop, when that one is a worker too (NOTE-4). A nested supervisor
// ends a chain: the stopper stops it itself. Under m_op.
template <typename WillStop>
void tree_base::arm_hand_offs(supervisor_base& sup, std::size_t first, std::size_t last,
                              WillStop will_stop) noexcept {
  slot* later = nullptr;  // the child stopped just before the one being looked at
  platform::lock_guard lock(m_state);
  for (std::size_t i = last + 1; i-- > first;) {
    slot& s = sup.m_slots[i];
    if (!will_stop(i, s)) continue;
    if (s.spec.worker_slot == nullptr) {
      later = nullptr;
      continue;
    }
    // Stopped on purpose from now on: its exit is the stopper's to handle, not the runner's.
    s.restart_pending = false;
    s.stopped_by_us = s.generation;
    if (later != nullptr) {
      later->hand_off.store((static_cast<std::uint64_t>(i) + 1) << 32 | s.generation,
                            std::memory_order_release);
    }
    later = &s;
  }
}

void tree_base::disarm_hand_offs(supervisor_base& sup) noexcept {
  for (std::size_t i = 0; i < sup.m_count; ++i) sup.m_slots[i].hand_off.store(0, std::memory_order_release);
}

std::size_t tree_base::stop_supervisor(supervisor_base& sup, time_point now,
                                       const char** first_hung) noexcept {
  std::size_t hung = 0;
  const auto live = [](const slot& s) {
    return s.active || (s.spec.worker_slot != nullptr && !is_terminal(s.spec.worker_slot->state())) ||
           (s.spec.supervisor != nullptr && s.spec.supervisor->m_running);
  };
  const bool parallel = sup.m_config.order == child_order::parallel;
  if (parallel) {
    request_stop_walk(sup, now);  // all asked first
  } else if (sup.m_count != 0) {
    arm_hand_offs(sup, 0, sup.m_count - 1,
                  [&](std::size_t, const slot& s) { return s.in_use && !s.quarantined && live(s); });
  }
  for (std::size_t i = sup.m_count; i-- > 0;) {  // reverse start order
    slot& s = sup.m_slots[i];
    if (!s.in_use) continue;
    if (s.quarantined) {
      if (still_hung(s)) {
        ++hung;
        if (first_hung != nullptr && *first_hung == nullptr) *first_hung = s.spec.id;
      }
      continue;
    }
    if (live(s) && !stop_child(sup, s, now, first_hung)) ++hung;
  }
  if (!parallel) disarm_hand_offs(sup);
  platform::lock_guard lock(m_state);
  sup.m_running = false;
  sup.m_paused = false;
  sup.m_state_since = now;
  return hung;
}

result<void> tree_base::stop() noexcept {
  if (called_from_tree()) return fail(errc::would_deadlock, m_root.name());
  const char* first_hung = nullptr;
  std::size_t hung = 0;
  worker_handle runner_of_this_run;
  {
    op_guard op(m_op, this);
    runner_of_this_run = m_runner.handle();  // a start() after us gets a runner of its own
    const auto s = state();
    if (s == tree_state::running) {
      hung = stop_supervisor(m_root, now_or_last(), &first_hung);
      publish_state(tree_state::stopped);
    } else {
      // Stopped by the runner (an async stop, auto_shutdown) or failed: children it left hung
      // are still the caller's business (waited for once more, up to their deadlines).
      hung = recheck_quarantined(m_root, &first_hung);
    }
  }
  // Outside m_op: the runner may be waiting for it; it sees the state and leaves. Through the
  // handle taken under m_op: never the runner of a run that another thread started since.
  if (!runner_of_this_run.is_null()) {
    auto runner = runner_of_this_run.stop(k_runner_stop);
    for (int attempt = 0; attempt < 8 && !runner && runner.error() == errc::platform_error; ++attempt) {
      runner = runner_of_this_run.stop(k_runner_stop);  // a failed clock read posted nothing: again
    }
    if (!runner && runner.error() != errc::stale_handle && hung == 0) return fail(runner.error());
  }
  if (hung != 0) return fail(errc::timeout, first_hung, static_cast<std::int32_t>(hung));
  return {};
}

// Waits once more for each quarantined worker below `sup` (up to its shutdown deadline; a
// worker is never torn down). Returns how many are still hung.
std::size_t tree_base::recheck_quarantined(supervisor_base& sup, const char** first_hung) noexcept {
  std::size_t hung = 0;
  for (std::size_t i = sup.m_count; i-- > 0;) {
    slot& s = sup.m_slots[i];
    if (!s.in_use) continue;
    if (s.spec.supervisor != nullptr) {
      hung += recheck_quarantined(*s.spec.supervisor, first_hung);
      continue;
    }
    if (!s.quarantined) continue;
    if (still_hung(s)) static_cast<void>(s.spec.worker_slot->stop(s.spec.shutdown));
    if (still_hung(s)) {
      ++hung;
      if (first_hung != nullptr && *first_hung == nullptr) *first_hung = s.spec.id;
    }
  }
  return hung;
}

// ---------------------------------------------------------------- exits and policy

// The fast path (NOTE-2): a one_for_one restart with no backoff, decided on the failing worker's
// own thread, which then runs the next incarnation without waking anyone. Anything else - a busy
// tree, a group restart, a backoff, a pause, an intensity limit - goes to the runner. The tree's
// operation lock is taken in the decide phase (try_lock: never waiting, so it cannot deadlock
// with a thread that holds it and stops this worker) and held until the committed phase, when
// the worker's generation has advanced: no tree operation can see the step half done.
bool tree_base::decide_restart_in_place(void* user, const exit_report& report, restart_phase phase) noexcept {
  auto* s = static_cast<slot*>(user);
  supervisor_base& sup = *s->owner;
  tree_base& tree = *sup.m_tree.load(std::memory_order_relaxed);
  const bool abnormal = is_failure(report.reason);
  if (phase == restart_phase::committed) {  // the worker has published its next generation
    // The exit event names the incarnation that ended, the restart event the one that runs now.
    tree.emit(abnormal ? tree_event_kind::child_failed : tree_event_kind::child_exited, sup, s, report.err,
              {}, report.reason);
    {
      // One step for snapshot(): the restart count and the generation it produced move together.
      platform::lock_guard lock(tree.m_state);
      s->generation = s->spec.worker_slot->generation();  // numbers are the worker's to issue
      ++s->restarts;
    }
    tree.emit(tree_event_kind::child_restarted, sup, s);
    t_tree_op = nullptr;
    tree.m_op.unlock();
    return true;
  }
  if (!tree.m_op.try_lock()) return false;
  const auto type = s->spec.restart;
  const auto now = now_or_last();
  if (tree.state() == tree_state::running && sup.m_running && !sup.m_paused &&
      sup.m_config.restart_strategy == strategy::one_for_one &&
      sup.m_config.backoff.base <= duration::zero() && s->active && !s->quarantined &&
      s->generation == report.generation && s->stopped_by_us != report.generation &&
      s->liveness_kill.load(std::memory_order_relaxed) != report.generation &&
      (type == restart_type::permanent || (type == restart_type::transient && abnormal)) &&
      sup.m_window.allows(now)) {
    static_cast<void>(sup.m_window.add(now));
    {
      platform::lock_guard lock(tree.m_state);
      s->handled = report.generation;
      s->has_exited = true;
      s->last_reason = report.reason;
      s->last_error = report.err;
      s->started_at = s->state_since = now;
    }
    s->restarted_in_place.store(report.generation, std::memory_order_relaxed);
    t_tree_op = &tree;  // hooks called in the committed phase see a tree operation in progress
    return true;        // m_op stays locked until the committed phase
  }
  tree.m_op.unlock();
  return false;
}

void tree_base::on_worker_exit(void* user, const char* /*worker_name*/, const exit_report& report) noexcept {
  auto* s = static_cast<slot*>(user);
  if (s->restarted_in_place.load(std::memory_order_relaxed) == report.generation) return;  // handled
  s->exit_seen.store(report.generation, std::memory_order_release);
  tree_base& tree = *s->owner->m_tree.load(std::memory_order_relaxed);
  bool stopped_on_purpose = false;
  {
    platform::lock_guard lock(tree.m_state);
    stopped_on_purpose = s->stopped_by_us == report.generation;
  }
  // Whoever stopped it on purpose (a tree stop, terminate_child, a group restart) handles the
  // exit, and the runner skips it: waking the runner for it would only make it queue behind
  // that operation - one extra wake-up and context switch per child of a tree stop.
  if (!stopped_on_purpose) {
    tree.post_event();
    return;
  }
  // A sequential stop's hand-off (NOTE-4): this child's cleanup has run, so the sibling stopped
  // next may be asked now, from here, instead of after a round trip through the stopper.
  // Only once its own stop was sent: every sibling stopped before it has finished by then. A
  // child that ended on its own before its turn passes nothing on (strict order kept).
  if (s->stop_sent.load(std::memory_order_acquire) != report.generation) return;
  const std::uint64_t next = s->hand_off.exchange(0, std::memory_order_acq_rel);
  if (next == 0) return;
  const auto index = static_cast<std::size_t>(next >> 32) - 1;
  const auto gen = static_cast<std::uint32_t>(next);
  slot& sibling = s->owner->m_slots[index];
  const worker_handle incarnation = sibling.spec.worker_slot->handle();
  // The handle names the incarnation the stopper meant, so a late hook cannot stop a newer one.
  if (incarnation.generation() != gen) return;
  sibling.stop_sent.store(gen, std::memory_order_release);
  static_cast<void>(incarnation.stop(duration::zero()));
}

void tree_base::post_event() noexcept {
  m_events.fetch_add(1, std::memory_order_release);
  m_events_ready.notify_all();
}

void tree_base::request_stop_async() noexcept {
  // NOTE-3: the run is read before the state, so a request made while the tree was idle names
  // an old run even if a start() slips in between, and the runner of the new run ignores it.
  const std::uint32_t run = m_run.load(std::memory_order_seq_cst);
  if (m_state_value.load(std::memory_order_seq_cst) != tree_state::running) return;
  m_stop_requested_run.store(run, std::memory_order_seq_cst);
  m_runner.poke_async();
}

result<void> tree_base::runner_body(worker_context& ctx) noexcept {
  for (;;) {
    const std::uint32_t seen = m_events.load(std::memory_order_acquire);
    time_point due = never;
    {
      op_guard op(m_op, this);
      const std::uint32_t asked = m_stop_requested_run.exchange(0, std::memory_order_seq_cst);
      if (asked != 0 && asked == m_run.load(std::memory_order_relaxed) &&
          state() == tree_state::running) {               // from a signal, for this run
        stop_supervisor(m_root, now_or_last(), nullptr);  // hung children stay quarantined;
        publish_state(tree_state::stopped);               // stop() reports them
      }
      if (state() == tree_state::running) {
        const auto now = now_or_last();
        process_locked(now);
        due = next_due_locked(m_root);
      }
    }
    auto waited = ctx.wait_until(
        m_events_ready,
        [this, seen] {
          return m_events.load(std::memory_order_acquire) != seen ||
                 m_stop_requested_run.load(std::memory_order_acquire) != 0;
        },
        due);
    if (!waited && waited.error() == errc::stop_requested) return waited;
  }
}

void tree_base::process_locked(time_point now) noexcept {
  process_supervisor(m_root, now);
}

void tree_base::process_supervisor(supervisor_base& sup, time_point now) noexcept {
  if (!sup.m_running) return;
  for (std::size_t i = 0; i < sup.m_count; ++i) {
    slot& s = sup.m_slots[i];
    if (!s.in_use) continue;
    if (s.spec.supervisor != nullptr) {
      process_supervisor(*s.spec.supervisor, now);
      if (!sup.m_running) return;
      continue;
    }
    if (s.spec.liveness > duration::zero() && s.active && !s.quarantined && watch_liveness(sup, s, now)) {
      post_event();  // the tree changed: look again from the top
      return;
    }
    const std::uint32_t gen = s.exit_seen.load(std::memory_order_acquire);
    // Stopped by the watchdog (NOTE-5): its exit is a failure even when it was quarantined first.
    const bool killed = gen != 0 && s.liveness_kill.load(std::memory_order_relaxed) == gen;
    if (gen == 0 || gen != s.generation || gen == s.handled || (!s.active && !(killed && s.quarantined)))
      continue;
    if (s.stopped_by_us == gen) continue;
    if (killed && s.quarantined && still_hung(s)) {  // past its exit hook, terminal state next
      post_event();                                  // look again, as for any slow exit path
      return;
    }
    // The worker has left its body; collect its report (it publishes the terminal state last).
    auto report = s.spec.worker_slot->handle().stop(s.spec.shutdown);
    if (!report) {
      if (report.error() == errc::stale_handle) continue;  // a newer incarnation: stale (INV-6)
      post_event();  // its exit path is slow (a preempted hook): look again, do not lose it
      return;
    }
    {
      platform::lock_guard lock(m_state);
      s.handled = gen;
    }
    if (killed) {
      report->reason = exit_reason::error;  // whatever the body returned when stopped: it had hung
      report->err = error{errc::unresponsive, s.liveness_silent_ms, s.spec.id};
      s.liveness_kill.store(0, std::memory_order_relaxed);
    }
    handle_exit(sup, s, *report, now);
    post_event();  // the tree may have changed under us: look again from the top
    return;
  }
  run_due_restarts(sup, now);
}

// The liveness watchdog of one worker child, on the runner under m_op (NOTE-5). Returns true
// when it changed the tree (a child treated as failed).
bool tree_base::watch_liveness(supervisor_base& sup, slot& s, time_point now) noexcept {
  worker& w = *s.spec.worker_slot;
  if (s.generation != 0 && s.liveness_kill.load(std::memory_order_relaxed) == s.generation) {
    // Asked to stop by the watchdog: the exit path handles it; past its deadline, quarantine.
    if (now < s.liveness_kill_deadline || is_terminal(w.state())) return false;
    {
      platform::lock_guard lock(m_state);
      s.quarantined = true;
      s.active = false;
      s.unresponsive = false;  // counted as hung from now on
      s.state_since = now;
    }
    emit(tree_event_kind::child_hung, sup, &s,
         error{errc::hung, static_cast<std::int32_t>(w.state()), s.spec.id}, s.liveness.silent_for(now));
    return true;
  }
  const liveness_sample seen = w.liveness();
  if (seen.generation != s.generation) return false;  // an incarnation the tree has not recorded yet
  const liveness_verdict verdict = s.liveness.observe(seen, now);
  if (verdict == liveness_verdict::alive && s.unresponsive) {
    platform::lock_guard lock(m_state);
    s.unresponsive = false;  // progress again: healthy
  }
  if (verdict != liveness_verdict::newly_unresponsive) return false;
  const duration silent = s.liveness.silent_for(now);
  {
    platform::lock_guard lock(m_state);
    s.unresponsive = true;
  }
  emit(tree_event_kind::child_unresponsive, sup, &s,
       error{errc::unresponsive, static_cast<std::int32_t>(seen.state), s.spec.id}, silent);
  if (s.spec.on_unresponsive != liveness_action::fail) return false;
  // A request only: the runner never waits for one child while others need watching. Its exit
  // comes back as an event (and is not restarted in place: decide_restart_in_place checks).
  const auto silent_ms = std::chrono::duration_cast<std::chrono::milliseconds>(silent).count();
  s.liveness_silent_ms =
      static_cast<std::int32_t>(std::min<long long>(silent_ms, std::numeric_limits<std::int32_t>::max()));
  s.liveness_kill_deadline = saturating_add(now, s.spec.shutdown);
  s.liveness_kill.store(s.generation, std::memory_order_relaxed);
  static_cast<void>(w.handle().stop(duration::zero()));
  return false;
}

void tree_base::handle_exit(supervisor_base& sup, slot& s, const exit_report& report,
                            time_point now) noexcept {
  const bool abnormal = is_failure(report.reason);
  {
    platform::lock_guard lock(m_state);
    s.active = false;
    s.unresponsive = false;
    s.has_exited = true;
    s.last_reason = report.reason;
    s.last_error = report.err;
    s.state_since = now;
  }
  emit(abnormal ? tree_event_kind::child_failed : tree_event_kind::child_exited, sup, &s, report.err, {},
       report.reason);
  const auto type = s.spec.restart;
  const bool restart = type == restart_type::permanent || (type == restart_type::transient && abnormal);
  if (!restart) {
    if (type == restart_type::temporary) {  // OTP: a temporary child's spec goes with it
      platform::lock_guard lock(m_state);
      s.in_use = false;
    }
    if (s.spec.significant) auto_shutdown_check(sup, now);
    return;
  }
  schedule_restart(sup, static_cast<std::size_t>(&s - sup.m_slots), now);
}

void tree_base::schedule_restart(supervisor_base& sup, std::size_t index, time_point now) noexcept {
  slot& failed = sup.m_slots[index];
  if (!sup.m_window.add(now)) {
    const error why{errc::intensity_exceeded, static_cast<std::int32_t>(sup.m_config.intensity), sup.name()};
    emit(tree_event_kind::intensity_exceeded, sup, &failed, why);
    fail_supervisor(sup, why, now);
    return;
  }
  const auto& policy = sup.m_config.backoff;
  if (now - failed.started_at >= policy.reset_after) failed.consecutive = 0;  // ran healthily
  const duration delay = backoff_delay(policy, failed.consecutive, sup.m_rng);
  ++failed.consecutive;

  std::size_t first = index;
  std::size_t last = index;
  if (sup.m_config.restart_strategy == strategy::one_for_all) {
    first = 0;
    last = sup.m_count - 1;
  } else if (sup.m_config.restart_strategy == strategy::rest_for_one) {
    last = sup.m_count - 1;
  }
  for (std::size_t j = first; j <= last; ++j) sup.m_slots[j].in_group = false;
  if (sup.m_config.order == child_order::parallel) {  // every sibling of the scope asked first
    for (std::size_t j = last + 1; j-- > first;) {
      slot& s = sup.m_slots[j];
      if (j == index || !s.in_use || !s.active) continue;
      if (s.spec.worker_slot != nullptr) {
        request_stop_one(s, now);
      } else if (s.spec.supervisor->m_config.order == child_order::parallel) {
        request_stop_walk(*s.spec.supervisor, now);
      }
    }
  } else {
    arm_hand_offs(sup, first, last,
                  [index](std::size_t j, const slot& s) { return j != index && s.in_use && s.active; });
  }
  for (std::size_t j = last + 1; j-- > first;) {  // stop the rest of the scope, in reverse
    slot& s = sup.m_slots[j];
    if (j == index || !s.in_use) continue;
    const bool live = s.active;
    if (live && !stop_child(sup, s, now, nullptr)) {
      disarm_hand_offs(sup);
      fail_supervisor(sup, error{errc::hung, 0, s.spec.id}, now);
      return;
    }
    const bool bring_back = live && s.spec.restart != restart_type::temporary;
    s.in_group = bring_back;  // which siblings to bring back (a slot flag: any capacity)
    if (!bring_back && s.spec.restart == restart_type::temporary && live) {
      platform::lock_guard lock(m_state);
      s.in_use = false;  // OTP: temporary siblings are terminated, not restarted
    }
  }
  if (sup.m_config.order != child_order::parallel) disarm_hand_offs(sup);
  {
    platform::lock_guard lock(m_state);
    for (std::size_t j = first; j <= last; ++j) {
      slot& s = sup.m_slots[j];
      if (!s.in_use || s.quarantined) continue;
      if (j == index || s.in_group) {
        s.restart_pending = true;
        s.restart_due = saturating_add(now, delay);
      }
    }
  }
  if (delay > duration::zero()) emit(tree_event_kind::backoff_scheduled, sup, &failed, {}, delay);
  run_due_restarts(sup, now);
}

bool tree_base::run_due_restarts(supervisor_base& sup, time_point now) noexcept {
  if (!sup.m_running || sup.m_paused) return true;  // a paused subtree restarts after resume
  const bool parallel = sup.m_config.order == child_order::parallel;
  const auto launched_at = now_or_last();
  for (std::size_t i = 0; i < sup.m_count; ++i) sup.m_slots[i].restarted_now = false;
  for (int pass = parallel ? 0 : 1; pass < 2; ++pass) {  // parallel: launch all (0), then await (1)
    for (std::size_t i = 0; i < sup.m_count; ++i) {
      slot& s = sup.m_slots[i];
      if (!s.in_use || !s.restart_pending || s.restart_due > now) continue;
      const bool worker_child = s.spec.worker_slot != nullptr;
      if (pass == 0 && !worker_child) continue;  // nested supervisors start in the second pass
      result<void> started{};
      if (pass == 0) {
        started = launch_child(sup, s);
      } else if (parallel && worker_child) {
        started = await_child(sup, s, now, saturating_add(launched_at, s.spec.start_timeout));
      } else {
        started = start_child(sup, s, now);
      }
      if (!started) {  // roll the partial group back, newest first, then give up (INV-11)
        for (std::size_t k = sup.m_count; k-- > 0;) {
          slot& other = sup.m_slots[k];
          if (&other != &s && (other.restarted_now || other.launched)) stop_child(sup, other, now, nullptr);
          other.launched = false;
        }
        fail_supervisor(sup, started.error(), now);
        return false;
      }
      if (pass == 0) continue;
      {
        platform::lock_guard lock(m_state);
        ++s.restarts;
      }
      s.restarted_now = true;  // a slot flag: rollback covers any capacity
      emit(tree_event_kind::child_restarted, sup, &s);
    }
  }
  return true;
}

void tree_base::fail_supervisor(supervisor_base& sup, const error& why, time_point now) noexcept {
  stop_supervisor(sup, now, nullptr);
  {
    platform::lock_guard lock(m_state);
    sup.m_failed = true;
  }
  emit(tree_event_kind::escalated, sup, nullptr, why);
  if (&sup == &m_root) {
    {
      platform::lock_guard lock(m_state);
      m_failure = why;
    }
    emit(tree_event_kind::tree_failed, sup, nullptr, why);  // event before state (see emit())
    publish_state(tree_state::failed);
    return;
  }
  exit_report as_child{};
  as_child.reason = exit_reason::error;
  as_child.err = why;
  handle_exit(*sup.m_parent, *sup.m_parent_slot, as_child, now);
}

void tree_base::auto_shutdown_check(supervisor_base& sup, time_point now) noexcept {
  const auto mode = sup.m_config.shutdown_on;
  if (mode == auto_shutdown::off) return;
  if (mode == auto_shutdown::all_significant) {
    for (std::size_t i = 0; i < sup.m_count; ++i) {
      const slot& s = sup.m_slots[i];
      if (s.in_use && s.spec.significant && s.active) return;
    }
  }
  emit(tree_event_kind::auto_shutdown, sup, nullptr);
  stop_supervisor(sup, now, nullptr);
  if (&sup == &m_root) {
    publish_state(tree_state::stopped);
    return;
  }
  exit_report as_child{};
  as_child.reason = exit_reason::returned;  // a normal exit of the supervisor
  handle_exit(*sup.m_parent, *sup.m_parent_slot, as_child, now);
}

time_point tree_base::next_due_locked(const supervisor_base& sup) const noexcept {
  time_point due = never;
  if (!sup.m_running) return due;
  for (std::size_t i = 0; i < sup.m_count; ++i) {
    const slot& s = sup.m_slots[i];
    if (!s.in_use) continue;
    if (s.spec.supervisor != nullptr) {
      const auto inner = next_due_locked(*s.spec.supervisor);
      if (inner < due) due = inner;
    } else {
      if (s.restart_pending && !sup.m_paused && s.restart_due < due) due = s.restart_due;
      if (s.spec.liveness > duration::zero() && s.active && !s.quarantined) {
        const bool killing =
            s.generation != 0 && s.liveness_kill.load(std::memory_order_relaxed) == s.generation;
        const time_point check = killing ? s.liveness_kill_deadline : s.liveness.due();
        if (check < due) due = check;
      }
    }
  }
  return due;
}

// ---------------------------------------------------------------- pause and resume

// Marks `sup` and everything below it paused (restarts wait) and posts a pause request to every
// active worker, so that they all park in parallel. Under m_op.
void tree_base::request_pause_walk(supervisor_base& sup) noexcept {
  {
    platform::lock_guard lock(m_state);
    sup.m_paused = true;
  }
  for (std::size_t i = 0; i < sup.m_count; ++i) {
    slot& s = sup.m_slots[i];
    if (!s.in_use || !s.active) continue;
    if (s.spec.supervisor != nullptr) {
      request_pause_walk(*s.spec.supervisor);
    } else {
      // A request only (timeout is its usual answer). Again if it could not read the clock and
      // so posted nothing; if that persists, the wait below reports the worker as not parked.
      for (int attempt = 0; attempt < 8; ++attempt) {
        const auto posted = s.spec.worker_slot->pause(duration::zero());
        if (posted || posted.error() != errc::platform_error) break;
      }
    }
  }
}

// Waits for every active worker below `sup` to acknowledge its pause. Runs WITHOUT m_op, so a
// stop or resume is never held up (INV-12); slot fields are read under m_state, and the tree's
// shape (specs, nesting) cannot change while it runs.
void tree_base::wait_paused_walk(supervisor_base& sup, time_point deadline, pause_report& report) noexcept {
  for (std::size_t i = 0; i < sup.m_count; ++i) {
    slot& s = sup.m_slots[i];
    bool live = false;
    {
      platform::lock_guard lock(m_state);
      live = s.in_use && s.active;
    }
    if (!live) continue;
    if (s.spec.supervisor != nullptr) {
      wait_paused_walk(*s.spec.supervisor, deadline, report);
      continue;
    }
    const auto now = now_or_last();
    const duration left = deadline > now ? deadline - now : duration::zero();
    auto paused = s.spec.worker_slot->wait_paused(left);
    for (int attempt = 0; attempt < 8 && !paused && paused.error() == errc::platform_error; ++attempt) {
      paused = s.spec.worker_slot->wait_paused(left);  // a failed clock read: transient
    }
    if (paused) {
      platform::lock_guard lock(m_state);
      s.state_since = now_or_last();
    } else if (paused.error() == errc::timeout || paused.error() == errc::platform_error) {
      // Not parked, or not known to be: never counted as parked (a platform error used to fall
      // through here, and the pause answered ok with this worker running; found by the simulation).
      if (report.count < pause_report::k_listed) report.not_parked[report.count] = s.spec.id;
      ++report.count;
    }
    // cancelled / stopping / exited / not_running: a resume or stop went ahead, or the worker is
    // leaving by itself (the runner handles that exit after resume); the caller checks the round.
  }
}

result<void> tree_base::pause(duration timeout, pause_report* report) noexcept {
  return pause(m_root, timeout, report);
}

result<void> tree_base::pause(supervisor_base& sub, duration timeout, pause_report* report) noexcept {
  if (!contains(sub)) return fail(errc::invalid_handle, sub.name());
  if (called_from_tree()) return fail(errc::would_deadlock, sub.name());
  const auto start = platform::monotonic_now();
  if (!start) return fail(start.error());
  pause_report local{};
  pause_report& out = report != nullptr ? *report : local;
  out = pause_report{};
  std::uint32_t round = 0;
  std::uint32_t run = 0;
  {
    op_guard op(m_op, this);
    if (state() != tree_state::running || !sub.m_running) return fail(errc::not_running, sub.name());
    round = m_resume_round;
    run = m_run.load(std::memory_order_relaxed);
    request_pause_walk(sub);  // every worker is asked first, so they park in parallel
  }
  wait_paused_walk(sub, saturating_add(*start, timeout), out);  // without m_op: stop preempts
  op_guard op(m_op, this);
  if (state() != tree_state::running || m_run.load(std::memory_order_relaxed) != run || !sub.m_running) {
    return fail(errc::stopping, sub.name());  // a stop went ahead of this pause
  }
  if (m_resume_round != round || !sub.m_paused) return fail(errc::cancelled, sub.name());  // a resume did
  if (out.count != 0) return fail(errc::timeout, out.not_parked[0], static_cast<std::int32_t>(out.count));
  const duration took = now_or_last() - *start;
  record_pause_ack_walk(sub, took);
  emit(tree_event_kind::subtree_paused, sub, nullptr, {}, took);
  return {};
}

// Remembers how long the pause of `sup` took to acknowledge, for it and every supervisor below
// (snapshot()'s last_pause_ack). Under m_op.
void tree_base::record_pause_ack_walk(supervisor_base& sup, duration took) noexcept {
  {
    platform::lock_guard lock(m_state);
    sup.m_last_pause_ack = took;
  }
  for (std::size_t i = 0; i < sup.m_count; ++i) {
    slot& s = sup.m_slots[i];
    if (s.in_use && s.spec.supervisor != nullptr) record_pause_ack_walk(*s.spec.supervisor, took);
  }
}

void tree_base::resume_walk(supervisor_base& sup) noexcept {
  {
    platform::lock_guard lock(m_state);
    sup.m_paused = false;
  }
  for (std::size_t i = 0; i < sup.m_count; ++i) {
    slot& s = sup.m_slots[i];
    if (!s.in_use) continue;
    if (s.spec.supervisor != nullptr) {
      resume_walk(*s.spec.supervisor);
    } else if (s.active) {
      static_cast<void>(s.spec.worker_slot->resume());  // not_running / stopping: it is leaving
      platform::lock_guard lock(m_state);
      s.state_since = now_or_last();
    }
  }
}

result<void> tree_base::resume() noexcept {
  return resume(m_root);
}

result<void> tree_base::resume(supervisor_base& sub) noexcept {
  if (!contains(sub)) return fail(errc::invalid_handle, sub.name());
  if (called_from_tree()) return fail(errc::would_deadlock, sub.name());
  {
    op_guard op(m_op, this);
    if (state() != tree_state::running) return fail(errc::not_running, sub.name());
    ++m_resume_round;  // a pause() still waiting returns cancelled
    resume_walk(sub);
    emit(tree_event_kind::subtree_resumed, sub, nullptr);
  }
  post_event();  // restarts that fell due while paused
  return {};
}

// ---------------------------------------------------------------- management calls

// The checks every management call makes before it takes the operation lock.
result<void> tree_base::check_management(const supervisor_base& sup, const char* id) const noexcept {
  if (!contains(sup)) return fail(errc::invalid_handle, sup.name());
  if (called_from_tree()) return fail(errc::would_deadlock, id);
  return {};
}

// Under m_op: the named child, unless it is unknown or still hung (quarantined).
result<tree_base::slot*> tree_base::find_managed(supervisor_base& sup, const char* id) noexcept {
  slot* s = find(sup, id);
  if (s == nullptr) return fail(errc::invalid_argument, id);
  if (still_hung(*s)) return fail(errc::stopping, id);
  return s;
}

result<void> tree_base::terminate_child(supervisor_base& sup, const char* id) noexcept {
  STEWARD_TRY(check_management(sup, id));
  op_guard op(m_op, this);
  auto found = find_managed(sup, id);
  if (!found) return fail(found.error());
  slot* s = *found;
  if (!s->active) {
    platform::lock_guard lock(m_state);
    s->restart_pending = false;
    return {};  // idempotent, as in OTP
  }
  if (!stop_child(sup, *s, now_or_last(), nullptr)) return fail(errc::timeout, id);
  return {};
}

result<void> tree_base::restart_child(supervisor_base& sup, const char* id) noexcept {
  STEWARD_TRY(check_management(sup, id));
  op_guard op(m_op, this);
  auto found = find_managed(sup, id);
  if (!found) return fail(found.error());
  slot* s = *found;
  if (s->active) return fail(errc::already_running, id);
  if (state() != tree_state::running || !sup.m_running) return fail(errc::not_running, id);
  // A paused subtree (or one whose pause is being acknowledged) starts nothing: a child started
  // now would run while pause() reports everything parked. Resume first.
  if (sup.m_paused) return fail(errc::already_paused, id);
  return start_child(sup, *s, now_or_last());
}

result<void> tree_base::cycle_child(supervisor_base& sup, const char* id) noexcept {
  STEWARD_TRY(check_management(sup, id));
  op_guard op(m_op, this);  // held from the checks to the start: a pause cannot land between
  auto found = find_managed(sup, id);
  if (!found) return fail(found.error());
  slot* s = *found;
  if (state() != tree_state::running || !sup.m_running) return fail(errc::not_running, id);
  if (sup.m_paused) return fail(errc::already_paused, id);
  // A subtree with a hung worker cannot stop within its deadline: refuse before stopping it.
  if (s->spec.supervisor != nullptr && any_hung_below(*s->spec.supervisor)) return fail(errc::stopping, id);
  if (s->active && !stop_child(sup, *s, now_or_last(), nullptr)) return fail(errc::timeout, id);
  return start_child(sup, *s, now_or_last());
}

result<void> tree_base::delete_child(supervisor_base& sup, const char* id) noexcept {
  STEWARD_TRY(check_management(sup, id));
  op_guard op(m_op, this);
  auto found = find_managed(sup, id);
  if (!found) return fail(found.error());
  slot* s = *found;
  if (s->active) return fail(errc::already_running, id);
  platform::lock_guard lock(m_state);
  s->in_use = false;
  s->restart_pending = false;
  return {};
}

result<child_counts> tree_base::count_children(const supervisor_base& sup) const noexcept {
  if (!contains(sup)) return fail(errc::invalid_handle, sup.name());
  platform::lock_guard lock(m_state);
  child_counts c;
  for (std::size_t i = 0; i < sup.m_count; ++i) {
    const slot& s = sup.m_slots[i];
    if (!s.in_use) continue;
    ++c.specs;
    if (s.active) ++c.active;
    if (s.spec.supervisor != nullptr) {
      ++c.supervisors;
    } else {
      ++c.workers;
    }
  }
  return c;
}

// ---------------------------------------------------------------- snapshot

std::size_t tree_base::snapshot_walk(const supervisor_base& sup, const char* prefix, child_snapshot* out,
                                     std::size_t capacity, std::size_t at, time_point now) const noexcept {
  for (std::size_t i = 0; i < sup.m_count; ++i) {
    const slot& s = sup.m_slots[i];
    if (!s.in_use) continue;
    if (out != nullptr && at < capacity) {
      child_snapshot& c = out[at];
      c = child_snapshot{};
      const int written = std::snprintf(c.path, sizeof c.path, "%s/%s", prefix, s.spec.id);
      c.path_cut = written < 0 || static_cast<std::size_t>(written) >= sizeof c.path;
      c.restarts = s.restarts;
      c.last_reason = s.last_reason;
      c.last_error = s.last_error;
      c.has_exited = s.has_exited;
      c.quarantined = s.quarantined;
      c.restart_pending = s.restart_pending;
      c.unresponsive = s.unresponsive;
      c.time_in_state = now - s.state_since;
      c.last_pause_ack = sup.m_last_pause_ack;
      if (s.spec.supervisor != nullptr) {
        const auto& child = *s.spec.supervisor;
        c.kind = child_kind::supervisor;
        c.last_pause_ack = child.m_last_pause_ack;
        c.state = child.m_failed     ? worker_state::failed
                  : !child.m_running ? worker_state::stopped
                  : child.m_paused   ? worker_state::paused
                                     : worker_state::running;
      } else {
        c.kind = child_kind::worker;
        c.state = s.spec.worker_slot->state();
        c.generation = s.generation;
        c.time_parked = s.spec.worker_slot->time_parked();
        if (s.spec.pool != nullptr) {
          c.has_pool = true;
          c.pool = s.spec.pool->counters();
        }
      }
    }
    ++at;
    if (s.spec.supervisor != nullptr) {
      char path[64];
      static_cast<void>(std::snprintf(path, sizeof path, "%s/%s", prefix, s.spec.id));
      at = snapshot_walk(*s.spec.supervisor, path, out, capacity, at, now);
    }
  }
  return at;
}

result<std::size_t> tree_base::snapshot(child_snapshot* out, std::size_t capacity) const noexcept {
  const auto now = now_or_last();
  platform::lock_guard lock(m_state);
  const std::size_t needed = snapshot_walk(m_root, m_root.name(), nullptr, 0, 0, now);
  if (needed > capacity)
    return fail(errc::capacity_exceeded, m_root.name(), static_cast<std::int32_t>(needed));
  return snapshot_walk(m_root, m_root.name(), out, capacity, 0, now);
}

}  // namespace steward

// NOTE-2: the fast path's consistency. The worker holds its own controller lock from before the
// decision until its generation has advanced, and the tree holds m_op (taken with try_lock, so it
// never waits) over the same span. Every tree operation holds m_op, and every worker control call
// takes the worker's lock, so none can see the slot or the worker half way. Workers in a tree are
// controlled through the tree.
// NOTE-4: the sequential stop's hand-off chain. OTP's order is strict: a child is asked to stop
// only after the one started after it has finished. Asked by the stopper, that costs two
// wake-ups per child on the critical path (stopper -> child -> stopper). Instead each armed
// child's exit hook - on its own thread, after its cleanup, and only for the incarnation whose
// stop was sent (stop_sent), so only once every newer sibling is done - asks the next one; the
// stopper only waits, child by child, each with its own shutdown deadline measured from when the
// stopper starts waiting for it (never shorter than from the hook's request). The stopper's own
// stop() of each child still posts the request if the chain did not (a child that hung, a
// sibling that is a supervisor, a child that exited before it was armed): the chain only makes
// the request earlier. The link is taken by exchange (one of hook and stopper acts), names the
// sibling's incarnation (a late hook meets stale_handle), and every link is cleared before the
// stop returns. Stop callbacks of a sibling asked by the chain run on the asking child's thread.
// NOTE-5: the liveness watchdog. No thread of its own: the runner samples each watched worker
// (a few relaxed loads, worker::liveness()) whenever it runs and sleeps no longer than the
// earliest end of a period (next_due_locked). `fail` only posts a stop: the runner goes on
// watching the others; the exit returns as an event and is reported as a failure (error
// unresponsive) - also when it comes after the deadline quarantined the child, which then
// leaves quarantine and is restarted under its policy. Progress is a changed beat count (heartbeat() or a
// wait entered), a new incarnation, or a state in which the body runs no code of its own
// (paused, blocked in a steward wait, starting, stopping, ended). So a silence is reported
// between one and two periods after the last progress the runner saw, once per silence; an
// unresponsive worker costs no further wake-ups until it shows progress again.
// NOTE-1: why two locks. A tree operation waits for children (a stop up to its deadline, a
// pause acknowledgement); if snapshot() and the exit path shared that lock, a worker whose
// cleanup asks for a snapshot would wait for the very thread that is stopping it (bug class 17).
