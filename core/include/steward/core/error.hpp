// steward's error value: a small, trivially copyable record of what went wrong (code), the
// OS or user value behind it (errno, a user code) and whom it concerns (a worker's name).
#pragma once

#include <cstdint>

namespace steward {

enum class errc : std::uint8_t {
  invalid_argument,    // a configuration or argument value is out of range or missing
  invalid_handle,      // a null handle, or one that names no worker
  stale_handle,        // the handle's incarnation has ended; the slot runs a newer one
  not_running,         // the worker is idle, stopped or failed
  already_running,     // start() while an incarnation is live
  already_paused,      // pause() on a paused worker
  stopping,            // the worker is on its way out; pause/resume are refused
  cancelled,           // a pause() wait ended because another controller resumed the worker
  exited,              // a pause() wait ended because the worker returned by itself
  timeout,             // a deadline passed; names the worker when a control call timed out
  stop_requested,      // returned inside a worker: stop was requested, return from the body
  would_deadlock,      // a control call made by a worker on its own slot that would wait for itself
  capacity_exceeded,   // a fixed-capacity container is full (the offending item was released)
  stack_too_small,     // the stack is below the platform minimum (value = minimum in bytes)
  permission_denied,   // the OS refused (e.g. SCHED_FIFO without CAP_SYS_NICE); value = errno
  resource_exhausted,  // the OS is out of a resource (EAGAIN from thread creation); value = errno
  platform_error,      // any other OS failure; value = errno
  io_error,            // the file descriptor reported an error or is invalid
  worker_failed,       // a worker body reported failure; value = the body's own code
  exception,           // a worker body let an exception escape
  cleanup_failed,      // a registered release function reported failure
  intensity_exceeded,  // a supervisor saw more restarts than its intensity allows in its period
  hung,                // a child missed its shutdown deadline; its slot is quarantined
  unresponsive,        // a worker showed no progress for its liveness period; value = ms silent
};

struct error {
  errc code{errc::invalid_argument};
  std::int32_t value{0};         // errno, a minimum, a count or a user code; 0 when none
  const char* subject{nullptr};  // static text naming whom it concerns (a worker), or null

  constexpr error() noexcept = default;
  // Implicit: an errc is an error (as an enum converts to std::error_code).
  constexpr error(errc code_, std::int32_t value_ = 0,  // NOLINT(google-explicit-constructor)
                  const char* subject_ = nullptr) noexcept
      : code(code_), value(value_), subject(subject_) {}

  friend constexpr bool operator==(const error& a, errc b) noexcept { return a.code == b; }
  friend constexpr bool operator!=(const error& a, errc b) noexcept { return a.code != b; }
};

// One-line text for an error code. Returns: a static string, never null.
[[nodiscard]] constexpr const char* describe(errc code) noexcept {
  switch (code) {
    case errc::invalid_argument:
      return "invalid argument";
    case errc::invalid_handle:
      return "invalid handle";
    case errc::stale_handle:
      return "stale handle (the incarnation has ended)";
    case errc::not_running:
      return "worker is not running";
    case errc::already_running:
      return "worker is already running";
    case errc::already_paused:
      return "worker is already paused";
    case errc::stopping:
      return "worker is stopping";
    case errc::cancelled:
      return "cancelled by a resume";
    case errc::exited:
      return "worker exited";
    case errc::timeout:
      return "timed out";
    case errc::stop_requested:
      return "stop requested";
    case errc::would_deadlock:
      return "call from the worker on itself would deadlock";
    case errc::capacity_exceeded:
      return "capacity exceeded";
    case errc::stack_too_small:
      return "stack below the platform minimum";
    case errc::permission_denied:
      return "permission denied";
    case errc::resource_exhausted:
      return "resource temporarily exhausted";
    case errc::platform_error:
      return "platform call failed";
    case errc::io_error:
      return "file descriptor error";
    case errc::worker_failed:
      return "worker failed";
    case errc::exception:
      return "worker threw an exception";
    case errc::cleanup_failed:
      return "a cleanup release failed";
    case errc::intensity_exceeded:
      return "restart intensity exceeded";
    case errc::hung:
      return "child missed its shutdown deadline";
    case errc::unresponsive:
      return "worker showed no progress for its liveness period";
  }
  return "unknown error";
}

}  // namespace steward
