// Platform interface: the service manager's readiness and watchdog protocol (systemd's
// sd_notify), spoken directly: one AF_UNIX datagram per message, newline-separated
// `KEY=value` assignments, sent to the socket named by NOTIFY_SOCKET. No libsystemd.
//
// A process not started by a service manager has no NOTIFY_SOCKET: every message is then a
// no-op that succeeds, so an application calls the same code under systemd and without it.
// Messages are built in a fixed buffer on the caller's stack: nothing is allocated, and once
// open() has run, notify() and its wrappers are safe from any thread and from a signal handler
// (they copy bytes and make one sendto()).
#pragma once

#include <cstddef>
#include <cstdint>

#include "steward/core/expected.hpp"
#include "steward/core/time.hpp"

namespace steward::platform {

// Largest datagram notify() sends; a STATUS text that does not fit is cut.
inline constexpr std::size_t k_notify_message_bytes = 512;
// Longest socket name NOTIFY_SOCKET may hold (the size of sockaddr_un::sun_path, minus one).
inline constexpr std::size_t k_notify_socket_name_bytes = 107;

// The three variables a service manager hands its service, as the environment holds them
// (null: unset). Kept apart from the environment so that tests and applications that receive
// them another way can pass them in.
struct notify_environment {
  const char* notify_socket{nullptr};  // "/run/systemd/notify" (a path) or "@name" (abstract)
  const char* watchdog_usec{nullptr};  // the watchdog period in microseconds, decimal
  const char* watchdog_pid{nullptr};   // the process the watchdog applies to; unset: this one
};

// Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID with getenv(). The pointers are the
// environment's own: valid until someone changes the environment. Call it at initialisation,
// before other threads could call setenv(). The environment is left as it is (children
// inherit it; a forked child is not the watchdog's process, which WATCHDOG_PID tells it).
[[nodiscard]] notify_environment read_notify_environment() noexcept;

// What one notify() says; combine with |.
enum class notify_flags : std::uint8_t {
  none = 0,
  ready = 1,     // READY=1: start-up is complete
  watchdog = 2,  // WATCHDOG=1: keep-alive; dropped when the watchdog does not apply to us
  stopping = 4,  // STOPPING=1: shutdown has begun
};
[[nodiscard]] constexpr notify_flags operator|(notify_flags a, notify_flags b) noexcept {
  return static_cast<notify_flags>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
[[nodiscard]] constexpr bool has_flag(notify_flags set, notify_flags f) noexcept {
  return (static_cast<unsigned>(set) & static_cast<unsigned>(f)) != 0;
}

class sd_notifier {
 public:
  sd_notifier() noexcept = default;
  ~sd_notifier();
  sd_notifier(const sd_notifier&) = delete;
  sd_notifier& operator=(const sd_notifier&) = delete;

  // Takes the service manager's settings and opens a datagram socket when a NOTIFY_SOCKET is
  // given. A path must be absolute; "@name" is a Linux abstract socket. The watchdog applies
  // when WATCHDOG_USEC is set and WATCHDOG_PID is unset or names this process.
  // Returns: ok - also with no NOTIFY_SOCKET (enabled() is then false and every message a
  // no-op); invalid_argument (subject = the variable) for a socket name that is empty after
  // '@', relative, another address family or too long, for a WATCHDOG_USEC that is not a
  // positive decimal number of microseconds, or a WATCHDOG_PID that is not a positive decimal
  // number - nothing is opened then; platform_error / resource_exhausted (value = errno) if
  // the socket cannot be created; already_running if it is open already (close() first).
  [[nodiscard]] result<void> open(const notify_environment& env) noexcept;
  // open(read_notify_environment()).
  [[nodiscard]] result<void> open_from_environment() noexcept { return open(read_notify_environment()); }
  // Closes the socket; every message is a no-op again. Idempotent.
  void close() noexcept;

  // True when a service manager listens (a NOTIFY_SOCKET was given).
  [[nodiscard]] bool enabled() const noexcept { return m_fd >= 0; }
  // True when WATCHDOG=1 is expected from this process.
  [[nodiscard]] bool watchdog_enabled() const noexcept { return enabled() && m_watchdog > duration::zero(); }
  // The watchdog period (zero when it does not apply); send WATCHDOG=1 at least twice per period.
  [[nodiscard]] duration watchdog_period() const noexcept {
    return watchdog_enabled() ? m_watchdog : duration::zero();
  }

  // Sends one datagram with the assignments `flags` name, then STATUS=<status> unless status
  // is null. The status is one line: it is cut at its first newline and to fit
  // k_notify_message_bytes. Returns: ok (also a no-op when not enabled, or when nothing is left
  // to send because the watchdog does not apply); resource_exhausted (value = errno) when the
  // manager's queue is full - the send never blocks; platform_error (value = errno) when the
  // socket refuses (ECONNREFUSED, ENOENT: nobody listens there).
  [[nodiscard]] result<void> notify(notify_flags flags, const char* status = nullptr) const noexcept;

  [[nodiscard]] result<void> ready(const char* status = nullptr) const noexcept {
    return notify(notify_flags::ready, status);
  }
  [[nodiscard]] result<void> status(const char* text) const noexcept {
    return notify(notify_flags::none, text);
  }
  [[nodiscard]] result<void> watchdog() const noexcept { return notify(notify_flags::watchdog); }
  [[nodiscard]] result<void> stopping(const char* status = nullptr) const noexcept {
    return notify(notify_flags::stopping, status);
  }

 private:
  int m_fd{-1};
  duration m_watchdog{};
  std::size_t m_name_length{0};  // bytes of m_name used (abstract names start with '\0')
  char m_name[k_notify_socket_name_bytes + 1]{};
};

}  // namespace steward::platform
