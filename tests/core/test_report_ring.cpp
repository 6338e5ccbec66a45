// The report ring (core/report_ring.hpp): order, drops, concurrent producers, no allocation.
// The concurrency case is also run under ThreadSanitizer (the tsan stage); the ring's hand-offs
// are acquire/release pairs on atomics, so TSan checks them without fence annotations.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "alloc_counter.hpp"
#include "steward/core/report_ring.hpp"

using steward::report_ring;

namespace {

struct item {
  std::uint32_t producer{0};
  std::uint32_t index{0};
  std::uint64_t payload{0};  // producer * index: a torn copy would not match
};

}  // namespace

TEST_CASE(
    "report ring: records come out in claim order with their positions; a full ring drops, never "
    "overwrites") {
  report_ring<item, 8> ring;
  CHECK(ring.capacity() == 8);
  for (std::uint32_t i = 0; i < 8; ++i) CHECK(ring.try_push(item{0, i, 0}) == static_cast<std::int64_t>(i));
  CHECK(ring.try_push(item{0, 99, 0}) == -1);  // full: dropped and counted
  CHECK(ring.try_push(item{0, 100, 0}) == -1);
  CHECK(ring.dropped() == 2);
  CHECK(ring.pushed() == 8);

  item out;
  std::uint64_t position = 1000;
  for (std::uint32_t i = 0; i < 8; ++i) {
    REQUIRE(ring.try_pop(out, &position));
    CHECK(out.index == i);  // the oldest first; the dropped ones never replaced a record
    CHECK(position == i);
  }
  CHECK_FALSE(ring.try_pop(out));
  // The next lap reuses the cells; positions keep counting.
  CHECK(ring.try_push(item{0, 8, 0}) == 8);
  REQUIRE(ring.try_pop(out, &position));
  CHECK(out.index == 8);
  CHECK(position == 8);
  CHECK(ring.take_dropped() == 2);
  CHECK(ring.take_dropped() == 0);  // each drop is handed out once
}

TEST_CASE(
    "report ring: concurrent producers and a consumer lose nothing unaccounted and keep each producer's "
    "order" *
    doctest::timeout(60)) {
  constexpr std::uint32_t k_producers = 4;
  constexpr std::uint32_t k_each = 20000;
  auto ring = std::make_unique<report_ring<item, 256>>();
  std::atomic<bool> go{false};
  std::atomic<std::uint32_t> finished{0};
  std::atomic<std::uint64_t> producer_drops{0};

  std::vector<std::thread> producers;
  for (std::uint32_t p = 0; p < k_producers; ++p) {
    producers.emplace_back([&, p] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      std::uint64_t drops = 0;
      for (std::uint32_t i = 0; i < k_each; ++i) {
        if (ring->try_push(item{p, i, std::uint64_t{p} * i}) < 0) ++drops;
        if ((i & 63U) == 0) std::this_thread::yield();  // let the consumer in now and then
      }
      producer_drops.fetch_add(drops);
      finished.fetch_add(1, std::memory_order_release);
    });
  }

  // The consumer runs on this thread while the producers push.
  std::uint32_t next[k_producers] = {};  // the smallest index each producer may still deliver
  std::uint64_t received = 0;
  std::uint64_t expected_position = 0;
  bool in_order = true;
  bool intact = true;
  bool positions_dense = true;
  go.store(true, std::memory_order_release);
  item out;
  std::uint64_t position = 0;
  for (;;) {
    const bool done = finished.load(std::memory_order_acquire) == k_producers;
    bool any = false;
    while (ring->try_pop(out, &position)) {
      any = true;
      ++received;
      if (out.producer >= k_producers || out.index < next[out.producer]) in_order = false;
      if (out.producer < k_producers) next[out.producer] = out.index + 1;
      if (out.payload != std::uint64_t{out.producer} * out.index) intact = false;
      if (position != expected_position) positions_dense = false;  // drops take no position
      expected_position = position + 1;
    }
    if (done && !any) break;
    if (!any) std::this_thread::yield();
  }
  for (auto& t : producers) t.join();

  CHECK(in_order);
  CHECK(intact);
  CHECK(positions_dense);
  CHECK(received + producer_drops.load() == std::uint64_t{k_producers} * k_each);  // nothing unaccounted
  CHECK(ring->dropped() == producer_drops.load());
  CHECK(ring->pushed() == received);
}

TEST_CASE("report ring: producers that only ever find it full count every drop once, concurrently" *
          doctest::timeout(60)) {
  auto ring = std::make_unique<report_ring<item, 4>>();
  for (std::uint32_t i = 0; i < 4; ++i) REQUIRE(ring->try_push(item{}) >= 0);
  constexpr int k_threads = 3;
  constexpr int k_each = 10000;
  std::atomic<std::uint64_t> taken{0};
  std::atomic<bool> stop{false};
  std::thread taker([&] {  // take_dropped() while drops are counted: none counted twice or lost
    while (!stop.load()) taken.fetch_add(ring->take_dropped());
  });
  std::vector<std::thread> producers;
  for (int p = 0; p < k_threads; ++p) {
    producers.emplace_back([&] {
      for (int i = 0; i < k_each; ++i) static_cast<void>(ring->try_push(item{}));
    });
  }
  for (auto& t : producers) t.join();
  stop.store(true);
  taker.join();
  CHECK(taken.load() + ring->take_dropped() == std::uint64_t{k_threads} * k_each);
  CHECK(ring->pushed() == 4);
}

TEST_CASE("report ring: pushing and popping allocate nothing") {
  if (testutil::alloc_counting_mode() == 0) {
    MESSAGE("skipped: allocations cannot be counted in this build");
    return;
  }
  auto ring = std::make_unique<report_ring<item, 64>>();
  std::uint64_t allocations = 0;
  std::uint64_t popped = 0;
  {
    const testutil::alloc_scope scope;
    item out;
    for (std::uint32_t i = 0; i < 10000; ++i) {
      static_cast<void>(ring->try_push(item{1, i, i}));
      if ((i % 100) == 99) {
        while (ring->try_pop(out)) ++popped;
      }
    }
    allocations = scope.this_thread();
  }
  CHECK(allocations == 0);
  CHECK(popped + ring->dropped() == 10000);
}
