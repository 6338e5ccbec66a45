// Shared by steward's benchmark programs: samples kept per round, same-run ratios with their
// run-to-run range, and one machine-readable line per figure.
//
// Every comparison runs in rounds (5 by default) that alternate the implementations, so noise
// that drifts over the run falls on all of them. A figure's ratio is the median of its per-round
// ratios (round median / the baseline's round median, both from the same round); ratio_min and
// ratio_max are the range of those per-round ratios. Medians and p99 are over all samples.
//
// Line formats (one line each, space-separated key=value, no spaces inside a value):
//   BENCH name=N impl=I base=B median_ns=X p99_ns=X ratio=R ratio_min=R ratio_max=R
//         p99_ratio=R p99_ratio_min=R p99_ratio_max=R rounds=K samples=S [goal=G] [goal_p99=G] [n=W]
//     goal: the figure's target, met when ratio <= goal (goal_p99: when p99_ratio <= goal_p99).
//   LOADAVG prog=P at=start|end one=L five=L fifteen=L
//   NOTE prog=P text=words_joined_by_underscores
//   SIZE name=N bytes=B
// scripts/bench.sh collects these lines into bench/results/latest.txt;
// scripts/render-bench-tables.py turns them into the README's tables.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace bench {

using clk = std::chrono::steady_clock;

inline double ns_between(clk::time_point a, clk::time_point b) {
  return std::chrono::duration<double, std::nano>(b - a).count();
}
inline double ns_since(clk::time_point a) {
  return ns_between(a, clk::now());
}
inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clk::now().time_since_epoch()).count();
}

// ------------------------------------------------------------------ options

struct options {
  bool quick{false};
  int rounds{5};
  const char* otp_dir{nullptr};  // steward_otp_bench: the compiled Erlang modules
  const char* prog{"bench"};
};

inline options parse_options(int argc, char** argv, const char* prog) {
  options o;
  o.prog = prog;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      o.quick = true;
    } else if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
      o.rounds = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--otp") == 0 && i + 1 < argc) {
      o.otp_dir = argv[++i];
    }
  }
  return o;
}

// ------------------------------------------------------------------ statistics

inline double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto last = v.size() - 1;
  auto at = static_cast<std::size_t>(static_cast<double>(v.size()) * q);
  return v[std::min(last, at)];
}
inline double median(const std::vector<double>& v) {
  return percentile(v, 0.5);
}
inline double p99(const std::vector<double>& v) {
  return percentile(v, 0.99);
}

// One implementation's samples (nanoseconds), kept per round.
class series {
 public:
  explicit series(const char* impl) : m_impl(impl) {}
  void add(std::size_t round, double ns) {
    if (m_rounds.size() <= round) m_rounds.resize(round + 1);
    m_rounds[round].push_back(ns);
  }
  [[nodiscard]] const char* impl() const { return m_impl; }
  [[nodiscard]] std::size_t rounds() const { return m_rounds.size(); }
  [[nodiscard]] const std::vector<double>& round(std::size_t r) const {
    static const std::vector<double> none;
    return r < m_rounds.size() ? m_rounds[r] : none;
  }
  [[nodiscard]] std::vector<double> pooled() const {
    std::vector<double> all;
    for (const auto& r : m_rounds) all.insert(all.end(), r.begin(), r.end());
    return all;
  }
  // The same samples under another implementation name (e.g. as the baseline of a flatness ratio).
  [[nodiscard]] series relabelled(const char* impl) const {
    series copy(impl);
    copy.m_rounds = m_rounds;
    return copy;
  }
  [[nodiscard]] bool empty() const {
    for (const auto& r : m_rounds) {
      if (!r.empty()) return false;
    }
    return true;
  }

 private:
  const char* m_impl;
  std::vector<std::vector<double>> m_rounds;
};

struct goals {
  double ratio{0};  // 0: none
  double p99_ratio{0};
};

struct row_text {
  char name[48];
  char impl[40];
  char base[40];
  double median_ns, p99_ns, ratio, ratio_min, ratio_max;
  int n;
};
inline std::vector<row_text>& rows() {
  static std::vector<row_text> all;
  return all;
}

inline void copy_text(char* out, std::size_t size, const char* in) {
  std::snprintf(out, size, "%s", in);
}

// Prints the BENCH line of `s` against `base` (which may be `s` itself: ratio 1).
// `n` (> 0) adds n=W (a worker count) to the line.
inline void report(const char* name, const series& s, const series& base, goals g = {}, int n = 0) {
  if (s.empty() || base.empty()) return;
  std::vector<double> ratios, p99_ratios;
  const std::size_t k = std::min(s.rounds(), base.rounds());
  for (std::size_t r = 0; r < k; ++r) {
    if (s.round(r).empty() || base.round(r).empty()) continue;
    const double bm = median(base.round(r)), bp = p99(base.round(r));
    if (bm <= 0 || bp <= 0) continue;
    ratios.push_back(median(s.round(r)) / bm);
    p99_ratios.push_back(p99(s.round(r)) / bp);
  }
  const auto all = s.pooled();
  row_text t{};
  copy_text(t.name, sizeof t.name, name);
  copy_text(t.impl, sizeof t.impl, s.impl());
  copy_text(t.base, sizeof t.base, base.impl());
  t.median_ns = median(all);
  t.p99_ns = p99(all);
  t.ratio = ratios.empty() ? 0 : median(ratios);
  t.ratio_min = ratios.empty() ? 0 : *std::min_element(ratios.begin(), ratios.end());
  t.ratio_max = ratios.empty() ? 0 : *std::max_element(ratios.begin(), ratios.end());
  t.n = n;
  const double pr = p99_ratios.empty() ? 0 : median(p99_ratios);
  const double pr_min = p99_ratios.empty() ? 0 : *std::min_element(p99_ratios.begin(), p99_ratios.end());
  const double pr_max = p99_ratios.empty() ? 0 : *std::max_element(p99_ratios.begin(), p99_ratios.end());
  std::printf(
      "BENCH name=%s impl=%s base=%s median_ns=%.3f p99_ns=%.3f ratio=%.3f ratio_min=%.3f ratio_max=%.3f "
      "p99_ratio=%.3f p99_ratio_min=%.3f p99_ratio_max=%.3f rounds=%zu samples=%zu",
      name, s.impl(), base.impl(), t.median_ns, t.p99_ns, t.ratio, t.ratio_min, t.ratio_max, pr, pr_min, pr_max,
      ratios.size(), all.size());
  if (g.ratio > 0) std::printf(" goal=%.2f", g.ratio);
  if (g.p99_ratio > 0) std::printf(" goal_p99=%.2f", g.p99_ratio);
  if (n > 0) std::printf(" n=%d", n);
  std::printf("\n");
  std::fflush(stdout);
  rows().push_back(t);
}

inline void format_ns(char* out, std::size_t size, double ns) {
  if (ns < 1000) {
    std::snprintf(out, size, "%.2f ns", ns);
  } else if (ns < 1e6) {
    std::snprintf(out, size, "%.2f us", ns / 1e3);
  } else {
    std::snprintf(out, size, "%.2f ms", ns / 1e6);
  }
}

// The human-readable summary of every figure reported so far.
inline void print_table(const char* title) {
  std::printf("\n%s\n", title);
  std::printf("| %-26s | %-22s | %-22s | %11s | %11s | %-22s |\n", "figure", "implementation", "vs", "median",
              "p99", "ratio (range)");
  std::printf("|---|---|---|---|---|---|\n");
  for (const auto& t : rows()) {
    char ratio[64], med[32], tail[32];
    std::snprintf(ratio, sizeof ratio, "%.2fx (%.2f-%.2f)", t.ratio, t.ratio_min, t.ratio_max);
    format_ns(med, sizeof med, t.median_ns);
    format_ns(tail, sizeof tail, t.p99_ns);
    std::printf("| %-26s | %-22s | %-22s | %11s | %11s | %-22s |\n", t.name, t.impl, t.base, med, tail, ratio);
  }
  std::fflush(stdout);
}

inline void note(const options& o, const char* text) {
  std::printf("NOTE prog=%s text=", o.prog);
  for (const char* c = text; *c != '\0'; ++c) std::putchar(*c == ' ' ? '_' : *c);
  std::printf("\n");
  std::fflush(stdout);
}

inline void print_loadavg(const options& o, const char* at) {
  double one = -1, five = -1, fifteen = -1;
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf %lf %lf", &one, &five, &fifteen) != 3) one = five = fifteen = -1;
    std::fclose(f);
  }
  std::printf("LOADAVG prog=%s at=%s one=%.2f five=%.2f fifteen=%.2f\n", o.prog, at, one, five, fifteen);
  std::fflush(stdout);
}

// ------------------------------------------------------------------ raw futex (the baselines' floor)

inline long futex(std::atomic<std::uint32_t>& word, int op, std::uint32_t val) {
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), op | FUTEX_PRIVATE_FLAG, val, nullptr,
                 nullptr, 0);
}
inline void futex_wait(std::atomic<std::uint32_t>& w, std::uint32_t v) {
  futex(w, FUTEX_WAIT, v);
}
inline void futex_wake(std::atomic<std::uint32_t>& w) {
  futex(w, FUTEX_WAKE, 1);
}
inline void futex_wake_all(std::atomic<std::uint32_t>& w) {
  futex(w, FUTEX_WAKE, 0x7fffffff);
}

// A counter that a controller waits on until it reaches a target: each party adds one, the one
// that reaches the target wakes the controller (one futex wake per wait, not per party).
class countdown {
 public:
  void arm(std::uint32_t target) {
    m_target.store(target, std::memory_order_relaxed);
    m_count.store(0, std::memory_order_seq_cst);
  }
  void arrive() {
    if (m_count.fetch_add(1, std::memory_order_seq_cst) + 1 == m_target.load(std::memory_order_relaxed))
      futex_wake(m_count);
  }
  void wait() {
    for (;;) {
      const std::uint32_t seen = m_count.load(std::memory_order_seq_cst);
      if (seen >= m_target.load(std::memory_order_relaxed)) return;
      futex_wait(m_count, seen);
    }
  }
  [[nodiscard]] std::uint32_t count() const { return m_count.load(std::memory_order_acquire); }

 private:
  std::atomic<std::uint32_t> m_count{0};
  std::atomic<std::uint32_t> m_target{0};
};

}  // namespace bench
