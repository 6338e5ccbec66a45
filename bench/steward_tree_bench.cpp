// Supervision-tree benchmarks, each beside a baseline measured in the same run, in rounds that
// alternate the implementations (bench_common.hpp: median ratio and its run-to-run range).
//
//   restart            failure -> the new incarnation's first instruction: steward one_for_one vs
//                      a hand-rolled supervisor that joins the thread and creates a new one, and
//                      vs two futex hand-offs between parked threads (the floor of a supervisor
//                      thread that restarts a parked worker); restart_storm: back to back
//   start / pause_all / resume_all / stop_all at 8, 64, 256 and 1,024 workers that wait
//                      (a steward wait that only pause and stop end), for steward's sequential
//                      (OTP's strict order) and parallel child_order, vs N threads sharing a
//                      mutex, a condvar and a flag: created, paused with an acknowledgement
//                      counter, resumed with notify_all, stopped with notify_all + join in reverse
//   per_worker_*       the same operations divided by the number of workers, as a ratio to the
//                      same implementation's figure at 8 workers (flatness)
//   memory per slot    sizeof of the slot types (SIZE lines)
// Usage: steward_tree_bench [--quick] [--rounds N]
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "bench_common.hpp"
#include "steward/supervisors/supervisor.hpp"

namespace {

using namespace std::chrono_literals;
using bench::clk;
using bench::futex;
using bench::ns_since;
using bench::series;

void in_order(bool reversed, std::initializer_list<std::function<void()>> steps) {
  std::vector<std::function<void()>> v(steps);
  if (reversed) std::reverse(v.begin(), v.end());
  for (auto& f : v) f();
}

// ------------------------------------------------------------------ restart latency

std::atomic<std::int64_t> g_failed_at{0};
std::atomic<std::int64_t> g_entered_at{0};
std::atomic<int> g_crash{0};
steward::notifier g_crash_note;

steward::result<void> crasher_body(steward::worker_context& ctx) {
  g_entered_at.store(bench::now_ns());
  STEWARD_TRY(ctx.wait_until(
      g_crash_note, [] { return g_crash.load() != 0; }, steward::never));
  g_crash = 0;
  g_failed_at.store(bench::now_ns());
  return steward::fail(steward::errc::worker_failed, "bench");
}

steward::static_worker<128 * 1024, 2> g_crasher;

void steward_restarts(series& out, std::size_t round, int count) {
  static steward::supervisor<1> root({"root", steward::strategy::one_for_one, 16, 1us});
  static steward::supervision_tree<128 * 1024> tree(root);
  static bool built = false;
  if (!built) {
    steward::child_spec spec;
    spec.id = "crasher";
    spec.worker_slot = &g_crasher;
    spec.body = &crasher_body;
    if (!root.add_child(spec)) std::abort();
    built = true;
  }
  if (!tree.start()) std::abort();
  for (int i = 0; i < count; ++i) {
    while (g_crasher.state() != steward::worker_state::running) std::this_thread::yield();
    const auto entered_before = g_entered_at.load();
    g_crash = 1;
    g_crash_note.notify_all();
    while (g_entered_at.load() == entered_before) std::this_thread::yield();  // leave the CPU to it
    out.add(round, static_cast<double>(g_entered_at.load() - g_failed_at.load()));
  }
  if (!tree.stop()) std::abort();
}

void thread_per_restart(series& out, std::size_t round, int count) {
  std::atomic<std::int64_t> failed_at{0}, entered_at{0};
  auto body = [&] {
    entered_at.store(bench::now_ns());
    failed_at.store(bench::now_ns());  // fails at once
  };
  std::thread t(body);
  for (int i = 0; i < count; ++i) {
    t.join();  // the supervisor notices the exit ...
    const auto failed = failed_at.load();
    t = std::thread(body);  // ... and creates a new thread
    while (entered_at.load() <= failed) std::this_thread::yield();
    out.add(round, static_cast<double>(entered_at.load() - failed));
  }
  t.join();
}

void two_handoffs(series& out, std::size_t round, int count) {
  // worker --(futex)--> supervisor thread --(futex)--> worker: the hand-offs of a runner thread
  std::atomic<std::uint32_t> failed{0}, go{0};
  std::atomic<std::int64_t> failed_at{0}, entered_at{0};
  std::atomic<bool> quit{false};
  std::thread supervisor([&] {
    while (!quit.load()) {
      while (failed.load() == 0 && !quit.load()) futex(failed, FUTEX_WAIT, 0);
      failed = 0;
      go = 1;
      futex(go, FUTEX_WAKE, 1);
    }
  });
  std::thread worker([&] {
    for (;;) {
      while (go.load() == 0) futex(go, FUTEX_WAIT, 0);
      go = 0;
      if (quit.load()) return;
      entered_at.store(bench::now_ns());
    }
  });
  for (int i = 0; i < count; ++i) {
    std::this_thread::sleep_for(20us);  // both park in the kernel, as a restarted child would
    const auto before = entered_at.load();
    failed_at.store(bench::now_ns());
    failed = 1;
    futex(failed, FUTEX_WAKE, 1);
    while (entered_at.load() == before) std::this_thread::yield();
    out.add(round, static_cast<double>(entered_at.load() - failed_at.load()));
  }
  quit = true;
  failed = 1;
  futex(failed, FUTEX_WAKE, 1);
  supervisor.join();
  go = 1;
  futex(go, FUTEX_WAKE, 1);
  worker.join();
}

// ------------------------------------------------------------------ whole-tree operations

constexpr std::size_t k_sizes[] = {8, 64, 256, 1024};
constexpr std::size_t k_max_workers = 1024;
using small_worker = steward::static_worker<64 * 1024, 2>;
small_worker g_pool[k_max_workers];
steward::notifier g_notes[k_max_workers];  // one per worker: nothing shared between workers
const char* g_ids[k_max_workers];
char g_id_text[k_max_workers][8];
bench::countdown g_resumed;

// A worker that waits until paused or stopped; after each resume it says it runs again.
steward::worker_body idle_body(std::size_t index) {
  return [index](steward::worker_context& ctx) -> steward::result<void> {
    std::uint32_t parks = ctx.park_count();
    return ctx.wait_until(
        g_notes[index],
        [&ctx, &parks] {
          if (ctx.park_count() != parks) {  // evaluated first thing after a resume
            parks = ctx.park_count();
            g_resumed.arrive();
          }
          return false;
        },
        steward::never);
  };
}

struct tree_series {
  explicit tree_series(const char* impl) : start(impl), pause(impl), resume(impl), stop(impl) {}
  series start, pause, resume, stop;
};

struct tree_cycle {
  int cycles;        // start ... stop per round
  int pauses;        // pause + resume pairs per cycle
};

class steward_tree {
 public:
  explicit steward_tree(std::size_t n)
      : m_n(n),
        m_root(std::make_unique<steward::supervisor<k_max_workers>>(
            steward::supervisor_config{"root", steward::strategy::one_for_one, 16, 1us})) {
    for (std::size_t i = 0; i < n; ++i) {
      steward::child_spec spec;
      spec.id = g_ids[i];
      spec.worker_slot = &g_pool[i];
      spec.body = idle_body(i);
      if (!m_root->add_child(spec)) std::abort();
    }
    m_tree = std::make_unique<steward::supervision_tree<128 * 1024>>(*m_root);
  }
  ~steward_tree() { m_tree.reset(); }  // the tree before its root
  steward_tree(const steward_tree&) = delete;
  steward_tree& operator=(const steward_tree&) = delete;

  void set_order(steward::child_order order) {
    auto cfg = m_root->config();
    cfg.order = order;
    if (!m_root->configure(cfg)) std::abort();
  }

  void run(tree_series& out, std::size_t round, tree_cycle c, bool record) {
    for (int k = 0; k < c.cycles; ++k) {
      auto t0 = clk::now();
      auto started = m_tree->start();
      const double start_ns = ns_since(t0);
      if (!started) {
        std::fprintf(stderr, "tree start failed: %s (%s)\n", steward::describe(started.error().code),
                     started.error().subject != nullptr ? started.error().subject : "");
        std::exit(1);
      }
      std::this_thread::sleep_for(1ms);
      for (int p = 0; p < c.pauses; ++p) {
        t0 = clk::now();
        if (!m_tree->pause(10s)) std::abort();
        const double pause_ns = ns_since(t0);
        std::this_thread::sleep_for(200us);
        g_resumed.arm(static_cast<std::uint32_t>(m_n));
        t0 = clk::now();
        if (!m_tree->resume()) std::abort();
        g_resumed.wait();  // every worker runs again
        const double resume_ns = ns_since(t0);
        if (record) {
          out.pause.add(round, pause_ns);
          out.resume.add(round, resume_ns);
        }
        std::this_thread::sleep_for(200us);
      }
      t0 = clk::now();
      if (!m_tree->stop()) std::abort();
      const double stop_ns = ns_since(t0);
      if (record) {
        out.start.add(round, start_ns);
        out.stop.add(round, stop_ns);
      }
      std::this_thread::sleep_for(1ms);
    }
  }

 private:
  std::size_t m_n;
  std::unique_ptr<steward::supervisor<k_max_workers>> m_root;
  std::unique_ptr<steward::supervision_tree<128 * 1024>> m_tree;
};

// The hand-rolled equivalent: N threads sharing one mutex, one condvar and two flags.
void hand_rolled(std::size_t n, tree_series& out, std::size_t round, tree_cycle c) {
  for (int k = 0; k < c.cycles; ++k) {
    std::mutex m;
    std::condition_variable cv, ack;
    bool pause = false, stop = false;
    std::size_t parked = 0;
    bench::countdown started;
    started.arm(static_cast<std::uint32_t>(n));
    std::vector<std::thread> threads;
    threads.reserve(n);
    auto t0 = clk::now();
    for (std::size_t i = 0; i < n; ++i) {
      threads.emplace_back([&] {
        std::unique_lock<std::mutex> lock(m);
        started.arrive();
        for (;;) {
          cv.wait(lock, [&] { return pause || stop; });
          if (stop) return;
          if (++parked == n) ack.notify_one();
          cv.wait(lock, [&] { return !pause || stop; });
          --parked;
          if (stop) return;
          g_resumed.arrive();
        }
      });
    }
    started.wait();
    const double start_ns = ns_since(t0);
    std::this_thread::sleep_for(1ms);
    for (int p = 0; p < c.pauses; ++p) {
      t0 = clk::now();
      {
        std::unique_lock<std::mutex> lock(m);
        pause = true;
        cv.notify_all();
        ack.wait(lock, [&] { return parked == n; });
      }
      out.pause.add(round, ns_since(t0));
      std::this_thread::sleep_for(200us);
      g_resumed.arm(static_cast<std::uint32_t>(n));
      t0 = clk::now();
      {
        std::lock_guard<std::mutex> lock(m);
        pause = false;
      }
      cv.notify_all();
      g_resumed.wait();
      out.resume.add(round, ns_since(t0));
      std::this_thread::sleep_for(200us);
    }
    t0 = clk::now();
    {
      std::lock_guard<std::mutex> lock(m);
      stop = true;
    }
    cv.notify_all();
    for (std::size_t i = n; i-- > 0;) threads[i].join();
    out.stop.add(round, ns_since(t0));
    out.start.add(round, start_ns);
    std::this_thread::sleep_for(1ms);
  }
}

// Per-worker figures: every sample divided by n.
series per_worker(const series& s, std::size_t n, const char* impl) {
  series out(impl);
  for (std::size_t r = 0; r < s.rounds(); ++r) {
    for (double v : s.round(r)) out.add(r, v / static_cast<double>(n));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const auto opt = bench::parse_options(argc, argv, "steward_tree_bench");
  bench::print_loadavg(opt, "start");
  for (std::size_t i = 0; i < k_max_workers; ++i) {
    std::snprintf(g_id_text[i], sizeof g_id_text[i], "w%zu", i);
    g_ids[i] = g_id_text[i];
  }
  std::printf("supervision tree benchmarks: %d rounds (%u CPUs)\n", opt.rounds, std::thread::hardware_concurrency());

  // ---- restart latency
  const int restarts = opt.quick ? 100 : 400;  // per round
  const int storm = opt.quick ? 400 : 2000;    // per round, back to back
  series rs_steward("steward"), rs_thread("new_thread"), rs_handoff("two_futex_handoffs"), rs_storm("steward");
  for (int r = 0; r < opt.rounds; ++r) {
    const auto round = static_cast<std::size_t>(r);
    in_order(r % 2 == 1, {[&] { steward_restarts(rs_steward, round, restarts); },
                          [&] { thread_per_restart(rs_thread, round, restarts); },
                          [&] { two_handoffs(rs_handoff, round, restarts); }});
    steward_restarts(rs_storm, round, storm);
  }
  bench::report("restart", rs_thread, rs_thread);
  bench::report("restart", rs_handoff, rs_thread);
  bench::report("restart", rs_steward, rs_thread);
  bench::report("restart", rs_steward, rs_handoff);
  bench::report("restart_storm", rs_storm, rs_thread);
  bench::report("restart_storm", rs_storm, rs_steward.relabelled("steward_isolated"), {2.0});

  // ---- whole-tree operations
  const tree_cycle cycle{opt.quick ? 1 : 3, opt.quick ? 2 : 3};
  std::vector<std::unique_ptr<steward_tree>> trees;
  std::vector<tree_series> base, seq, par;
  for (std::size_t n : k_sizes) {
    trees.push_back(std::make_unique<steward_tree>(n));
    base.emplace_back("hand_rolled");
    seq.emplace_back("steward_sequential");
    par.emplace_back("steward_parallel");
  }
  for (std::size_t i = 0; i < trees.size(); ++i) {  // warm-up: the first start creates the threads
    trees[i]->set_order(steward::child_order::sequential);
    trees[i]->run(seq[i], 0, {1, 1}, false);
  }
  for (int r = 0; r < opt.rounds; ++r) {
    const auto round = static_cast<std::size_t>(r);
    for (std::size_t i = 0; i < trees.size(); ++i) {
      const std::size_t n = k_sizes[i];
      in_order((r + static_cast<int>(i)) % 2 == 1,
               {[&] { hand_rolled(n, base[i], round, cycle); },
                [&] {
                  trees[i]->set_order(steward::child_order::sequential);
                  trees[i]->run(seq[i], round, cycle, true);
                },
                [&] {
                  trees[i]->set_order(steward::child_order::parallel);
                  trees[i]->run(par[i], round, cycle, true);
                }});
    }
    std::fprintf(stderr, "tree round %d done\n", r + 1);
  }
  for (std::size_t i = 0; i < trees.size(); ++i) {
    const int n = static_cast<int>(k_sizes[i]);
    char name[48];
    struct op {
      const char* label;
      series tree_series::*field;
      double seq_goal, par_goal;
    };
    const op ops[] = {{"start", &tree_series::start, 0, 0},
                      {"pause_all", &tree_series::pause, 1.0, 0.5},
                      {"resume_all", &tree_series::resume, 0, 0},
                      {"stop_all", &tree_series::stop, 1.0, 0.5}};
    for (const auto& o : ops) {
      std::snprintf(name, sizeof name, "%s_n%d", o.label, n);
      bench::report(name, base[i].*o.field, base[i].*o.field, {}, n);
      bench::report(name, seq[i].*o.field, base[i].*o.field, {o.seq_goal}, n);
      bench::report(name, par[i].*o.field, base[i].*o.field, {o.par_goal}, n);
    }
  }
  // ---- per-worker cost, as a ratio to the same implementation at 8 workers
  for (const char* label : {"start", "pause_all", "resume_all", "stop_all"}) {
    series tree_series::*field = std::strcmp(label, "start") == 0       ? &tree_series::start
                                 : std::strcmp(label, "pause_all") == 0 ? &tree_series::pause
                                 : std::strcmp(label, "resume_all") == 0 ? &tree_series::resume
                                                                         : &tree_series::stop;
    for (auto* impl : {&base, &seq, &par}) {
      const char* who = (*impl)[0].start.impl();
      char at8[48];
      std::snprintf(at8, sizeof at8, "%s_n8", who);
      const series first = per_worker((*impl)[0].*field, k_sizes[0], at8);
      for (std::size_t i = 0; i < trees.size(); ++i) {
        char name[48];
        std::snprintf(name, sizeof name, "per_worker_%s_n%zu", label, k_sizes[i]);
        const series pw = per_worker((*impl)[i].*field, k_sizes[i], who);
        const bool ours = impl != &base;
        bench::report(name, pw, first, {ours ? 2.0 : 0}, static_cast<int>(k_sizes[i]));
      }
    }
  }
  trees.clear();

  std::printf("SIZE name=child_slot bytes=%zu\n", sizeof(steward::detail::child_slot));
  std::printf("SIZE name=worker_without_stack bytes=%zu\n",
              sizeof(steward::static_worker<16384, 1>) - 16384 - sizeof(steward::cleanup_entry));
  std::printf("SIZE name=cleanup_entry bytes=%zu\n", sizeof(steward::cleanup_entry));
  std::printf("SIZE name=supervisor_base bytes=%zu\n",
              sizeof(steward::supervisor<1>) - sizeof(steward::detail::child_slot));
  bench::print_table("supervision tree figures (ratio: median of per-round ratios, range over rounds)");
  bench::print_loadavg(opt, "end");
  return 0;
}
