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

TEST_CASE("rate limiter: flush() gives the summary once the interval is over and no event came to carry it") {
  rate_limiter limiter(2, 1s);
  for (int i = 0; i < 10; ++i) static_cast<void>(limiter.check(time_point{std::chrono::milliseconds(i)}));
  CHECK(limiter.pending_suppressed() == 8);
  CHECK(limiter.flush(time_point{std::chrono::milliseconds(999)}) == 0);  // the interval is not over
  CHECK(limiter.pending_suppressed() == 8);
  CHECK(limiter.flush(time_point{std::chrono::milliseconds(1000)}) == 8);  // a new interval, its summary
  const auto next = limiter.check(time_point{std::chrono::milliseconds(1001)});
  CHECK(next.allowed);
  CHECK(next.suppressed_before == 0);  // this interval's summary went out already
  CHECK(limiter.check(time_point{std::chrono::milliseconds(1002)}).allowed);
  CHECK_FALSE(limiter.check(time_point{std::chrono::milliseconds(1003)}).allowed);
  CHECK(limiter.flush(time_point{std::chrono::milliseconds(1500)}) == 0);
  CHECK(limiter.flush(time_point{std::chrono::milliseconds(2000)}) == 1);
  CHECK(limiter.flush(time_point{std::chrono::milliseconds(5000)}) == 0);  // nothing pending
}

TEST_CASE("rate limiter: events lost before it are counted in the next summary, one summary per interval") {
  rate_limiter limiter(3, 1s);
  const auto first = limiter.check(time_point{std::chrono::milliseconds(0)});
  CHECK(first.allowed);
  limiter.add_suppressed(5);  // e.g. a full queue in front of the limiter
  const auto second = limiter.check(time_point{std::chrono::milliseconds(1)});
  CHECK(second.allowed);
  CHECK(second.suppressed_before == 5);  // the interval's one summary
  limiter.add_suppressed(2);
  const auto third = limiter.check(time_point{std::chrono::milliseconds(2)});
  CHECK(third.allowed);
  CHECK(third.suppressed_before == 0);  // no second summary in the same interval
  CHECK(limiter.pending_suppressed() == 2);
  CHECK(limiter.take_pending() == 2);  // at shutdown, whatever the interval
  CHECK(limiter.pending_suppressed() == 0);
  limiter.add_suppressed(0xFFFF'FFF0U);
  limiter.add_suppressed(0x100U);
  CHECK(limiter.pending_suppressed() == 0xFFFF'FFFFU);  // saturates
}
