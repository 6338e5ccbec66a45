// Test kit for supervisor trees: scripted children, a start/exit trace and an event log.
#pragma once

#include <memory>

#include "steward/supervisors/supervisor.hpp"
#include "test_support.hpp"

namespace testutil {

enum command : int { run = 0, return_ok = 1, return_error = 2, throw_up = 3, hang = 4 };

struct child_ctl {
  std::atomic<int> starts{0};
  std::atomic<int> releases{0};
  std::atomic<int> cmd{run};
  std::atomic<bool> hang_release{false};
};

struct kit {
  static constexpr int k_children = 8;
  static constexpr const char* k_ids[k_children] = {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"};
  child_ctl ctl[k_children];
  steward::notifier note;
  std::atomic<int> trace[1024]{};
  std::atomic<int> trace_len{0};
  std::atomic<int> trace_done{0};  // entries fully written
  std::unique_ptr<test_worker> workers[k_children];

  kit() {
    for (auto& w : workers) w = std::make_unique<test_worker>();
  }
  ~kit() {
    for (auto& c : ctl) c.hang_release = true;  // let a hung worker go before its storage does
  }
  void record(int v) noexcept {
    const int at = trace_len.fetch_add(1);
    if (at < 1024) trace[at] = v;
    trace_done.fetch_add(1);
  }
  void command(int i, int c) {
    ctl[i].cmd = c;
    note.notify_all();
  }
  int starts(int i) const { return ctl[i].starts.load(); }

  steward::worker_body body(int i) {
    kit* self = this;
    return [self, i](steward::worker_context& ctx) -> steward::result<void> {
      auto& c = self->ctl[i];
      c.starts.fetch_add(1);
      self->record(i + 1);
      STEWARD_TRY(ctx.defer([self, i] {
        self->ctl[i].releases.fetch_add(1);
        self->record(-(i + 1));
      }));
      for (;;) {
        STEWARD_TRY(ctx.wait_until(
            self->note, [self, i] { return self->ctl[i].cmd.load() != run; }, steward::never));
        switch (c.cmd.exchange(run)) {
          case return_ok:
            return {};
          case return_error:
            return steward::fail(steward::errc::worker_failed, "scripted", 42);
#if STEWARD_USING_EXCEPTIONS
          case throw_up:
            throw std::runtime_error("scripted");
#endif
          case hang:
            while (!c.hang_release.load()) std::this_thread::yield();  // ignores stop
            return {};
          default:
            break;
        }
      }
    };
  }

  steward::child_spec spec(int i, steward::restart_type r = steward::restart_type::permanent) {
    steward::child_spec s;
    s.id = k_ids[i];
    s.worker_slot = workers[i].get();
    s.body = body(i);
    s.restart = r;
    s.shutdown = std::chrono::seconds(10);
    return s;
  }
};

struct event_log {
  std::atomic<int> kinds[4096]{};
  std::atomic<int> len{0};
  std::atomic<int> child[4096]{};  // the child's number for "cN" ids, else -1
  std::atomic<long long> last_delay_ns{0};
  std::atomic<int> hung_state{-1};
  std::atomic<long long> hung_for_ns{-1};
  static void hook(void* user, const steward::tree_event& e) noexcept {
    auto* log = static_cast<event_log*>(user);
    const int at = log->len.load();
    if (at < 4096) {
      log->kinds[at] = static_cast<int>(e.kind);
      log->child[at] = (e.child != nullptr && e.child[0] == 'c') ? e.child[1] - '0' : -1;
    }
    log->len.store(at + 1);  // hooks run one at a time (under the tree's operation lock)
    if (e.kind == steward::tree_event_kind::backoff_scheduled) log->last_delay_ns = e.delay.count();
    if (e.kind == steward::tree_event_kind::child_hung) {
      log->hung_state = e.err.value;
      log->hung_for_ns = e.delay.count();
    }
  }
  int count(steward::tree_event_kind k) const {
    int n = 0;
    for (int i = 0; i < len.load() && i < 4096; ++i) n += kinds[i].load() == static_cast<int>(k) ? 1 : 0;
    return n;
  }
  // The children named by events of kind k, in order.
  int children_of(steward::tree_event_kind k, int* out, int max) const {
    int n = 0;
    for (int i = 0; i < len.load() && i < 4096 && n < max; ++i) {
      if (kinds[i].load() == static_cast<int>(k)) out[n++] = child[i].load();
    }
    return n;
  }
  int index_of(steward::tree_event_kind k, int from = 0) const {
    for (int i = from; i < len.load() && i < 4096; ++i) {
      if (kinds[i].load() == static_cast<int>(k)) return i;
    }
    return -1;
  }
};

using test_tree = steward::supervision_tree<k_stack>;

// A child spec for a nested supervisor.
inline steward::child_spec supervisor_child(const char* id, steward::supervisor_base& sup) {
  steward::child_spec s;
  s.id = id;
  s.supervisor = &sup;
  return s;
}

// A root supervisor with up to 8 scripted worker children.
struct tree_fixture {
  kit k;
  event_log events;
  steward::supervisor<8> root;
  std::unique_ptr<test_tree> tree;

  explicit tree_fixture(steward::strategy s, std::uint32_t intensity = 5,
                        steward::duration period = std::chrono::hours(1)) {
    steward::supervisor_config cfg;
    cfg.name = "root";
    cfg.restart_strategy = s;
    cfg.intensity = intensity;
    cfg.period = period;
    REQUIRE(root.configure(cfg));
    tree = std::make_unique<test_tree>(root);
    REQUIRE(tree->set_event_hook(&event_log::hook, &events));
  }
  void add(int i, steward::restart_type r = steward::restart_type::permanent) {
    REQUIRE(root.add_child(k.spec(i, r)));
  }
  std::uint32_t gen(int i) const { return k.workers[i]->generation(); }
};

}  // namespace testutil
