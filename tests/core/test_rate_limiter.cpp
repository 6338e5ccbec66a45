// INV-17: bounded log output during crash loops, on injected time.
#include <doctest/doctest.h>

#include "steward/core/rate_limiter.hpp"

using namespace std::chrono_literals;
using steward::rate_limiter;
using steward::time_point;

TEST_CASE("rate limiter: 100,000 crash events give at most the burst per interval plus one summary each") {
  rate_limiter limiter(10, 1s);
  std::uint64_t allowed = 0;
  std::uint64_t summarized = 0;
  std::uint64_t summaries = 0;
  for (int i = 0; i < 100000; ++i) {  // one crash every 50 us: 5 s of crash loop
    const auto v = limiter.check(time_point{std::chrono::microseconds(50L * i)});
    if (!v.allowed) continue;
    ++allowed;
    if (v.suppressed_before > 0) {
      ++summaries;
      summarized += v.suppressed_before;
    }
  }
  CHECK(allowed == 50);   // 10 per second for 5 seconds
  CHECK(summaries == 4);  // each new interval reports the drops of the one before
  CHECK(allowed + summarized + limiter.pending_suppressed() == 100000);  // nothing unaccounted
}

TEST_CASE("rate limiter: events under the burst all pass, unannotated") {
  rate_limiter limiter(3, 1s);
  for (int i = 0; i < 3; ++i) {
    const auto v = limiter.check(time_point{std::chrono::milliseconds(i)});
    CHECK(v.allowed);
    CHECK(v.suppressed_before == 0);
  }
  CHECK_FALSE(limiter.check(time_point{std::chrono::milliseconds(5)}).allowed);
  const auto later = limiter.check(time_point{std::chrono::milliseconds(1001)});
  CHECK(later.allowed);
  CHECK(later.suppressed_before == 1);
}
