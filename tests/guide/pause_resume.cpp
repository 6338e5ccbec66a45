// Guide (docs/from-python-threading.md): pause and resume with an acknowledgement, where the
// Python recipe uses a flag and Event.wait().
#include <atomic>
#include <chrono>
#include <thread>

#include "steward/core/worker.hpp"

using namespace std::chrono_literals;

namespace {
std::atomic<long> g_ticks{0};
steward::static_worker<> g_sampler;
}  // namespace

int main() {
  // guide:begin pause_resume
  steward::worker_config cfg;
  cfg.name = "sampler";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    for (;;) {
      STEWARD_TRY(ctx.sleep_for(1ms));  // a safe point: a pause parks here, a stop returns
      g_ticks.fetch_add(1);
    }
  };
  if (!g_sampler.configure(cfg) || !g_sampler.start()) return 1;
  std::this_thread::sleep_for(20ms);
  if (!g_sampler.pause(1s)) return 2;  // returns once the worker is parked, or with an error
  const long frozen = g_ticks.load();  // parked: no tick can be in progress now
  if (g_sampler.state() != steward::worker_state::paused || g_ticks.load() != frozen) return 3;
  if (!g_sampler.resume()) return 4;  // runs again; the sleep keeps its original deadline
  auto report = g_sampler.stop(1s);   // from running, paused or sleeping alike
  if (!report || report->reason != steward::exit_reason::stopped) return 5;
  // guide:end
  return 0;
}
