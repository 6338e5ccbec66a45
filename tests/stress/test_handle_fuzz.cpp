// Handle fuzzing (issue 9, part 5, the handle half): random invalid handles - default
// constructed, stale generations (of plain workers and of a tree's children), foreign
// supervisors (another tree's, and one in no tree), unknown, empty, null and overlong child ids -
// passed to every handle-taking call of worker_handle and tree_base. Each must return its
// documented error and change nothing: the snapshot of both trees and every worker's state
// and generation are compared before and after. Deterministic: STEWARD_STRESS_SEED (default
// 9), STEWARD_FUZZ_HANDLES (default 10^6).
#include <cstring>
#include <memory>
#include <vector>

#include "stress_support.hpp"
#include "steward/supervisors/supervisor.hpp"

using namespace std::chrono_literals;
using steward::errc;
using steward::strategy;
using steward::worker_state;

namespace {

#if defined(STEWARD_STRESS_CROSS)
constexpr std::uint64_t k_default_handles = 20000;
#else
constexpr std::uint64_t k_default_handles = 1000000;
#endif

using slot_worker = steward::static_worker<testutil::k_stack, 8>;
using fuzz_tree = steward::supervision_tree<testutil::k_stack>;

// A child that waits until told to return: quiet, so any state change is the fuzzer's doing.
struct quiet {
  steward::notifier note;
  std::atomic<bool> release{false};
  steward::worker_body body() {
    quiet* q = this;
    return [q](steward::worker_context& ctx) -> steward::result<void> {
      STEWARD_TRY(ctx.wait_until(q->note, [q] { return q->release.load(); }, steward::never));
      return {};
    };
  }
};

struct small_tree {
  quiet q;
  std::unique_ptr<slot_worker> w0 = std::make_unique<slot_worker>();
  std::unique_ptr<slot_worker> w1 = std::make_unique<slot_worker>();
  std::unique_ptr<slot_worker> w2 = std::make_unique<slot_worker>();
  steward::supervisor<2> sub{{"sub", strategy::one_for_all, 16, 1s}};
  steward::supervisor<2> root{{"root", strategy::one_for_one, 16, 1s}};
  std::unique_ptr<fuzz_tree> tree;
  void build() {
    auto spec = [&](const char* id, slot_worker& w) {
      steward::child_spec s;
      s.id = id;
      s.worker_slot = &w;
      s.body = q.body();
      s.shutdown = 10s;
      return s;
    };
    steward::child_spec subspec;
    subspec.id = "sub";
    subspec.supervisor = &sub;
    REQUIRE(sub.add_child(spec("w0", *w0)));
    REQUIRE(sub.add_child(spec("w1", *w1)));
    REQUIRE(root.add_child(subspec));
    REQUIRE(root.add_child(spec("w2", *w2)));
    tree = std::make_unique<fuzz_tree>(root);
    REQUIRE(tree->start());
  }
};

// What must not change: every record of the snapshot except the times.
struct picture {
  std::size_t n{0};  // records of both trees, as mine + 16 * other (4 + 4 * 16 when all present)
  steward::child_snapshot s[8];
  worker_state states[8]{};
  std::uint32_t gens[8]{};
};

bool same(const picture& a, const picture& b, bool say = false) {
  if (a.n != b.n) return false;
  auto differs = [say](const char* what, std::size_t i) {
    if (say) std::fprintf(stderr, "  differs: %s of record %zu\n", what, i);
    return false;
  };
  for (std::size_t i = 0; i < 8; ++i) {
    const auto& x = a.s[i];
    const auto& y = b.s[i];
    if (std::strcmp(x.path, y.path) != 0) return differs("path", i);
    if (x.state != y.state) return differs("state", i);
    if (x.generation != y.generation) return differs("generation", i);
    if (x.restarts != y.restarts) return differs("restarts", i);
    if (x.has_exited != y.has_exited || x.quarantined != y.quarantined || x.restart_pending != y.restart_pending)
      return differs("flags", i);
    if (x.kind != y.kind) return differs("kind", i);
  }
  for (std::size_t i = 0; i < 8; ++i) {
    if (a.states[i] != b.states[i]) return differs("worker state", i);
    if (a.gens[i] != b.gens[i]) return differs("worker generation", i);
  }
  return true;
}

}  // namespace

TEST_CASE("fuzz: a million random invalid handles are refused with their error and change nothing" *
          doctest::timeout(1800)) {
  const std::uint64_t seed = stress::env_u64("STEWARD_STRESS_SEED", 9);
  const std::uint64_t target = stress::env_u64("STEWARD_FUZZ_HANDLES", k_default_handles);
  std::fprintf(stderr, "fuzz: seed %llu, %llu handles (replay: STEWARD_STRESS_SEED=%llu STEWARD_FUZZ_HANDLES=%llu)\n",
               static_cast<unsigned long long>(seed), static_cast<unsigned long long>(target),
               static_cast<unsigned long long>(seed), static_cast<unsigned long long>(target));
  MESSAGE("seed ", seed, ", ", target, " handles");
  const auto t0 = std::chrono::steady_clock::now();
  stress::rng r(seed);

  small_tree mine;
  small_tree other;  // foreign: its supervisors belong to another tree
  mine.build();
  other.build();
  steward::supervisor<2> loose({"loose", strategy::one_for_one, 1, 1s});  // in no tree at all

  // Plain workers, restarted many times: a pool of stale handles of every generation.
  quiet pq;
  std::unique_ptr<slot_worker> plain[2] = {std::make_unique<slot_worker>(), std::make_unique<slot_worker>()};
  std::vector<steward::worker_handle> stale;
  for (auto& p : plain) {
    steward::worker_config cfg;
    cfg.name = "plain";
    cfg.body = pq.body();
    REQUIRE(p->configure(cfg));
    for (int i = 0; i < 200; ++i) {
      auto info = p->start();
      REQUIRE(info);
      stale.push_back(info->handle);
      if (i % 2 == 0) REQUIRE(p->wait_initialised(testutil::k_ack));
      REQUIRE(p->stop(testutil::k_ack));
    }
    REQUIRE(p->start());  // a live incarnation, which stale handles must not reach
    REQUIRE(p->wait_initialised(testutil::k_ack));
  }
  // Stale handles of tree children: restart a child through the tree a few times.
  for (int i = 0; i < 50; ++i) {
    stale.push_back(mine.w2->handle());
    REQUIRE(mine.tree->terminate_child(mine.root, "w2"));
    REQUIRE(mine.tree->restart_child(mine.root, "w2"));
    stale.push_back(other.w0->handle());
    REQUIRE(other.tree->terminate_child(other.sub, "w0"));
    REQUIRE(other.tree->restart_child(other.sub, "w0"));
  }
  // Wait until every child is initialised again (restart_child returns once it is).
  slot_worker* all[8] = {mine.w0.get(), mine.w1.get(), mine.w2.get(), other.w0.get(),
                         other.w1.get(), other.w2.get(), plain[0].get(), plain[1].get()};

  auto take = [&](picture& p) {
    auto n = mine.tree->snapshot(p.s, 4);
    auto m = other.tree->snapshot(p.s + 4, 4);
    p.n = (n ? *n : 99) + (m ? *m : 99) * 16;
    for (int i = 0; i < 8; ++i) {
      p.states[i] = all[i]->state();
      p.gens[i] = all[i]->generation();
    }
  };
  picture before;
  take(before);
  REQUIRE(before.n == 4 + 4 * 16);

  // Ids that name nothing in the supervisor they are passed with.
  static char overlong[300];
  std::memset(overlong, 'x', sizeof overlong - 1);
  const char* const bad_ids[] = {nullptr, "", "w9", "W0", "w0 ", "sub/w0", "root", "w", overlong, "w2\n"};
  enum : int { k_default, k_stale, k_foreign, k_loose, k_unknown_id, k_kinds };
  std::uint64_t per_kind[k_kinds]{};
  std::uint64_t wrong = 0;
  std::uint64_t changed = 0;
  auto expect = [&](int got, errc want, const char* what, std::uint64_t i) {
    if (got == testutil::code(want)) return;
    if (++wrong <= 20)
      std::fprintf(stderr, "fuzz VIOLATION #%llu: %s returned %d, expected %s\n", static_cast<unsigned long long>(i),
                   what, got, steward::describe(want));
  };
  for (std::uint64_t i = 0; i < target; ++i) {
    const int kind = static_cast<int>(r.below(k_kinds));
    ++per_kind[kind];
    const auto api = r.below(8);
    if (kind == k_default || kind == k_stale) {
      const steward::worker_handle h = kind == k_default ? steward::worker_handle{} : stale[r.below(static_cast<std::uint32_t>(stale.size()))];
      const errc want = kind == k_default ? errc::invalid_handle : errc::stale_handle;
      // Timeouts are irrelevant to a refusal; a long one would turn a wrong wait into a hang.
      const steward::duration t = r.one_in(2) ? 0ns : 1ms;
      switch (api % 4) {
        case 0:
          expect(testutil::code_of(h.pause(t)), want, "handle.pause", i);
          break;
        case 1:
          expect(testutil::code_of(h.resume()), want, "handle.resume", i);
          break;
        case 2:
          expect(testutil::code_of(h.stop(t)), want, "handle.stop", i);
          break;
        default:
          expect(testutil::code_of(h.state()), want, "handle.state", i);
          break;
      }
    } else {
      steward::supervisor_base* sup = nullptr;
      errc want = errc::invalid_handle;
      const char* id = bad_ids[r.below(10)];
      if (kind == k_foreign) {
        sup = r.one_in(2) ? static_cast<steward::supervisor_base*>(&other.root) : &other.sub;
        if (r.one_in(2)) id = r.one_in(2) ? "w0" : "w2";  // ids valid there, not here
      } else if (kind == k_loose) {
        sup = &loose;
      } else {
        sup = r.one_in(2) ? static_cast<steward::supervisor_base*>(&mine.root) : &mine.sub;
        want = errc::invalid_argument;
      }
      switch (api) {
        case 0:
          expect(testutil::code_of(mine.tree->terminate_child(*sup, id)), want, "terminate_child", i);
          break;
        case 1:
          expect(testutil::code_of(mine.tree->restart_child(*sup, id)), want, "restart_child", i);
          break;
        case 2:
          expect(testutil::code_of(mine.tree->delete_child(*sup, id)), want, "delete_child", i);
          break;
        case 3:
          if (kind != k_unknown_id) expect(testutil::code_of(mine.tree->count_children(*sup)), errc::invalid_handle, "count_children", i);
          break;
        case 4:
          if (kind != k_unknown_id) expect(testutil::code_of(mine.tree->pause(*sup, r.one_in(2) ? 0ns : 1ms)), errc::invalid_handle, "tree.pause(sub)", i);
          break;
        case 5:
          if (kind != k_unknown_id) expect(testutil::code_of(mine.tree->resume(*sup)), errc::invalid_handle, "tree.resume(sub)", i);
          break;
        default:  // the foreign tree refuses this tree's supervisors too
          if (kind != k_unknown_id) {
            expect(testutil::code_of(other.tree->terminate_child(mine.root, "w2")), errc::invalid_handle,
                   "other.terminate_child(mine)", i);
          }
          break;
      }
    }
    if (i % 16 == 15 || i + 1 == target) {
      picture now;
      take(now);
      if (!same(before, now) && ++changed <= 5) {
        std::fprintf(stderr, "fuzz VIOLATION: state changed by handle #%llu (kind %d, api %u)\n",
                     static_cast<unsigned long long>(i), kind, static_cast<unsigned>(api));
        static_cast<void>(same(before, now, true));
      }
      if (!same(before, now)) before = now;  // report each change once
    }
  }
  CHECK(wrong == 0);
  CHECK(changed == 0);
  for (auto n : per_kind) CHECK(n > 0);
  CHECK(mine.tree->stop());
  CHECK(other.tree->stop());
  for (auto& p : plain) CHECK(p->stop(testutil::k_ack));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "fuzz: %llu handles in %.1f s (default %llu, stale %llu, foreign %llu, in no tree %llu, unknown id %llu), %zu stale handles in the pool\n",
               static_cast<unsigned long long>(target), secs, static_cast<unsigned long long>(per_kind[0]),
               static_cast<unsigned long long>(per_kind[1]), static_cast<unsigned long long>(per_kind[2]),
               static_cast<unsigned long long>(per_kind[3]), static_cast<unsigned long long>(per_kind[4]), stale.size());
}
