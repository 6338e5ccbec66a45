// Guide: stopping a thread blocked in I/O, where the Python recipe closes the socket under the
// thread, sets a timeout on it, or sends itself a dummy message.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>

#include "steward/core/worker.hpp"

using namespace std::chrono_literals;

namespace {
steward::static_worker<> g_reader;
int g_fd = -1;
std::atomic<long> g_bytes{0};
}  // namespace

int main() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return 1;
  g_fd = fds[0];  // nobody ever writes to fds[1]
  // guide:begin blocked_io
  steward::worker_config cfg;
  cfg.name = "reader";
  cfg.body = [](steward::worker_context& ctx) -> steward::result<void> {
    char buffer[256];
    for (;;) {
      STEWARD_TRY(ctx.wait_readable(g_fd));  // blocks in the kernel; a stop ends the wait
      const auto got = ::read(g_fd, buffer, sizeof buffer);
      if (got <= 0) return steward::fail(steward::errc::io_error, "reader", g_fd);
      g_bytes.fetch_add(got);
    }
  };
  if (!g_reader.configure(cfg) || !g_reader.start()) return 2;
  if (!g_reader.wait_initialised(1s)) return 3;  // it reached its wait (a safe point)
  auto report = g_reader.stop(1s);               // woken at once: no data, no timeout, no close()
  if (!report || report->reason != steward::exit_reason::stopped) return 4;
  // guide:end
  ::close(fds[0]);
  ::close(fds[1]);
  return g_bytes.load() == 0 ? 0 : 5;
}
