// steward's control latencies, each beside baselines measured in the same run, in rounds that
// alternate the implementations (bench_common.hpp: median ratio and its run-to-run range).
//
//   checkpoint       cost per loop iteration: steward checkpoint() vs a bare acquire load
//   pause_ack        pause() request to acknowledged park vs a hand-rolled futex handshake and a
//                    mutex + condvar pause with acknowledgement
//   resume_running   resume() until the worker is seen running vs a futex wake of a parked thread
//   stop_sleeping_cN stop() of a worker in sleep_for(1 h) holding N cleanup entries, until its
//                    cleanup ran, vs std::jthread + condition_variable_any::wait_for(stop_token)
//                    request_stop + join (N RAII guards), and vs a raw futex stop + ack of a parked
//                    thread (N release calls before the ack)
//   stop_fd_cN       the same for a worker blocked in wait_readable(): vs a parked thread in
//                    poll() on the fd + an eventfd, woken by a write, acknowledged through a futex,
//                    and vs std::jthread whose stop_callback writes the eventfd, then join
// Usage: steward_bench [--quick] [--rounds N]
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#if defined(STEWARD_BENCH_HAVE_JTHREAD)
#include <stop_token>
#endif

#include "bench_common.hpp"
#include "steward/core/worker.hpp"

namespace {

using namespace std::chrono_literals;
using bench::clk;
using bench::futex_wait;
using bench::futex_wake;
using bench::ns_since;
using bench::series;

using big_worker = steward::static_worker<256 * 1024, 4>;

// Runs the steps in the given order or reversed, so that each round alternates who goes first.
void in_order(bool reversed, std::initializer_list<std::function<void()>> steps) {
  std::vector<std::function<void()>> v(steps);
  if (reversed) std::reverse(v.begin(), v.end());
  for (auto& f : v) f();
}

// ---------------------------------------------------------------- checkpoint

long g_iters = 50'000'000;
big_worker g_checker;
std::atomic<double> g_checkpoint_ns{0};

double empty_loop() {
  const long iters = g_iters;
  auto t0 = clk::now();
  for (long i = 0; i < iters; ++i) asm volatile("" ::: "memory");
  return ns_since(t0) / static_cast<double>(iters);
}

double acquire_load_loop() {
  const long iters = g_iters;
  std::atomic<std::uint32_t> flag{0};
  long seen = 0;
  auto t0 = clk::now();
  for (long i = 0; i < iters; ++i) {
    if (flag.load(std::memory_order_acquire) != 0) ++seen;
    asm volatile("" ::: "memory");
  }
  const double ns = ns_since(t0) / static_cast<double>(iters);
  if (seen != 0) std::abort();
  return ns;
}

double steward_checkpoint_loop() {
  static bool configured = false;
  if (!configured) {
    steward::worker_config cfg;
    cfg.name = "bench-checkpoint";
    cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
      const long iters = g_iters;
      auto t0 = clk::now();
      for (long i = 0; i < iters; ++i) {
        STEWARD_TRY(ctx.checkpoint());
        asm volatile("" ::: "memory");
      }
      g_checkpoint_ns = ns_since(t0) / static_cast<double>(iters);
      return {};
    };
    if (!g_checker.configure(cfg)) std::abort();
    configured = true;
  }
  if (!g_checker.start()) std::abort();
  while (!steward::is_terminal(g_checker.state())) std::this_thread::sleep_for(1ms);
  return g_checkpoint_ns.load();
}

// ---------------------------------------------------------------- pause / resume (steward)

std::atomic<long> g_spins{0};
big_worker g_spinner;

void steward_pause(series& pause, series& resume, std::size_t round, int count) {
  static bool configured = false;
  if (!configured) {
    steward::worker_config cfg;
    cfg.name = "bench-spinner";
    cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
      for (;;) {
        STEWARD_TRY(ctx.checkpoint());
        g_spins.fetch_add(1, std::memory_order_release);
      }
    };
    if (!g_spinner.configure(cfg)) std::abort();
    configured = true;
  }
  if (!g_spinner.start()) std::abort();
  const long before = g_spins.load();
  while (g_spins.load() < before + 1000) std::this_thread::yield();
  for (int i = 0; i < count; ++i) {
    auto t0 = clk::now();
    if (!g_spinner.pause(5s)) std::abort();
    pause.add(round, ns_since(t0));
    const long parked_at = g_spins.load(std::memory_order_acquire);
    auto t1 = clk::now();
    if (!g_spinner.resume()) std::abort();
    while (g_spins.load(std::memory_order_acquire) == parked_at) {
    }
    resume.add(round, ns_since(t1));  // until the worker is seen running
    const long at = g_spins.load();
    while (g_spins.load() < at + 100) {
    }
  }
  if (!g_spinner.stop(5s)) std::abort();
}

// ---------------------------------------------------------------- pause / resume (futex baseline)

void futex_pause(series& pause, series& resume, std::size_t round, int count) {
  std::atomic<std::uint32_t> request{0};  // 1 = pause requested
  std::atomic<std::uint32_t> parked{0};   // 1 = parked (ack)
  std::atomic<bool> quit{false};
  std::atomic<long> iterations{0};
  std::thread worker([&] {
    while (!quit.load(std::memory_order_relaxed)) {
      if (request.load(std::memory_order_acquire) != 0) {
        parked.store(1, std::memory_order_release);
        futex_wake(parked);
        while (request.load(std::memory_order_acquire) != 0) futex_wait(request, 1);
        parked.store(0, std::memory_order_release);
      }
      iterations.fetch_add(1, std::memory_order_release);
    }
  });
  while (iterations.load() < 1000) std::this_thread::yield();
  for (int i = 0; i < count; ++i) {
    auto t0 = clk::now();
    request.store(1, std::memory_order_release);
    while (parked.load(std::memory_order_acquire) == 0) futex_wait(parked, 0);
    pause.add(round, ns_since(t0));
    const long parked_at = iterations.load(std::memory_order_acquire);
    auto t1 = clk::now();
    request.store(0, std::memory_order_release);
    futex_wake(request);
    while (iterations.load(std::memory_order_acquire) == parked_at) {
    }
    resume.add(round, ns_since(t1));
    const long at = iterations.load();
    while (iterations.load() < at + 100) {
    }
  }
  quit = true;
  worker.join();
}

// ---------------------------------------------------------------- pause (mutex + condvar baseline)

void condvar_pause(series& pause, std::size_t round, int count) {
  std::mutex m;
  std::condition_variable cv;
  bool request = false, parked = false, quit = false;
  std::atomic<bool> request_hint{false};
  std::atomic<long> iterations{0};
  std::thread worker([&] {
    for (;;) {
      if (request_hint.load(std::memory_order_acquire)) {
        std::unique_lock<std::mutex> lock(m);
        if (quit) return;
        parked = true;
        cv.notify_all();
        cv.wait(lock, [&] { return !request || quit; });
        parked = false;
        if (quit) return;
      }
      iterations.fetch_add(1, std::memory_order_relaxed);
    }
  });
  while (iterations.load() < 1000) std::this_thread::yield();
  for (int i = 0; i < count; ++i) {
    auto t0 = clk::now();
    {
      std::unique_lock<std::mutex> lock(m);
      request = true;
      request_hint = true;
      cv.wait(lock, [&] { return parked; });
    }
    pause.add(round, ns_since(t0));
    {
      std::lock_guard<std::mutex> lock(m);
      request = false;
      request_hint = false;
    }
    cv.notify_all();
    const long at = iterations.load();
    while (iterations.load() < at + 100) {
    }
  }
  {
    std::lock_guard<std::mutex> lock(m);
    quit = true;
    request_hint = true;
  }
  cv.notify_all();
  worker.join();
}

// ---------------------------------------------------------------- stop: shared pieces

std::atomic<int> g_blocked{0};       // the worker under test reached its wait (or nearly)
std::atomic<long> g_released{0};     // cleanup actions run, all implementations
int g_cleanups = 0;                  // entries each worker registers before it waits
int g_pipe_read = -1;                // never written: the fd the fd-blocked workers wait on

void release_one() {
  g_released.fetch_add(1, std::memory_order_relaxed);
}
// The baselines' cleanup: an RAII guard per resource, run on the thread's way out.
struct guard {
  guard() = default;
  guard(const guard&) = delete;
  guard& operator=(const guard&) = delete;
  ~guard() {
    if (armed) release_one();
  }
  bool armed{false};
};
struct guards {
  guard g[4];
  explicit guards(int n) {
    for (int i = 0; i < n; ++i) g[i].armed = true;
  }
};

// Waits for the worker to announce it is about to block, then gives it time to get there.
void until_blocked() {
  while (g_blocked.load() == 0) std::this_thread::yield();
  std::this_thread::sleep_for(50us);
}

void check_released(long before, int samples) {
  if (g_released.load() - before != static_cast<long>(samples) * g_cleanups) {
    std::fprintf(stderr, "cleanup count mismatch\n");
    std::abort();
  }
}

// ---------------------------------------------------------------- stop of a sleeping worker

big_worker g_sleeper;

void steward_stop_sleeping(series& out, std::size_t round, int count) {
  steward::worker_config cfg;
  cfg.name = "bench-sleeper";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    for (int i = 0; i < g_cleanups; ++i) STEWARD_TRY(ctx.defer(&release_one));
    g_blocked.store(1);
    return ctx.sleep_for(1h);
  };
  if (!g_sleeper.configure(cfg)) std::abort();
  const long before = g_released.load();
  for (int i = 0; i < count; ++i) {
    g_blocked = 0;
    if (!g_sleeper.start()) std::abort();
    until_blocked();
    auto t0 = clk::now();
    auto r = g_sleeper.stop(5s);
    out.add(round, ns_since(t0));
    if (!r || r->reason != steward::exit_reason::stopped) std::abort();
  }
  check_released(before, count);
}

void jthread_stop_sleeping(series& out, std::size_t round, int count) {
#if defined(STEWARD_BENCH_HAVE_JTHREAD)
  const long before = g_released.load();
  for (int i = 0; i < count; ++i) {
    g_blocked = 0;
    std::jthread t([](std::stop_token st) {
      guards held(g_cleanups);
      std::mutex m;
      std::condition_variable_any cv;
      std::unique_lock<std::mutex> lock(m);
      g_blocked = 1;
      cv.wait_for(lock, st, 1h, [] { return false; });
    });
    until_blocked();
    auto t0 = clk::now();
    t.request_stop();
    t.join();
    out.add(round, ns_since(t0));
  }
  check_released(before, count);
#else
  (void)out, (void)round, (void)count;
#endif
}

// A parked thread stopped by flag + futex wake, acknowledged through a second futex once its
// releases ran: the hand-rolled floor steward's stop is built from (no OS thread joined).
void futex_stop_sleeping(series& out, std::size_t round, int count) {
  std::atomic<std::uint32_t> stop{0}, done{0}, go{0};
  std::atomic<bool> quit{false};
  std::thread t([&] {
    for (;;) {
      while (go.load() == 0) futex_wait(go, 0);
      go = 0;
      if (quit) return;
      g_blocked = 1;
      while (stop.load() == 0) futex_wait(stop, 0);
      stop = 0;
      for (int i = 0; i < g_cleanups; ++i) release_one();
      done.store(1);
      futex_wake(done);
    }
  });
  const long before = g_released.load();
  for (int i = 0; i < count; ++i) {
    g_blocked = 0;
    done = 0;
    go = 1;
    futex_wake(go);
    until_blocked();
    auto t0 = clk::now();
    stop.store(1);
    futex_wake(stop);
    while (done.load() == 0) futex_wait(done, 0);
    out.add(round, ns_since(t0));
  }
  quit = true;
  go = 1;
  futex_wake(go);
  t.join();
  check_released(before, count);
}

// ---------------------------------------------------------------- stop of an fd-blocked worker

big_worker g_reader;

void steward_stop_fd(series& out, std::size_t round, int count) {
  steward::worker_config cfg;
  cfg.name = "bench-reader";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    for (int i = 0; i < g_cleanups; ++i) STEWARD_TRY(ctx.defer(&release_one));
    g_blocked.store(1);
    auto r = ctx.wait_readable(g_pipe_read);
    if (!r) return steward::fail(r.error());
    return {};
  };
  if (!g_reader.configure(cfg)) std::abort();
  const long before = g_released.load();
  for (int i = 0; i < count; ++i) {
    g_blocked = 0;
    if (!g_reader.start()) std::abort();
    until_blocked();
    auto t0 = clk::now();
    auto r = g_reader.stop(5s);
    out.add(round, ns_since(t0));
    if (!r || r->reason != steward::exit_reason::stopped) std::abort();
  }
  check_released(before, count);
}

void wait_fd_or_event(int efd) {
  pollfd fds[2] = {{g_pipe_read, POLLIN, 0}, {efd, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) > 0 && (fds[1].revents & POLLIN) != 0) break;
  }
  std::uint64_t v;
  if (read(efd, &v, sizeof v) < 0) std::abort();
}

void poll_stop_fd(series& out, std::size_t round, int count) {
  const int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  std::atomic<std::uint32_t> done{0}, go{0};
  std::atomic<bool> quit{false};
  std::thread t([&] {
    for (;;) {
      while (go.load() == 0) futex_wait(go, 0);
      go = 0;
      if (quit) return;
      g_blocked = 1;
      wait_fd_or_event(efd);
      for (int i = 0; i < g_cleanups; ++i) release_one();
      done.store(1);
      futex_wake(done);
    }
  });
  const long before = g_released.load();
  for (int i = 0; i < count; ++i) {
    g_blocked = 0;
    done = 0;
    go = 1;
    futex_wake(go);
    until_blocked();
    auto t0 = clk::now();
    const std::uint64_t one = 1;
    if (write(efd, &one, sizeof one) != sizeof one) std::abort();
    while (done.load() == 0) futex_wait(done, 0);
    out.add(round, ns_since(t0));
  }
  quit = true;
  go = 1;
  futex_wake(go);
  t.join();
  close(efd);
  check_released(before, count);
}

void jthread_stop_fd(series& out, std::size_t round, int count) {
#if defined(STEWARD_BENCH_HAVE_JTHREAD)
  const int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const long before = g_released.load();
  for (int i = 0; i < count; ++i) {
    g_blocked = 0;
    std::jthread t([efd](std::stop_token st) {
      guards held(g_cleanups);
      std::stop_callback wake(st, [efd] {
        const std::uint64_t one = 1;
        if (write(efd, &one, sizeof one) != sizeof one) std::abort();
      });
      g_blocked = 1;
      wait_fd_or_event(efd);
    });
    until_blocked();
    auto t0 = clk::now();
    t.request_stop();
    t.join();
    out.add(round, ns_since(t0));
  }
  close(efd);
  check_released(before, count);
#else
  (void)out, (void)round, (void)count;
#endif
}

struct stop_block {
  stop_block(const char* thread_impl, const char* raw_impl) : jthread(thread_impl), raw(raw_impl) {}
  series steward{"steward"}, jthread, raw;
};

}  // namespace

int main(int argc, char** argv) {
  const auto opt = bench::parse_options(argc, argv, "steward_bench");
  bench::print_loadavg(opt, "start");
  const int pause_count = opt.quick ? 100 : 400;  // per round
  const int stop_count = opt.quick ? 40 : 200;    // per round
  g_iters = opt.quick ? 10'000'000 : 50'000'000;
  std::printf("steward control latencies: %d rounds (%u CPUs)\n", opt.rounds, std::thread::hardware_concurrency());
#if !defined(STEWARD_BENCH_HAVE_JTHREAD)
  bench::note(opt, "built without C++20: no std::jthread baselines (scripts/bench.sh builds with C++20)");
#endif
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return 1;
  g_pipe_read = fds[0];

  series cp_empty("empty_loop"), cp_load("acquire_load"), cp_steward("steward");
  series pause_futex("futex"), pause_cv("mutex_condvar"), pause_steward("steward");
  series resume_futex("futex"), resume_steward("steward");
  stop_block sleep_c0("jthread_cv", "futex_ack"), sleep_c4("jthread_cv", "futex_ack");
  stop_block fd_c0("jthread_poll", "poll_eventfd_ack"), fd_c4("jthread_poll", "poll_eventfd_ack");

  for (int r = 0; r < opt.rounds; ++r) {
    const auto round = static_cast<std::size_t>(r);
    const bool flip = (r % 2) == 1;
    in_order(flip, {[&] { cp_empty.add(round, empty_loop()); }, [&] { cp_load.add(round, acquire_load_loop()); },
                    [&] { cp_steward.add(round, steward_checkpoint_loop()); }});
    in_order(flip, {[&] { futex_pause(pause_futex, resume_futex, round, pause_count); },
                    [&] { condvar_pause(pause_cv, round, pause_count); },
                    [&] { steward_pause(pause_steward, resume_steward, round, pause_count); }});
    for (int c : {0, 4}) {
      g_cleanups = c;
      auto& s = c == 0 ? sleep_c0 : sleep_c4;
      auto& f = c == 0 ? fd_c0 : fd_c4;
      in_order(flip, {[&] { futex_stop_sleeping(s.raw, round, stop_count); },
                      [&] { jthread_stop_sleeping(s.jthread, round, stop_count); },
                      [&] { steward_stop_sleeping(s.steward, round, stop_count); }});
      in_order(flip, {[&] { poll_stop_fd(f.raw, round, stop_count); },
                      [&] { jthread_stop_fd(f.jthread, round, stop_count); },
                      [&] { steward_stop_fd(f.steward, round, stop_count); }});
    }
  }

  using bench::report;
  report("checkpoint", cp_load, cp_load);
  report("checkpoint", cp_empty, cp_load);
  report("checkpoint", cp_steward, cp_load, {1.0});
  report("pause_ack", pause_futex, pause_futex);
  report("pause_ack", pause_cv, pause_futex);
  report("pause_ack", pause_steward, pause_futex, {1.0});
  report("resume_running", resume_futex, resume_futex);
  report("resume_running", resume_steward, resume_futex, {1.0});
  const char* names[] = {"stop_sleeping_c0", "stop_sleeping_c4", "stop_fd_c0", "stop_fd_c4"};
  stop_block* blocks[] = {&sleep_c0, &sleep_c4, &fd_c0, &fd_c4};
  for (int i = 0; i < 4; ++i) {
    auto& b = *blocks[i];
    report(names[i], b.raw, b.raw);
    report(names[i], b.jthread, b.jthread);
    report(names[i], b.steward, b.jthread, {0.8});
    report(names[i], b.steward, b.raw, {2.0});
  }
  bench::print_table("steward control latencies (ratio: median of per-round ratios, range over rounds)");
  close(fds[0]);
  close(fds[1]);
  bench::print_loadavg(opt, "end");
  return 0;
}
