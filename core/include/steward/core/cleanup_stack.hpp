// The RAII cleanup protocol's storage: a fixed-capacity stack of release actions. A worker body
// registers what it acquires; the worker unwinds the stack in reverse order on every way out,
// so each action runs exactly once. Registering past capacity runs the new action at once and
// reports capacity_exceeded: the resource is never leaked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "steward/core/config.hpp"
#include "steward/core/expected.hpp"
#include "steward/core/inplace_function.hpp"

namespace steward {

// Names one registered action; refs from an earlier incarnation are rejected (stale_handle).
struct cleanup_ref {
  std::uint32_t index{0};
  std::uint32_t epoch{0};
};

// What unwinding did: how many actions ran and how many reported failure.
struct cleanup_summary {
  std::uint16_t released{0};
  std::uint16_t failed{0};
};

namespace detail {
// Runs a release action and converts what it returns into success (true) or failure (false):
// void is success; bool is itself; an integer is POSIX style (0 = success); a steward::result
// succeeds when it holds a value. Exceptions, when enabled, count as failure.
template <class F>
bool run_release(F& f) noexcept {
#if STEWARD_USING_EXCEPTIONS
  try {
#endif
    using ret = decltype(f());
    if constexpr (std::is_void_v<ret>) {
      f();
      return true;
    } else if constexpr (std::is_same_v<ret, bool>) {
      return f();
    } else if constexpr (std::is_integral_v<ret>) {
      return f() == 0;
    } else {
      return static_cast<bool>(f());
    }
#if STEWARD_USING_EXCEPTIONS
  } catch (...) {
    return false;
  }
#endif
}
}  // namespace detail

struct cleanup_entry {
  inplace_function<bool(), config::cleanup_storage_bytes> action;
  bool live{false};
};

class cleanup_stack_base {
 public:
  cleanup_stack_base(const cleanup_stack_base&) = delete;
  cleanup_stack_base& operator=(const cleanup_stack_base&) = delete;

  // Registers `release` to run on the way out. Returns: a ref; or capacity_exceeded, after
  // running `release` at once (nothing leaks).
  template <class F>
  result<cleanup_ref> defer(F action) noexcept {
    auto wrapped = [action]() mutable noexcept { return detail::run_release(action); };
    return push(cleanup_entry{decltype(cleanup_entry::action){wrapped}, true});
  }

  // Adopts `handle`: `release(handle)` runs on the way out. Same returns as defer().
  template <class H, class R>
  result<cleanup_ref> adopt(H handle, R (*release_fn)(H)) noexcept {
    return defer([handle, release_fn]() { return release_fn(handle); });
  }

  // Runs one action now (early release); it will not run again. Returns: ok, or invalid_handle
  // / stale_handle for a ref that names nothing live, or cleanup_failed if the action failed.
  result<void> release(cleanup_ref ref) noexcept;
  // Forgets one action without running it (ownership moved elsewhere). Same errors as release.
  result<void> dismiss(cleanup_ref ref) noexcept;

  // Runs every live action, newest first, and empties the stack. An action that registers a new
  // one meanwhile (through the worker context, which stays valid) has it run next.
  cleanup_summary unwind() noexcept;
  // Empties the stack for a new incarnation; earlier refs become stale. Requires: empty.
  void reset(std::uint32_t epoch) noexcept;

  [[nodiscard]] std::size_t size() const noexcept { return m_live; }
  [[nodiscard]] std::size_t capacity() const noexcept { return m_capacity; }
  // Most entries ever held at once (low-water mark of free space, QP style).
  [[nodiscard]] std::size_t high_water() const noexcept { return m_high_water; }

 protected:
  cleanup_stack_base(cleanup_entry* entries, std::size_t capacity) noexcept
      : m_entries(entries), m_capacity(capacity) {}
  ~cleanup_stack_base() = default;

 private:
  result<cleanup_ref> push(const cleanup_entry& entry) noexcept;
  result<cleanup_entry*> find(cleanup_ref ref) noexcept;
  void drop_dead_top() noexcept;

  cleanup_entry* m_entries;
  std::size_t m_capacity;
  std::size_t m_top{0};   // entries in use, including dead ones below live ones
  std::size_t m_live{0};  // live entries
  std::size_t m_high_water{0};
  std::uint32_t m_epoch{0};
};

template <std::size_t Capacity>
class cleanup_stack final : public cleanup_stack_base {
 public:
  static_assert(Capacity > 0, "a cleanup stack needs room for one entry");
  cleanup_stack() noexcept : cleanup_stack_base(m_storage, Capacity) {}

 private:
  cleanup_entry m_storage[Capacity]{};
};

}  // namespace steward
