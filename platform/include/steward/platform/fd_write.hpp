// Platform interface: writing a buffer to a file descriptor, whole. Used by the default report
// sink (supervisors/reports.hpp) to write its lines to stderr or another descriptor.
#pragma once

#include <cstddef>

#include "steward/core/expected.hpp"

namespace steward::platform {

// The standard error descriptor, the default sink's destination.
inline constexpr int k_stderr_fd = 2;

// Writes all `size` bytes of `data` to `fd`, retrying after EINTR and after partial writes. It
// blocks as long as the descriptor blocks (call it off the hot path); on a non-blocking
// descriptor that is full it stops. A write to a pipe whose reader is gone raises SIGPIPE as
// write() does: an application that logs to pipes usually ignores that signal.
// Returns: ok; resource_exhausted (value = the bytes written before the descriptor was full);
// io_error (value = errno) if the descriptor is invalid or the write failed.
[[nodiscard]] result<void> write_all(int fd, const char* data, std::size_t size) noexcept;

}  // namespace steward::platform
