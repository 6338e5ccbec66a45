// Diagnostics, not a benchmark: runs one whole-tree operation K times on a tree of N idle workers
// (or on the hand-rolled baseline of steward_tree_bench) and lets `perf stat` count only while
// the operation runs, through its control file descriptors (CTL and ACK in the environment).
// scripts/bench-syscalls.sh drives it and prints futex calls and context switches per worker.
// Usage: steward_syscalls start|stop|pause|resume steward-sequential|steward-parallel|hand-rolled N K
#include <unistd.h>

#include <atomic>
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

using namespace std::chrono_literals;
constexpr std::size_t k_max = 1024;
steward::static_worker<64 * 1024, 2> g_pool[k_max];
steward::notifier g_notes[k_max];
char g_ids[k_max][24];
int g_ctl = -1, g_ack = -1;

// Turns perf's counters on or off and waits for its acknowledgement.
void counting(bool on) {
  if (g_ctl < 0) return;
  const char* cmd = on ? "enable\n" : "disable\n";
  if (write(g_ctl, cmd, std::strlen(cmd)) < 0) std::abort();
  char buf[8];
  if (read(g_ack, buf, sizeof buf) < 0) std::abort();
}

void hand_rolled(const char* op, std::size_t n, int k) {
  const auto counted = [op](const char* which, bool on) {
    if (std::strcmp(op, which) == 0) counting(on);
  };
  for (int it = 0; it < k; ++it) {
    std::mutex m;
    std::condition_variable cv, ack;
    bool pause = false, stop = false;
    std::size_t parked = 0;
    std::atomic<std::size_t> started{0}, resumed{0};
    std::vector<std::thread> threads;
    threads.reserve(n);
    counted("start", true);
    for (std::size_t i = 0; i < n; ++i) {
      threads.emplace_back([&] {
        std::unique_lock<std::mutex> lock(m);
        ++started;
        for (;;) {
          cv.wait(lock, [&] { return pause || stop; });
          if (stop) return;
          if (++parked == n) ack.notify_one();
          cv.wait(lock, [&] { return !pause || stop; });
          --parked;
          if (stop) return;
          ++resumed;
        }
      });
    }
    while (started.load() < n) std::this_thread::yield();
    counted("start", false);
    std::this_thread::sleep_for(1ms);
    counted("pause", true);
    {
      std::unique_lock<std::mutex> lock(m);
      pause = true;
      cv.notify_all();
      ack.wait(lock, [&] { return parked == n; });
    }
    counted("pause", false);
    std::this_thread::sleep_for(1ms);
    counted("resume", true);
    {
      std::lock_guard<std::mutex> lock(m);
      pause = false;
    }
    cv.notify_all();
    while (resumed.load() < n) std::this_thread::yield();
    counted("resume", false);
    std::this_thread::sleep_for(1ms);
    counted("stop", true);
    {
      std::lock_guard<std::mutex> lock(m);
      stop = true;
    }
    cv.notify_all();
    for (std::size_t i = n; i-- > 0;) threads[i].join();
    counted("stop", false);
  }
}

void steward_tree(const char* op, bool parallel, std::size_t n, int k) {
  auto root = std::make_unique<steward::supervisor<k_max>>(
      steward::supervisor_config{"root", steward::strategy::one_for_one, 16, 1us});
  auto cfg = root->config();
  cfg.order = parallel ? steward::child_order::parallel : steward::child_order::sequential;
  if (!root->configure(cfg)) std::abort();
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(g_ids[i], sizeof g_ids[i], "w%zu", i);
    steward::child_spec spec;
    spec.id = g_ids[i];
    spec.worker_slot = &g_pool[i];
    spec.body = [i](steward::worker_context& ctx) -> steward::result<void> {
      return ctx.wait_until(
          g_notes[i], [] { return false; }, steward::never);
    };
    if (!root->add_child(spec)) std::abort();
  }
  auto tree = std::make_unique<steward::supervision_tree<128 * 1024>>(*root);
  if (!tree->start() || !tree->stop()) std::abort();  // the threads exist from here on
  for (int i = 0; i < k; ++i) {
    const bool c_start = std::strcmp(op, "start") == 0, c_stop = std::strcmp(op, "stop") == 0;
    const bool c_pause = std::strcmp(op, "pause") == 0, c_resume = std::strcmp(op, "resume") == 0;
    if (c_start) counting(true);
    if (!tree->start()) std::abort();
    if (c_start) counting(false);
    std::this_thread::sleep_for(1ms);
    if (c_pause) counting(true);
    if (!tree->pause(10s)) std::abort();
    if (c_pause) counting(false);
    std::this_thread::sleep_for(1ms);
    if (c_resume) counting(true);
    if (!tree->resume()) std::abort();
    std::this_thread::sleep_for(2ms);  // the workers run again (a resume returns at once)
    if (c_resume) counting(false);
    std::this_thread::sleep_for(1ms);
    if (c_stop) counting(true);
    if (!tree->stop()) std::abort();
    if (c_stop) counting(false);
  }
  tree.reset();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: steward_syscalls start|stop|pause|resume IMPL N K\n");
    return 2;
  }
  const char* op = argv[1];
  const char* impl = argv[2];
  const std::size_t n = std::min<std::size_t>(k_max, std::strtoul(argv[3], nullptr, 10));
  const int k = std::atoi(argv[4]);
  if (const char* ctl = std::getenv("CTL")) g_ctl = std::atoi(ctl);
  if (const char* ack = std::getenv("ACK")) g_ack = std::atoi(ack);
  if (std::strcmp(impl, "hand-rolled") == 0) {
    hand_rolled(op, n, k);
  } else {
    steward_tree(op, std::strcmp(impl, "steward-parallel") == 0, n, k);
  }
  return 0;
}
