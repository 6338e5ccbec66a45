// An application-style use of steward (the README's "Writing an application" section; built
// and run by the test suite): a device loop that waits for data on a descriptor, a
// configuration change or the next period - all at once - and a job that finishes by itself,
// which the main thread waits for with join().
#include <steward/steward.hpp>
#include <unistd.h>

#include <atomic>
#include <cstdio>

using namespace std::chrono_literals;

namespace {
steward::static_worker<> g_device;    // reads samples, reacts to config changes, ticks every 20 ms
steward::static_worker<> g_uploader;  // a one-off job: uploads once 3 samples are in, then returns
steward::notifier g_config_changed;
steward::notifier g_progress;  // the device tells the uploader about every sample
std::atomic<int> g_config_version{0};
std::atomic<int> g_samples{0}, g_ticks{0}, g_reconfigs{0};
int g_pipe[2];

steward::result<void> device_loop(steward::worker_context& ctx) {
  int seen_version = g_config_version.load();
  auto config_moved = [&] { return g_config_version.load() != seen_version; };
  const steward::wait_source sources[] = {steward::wait_source::readable(g_pipe[0]),
                                          steward::wait_source::notified(g_config_changed, config_moved)};
  auto next_tick = std::chrono::steady_clock::now() + 20ms;
  for (;;) {  // every wait_any is a safe point: pause and stop reach the loop at once
    auto fired = ctx.wait_any(sources, next_tick);
    if (!fired && fired.error() == steward::errc::timeout) {
      g_ticks.fetch_add(1);
      next_tick += 20ms;
      continue;
    }
    STEWARD_TRY(fired);
    if (fired->index == 0) {
      char sample = 0;
      if (::read(g_pipe[0], &sample, 1) == 1) g_samples.fetch_add(1);
    } else {
      seen_version = g_config_version.load();
      g_reconfigs.fetch_add(1);
    }
    g_progress.notify_all();
  }
}
}  // namespace

int main() {
  if (::pipe(g_pipe) != 0) return 1;
  steward::worker_config device;
  device.name = "device";
  device.body = [](steward::worker_context& ctx) { return device_loop(ctx); };
  steward::worker_config uploader;
  uploader.name = "uploader";
  uploader.body = [](steward::worker_context& ctx) -> steward::result<void> {
    auto ready = [] { return g_samples.load() >= 3 && g_reconfigs.load() >= 1; };
    STEWARD_TRY(ctx.wait_for(g_progress, ready, 5s));  // a safe point, like every steward wait
    for (int chunk = 0; chunk < 5; ++chunk) STEWARD_TRY(ctx.sleep_for(2ms));  // the "upload"
    return {};                                                                 // done by itself
  };
  if (!g_device.configure(device) || !g_device.start() || !g_device.wait_initialised(1s)) return 2;
  if (!g_uploader.configure(uploader) || !g_uploader.start()) return 3;

  for (int i = 0; i < 3; ++i) {
    if (::write(g_pipe[1], "s", 1) != 1) return 4;
  }
  g_config_version.fetch_add(1);
  g_config_changed.notify_all();

  auto uploaded = g_uploader.join(5s);  // no polling: wait for the job to end on its own
  if (!uploaded || uploaded->reason != steward::exit_reason::returned) return 5;

  if (!g_device.pause(1s)) return 6;  // parked inside its wait_any
  if (!g_device.resume()) return 7;
  auto stopped = g_device.stop(1s);
  if (!stopped || stopped->reason != steward::exit_reason::stopped) return 8;
  std::printf("app example: %d samples, %d reconfiguration(s), %d ticks; uploader joined, device stopped\n",
              g_samples.load(), g_reconfigs.load(), g_ticks.load());
  ::close(g_pipe[0]);
  ::close(g_pipe[1]);
  return g_samples.load() == 3 && g_reconfigs.load() == 1 ? 0 : 9;
}
