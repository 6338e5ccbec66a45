// POSIX port (Linux): a waker is a non-blocking eventfd; wait_fd is ppoll() on the target fd
// and the waker, with the remaining time recomputed from the absolute monotonic deadline after
// every EINTR, so signals neither shorten nor stretch the wait.
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <ctime>

#include "manual_clock.hpp"
#include "steward/platform/clock.hpp"
#include "steward/platform/io.hpp"

namespace steward::platform {

fd_waker::~fd_waker() {
  if (m_fd >= 0) ::close(m_fd);
}

result<void> fd_waker::open() noexcept {
  if (m_fd >= 0) return {};
  const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) {
    const errc code = (errno == EMFILE || errno == ENFILE || errno == ENOMEM) ? errc::resource_exhausted
                                                                              : errc::platform_error;
    return fail(code, "eventfd", errno);
  }
  m_fd = fd;
  return {};
}

void fd_waker::signal() const noexcept {
  const std::uint64_t one = 1;
  // EAGAIN only when the counter is at its maximum: it is readable already.
  [[maybe_unused]] const auto rc = ::write(m_fd, &one, sizeof one);
}

void fd_waker::drain() const noexcept {
  std::uint64_t value = 0;
  [[maybe_unused]] const auto rc = ::read(m_fd, &value, sizeof value);
}

result<fd_wait_result> wait_fd(int fd, io_interest interest, const fd_waker& waker,
                               time_point deadline) noexcept {
  const fd_request one{fd, interest};
  return wait_fds(&one, 1, waker, deadline);
}

result<fd_wait_result> wait_fds(const fd_request* requests, std::size_t count, const fd_waker& waker,
                                time_point deadline) noexcept {
  if (count == 0 || count > k_max_wait_fds) return fail(errc::invalid_argument, "wait_fds", static_cast<std::int32_t>(count));
  pollfd fds[k_max_wait_fds + 1]{};
  for (std::size_t i = 0; i < count; ++i) {
    if (requests[i].fd < 0) return fail(errc::io_error, "fd", requests[i].fd);
    fds[i].fd = requests[i].fd;
    fds[i].events = requests[i].interest == io_interest::readable ? POLLIN : POLLOUT;
  }
  fds[count].fd = waker.native();
  fds[count].events = POLLIN;
  const auto total = static_cast<nfds_t>(waker.is_open() ? count + 1 : count);
  // Test seam (clock.hpp): the kernel does not know the manual clock, so poll in slices of real
  // time and compare with the manual clock between them.
  const bool manual = deadline != never && manual_clock_installed();
  constexpr duration k_manual_slice = std::chrono::milliseconds(1);
  const detail::manual_wait registered(deadline, manual);
  for (;;) {
    timespec ts{};
    const timespec* tsp = nullptr;
    if (deadline != never) {
      auto now = monotonic_now();
      if (!now) return fail(now.error());
      auto left = deadline - *now;
      if (left < duration::zero()) left = duration::zero();
      if (manual && left > k_manual_slice) left = k_manual_slice;
      ts.tv_sec = static_cast<time_t>(left.count() / 1'000'000'000LL);
      ts.tv_nsec = static_cast<long>(left.count() % 1'000'000'000LL);
      tsp = &ts;
    }
    const int rc = ppoll(fds, total, tsp, nullptr);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return fail(errc::platform_error, "ppoll", errno);
    }
    fd_wait_result out{};
    if (rc == 0) {
      if (manual && manual_clock_installed()) {
        auto now = monotonic_now();
        if (now && *now < deadline) continue;  // only a slice of real time has passed
      }
      return out;  // timed_out
    }
    for (std::size_t i = 0; i < count; ++i) {
      const auto rev = fds[i].revents;
      if ((rev & POLLNVAL) != 0 || (rev & POLLERR) != 0) return fail(errc::io_error, "fd", requests[i].fd);
      out.events.readable = (rev & POLLIN) != 0;
      out.events.writable = (rev & POLLOUT) != 0;
      out.events.hangup = (rev & POLLHUP) != 0;
      if (out.events.readable || out.events.writable || out.events.hangup) {
        out.status = fd_wait_status::ready;
        out.index = i;
        return out;
      }
    }
    out.events = io_events{};
    out.status = fd_wait_status::woken;
    return out;
  }
}

}  // namespace steward::platform
