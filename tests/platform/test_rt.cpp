// Real-time knobs, checked by reading back what the kernel applied. Where this process lacks the
// privilege, the test checks the typed refusal (or the reported fallback) and says so.
#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vector>

#include "steward/platform/rt.hpp"
#include "test_support.hpp"

using namespace testutil;
namespace plat = steward::platform;
using steward::errc;

TEST_CASE("rt: lock_memory pins the process or says why it cannot") {
  auto locked = plat::lock_memory();
  if (locked) {
    CHECK(plat::unlock_memory());
  } else {
    CHECK((locked.error() == errc::permission_denied || locked.error() == errc::resource_exhausted));
    MESSAGE("mlockall refused here (errno ", locked.error().value, "): checked the typed error");
  }
}

TEST_CASE("rt: a prefaulted worker stack is resident before the worker runs" * doctest::timeout(60)) {
  steward::worker_config cfg;
  cfg.name = "prefaulted";
  cfg.prefault_stack = true;
  cfg.body = [](steward::worker_context&) {};
  static steward::static_worker<k_stack, 2> w(cfg);
  REQUIRE(w.start());
  REQUIRE(w.join(k_ack));  // an acknowledgement, no polling
  CHECK(w.state() == steward::worker_state::stopped);
  // Read residency of the worker's stack storage, found through the object's own address range.
  const auto page = plat::page_size();
  auto* begin = reinterpret_cast<unsigned char*>(&w);
  const auto first = reinterpret_cast<std::uintptr_t>(begin) / page * page;
  const auto last = (reinterpret_cast<std::uintptr_t>(begin) + sizeof w) / page * page;
  const auto pages = (last - first) / page;
  std::vector<unsigned char> resident(pages + 1);
  REQUIRE(mincore(reinterpret_cast<void*>(first), pages * page, resident.data()) == 0);
  std::size_t in_ram = 0;
  for (std::size_t i = 0; i < pages; ++i) in_ram += (resident[i] & 1U);
  CHECK(in_ram == pages);
}

TEST_CASE("rt: a worker runs with the SCHED_FIFO priority it asked for, or reports the fallback" * doctest::timeout(60)) {
  struct seen {
    std::atomic<int> policy{-1}, priority{-1};
  } s;
  steward::worker_config cfg;
  cfg.name = "rt-worker";
  cfg.thread.policy = plat::sched_policy::fifo;
  cfg.thread.priority = 10;
  auto* out = &s;
  cfg.body = [out](steward::worker_context&) {
    auto sched = plat::current_scheduling();
    if (sched) {
      out->policy = static_cast<int>(sched->policy);
      out->priority = sched->priority;
    }
  };
  auto w = make_worker(cfg);
  auto started = w->start();
  REQUIRE(started);
  REQUIRE(w->join(k_ack));  // an acknowledgement, no polling
  CHECK(w->state() == steward::worker_state::stopped);
  if (started->thread.rt_fell_back) {
    MESSAGE("SCHED_FIFO refused here (errno ", started->thread.rt_errno, "): checked the fallback");
    CHECK(s.policy == static_cast<int>(plat::sched_policy::other));
  } else {
    CHECK(s.policy == static_cast<int>(plat::sched_policy::fifo));
    CHECK(s.priority == 10);
  }
}

TEST_CASE("rt: a worker runs on the CPU it is pinned to" * doctest::timeout(60)) {
  auto mine = plat::current_affinity();
  REQUIRE(mine);
  REQUIRE(*mine != 0);
  std::uint64_t last_cpu = 0;
  for (unsigned c = 0; c < 64; ++c) {
    if ((*mine >> c) & 1U) last_cpu = std::uint64_t{1} << c;
  }
  std::atomic<std::uint64_t> seen{0};
  steward::worker_config cfg;
  cfg.thread.affinity = last_cpu;
  auto* out = &seen;
  cfg.body = [out](steward::worker_context&) {
    auto a = plat::current_affinity();
    if (a) *out = *a;
  };
  auto w = make_worker(cfg);
  REQUIRE(w->start());
  REQUIRE(w->join(k_ack));  // an acknowledgement, no polling
  CHECK(w->state() == steward::worker_state::stopped);
  CHECK(seen.load() == last_cpu);
}

TEST_CASE("rt: worker stacks are checked against the system minimum at run time") {
  CHECK(plat::min_stack_size() >= 16384);
  CHECK(k_stack >= plat::min_stack_size());
  CHECK(plat::page_size() >= 4096);
}
