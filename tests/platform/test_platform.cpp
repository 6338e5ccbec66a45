// The platform layer on its own: clock, parking, fd waits, threads, mutex.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "steward/platform/clock.hpp"
#include "steward/platform/io.hpp"
#include "steward/platform/mutex.hpp"
#include "steward/platform/park.hpp"
#include "steward/platform/thread.hpp"

namespace plat = steward::platform;
using steward::errc;

namespace {
alignas(64) unsigned char g_stack[1024 * 1024];

struct thread_probe {
  std::atomic<bool> ran{false};
  std::atomic<int> cpu_count{-1};
  std::atomic<int> join_self{-2};
  std::atomic<bool> handle_ready{false};
  plat::thread_handle* self{nullptr};
};

void probe_entry(void* arg) noexcept {
  auto* p = static_cast<thread_probe*>(arg);
  cpu_set_t set;
  CPU_ZERO(&set);
  if (pthread_getaffinity_np(pthread_self(), sizeof set, &set) == 0) p->cpu_count = CPU_COUNT(&set);
  if (p->self != nullptr) {
    while (!p->handle_ready.load()) std::this_thread::yield();  // create_thread fills the handle
    auto r = plat::join_thread(*p->self);
    p->join_self = r ? -1 : static_cast<int>(r.error().code);
  }
  p->ran = true;
}

plat::thread_params params_for(std::size_t size) {
  plat::thread_params params;
  params.name = "probe";
  params.stack = g_stack;
  params.stack_size = size;
  return params;
}
}  // namespace

TEST_CASE("platform: the monotonic clock moves forward") {
  auto a = plat::monotonic_now();
  auto b = plat::monotonic_now();
  REQUIRE(a);
  REQUIRE(b);
  CHECK(*b >= *a);
  auto forever = plat::deadline_after(steward::forever);
  REQUIRE(forever);
  CHECK(*forever == steward::never);
  auto soon = plat::deadline_after(std::chrono::seconds(1));
  REQUIRE(soon);
  CHECK(*soon > *b);
}

TEST_CASE("platform: park returns at a past deadline, on a changed word and on wake") {
  std::atomic<std::uint32_t> word{5};
  auto past = plat::monotonic_now();
  REQUIRE(past);
  CHECK(plat::park_wait(word, 5, *past) == plat::park_status::timed_out);
  CHECK(plat::park_wait(word, 4, steward::never) == plat::park_status::woken);  // value differs
  std::thread waker([&] {
    word.store(6);
    plat::park_wake_all(word);
  });
  while (word.load() == 5) plat::park_wait(word, 5, steward::never);
  waker.join();
  CHECK(word.load() == 6);
}

TEST_CASE("platform: a waker cuts an fd wait short, drain re-arms it") {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  plat::fd_waker waker;
  REQUIRE(waker.open());
  CHECK(waker.is_open());
  waker.signal();
  auto r = plat::wait_fd(fds[0], plat::io_interest::readable, waker, steward::never);
  REQUIRE(r);
  CHECK(r->status == plat::fd_wait_status::woken);
  waker.drain();
  auto past = plat::monotonic_now();
  REQUIRE(past);
  auto t = plat::wait_fd(fds[0], plat::io_interest::readable, waker, *past);
  REQUIRE(t);
  CHECK(t->status == plat::fd_wait_status::timed_out);
  auto w = plat::wait_fd(fds[1], plat::io_interest::writable, waker, steward::never);
  REQUIRE(w);
  CHECK(w->status == plat::fd_wait_status::ready);
  CHECK(w->events.writable);
  auto bad = plat::wait_fd(-1, plat::io_interest::readable, waker, steward::never);
  REQUIRE_FALSE(bad);
  CHECK(bad.error() == errc::io_error);
  ::close(fds[1]);
  auto hup = plat::wait_fd(fds[0], plat::io_interest::readable, waker, steward::never);
  REQUIRE(hup);
  CHECK(hup->status == plat::fd_wait_status::ready);
  CHECK(hup->events.hangup);
  ::close(fds[0]);
}

namespace {
struct manual_clock_guard {  // removes the manual clock however the test case ends
  ~manual_clock_guard() { plat::remove_manual_clock(); }
};
steward::time_point now_or_epoch() {
  auto t = plat::monotonic_now();
  return t ? *t : steward::time_point{};
}
}  // namespace

TEST_CASE("platform: the manual clock moves only when advanced, and timed waits follow it" *
          doctest::timeout(60)) {
  using namespace std::chrono_literals;
  const manual_clock_guard guard;
  const bool installed = static_cast<bool>(plat::install_manual_clock());
  CHECK(installed);
  if (!installed) return;
  CHECK(plat::manual_clock_installed());
  const auto t0 = now_or_epoch();
  for (int i = 0; i < 1000; ++i) std::this_thread::yield();
  CHECK(now_or_epoch() == t0);  // frozen: real time passed, the manual clock did not move
  plat::advance_manual_clock(5s);
  CHECK(now_or_epoch() == t0 + 5s);
  auto soon = plat::deadline_after(1s);
  CHECK(soon);
  if (!soon) return;
  CHECK(*soon == t0 + 6s);

  // A park whose manual deadline is an hour away: woken by its word after half an hour of
  // manual time (the deadline has not come), timed out once the clock reaches it.
  std::atomic<std::uint32_t> word{0};
  std::atomic<int> first{-1};   // 0 = woken by the word, 1 = timed out
  std::atomic<int> second{-1};  // likewise
  std::atomic<int> phase{0};
  const auto deadline = t0 + 5s + 1h;
  std::thread parker([&] {
    auto wait_once = [&](std::uint32_t expected) {
      for (;;) {  // spurious returns are allowed: loop on the word, as every caller does
        if (plat::park_wait(word, expected, deadline) == plat::park_status::timed_out) return 1;
        if (word.load() != expected) return 0;
      }
    };
    first = wait_once(0);
    phase = 1;
    second = wait_once(1);
  });
  while (plat::manual_clock_waiters(deadline) != 1) std::this_thread::yield();  // it waits
  plat::advance_manual_clock(30min);
  word.store(1);
  plat::park_wake_all(word);
  while (phase.load() != 1) std::this_thread::yield();  // the first wait has returned
  CHECK(first == 0);  // half an hour early: no time-out
  while (plat::manual_clock_waiters(deadline) != 1) std::this_thread::yield();  // waits again
  plat::advance_manual_clock(30min);  // exactly the deadline
  parker.join();  // only the manual deadline can end the second wait
  CHECK(second == 1);
  CHECK(plat::manual_clock_waiters(deadline) == 0);  // a wait that returned is not counted

  // An fd wait with a manual deadline: nothing to read, so only the manual clock ends it.
  int fds[2];
  const bool piped = ::pipe2(fds, O_CLOEXEC) == 0;
  CHECK(piped);
  if (!piped) return;
  plat::fd_waker waker;
  CHECK(waker.open());
  std::atomic<int> fd_status{-1};
  const auto fd_deadline = now_or_epoch() + 1h;
  std::thread fd_waiter([&] {
    auto r = plat::wait_fd(fds[0], plat::io_interest::readable, waker, fd_deadline);
    fd_status = r ? static_cast<int>(r->status) : -2;
  });
  while (plat::manual_clock_waiters(fd_deadline) != 1) std::this_thread::yield();  // in ppoll
  plat::advance_manual_clock(1h);
  fd_waiter.join();
  CHECK(fd_status == static_cast<int>(plat::fd_wait_status::timed_out));
  ::close(fds[0]);
  ::close(fds[1]);

  plat::remove_manual_clock();
  CHECK_FALSE(plat::manual_clock_installed());
  const auto real = now_or_epoch();
  CHECK(real >= t0);           // the OS clock again: it started where the OS clock was
  CHECK(real < t0 + 5s + 2h);  // and is not where the manual clock was left
}

TEST_CASE("platform: threads run on the caller's stack and are joined once") {
  thread_probe p;
  plat::thread_handle h;
  auto r = plat::create_thread(h, params_for(sizeof g_stack), &probe_entry, &p);
  REQUIRE(r);
  CHECK(h.joinable());
  CHECK(plat::join_thread(h));
  CHECK(p.ran);
  CHECK_FALSE(h.joinable());
  auto again = plat::join_thread(h);
  REQUIRE_FALSE(again);
  CHECK(again.error() == errc::invalid_handle);
}

TEST_CASE("platform: a thread joining itself gets would_deadlock") {
  thread_probe p;
  plat::thread_handle h;
  p.self = &h;
  REQUIRE(plat::create_thread(h, params_for(sizeof g_stack), &probe_entry, &p));
  p.handle_ready = true;
  while (!p.ran.load()) std::this_thread::yield();
  CHECK(p.join_self == static_cast<int>(errc::would_deadlock));
  CHECK(plat::join_thread(h));
}

TEST_CASE("platform: bad thread parameters are refused and create nothing") {
  thread_probe p;
  plat::thread_handle h;
  auto small = plat::create_thread(h, params_for(1024), &probe_entry, &p);
  REQUIRE_FALSE(small);
  CHECK(small.error() == errc::stack_too_small);
  CHECK(static_cast<std::size_t>(small.error().value) == plat::min_stack_size());
  auto no_stack = params_for(sizeof g_stack);
  no_stack.stack = nullptr;
  CHECK(plat::create_thread(h, no_stack, &probe_entry, &p).error() == errc::invalid_argument);
  auto bad_prio = params_for(sizeof g_stack);
  bad_prio.options.policy = plat::sched_policy::fifo;
  bad_prio.options.priority = 1000;
  CHECK(plat::create_thread(h, bad_prio, &probe_entry, &p).error() == errc::invalid_argument);
  auto prio_without_rt = params_for(sizeof g_stack);
  prio_without_rt.options.priority = 5;
  CHECK(plat::create_thread(h, prio_without_rt, &probe_entry, &p).error() == errc::invalid_argument);
  CHECK_FALSE(h.joinable());
  CHECK_FALSE(p.ran);
}

TEST_CASE("platform: affinity pins a thread to the CPUs asked for") {
  cpu_set_t mine;
  CPU_ZERO(&mine);
  REQUIRE(sched_getaffinity(0, sizeof mine, &mine) == 0);
  int first_cpu = -1;
  for (int c = 0; c < 64 && first_cpu < 0; ++c) {  // NOLINT(readability-identifier-length)
    if (CPU_ISSET(static_cast<std::size_t>(c), &mine)) first_cpu = c;
  }
  REQUIRE(first_cpu >= 0);
  thread_probe p;
  plat::thread_handle h;
  auto params = params_for(sizeof g_stack);
  params.options.affinity = std::uint64_t{1} << static_cast<unsigned>(first_cpu);
  REQUIRE(plat::create_thread(h, params, &probe_entry, &p));
  CHECK(plat::join_thread(h));
  CHECK(p.cpu_count == 1);
}

TEST_CASE("platform: transient EAGAIN is retried, permanent EAGAIN is typed") {
  thread_probe p;
  plat::thread_handle h;
  plat::inject_thread_create_failures(2, EAGAIN);
  REQUIRE(plat::create_thread(h, params_for(sizeof g_stack), &probe_entry, &p));
  CHECK(plat::join_thread(h));
  plat::inject_thread_create_failures(10, EAGAIN);
  auto r = plat::create_thread(h, params_for(sizeof g_stack), &probe_entry, &p);
  plat::inject_thread_create_failures(0, 0);
  REQUIRE_FALSE(r);
  CHECK(r.error() == errc::resource_exhausted);
  CHECK_FALSE(h.joinable());
}

TEST_CASE("platform: SCHED_FIFO is applied when permitted, reported when refused") {
  thread_probe p;
  plat::thread_handle h;
  auto params = params_for(sizeof g_stack);
  params.options.policy = plat::sched_policy::fifo;
  params.options.priority = 10;
  params.options.on_rt_refused = plat::rt_fallback::fail;
  auto strict = plat::create_thread(h, params, &probe_entry, &p);
  if (!strict) {
    CHECK(strict.error() == errc::permission_denied);
    MESSAGE("SCHED_FIFO not permitted here (", strict.error().value, "): checked the refusal");
    params.options.on_rt_refused = plat::rt_fallback::run_unprivileged;
    auto fallback = plat::create_thread(h, params, &probe_entry, &p);
    REQUIRE(fallback);
    CHECK(fallback->rt_fell_back);
  } else {
    CHECK_FALSE(strict->rt_fell_back);
  }
  CHECK(plat::join_thread(h));
  CHECK(p.ran);
}

TEST_CASE("platform: the control mutex has priority inheritance") {
  plat::mutex m;
  CHECK(m.priority_inheritance());
  m.lock();
  m.unlock();
}
