// Supervisor-tree benchmarks, each beside a baseline measured in the same run:
//   restart latency   failure -> the new incarnation's first instruction: steward one_for_one vs
//                     a hand-rolled supervisor that joins the thread and creates a new one, and
//                     vs two futex hand-offs between parked threads (the floor of a supervisor
//                     thread that restarts a parked worker); plus a storm of 10,000 restarts
//   pause-all / stop-all for 8, 64 and 256 workers that sleep 1 ms per iteration, vs N threads
//                     sharing a flag + condvar (pause with an acknowledgement counter) and
//                     joined in reverse
//   memory per slot   sizeof of the slot types
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "steward/supervisors/supervisor.hpp"

namespace {

using clk = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::int64_t now_ns() {
  return clk::now().time_since_epoch().count();
}

struct stats {
  double median_us{0}, p99_us{0};
};
stats summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  stats s;
  if (v.empty()) return s;
  s.median_us = v[v.size() / 2] / 1000.0;
  s.p99_us = v[std::min(v.size() - 1, v.size() * 99 / 100)] / 1000.0;
  return s;
}
void row(const char* what, const char* who, stats s, stats base) {
  std::printf("| %-22s | %-50s | %10.1f | %10.1f | %6.2fx |\n", what, who, s.median_us, s.p99_us,
              s.median_us / base.median_us);
}

long futex(std::atomic<std::uint32_t>& w, int op, std::uint32_t v) {
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&w), op | FUTEX_PRIVATE_FLAG, v, nullptr,
                 nullptr, 0);
}

// ------------------------------------------------------------------ restart latency

std::atomic<std::int64_t> g_failed_at{0};
std::atomic<std::int64_t> g_entered_at{0};
std::atomic<int> g_crash{0};
steward::notifier g_crash_note;

steward::result<void> crasher_body(steward::worker_context& ctx) {
  g_entered_at.store(now_ns());
  STEWARD_TRY(ctx.wait_until(
      g_crash_note, [] { return g_crash.load() != 0; }, steward::never));
  g_crash = 0;
  g_failed_at.store(now_ns());
  return steward::fail(steward::errc::worker_failed, "bench");
}

steward::static_worker<128 * 1024, 2> g_crasher;

std::vector<double> steward_restarts(int rounds) {
  static steward::supervisor<1> root({"root", steward::strategy::one_for_one, 16, 1us});
  static steward::supervision_tree<128 * 1024> tree(root);
  static bool built = false;
  if (!built) {
    steward::child_spec spec;
    spec.id = "crasher";
    spec.worker_slot = &g_crasher;
    spec.body = &crasher_body;
    if (!root.add_child(spec)) std::abort();
    built = true;
  }
  if (!tree.start()) std::abort();
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(rounds));
  for (int i = 0; i < rounds; ++i) {
    while (g_crasher.state() != steward::worker_state::running) std::this_thread::yield();
    const auto entered_before = g_entered_at.load();
    g_crash = 1;
    g_crash_note.notify_all();
    while (g_entered_at.load() == entered_before) std::this_thread::yield();  // leave the CPU to it
    out.push_back(static_cast<double>(g_entered_at.load() - g_failed_at.load()));
  }
  if (!tree.stop()) std::abort();
  return out;
}

std::vector<double> thread_per_restart(int rounds) {
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(rounds));
  std::atomic<std::int64_t> failed_at{0}, entered_at{0};
  auto body = [&] {
    entered_at.store(now_ns());
    failed_at.store(now_ns());  // fails at once
  };
  std::thread t(body);
  for (int i = 0; i < rounds; ++i) {
    t.join();  // the supervisor notices the exit ...
    const auto failed = failed_at.load();
    t = std::thread(body);  // ... and creates a new thread
    while (entered_at.load() <= failed) std::this_thread::yield();
    out.push_back(static_cast<double>(entered_at.load() - failed));
  }
  t.join();
  return out;
}

std::vector<double> two_handoffs(int rounds) {
  // worker --(futex)--> supervisor thread --(futex)--> worker: the hand-offs steward's runner makes
  std::atomic<std::uint32_t> failed{0}, go{0};
  std::atomic<std::int64_t> failed_at{0}, entered_at{0};
  std::atomic<bool> quit{false};
  std::thread supervisor([&] {
    while (!quit.load()) {
      while (failed.load() == 0 && !quit.load()) futex(failed, FUTEX_WAIT, 0);
      failed = 0;
      go = 1;
      futex(go, FUTEX_WAKE, 1);
    }
  });
  std::thread worker([&] {
    for (;;) {
      while (go.load() == 0) futex(go, FUTEX_WAIT, 0);
      go = 0;
      if (quit.load()) return;
      entered_at.store(now_ns());
    }
  });
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(rounds));
  for (int i = 0; i < rounds; ++i) {
    std::this_thread::sleep_for(20us);  // both park in the kernel, as a restarted child would
    const auto before = entered_at.load();
    failed_at.store(now_ns());
    failed = 1;
    futex(failed, FUTEX_WAKE, 1);
    while (entered_at.load() == before) std::this_thread::yield();
    out.push_back(static_cast<double>(entered_at.load() - failed_at.load()));
  }
  quit = true;
  failed = 1;
  futex(failed, FUTEX_WAKE, 1);
  supervisor.join();
  go = 1;
  futex(go, FUTEX_WAKE, 1);
  worker.join();
  return out;
}

// ------------------------------------------------------------------ pause-all / stop-all

constexpr std::size_t k_max_workers = 256;
using small_worker = steward::static_worker<128 * 1024, 2>;
small_worker g_pool[k_max_workers];
const char* g_ids[k_max_workers];
char g_id_text[k_max_workers][8];

steward::result<void> sleeper_body(steward::worker_context& ctx) {
  for (;;) STEWARD_TRY(ctx.sleep_for(1ms));
}

struct tree_result {
  stats pause, stop;
};

tree_result steward_tree(std::size_t n, int rounds) {
  auto root = std::make_unique<steward::supervisor<k_max_workers>>(
      steward::supervisor_config{"root", steward::strategy::one_for_one, 16, 1us});
  for (std::size_t i = 0; i < n; ++i) {
    steward::child_spec spec;
    spec.id = g_ids[i];
    spec.worker_slot = &g_pool[i];
    spec.body = &sleeper_body;
    if (!root->add_child(spec)) std::abort();
  }
  auto tree = std::make_unique<steward::supervision_tree<128 * 1024>>(*root);
  std::vector<double> pause_ns, stop_ns;
  for (int r = 0; r < rounds; ++r) {
    if (!tree->start()) std::abort();
    std::this_thread::sleep_for(5ms);
    for (int p = 0; p < 5; ++p) {
      auto t0 = clk::now();
      if (!tree->pause(5s)) std::abort();
      pause_ns.push_back(static_cast<double>((clk::now() - t0).count()));
      if (!tree->resume()) std::abort();
      std::this_thread::sleep_for(2ms);
    }
    auto t0 = clk::now();
    if (!tree->stop()) std::abort();
    stop_ns.push_back(static_cast<double>((clk::now() - t0).count()));
  }
  return {summarize(pause_ns), summarize(stop_ns)};
}

tree_result flag_condvar_threads(std::size_t n, int rounds) {
  std::vector<double> pause_ns, stop_ns;
  for (int r = 0; r < rounds; ++r) {
    std::mutex m;
    std::condition_variable cv, ack;
    bool pause = false, stop = false;
    std::size_t parked = 0;
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < n; ++i) {
      threads.emplace_back([&] {
        for (;;) {
          {
            std::unique_lock<std::mutex> lock(m);
            if (stop) return;
            if (pause) {
              ++parked;
              ack.notify_all();
              cv.wait(lock, [&] { return !pause || stop; });
              --parked;
              if (stop) return;
            }
          }
          std::this_thread::sleep_for(1ms);
        }
      });
    }
    std::this_thread::sleep_for(5ms);
    for (int p = 0; p < 5; ++p) {
      auto t0 = clk::now();
      {
        std::unique_lock<std::mutex> lock(m);
        pause = true;
        ack.wait(lock, [&] { return parked == n; });
      }
      pause_ns.push_back(static_cast<double>((clk::now() - t0).count()));
      {
        std::lock_guard<std::mutex> lock(m);
        pause = false;
      }
      cv.notify_all();
      std::this_thread::sleep_for(2ms);
    }
    auto t0 = clk::now();
    {
      std::lock_guard<std::mutex> lock(m);
      stop = true;
    }
    cv.notify_all();
    for (std::size_t i = n; i-- > 0;) threads[i].join();
    stop_ns.push_back(static_cast<double>((clk::now() - t0).count()));
  }
  return {summarize(pause_ns), summarize(stop_ns)};
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  for (std::size_t i = 0; i < k_max_workers; ++i) {
    std::snprintf(g_id_text[i], sizeof g_id_text[i], "w%zu", i);
    g_ids[i] = g_id_text[i];
  }
  const int restarts = quick ? 300 : 2000;
  std::printf("supervision tree benchmarks (%u CPUs)\n\n", std::thread::hardware_concurrency());
  std::printf("| %-22s | %-50s | %10s | %10s | %7s |\n", "benchmark", "implementation", "median us", "p99 us",
              "ratio");
  std::printf("|---|---|---|---|---|\n");
  const auto ours = summarize(steward_restarts(restarts));
  const auto fresh = summarize(thread_per_restart(restarts));
  const auto handoff = summarize(two_handoffs(restarts));
  row("restart latency", "join + new std::thread (baseline)", fresh, fresh);
  row("restart latency", "two futex hand-offs, parked threads", handoff, fresh);
  row("restart latency", "steward one_for_one (decided on the failing thread)", ours, fresh);
  const auto storm = summarize(steward_restarts(quick ? 2000 : 10000));
  row("restart storm", "steward, 10,000 restarts back to back", storm, fresh);
  std::printf(
      "(Erlang/OTP 25 on this machine kind, docs/anchors.md: 5.0 us (p99 19 us) per restart, 76 us (p99 334 us) "
      "in a storm)\n");

  for (std::size_t n : {std::size_t{8}, std::size_t{64}, std::size_t{256}}) {
    const int rounds = quick ? 2 : 5;
    const auto base = flag_condvar_threads(n, rounds);
    const auto tree = steward_tree(n, rounds);
    char label[64];
    std::snprintf(label, sizeof label, "pause-all, %zu workers", n);
    row(label, "shared flag + condvar + ack counter (baseline)", base.pause, base.pause);
    row(label, "steward tree.pause() (acknowledged per worker)", tree.pause, base.pause);
    std::snprintf(label, sizeof label, "stop-all, %zu workers", n);
    row(label, "flag + notify_all + join in reverse (baseline)", base.stop, base.stop);
    row(label, "steward tree.stop() (reverse, one by one)", tree.stop, base.stop);
  }

  std::printf(
      "\nmemory per slot (bytes): child slot %zu, worker without stack %zu (static_worker<S, C> adds S "
      "and C x %zu), supervisor<N> %zu + N x %zu\n",
      sizeof(steward::detail::child_slot),
      sizeof(steward::static_worker<16384, 1>) - 16384 - sizeof(steward::cleanup_entry),
      sizeof(steward::cleanup_entry), sizeof(steward::supervisor<1>) - sizeof(steward::detail::child_slot),
      sizeof(steward::detail::child_slot));
  return 0;
}
