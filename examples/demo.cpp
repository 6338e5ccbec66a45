// steward demo: a small firmware-like pipeline under a two-level supervision tree.
//   root (one_for_one)
//   +-- acquisition (one_for_all, backoff 20 ms doubling)
//   |   +-- sampler  reads a (simulated) ADC every 2 ms into a ring, notifies the filter
//   |   +-- filter   waits on the notifier, smooths samples, writes lines into a pipe
//   +-- logger       waits for the pipe to become readable, appends to a log file
// It starts the tree, injects a fault into the filter (the acquisition subtree restarts after
// its backoff), pauses the acquisition subtree (timing the acknowledgement), stops it while it
// is paused (every resource released), then stops the tree while the logger is blocked in an
// fd wait. Exit code 0 only if every check held.
// Under a service manager (systemd, Type=notify: examples/steward-demo.service) it also honours
// NOTIFY_SOCKET and WATCHDOG_USEC: READY=1 once the tree has started, STATUS= and WATCHDOG=1
// (only while the tree is healthy) from a feeder worker outside the tree at half the watchdog
// period, and STOPPING=1 before the tree stops. Without NOTIFY_SOCKET nothing of this runs.
// With --watch [--socket DIR] it skips the scripted timeline: it opens the control socket
// DIR/control (control enabled; default DIR: $XDG_RUNTIME_DIR/steward-demo, else
// /tmp/steward-demo-<uid>), serves it from a worker outside the tree, injects a filter fault every
// 10 s (--faults SECONDS; 0: none) so that restarts show, and runs until SIGINT or SIGTERM. Watch it with
// `steward-top DIR/control` (scripts/demo.sh --watch starts both, in tmux when it is there).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "steward/core/rate_limiter.hpp"
#include "steward/core/worker.hpp"
#include "steward/platform/clock.hpp"
#include "steward/platform/local_socket.hpp"
#include "steward/platform/sd_notify.hpp"
#include "steward/supervisors/control_server.hpp"
#include "steward/supervisors/service_notifier.hpp"
#include "steward/supervisors/supervisor.hpp"

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
  std::atomic<bool> inject_fault{false};
  const char* log_path{nullptr};
} g_pipe;

steward::result<void> sampler_body(worker_context& ctx) {
  STEWARD_TRY(acquire(ctx, adc_channel));
  STEWARD_TRY(acquire(ctx, sample_dma));
  // A restarted sampler continues the sequence: the filter counts samples up to `written`.
  for (std::uint32_t n = g_pipe.written.load(std::memory_order_acquire);; ++n) {
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
    if (g_pipe.inject_fault.exchange(false)) return steward::fail(steward::errc::worker_failed, "filter", 7);
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
steward::supervisor<2> g_acquisition;
steward::supervisor<2> g_root;
steward::supervision_tree<> g_tree(g_root);

// ---------------------------------------------------------------- the service manager
// The feeder is an application worker beside the tree (not in it): it ticks the service
// notifier, which sends WATCHDOG=1 only while the tree is healthy.
steward::platform::sd_notifier g_sd;
steward::service_notifier<8> g_service(g_tree, g_sd);
steward::static_worker<> g_feeder;
steward::duration g_feed_period = 1s;
std::atomic<int> g_feed_errors{0};

steward::result<void> feeder_body(worker_context& ctx) {
  for (;;) {
    if (!g_service.tick()) g_feed_errors.fetch_add(1);  // counted, reported at the end
    STEWARD_TRY(ctx.sleep_for(g_feed_period));
  }
}

bool start_feeder() {
  // Twice per watchdog period, as systemd asks; without a watchdog only STATUS= is refreshed.
  if (g_sd.watchdog_enabled()) g_feed_period = g_sd.watchdog_period() / 2;
  steward::worker_config cfg;
  cfg.name = "sd-feeder";
  cfg.body = &feeder_body;
  return g_feeder.configure(cfg).has_value() && g_feeder.start().has_value();
}

// A crash loop must not flood the log: at most 20 event lines per second (INV-17).
steward::rate_limiter g_event_log_limit(20, 1s);

void on_tree_event(void*, const steward::tree_event& e) noexcept {
  auto now = steward::platform::monotonic_now();
  const auto verdict = g_event_log_limit.check(now ? *now : steward::time_point{});
  if (!verdict.allowed) return;
  if (verdict.suppressed_before > 0) {
    std::printf("[%8.2f ms] (%u events not shown)\n", ms_since_start(), verdict.suppressed_before);
  }
  switch (e.kind) {
    case steward::tree_event_kind::child_started:
    case steward::tree_event_kind::subtree_resumed:
      return;  // the timeline says these itself
    case steward::tree_event_kind::backoff_scheduled:
      std::printf("[%8.2f ms] event %s/%s: %s, restart in %.1f ms\n", ms_since_start(), e.supervisor, e.child,
                  steward::to_string(e.kind), std::chrono::duration<double, std::milli>(e.delay).count());
      return;
    default:
      std::printf("[%8.2f ms] event %s/%s: %s%s%s\n", ms_since_start(), e.supervisor, e.child ? e.child : "-",
                  steward::to_string(e.kind), e.err.code == steward::errc::invalid_argument ? "" : " - ",
                  e.err.code == steward::errc::invalid_argument ? "" : steward::describe(e.err.code));
  }
}

steward::child_spec worker_child(const char* id, steward::worker& slot,
                                 steward::result<void> (*body)(worker_context&)) {
  steward::child_spec spec;
  spec.id = id;
  spec.worker_slot = &slot;
  spec.body = body;
  spec.shutdown = 500ms;
  return spec;
}

double timed_us(const steward::time_point& from) {
  auto now = steward::platform::monotonic_now();
  return now ? std::chrono::duration<double, std::micro>(*now - from).count() : -1.0;
}

void run_for(std::chrono::milliseconds d) {
  std::this_thread::sleep_for(d);
}

bool build_tree() {
  steward::supervisor_config acq;
  acq.name = "acquisition";
  acq.restart_strategy = steward::strategy::one_for_all;
  acq.intensity = 3;
  acq.period = 10s;
  acq.backoff.base = 20ms;
  acq.backoff.factor_permille = 2000;
  acq.backoff.cap = 1s;
  steward::supervisor_config root;
  root.name = "root";
  root.restart_strategy = steward::strategy::one_for_one;
  root.intensity = 3;
  root.period = 10s;
  steward::child_spec acquisition;
  acquisition.id = "acquisition";
  acquisition.supervisor = &g_acquisition;
  return g_acquisition.configure(acq).has_value() && g_root.configure(root).has_value() &&
         g_acquisition.add_child(worker_child("sampler", g_sampler, &sampler_body)).has_value() &&
         g_acquisition.add_child(worker_child("filter", g_filter, &filter_body)).has_value() &&
         g_root.add_child(acquisition).has_value() &&
         g_root.add_child(worker_child("logger", g_logger, &logger_body)).has_value();
}

// ---------------------------------------------------------------- --watch: the live view
// The control server is served by an application worker beside the tree (a worker in the tree
// would get would_deadlock from tree operations); its waits are steward fd waits.
steward::control_server<8, 4> g_control(g_tree, [] {
  steward::control_options o;
  o.allow_control = true;  // the demo lets steward-top pause, resume, stop and restart
  return o;
}());
steward::static_worker<> g_control_worker;

steward::result<void> control_body(worker_context& ctx) {
  return g_control.serve(ctx);
}

extern "C" void on_stop_signal(int) {
  g_tree.request_stop_async();  // async-signal-safe (INV-19); main collects the stop
}

int run_watch(const char* socket_dir, int fault_every) {
  std::string dir;
  if (socket_dir != nullptr) {
    dir = socket_dir;
  } else if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime != nullptr && *runtime != '\0') {
    dir = std::string(runtime) + "/steward-demo";
  } else {
    dir = "/tmp/steward-demo-" + std::to_string(steward::platform::effective_uid());
  }
  auto opened = g_control.open(dir.c_str(), "control");
  if (!opened) {
    std::printf("steward demo: control socket in %s: %s (errno/value %d)\n", dir.c_str(),
                steward::describe(opened.error().code), static_cast<int>(opened.error().value));
    return 1;
  }
  steward::worker_config cfg;
  cfg.name = "control";
  cfg.body = &control_body;
  if (!g_control_worker.configure(cfg) || !g_control_worker.start()) return 1;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  std::printf("[%8.2f ms] control socket %s (control enabled); watch it with:\n  steward-top %s\n",
              ms_since_start(), g_control.socket_path(), g_control.socket_path());
  if (fault_every > 0) std::printf("[%8.2f ms] a filter fault every %d s\n", ms_since_start(), fault_every);
  std::printf("[%8.2f ms] Ctrl-C (SIGINT) or SIGTERM stops the tree\n", ms_since_start());
  std::fflush(stdout);
  int seconds = 0;
  for (;;) {
    auto ended = g_tree.wait(1s);
    if (ended) break;  // stopped (a signal) or failed
    if (ended.error() != steward::errc::timeout) break;
    if (fault_every > 0 && ++seconds % fault_every == 0) {
      note("injecting a fault into the filter");
      g_pipe.inject_fault = true;
    }
    std::fflush(stdout);
  }
  note("stopping: the control worker, then the tree");
  auto served = g_control_worker.stop(1s);
  g_control.close();
  if (g_sd.enabled()) {
    static_cast<void>(g_feeder.stop(1s));
    static_cast<void>(g_service.stopping());
  }
  auto stopped = g_tree.stop();
  check(served.has_value() && served->reason == steward::exit_reason::stopped,
        "control worker stopped cleanly");
  check(stopped.has_value() || g_tree.state() == steward::tree_state::failed, "tree stopped");
  bool ledger_ok = true;
  for (int i = 0; i < k_resources; ++i) ledger_ok = ledger_ok && g_acquired[i] == g_released[i];
  check(ledger_ok, "every resource acquired was released exactly once");
  std::printf("\n%s (%d failed checks)\n", g_checks_failed == 0 ? "DEMO OK" : "DEMO FAILED", g_checks_failed);
  return g_checks_failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  bool watch = false;
  const char* socket_dir = nullptr;
  int fault_every = 10;
  g_pipe.log_path = "steward-demo.log";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--watch") == 0) {
      watch = true;
    } else if (std::strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
      socket_dir = argv[++i];
    } else if (std::strcmp(argv[i], "--faults") == 0 && i + 1 < argc) {
      fault_every = std::atoi(argv[++i]);
    } else if (argv[i][0] != '-') {
      g_pipe.log_path = argv[i];
    } else {
      std::printf("usage: steward_demo [--watch [--socket DIR] [--faults SECONDS]] [LOG_FILE]\n");
      return 2;
    }
  }
  auto t0 = steward::platform::monotonic_now();
  if (!t0) return 1;
  g_t0 = *t0;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return 1;
  g_pipe.pipe_read = fds[0];
  g_pipe.pipe_write = fds[1];

  auto sd_opened = g_sd.open_from_environment();  // unset NOTIFY_SOCKET: every message a no-op
  if (!sd_opened) {
    std::printf("steward demo: %s: %s\n", sd_opened.error().subject,
                steward::describe(sd_opened.error().code));
    return 1;
  }

  std::printf("steward demo: root{acquisition{sampler, filter}, logger} -> %s\n\n", g_pipe.log_path);
  if (!g_tree.set_event_hook(&on_tree_event, nullptr)) return 1;
  const bool built = build_tree();
  auto started = g_tree.start();
  note("tree started: sampler, filter (acquisition), logger");
  check(built && started.has_value(), "tree validated and started in order");
  if (g_sd.enabled()) {
    check(g_service.ready().has_value() && start_feeder(), "service manager told READY=1, feeder started");
    std::printf("[%8.2f ms] service manager: STATUS= and %s every %.0f ms\n", ms_since_start(),
                g_sd.watchdog_enabled() ? "WATCHDOG=1 (while healthy)" : "no watchdog",
                std::chrono::duration<double, std::milli>(g_feed_period).count());
  }
  if (watch) return built && started ? run_watch(socket_dir, fault_every) : 1;
  run_for(150ms);
  std::printf("[%8.2f ms] running: %ld samples, %ld filtered, %ld bytes logged\n", ms_since_start(),
              g_pipe.samples.load(), g_pipe.filtered.load(), g_pipe.logged_bytes.load());

  note("injecting a fault into the filter");
  g_pipe.inject_fault = true;
  bool restarted = false;
  for (int i = 0; i < 400 && !restarted; ++i) {
    run_for(5ms);
    restarted = g_filter.generation() == 2 && g_sampler.generation() == 2 &&
                g_filter.state() == steward::worker_state::running;
  }
  check(restarted, "one_for_all restarted sampler and filter after the backoff");
  check(g_released[filter_scratch] == 1 && g_released[adc_channel] == 1,
        "the first incarnations released their resources before the restart");
  run_for(100ms);

  note("pausing the acquisition subtree");
  auto p0 = steward::platform::monotonic_now();
  auto paused = g_tree.pause(g_acquisition, 1s);
  std::printf("[%8.2f ms] pause(acquisition): %s in %.1f us (request -> every worker parked)\n",
              ms_since_start(), paused ? "parked" : steward::describe(paused.error().code),
              p0 ? timed_us(*p0) : -1.0);
  check(paused && g_sampler.state() == steward::worker_state::paused &&
            g_filter.state() == steward::worker_state::paused,
        "sampler and filter parked at safe points; logger untouched");
  const long samples_at_pause = g_pipe.samples.load();
  run_for(30ms);
  check(g_pipe.samples.load() == samples_at_pause, "no sample was taken while paused");

  note("stopping the acquisition subtree while it is paused");
  auto terminated = g_tree.terminate_child(g_root, "acquisition");
  check(terminated.has_value(), "acquisition stopped from paused (pause-to-stop)");
  check(g_released[filter_scratch] == 2 && g_released[filter_dma] == 2 && g_released[adc_channel] == 2 &&
            g_released[sample_dma] == 2,
        "every acquisition resource of both incarnations released exactly once");

  run_for(20ms);  // the logger drains what is left, then blocks in its fd wait
  if (g_sd.enabled()) {
    auto fed = g_feeder.stop(1s);
    check(fed.has_value() && g_service.stopping().has_value() && g_feed_errors.load() == 0,
          "feeder stopped, every notification delivered, STOPPING=1 sent");
  }
  note("stopping the tree (the logger is blocked waiting for the pipe)");
  auto s0 = steward::platform::monotonic_now();
  auto stopped = g_tree.stop();
  std::printf("[%8.2f ms] stop(tree): %s in %.1f us\n", ms_since_start(), stopped ? "stopped" : "error",
              s0 ? timed_us(*s0) : -1.0);
  check(stopped.has_value() && g_logger.state() == steward::worker_state::stopped, "logger stopped cleanly");

  std::printf("\nresource ledger:\n");
  bool ledger_ok = true;
  for (int i = 0; i < k_resources; ++i) {
    std::printf("  %-22s acquired %d  released %d\n", k_resource_names[i], g_acquired[i].load(),
                g_released[i].load());
    ledger_ok = ledger_ok && g_acquired[i] >= 1 && g_acquired[i] == g_released[i];
  }
  check(ledger_ok, "every resource acquired was released exactly once");
  check(g_pipe.logged_bytes.load() > 0, "the log file received the filtered samples");
  ::close(fds[0]);
  ::close(fds[1]);
  std::printf("\n%s (%d failed checks)\n", g_checks_failed == 0 ? "DEMO OK" : "DEMO FAILED", g_checks_failed);
  return g_checks_failed == 0 ? 0 : 1;
}
