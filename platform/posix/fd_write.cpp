// POSIX port: write_all() is write(2) in a loop. EINTR (a signal before any byte moved) and a
// short count (a signal, or a pipe that took part of the buffer) continue with the rest; EAGAIN
// on a non-blocking descriptor ends the call, so a full pipe never holds up the caller.
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "steward/platform/fd_write.hpp"

namespace steward::platform {

result<void> write_all(int fd, const char* data, std::size_t size) noexcept {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return fail(errc::resource_exhausted, "write", static_cast<std::int32_t>(done));
    return fail(errc::io_error, "write", n < 0 ? errno : 0);
  }
  return {};
}

}  // namespace steward::platform
