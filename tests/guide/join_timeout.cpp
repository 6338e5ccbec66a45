// Guide: waiting for a thread that ends by itself, where the Python recipe calls
// join(timeout) and then is_alive().
#include <chrono>

#include "steward/core/worker.hpp"

using namespace std::chrono_literals;

namespace {
steward::static_worker<> g_upload;
}  // namespace

int main() {
  // guide:begin join_timeout
  steward::worker_config cfg;
  cfg.name = "upload";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    STEWARD_TRY(ctx.sleep_for(20ms));                            // the job
    return steward::fail(steward::errc::io_error, "upload", 5);  // ... which fails
  };
  if (!g_upload.configure(cfg) || !g_upload.start()) return 1;
  auto done = g_upload.join(5s);  // the report, or timeout naming the worker - never a guess
  if (!done) return 2;            // done.error() == errc::timeout: it still runs, say so
  if (done->reason != steward::exit_reason::error || done->err.value != 5) return 3;
  // guide:end
  return 0;
}
