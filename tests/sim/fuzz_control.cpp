// libFuzzer over control-command sequences on the simulation port (issue 9, part 5). The
// input's first 8 bytes seed the scheduler (and the fault rate); the rest steers the driver of
// sim_driver.hpp, two bytes per choice: which worker, which call, which timeout, what each body
// does next. Any violation of the driver's checks aborts (libFuzzer keeps the input); a
// deadlock ends the process through the scheduler's report. scripts/fuzz.sh runs it.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "sim_driver.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  std::uint64_t seed = 0;
  std::memcpy(&seed, data, sizeof seed);
  constexpr int k_steps = 60;  // short programs: more of them per second
  const auto out = run_seed(seed, k_steps, false, data + 8, size - 8);
  if (out.violations != 0) {
    std::fprintf(stderr, "sim fuzz: %llu violations, first: %s\n",
                 static_cast<unsigned long long>(out.violations), out.first.c_str());
    std::abort();
  }
  return 0;
}
