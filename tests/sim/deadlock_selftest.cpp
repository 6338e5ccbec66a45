// Self-test of the simulation scheduler: the only thread parks without a deadline and nobody
// will wake it. The scheduler must report the deadlock (with the replay hint) and end the
// process; returning from here means it did not, and the test's output check fails.
#include <atomic>
#include <cstdio>

#include "steward/platform/park.hpp"
#include "steward/platform/sim.hpp"

namespace {
void park_for_ever(void* /*unused*/) {
  const std::atomic<std::uint32_t> word{0};
  static_cast<void>(steward::platform::park_wait(word, 0, steward::never));
}
}  // namespace

int main() {
  steward::platform::sim::set_replay_hint("deadlock-selftest");
  steward::platform::sim::config cfg;
  cfg.seed = 1;
  static_cast<void>(steward::platform::sim::run(cfg, &park_for_ever, nullptr));
  std::puts("sim: the deadlock was not detected");
  return 0;
}
