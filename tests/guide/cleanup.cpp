// Guide: releasing what a thread acquired, where the Python recipe uses try/finally.
#include <atomic>
#include <chrono>
#include <cstdio>

#include "steward/core/worker.hpp"

using namespace std::chrono_literals;

namespace {
steward::static_worker<> g_logger;
std::atomic<int> g_closed{0};
}  // namespace

int main() {
  // guide:begin cleanup
  steward::worker_config cfg;
  cfg.name = "logger";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    std::FILE* log = std::fopen("/tmp/steward-guide-cleanup.log", "w");
    if (log == nullptr) return steward::fail(steward::errc::platform_error, "fopen");
    STEWARD_TRY(ctx.adopt(log, &std::fclose));              // released newest first,
    STEWARD_TRY(ctx.defer([] { g_closed.fetch_add(1); }));  // exactly once, on every way out
    for (;;) {
      STEWARD_TRY(ctx.sleep_for(5ms));
      std::fputs("tick\n", log);
    }
  };
  if (!g_logger.configure(cfg) || !g_logger.start()) return 1;
  if (!g_logger.pause(1s)) return 2;  // parked inside its sleep
  auto report = g_logger.stop(1s);    // stop while paused: it unwinds, then its cleanup runs
  if (!report || report->cleanup.released != 2 || report->cleanup.failed != 0) return 3;
  // guide:end
  return g_closed.load() == 1 ? 0 : 4;
}
