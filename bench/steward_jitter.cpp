// Wake-up jitter of a steward periodic worker beside cyclictest (rt-tests), run in the same
// session with the same period, policy and priority. Prints both distributions and the ratio of
// their p99s. The two alternate in rounds so that the VM's noise falls on both alike; the BENCH
// line (bench_common.hpp) gives the median of the per-round ratios and their range.
// Usage: steward_jitter [--period-us N] [--loops N] [--priority N] [--rounds N]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "steward/core/periodic.hpp"
#include "steward/platform/rt.hpp"

namespace {

int g_period_us = 1000;
int g_loops = 5000;
int g_priority = 80;
int g_rounds = 10;  // the two run alternately, in rounds, so VM noise drifts over both alike

constexpr int k_max_loops = 100000;
std::int64_t g_lateness_ns[k_max_loops];
std::atomic<int> g_recorded{0};
int g_round_loops = 0;

struct distribution {
  double min_us{0}, p50_us{0}, p99_us{0}, max_us{0};
  long samples{0};
};

distribution from_samples(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  distribution d;
  d.samples = static_cast<long>(v.size());
  if (v.empty()) return d;
  d.min_us = v.front();
  d.p50_us = v[v.size() / 2];
  d.p99_us = v[std::min(v.size() - 1, v.size() * 99 / 100)];
  d.max_us = v.back();
  return d;
}

steward::static_worker<256 * 1024, 2> g_ticker;

std::vector<double> g_steward_us;
bench::series g_steward_series("steward");
bench::series g_cyclictest_series("cyclictest");

void run_steward_round(bool& fell_back, int loops, std::size_t round) {
  steward::worker_config cfg;
  cfg.name = "jitter";
  cfg.prefault_stack = true;
  cfg.thread.policy = steward::platform::sched_policy::fifo;
  cfg.thread.priority = g_priority;
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    steward::periodic_timer timer{std::chrono::microseconds{g_period_us}};
    for (int i = 0; i < g_round_loops; ++i) {
      STEWARD_TRY(timer.wait_next(ctx));
      g_lateness_ns[i] = timer.last_lateness().count();
      g_recorded.store(i + 1, std::memory_order_release);
    }
    return {};
  };
  g_round_loops = loops;
  g_recorded = 0;
  if (!g_ticker.configure(cfg)) std::exit(1);
  auto started = g_ticker.start();
  if (!started) {
    std::fprintf(stderr, "start failed: %s\n", steward::describe(started.error().code));
    std::exit(1);
  }
  fell_back = started->thread.rt_fell_back;
  while (!steward::is_terminal(g_ticker.state())) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  for (int i = 0; i < g_recorded.load(); ++i) {
    g_steward_us.push_back(static_cast<double>(g_lateness_ns[i]) / 1000.0);
    g_steward_series.add(round, static_cast<double>(g_lateness_ns[i]));
  }
}

constexpr int k_histogram_us = 20000;
std::vector<long> g_buckets(k_histogram_us + 1, 0);
long g_overflows = 0, g_total = 0, g_max_us = 0, g_min_us = -1;

// Runs cyclictest with a histogram (1 us buckets) and adds it to the totals.
bool run_cyclictest_round(int loops, std::size_t round) {
  const int histogram_us = k_histogram_us;
  std::string cmd = "cyclictest -q -m -t 1 -p " + std::to_string(g_priority) + " -i " +
                    std::to_string(g_period_us) + " -l " + std::to_string(loops) + " -h " +
                    std::to_string(histogram_us) + " 2>&1";
  std::FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return false;
  auto& buckets = g_buckets;
  long overflows = 0, total = 0, max_us = 0, min_us = -1;
  char line[512];
  while (std::fgets(line, sizeof line, pipe) != nullptr) {
    long us = 0, count = 0;
    if (line[0] != '#' && std::sscanf(line, "%ld %ld", &us, &count) == 2 && us >= 0 && us <= histogram_us) {
      buckets[static_cast<std::size_t>(us)] += count;
      total += count;
      for (long k = 0; k < count; ++k) g_cyclictest_series.add(round, static_cast<double>(us) * 1000.0);
    } else if (std::strncmp(line, "# Max Latencies:", 16) == 0) {
      max_us = std::strtol(line + 16, nullptr, 10);
    } else if (std::strncmp(line, "# Min Latencies:", 16) == 0) {
      min_us = std::strtol(line + 16, nullptr, 10);
    } else if (std::strncmp(line, "# Histogram Overflows:", 22) == 0) {
      overflows = std::strtol(line + 22, nullptr, 10);
    }
  }
  const int rc = pclose(pipe);
  if (rc != 0 || total == 0) return false;
  for (long k = 0; k < overflows; ++k) g_cyclictest_series.add(round, static_cast<double>(max_us) * 1000.0);
  g_total += total + overflows;
  g_overflows += overflows;
  g_max_us = std::max(g_max_us, max_us);
  g_min_us = g_min_us < 0 ? min_us : std::min(g_min_us, min_us);
  return true;
}

distribution cyclictest_distribution() {
  distribution d;
  auto percentile = [&](double q) {
    const long target = static_cast<long>(static_cast<double>(g_total) * q);
    long seen = 0;
    for (std::size_t us = 0; us < g_buckets.size(); ++us) {
      seen += g_buckets[us];
      if (seen > target) return static_cast<double>(us);
    }
    return static_cast<double>(g_max_us);
  };
  d.samples = g_total;
  d.min_us = static_cast<double>(g_min_us);
  d.p50_us = percentile(0.50);
  d.p99_us = percentile(0.99);
  d.max_us = static_cast<double>(g_max_us);
  return d;
}

void print(const char* who, const distribution& d) {
  std::printf("| %-44s | %7ld | %8.1f | %8.1f | %8.1f | %9.1f |\n", who, d.samples, d.min_us, d.p50_us,
              d.p99_us, d.max_us);
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const int v = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--period-us") == 0) g_period_us = v;
    if (std::strcmp(argv[i], "--loops") == 0) g_loops = std::min(v, k_max_loops);
    if (std::strcmp(argv[i], "--priority") == 0) g_priority = v;
    if (std::strcmp(argv[i], "--rounds") == 0) g_rounds = std::max(1, v);
  }
  bench::options opt;
  opt.prog = "steward_jitter";
  bench::print_loadavg(opt, "start");
  const auto locked = steward::platform::lock_memory();
  std::printf(
      "wake-up lateness, period %d us, %d loops in %d alternating rounds, SCHED_FIFO %d, mlockall %s\n\n",
      g_period_us, g_loops, g_rounds, g_priority, locked ? "on" : "refused");
  bool fell_back = false;
  bool have_cyclictest = true;
  const int per_round = std::max(1, g_loops / g_rounds);
  g_steward_us.reserve(static_cast<std::size_t>(per_round * g_rounds));
  for (int r = 0; r < g_rounds; ++r) {
    const auto round = static_cast<std::size_t>(r);
    if (r % 2 == 0) {
      run_steward_round(fell_back, per_round, round);
      have_cyclictest = have_cyclictest && run_cyclictest_round(per_round, round);
    } else {
      have_cyclictest = have_cyclictest && run_cyclictest_round(per_round, round);
      run_steward_round(fell_back, per_round, round);
    }
  }
  const auto ours = from_samples(g_steward_us);
  const auto theirs = cyclictest_distribution();
  std::printf("| %-44s | %7s | %8s | %8s | %8s | %9s |\n", "implementation", "samples", "min us", "p50 us",
              "p99 us", "max us");
  std::printf(
      "|----------------------------------------------|---------|----------|----------|----------|-----------"
      "|\n");
  if (have_cyclictest) print("cyclictest -m -t 1 (baseline)", theirs);
  print(fell_back ? "steward periodic worker (FIFO refused: OTHER)" : "steward periodic worker", ours);
  char name[64];
  std::snprintf(name, sizeof name, "jitter_%dus_%s%d", g_period_us, fell_back ? "other" : "fifo", g_priority);
  if (fell_back) bench::note(opt, "SCHED_FIFO refused: the steward worker ran at SCHED_OTHER");
  if (!locked) bench::note(opt, "mlockall refused");
  if (!have_cyclictest) {
    bench::note(opt, "cyclictest not available or failed (apt-get install rt-tests; needs RT privilege)");
    bench::report(name, g_steward_series, g_steward_series);
    bench::print_loadavg(opt, "end");
    return 2;
  }
  bench::report(name, g_cyclictest_series, g_cyclictest_series);
  bench::report(name, g_steward_series, g_cyclictest_series, {0, 1.2});
  std::printf("\np99 ratio steward / cyclictest: %.2fx   (p50 ratio %.2fx)\n", ours.p99_us / theirs.p99_us,
              theirs.p50_us > 0 ? ours.p50_us / theirs.p50_us : 0.0);
  bench::print_loadavg(opt, "end");
  return 0;
}
