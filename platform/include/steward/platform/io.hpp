// Platform interface: waiting for a file descriptor, interruptibly. A waker is a file
// descriptor that another thread can make readable to cut a wait short (eventfd on Linux).
#pragma once

#include <cstddef>
#include <cstdint>

#include "steward/core/expected.hpp"
#include "steward/core/time.hpp"

namespace steward::platform {

enum class io_interest : std::uint8_t { readable = 1, writable = 2 };

struct io_events {
  bool readable{false};
  bool writable{false};
  bool hangup{false};  // the peer closed; a read returns 0
};

class fd_waker {
 public:
  fd_waker() noexcept = default;
  ~fd_waker();
  fd_waker(const fd_waker&) = delete;
  fd_waker& operator=(const fd_waker&) = delete;

  // Creates the OS object. Returns: ok (also if already open), or platform_error / resource_exhausted.
  [[nodiscard]] result<void> open() noexcept;
  [[nodiscard]] bool is_open() const noexcept { return m_fd >= 0; }
  // Makes the waker readable (async-signal-safe: one write()).
  void signal() const noexcept;
  // Makes it not readable again.
  void drain() const noexcept;
  [[nodiscard]] int native() const noexcept { return m_fd; }

 private:
  int m_fd{-1};
};

enum class fd_wait_status : std::uint8_t { ready, woken, timed_out };

struct fd_wait_result {
  fd_wait_status status{fd_wait_status::timed_out};
  io_events events{};
  std::size_t index{0};  // wait_fds(): which request is ready (the lowest one)
};

struct fd_request {
  int fd{-1};
  io_interest interest{io_interest::readable};
};

// Most descriptors one wait_fds() call takes.
inline constexpr std::size_t k_max_wait_fds = 8;

// Waits until `fd` is ready for `interest`, the waker is signalled, or `deadline` passes.
// Returns: the status and events; io_error (value = fd) if the descriptor is invalid or in
// error; platform_error (value = errno) if the wait itself failed. EINTR is retried.
[[nodiscard]] result<fd_wait_result> wait_fd(int fd, io_interest interest, const fd_waker& waker,
                                             time_point deadline) noexcept;

// The same for up to k_max_wait_fds descriptors at once; `index` names the lowest ready one.
// Returns: as wait_fd(); invalid_argument for 0 or more than k_max_wait_fds requests.
[[nodiscard]] result<fd_wait_result> wait_fds(const fd_request* requests, std::size_t count,
                                              const fd_waker& waker, time_point deadline) noexcept;

}  // namespace steward::platform
