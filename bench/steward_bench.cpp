// steward benchmarks. Every figure is printed beside a baseline measured in the same run, and
// as a ratio (steward / baseline): absolute times drift between machines and runs.
//
//   checkpoint      cost per loop iteration: steward checkpoint() vs a bare acquire load
//   pause->ack      pause() request to acknowledged park vs a hand-rolled futex and a
//                   mutex+condvar pause-with-acknowledgement
//   resume          resume() to the worker running again vs a futex wake of a parked thread
//   stop sleeping   stop() of a worker in sleep_for(1 h) until its cleanup ran, vs std::jthread
//                   + condition_variable_any::wait_for(stop_token) request_stop + join
//   stop fd-blocked stop() of a worker blocked in wait_readable() vs a thread in poll() on the
//                   fd and an eventfd, woken by a write and joined
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>
#if defined(STEWARD_BENCH_HAVE_JTHREAD)
#include <stop_token>
#endif

#include "steward/core/worker.hpp"

namespace {

using clk = std::chrono::steady_clock;
using namespace std::chrono_literals;

double ns_between(clk::time_point a, clk::time_point b) {
  return std::chrono::duration<double, std::nano>(b - a).count();
}

struct stats {
  double median{0};
  double p99{0};
};

stats summarize(std::vector<double>& v) {
  std::sort(v.begin(), v.end());
  stats s;
  s.median = v[v.size() / 2];
  s.p99 = v[std::min(v.size() - 1, v.size() * 99 / 100)];
  return s;
}

void row(const char* what, const char* who, stats s, stats base) {
  std::printf("| %-16s | %-48s | %9.2f | %9.2f | %6.2fx | %6.2fx |\n", what, who, s.median / 1000.0,
              s.p99 / 1000.0, s.median / base.median, s.p99 / base.p99);
}

void header() {
  std::printf("| %-16s | %-48s | %9s | %9s | %7s | %7s |\n", "benchmark", "implementation", "median us",
              "p99 us", "ratio", "p99 ratio");
  std::printf(
      "|------------------|--------------------------------------------------|-----------|-----------|-------"
      "--|---------|\n");
}

long futex(std::atomic<std::uint32_t>* word, int op, std::uint32_t val) {
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op | FUTEX_PRIVATE_FLAG, val, nullptr,
                 nullptr, 0);
}
void futex_wait(std::atomic<std::uint32_t>& w, std::uint32_t v) {
  futex(&w, FUTEX_WAIT, v);
}
void futex_wake(std::atomic<std::uint32_t>& w) {
  futex(&w, FUTEX_WAKE, 1);
}

using big_worker = steward::static_worker<256 * 1024, 4>;

int g_rounds = 2000;

// ---------------------------------------------------------------- checkpoint
struct checkpoint_result {
  double plain_ns, load_ns, steward_ns;
};

checkpoint_result bench_checkpoint() {
  constexpr long k_iters = 200'000'000;
  checkpoint_result out{};
  {
    auto t0 = clk::now();
    for (long i = 0; i < k_iters; ++i) asm volatile("" ::: "memory");
    out.plain_ns = ns_between(t0, clk::now()) / k_iters;
  }
  {
    std::atomic<std::uint32_t> flag{0};
    long seen = 0;
    auto t0 = clk::now();
    for (long i = 0; i < k_iters; ++i) {
      if (flag.load(std::memory_order_acquire) != 0) ++seen;
      asm volatile("" ::: "memory");
    }
    out.load_ns = ns_between(t0, clk::now()) / k_iters;
    if (seen != 0) std::abort();
  }
  static big_worker w;
  static std::atomic<double> result{0};
  steward::worker_config cfg;
  cfg.name = "bench-checkpoint";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    auto t0 = clk::now();
    for (long i = 0; i < k_iters; ++i) {
      STEWARD_TRY(ctx.checkpoint());
      asm volatile("" ::: "memory");
    }
    result = ns_between(t0, clk::now()) / k_iters;
    return {};
  };
  if (!w.configure(cfg) || !w.start()) std::abort();
  while (!steward::is_terminal(w.state())) std::this_thread::sleep_for(1ms);
  out.steward_ns = result.load();
  return out;
}

// ---------------------------------------------------------------- pause / resume (steward)
struct spin_probe {
  std::atomic<long> iterations{0};
};
spin_probe g_spin;
big_worker g_spinner;

void bench_steward_pause(std::vector<double>& pause_ns, std::vector<double>& resume_ns) {
  steward::worker_config cfg;
  cfg.name = "bench-spinner";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    for (;;) {
      STEWARD_TRY(ctx.checkpoint());
      g_spin.iterations.fetch_add(1, std::memory_order_release);
    }
  };
  if (!g_spinner.configure(cfg) || !g_spinner.start()) std::abort();
  while (g_spin.iterations.load() < 1000) std::this_thread::yield();
  for (int i = 0; i < g_rounds; ++i) {
    auto t0 = clk::now();
    if (!g_spinner.pause(5s)) std::abort();
    pause_ns.push_back(ns_between(t0, clk::now()));
    const long parked_at = g_spin.iterations.load(std::memory_order_acquire);
    auto t1 = clk::now();
    if (!g_spinner.resume()) std::abort();
    while (g_spin.iterations.load(std::memory_order_acquire) == parked_at) {
    }
    resume_ns.push_back(ns_between(t1, clk::now()));  // until the worker is seen running
    const long at = g_spin.iterations.load();
    while (g_spin.iterations.load() < at + 100) {
    }
  }
  if (!g_spinner.stop(5s)) std::abort();
}

// ---------------------------------------------------------------- pause / resume (futex baseline)
void bench_futex_pause(std::vector<double>& pause_ns, std::vector<double>& resume_ns) {
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
  for (int i = 0; i < g_rounds; ++i) {
    auto t0 = clk::now();
    request.store(1, std::memory_order_release);
    while (parked.load(std::memory_order_acquire) == 0) futex_wait(parked, 0);
    pause_ns.push_back(ns_between(t0, clk::now()));
    const long parked_at = iterations.load(std::memory_order_acquire);
    auto t1 = clk::now();
    request.store(0, std::memory_order_release);
    futex_wake(request);
    while (iterations.load(std::memory_order_acquire) == parked_at) {
    }
    resume_ns.push_back(ns_between(t1, clk::now()));
    const long at = iterations.load();
    while (iterations.load() < at + 100) {
    }
  }
  quit = true;
  worker.join();
}

// ---------------------------------------------------------------- pause (mutex + condvar baseline)
void bench_condvar_pause(std::vector<double>& pause_ns) {
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
  for (int i = 0; i < g_rounds; ++i) {
    auto t0 = clk::now();
    {
      std::unique_lock<std::mutex> lock(m);
      request = true;
      request_hint = true;
      cv.wait(lock, [&] { return parked; });
    }
    pause_ns.push_back(ns_between(t0, clk::now()));
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

// ---------------------------------------------------------------- stop of a sleeping worker
big_worker g_sleeper;
std::atomic<int> g_sleeping{0};

void bench_steward_stop_sleeping(std::vector<double>& out) {
  steward::worker_config cfg;
  cfg.name = "bench-sleeper";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    g_sleeping.store(1);
    return ctx.sleep_for(1h);
  };
  if (!g_sleeper.configure(cfg)) std::abort();
  for (int i = 0; i < g_rounds / 4; ++i) {
    g_sleeping = 0;
    if (!g_sleeper.start()) std::abort();
    while (g_sleeping.load() == 0) std::this_thread::yield();
    std::this_thread::sleep_for(50us);  // let it reach the futex
    auto t0 = clk::now();
    auto r = g_sleeper.stop(5s);
    out.push_back(ns_between(t0, clk::now()));
    if (!r) std::abort();
  }
}

void bench_jthread_stop_sleeping(std::vector<double>& out) {
#if defined(STEWARD_BENCH_HAVE_JTHREAD)
  for (int i = 0; i < g_rounds / 4; ++i) {
    std::atomic<int> sleeping{0};
    std::jthread t([&](std::stop_token st) {
      std::mutex m;
      std::condition_variable_any cv;
      std::unique_lock<std::mutex> lock(m);
      sleeping = 1;
      cv.wait_for(lock, st, 1h, [] { return false; });
    });
    while (sleeping.load() == 0) std::this_thread::yield();
    std::this_thread::sleep_for(50us);
    auto t0 = clk::now();
    t.request_stop();
    t.join();
    out.push_back(ns_between(t0, clk::now()));
  }
#else
  (void)out;
#endif
}

void bench_futex_stop_sleeping(std::vector<double>& out) {
  // A parked thread stopped by flag + futex wake, acknowledged through a second futex: the
  // hand-rolled floor steward's stop is built from (without joining an OS thread).
  std::atomic<std::uint32_t> stop{0}, done{0}, go{0};
  std::atomic<int> sleeping{0};
  std::atomic<bool> quit{false};
  std::thread t([&] {
    for (;;) {
      while (go.load() == 0) futex_wait(go, 0);
      go = 0;
      if (quit) return;
      sleeping = 1;
      while (stop.load() == 0) futex_wait(stop, 0);
      stop = 0;
      done.store(1);
      futex_wake(done);
    }
  });
  for (int i = 0; i < g_rounds / 4; ++i) {
    sleeping = 0;
    done = 0;
    go = 1;
    futex_wake(go);
    while (sleeping.load() == 0) std::this_thread::yield();
    std::this_thread::sleep_for(50us);
    auto t0 = clk::now();
    stop.store(1);
    futex_wake(stop);
    while (done.load() == 0) futex_wait(done, 0);
    out.push_back(ns_between(t0, clk::now()));
  }
  quit = true;
  go = 1;
  futex_wake(go);
  t.join();
}

// ---------------------------------------------------------------- stop of an fd-blocked worker
big_worker g_reader;
int g_pipe_read = -1;

void bench_steward_stop_fd(std::vector<double>& out) {
  steward::worker_config cfg;
  cfg.name = "bench-reader";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    g_sleeping.store(1);
    auto r = ctx.wait_readable(g_pipe_read);
    if (!r) return steward::fail(r.error());
    return {};
  };
  if (!g_reader.configure(cfg)) std::abort();
  for (int i = 0; i < g_rounds / 4; ++i) {
    g_sleeping = 0;
    if (!g_reader.start()) std::abort();
    while (g_sleeping.load() == 0) std::this_thread::yield();
    std::this_thread::sleep_for(50us);  // let it reach ppoll
    auto t0 = clk::now();
    auto r = g_reader.stop(5s);
    out.push_back(ns_between(t0, clk::now()));
    if (!r) std::abort();
  }
}

void bench_poll_thread_stop_fd(std::vector<double>& out) {
  const int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  std::atomic<std::uint32_t> done{0}, go{0};
  std::atomic<int> blocked{0};
  std::atomic<bool> quit{false};
  std::thread t([&] {
    for (;;) {
      while (go.load() == 0) futex_wait(go, 0);
      go = 0;
      if (quit) return;
      blocked = 1;
      pollfd fds[2] = {{g_pipe_read, POLLIN, 0}, {efd, POLLIN, 0}};
      while (poll(fds, 2, -1) <= 0) {
      }
      std::uint64_t v;
      if (read(efd, &v, sizeof v) < 0) std::abort();
      done.store(1);
      futex_wake(done);
    }
  });
  for (int i = 0; i < g_rounds / 4; ++i) {
    blocked = 0;
    done = 0;
    go = 1;
    futex_wake(go);
    while (blocked.load() == 0) std::this_thread::yield();
    std::this_thread::sleep_for(50us);
    auto t0 = clk::now();
    const std::uint64_t one = 1;
    if (write(efd, &one, sizeof one) != sizeof one) std::abort();
    while (done.load() == 0) futex_wait(done, 0);
    out.push_back(ns_between(t0, clk::now()));
  }
  quit = true;
  go = 1;
  futex_wake(go);
  t.join();
  close(efd);
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) g_rounds = 200;
  }
  std::printf("steward benchmarks: %d rounds per latency figure (%u CPUs)\n\n", g_rounds,
              std::thread::hardware_concurrency());

  const auto cp = bench_checkpoint();
  std::printf("checkpoint, per loop iteration (200M iterations):\n");
  std::printf("| implementation | ns/iteration | added over empty loop |\n|---|---|---|\n");
  std::printf("| empty loop | %.3f | - |\n", cp.plain_ns);
  std::printf("| acquire load of a flag (floor) | %.3f | %.3f |\n", cp.load_ns, cp.load_ns - cp.plain_ns);
  std::printf("| steward checkpoint() | %.3f | %.3f |\n", cp.steward_ns, cp.steward_ns - cp.plain_ns);
  std::printf("checkpoint / acquire-load ratio: %.2fx\n\n", cp.steward_ns / cp.load_ns);

  std::vector<double> sp, sr, fp, fr, cvp;
  const auto n = static_cast<std::size_t>(g_rounds);
  sp.reserve(n);
  sr.reserve(n);
  fp.reserve(n);
  fr.reserve(n);
  cvp.reserve(n);
  bench_steward_pause(sp, sr);
  bench_futex_pause(fp, fr);
  bench_condvar_pause(cvp);

  std::vector<double> ss, js, fs, sf, pf;
  bench_steward_stop_sleeping(ss);
  bench_jthread_stop_sleeping(js);
  bench_futex_stop_sleeping(fs);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return 1;
  g_pipe_read = fds[0];
  bench_steward_stop_fd(sf);
  bench_poll_thread_stop_fd(pf);

  const auto s_pause = summarize(sp), f_pause = summarize(fp), c_pause = summarize(cvp);
  const auto s_resume = summarize(sr), f_resume = summarize(fr);
  const auto s_stop = summarize(ss), f_stop = summarize(fs);
  const auto s_fd = summarize(sf), p_fd = summarize(pf);
  std::printf("latencies (ratio = steward or baseline / first baseline of the block):\n");
  header();
  row("pause -> ack", "raw futex handshake (baseline)", f_pause, f_pause);
  row("pause -> ack", "mutex + condvar with acknowledgement", c_pause, f_pause);
  row("pause -> ack", "steward pause()", s_pause, f_pause);
  row("resume -> run", "raw futex wake (baseline)", f_resume, f_resume);
  row("resume -> run", "steward resume()", s_resume, f_resume);
  row("stop sleeping", "raw futex stop + ack, no join (baseline)", f_stop, f_stop);
  if (!js.empty()) {
    const auto j_stop = summarize(js);
    row("stop sleeping", "std::jthread + cv_any wait_for(stop_token), join", j_stop, f_stop);
    row("stop sleeping", "steward stop() of sleep_for(1h)", s_stop, f_stop);
    std::printf("steward stop / jthread stop (median): %.2fx\n", s_stop.median / j_stop.median);
  } else {
    row("stop sleeping", "steward stop() of sleep_for(1h)", s_stop, f_stop);
    std::printf("(build with -DSTEWARD_CXX_STANDARD=20 for the std::jthread baseline)\n");
  }
  row("stop fd-blocked", "poll() + eventfd write (baseline)", p_fd, p_fd);
  row("stop fd-blocked", "steward stop() of wait_readable()", s_fd, p_fd);
  close(fds[0]);
  close(fds[1]);
  return 0;
}
