// steward::pool against a plain mutex + condvar + std::function pool measured in the same run
// (issue 11), in rounds that alternate the implementations (bench_common.hpp).
//
//   ring_handoff        one producer and one consumer thread moving values through the queue
//                       (per value): the lock-free mpmc_ring vs the same ring around a PI mutex
//   ring_uncontended    push + pop on one thread: the same two rings
//   submit_to_start     idle pool: submit() to the task's first instruction
//   tiny_task           one producer, 2 pool threads, per task (submit to all done / n)
//   pause_all_8         8 tasks looping over a 1 ms sleep on 8 threads: pause() until all parked,
//                       vs a shared flag + condvar + acknowledgement counter
//   resume_all_8        resume() until all 8 run again, vs the same; also a raw futex broadcast
//                       (no mutex, no lifecycle) as the floor any protocol pays on this machine
// The allocations per task of each pool are printed as a NOTE (global operator new counted).
// Usage: steward_pool_bench [--quick] [--rounds N]
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "steward/core/mpmc_ring.hpp"
#include "steward/core/pool.hpp"

namespace {
std::atomic<std::uint64_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
#if STEWARD_USING_EXCEPTIONS
  throw std::bad_alloc();
#else
  std::abort();  // out of memory in a benchmark, built without exceptions
#endif
}
// The pair replaces the global allocator consistently; GCC cannot see that across the replacement.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
#pragma GCC diagnostic pop

namespace {

using namespace std::chrono_literals;
using bench::clk;
using bench::series;

// ---------------------------------------------------------------- rings

template <class Ring>
double ring_handoff(Ring& ring, int n) {
  std::atomic<bool> go{false};
  std::thread consumer([&] {
    while (!go.load(std::memory_order_acquire)) {
    }
    std::uint32_t v = 0;
    for (int got = 0; got < n;) {
      if (ring.try_pop(v)) ++got;
    }
  });
  const auto t0 = clk::now();
  go.store(true, std::memory_order_release);
  for (int i = 0; i < n;) {
    if (ring.try_push(static_cast<std::uint32_t>(i))) ++i;
  }
  consumer.join();
  return bench::ns_since(t0) / n;
}

template <class Ring>
double ring_uncontended(Ring& ring, int n) {
  const auto t0 = clk::now();
  std::uint32_t v = 0;
  for (int i = 0; i < n; ++i) {
    if (!ring.try_push(static_cast<std::uint32_t>(i)) || !ring.try_pop(v)) std::abort();
  }
  return bench::ns_since(t0) / n;
}

// ---------------------------------------------------------------- the plain pool (baseline)

class plain_pool {
 public:
  explicit plain_pool(int threads) {
    for (int i = 0; i < threads; ++i) m_threads.emplace_back([this] { run(); });
  }
  ~plain_pool() {
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_closed = true;
    }
    m_cv.notify_all();
    for (auto& t : m_threads) t.join();
  }
  plain_pool(const plain_pool&) = delete;
  plain_pool& operator=(const plain_pool&) = delete;
  void submit(std::function<void()> f) {
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_queue.push_back(std::move(f));
    }
    m_cv.notify_one();
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> f;
      {
        std::unique_lock<std::mutex> lock(m_mutex);
        m_cv.wait(lock, [this] { return m_closed || !m_queue.empty(); });
        if (m_queue.empty()) return;
        f = std::move(m_queue.front());
        m_queue.pop_front();
      }
      f();
    }
  }
  std::mutex m_mutex;
  std::condition_variable m_cv;
  std::deque<std::function<void()>> m_queue;
  bool m_closed{false};
  std::vector<std::thread> m_threads;
};

#if defined(__SANITIZE_THREAD__)
constexpr std::size_t k_stack = 1024U * 1024U;
#else
constexpr std::size_t k_stack = 128U * 1024U;
#endif
using pool2 = steward::pool<2, 1024, 64, k_stack>;
using pool8 = steward::pool<8, 16, 64, k_stack>;

// A 40-byte capture, as in the anchor figure for the plain pool.
struct payload {
  std::atomic<std::int64_t>* started;
  std::atomic<std::uint32_t>* done;
  std::int64_t pad[3];
};

void wait_done(std::atomic<std::uint32_t>& done, std::uint32_t target) {
  for (;;) {
    const std::uint32_t seen = done.load(std::memory_order_acquire);
    if (seen >= target) return;
    bench::futex_wait(done, seen);
  }
}

double steward_submit_to_start(pool2& p, std::atomic<std::int64_t>& started, std::atomic<std::uint32_t>& done,
                               std::uint32_t n) {
  payload pl{&started, &done, {}};
  const auto t0 = bench::now_ns();
  auto h = p.submit([pl] {
    pl.started->store(bench::now_ns(), std::memory_order_relaxed);
    pl.done->fetch_add(1, std::memory_order_release);
    bench::futex_wake(*pl.done);
  });
  if (!h) std::abort();
  wait_done(done, n);
  return static_cast<double>(started.load(std::memory_order_relaxed) - t0);
}

double plain_submit_to_start(plain_pool& p, std::atomic<std::int64_t>& started,
                             std::atomic<std::uint32_t>& done, std::uint32_t n) {
  payload pl{&started, &done, {}};
  const auto t0 = bench::now_ns();
  p.submit([pl] {
    pl.started->store(bench::now_ns(), std::memory_order_relaxed);
    pl.done->fetch_add(1, std::memory_order_release);
    bench::futex_wake(*pl.done);
  });
  wait_done(done, n);
  return static_cast<double>(started.load(std::memory_order_relaxed) - t0);
}

template <class Submit>
double tiny_tasks(std::atomic<std::uint32_t>& done, std::uint32_t base, int n, Submit submit) {
  const auto t0 = clk::now();
  for (int i = 0; i < n; ++i) submit();
  wait_done(done, base + static_cast<std::uint32_t>(n));
  return bench::ns_since(t0) / n;
}

// ---------------------------------------------------------------- pause / resume of 8 sleepers

struct sleepers {
  std::atomic<bool> quit{false};
  std::atomic<std::uint64_t> ticks[8]{};
};

// Shared flag + condvar + acknowledgement counter: the hand-rolled pause.
class flag_pause {
 public:
  explicit flag_pause(sleepers& s) : m_s(s) {
    for (int i = 0; i < 8; ++i) m_threads.emplace_back([this, i] { run(i); });
  }
  ~flag_pause() {
    m_s.quit.store(true);
    resume();
    for (auto& t : m_threads) t.join();
  }
  flag_pause(const flag_pause&) = delete;
  flag_pause& operator=(const flag_pause&) = delete;
  void pause() {
    std::unique_lock<std::mutex> lock(m_mutex);
    m_paused = true;
    m_ack_cv.wait(lock, [this] { return m_parked == 8; });
  }
  void resume() {
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_paused = false;
    }
    m_cv.notify_all();
  }

 private:
  void run(int i) {
    while (!m_s.quit.load()) {
      {
        std::unique_lock<std::mutex> lock(m_mutex);
        if (m_paused) {
          ++m_parked;
          m_ack_cv.notify_one();
          m_cv.wait(lock, [this] { return !m_paused; });
          --m_parked;
        }
      }
      m_s.ticks[i].fetch_add(1, std::memory_order_release);  // running again
      std::this_thread::sleep_for(1ms);
    }
  }
  sleepers& m_s;
  std::mutex m_mutex;
  std::condition_variable m_cv, m_ack_cv;
  bool m_paused{false};
  int m_parked{0};
  std::vector<std::thread> m_threads;
};

// The floor: one futex word, one broadcast wake, no mutex and no lifecycle. What unparking 8
// sleeping threads costs on this machine whatever the protocol; shown next to the others.
class futex_pause {
 public:
  explicit futex_pause(sleepers& s) : m_s(s) {
    for (int i = 0; i < 8; ++i) m_threads.emplace_back([this, i] { run(i); });
  }
  ~futex_pause() {
    m_s.quit.store(true);
    resume();
    for (auto& t : m_threads) t.join();
  }
  futex_pause(const futex_pause&) = delete;
  futex_pause& operator=(const futex_pause&) = delete;
  void pause() {
    m_paused.store(1, std::memory_order_seq_cst);
    while (m_parked.load(std::memory_order_seq_cst) != 8) std::this_thread::yield();
  }
  void resume() {
    m_paused.store(0, std::memory_order_seq_cst);
    m_word.fetch_add(1, std::memory_order_seq_cst);
    bench::futex_wake_all(m_word);
  }

 private:
  void run(int i) {
    while (!m_s.quit.load()) {
      if (m_paused.load(std::memory_order_seq_cst) != 0) {
        m_parked.fetch_add(1, std::memory_order_seq_cst);
        for (;;) {
          const std::uint32_t seen = m_word.load(std::memory_order_seq_cst);  // before the flag
          if (m_paused.load(std::memory_order_seq_cst) == 0 || m_s.quit.load()) break;
          bench::futex_wait(m_word, seen);
        }
        m_parked.fetch_sub(1, std::memory_order_seq_cst);
      }
      m_s.ticks[i].fetch_add(1, std::memory_order_release);
      std::this_thread::sleep_for(1ms);
    }
  }
  sleepers& m_s;
  std::atomic<std::uint32_t> m_paused{0}, m_parked{0}, m_word{0};
  std::vector<std::thread> m_threads;
};

double until_all_ticked(sleepers& s, const std::uint64_t (&before)[8], clk::time_point t0) {
  for (int i = 0; i < 8; ++i) {
    while (s.ticks[i].load(std::memory_order_acquire) == before[i]) std::this_thread::yield();
  }
  return bench::ns_since(t0);
}

void snapshot_ticks(sleepers& s, std::uint64_t (&out)[8]) {
  for (int i = 0; i < 8; ++i) out[i] = s.ticks[i].load(std::memory_order_acquire);
}

}  // namespace

int main(int argc, char** argv) {
  const auto o = bench::parse_options(argc, argv, "steward_pool_bench");
  bench::print_loadavg(o, "start");
  const int ring_n = o.quick ? 200'000 : 2'000'000;
  const int start_samples = o.quick ? 300 : 2000;
  const int tiny_n = o.quick ? 50'000 : 400'000;
  const int pause_samples = o.quick ? 30 : 150;

  // Rings.
  series lockfree_h("mpmc_ring"), locked_h("locked_ring"), lockfree_u("mpmc_ring"), locked_u("locked_ring");
  for (int r = 0; r < o.rounds; ++r) {
    const auto round = static_cast<std::size_t>(r);
    for (int k = 0; k < 5; ++k) {
      auto a = std::make_unique<steward::mpmc_ring<1024>>();
      auto b = std::make_unique<steward::locked_ring<1024>>();
      if ((r + k) % 2 == 0) {
        lockfree_h.add(round, ring_handoff(*a, ring_n / 5));
        locked_h.add(round, ring_handoff(*b, ring_n / 5));
      } else {
        locked_h.add(round, ring_handoff(*b, ring_n / 5));
        lockfree_h.add(round, ring_handoff(*a, ring_n / 5));
      }
      lockfree_u.add(round, ring_uncontended(*a, ring_n / 5));
      locked_u.add(round, ring_uncontended(*b, ring_n / 5));
    }
  }
  bench::report("ring_handoff", lockfree_h, locked_h);
  bench::report("ring_uncontended", lockfree_u, locked_u);

  // Pools: submit to start, tiny tasks, allocations.
  auto sp = std::make_unique<pool2>("bench-pool");
  if (!sp->start()) return 1;
  auto pp = std::make_unique<plain_pool>(2);
  std::atomic<std::int64_t> started{0};
  std::atomic<std::uint32_t> sdone{0}, pdone{0};
  series s_start("steward_pool"), p_start("plain_pool"), s_tiny("steward_pool"), p_tiny("plain_pool");
  double s_allocs = 0, p_allocs = 0;
  for (int r = 0; r < o.rounds; ++r) {
    const auto round = static_cast<std::size_t>(r);
    for (int i = 0; i < start_samples; ++i) {
      std::this_thread::sleep_for(50us);  // let the threads go idle
      if ((r + i) % 2 == 0) {
        s_start.add(round, steward_submit_to_start(*sp, started, sdone, sdone.load() + 1));
        p_start.add(round, plain_submit_to_start(*pp, started, pdone, pdone.load() + 1));
      } else {
        p_start.add(round, plain_submit_to_start(*pp, started, pdone, pdone.load() + 1));
        s_start.add(round, steward_submit_to_start(*sp, started, sdone, sdone.load() + 1));
      }
    }
    payload pl{&started, &sdone, {}};
    auto steward_one = [&] {
      auto h = sp->submit(
          [pl] {
            pl.done->fetch_add(1, std::memory_order_release);
            bench::futex_wake(*pl.done);
          },
          {"tiny", std::chrono::seconds(10)});
      if (!h) std::abort();
    };
    payload ppl{&started, &pdone, {}};
    auto plain_one = [&] {
      pp->submit([ppl] {
        ppl.done->fetch_add(1, std::memory_order_release);
        bench::futex_wake(*ppl.done);
      });
    };
    for (int k = 0; k < 2; ++k) {
      const bool steward_first = (r + k) % 2 == 0;
      for (int which = 0; which < 2; ++which) {
        const bool steward_now = (which == 0) == steward_first;
        const auto a0 = g_allocations.load();
        if (steward_now) {
          s_tiny.add(round, tiny_tasks(sdone, sdone.load(), tiny_n / 2, steward_one));
          s_allocs = static_cast<double>(g_allocations.load() - a0) / (tiny_n / 2);
        } else {
          p_tiny.add(round, tiny_tasks(pdone, pdone.load(), tiny_n / 2, plain_one));
          p_allocs = static_cast<double>(g_allocations.load() - a0) / (tiny_n / 2);
        }
      }
    }
  }
  bench::report("submit_to_start", s_start, p_start, {1.0, 0});
  bench::report("tiny_task", s_tiny, p_tiny, {1.0, 0});
  char text[160];
  std::snprintf(text, sizeof text, "allocations per task: steward_pool %.3f plain_pool %.3f", s_allocs,
                p_allocs);
  bench::note(o, text);
  static_cast<void>(sp->shutdown(steward::shutdown_mode::drain, std::chrono::seconds(10)));
  pp.reset();

  // Pause / resume of 8 sleeping tasks.
  series s_pause("steward_pool"), f_pause("flag_condvar"), s_resume("steward_pool"), f_resume("flag_condvar"),
      x_resume("raw_futex_floor");
  {
    sleepers ss, fs, xs;
    auto p8 = std::make_unique<pool8>("bench-pause");
    if (!p8->start()) return 1;
    sleepers* ssp = &ss;
    for (int i = 0; i < 8; ++i) {
      auto h = p8->submit([ssp, i](steward::task_context& ctx) -> steward::result<void> {
        while (!ssp->quit.load()) {
          ssp->ticks[i].fetch_add(1, std::memory_order_release);
          STEWARD_TRY(ctx.sleep_for(1ms));
        }
        return {};
      });
      if (!h) return 1;
    }
    flag_pause fp(fs);
    futex_pause xp(xs);
    std::this_thread::sleep_for(20ms);
    for (int r = 0; r < o.rounds; ++r) {
      const auto round = static_cast<std::size_t>(r);
      for (int i = 0; i < pause_samples; ++i) {
        std::uint64_t before[8];
        for (int which = 0; which < 3; ++which) {
          const int impl = (r + i + which) % 3;  // 0 steward, 1 flag + condvar, 2 raw futex
          std::this_thread::sleep_for(3ms);
          auto t0 = clk::now();
          if (impl == 0) {
            if (!p8->pause(std::chrono::seconds(10))) return 2;
            s_pause.add(round, bench::ns_since(t0));
          } else if (impl == 1) {
            fp.pause();
            f_pause.add(round, bench::ns_since(t0));
          } else {
            xp.pause();
          }
          std::this_thread::sleep_for(2ms);  // the sleeps' deadlines pass while parked
          sleepers& which_s = impl == 0 ? ss : impl == 1 ? fs : xs;
          snapshot_ticks(which_s, before);
          t0 = clk::now();
          if (impl == 0) {
            if (!p8->resume()) return 3;
            s_resume.add(round, until_all_ticked(ss, before, t0));
          } else if (impl == 1) {
            fp.resume();
            f_resume.add(round, until_all_ticked(fs, before, t0));
          } else {
            xp.resume();
            x_resume.add(round, until_all_ticked(xs, before, t0));
          }
        }
      }
    }
    ss.quit.store(true);
    static_cast<void>(p8->shutdown(steward::shutdown_mode::cancel, std::chrono::seconds(10)));
  }
  bench::report("pause_all_8", s_pause, f_pause, {0.5, 0}, 8);
  bench::report("resume_all_8", s_resume, f_resume, {0.5, 0}, 8);
  bench::report("resume_all_8", x_resume, f_resume, {}, 8);
  bench::print_table("steward pool vs baselines (same run)");
  bench::print_loadavg(o, "end");
  return 0;
}
