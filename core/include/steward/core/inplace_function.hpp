// A callable stored inline in a fixed number of bytes: no heap, no destructor. Only trivially
// copyable and trivially destructible callables fit (lambdas capturing pointers, references,
// integers, handles), which is what a static system needs and keeps copies a plain memcpy.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace steward {

template <class Signature, std::size_t Bytes>
class inplace_function;

template <class R, class... Args, std::size_t Bytes>
class inplace_function<R(Args...), Bytes> {
 public:
  constexpr inplace_function() noexcept = default;

  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, inplace_function>>>
  inplace_function(F&& f) noexcept  // NOLINT(google-explicit-constructor): callable-like
      : m_invoke(&invoke_as<std::decay_t<F>>) {
    using fn = std::decay_t<F>;
    static_assert(sizeof(fn) <= Bytes,
                  "callable too large: capture less, or rebuild steward with a larger "
                  "-DSTEWARD_BODY_STORAGE_BYTES / -DSTEWARD_CLEANUP_STORAGE_BYTES (layout settings)");
    static_assert(alignof(fn) <= alignof(std::max_align_t), "callable over-aligned");
    static_assert(std::is_trivially_copyable_v<fn> && std::is_trivially_destructible_v<fn>,
                  "callable must be trivially copyable (capture pointers, references or values)");
    ::new (static_cast<void*>(m_storage)) fn(std::forward<F>(f));
  }

  [[nodiscard]] explicit operator bool() const noexcept { return m_invoke != nullptr; }

  R operator()(Args... args) { return m_invoke(m_storage, std::forward<Args>(args)...); }

 private:
  template <class Fn>
  static R invoke_as(void* storage, Args... args) {
    return (*std::launder(static_cast<Fn*>(storage)))(std::forward<Args>(args)...);
  }

  alignas(std::max_align_t) unsigned char m_storage[Bytes]{};
  R (*m_invoke)(void*, Args...){nullptr};
};

}  // namespace steward
