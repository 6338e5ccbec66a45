// POSIX port: a steward thread is a joinable pthread on a caller-owned stack
// (pthread_attr_setstack; glibc places the TCB/TLS at the top of it and adds no guard page).
// Real-time policy and priority go in the attributes with PTHREAD_EXPLICIT_SCHED, so the
// thread never runs a single instruction at the wrong priority. EPERM for a real-time policy
// falls back to inherited scheduling only if the caller allowed it, and is always reported.
// EAGAIN is retried a bounded number of times (clone can fail transiently under load).
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "steward/core/config.hpp"
#include "steward/core/contract.hpp"
#include "steward/platform/thread.hpp"

#if STEWARD_USING_EXCEPTIONS
#include <cxxabi.h>  // abi::__forced_unwind: glibc's pthread_exit/cancel unwinding
#endif

namespace steward::platform {
namespace {

constexpr int k_create_attempts = 3;
// Process-wide test seams: atomic, file-local.
// NOLINTBEGIN(cppcoreguidelines-avoid-non-const-global-variables)
std::atomic<std::uint32_t> g_injected_failures{0};
std::atomic<int> g_injected_errno{0};
std::atomic<thread_start_hook> g_start_hook{nullptr};
std::atomic<void*> g_start_hook_user{nullptr};
// NOLINTEND(cppcoreguidelines-avoid-non-const-global-variables)

int native_policy(sched_policy p) noexcept {
  switch (p) {
    case sched_policy::fifo:
      return SCHED_FIFO;
    case sched_policy::rr:
      return SCHED_RR;
    case sched_policy::other:
    case sched_policy::inherit:
      break;
  }
  return SCHED_OTHER;
}

bool is_realtime(sched_policy p) noexcept {
  return p == sched_policy::fifo || p == sched_policy::rr;
}

int take_injected_failure() noexcept {
  std::uint32_t left = g_injected_failures.load();
  while (left > 0) {
    if (g_injected_failures.compare_exchange_weak(left, left - 1)) return g_injected_errno.load();
  }
  return 0;
}

// Builds attributes for one attempt. Returns 0 or an errno-style code.
int build_attributes(pthread_attr_t& attr, const thread_params& params, bool explicit_sched) noexcept {
  if (pthread_attr_init(&attr) != 0) return ENOMEM;
  int rc = pthread_attr_setstack(&attr, params.stack, params.stack_size);
  if (rc == 0 && explicit_sched) {
    sched_param sp{};
    sp.sched_priority = params.options.priority;
    rc = pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
    if (rc == 0) rc = pthread_attr_setschedpolicy(&attr, native_policy(params.options.policy));
    if (rc == 0) rc = pthread_attr_setschedparam(&attr, &sp);
  }
  if (rc == 0 && params.options.affinity != 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (unsigned cpu = 0; cpu < 64U; ++cpu) {
      if (((params.options.affinity >> cpu) & 1U) != 0U) CPU_SET(cpu, &set);
    }
    rc = pthread_attr_setaffinity_np(&attr, sizeof set, &set);
  }
  if (rc != 0) pthread_attr_destroy(&attr);
  return rc;
}

}  // namespace

// Runs only when the entry function is left by pthread_exit() or cancellation instead of by
// returning: its slot would stay "running" forever with nothing cleaned up, so say so and stop.
extern "C" void steward_thread_left_by_exit(void* /*unused*/) {
  contract_violation("platform.thread", 200, "a steward thread was left by pthread_exit or cancellation");
}

struct thread_trampoline {
  static void* run(void* handle) noexcept {
    auto* h = static_cast<thread_handle*>(handle);
    if (const auto hook = g_start_hook.load(std::memory_order_acquire)) hook(g_start_hook_user.load());
    pthread_cleanup_push(&steward_thread_left_by_exit, nullptr);
    h->m_entry(h->m_arg);
    pthread_cleanup_pop(0);
    return nullptr;
  }
};

// Deviation: glibc's forced unwind is a foreign exception without a C++ object, so binding the
// handler's reference trips UBSan's null-reference check although nothing is ever read through it.
#if defined(__GNUC__)
__attribute__((no_sanitize("undefined")))
#endif
void stop_if_thread_exit(const char* module, int id, const char* what) noexcept {
#if STEWARD_USING_EXCEPTIONS
  try {
    throw;  // the exception our caller's handler is handling
  } catch (abi::__forced_unwind&) {
    // Report from inside this handler: leaving it would end the unwind's exception object.
    contract_violation(module, id, what);
  } catch (...) {  // an ordinary exception: still owned by the caller's handler
  }
#else
  static_cast<void>(module);
  static_cast<void>(id);
  static_cast<void>(what);
#endif
}

std::size_t min_stack_size() noexcept {
  const long v = sysconf(_SC_THREAD_STACK_MIN);
  return v > 0 ? static_cast<std::size_t>(v) : static_cast<std::size_t>(16384);
}

// NOLINTNEXTLINE(bugprone-easily-swappable-parameters): a test seam; the order is documented in thread.hpp
void inject_thread_create_failures(std::uint32_t count, int os_errno) noexcept {
  g_injected_errno.store(os_errno);
  g_injected_failures.store(count);
}

void set_thread_start_hook(thread_start_hook hook, void* user) noexcept {
  g_start_hook_user.store(user);
  g_start_hook.store(hook, std::memory_order_release);
}

result<thread_report> create_thread(thread_handle& out, const thread_params& params, thread_entry entry,
                                    void* arg) noexcept {
  static_assert(sizeof(pthread_t) <= sizeof(out.m_storage), "grow thread_handle storage");
  if (params.stack == nullptr || entry == nullptr) return fail(errc::invalid_argument, params.name);
  const std::size_t minimum = min_stack_size();
  if (params.stack_size < minimum) {
    return fail(errc::stack_too_small, params.name, static_cast<std::int32_t>(minimum));
  }
  const auto& opt = params.options;
  if (is_realtime(opt.policy)) {
    const int lo = sched_get_priority_min(native_policy(opt.policy));
    const int hi = sched_get_priority_max(native_policy(opt.policy));
    if (opt.priority < lo || opt.priority > hi)
      return fail(errc::invalid_argument, params.name, opt.priority);
  } else if (opt.priority != 0) {
    return fail(errc::invalid_argument, params.name, opt.priority);
  }

  thread_report report{};
  bool explicit_sched = opt.policy != sched_policy::inherit;
  int attempts_left = k_create_attempts;
  for (;;) {
    pthread_attr_t attr;
    int rc = build_attributes(attr, params, explicit_sched);
    if (rc != 0) return fail(errc::invalid_argument, params.name, rc);
    pthread_t tid{};
    rc = take_injected_failure();
    out.m_entry = entry;
    out.m_arg = arg;
    if (rc == 0) rc = pthread_create(&tid, &attr, &thread_trampoline::run, &out);
    pthread_attr_destroy(&attr);
    if (rc == 0) {
      std::memcpy(out.m_storage, &tid, sizeof tid);
      out.m_joinable = true;
      if (params.name != nullptr) {
        char name[16]{};
        std::strncpy(name, params.name, sizeof name - 1);
        report.name_errno = pthread_setname_np(tid, name);  // cosmetic: reported, not fatal
      }
      return report;
    }
    if (rc == EPERM && explicit_sched && is_realtime(opt.policy)) {
      if (opt.on_rt_refused == rt_fallback::fail) return fail(errc::permission_denied, params.name, rc);
      report.rt_fell_back = true;
      report.rt_errno = rc;
      explicit_sched = false;
      continue;
    }
    if (rc == EAGAIN && --attempts_left > 0) {
      sched_yield();
      continue;
    }
    if (rc == EAGAIN) return fail(errc::resource_exhausted, params.name, rc);
    if (rc == EINVAL) return fail(errc::invalid_argument, params.name, rc);
    return fail(errc::platform_error, params.name, rc);
  }
}

result<void> join_thread(thread_handle& handle) noexcept {
  if (!handle.m_joinable) return fail(errc::invalid_handle, "thread");
  pthread_t tid{};
  std::memcpy(&tid, handle.m_storage, sizeof tid);
  if (pthread_equal(tid, pthread_self()) != 0) return fail(errc::would_deadlock, "thread");
  const int rc = pthread_join(tid, nullptr);
  if (rc != 0) return fail(errc::platform_error, "pthread_join", rc);
  handle.m_joinable = false;
  return {};
}

}  // namespace steward::platform
