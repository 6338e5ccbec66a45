// Platform interface: a mutex with priority inheritance where the OS offers it, so a
// high-priority controller never waits behind a preempted low-priority holder (INV-20).
#pragma once

#include <cstddef>
#include <cstdint>

namespace steward::platform {

class mutex {
 public:
  // Initialises with PTHREAD_PRIO_INHERIT; if the OS refuses, falls back to a plain mutex and
  // says so through priority_inheritance(). Failure to create any mutex is a contract violation.
  mutex() noexcept;
  ~mutex();
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  void lock() noexcept;
  // Returns: true if the lock was taken; false at once if another thread holds it.
  [[nodiscard]] bool try_lock() noexcept;
  void unlock() noexcept;
  // Returns: true if this mutex has priority inheritance.
  [[nodiscard]] bool priority_inheritance() const noexcept { return m_priority_inheritance; }

 private:
  alignas(8) unsigned char m_storage[64];  // holds a pthread_mutex_t (size checked in the .cpp)
  bool m_priority_inheritance{false};
};

class lock_guard {
 public:
  explicit lock_guard(mutex& m) noexcept : m_mutex(m) { m_mutex.lock(); }
  ~lock_guard() { m_mutex.unlock(); }
  lock_guard(const lock_guard&) = delete;
  lock_guard& operator=(const lock_guard&) = delete;

 private:
  mutex& m_mutex;
};

}  // namespace steward::platform
