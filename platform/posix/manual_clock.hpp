// POSIX port, internal: how the port's timed waits take part in the manual clock test seam
// (clock.hpp). Not installed.
#pragma once

#include "steward/core/time.hpp"

namespace steward::platform::detail {

// Registers a timed wait for `deadline` on the manual clock (manual_clock_waiters() counts it)
// for the lifetime of the object; does nothing unless `active`.
class manual_wait {
 public:
  manual_wait(time_point deadline, bool active) noexcept;
  ~manual_wait();
  manual_wait(const manual_wait&) = delete;
  manual_wait& operator=(const manual_wait&) = delete;

 private:
  int m_slot{-1};  // -1 when the table was full (or not active)
};

}  // namespace steward::platform::detail
