// Simulation port (sim.hpp): the platform interface over a virtual clock and a seeded
// scheduler. Sim threads are real pthreads (each on its caller-owned stack, with its own
// thread-locals), but a baton makes them run one at a time: the holder runs until a platform
// call decides to hand the baton over, or until it blocks. Everything the scheduler decides is
// drawn from the seed and depends only on the order of platform calls, so a seed replays.
//
// The scheduler's state is guarded by one real mutex; it is only ever contended during a
// hand-over. Outside a run (static initialisation, or a thread that is not a sim thread) the
// calls degrade to single-threaded behaviour.
#include "steward/platform/sim.hpp"

#include <pthread.h>

#include <atomic>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "steward/core/contract.hpp"
#include "steward/platform/clock.hpp"
#include "steward/platform/io.hpp"
#include "steward/platform/mutex.hpp"
#include "steward/platform/park.hpp"
#include "steward/platform/rt.hpp"
#include "steward/platform/thread.hpp"

namespace steward::platform {
namespace {

constexpr int k_max_threads = 64;
constexpr int k_max_wakers = 256;
constexpr int k_waker_fd_base = 10000;  // fake descriptors: never real ones
constexpr std::int64_t k_no_deadline = INT64_MAX;
constexpr std::int64_t k_ns_per_decision = 1000;  // virtual CPU time one decision takes
constexpr const char* k_module = "platform.sim";

enum class thread_state : std::uint8_t { free, runnable, blocked, dead };
enum class wait_kind : std::uint8_t { none, park, mutex, join, fd };
enum decision_kind : std::uint8_t {
  k_park = 1,
  k_wake,
  k_lock,
  k_unlock,
  k_try_lock,
  k_clock,
  k_create,
  k_join,
  k_relax,
  k_fd,
  k_signal,
  k_draw,
  k_yield,
};

const char* kind_name(wait_kind k) noexcept {
  switch (k) {
    case wait_kind::park:
      return "park";
    case wait_kind::mutex:
      return "mutex";
    case wait_kind::join:
      return "join";
    case wait_kind::fd:
      return "fd";
    case wait_kind::none:
      break;
  }
  return "-";
}

struct sim_thread {
  thread_state state{thread_state::free};
  wait_kind waiting{wait_kind::none};
  const void* on{nullptr};
  std::int64_t deadline{k_no_deadline};
  bool timed_out{false};
  pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
  pthread_t tid{};
  thread_entry entry{nullptr};
  void* arg{nullptr};
};

struct waker_slot {
  bool used{false};
  bool signalled{false};
};

struct scheduler {
  pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  bool active{false};
  int current{-1};
  sim_thread threads[k_max_threads];
  waker_slot wakers[k_max_wakers];
  std::int64_t now_ns{1'000'000'000};
  std::int64_t start_ns{0};
  std::uint64_t rng{1};
  sim::config cfg{};
  sim::run_result result{};
  bool faults_on{false};
  const char* hint{""};
  std::uint32_t injected_create_failures{0};
  int injected_errno{0};
  std::uint64_t sleeps{0};
  std::uint64_t wakes{0};
  thread_start_hook start_hook{nullptr};
  void* start_hook_user{nullptr};
  struct armed_fault {
    std::uint32_t skip{0};
    std::uint32_t count{0};
    std::uint32_t failed{0};
  };
  armed_fault armed[sim::k_fault_kinds];
  std::size_t script_at{0};
};

// The one scheduler of the process, and which sim thread the calling thread is.
// NOLINTBEGIN(cppcoreguidelines-avoid-non-const-global-variables)
scheduler g;
thread_local int t_me = -1;
// NOLINTEND(cppcoreguidelines-avoid-non-const-global-variables)

class held {
 public:
  held() noexcept { pthread_mutex_lock(&g.lock); }
  ~held() { pthread_mutex_unlock(&g.lock); }
  held(const held&) = delete;
  held& operator=(const held&) = delete;
};

bool in_run() noexcept {
  return g.active && t_me >= 0;
}

std::uint64_t next_random() noexcept {  // xorshift64*
  g.rng ^= g.rng >> 12U;
  g.rng ^= g.rng << 25U;
  g.rng ^= g.rng >> 27U;
  return g.rng * 0x2545F4914F6CDD1DULL;
}

void mix(std::uint64_t v) noexcept {  // FNV-1a, one byte at a time
  for (int i = 0; i < 8; ++i) {
    g.result.trace_hash ^= (v >> (8U * static_cast<unsigned>(i))) & 0xFFU;
    g.result.trace_hash *= 0x100000001B3ULL;
  }
}

// A targeted fault of `kind` (sim::fail_calls), counted like a random one.
bool armed(sim::fault kind) noexcept {
  auto& a = g.armed[static_cast<int>(kind)];
  if (a.count == 0) return false;
  if (a.skip > 0) {
    --a.skip;
    return false;
  }
  --a.count;
  ++a.failed;
  ++g.result.faults;
  mix(0xA4ED00ULL | static_cast<std::uint32_t>(kind));
  return true;
}

bool fault(sim::fault kind) noexcept {
  if (!g.faults_on || g.cfg.fault_permille == 0) return false;
  if ((g.cfg.random_faults & (1U << static_cast<unsigned>(kind))) == 0) return false;
  if (next_random() % 1000U >= g.cfg.fault_permille) return false;
  ++g.result.faults;
  mix(0xFA017);
  return true;
}

void release_timeouts() noexcept {
  for (auto& t : g.threads) {
    if (t.state == thread_state::blocked && t.deadline <= g.now_ns) {
      t.state = thread_state::runnable;
      t.timed_out = true;
      t.on = nullptr;
      t.waiting = wait_kind::none;
    }
  }
}

void print_threads(const char* what) noexcept {
  std::fprintf(stderr, "sim: %s at decision %llu (seed %llu, virtual %lld ns)\n", what,
               static_cast<unsigned long long>(g.result.decisions),
               static_cast<unsigned long long>(g.cfg.seed), static_cast<long long>(g.now_ns - g.start_ns));
  for (int i = 0; i < k_max_threads; ++i) {
    const sim_thread& t = g.threads[i];
    if (t.state == thread_state::free) continue;
    std::fprintf(stderr, "sim:   thread %d: %s, waits on %s%s\n", i,
                 t.state == thread_state::blocked ? "blocked"
                 : t.state == thread_state::dead  ? "dead"
                                                  : "runnable",
                 kind_name(t.waiting), t.deadline == k_no_deadline ? " (no deadline)" : "");
  }
}

[[noreturn]] void report_deadlock(const char* what) noexcept {
  print_threads(what);
  if (g.hint[0] != '\0') std::fprintf(stderr, "sim: replay: %s\n", g.hint);
  std::fflush(stderr);
  std::_Exit(3);
}

// A runnable thread drawn from the seed (-1 for none other than `except`, if given). When none
// can run, the virtual clock jumps to the earliest deadline; with none, the run is deadlocked.
int pick_runnable(int except) noexcept {
  for (int attempt = 0; attempt < 2; ++attempt) {
    int candidates[k_max_threads];
    int n = 0;
    for (int i = 0; i < k_max_threads; ++i) {
      if (g.threads[i].state == thread_state::runnable && i != except) candidates[n++] = i;
    }
    if (n > 0) return candidates[next_random() % static_cast<std::uint64_t>(n)];
    if (except >= 0) return -1;
    std::int64_t earliest = k_no_deadline;
    for (const auto& t : g.threads) {
      if (t.state == thread_state::blocked && t.deadline < earliest) earliest = t.deadline;
    }
    if (earliest == k_no_deadline) break;
    g.now_ns = earliest;
    release_timeouts();
  }
  report_deadlock("deadlock: no thread can run and none waits with a deadline");
}

// Gives the baton to `next` and waits (the lock held) until it comes back.
void hand_to(int next) noexcept {
  const int me = t_me;
  if (next == me) return;
  g.current = next;
  ++g.result.switches;
  pthread_cond_signal(&g.threads[next].cv);
  while (g.current != me) pthread_cond_wait(&g.threads[me].cv, &g.lock);
}

// A decision point of the running thread (the lock held): time passes, then the seed decides
// whether another runnable thread goes first. `force`: hand over whenever another can run.
void decide(std::uint8_t kind, bool force = false) noexcept {
  ++g.result.decisions;
  g.now_ns += k_ns_per_decision;
  release_timeouts();
  mix((static_cast<std::uint64_t>(t_me) << 8U) | kind);
  const bool switching = force || next_random() % 1000U < g.cfg.switch_permille;
  if (!switching) return;
  const int next = force ? pick_runnable(t_me) : pick_runnable(-1);
  if (next < 0) return;
  if (g.cfg.trace)
    std::fprintf(stderr, "sim: d=%llu %d -> %d (kind %u)\n",
                 static_cast<unsigned long long>(g.result.decisions), t_me, next, kind);
  mix(static_cast<std::uint64_t>(next));
  hand_to(next);
}

// Blocks the running thread until woken or (deadline != k_no_deadline) timed out; the lock
// held. Returns: true if it timed out.
bool block(wait_kind kind, const void* on, std::int64_t deadline) noexcept {
  sim_thread& me = g.threads[t_me];
  me.state = thread_state::blocked;
  me.waiting = kind;
  me.on = on;
  me.deadline = deadline;
  me.timed_out = false;
  const int next = pick_runnable(-1);
  mix(0xB10C0000ULL | static_cast<std::uint32_t>(next));
  hand_to(next);
  me.deadline = k_no_deadline;
  return me.timed_out;
}

// Makes up to `n` threads blocked on `on` runnable, lowest index first. Returns: how many.
int wake(const void* on, int n) noexcept {
  int woken = 0;
  for (auto& t : g.threads) {
    if (woken >= n) break;
    if (t.state != thread_state::blocked || t.on != on) continue;
    t.state = thread_state::runnable;
    t.on = nullptr;
    t.waiting = wait_kind::none;
    t.timed_out = false;
    ++woken;
  }
  return woken;
}

std::int64_t deadline_ns(time_point deadline) noexcept {
  return deadline == never ? k_no_deadline : deadline.time_since_epoch().count();
}

int waker_index(int fd) noexcept {
  const int i = fd - k_waker_fd_base;
  return i >= 0 && i < k_max_wakers ? i : -1;
}

}  // namespace

// ---------------------------------------------------------------- sim control

namespace sim {

run_result run(const config& cfg, sim_main main, void* arg) noexcept {
  {
    const held lock;
    STEWARD_REQUIRE(k_module, 1, !g.active && "sim::run is not reentrant");
    for (auto& t : g.threads) t.state = thread_state::free;
    g.cfg = cfg;
    g.result = run_result{};
    g.result.trace_hash = 0xCBF29CE484222325ULL;
    std::uint64_t z = cfg.seed + 0x9E3779B97F4A7C15ULL;  // splitmix64: a seed of 0 works too
    z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
    g.rng = (z ^ (z >> 31U)) | 1U;
    g.start_ns = g.now_ns;
    g.faults_on = false;
    for (auto& a : g.armed) a = scheduler::armed_fault{};
    g.script_at = 0;
    if (cfg.script == nullptr) g.cfg.script_size = 0;
    g.threads[0].state = thread_state::runnable;
    g.threads[0].tid = pthread_self();
    g.current = 0;
    g.active = true;
    t_me = 0;
  }
  main(arg);
  const held lock;
  for (int i = 1; i < k_max_threads; ++i) {
    if (g.threads[i].state != thread_state::free) report_deadlock("a thread outlived the run (never joined)");
  }
  g.active = false;
  g.threads[0].state = thread_state::free;
  g.current = -1;
  t_me = -1;
  g.result.virtual_ns = g.now_ns - g.start_ns;
  return g.result;
}

void set_faults(bool on) noexcept {
  const held lock;
  g.faults_on = on;
}

void fail_calls(fault kind, std::uint32_t skip, std::uint32_t count) noexcept {
  const held lock;
  auto& a = g.armed[static_cast<int>(kind)];
  a.skip = skip;
  a.count = count;
}

std::uint32_t failed_calls(fault kind) noexcept {
  const held lock;
  return g.armed[static_cast<int>(kind)].failed;
}

std::uint64_t draw() noexcept {
  const held lock;
  if (in_run()) decide(k_draw);
  if (g.script_at + 2 <= g.cfg.script_size) {
    const std::uint64_t v = static_cast<std::uint64_t>(g.cfg.script[g.script_at]) |
                            (static_cast<std::uint64_t>(g.cfg.script[g.script_at + 1]) << 8U);
    g.script_at += 2;
    mix(v);
    return v;
  }
  return next_random();
}

void set_replay_hint(const char* hint) noexcept {
  const held lock;
  g.hint = hint != nullptr ? hint : "";
}

void dump(const char* why) noexcept {
  const held lock;
  print_threads(why);
}

int current_thread() noexcept {
  return in_run() ? t_me : -1;
}

}  // namespace sim

// ---------------------------------------------------------------- clock

result<time_point> monotonic_now() noexcept {
  const held lock;
  if (in_run()) {
    decide(k_clock);
    if (armed(sim::fault::clock) || fault(sim::fault::clock))
      return fail(errc::platform_error, "clock_gettime", 22);  // EINVAL
  }
  return time_point{duration{g.now_ns}};
}

result<time_point> deadline_after(duration d) noexcept {
  if (d == forever) return never;
  auto now = monotonic_now();
  if (!now) return now;
  return saturating_add(*now, d);
}

time_point from_steady(std::chrono::steady_clock::time_point t) noexcept {
  if (t == std::chrono::steady_clock::time_point::max()) return never;
  return time_point{std::chrono::duration_cast<duration>(t.time_since_epoch())};
}

result<void> install_manual_clock() noexcept {
  return {};  // the virtual clock is always manual
}

void advance_manual_clock(duration d) noexcept {
  const held lock;
  if (d > duration::zero()) g.now_ns += d.count();
  release_timeouts();
}

void remove_manual_clock() noexcept {}

bool manual_clock_installed() noexcept {
  return true;
}

int manual_clock_waiters(time_point deadline) noexcept {
  const held lock;
  const std::int64_t ns = deadline_ns(deadline);
  int n = 0;
  for (const auto& t : g.threads) n += t.state == thread_state::blocked && t.deadline == ns ? 1 : 0;
  return n;
}

// ---------------------------------------------------------------- parking

park_status park_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                      time_point deadline) noexcept {
  const held lock;
  if (!in_run()) return park_status::woken;  // callers loop on their own condition
  decide(k_park);
  if (armed(sim::fault::spurious_wake) || fault(sim::fault::spurious_wake))
    return park_status::woken;  // a spurious wake-up
  const bool late = armed(sim::fault::late_wake);
  const auto returned = [late](park_status st) {
    if (late) {
      g.now_ns += 5'000'000;
      release_timeouts();
    }
    return st;
  };
  if (word.load(std::memory_order_seq_cst) != expected) return returned(park_status::woken);
  const std::int64_t dl = deadline_ns(deadline);
  if (dl <= g.now_ns) return returned(park_status::timed_out);
  ++g.sleeps;
  return returned(block(wait_kind::park, &word, dl) ? park_status::timed_out : park_status::woken);
}

void cpu_relax() noexcept {
  const held lock;
  if (in_run()) decide(k_relax, true);  // a spinner waits for another thread: let one run
}

park_status spin_then_park(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                           time_point deadline, unsigned /*spins*/) noexcept {
  return park_wait(word, expected, deadline);
}

void park_wake_one(const std::atomic<std::uint32_t>& word) noexcept {
  const held lock;
  ++g.wakes;
  wake(&word, 1);
  if (in_run()) decide(k_wake);
}

void park_wake_all(const std::atomic<std::uint32_t>& word) noexcept {
  const held lock;
  ++g.wakes;
  wake(&word, INT_MAX);
  if (in_run()) decide(k_wake);
}

park_counts park_counters() noexcept {
  const held lock;
  return park_counts{g.sleeps, g.wakes};
}

// ---------------------------------------------------------------- mutex

namespace {
struct sim_mutex {
  int owner;
};
static_assert(sizeof(sim_mutex) <= 64 && alignof(sim_mutex) <= 8, "sim mutex fits mutex storage");
sim_mutex& state_of(unsigned char* storage) noexcept {
  return *reinterpret_cast<sim_mutex*>(storage);  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
}
}  // namespace

mutex::mutex() noexcept : m_priority_inheritance(true) {
  new (m_storage) sim_mutex{-1};
}

mutex::~mutex() = default;

void mutex::lock() noexcept {
  const held lock;
  sim_mutex& m = state_of(m_storage);
  if (!in_run()) {
    STEWARD_REQUIRE(k_module, 10, m.owner == -1 && "a mutex contended outside a sim run");
    m.owner = INT_MAX;
    return;
  }
  decide(k_lock);
  STEWARD_REQUIRE(k_module, 11, m.owner != t_me && "mutex locked twice by one thread");
  while (m.owner != -1) block(wait_kind::mutex, this, k_no_deadline);
  m.owner = t_me;
}

bool mutex::try_lock() noexcept {
  const held lock;
  sim_mutex& m = state_of(m_storage);
  if (in_run()) decide(k_try_lock);
  if (m.owner != -1) return false;
  m.owner = in_run() ? t_me : INT_MAX;
  return true;
}

void mutex::unlock() noexcept {
  const held lock;
  sim_mutex& m = state_of(m_storage);
  m.owner = -1;
  wake(this, 1);
  if (in_run()) decide(k_unlock);
}

// ---------------------------------------------------------------- threads

struct thread_trampoline {
  static void* run(void* index) noexcept {
    const int me = static_cast<int>(reinterpret_cast<std::intptr_t>(index));  // NOLINT
    t_me = me;
    thread_entry entry = nullptr;
    void* arg = nullptr;
    thread_start_hook hook = nullptr;
    void* hook_user = nullptr;
    {
      const held lock;
      while (g.current != me) pthread_cond_wait(&g.threads[me].cv, &g.lock);
      entry = g.threads[me].entry;
      arg = g.threads[me].arg;
      hook = g.start_hook;
      hook_user = g.start_hook_user;
    }
    if (hook != nullptr) hook(hook_user);
    entry(arg);
    const held lock;
    g.threads[me].state = thread_state::dead;
    wake(&g.threads[me], INT_MAX);  // joiners
    const int next = pick_runnable(-1);
    mix(0xDEAD0000ULL | static_cast<std::uint32_t>(next));
    g.current = next;
    ++g.result.switches;
    pthread_cond_signal(&g.threads[next].cv);
    t_me = -1;
    return nullptr;  // the real thread ends without touching the scheduler again
  }
};

std::size_t min_stack_size() noexcept {
  return 16384;
}

// NOLINTNEXTLINE(bugprone-easily-swappable-parameters): a test seam; the order is documented in thread.hpp
void inject_thread_create_failures(std::uint32_t count, int os_errno) noexcept {
  const held lock;
  g.injected_errno = os_errno;
  g.injected_create_failures = count;
}

void set_thread_start_hook(thread_start_hook hook, void* user) noexcept {
  const held lock;
  g.start_hook = hook;
  g.start_hook_user = user;
}

void stop_if_thread_exit(const char* /*module*/, int /*id*/, const char* /*what*/) noexcept {
  // Sim threads are never left by pthread_exit or cancellation.
}

result<thread_report> create_thread(thread_handle& out, const thread_params& params, thread_entry entry,
                                    void* arg) noexcept {
  if (params.stack == nullptr || entry == nullptr) return fail(errc::invalid_argument, params.name);
  if (params.stack_size < min_stack_size()) {
    return fail(errc::stack_too_small, params.name, static_cast<std::int32_t>(min_stack_size()));
  }
  const held lock;
  STEWARD_REQUIRE(k_module, 20, in_run() && "threads are created inside a sim run");
  decide(k_create);
  if (g.injected_create_failures > 0) {
    --g.injected_create_failures;
    const int e = g.injected_errno;
    if (e == 11) return fail(errc::resource_exhausted, params.name, e);  // EAGAIN
    return fail(errc::platform_error, params.name, e);
  }
  if (armed(sim::fault::thread_create) || fault(sim::fault::thread_create))
    return fail(errc::resource_exhausted, params.name, 11);
  thread_report report{};
  const auto policy = params.options.policy;
  if ((policy == sched_policy::fifo || policy == sched_policy::rr) && armed(sim::fault::rt_refused)) {
    if (params.options.on_rt_refused == rt_fallback::fail)
      return fail(errc::permission_denied, params.name, 1);
    report.rt_fell_back = true;  // EPERM: runs with the inherited policy, and says so
    report.rt_errno = 1;
  }
  int index = -1;
  for (int i = 1; i < k_max_threads; ++i) {
    if (g.threads[i].state == thread_state::free) {
      index = i;
      break;
    }
  }
  if (index < 0) return fail(errc::resource_exhausted, params.name, 11);
  sim_thread& t = g.threads[index];
  t.state = thread_state::runnable;
  t.waiting = wait_kind::none;
  t.on = nullptr;
  t.deadline = k_no_deadline;
  t.entry = entry;
  t.arg = arg;
  pthread_attr_t attr;
  int rc = pthread_attr_init(&attr);
  if (rc == 0) rc = pthread_attr_setstack(&attr, params.stack, params.stack_size);
  if (rc == 0) {
    rc = pthread_create(&t.tid, &attr, &thread_trampoline::run,
                        reinterpret_cast<void*>(static_cast<std::intptr_t>(index)));  // NOLINT
  }
  pthread_attr_destroy(&attr);
  STEWARD_REQUIRE(k_module, 21, rc == 0 && "the host refused a sim thread");
  const std::int32_t stored = index;
  std::memcpy(out.m_storage, &stored, sizeof stored);
  out.m_entry = entry;
  out.m_arg = arg;
  out.m_joinable = true;
  mix(0xC0EA7E00ULL | static_cast<std::uint32_t>(index));
  return report;
}

result<void> join_thread(thread_handle& handle) noexcept {
  if (!handle.m_joinable) return fail(errc::invalid_handle, "thread");
  std::int32_t index = 0;
  std::memcpy(&index, handle.m_storage, sizeof index);
  pthread_mutex_lock(&g.lock);
  if (index == t_me) {
    pthread_mutex_unlock(&g.lock);
    return fail(errc::would_deadlock, "thread");
  }
  decide(k_join);
  sim_thread& t = g.threads[index];
  while (t.state != thread_state::dead) block(wait_kind::join, &t, k_no_deadline);
  const pthread_t tid = t.tid;
  pthread_mutex_unlock(&g.lock);
  const int rc = pthread_join(tid, nullptr);  // its last steps hold nothing of ours
  STEWARD_REQUIRE(k_module, 22, rc == 0);
  pthread_mutex_lock(&g.lock);
  t.state = thread_state::free;
  pthread_mutex_unlock(&g.lock);
  handle.m_joinable = false;
  return {};
}

// ---------------------------------------------------------------- fd waits

fd_waker::~fd_waker() {
  const int i = waker_index(m_fd);
  if (i < 0) return;
  const held lock;
  g.wakers[i] = waker_slot{};
}

result<void> fd_waker::open() noexcept {
  if (m_fd >= 0) return {};
  const held lock;
  if (in_run()) {
    decide(k_fd);
    if (armed(sim::fault::waker_open) || fault(sim::fault::waker_open))
      return fail(errc::resource_exhausted, "eventfd", 24);  // EMFILE
  }
  for (int i = 0; i < k_max_wakers; ++i) {
    if (!g.wakers[i].used) {
      g.wakers[i] = waker_slot{true, false};
      m_fd = k_waker_fd_base + i;
      return {};
    }
  }
  return fail(errc::resource_exhausted, "eventfd", 24);
}

void fd_waker::signal() const noexcept {
  const int i = waker_index(m_fd);
  if (i < 0) return;
  const held lock;
  g.wakers[i].signalled = true;
  wake(&g.wakers[i], INT_MAX);
  if (in_run()) decide(k_signal);
}

void fd_waker::drain() const noexcept {
  const int i = waker_index(m_fd);
  if (i < 0) return;
  const held lock;
  g.wakers[i].signalled = false;
}

// Descriptors other than wakers never become ready under the simulation: a wait on one ends by
// its waker or its deadline (documented in docs/verification.md).
result<fd_wait_result> wait_fds(const fd_request* requests, std::size_t count, const fd_waker& waker,
                                time_point deadline) noexcept {
  if (count == 0 || count > k_max_wait_fds || requests == nullptr)
    return fail(errc::invalid_argument, "wait_fds");
  const int i = waker_index(waker.native());
  if (i < 0) return fail(errc::invalid_argument, "wait_fds");
  const held lock;
  STEWARD_REQUIRE(k_module, 30, in_run() && "fd waits happen inside a sim run");
  decide(k_fd);
  const std::int64_t dl = deadline_ns(deadline);
  for (;;) {
    if (g.wakers[i].signalled) return fd_wait_result{fd_wait_status::woken, {}, 0};
    if (dl <= g.now_ns) return fd_wait_result{fd_wait_status::timed_out, {}, 0};
    if (block(wait_kind::fd, &g.wakers[i], dl)) return fd_wait_result{fd_wait_status::timed_out, {}, 0};
  }
}

result<fd_wait_result> wait_fd(int fd, io_interest interest, const fd_waker& waker,
                               time_point deadline) noexcept {
  const fd_request request{fd, interest};
  return wait_fds(&request, 1, waker, deadline);
}

// ---------------------------------------------------------------- real-time knobs

result<void> lock_memory() noexcept {
  return {};
}

result<void> unlock_memory() noexcept {
  return {};
}

std::size_t page_size() noexcept {
  return 4096;
}

result<thread_scheduling> current_scheduling() noexcept {
  return thread_scheduling{sched_policy::other, 0};
}

result<std::uint64_t> current_affinity() noexcept {
  return std::uint64_t{1};
}

}  // namespace steward::platform
