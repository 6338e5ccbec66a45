// Guide: a loop that checks for a stop request, where the Python recipe polls a flag or
// Event.is_set().
#include <chrono>
#include <cstdint>
#include <thread>

#include "steward/core/worker.hpp"

using namespace std::chrono_literals;

namespace {
steward::static_worker<> g_crunch;
volatile std::uint64_t g_sink = 0;
}  // namespace

int main() {
  // guide:begin stop_flag
  steward::worker_config cfg;
  cfg.name = "crunch";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    std::uint64_t x = 1;
    for (;;) {
      STEWARD_TRY(ctx.checkpoint());  // one atomic load when nothing is asked; stop -> return
      for (int i = 0; i < 1000; ++i) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      g_sink = x;
    }
  };
  if (!g_crunch.configure(cfg) || !g_crunch.start()) return 1;
  std::this_thread::sleep_for(10ms);
  auto report = g_crunch.stop(1s);  // the request and the wait for the exit are one call
  if (!report) return 2;            // timeout names the worker; nothing was torn down
  if (report->reason != steward::exit_reason::stopped) return 3;
  // guide:end
  return 0;
}
