// steward pool: task slots, the run loop of a pool thread, and the pool-wide controls.
// Ownership of a slot moves with its index: the free list hands it to one submitter, the run
// queue to one pool thread, and that thread (never a canceller) puts it back on the free list
// once the task has its outcome. The outcome itself is decided by one CAS on the slot's word,
// which is what makes "exactly one outcome per task" hold under any race (NOTE-1).
#include "steward/core/pool.hpp"

#include <cstring>
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#include <exception>
#endif

#include "steward/core/contract.hpp"
#include "steward/platform/clock.hpp"
#include "steward/platform/park.hpp"

namespace steward {

namespace {

constexpr const char* k_module = "pool";
constexpr unsigned k_submit_spins = 1000;  // rounds of try + cpu_relax before a full-queue submit parks
using detail::task_slot;

constexpr std::uint64_t state_bits(task_state s) noexcept {
  return static_cast<std::uint64_t>(s);
}
constexpr task_state state_in(std::uint64_t word) noexcept {
  return static_cast<task_state>(word & task_slot::k_state_mask);
}
constexpr std::uint64_t generation_in(std::uint64_t word) noexcept {
  return word >> task_slot::k_generation_shift;
}
constexpr std::uint64_t make_word(std::uint64_t gen, task_state s) noexcept {
  return (gen << task_slot::k_generation_shift) | state_bits(s);
}
// Generations run from 1 up (0 marks a slot that never held a task, so no handle matches it);
// 56 bits do not wrap in a device's life, so a handle is never taken for a later task.
constexpr std::uint64_t k_last_generation = (std::uint64_t{1} << (64U - task_slot::k_generation_shift)) - 1U;
constexpr std::uint64_t next_generation(std::uint64_t word) noexcept {
  const std::uint64_t gen = generation_in(word);
  return gen == k_last_generation ? 1U : gen + 1U;
}

// A waiter sleeps on the slot's 32-bit outcome_seq: bump it, then wake.
void announce_outcome(task_slot& s) noexcept {
  s.outcome_seq.fetch_add(1, std::memory_order_release);
}

// A tally with one writer: a plain load and store, no locked instruction.
void count_one(std::atomic<std::uint64_t>& tally) noexcept {
  tally.store(tally.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

void push_spinning(mpmc_ring_base& ring, std::uint32_t value) noexcept {
  // Never full by count (the ring holds every index at once); a push can only meet a cell whose
  // consumer was preempted between claiming and releasing it, so waiting for it is short.
  while (!ring.try_push(value)) platform::cpu_relax();
}

void copy_detail(task_slot& s, const char* text) noexcept {
  if (text == nullptr) {  // the common case: an empty text is one store
    s.detail[0].store(0, std::memory_order_release);
    return;
  }
  char buffer[detail::k_detail_words * 8U]{};
  std::strncpy(buffer, text, sizeof buffer - 1);
  for (std::size_t i = 0; i < detail::k_detail_words; ++i) {
    std::uint64_t word = 0;
    std::memcpy(&word, buffer + i * 8U, 8U);
    s.detail[i].store(word, std::memory_order_release);
  }
}

}  // namespace

const char* to_string(task_state s) noexcept {
  switch (s) {
    case task_state::queued:
      return "queued";
    case task_state::running:
      return "running";
    case task_state::completed:
      return "completed";
    case task_state::failed:
      return "failed";
    case task_state::cancelled:
      return "cancelled";
    case task_state::stopped:
      return "stopped";
  }
  return "unknown";
}

// ---------------------------------------------------------------- task handle

result<task_report> task_handle::wait(duration timeout) const noexcept {
  if (m_pool == nullptr) return fail(errc::invalid_handle);
  return m_pool->wait_task(m_index, m_generation, timeout);
}

result<task_state> task_handle::state() const noexcept {
  if (m_pool == nullptr) return fail(errc::invalid_handle);
  return m_pool->state_of_task(m_index, m_generation);
}

result<task_state> task_handle::cancel() const noexcept {
  if (m_pool == nullptr) return fail(errc::invalid_handle);
  return m_pool->cancel_task(m_index, m_generation);
}

// ---------------------------------------------------------------- task context

result<void> task_context::sleep_until(time_point deadline) noexcept {
  auto waited = m_ctx.wait_until(
      m_thread.cancel_note, [this] { return cancel_requested(); }, deadline);
  if (waited) return fail(errc::stop_requested, m_name);  // woken by a cancel
  if (waited.error() == errc::timeout) return {};
  return waited;
}

result<void> task_context::sleep_for(duration d) noexcept {
  auto deadline = platform::deadline_after(d);
  if (!deadline) return fail(deadline.error());
  return sleep_until(*deadline);
}

result<platform::io_events> task_context::wait_fd(wait_source source, time_point deadline) noexcept {
  auto cancelled = [this] { return cancel_requested(); };
  const wait_source sources[2] = {source, wait_source::notified(m_thread.cancel_note, cancelled)};
  auto waited = m_ctx.wait_any(sources, deadline);
  if (!waited) return fail(waited.error());
  if (waited->index == 1) return fail(errc::stop_requested, m_name);
  return waited->events;
}

result<platform::io_events> task_context::wait_readable(int fd, time_point deadline) noexcept {
  return wait_fd(wait_source::readable(fd), deadline);
}
result<platform::io_events> task_context::wait_writable(int fd, time_point deadline) noexcept {
  return wait_fd(wait_source::writable(fd), deadline);
}
result<platform::io_events> task_context::wait_readable(int fd, duration timeout) noexcept {
  auto deadline = platform::deadline_after(timeout);
  if (!deadline) return fail(deadline.error());
  return wait_readable(fd, *deadline);
}
result<platform::io_events> task_context::wait_writable(int fd, duration timeout) noexcept {
  auto deadline = platform::deadline_after(timeout);
  if (!deadline) return fail(deadline.error());
  return wait_writable(fd, *deadline);
}

// ---------------------------------------------------------------- construction

pool_base::pool_base(const storage& s) noexcept
    : m_storage(s), m_capacity(s.capacity), m_thread_count(s.thread_count) {}

void pool_base::init(const char* name) noexcept {
  for (std::size_t t = 0; t < m_thread_count; ++t) {
    worker_config cfg;
    cfg.name = name;
    cfg.body = thread_body(t);
    const auto configured = m_storage.workers[t]->configure(cfg);
    STEWARD_REQUIRE(k_module, 100, configured.has_value());  // fresh workers accept any config
  }
  for (std::uint32_t i = 0; i < m_capacity; ++i) push_spinning(*m_storage.free_slots, i);
}

void pool_base::close_for_destruction() noexcept {
  static_cast<void>(shutdown(shutdown_mode::cancel, std::chrono::seconds(5)));
}

worker& pool_base::thread_worker(std::size_t i) const noexcept {
  STEWARD_REQUIRE(k_module, 110, i < m_thread_count);
  return *m_storage.workers[i];
}

worker_body pool_base::thread_body(std::size_t i) noexcept {
  STEWARD_REQUIRE(k_module, 120, i < m_thread_count);
  return {[self = this, i](worker_context& ctx) { return self->thread_main(ctx, i); }};
}

bool pool_base::from_pool_thread() const noexcept {
  for (std::size_t t = 0; t < m_thread_count; ++t) {
    if (m_storage.workers[t]->is_current_thread()) return true;
  }
  return false;
}

const char* pool_base::offender_of(std::size_t t) const noexcept {
  const std::uint32_t slot = m_storage.threads[t].current.load(std::memory_order_acquire);
  if (slot != detail::k_no_task) return m_storage.slots[slot].name.load(std::memory_order_relaxed);
  return m_storage.workers[t]->name();
}

// ---------------------------------------------------------------- submit

result<std::uint32_t> pool_base::acquire_slot(const submit_options& opts) noexcept {
  // A closed pool answers at once, without counting in: refused submits hammering a closed
  // pool would otherwise keep the count above zero and hold up a drain (a break-it review saw
  // a drain of an idle pool overrun its deadline, its threads reported hung).
  if ((m_gate.load(std::memory_order_acquire) & k_phase_mask) != 0) return fail(errc::stopping, opts.name);
  // One RMW checks the phase and counts this submit in (NOTE-3).
  if ((m_gate.fetch_add(k_one_submit, std::memory_order_seq_cst) & k_phase_mask) != 0) {
    end_submit();
    return fail(errc::stopping, opts.name);
  }
  auto slot = take_free_slot(opts);
  if (!slot) end_submit();
  return slot;
}

bool pool_base::take_slot_being_freed(std::uint32_t& slot) const noexcept {
  // A slot whose outcome may already be seen is on its way back (a few instructions, unless that
  // thread is preempted): wait for it, spinning first, then in short timed sleeps (no wake-up is
  // owed, so the freeing thread's fast path stays free of system calls).
  for (std::size_t t = 0; t < m_thread_count; ++t) {
    std::atomic<std::uint32_t>& freeing = m_storage.threads[t].freeing;
    for (unsigned spin = 0; freeing.load(std::memory_order_acquire) != 0; ++spin) {
      if (m_storage.free_slots->try_pop(slot)) return true;
      if (spin < k_submit_spins) {
        platform::cpu_relax();
        continue;
      }
      auto soon = platform::deadline_after(std::chrono::microseconds(50));
      if (!soon) break;
      static_cast<void>(platform::park_wait(freeing, 1, *soon));
    }
  }
  return m_storage.free_slots->try_pop(slot);
}

result<std::uint32_t> pool_base::take_free_slot(const submit_options& opts) noexcept {
  std::uint32_t slot = 0;
  if (m_storage.free_slots->try_pop(slot)) return slot;
  if (take_slot_being_freed(slot)) return slot;
  if (opts.block_for <= duration::zero()) return fail(errc::queue_full, opts.name);
  auto deadline = platform::deadline_after(opts.block_for);
  if (!deadline) return fail(deadline.error());
  // A slot taken after a wait is handed back if the pool closed meanwhile: a submit that had to
  // wait answers stopping rather than queue into a closing pool.
  auto closed = [this] { return current_phase() != phase::open; };
  auto taken_open = [&]() -> result<std::uint32_t> {
    if (!closed()) return slot;
    free_slot(slot);
    return fail(errc::stopping, opts.name);
  };
  for (;;) {
    // Spin first, unannounced: under a steady stream a slot frees every few hundred
    // nanoseconds, and an announced waiter would cost the freeing thread a futex wake per task.
    for (unsigned i = 0; i < k_submit_spins; ++i) {
      if (m_storage.free_slots->try_pop(slot)) return taken_open();
      if (closed()) return fail(errc::stopping, opts.name);
      platform::cpu_relax();
    }
    // Dekker pairing with free_slot(): announce, read the epoch, look; it frees, bumps, reads.
    m_free_waiters.fetch_add(1, std::memory_order_seq_cst);
    const std::uint32_t seen = m_free_epoch.load(std::memory_order_seq_cst);
    const bool taken = m_storage.free_slots->try_pop(slot);
    const bool was_closed = (m_gate.load(std::memory_order_seq_cst) & k_phase_mask) != 0;
    platform::park_status waited = platform::park_status::woken;
    if (!taken && !was_closed) waited = platform::park_wait(m_free_epoch, seen, *deadline);
    m_free_waiters.fetch_sub(1, std::memory_order_relaxed);
    if (taken) return taken_open();
    if (was_closed) return fail(errc::stopping, opts.name);
    if (waited == platform::park_status::timed_out) {
      if (m_storage.free_slots->try_pop(slot)) return taken_open();
      return fail(errc::queue_full, opts.name);
    }
  }
}

std::uint32_t pool_base::end_submit() noexcept {
  const std::uint32_t before = m_gate.fetch_sub(k_one_submit, std::memory_order_seq_cst);
  // The last submit out of a closed pool: pool threads waiting to return, and shutdown().
  if ((before & k_phase_mask) != 0 && before < 2 * k_one_submit) {
    m_work.notify_all();
    platform::park_wake_all(m_gate);
  }
  return before;
}

bool pool_base::wait_submits_out(time_point deadline) noexcept {
  for (;;) {
    const std::uint32_t g = m_gate.load(std::memory_order_seq_cst);
    if (g < k_one_submit) return true;
    if (platform::park_wait(m_gate, g, deadline) == platform::park_status::timed_out) {
      return m_gate.load(std::memory_order_seq_cst) < k_one_submit;
    }
  }
}

void pool_base::note_queued() noexcept {
  const std::uint64_t now = m_storage.run_queue->size_approx();
  std::uint64_t high = m_high_water.load(std::memory_order_relaxed);
  while (now > high && !m_high_water.compare_exchange_weak(high, now, std::memory_order_relaxed)) {
  }
}

task_handle pool_base::publish(std::uint32_t slot, const char* name) noexcept {
  task_slot& s = m_storage.slots[slot];
  const std::uint64_t gen = next_generation(s.word.load(std::memory_order_relaxed));
  s.name.store(name, std::memory_order_release);        // read as a detail of a cancelled task
  m_submitted.fetch_add(1, std::memory_order_relaxed);  // before the task can be taken or counted
  // release pairs with the pool thread's acquire in run_one(): the callable is stored
  s.word.store(make_word(gen, task_state::queued), std::memory_order_release);
  push_spinning(*m_storage.run_queue, slot);
  note_queued();
  m_work.notify_one();  // one atomic load when no thread is idle
  // After the push: a draining thread that sees no submit in flight sees the task.
  const std::uint32_t before = end_submit();
  // A submit preempted past its check may queue after a cancel swept the queue, or after the
  // last thread left: then it cancels what is queued itself, so nothing stays queued for good.
  // seq_cst both sides: either shutdown() saw this submit still in flight (and left the sweep
  // to it), or its own sweep comes after this push.
  if (static_cast<phase>(before & k_phase_mask) == phase::cancelling ||
      m_sweep_armed.load(std::memory_order_seq_cst)) {
    cancel_leftovers();
  }
  return task_handle{this, slot, gen};
}

void pool_base::free_slot(std::uint32_t slot) noexcept {
  push_spinning(*m_storage.free_slots, slot);
  // Dekker pairing with acquire_slot(): an RMW (not a plain load) so it is ordered after the
  // push for a waiter that announced itself; only then the epoch's line is written.
  if (m_free_waiters.fetch_add(0, std::memory_order_seq_cst) != 0) {
    m_free_epoch.fetch_add(1, std::memory_order_seq_cst);
    platform::park_wake_all(m_free_epoch);
  }
}

// ---------------------------------------------------------------- pool threads

result<void> pool_base::thread_main(worker_context& ctx, std::size_t t) noexcept {
  mpmc_ring_base& queue = *m_storage.run_queue;
  for (;;) {
    STEWARD_TRY(ctx.checkpoint());  // between tasks: a pause parks here, a stop ends the thread
    std::uint32_t slot = detail::k_no_task;
    if (!queue.try_pop(slot)) {
      bool taken = false;
      // The predicate runs only while no pause is pending (worker::wait_loop), so a parked
      // thread never takes a task.
      if (!drained()) {
        STEWARD_TRY(ctx.wait_until(
            m_work,
            [&] {
              taken = queue.try_pop(slot);
              return taken || drained();
            },
            never));
      }
      if (!taken) {
        // Closed with no submit in flight: the last submit's push happened before it counted
        // itself out, so one more look sees it (NOTE-3); an empty queue now stays empty.
        if (!queue.try_pop(slot)) return {};
      } else if (queue.size_approx() != 0) {
        // notify_one() may have landed on this thread again before it detached (it was woken
        // and still attached); so a thread leaving the wait with work left passes the wake on.
        m_work.notify_one();
      }
    }
    run_one(ctx, t, slot);
  }
}

void pool_base::run_one(worker_context& ctx, std::size_t t, std::uint32_t slot) noexcept {
  task_slot& s = m_storage.slots[slot];
  std::uint64_t word = s.word.load(std::memory_order_acquire);
  for (;;) {
    if (state_in(word) != task_state::queued) {  // cancelled while queued: it never runs
      free_slot(slot);
      return;
    }
    s.thread.store(static_cast<std::uint32_t>(t), std::memory_order_relaxed);  // published by the CAS
    const std::uint64_t running = (word & ~task_slot::k_state_mask) | state_bits(task_state::running);
    if (s.word.compare_exchange_weak(word, running, std::memory_order_acq_rel, std::memory_order_acquire))
      break;
  }
  detail::pool_thread& thread = m_storage.threads[t];
  count_one(thread.started);
  thread.current.store(slot, std::memory_order_release);
  thread.cleanup.reset(++thread.epoch);
  const std::uint64_t gen = generation_in(word);
  const char* name = s.name.load(std::memory_order_relaxed);
  task_context task(ctx, s, thread, gen, name);

  result<void> outcome;
  const char* detail = nullptr;
#if STEWARD_USING_EXCEPTIONS
  char what[config::exit_detail_bytes]{};
  try {
    outcome = m_storage.invoke(*this, slot, task);
  } catch (const std::exception& e) {  // the task's failure, not its thread's
    std::strncpy(what, e.what(), sizeof what - 1);
    detail = what;
    outcome = fail(errc::exception, name);
  } catch (...) {
    detail = "unknown exception";
    outcome = fail(errc::exception, name);
  }
#else
  outcome = m_storage.invoke(*this, slot, task);
#endif
  const cleanup_summary cleanup = thread.cleanup.unwind();  // the task's scope, exactly once
  thread.current.store(detail::k_no_task, std::memory_order_release);

  // The outcome is decided here, in one CAS against cancel(): a cancel that landed before it makes
  // the task stopped (cancel() answered running); one after it answers exited (NOTE-1).
  std::uint64_t at_return = s.word.load(std::memory_order_acquire);
  while (!s.word.compare_exchange_weak(at_return, at_return | task_slot::k_returned_flag,
                                       std::memory_order_acq_rel, std::memory_order_acquire)) {
  }
  const bool stop_asked = (at_return & task_slot::k_cancel_flag) != 0 || ctx.should_stop();
  const bool ended_cleanly = outcome || (stop_asked && outcome.error() == errc::stop_requested);
  task_state final_state = stop_asked ? task_state::stopped : task_state::completed;
  error err = stop_asked ? error{errc::stop_requested, 0, name} : error{};
  if (!ended_cleanly) {
    final_state = task_state::failed;
    err = outcome.error();
  } else if (cleanup.failed != 0) {
    final_state = task_state::failed;
    err = error{errc::cleanup_failed, cleanup.failed, name};
  }
  // From before the outcome is visible until the slot is free again (take_free_slot()): a caller
  // that saw the outcome without sleeping (wait() found it at once) must find the slot free.
  thread.freeing.store(1, std::memory_order_release);
  const bool waited_for = finish(thread, s, gen, final_state, err, cleanup, detail);
  // Free first, then wake: a waiter woken by the outcome finds the slot free for its next submit.
  free_slot(slot);
  thread.freeing.store(0, std::memory_order_release);
  if (waited_for) platform::park_wake_all(s.outcome_seq);
}

bool pool_base::finish(detail::pool_thread& thread, task_slot& s, std::uint64_t gen, task_state outcome,
                       const error& err, cleanup_summary cleanup, const char* detail) noexcept {
  // Details first (release stores, read as a seqlock by wait_task), then the counters, then
  // the word: whoever sees the outcome sees both.
  s.code.store(static_cast<std::uint8_t>(err.code), std::memory_order_release);
  s.value.store(err.value, std::memory_order_release);
  s.subject.store(err.subject, std::memory_order_release);
  s.released.store(cleanup.released, std::memory_order_release);
  s.failed_releases.store(cleanup.failed, std::memory_order_release);
  copy_detail(s, detail);
  switch (outcome) {
    case task_state::completed:
      count_one(thread.completed);
      break;
    case task_state::stopped:
      count_one(thread.stopped);
      break;
    default:
      count_one(thread.failed);
      break;
  }
  const std::uint64_t before = s.word.exchange(make_word(gen, outcome), std::memory_order_acq_rel);
  if ((before & task_slot::k_waiter_flag) == 0) return false;
  announce_outcome(s);
  return true;
}

// ---------------------------------------------------------------- per-task calls

result<task_state> pool_base::state_of_task(std::uint32_t slot, std::uint64_t gen) const noexcept {
  if (slot >= m_capacity || gen == 0) return fail(errc::invalid_handle);
  const std::uint64_t word = m_storage.slots[slot].word.load(std::memory_order_acquire);
  if (generation_in(word) != gen) return fail(errc::stale_handle);
  return state_in(word);
}

void pool_base::cancelled_queued(task_slot& s, std::uint64_t before) noexcept {
  m_cancelled.fetch_add(1, std::memory_order_relaxed);
  if ((before & task_slot::k_waiter_flag) != 0) {
    announce_outcome(s);
    platform::park_wake_all(s.outcome_seq);
  }
}

bool pool_base::cancel_queued(std::uint32_t slot) noexcept {
  task_slot& s = m_storage.slots[slot];
  std::uint64_t word = s.word.load(std::memory_order_acquire);
  while (state_in(word) == task_state::queued) {
    if (s.word.compare_exchange_weak(word, make_word(generation_in(word), task_state::cancelled),
                                     std::memory_order_acq_rel, std::memory_order_acquire)) {
      cancelled_queued(s, word);
      return true;
    }
  }
  return false;
}

result<task_state> pool_base::cancel_task(std::uint32_t slot, std::uint64_t gen) noexcept {
  if (slot >= m_capacity || gen == 0) return fail(errc::invalid_handle);
  task_slot& s = m_storage.slots[slot];
  std::uint64_t word = s.word.load(std::memory_order_acquire);
  for (;;) {
    if (generation_in(word) != gen) return fail(errc::stale_handle);
    switch (state_in(word)) {
      case task_state::queued:
        if (s.word.compare_exchange_weak(word, make_word(gen, task_state::cancelled),
                                         std::memory_order_acq_rel, std::memory_order_acquire)) {
          cancelled_queued(s, word);
          return task_state::queued;
        }
        continue;
      case task_state::running: {
        // Returned: its outcome was decided without this cancel, which therefore changes nothing.
        if ((word & task_slot::k_returned_flag) != 0)
          return fail(errc::exited, s.name.load(std::memory_order_relaxed));
        if ((word & task_slot::k_cancel_flag) != 0) return task_state::running;  // asked already
        if (!s.word.compare_exchange_weak(word, word | task_slot::k_cancel_flag, std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
          continue;
        }
        // The thread was stored before `running` was published. If the task has ended since,
        // this wakes a later task's wait once; it re-evaluates and goes on waiting.
        const std::uint32_t t = s.thread.load(std::memory_order_relaxed);
        m_storage.workers[t]->poke_async();
        return task_state::running;
      }
      default:
        return fail(errc::exited, s.name.load(std::memory_order_relaxed));
    }
  }
}

result<task_report> pool_base::wait_task(std::uint32_t slot, std::uint64_t gen,
                                         duration timeout) const noexcept {
  if (slot >= m_capacity || gen == 0) return fail(errc::invalid_handle);
  task_slot& s = m_storage.slots[slot];
  time_point deadline = never;
  bool have_deadline = false;
  bool timed_out = false;
  for (;;) {
    std::uint64_t word = s.word.load(std::memory_order_acquire);
    if (generation_in(word) != gen) return fail(errc::stale_handle);
    const task_state st = state_in(word);
    if (is_outcome(st)) {
      task_report report;
      report.outcome = st;
      if (st == task_state::cancelled) {
        report.err = error{errc::cancelled, 0, s.name.load(std::memory_order_acquire)};
      } else {
        report.err =
            error{static_cast<errc>(s.code.load(std::memory_order_acquire)),
                  s.value.load(std::memory_order_acquire), s.subject.load(std::memory_order_acquire)};
        report.cleanup.released = s.released.load(std::memory_order_acquire);
        report.cleanup.failed = s.failed_releases.load(std::memory_order_acquire);
        char buffer[detail::k_detail_words * 8U];
        for (std::size_t i = 0; i < detail::k_detail_words; ++i) {
          const std::uint64_t w = s.detail[i].load(std::memory_order_acquire);
          std::memcpy(buffer + i * 8U, &w, 8U);
        }
        std::memcpy(report.detail, buffer, sizeof report.detail);
        report.detail[sizeof report.detail - 1] = '\0';
      }
      // Seqlock check: a detail written by a later task was read with acquire, so that task's
      // generation (stored before it) is seen here.
      if (generation_in(s.word.load(std::memory_order_acquire)) != gen) return fail(errc::stale_handle);
      return report;
    }
    if (timed_out) return fail(errc::timeout, s.name.load(std::memory_order_relaxed));
    if ((word & task_slot::k_waiter_flag) == 0) {
      if (!s.word.compare_exchange_weak(word, word | task_slot::k_waiter_flag, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
        continue;
      }
    }
    // The flag is set before this read, so whoever publishes the outcome bumps outcome_seq after
    // it: either this read sees the bump (and the next look the outcome) or the park is woken.
    const std::uint32_t seen = s.outcome_seq.load(std::memory_order_acquire);
    const std::uint64_t now = s.word.load(std::memory_order_acquire);
    if (generation_in(now) != gen || is_outcome(state_in(now))) continue;
    if (!have_deadline) {
      auto d = platform::deadline_after(timeout);
      if (!d) return fail(d.error());
      deadline = *d;
      have_deadline = true;
    }
    timed_out = platform::park_wait(s.outcome_seq, seen, deadline) == platform::park_status::timed_out;
  }
}

// ---------------------------------------------------------------- pool-wide controls

result<void> pool_base::start(duration timeout) noexcept {
  if (current_phase() != phase::open) return fail(errc::stopping, "pool");
  auto deadline = platform::deadline_after(timeout);
  if (!deadline) return fail(deadline.error());
  auto undo = [this](std::size_t started_threads) {
    for (std::size_t u = 0; u < started_threads; ++u) {
      static_cast<void>(m_storage.workers[u]->stop(std::chrono::seconds(5)));
    }
  };
  for (std::size_t t = 0; t < m_thread_count; ++t) {
    auto started = m_storage.workers[t]->start();
    if (!started) {
      undo(t);
      return fail(started.error());
    }
  }
  // Every thread at its first safe point: a pause() right after start() is then acknowledged by
  // threads waiting for work, not held up by threads the OS has not scheduled yet.
  for (std::size_t t = 0; t < m_thread_count; ++t) {
    auto now = platform::monotonic_now();
    if (!now) return fail(now.error());
    const duration left = *deadline > *now ? *deadline - *now : duration::zero();
    auto ready = m_storage.workers[t]->wait_initialised(left);
    if (!ready) {
      undo(m_thread_count);
      return fail(ready.error());
    }
  }
  return {};
}

result<void> pool_base::pause(duration timeout) noexcept {
  if (from_pool_thread()) return fail(errc::would_deadlock, "pool");
  if (current_phase() != phase::open) return fail(errc::stopping, "pool");
  auto deadline = platform::deadline_after(timeout);
  if (!deadline) return fail(deadline.error());
  // Ask every thread first, then wait: the threads park in parallel. Posting is one step for
  // resume(): it withdraws all of these requests or none.
  {
    platform::lock_guard lock(m_control);
    for (std::size_t t = 0; t < m_thread_count; ++t) {
      for (int attempt = 0; attempt < 8; ++attempt) {  // a failed clock read posted nothing
        const auto posted = m_storage.workers[t]->pause(duration::zero());
        if (posted || posted.error() != errc::platform_error) break;
      }
    }
    // A shutdown() that began meanwhile may have resumed the threads before these requests
    // landed (each worker's mutex orders the two, and shutdown() closes the gate before it
    // resumes), so a drain would wait on parked threads: withdraw them. The threads answer to
    // shutdown() now.
    if (current_phase() != phase::open) {
      for (std::size_t t = 0; t < m_thread_count; ++t) static_cast<void>(m_storage.workers[t]->resume());
      return fail(errc::stopping, "pool");
    }
  }
  if (timeout <= duration::zero()) return {};
  for (std::size_t t = 0; t < m_thread_count; ++t) {
    auto now = platform::monotonic_now();
    if (!now) return fail(now.error());
    const duration left = *deadline > *now ? *deadline - *now : duration::zero();
    auto parked = m_storage.workers[t]->wait_paused(left);
    if (parked) continue;
    switch (parked.error().code) {
      case errc::not_running:  // a thread not running starts no task
      case errc::exited:
      case errc::already_paused:
        continue;
      case errc::timeout: {
        const std::uint32_t slot = m_storage.threads[t].current.load(std::memory_order_acquire);
        return fail(errc::timeout, offender_of(t),
                    slot == detail::k_no_task ? -1 : static_cast<std::int32_t>(slot));
      }
      default:  // cancelled: a resume() or a shutdown() withdrew the request
        if (current_phase() != phase::open) return fail(errc::stopping, "pool");
        return fail(parked.error());
    }
  }
  // Every thread parked (possibly for a later pause() after a resume() withdrew ours: the pool
  // is paused either way, which is what this call promises).
  return {};
}

result<void> pool_base::resume() noexcept {
  if (current_phase() != phase::open) return fail(errc::stopping, "pool");
  platform::lock_guard lock(m_control);
  // Every thread, even past a failure: one refusal must not leave the others paused.
  result<void> first{};
  for (std::size_t t = 0; t < m_thread_count; ++t) {
    auto resumed = m_storage.workers[t]->resume();
    if (!resumed && resumed.error() != errc::not_running && resumed.error() != errc::stopping && first) {
      first = fail(resumed.error());
    }
  }
  return first;
}

void pool_base::cancel_leftovers() noexcept {
  std::uint32_t slot = 0;
  while (m_storage.run_queue->try_pop(slot)) {
    static_cast<void>(cancel_queued(slot));
    free_slot(slot);
  }
}

shutdown_report pool_base::report() const noexcept {
  const pool_counters c = counters();
  shutdown_report r;
  r.completed = c.completed;
  r.failed = c.failed;
  r.cancelled = c.cancelled;
  r.stopped = c.stopped;
  return r;
}

result<shutdown_report> pool_base::shutdown(shutdown_mode mode, duration timeout) noexcept {
  if (from_pool_thread()) return fail(errc::would_deadlock, "pool");
  auto deadline = platform::deadline_after(timeout);
  if (!deadline) return fail(deadline.error());
  // open -> draining or cancelling; draining -> cancelling: a cancel escalates a drain that has
  // not finished (its tasks are taking too long), from any thread or from the destructor.
  const auto closing =
      static_cast<std::uint32_t>(mode == shutdown_mode::drain ? phase::draining : phase::cancelling);
  std::uint32_t gate = m_gate.load(std::memory_order_seq_cst);
  while ((gate & k_phase_mask) < closing &&
         !m_gate.compare_exchange_weak(gate, (gate & ~k_phase_mask) | closing, std::memory_order_seq_cst)) {
  }
  const bool cancelling = current_phase() == phase::cancelling;
  // Blocked submitters answer stopping.
  m_free_epoch.fetch_add(1, std::memory_order_seq_cst);
  platform::park_wake_all(m_free_epoch);
  if (cancelling) {
    for (std::uint32_t i = 0; i < m_capacity; ++i) static_cast<void>(cancel_queued(i));
    // A stop also ends a pause and every wait; each thread's running task returns stop_requested.
    for (std::size_t t = 0; t < m_thread_count; ++t) {
      static_cast<void>(m_storage.workers[t]->stop(duration::zero()));
    }
  } else {
    for (std::size_t t = 0; t < m_thread_count; ++t) static_cast<void>(m_storage.workers[t]->resume());
  }
  m_work.notify_all();

  std::uint32_t hung = 0;
  const char* offender = nullptr;
  for (std::size_t t = 0; t < m_thread_count; ++t) {
    auto now = platform::monotonic_now();
    if (!now) return fail(now.error());
    const duration left = *deadline > *now ? *deadline - *now : duration::zero();
    worker& w = *m_storage.workers[t];
    auto ended = cancelling ? w.stop(left) : w.join(left);
    if (!ended && ended.error() == errc::timeout) {
      if (offender == nullptr) offender = offender_of(t);
      ++hung;
    }
  }
  // Submits that got past the gate before it closed queue their tasks before they count out. With
  // no thread left to take them (all returned, or never started) what they queue is cancelled:
  // here if they are out by the deadline, else by each of them after its push (publish()).
  if (hung == 0) m_sweep_armed.store(true, std::memory_order_seq_cst);
  const bool submits_out = wait_submits_out(*deadline);
  if (hung == 0) cancel_leftovers();
  shutdown_report r = report();
  r.hung_threads = hung;
  r.offender = offender;
  if (!submits_out) r.submits_in_flight = m_gate.load(std::memory_order_seq_cst) / k_one_submit;
  return r;
}

pool_counters pool_base::counters() const noexcept {
  pool_counters c;
  // Outcomes first, then what feeds them, so a gauge is never computed from a later outcome
  // than its inputs (each total only grows).
  std::uint64_t started = 0;
  for (std::size_t t = 0; t < m_thread_count; ++t) {
    const detail::pool_thread& th = m_storage.threads[t];
    c.completed += th.completed.load(std::memory_order_acquire);
    c.failed += th.failed.load(std::memory_order_acquire);
    c.stopped += th.stopped.load(std::memory_order_acquire);
  }
  c.cancelled = m_cancelled.load(std::memory_order_acquire);
  for (std::size_t t = 0; t < m_thread_count; ++t) {
    started += m_storage.threads[t].started.load(std::memory_order_acquire);
    c.time_parked += m_storage.workers[t]->time_parked();
  }
  c.submitted = m_submitted.load(std::memory_order_acquire);
  const std::uint64_t ended = c.completed + c.failed + c.stopped;
  c.running = started > ended ? started - ended : 0;
  c.queued = c.submitted > started + c.cancelled ? c.submitted - started - c.cancelled : 0;
  c.queue_high_water = m_high_water.load(std::memory_order_relaxed);
  return c;
}

}  // namespace steward

// NOTE-1 (one outcome per task). A slot's word moves queued -> running -> outcome, or
// queued -> cancelled, only by CAS or by the running thread's final exchange. A canceller and
// the pool thread that popped the index race on the same CAS from `queued`: exactly one wins.
// cancel() of a running task only sets a flag in the word (CAS again, so it cannot land after
// the outcome); the running thread reads it after the callable returned to decide stopped or
// completed. Outcome details are atomics written before the word publishes the outcome and read
// after it, then the generation is checked again: a reader racing the slot's reuse answers
// stale_handle instead of mixing two tasks' details.
// NOTE-2 (counters). The first version kept every figure in shared atomics; with one producer
// and two pool threads the locked increments of shared cache lines cost as much as the rest of
// a task. Each pool thread now counts the tasks it started and ended in its own pool_thread
// (single writer: load + store); submitters and cancellers count submissions and cancellations;
// the gauges are differences, computed when read.
// NOTE-3 (closing against submits). A submit used to read the phase, then take a slot and queue
// the task; a shutdown() landing in between let the task be queued after the threads had
// returned, and it stayed queued for good. Now the phase and the count of submits in flight
// share m_gate: acquire_slot() checks and counts in with one seq_cst RMW, publish() counts out
// after the push. A pool thread returns only after reading "closed, none in flight" and then
// finding the queue empty once more: any submit it did not count had either pushed before
// counting out (so that last look sees the task) or counted in after the close (so it saw the
// close and answered stopping). shutdown() waits for the count to reach zero before sweeping,
// but only until its deadline: a submitter preempted past its check for longer queued its task
// after the sweep, into a pool with no thread left, and the task stayed queued (a break-it
// review's short_cancel). So shutdown() arms m_sweep_armed once no thread is left, and a submit
// that counts out of a cancelling or armed pool sweeps the queue itself; the report says how
// many submits were still out.
