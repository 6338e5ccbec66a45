// The Python recipe - tasks on a ThreadPoolExecutor, paused through one shared threading.Event -
// done with steward::pool, and what the recipe cannot do: the pause is acknowledged (its time is
// measured and printed), a queued task is cancelled and never runs, and a running task is stopped
// with its file closed by its own cleanup scope.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include <steward/steward.hpp>

using namespace std::chrono_literals;

namespace {

std::atomic<int> g_steps[4]{};
std::atomic<int> g_open_files{0};
std::atomic<bool> g_cancelled_ran{false};

int close_counted(int fd) {
  g_open_files.fetch_sub(1);
  return ::close(fd);
}

// A job: works in steps of 2 ms, printing its progress, with a file it owns for its lifetime.
steward::result<void> job(steward::task_context& ctx, int id) {
  const int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return steward::fail(steward::errc::io_error, ctx.name(), fd);
  g_open_files.fetch_add(1);
  STEWARD_TRY(ctx.adopt(fd, &close_counted));  // closed when this task ends, however it ends
  for (int step = 0; step < 500; ++step) {  // about 1 s: long enough to act on while it runs
    STEWARD_TRY(ctx.sleep_for(2ms));  // a safe point: pause parks here, cancel ends it
    g_steps[id].store(step + 1);
    if (step % 100 == 0) std::printf("  job %d: step %d\n", id, step);
  }
  return {};
}

int fail_with(const char* what, int code) {
  std::printf("unexpected: %s\n", what);
  return code;
}

double us_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main() {
  steward::pool<3, 8> pool("demo-pool");
  if (!pool.start()) return 1;
  const char* const names[3] = {"job-0", "job-1", "job-2"};
  steward::task_handle jobs[3];
  for (int i = 0; i < 3; ++i) {
    auto h = pool.submit([i](steward::task_context& ctx) { return job(ctx, i); }, {names[i]});
    if (!h) return 2;
    jobs[i] = *h;
  }
  // Queued behind the three running jobs (three threads): cancelled before it can start.
  auto extra = pool.submit([] { g_cancelled_ran.store(true); }, {"extra"});
  if (!extra) return 3;

  std::this_thread::sleep_for(15ms);  // let the jobs make progress (a demo, not a handshake)
  auto t0 = std::chrono::steady_clock::now();
  if (!pool.pause(5s)) return fail_with("pause", 4);
  std::printf("pause acknowledged by all running jobs after %.1f us\n", us_since(t0));
  auto cancelled = extra->cancel();
  std::printf("queued task 'extra': %s\n", cancelled && *cancelled == steward::task_state::queued
                                               ? "cancelled before it ran"
                                               : "not cancelled");
  t0 = std::chrono::steady_clock::now();
  if (!pool.resume()) return fail_with("resume", 5);
  std::printf("resume returned after %.1f us\n", us_since(t0));

  // Stop one running job: its sleep returns stop_requested, its file is closed by its cleanup.
  if (!jobs[1].cancel()) return fail_with("cancel of job-1 (it had ended)", 6);
  auto stopped = jobs[1].wait(5s);
  if (!stopped) return fail_with("wait for job-1", 7);
  std::printf("job-1: %s after %d steps, cleanup released %u\n", steward::to_string(stopped->outcome),
              g_steps[1].load(), static_cast<unsigned>(stopped->cleanup.released));

  auto report = pool.shutdown(steward::shutdown_mode::drain, 5s);
  if (!report) return fail_with("shutdown", 8);
  std::printf("shutdown: completed %llu, failed %llu, cancelled %llu, stopped %llu; files still open: %d\n",
              static_cast<unsigned long long>(report->completed),
              static_cast<unsigned long long>(report->failed),
              static_cast<unsigned long long>(report->cancelled),
              static_cast<unsigned long long>(report->stopped), g_open_files.load());
  const bool ok = report->completed == 2 && report->stopped == 1 && report->cancelled == 1 &&
                  g_open_files.load() == 0 && !g_cancelled_ran.load();
  return ok ? 0 : fail_with("the totals above", 9);
}
