// steward demo: a small firmware-like pipeline.
//   sampler  - reads a (simulated) ADC every 2 ms into a ring, notifies the filter
//   filter   - waits on the notifier, smooths samples, writes text lines into a pipe
//   logger   - waits for the pipe to become readable, appends what it reads to a log file
// It starts them, pauses all three (timing request -> acknowledged park), resumes, stops the
// filter while it is paused (its resources are released), then stops the rest while the logger
// is blocked in an fd wait. Exit code 0 only if every check held.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>

#include "steward/core/worker.hpp"
#include "steward/platform/clock.hpp"

namespace {

using namespace std::chrono_literals;
using steward::worker_context;

// ---------------------------------------------------------------- a resource ledger
enum resource_id { adc_channel, sample_dma, filter_scratch, filter_dma, log_file, k_resources };
const char* const k_resource_names[k_resources] = {"sampler ADC channel", "sampler DMA buffer",
                                                   "filter scratch buffer", "filter DMA buffer",
                                                   "logger log file"};
std::atomic<int> g_acquired[k_resources];
std::atomic<int> g_released[k_resources];

steward::time_point g_t0;
double ms_since_start() {
  auto now = steward::platform::monotonic_now();
  return now ? std::chrono::duration<double, std::milli>(*now - g_t0).count() : -1.0;
}
void note(const char* what) {
  std::printf("[%8.2f ms] %s\n", ms_since_start(), what);
}

int g_checks_failed = 0;
void check(bool ok, const char* what) {
  std::printf("             %s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) ++g_checks_failed;
}

// Acquire a simulated resource and register its release on the worker's cleanup stack.
steward::result<void> acquire(worker_context& ctx, resource_id id) {
  g_acquired[id].fetch_add(1);
  return ctx.defer([id] { g_released[id].fetch_add(1); }).map([](auto) {});
}

// ---------------------------------------------------------------- shared pipeline state
constexpr int k_ring = 256;
struct pipeline {
  std::atomic<std::uint32_t> written{0};
  float ring[k_ring]{};
  steward::notifier samples_ready;
  int pipe_read{-1};
  int pipe_write{-1};
  std::atomic<long> samples{0};
  std::atomic<long> filtered{0};
  std::atomic<long> logged_bytes{0};
  const char* log_path{nullptr};
} g_pipe;

steward::result<void> sampler_body(worker_context& ctx) {
  STEWARD_TRY(acquire(ctx, adc_channel));
  STEWARD_TRY(acquire(ctx, sample_dma));
  for (std::uint32_t n = 0;; ++n) {
    STEWARD_TRY(ctx.sleep_for(2ms));  // a safe point: pause and stop reach it at once
    g_pipe.ring[n % k_ring] = static_cast<float>(std::sin(n * 0.05) + 0.1 * ((n * 7919U) % 13U) / 13.0);
    g_pipe.written.store(n + 1, std::memory_order_release);
    g_pipe.samples.fetch_add(1);
    g_pipe.samples_ready.notify_all();
  }
}

steward::result<void> filter_body(worker_context& ctx) {
  STEWARD_TRY(acquire(ctx, filter_scratch));
  STEWARD_TRY(acquire(ctx, filter_dma));
  std::uint32_t seen = g_pipe.written.load(std::memory_order_acquire);
  float average = 0.0F;
  for (;;) {
    STEWARD_TRY(ctx.wait_until(
        g_pipe.samples_ready, [&] { return g_pipe.written.load(std::memory_order_acquire) != seen; },
        steward::never));
    const std::uint32_t now = g_pipe.written.load(std::memory_order_acquire);
    for (; seen != now; ++seen) average = 0.9F * average + 0.1F * g_pipe.ring[seen % k_ring];
    g_pipe.filtered.fetch_add(1);
    char line[64];
    const int len =
        std::snprintf(line, sizeof line, "sample %u avg %+.4f\n", now, static_cast<double>(average));
    if (::write(g_pipe.pipe_write, line, static_cast<std::size_t>(len)) != len) {
      return steward::fail(steward::errc::io_error, "filter pipe");
    }
  }
}

steward::result<void> logger_body(worker_context& ctx) {
  std::FILE* file = std::fopen(g_pipe.log_path, "w");
  if (file == nullptr) return steward::fail(steward::errc::platform_error, "log file", errno);
  g_acquired[log_file].fetch_add(1);
  STEWARD_TRY(ctx.adopt(
      file, +[](std::FILE* f) {
        g_released[log_file].fetch_add(1);
        return std::fclose(f);
      }));
  char buffer[512];
  for (;;) {
    STEWARD_TRY(ctx.wait_readable(g_pipe.pipe_read));  // blocks in ppoll; stop cuts it short
    const auto got = ::read(g_pipe.pipe_read, buffer, sizeof buffer);
    if (got <= 0) return steward::fail(steward::errc::io_error, "logger pipe");
    std::fwrite(buffer, 1, static_cast<std::size_t>(got), file);
    g_pipe.logged_bytes.fetch_add(got);
  }
}

steward::static_worker<> g_sampler;
steward::static_worker<> g_filter;
steward::static_worker<> g_logger;

steward::worker_config config(const char* name, steward::result<void> (*body)(worker_context&)) {
  steward::worker_config cfg;
  cfg.name = name;
  cfg.body = body;
  cfg.on_exit = [](void*, const char* worker_name, const steward::exit_report& r) noexcept {
    std::printf("[%8.2f ms] exit hook: %s generation %u: %s, %u resources released, %u failed\n",
                ms_since_start(), worker_name, r.generation, steward::to_string(r.reason),
                static_cast<unsigned>(r.cleanup.released), static_cast<unsigned>(r.cleanup.failed));
  };
  return cfg;
}

double timed_us(const steward::time_point& from) {
  auto now = steward::platform::monotonic_now();
  return now ? std::chrono::duration<double, std::micro>(*now - from).count() : -1.0;
}

bool pause_timed(steward::worker& w) {
  auto t = steward::platform::monotonic_now();
  if (!t) return false;
  auto r = w.pause(1s);
  const double us = timed_us(*t);
  std::printf("[%8.2f ms] pause(%s): %s in %.1f us (request -> acknowledged park)\n", ms_since_start(),
              w.name(), r ? "parked" : steward::describe(r.error().code), us);
  return r.has_value() && w.state() == steward::worker_state::paused;
}

void run_for(std::chrono::milliseconds d) {
  std::this_thread::sleep_for(d);
}

}  // namespace

int main(int argc, char** argv) {
  g_pipe.log_path = argc > 1 ? argv[1] : "steward-demo.log";
  auto t0 = steward::platform::monotonic_now();
  if (!t0) return 1;
  g_t0 = *t0;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return 1;
  g_pipe.pipe_read = fds[0];
  g_pipe.pipe_write = fds[1];

  std::printf("steward demo: sampler -> filter -> logger (%s)\n\n", g_pipe.log_path);
  steward::worker* all[] = {&g_sampler, &g_filter, &g_logger};
  bool ok = g_sampler.configure(config("sampler", &sampler_body)).has_value() &&
            g_filter.configure(config("filter", &filter_body)).has_value() &&
            g_logger.configure(config("logger", &logger_body)).has_value();
  for (auto* w : all) ok = ok && w->start().has_value();
  note("started sampler, filter, logger");
  check(ok, "all three workers configured and started");
  run_for(150ms);
  std::printf("[%8.2f ms] running: %ld samples, %ld filtered, %ld bytes logged\n", ms_since_start(),
              g_pipe.samples.load(), g_pipe.filtered.load(), g_pipe.logged_bytes.load());

  note("pausing all three");
  bool parked = true;
  for (auto* w : all) parked = pause_timed(*w) && parked;
  check(parked, "every pause() returned with the worker parked at a safe point");
  const long samples_at_pause = g_pipe.samples.load();
  run_for(30ms);
  check(g_pipe.samples.load() == samples_at_pause, "no sample was taken while paused");

  note("resuming all three");
  bool resumed = true;
  for (auto* w : all) resumed = w->resume().has_value() && resumed;
  run_for(100ms);
  check(resumed && g_pipe.samples.load() > samples_at_pause, "work continued after resume");

  note("pausing the filter, then stopping it while paused");
  check(pause_timed(g_filter), "filter parked");
  auto filter_report = g_filter.stop(1s);
  check(filter_report && filter_report->reason == steward::exit_reason::stopped,
        "filter stopped from paused (pause-to-stop)");
  check(g_released[filter_scratch] == 1 && g_released[filter_dma] == 1,
        "filter's scratch and DMA buffers released exactly once");

  run_for(20ms);  // the logger drains what is left, then blocks in its fd wait
  note("stopping logger (blocked waiting for the pipe) and sampler (sleeping)");
  for (steward::worker* w :
       {static_cast<steward::worker*>(&g_logger), static_cast<steward::worker*>(&g_sampler)}) {
    auto t = steward::platform::monotonic_now();
    auto r = w->stop(1s);
    std::printf("[%8.2f ms] stop(%s): %s in %.1f us (request -> thread done with cleanup)\n",
                ms_since_start(), w->name(), r ? steward::to_string(r->reason) : "error",
                t ? timed_us(*t) : -1.0);
    check(r && r->reason == steward::exit_reason::stopped, "stopped cleanly");
  }

  std::printf("\nresource ledger:\n");
  bool ledger_ok = true;
  for (int i = 0; i < k_resources; ++i) {
    std::printf("  %-22s acquired %d  released %d\n", k_resource_names[i], g_acquired[i].load(),
                g_released[i].load());
    ledger_ok = ledger_ok && g_acquired[i] == 1 && g_released[i] == 1;
  }
  check(ledger_ok, "every resource acquired once and released exactly once");
  check(g_pipe.logged_bytes.load() > 0, "the log file received the filtered samples");
  ::close(fds[0]);
  ::close(fds[1]);
  std::printf("\n%s (%d failed checks)\n", g_checks_failed == 0 ? "DEMO OK" : "DEMO FAILED", g_checks_failed);
  return g_checks_failed == 0 ? 0 : 1;
}
