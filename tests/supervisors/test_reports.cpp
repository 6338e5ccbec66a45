// Structured reports (supervisors/reports.hpp): the record and its line, the ring's drops, the
// rate-limited default sink on an injected clock, no allocation after construction, and a real
// tree's crash loop with its output captured through a pipe.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "alloc_counter.hpp"
#include "steward/platform/clock.hpp"
#include "steward/supervisors/reports.hpp"
#include "supervisor_kit.hpp"

using namespace testutil;
using steward::errc;
using steward::exit_reason;
using steward::fd_report_sink;
using steward::fd_sink_config;
using steward::report;
using steward::report_context;
using steward::reporter;
using steward::time_point;
using steward::tree_event;
using steward::tree_event_kind;
using steward::worker_state;

namespace {

// The reporter's injected clock: moves only when the test moves it.
struct fake_clock {
  time_point now{};
  static time_point read(void* user) noexcept { return static_cast<fake_clock*>(user)->now; }
};

// Everything written to the pipe's write end, read on a thread of its own (so a full pipe never
// holds up the writer), available once the write end is closed.
class pipe_capture {
 public:
  pipe_capture() {
    REQUIRE(::pipe2(m_fds, O_CLOEXEC) == 0);
    m_reader = std::thread([this] {
      char buf[4096];
      for (;;) {
        const ssize_t n = ::read(m_fds[0], buf, sizeof buf);
        if (n > 0) {
          m_text.append(buf, static_cast<std::size_t>(n));
        } else if (n < 0 && errno == EINTR) {
          continue;
        } else {
          break;
        }
      }
    });
  }
  ~pipe_capture() {
    close_writer();
    if (m_reader.joinable()) m_reader.join();
    ::close(m_fds[0]);
  }
  pipe_capture(const pipe_capture&) = delete;
  pipe_capture& operator=(const pipe_capture&) = delete;
  [[nodiscard]] int write_fd() const { return m_fds[1]; }
  // Closes the write end and returns everything that was written.
  std::string finish() {
    close_writer();
    if (m_reader.joinable()) m_reader.join();
    return m_text;
  }

 private:
  void close_writer() {
    if (m_fds[1] >= 0) ::close(m_fds[1]);
    m_fds[1] = -1;
  }
  int m_fds[2]{-1, -1};
  std::thread m_reader;
  std::string m_text;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t from = 0;
  while (from < text.size()) {
    const std::size_t nl = text.find('\n', from);
    if (nl == std::string::npos) {
      out.push_back(text.substr(from) + "<no newline>");
      break;
    }
    out.push_back(text.substr(from, nl - from));
    from = nl + 1;
  }
  return out;
}

// The value of "key=" in a line, or -1.
long long field(const std::string& line, const char* key) {
  const std::string k = std::string(" ") + key + "=";
  const std::size_t at = line.find(k);
  if (at == std::string::npos) return -1;
  return std::strtoll(line.c_str() + at + k.size(), nullptr, 10);
}

long long time_ns(const std::string& line) {
  const std::size_t at = line.find(" t=");
  if (at == std::string::npos) return -1;
  char* end = nullptr;
  const long long sec = std::strtoll(line.c_str() + at + 3, &end, 10);
  if (end == nullptr || *end != '.') return -1;
  return sec * 1'000'000'000LL + std::strtoll(end + 1, nullptr, 10);
}

bool is_summary(const std::string& line) {
  return line.find(" suppressed=") != std::string::npos;
}

struct line_counts {
  std::size_t reports{0};
  std::size_t summaries{0};
  long long summarised{0};
  long long ring_full{0};
  bool all_well_formed{true};
  std::map<long long, std::pair<int, int>> per_interval;  // interval number -> reports, summaries
};

line_counts count_lines(const std::string& text, std::chrono::nanoseconds interval, long long origin_ns = 0) {
  line_counts c;
  for (const auto& line : lines_of(text)) {
    const long long t = time_ns(line);
    if (line.rfind("steward: t=", 0) != 0 || t < 0 || line.find("<no newline>") != std::string::npos) {
      c.all_well_formed = false;
      continue;
    }
    auto& bucket = c.per_interval[(t - origin_ns) / interval.count()];
    if (is_summary(line)) {
      ++c.summaries;
      ++bucket.second;
      c.summarised += field(line, "suppressed");
      c.ring_full += field(line, "ring_full");
    } else {
      ++c.reports;
      ++bucket.first;
    }
  }
  return c;
}

tree_event event_of(tree_event_kind kind, const char* child, std::uint32_t generation) {
  tree_event e;
  e.kind = kind;
  e.supervisor = "root";
  e.child = child;
  e.generation = generation;
  if (kind == tree_event_kind::child_failed) {
    e.reason = exit_reason::error;
    e.err = steward::error{errc::worker_failed, 1, child};
  }
  return e;
}

// A sink that keeps what it is given (for the tests of the drain itself).
struct recording_sink final : steward::report_sink {
  std::vector<report> records;
  std::vector<std::uint64_t> lost_counts;
  int idles{0};
  steward::reporter_base* reenter{nullptr};  // drained again from inside consume()
  std::vector<errc> reentry_errors;
  void consume(const report& r) noexcept override {
    records.push_back(r);
    if (reenter != nullptr) {
      const auto again = reenter->drain();
      reentry_errors.push_back(again ? errc::invalid_argument : again.error().code);
    }
  }
  void lost(std::uint64_t count) noexcept override { lost_counts.push_back(count); }
  void idle(time_point /*now*/) noexcept override { ++idles; }
};

}  // namespace

TEST_CASE("reports: one line per report, fixed keys, '-' for what an event does not carry") {
  tree_event e = event_of(tree_event_kind::child_failed, "sampler", 3);
  e.supervisor = "acq";
  e.err = steward::error{errc::worker_failed, 7, "sampler"};
  report r = steward::make_report(e, time_point{std::chrono::seconds(12) + std::chrono::nanoseconds(41)});
  r.sequence = 41;
  char line[320];
  const std::size_t n = steward::format_report(r, line, sizeof line);
  CHECK(std::string(line) ==
        "steward: t=12.000000041 seq=41 context=child_terminated event=child_failed supervisor=acq "
        "child=sampler "
        "generation=3 state=failed reason=error error=worker_failed value=7 subject=sampler detail_ns=0\n");
  CHECK(n == std::strlen(line));

  const report started =
      steward::make_report(event_of(tree_event_kind::child_started, "logger", 1), time_point{});
  static_cast<void>(steward::format_report(started, line, sizeof line));
  CHECK(std::string(line) ==
        "steward: t=0.000000000 seq=0 context=progress event=child_started supervisor=root child=logger "
        "generation=1 state=running reason=- error=- value=0 subject=- detail_ns=0\n");

  tree_event backoff = event_of(tree_event_kind::backoff_scheduled, "logger", 1);
  backoff.delay = std::chrono::milliseconds(250);
  static_cast<void>(steward::format_report(steward::make_report(backoff, time_point{}), line, sizeof line));
  CHECK(std::string(line).find(" state=- ") != std::string::npos);  // the event does not say
  CHECK(std::string(line).find(" detail_ns=250000000\n") != std::string::npos);

  tree_event escalated = event_of(tree_event_kind::escalated, nullptr, 0);
  escalated.err = steward::error{errc::intensity_exceeded, 0, "acq"};
  static_cast<void>(steward::format_report(steward::make_report(escalated, time_point{}), line, sizeof line));
  CHECK(std::string(line).find(" context=shutdown event=escalated supervisor=root child=- generation=0 "
                               "state=failed reason=intensity_exceeded error=intensity_exceeded value=0 "
                               "subject=acq ") != std::string::npos);

  SUBCASE("cut to fit, still one line") {
    char small[32];
    const std::size_t cut = steward::format_report(r, small, sizeof small);
    CHECK(cut == sizeof small - 1);
    CHECK(small[cut - 1] == '\n');
    CHECK(small[cut] == '\0');
    CHECK(std::string(small).rfind("steward: t=12.", 0) == 0);
    CHECK(steward::format_report(r, small, 1) == 0);
  }
  SUBCASE("the summary line") {
    static_cast<void>(steward::format_suppressed(time_point{std::chrono::seconds(13)}, 9979, 12, 20,
                                                 std::chrono::seconds(1), line, sizeof line));
    CHECK(std::string(line) ==
          "steward: t=13.000000000 suppressed=9979 ring_full=12 burst=20 interval_ns=1000000000\n");
  }
}

TEST_CASE("reports: every event kind has its OTP context, and the offender's state as the event tells it") {
  struct row {
    tree_event_kind kind;
    report_context context;
    bool has_state;
    worker_state state;
    bool has_error;
  };
  const row rows[] = {
      {tree_event_kind::child_started, report_context::progress, true, worker_state::running, false},
      {tree_event_kind::child_exited, report_context::progress, true, worker_state::stopped, false},
      {tree_event_kind::child_failed, report_context::child_terminated, true, worker_state::failed, true},
      {tree_event_kind::child_restarted, report_context::progress, true, worker_state::running, false},
      {tree_event_kind::backoff_scheduled, report_context::progress, false, worker_state::idle, false},
      {tree_event_kind::start_failed, report_context::start_error, true, worker_state::failed, true},
      {tree_event_kind::intensity_exceeded, report_context::shutdown, false, worker_state::idle, true},
      {tree_event_kind::escalated, report_context::shutdown, true, worker_state::failed, true},
      {tree_event_kind::child_hung, report_context::shutdown_error, true, worker_state::paused, true},
      {tree_event_kind::subtree_paused, report_context::progress, true, worker_state::paused, false},
      {tree_event_kind::subtree_resumed, report_context::progress, true, worker_state::running, false},
      {tree_event_kind::auto_shutdown, report_context::shutdown, true, worker_state::stopped, false},
      {tree_event_kind::tree_failed, report_context::shutdown, true, worker_state::failed, true},
  };
  CHECK(std::size(rows) == static_cast<std::size_t>(tree_event_kind::tree_failed) + 1);  // every kind
  for (const row& w : rows) {
    CAPTURE(steward::to_string(w.kind));
    tree_event e = event_of(w.kind, "c0", 5);
    if (w.kind == tree_event_kind::child_hung)
      e.err = steward::error{errc::hung, static_cast<std::int32_t>(worker_state::paused), "c0"};
    const report r = steward::make_report(e, time_point{std::chrono::seconds(1)});
    CHECK(r.context == w.context);
    CHECK(steward::context_of(w.kind) == w.context);
    CHECK(r.event == w.kind);
    CHECK(r.has_state == w.has_state);
    if (w.has_state) CHECK(r.state == w.state);
    CHECK(r.has_error == w.has_error);
    CHECK(std::string(r.child) == "c0");
    CHECK(std::string(r.supervisor) == "root");
    CHECK(r.generation == 5);
    CHECK(r.at == time_point{std::chrono::seconds(1)});
  }
}

TEST_CASE(
    "reports: a full ring counts drops without blocking; the drain tells the sink first, then hands over the "
    "rest in order") {
  recording_sink sink;
  fake_clock clock;
  reporter<8> rep(sink, &fake_clock::read, &clock);
  for (std::uint32_t i = 0; i < 20; ++i) {
    clock.now = time_point{std::chrono::milliseconds(i)};
    rep.post(event_of(tree_event_kind::child_restarted, "c0", i));
  }
  CHECK(rep.posted() == 8);
  CHECK(rep.dropped() == 12);
  const auto drained = rep.drain();
  REQUIRE(drained);
  CHECK(*drained == 8);
  REQUIRE(sink.lost_counts.size() == 1);
  CHECK(sink.lost_counts[0] == 12);
  REQUIRE(sink.records.size() == 8);
  for (std::uint32_t i = 0; i < 8; ++i) {
    CHECK(sink.records[i].sequence == i);
    CHECK(sink.records[i].generation == i);  // the oldest kept, the newest dropped
    CHECK(sink.records[i].at == time_point{std::chrono::milliseconds(i)});
  }
  CHECK(sink.idles == 1);
  CHECK(rep.dropped() == 12);  // still counted in total after the drain

  // A bounded drain leaves the rest, and says nothing about being idle.
  for (std::uint32_t i = 0; i < 5; ++i) rep.post(event_of(tree_event_kind::child_restarted, "c0", 100 + i));
  const auto part = rep.drain(2);
  REQUIRE(part);
  CHECK(*part == 2);
  CHECK(sink.idles == 1);
  CHECK(sink.lost_counts.size() == 1);  // no new drops: no call
  const auto rest = rep.drain();
  REQUIRE(rest);
  CHECK(*rest == 3);
  CHECK(sink.records.back().sequence == 12);
  CHECK(sink.idles == 2);
}

TEST_CASE("reports: drains never wait for each other: a drain during a drain is refused") {
  recording_sink sink;
  reporter<8> rep(sink);
  sink.reenter = &rep;
  rep.post(event_of(tree_event_kind::child_started, "c0", 1));
  rep.post(event_of(tree_event_kind::child_started, "c1", 1));
  const auto drained = rep.drain();
  REQUIRE(drained);
  CHECK(*drained == 2);
  REQUIRE(sink.reentry_errors.size() == 2);
  CHECK(sink.reentry_errors[0] == errc::already_running);
  CHECK(sink.reentry_errors[1] == errc::already_running);
  sink.reenter = nullptr;
  CHECK(rep.drain());  // free again afterwards
}

TEST_CASE("reports: concurrent producers keep their order through the reporter" * doctest::timeout(60)) {
  recording_sink sink;
  reporter<64> rep(sink);
  constexpr int k_producers = 3;
  constexpr std::uint32_t k_each = 5000;
  sink.records.reserve(k_producers * k_each);
  std::atomic<int> done{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < k_producers; ++p) {
    producers.emplace_back([&rep, &done, p] {
      for (std::uint32_t i = 1; i <= k_each; ++i)
        rep.post(event_of(tree_event_kind::child_restarted, kit::k_ids[p], i));
      done.fetch_add(1);
    });
  }
  while (done.load() < k_producers) {
    static_cast<void>(rep.drain());
    std::this_thread::yield();
  }
  for (auto& t : producers) t.join();
  static_cast<void>(rep.drain());
  std::uint32_t last[k_producers] = {};
  bool ordered = true;
  for (const report& r : sink.records) {
    const int p = r.child[1] - '0';
    if (r.generation <= last[p]) ordered = false;
    last[p] = r.generation;
  }
  CHECK(ordered);
  std::uint64_t lost = 0;
  for (auto n : sink.lost_counts) lost += n;
  CHECK(sink.records.size() + lost == std::uint64_t{k_producers} * k_each);
  CHECK(lost == rep.dropped());
}

namespace {

// 10,000 restarts of one child, 1 ms apart on the injected clock (a child_failed and a
// child_restarted event each: 20,000 reports over 10 s), drained every `drain_every` restarts.
struct crash_loop_result {
  line_counts lines;
  fd_report_sink::counters stats;
  std::uint64_t dropped{0};
  std::uint32_t pending{0};
};

crash_loop_result run_crash_loop(int drain_every, std::uint32_t burst) {
  fake_clock clock;
  pipe_capture out;
  fd_sink_config cfg;
  cfg.fd = out.write_fd();
  cfg.burst = burst;
  cfg.interval = std::chrono::seconds(1);
  fd_report_sink sink(cfg);
  reporter<256> rep(sink, &fake_clock::read, &clock);
  for (int i = 0; i < 10000; ++i) {
    clock.now = time_point{std::chrono::milliseconds(i)};
    const auto gen = static_cast<std::uint32_t>(i + 1);
    rep.post(event_of(tree_event_kind::child_failed, "crasher", gen));
    rep.post(event_of(tree_event_kind::child_restarted, "crasher", gen + 1));
    if (i % drain_every == drain_every - 1) static_cast<void>(rep.drain());
  }
  clock.now = time_point{std::chrono::seconds(10)};  // the loop is over; the last interval too
  static_cast<void>(rep.drain());
  crash_loop_result r;
  r.lines = count_lines(out.finish(), std::chrono::seconds(1));
  r.stats = sink.stats();
  r.dropped = rep.dropped();
  r.pending = sink.pending();
  return r;
}

}  // namespace

TEST_CASE(
    "reports: a crash loop of 10,000 restarts writes at most burst + one summary line per interval (injected "
    "clock)") {
  const crash_loop_result r = run_crash_loop(100, 5);  // drained often enough: nothing dropped
  CHECK(r.lines.all_well_formed);
  CHECK(r.dropped == 0);
  for (const auto& entry : r.lines.per_interval) {  // no structured binding: CAPTURE is a lambda (clang 14)
    const auto interval = entry.first;
    const auto& counts = entry.second;
    CAPTURE(interval);
    CHECK(counts.first <= 5);
    CHECK(counts.second <= 1);
  }
  // Exactly: 5 reports in each of the 10 intervals; each later interval opens with the summary
  // of the one before, and the last one's comes when the drain finds the ring empty at 10 s.
  CHECK(r.lines.reports == 50);
  CHECK(r.lines.summaries == 10);
  CHECK(r.lines.per_interval.size() == 11);
  CHECK(r.lines.summarised == 20000 - 50);
  CHECK(r.lines.ring_full == 0);
  CHECK(r.pending == 0);
  CHECK(r.stats.lines == 60);
  CHECK(r.stats.write_errors == 0);
}

TEST_CASE("reports: when the drain falls behind, ring drops join the summaries and the bound still holds") {
  const crash_loop_result r = run_crash_loop(1000, 5);  // 2,000 reports per drain into 256 cells
  CHECK(r.lines.all_well_formed);
  CHECK(r.dropped > 0);
  for (const auto& entry : r.lines.per_interval) {  // no structured binding: CAPTURE is a lambda (clang 14)
    const auto interval = entry.first;
    const auto& counts = entry.second;
    CAPTURE(interval);
    CHECK(counts.first <= 5);
    CHECK(counts.second <= 1);
  }
  CHECK(r.lines.ring_full == static_cast<long long>(r.dropped));  // said in the summaries
  CHECK(static_cast<long long>(r.lines.reports) + r.lines.summarised + r.pending ==
        20000);  // nothing unaccounted
}

TEST_CASE("reports: posting and draining allocate nothing after construction") {
  if (alloc_counting_mode() == 0) {
    MESSAGE("skipped: allocations cannot be counted in this build");
    return;
  }
  fake_clock clock;
  pipe_capture out;
  fd_sink_config cfg;
  cfg.fd = out.write_fd();
  cfg.burst = 3;
  fd_report_sink sink(cfg);
  auto rep = std::make_unique<reporter<64>>(sink, &fake_clock::read, &clock);
  std::uint64_t allocations = 0;
  {
    const alloc_scope scope;
    for (int i = 0; i < 5000; ++i) {  // lines, summaries and drops, all on this thread
      clock.now = time_point{std::chrono::milliseconds(i)};
      rep->post(event_of(tree_event_kind::child_failed, "c0", static_cast<std::uint32_t>(i)));
      if (i % 200 == 199) static_cast<void>(rep->drain());
    }
    clock.now = time_point{std::chrono::seconds(10)};
    static_cast<void>(rep->drain());
    sink.finish(clock.now);
    allocations = scope.this_thread();
  }
  CHECK(allocations == 0);
  CHECK(rep->dropped() > 0);
  CHECK(sink.stats().summaries > 0);
  const line_counts c = count_lines(out.finish(), std::chrono::seconds(1));
  CHECK(c.all_well_formed);
  CHECK(static_cast<long long>(c.reports) + c.summarised == 5000);
}

TEST_CASE(
    "reports: a real tree crash-looping 10,000 times writes at most burst + one summary line per interval" *
    doctest::timeout(120)) {
  // A permanent child that fails at once, under a supervisor whose intensity is never reached
  // (16 restarts within 1 ns): restarted in place on its own thread, as fast as it can.
  auto slot = std::make_unique<test_worker>();
  steward::supervisor<1> root({"root", steward::strategy::one_for_one, 16, std::chrono::nanoseconds(1)});
  steward::child_spec spec;
  spec.id = "crasher";
  spec.worker_slot = slot.get();
  spec.body = [](steward::worker_context& ctx) -> steward::result<void> {
    ctx.declare_initialised();  // started; then fails at once
    return steward::fail(errc::worker_failed, "crasher", 1);
  };
  REQUIRE(root.add_child(spec));

  pipe_capture out;
  fd_sink_config cfg;
  cfg.fd = out.write_fd();
  cfg.burst = 10;
  cfg.interval = std::chrono::seconds(1);
  fd_report_sink sink(cfg);
  reporter<1024> rep(sink);
  // The application's own hook: counts restarts, then reports (post() is what hook() does).
  struct counting {
    steward::reporter_base* rep;
    std::atomic<std::uint32_t> restarts{0};
    static void hook(void* user, const tree_event& e) noexcept {
      auto* self = static_cast<counting*>(user);
      if (e.kind == tree_event_kind::child_restarted) self->restarts.fetch_add(1, std::memory_order_relaxed);
      self->rep->post(e);
    }
  } counter{&rep};

  auto tree = std::make_unique<test_tree>(root);
  REQUIRE(tree->set_event_hook(&counting::hook, &counter));
  const auto t0 = steward::platform::monotonic_now();
  REQUIRE(t0);
  REQUIRE(tree->start());
  // The application's main loop: drain until the crash loop has run 10,000 restarts.
  const bool reached = eventually(
      [&] {
        static_cast<void>(rep.drain());
        return counter.restarts.load(std::memory_order_relaxed) >= 10000;
      },
      std::chrono::seconds(100));
  CHECK(reached);
  CHECK(tree->stop());
  tree.reset();  // no more events
  static_cast<void>(rep.drain());
  const auto t1 = steward::platform::monotonic_now();
  REQUIRE(t1);
  sink.finish(*t1);
  const std::string text = out.finish();

  const line_counts c = count_lines(text, std::chrono::seconds(1));
  const auto lines = c.reports + c.summaries;
  const auto intervals = static_cast<std::size_t>((*t1 - *t0) / std::chrono::seconds(1)) + 1;
  MESSAGE("restarts: " << counter.restarts.load() << ", reports: " << rep.posted() + rep.dropped()
                       << " (ring full: " << rep.dropped() << "), lines: " << lines << " over " << intervals
                       << " interval(s)");
  CHECK(c.all_well_formed);
  CHECK(rep.posted() + rep.dropped() >= 20000);     // a failure and a restart per round
  CHECK(lines <= (cfg.burst + 1) * intervals + 1);  // + the summary written by finish()
  CHECK(c.reports <= cfg.burst * intervals);
  CHECK(c.summaries <= intervals + 1);
  CHECK(lines == sink.stats().lines);
  CHECK(sink.stats().write_errors == 0);
  // Every report was written or counted in a summary; those the ring dropped are said as such.
  CHECK(static_cast<std::uint64_t>(c.reports) + static_cast<std::uint64_t>(c.summarised) ==
        rep.posted() + rep.dropped());
  CHECK(c.ring_full == static_cast<long long>(rep.dropped()));
  CHECK(sink.pending() == 0);
}

TEST_CASE("reports: drain_every() in a worker the application owns drains until stopped, then once more" *
          doctest::timeout(60)) {
  struct counting_sink final : steward::report_sink {
    std::atomic<std::uint64_t> consumed{0};
    void consume(const report& /*r*/) noexcept override { consumed.fetch_add(1); }
    void lost(std::uint64_t /*count*/) noexcept override {}
    void idle(time_point /*now*/) noexcept override {}
  } sink;
  reporter<64> rep(sink);
  steward::worker_config cfg;
  cfg.name = "report-drain";
  cfg.body = [&rep](steward::worker_context& ctx) -> steward::result<void> {
    return rep.drain_every(ctx, std::chrono::milliseconds(1));
  };
  auto drainer = make_worker(cfg);
  REQUIRE(drainer->start());
  for (std::uint32_t i = 0; i < 10; ++i) rep.post(event_of(tree_event_kind::child_started, "c0", i));
  CHECK(eventually([&] { return sink.consumed.load() == 10; }));
  for (std::uint32_t i = 0; i < 5; ++i) rep.post(event_of(tree_event_kind::child_started, "c0", i));
  const auto exit = drainer->stop(k_ack);
  REQUIRE(exit);
  CHECK(exit->reason == exit_reason::stopped);  // stop_requested from the sleep: a clean stop
  CHECK(sink.consumed.load() == 15);            // the last drain ran on the way out
}
