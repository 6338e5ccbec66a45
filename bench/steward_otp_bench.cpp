// steward beside Erlang/OTP's supervisor, both measured on this machine in this session: each
// round runs steward's figures, then Erlang's (bench/otp/otp_bench.erl, run through `erl`), or
// the other way round, alternating (bench_common.hpp: median ratio and its range over rounds).
//
//   start_100              tree.start() of a supervisor with 100 worker children, until every
//                          child has declared itself initialised (its first safe point) vs
//                          supervisor:start_link with 100 gen_server children (until every init/1
//                          has run); steward in parallel and in sequential (OTP's) order
//   stop_100               tree.stop() of it vs exit(Sup, shutdown) until the supervisor's 'EXIT'
//   one_for_all_restart_8  one of 8 children of a one_for_all supervisor fails: from the failure to
//                          the last of the 8 restarted bodies' first instruction (each declares
//                          itself initialised there) vs the crash of a gen_server child to the
//                          last of the 8 restarted init/1s
//   restart_one_for_one    a one_for_one child fails: to its next incarnation's first instruction
//                          vs a gen_server's crash to its restarted init/1
// Usage: steward_otp_bench [--quick] [--rounds N] [--otp DIR]   (DIR: otp_bench*.beam, from erlc)
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "bench_common.hpp"
#include "steward/supervisors/supervisor.hpp"

namespace {

using namespace std::chrono_literals;
using bench::clk;
using bench::ns_since;
using bench::series;

constexpr std::size_t k_children = 100;
constexpr std::size_t k_group = 8;
using small_worker = steward::static_worker<64 * 1024, 2>;
small_worker g_pool[k_children];
small_worker g_group[k_group];
small_worker g_single;
steward::notifier g_notes[k_children];
steward::notifier g_group_notes[k_group];
const char* g_ids[k_children];
char g_id_text[k_children][8];

steward::worker_body idle_body(std::size_t index) {
  return [index](steward::worker_context& ctx) -> steward::result<void> {
    return ctx.wait_until(
        g_notes[index], [] { return false; }, steward::never);
  };
}

// ------------------------------------------------------------------ start / stop of 100

class hundred {
 public:
  hundred()
      : m_root(std::make_unique<steward::supervisor<k_children>>(
            steward::supervisor_config{"root", steward::strategy::one_for_one, 16, 1us})) {
    for (std::size_t i = 0; i < k_children; ++i) {
      steward::child_spec spec;
      spec.id = g_ids[i];
      spec.worker_slot = &g_pool[i];
      spec.body = idle_body(i);
      if (!m_root->add_child(spec)) std::abort();
    }
    m_tree = std::make_unique<steward::supervision_tree<128 * 1024>>(*m_root);
  }
  ~hundred() { m_tree.reset(); }
  hundred(const hundred&) = delete;
  hundred& operator=(const hundred&) = delete;

  void run(steward::child_order order, series* start, series* stop, std::size_t round, int count) {
    auto cfg = m_root->config();
    cfg.order = order;
    if (!m_root->configure(cfg)) std::abort();
    for (int i = 0; i < count; ++i) {
      auto t0 = clk::now();
      auto started = m_tree->start();
      const double start_ns = ns_since(t0);
      if (!started) {
        std::fprintf(stderr, "start failed: %s\n", steward::describe(started.error().code));
        std::exit(1);
      }
      std::this_thread::sleep_for(200us);
      t0 = clk::now();
      if (!m_tree->stop()) std::abort();
      const double stop_ns = ns_since(t0);
      if (start != nullptr) start->add(round, start_ns);
      if (stop != nullptr) stop->add(round, stop_ns);
      std::this_thread::sleep_for(200us);
    }
  }

 private:
  std::unique_ptr<steward::supervisor<k_children>> m_root;
  std::unique_ptr<steward::supervision_tree<128 * 1024>> m_tree;
};

// ------------------------------------------------------------------ restarts

std::atomic<std::int64_t> g_failed_at{0};
std::atomic<std::int64_t> g_init_at[k_group];
std::atomic<std::uint32_t> g_inits{0};
std::atomic<int> g_crash{0};
steward::notifier g_crash_note;

// Child 0 fails when told; every child records when its incarnation began, then declares itself
// initialised (what the supervisor waits for before the group counts as restarted).
steward::worker_body group_body(std::size_t index) {
  return [index](steward::worker_context& ctx) -> steward::result<void> {
    g_init_at[index].store(bench::now_ns());
    g_inits.fetch_add(1);
    ctx.declare_initialised();
    if (index != 0) {
      return ctx.wait_until(
          g_group_notes[index], [] { return false; }, steward::never);
    }
    STEWARD_TRY(ctx.wait_until(
        g_crash_note, [] { return g_crash.load() != 0; }, steward::never));
    g_crash = 0;
    g_failed_at.store(bench::now_ns());
    return steward::fail(steward::errc::worker_failed, "bench");
  };
}

class group {
 public:
  group(steward::strategy strategy, std::size_t n, small_worker* slots)
      : m_n(n),
        m_root(std::make_unique<steward::supervisor<k_group>>(
            steward::supervisor_config{"root", strategy, 16, 1us})) {
    for (std::size_t i = 0; i < n; ++i) {
      steward::child_spec spec;
      spec.id = g_ids[i];
      spec.worker_slot = &slots[i];
      spec.body = group_body(i);
      if (!m_root->add_child(spec)) std::abort();
    }
    m_tree = std::make_unique<steward::supervision_tree<128 * 1024>>(*m_root);
  }
  ~group() { m_tree.reset(); }
  group(const group&) = delete;
  group& operator=(const group&) = delete;

  void run(steward::child_order order, series* out, std::size_t round, int count) {
    auto cfg = m_root->config();
    cfg.order = order;
    if (!m_root->configure(cfg)) std::abort();
    if (!m_tree->start()) std::abort();
    for (int i = 0; i < count; ++i) {
      const std::uint32_t before = g_inits.load();
      g_crash = 1;
      g_crash_note.notify_all();
      while (g_inits.load() < before + m_n) std::this_thread::yield();  // every body began again
      std::int64_t last = 0;
      for (std::size_t k = 0; k < m_n; ++k) last = std::max(last, g_init_at[k].load());
      if (out != nullptr) out->add(round, static_cast<double>(last - g_failed_at.load()));
    }
    if (!m_tree->stop()) std::abort();
  }

 private:
  std::size_t m_n;
  std::unique_ptr<steward::supervisor<k_group>> m_root;
  std::unique_ptr<steward::supervision_tree<128 * 1024>> m_tree;
};

// ------------------------------------------------------------------ Erlang/OTP

struct otp_results {
  std::map<std::string, series> by_name;
  bool ok{false};
};

// Runs one round of bench/otp/otp_bench.erl and adds its samples to `out` under `round`.
bool run_otp_round(const char* dir, std::size_t round, int starts, int crashes, otp_results& out) {
  const std::string cmd = std::string("erl -noshell -kernel logger_level none -pa '") + dir +
                          "' -run otp_bench main " + std::to_string(round) + " " + std::to_string(starts) + " " +
                          std::to_string(crashes) + " 2>&1";
  std::FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return false;
  std::string line;
  int seen = 0;
  for (int c = std::fgetc(pipe);; c = std::fgetc(pipe)) {
    if (c != EOF && c != '\n') {
      line.push_back(static_cast<char>(c));
      continue;
    }
    if (line.rfind("OTPINFO ", 0) == 0 && round == 0) std::printf("%s\n", line.c_str());
    if (line.rfind("OTP name=", 0) == 0) {
      const auto name_end = line.find(' ', 9);
      const auto samples_at = line.find("samples=");
      if (name_end != std::string::npos && samples_at != std::string::npos) {
        const std::string name = line.substr(9, name_end - 9);
        auto it = out.by_name.find(name);
        if (it == out.by_name.end()) it = out.by_name.emplace(name, series("otp")).first;
        const char* p = line.c_str() + samples_at + 8;
        while (*p != '\0') {
          char* end = nullptr;
          const double v = std::strtod(p, &end);
          if (end == p) break;
          it->second.add(round, v);
          p = *end == ',' ? end + 1 : end;
        }
        ++seen;
      }
    } else if (!line.empty() && line.rfind("OTPINFO ", 0) != 0) {
      std::fprintf(stderr, "erl: %s\n", line.c_str());
    }
    line.clear();
    if (c == EOF) break;
  }
  const int rc = pclose(pipe);
  return rc == 0 && seen == 4;
}

void in_order(bool reversed, std::initializer_list<std::function<void()>> steps) {
  std::vector<std::function<void()>> v(steps);
  if (reversed) std::reverse(v.begin(), v.end());
  for (auto& f : v) f();
}

}  // namespace

int main(int argc, char** argv) {
  const auto opt = bench::parse_options(argc, argv, "steward_otp_bench");
  bench::print_loadavg(opt, "start");
  for (std::size_t i = 0; i < k_children; ++i) {
    std::snprintf(g_id_text[i], sizeof g_id_text[i], "c%zu", i);
    g_ids[i] = g_id_text[i];
  }
  const int starts = opt.quick ? 20 : 100;    // start + stop cycles per round, each side
  const int crashes = opt.quick ? 50 : 400;  // failures per round, each side
  std::printf("steward beside Erlang/OTP: %d rounds, %d start/stop cycles and %d failures per round\n", opt.rounds,
              starts, crashes);
  bool have_otp = opt.otp_dir != nullptr;
  if (!have_otp) bench::note(opt, "Erlang/OTP figures not measured: erl not installed (apt-get install erlang-base)");

  hundred tree100;
  group all8(steward::strategy::one_for_all, k_group, g_group);
  group one(steward::strategy::one_for_one, 1, &g_single);
  // Warm-up: the first start creates the threads.
  tree100.run(steward::child_order::sequential, nullptr, nullptr, 0, 2);
  all8.run(steward::child_order::sequential, nullptr, 0, 10);
  one.run(steward::child_order::sequential, nullptr, 0, 10);

  series start_par("steward_parallel"), start_seq("steward_sequential");
  series stop_par("steward_parallel"), stop_seq("steward_sequential");
  series all8_par("steward_parallel"), all8_seq("steward_sequential"), one_restart("steward");
  otp_results otp;
  for (int r = 0; r < opt.rounds; ++r) {
    const auto round = static_cast<std::size_t>(r);
    in_order(r % 2 == 1, {[&] {
                            tree100.run(steward::child_order::parallel, &start_par, &stop_par, round, starts);
                            tree100.run(steward::child_order::sequential, &start_seq, &stop_seq, round, starts);
                            all8.run(steward::child_order::parallel, &all8_par, round, crashes);
                            all8.run(steward::child_order::sequential, &all8_seq, round, crashes);
                            one.run(steward::child_order::sequential, &one_restart, round, crashes);
                          },
                          [&] {
                            if (have_otp && !run_otp_round(opt.otp_dir, round, starts, crashes, otp)) {
                              bench::note(opt, "erl failed: Erlang/OTP figures dropped");
                              have_otp = false;
                            }
                          }});
  }
  struct figure {
    const char* name;
    series *par, *seq;
    double goal;
  };
  const figure figures[] = {{"start_100", &start_par, &start_seq, 1.0},
                            {"stop_100", &stop_par, &stop_seq, 1.0},
                            {"one_for_all_restart_8", &all8_par, &all8_seq, 1.0},
                            {"restart_one_for_one", &one_restart, nullptr, 0.2}};
  for (const auto& f : figures) {
    if (have_otp && otp.by_name.count(f.name) != 0) {
      const series& base = otp.by_name.at(f.name);
      bench::report(f.name, base, base);
      bench::report(f.name, *f.par, base, {f.goal});
      if (f.seq != nullptr) bench::report(f.name, *f.seq, base);
    } else {
      bench::report(f.name, *f.par, *f.par);
      if (f.seq != nullptr) bench::report(f.name, *f.seq, *f.par);
    }
  }
  bench::print_table("steward beside Erlang/OTP (ratio: median of per-round ratios, range over rounds)");
  bench::print_loadavg(opt, "end");
  return 0;
}
