// The cleanup stack on its own: order, exactly once, capacity, refs, result conventions.
#include <doctest/doctest.h>

#include <vector>

#include "steward/core/cleanup_stack.hpp"

using steward::cleanup_stack;
using steward::errc;

namespace {
int g_closed[4]{};
int close_slot(int slot) {
  ++g_closed[slot];
  return 0;
}
int failing_close(int) {
  return -1;
}
// The error code of a result, or -1 if it holds a value.
int code_of_ref(const steward::result<void>& r) {
  return r ? -1 : static_cast<int>(r.error().code);
}
}  // namespace

TEST_CASE("cleanup stack: unwinds newest first, each action once") {
  cleanup_stack<4> stack;
  std::vector<int> order;
  order.reserve(8);
  auto* log = &order;
  for (int i = 0; i < 3; ++i) REQUIRE(stack.defer([log, i] { log->push_back(i); }));
  CHECK(stack.size() == 3);
  const auto summary = stack.unwind();
  CHECK(summary.released == 3);
  CHECK(summary.failed == 0);
  CHECK(order == std::vector<int>{2, 1, 0});
  CHECK(stack.size() == 0);
  CHECK(stack.unwind().released == 0);  // a second unwind runs nothing
  CHECK(order.size() == 3);
}

TEST_CASE("cleanup stack: past capacity the new resource is released at once") {
  cleanup_stack<2> stack;
  int released = 0;
  auto* counter = &released;
  REQUIRE(stack.defer([counter] { ++*counter; }));
  REQUIRE(stack.defer([counter] { ++*counter; }));
  auto third = stack.defer([counter] { *counter += 100; });
  REQUIRE_FALSE(third);
  CHECK(third.error() == errc::capacity_exceeded);
  CHECK(third.error().value == 2);
  CHECK(released == 100);  // released immediately, not leaked
  CHECK(stack.size() == 2);
  stack.unwind();
  CHECK(released == 102);
}

TEST_CASE("cleanup stack: early release runs once and frees the top slot") {
  cleanup_stack<2> stack;
  int runs = 0;
  auto* counter = &runs;
  auto ref = stack.defer([counter] { ++*counter; });
  REQUIRE(ref);
  CHECK(stack.release(*ref));
  CHECK(runs == 1);
  auto again = stack.release(*ref);
  REQUIRE_FALSE(again);
  CHECK(again.error() == errc::invalid_handle);
  CHECK(stack.unwind().released == 0);
  CHECK(runs == 1);
  // The slot was reclaimed: two more fit.
  CHECK(stack.defer([] {}));
  CHECK(stack.defer([] {}));
  CHECK(stack.high_water() == 2);
}

TEST_CASE("cleanup stack: releasing a middle entry keeps the order of the rest") {
  cleanup_stack<3> stack;
  std::vector<int> order;
  order.reserve(4);
  auto* log = &order;
  REQUIRE(stack.defer([log] { log->push_back(0); }));
  auto mid = stack.defer([log] { log->push_back(1); });
  REQUIRE(mid);
  REQUIRE(stack.defer([log] { log->push_back(2); }));
  REQUIRE(stack.release(*mid));
  stack.unwind();
  CHECK(order == std::vector<int>{1, 2, 0});
}

TEST_CASE("cleanup stack: dismiss forgets without running") {
  cleanup_stack<2> stack;
  int runs = 0;
  auto* counter = &runs;
  auto ref = stack.defer([counter] { ++*counter; });
  REQUIRE(ref);
  CHECK(stack.dismiss(*ref));
  CHECK(stack.unwind().released == 0);
  CHECK(runs == 0);
}

TEST_CASE("cleanup stack: refs from an earlier epoch are stale") {
  cleanup_stack<2> stack;
  stack.reset(1);
  int old_runs = 0;
  auto* old_counter = &old_runs;
  auto ref = stack.defer([old_counter] { ++*old_counter; });
  CHECK(ref);
  if (!ref) return;
  CHECK(stack.unwind().released == 1);
  stack.reset(2);
  // The new epoch's entry takes the same slot the stale ref names.
  int new_runs = 0;
  auto* new_counter = &new_runs;
  auto fresh = stack.defer([new_counter] { ++*new_counter; });
  CHECK(fresh);
  if (!fresh) return;
  CHECK(fresh->index == ref->index);
  auto stale = stack.release(*ref);
  CHECK(code_of_ref(stale) == static_cast<int>(errc::stale_handle));
  auto stale_dismiss = stack.dismiss(*ref);
  CHECK(code_of_ref(stale_dismiss) == static_cast<int>(errc::stale_handle));
  // Neither touched the live entry in that slot.
  CHECK(new_runs == 0);
  CHECK(old_runs == 1);
  CHECK(stack.size() == 1);
  auto bogus = stack.release(steward::cleanup_ref{7, 2});
  CHECK(code_of_ref(bogus) == static_cast<int>(errc::invalid_handle));
  CHECK(stack.size() == 1);
  const auto summary = stack.unwind();
  CHECK(summary.released == 1);  // the live entry runs exactly once, at unwind
  CHECK(new_runs == 1);
  CHECK(old_runs == 1);
}

TEST_CASE("cleanup stack: adopt releases the handle with its function") {
  cleanup_stack<4> stack;
  g_closed[1] = g_closed[2] = 0;
  REQUIRE(stack.adopt(1, &close_slot));
  REQUIRE(stack.adopt(2, &close_slot));
  CHECK(stack.unwind().released == 2);
  CHECK(g_closed[1] == 1);
  CHECK(g_closed[2] == 1);
}

TEST_CASE("cleanup stack: failed releases are counted, never swallowed") {
  cleanup_stack<4> stack;
  REQUIRE(stack.adopt(0, &failing_close));     // int != 0
  REQUIRE(stack.defer([] { return false; }));  // bool false
  REQUIRE(stack.defer([]() -> steward::result<void> { return steward::fail(errc::io_error); }));
  REQUIRE(stack.defer([] { return 0; }));  // int 0: fine
  const auto summary = stack.unwind();
  CHECK(summary.released == 4);
  CHECK(summary.failed == 3);
  auto ref = stack.defer([] { return false; });
  REQUIRE(ref);
  auto early = stack.release(*ref);
  REQUIRE_FALSE(early);
  CHECK(early.error() == errc::cleanup_failed);
}

#if STEWARD_USING_EXCEPTIONS
TEST_CASE("cleanup stack: a throwing release counts as failed and the rest still run") {
  cleanup_stack<3> stack;
  int runs = 0;
  auto* counter = &runs;
  REQUIRE(stack.defer([counter] { ++*counter; }));
  REQUIRE(stack.defer([]() -> int { throw 42; }));
  REQUIRE(stack.defer([counter] { ++*counter; }));
  const auto summary = stack.unwind();
  CHECK(summary.failed == 1);
  CHECK(runs == 2);
}
#endif
