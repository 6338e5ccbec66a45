// The README's opening example, compiled and run by the test suite so it never rots.
#include <steward/core/worker.hpp>

#include <cstdio>
#include <thread>

using namespace std::chrono_literals;

steward::static_worker<> logger;  // fixed slot: stack and cleanup storage live inside

int main() {
  steward::worker_config cfg;
  cfg.name = "logger";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    std::FILE* log = std::fopen("/tmp/steward-example.log", "w");
    if (log == nullptr) return steward::fail(steward::errc::platform_error, "fopen");
    STEWARD_TRY(ctx.adopt(log, &std::fclose));  // closed exactly once, on every way out
    for (;;) {
      STEWARD_TRY(ctx.sleep_for(10ms));  // a safe point: pause/stop reach it at once
      std::fputs("tick\n", log);
    }
  };
  if (!logger.configure(cfg) || !logger.start()) return 1;
  std::this_thread::sleep_for(50ms);  // the application runs for a while
  if (!logger.pause(1s)) return 2;    // returns once the worker is parked
  auto report = logger.stop(1s);      // pause-to-stop: wakes it, unwinds, joins the incarnation
  if (!report || report->cleanup.released != 1) return 3;
  std::printf("stopped while paused: %s, %u resource released\n", steward::to_string(report->reason),
              static_cast<unsigned>(report->cleanup.released));
  return 0;
}
