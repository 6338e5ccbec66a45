// Links the installed package and exercises start, pause, stop-while-paused and cleanup.
#include <steward/core/worker.hpp>

#include <chrono>
#include <cstdio>

namespace {
steward::static_worker<> g_worker;
int g_released = 0;
}  // namespace

int main() {
  steward::worker_config cfg;
  cfg.name = "consumer";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    STEWARD_TRY(ctx.defer([] { ++g_released; }));
    for (;;) STEWARD_TRY(ctx.sleep_for(std::chrono::hours(1)));
  };
  if (!g_worker.configure(cfg) || !g_worker.start()) return 1;
  if (!g_worker.pause(std::chrono::seconds(10))) return 2;
  auto report = g_worker.stop(std::chrono::seconds(10));
  if (!report || report->reason != steward::exit_reason::stopped || g_released != 1) return 3;
  std::puts("consumer: paused, stopped while paused, resource released once");
  return 0;
}
