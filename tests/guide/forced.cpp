// Guide: "forced termination", where the Python recipe injects an exception into another
// thread (ctypes.pythonapi.PyThreadState_SetAsyncExc). steward never kills a thread: a body
// that ignores stops is reported, and a foreign blocking call is cut short by a stop_callback.
#include <atomic>
#include <chrono>

#include "steward/core/worker.hpp"

using namespace std::chrono_literals;

namespace {
steward::static_worker<> g_stubborn;
steward::static_worker<> g_driver;
std::atomic<bool> g_let_go{false};
std::atomic<bool> g_cancelled{false};

// Stands in for a third-party call that blocks with its own cancellation switch.
void vendor_blocking_read() {
  while (!g_cancelled.load()) {
  }
}
}  // namespace

int main() {
  // guide:begin forced_refused
  steward::worker_config cfg;
  cfg.name = "stubborn";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    ctx.declare_initialised();
    while (!g_let_go.load()) {
    }  // no safe point: nothing can reach it here
    return {};
  };
  if (!g_stubborn.configure(cfg) || !g_stubborn.start()) return 1;
  if (!g_stubborn.wait_initialised(1s)) return 2;
  auto first = g_stubborn.stop(50ms);  // a typed refusal: timeout, naming "stubborn"
  if (first || first.error() != steward::errc::timeout) return 3;
  g_let_go = true;                    // (the application fixes what kept it)
  auto second = g_stubborn.stop(5s);  // the same stop, waited for again
  if (!second) return 4;
  // guide:end

  // guide:begin forced_callback
  steward::worker_config drv;
  drv.name = "driver";
  drv.body = [](steward::worker_context& ctx) -> steward::result<void> {
    const steward::stop_callback cancel(ctx, [] { g_cancelled = true; });  // runs on stop()
    ctx.declare_initialised();
    vendor_blocking_read();  // not a steward wait: the callback is what ends it
    return steward::fail(steward::errc::stop_requested);
  };
  if (!g_driver.configure(drv) || !g_driver.start()) return 5;
  if (!g_driver.wait_initialised(1s)) return 6;
  auto report = g_driver.stop(5s);
  if (!report || report->reason != steward::exit_reason::stopped) return 7;
  // guide:end
  return 0;
}
