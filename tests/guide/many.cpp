// Guide: stopping many threads, where the Python recipe sets one shared Event and joins every
// thread in a loop.
#include <atomic>
#include <chrono>

#include "steward/core/worker.hpp"
#include "steward/supervisors/supervisor.hpp"

using namespace std::chrono_literals;

namespace {
std::atomic<int> g_released{0};
steward::static_worker<> g_slots[8];
const char* const k_ids[8] = {"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"};

steward::result<void> sensor(steward::worker_context& ctx) {
  STEWARD_TRY(ctx.defer([] { g_released.fetch_add(1); }));
  for (;;) STEWARD_TRY(ctx.sleep_for(1h));
}
}  // namespace

int main() {
  // guide:begin many
  steward::supervisor_config cfg;
  cfg.name = "sensors";
  cfg.order = steward::child_order::parallel;  // stop: ask all eight, then wait once
  steward::supervisor<8> sensors(cfg);
  steward::supervision_tree<> tree(sensors);
  for (int i = 0; i < 8; ++i) {
    steward::child_spec spec;
    spec.id = k_ids[i];
    spec.worker_slot = &g_slots[i];
    spec.body = &sensor;
    spec.shutdown = 500ms;  // each one's deadline; a worker that misses it is named, not killed
    if (!sensors.add_child(spec)) return 1;
  }
  if (!tree.start()) return 2;
  auto stopped = tree.stop();  // every worker, newest first; ok or timeout naming the first hung
  if (!stopped || g_released.load() != 8) return 3;
  // guide:end
  return 0;
}
