// Deterministic simulation (issue 9, part 2): the real core runs on the sim port
// (platform/sim), whose seeded scheduler decides at every platform call which thread runs
// next, over a virtual clock, with faults injected at 1-5 % of the calls that can fail. Per
// seed: three workers whose bodies take safe points, sleep, wait, hold cleanup registrations
// (a ledger), run stretches without a safe point and return or fail now and then; three
// controllers (the main sim thread and two more) issue random control calls. Checked per seed:
// every acknowledgement means what it says at the moment it returns (pause ok -> paused, stop
// ok -> terminal, resume ok -> not paused), every error is one the call documents, the ledger
// balances (each registration released exactly once) once everything stopped, and no run
// deadlocks (the scheduler ends the process with the replay command if one does).
//
// Settings (environment): STEWARD_SIM_SEEDS (default 10000), STEWARD_SIM_STEPS (200),
// STEWARD_SIM_SEED (replay one seed), STEWARD_SIM_TRACE=1 (print every decision).
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "sim_driver.hpp"

namespace {

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

}  // namespace
TEST_CASE("sim: a seed replays with an identical trace hash") {
  const auto a = run_seed(424242, 200, false);
  const auto b = run_seed(424242, 200, false);
  const auto c = run_seed(424243, 200, false);
  CHECK(a.run.decisions > 0);
  CHECK(a.run.trace_hash == b.run.trace_hash);
  CHECK(a.run.decisions == b.run.decisions);
  CHECK(a.run.faults == b.run.faults);
  CHECK(a.run.trace_hash != c.run.trace_hash);  // and the seed matters
}

TEST_CASE("sim: seeds x steps with faults, every acknowledgement holds and the ledger balances") {
  const int steps = static_cast<int>(env_or("STEWARD_SIM_STEPS", 200));
  const std::uint64_t one = env_or("STEWARD_SIM_SEED", 0);
  const std::uint64_t seeds = one != 0 ? 1 : env_or("STEWARD_SIM_SEEDS", 10000);
  const bool trace = env_or("STEWARD_SIM_TRACE", 0) != 0;
  std::uint64_t decisions = 0, switches = 0, faults = 0, ops = 0, ok_ops = 0, failed = 0;
  for (std::uint64_t k = 0; k < seeds; ++k) {
    const std::uint64_t seed = one != 0 ? one : k + 1;
    const auto out = run_seed(seed, steps, trace);
    decisions += out.run.decisions;
    switches += out.run.switches;
    faults += out.run.faults;
    ops += out.ops;
    ok_ops += out.ok_ops;
    if (out.violations != 0) {
      ++failed;
      if (failed <= 5) {
        std::fprintf(stderr, "sim: seed %llu: %llu violations, first: %s\nsim: replay: %s\n",
                     static_cast<unsigned long long>(seed), static_cast<unsigned long long>(out.violations),
                     out.first.c_str(), replay_line(seed, steps).c_str());
      }
    }
  }
  std::printf(
      "sim: %llu seeds x %d steps: %llu control calls (%llu acknowledged), %llu decisions, %llu "
      "switches, %llu faults injected, %llu seeds with violations\n",
      static_cast<unsigned long long>(seeds), steps, static_cast<unsigned long long>(ops),
      static_cast<unsigned long long>(ok_ops), static_cast<unsigned long long>(decisions),
      static_cast<unsigned long long>(switches), static_cast<unsigned long long>(faults),
      static_cast<unsigned long long>(failed));
  CHECK(failed == 0);
  CHECK(faults > 0);  // the faults were really injected
}
