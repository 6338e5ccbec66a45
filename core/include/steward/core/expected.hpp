// The only way steward includes tl::expected. tl-expected 1.0.0 has no TL_ASSERT hook, so the
// project rule stands on its own: never call .value() (under -fno-exceptions it is undefined
// behaviour); test with `if (!r)` and use `*r`, or chain with and_then / map_error.
#pragma once

#include <tl/expected.hpp>

#include "steward/core/error.hpp"

namespace steward {

// tl::expected with [[nodiscard]] on the type: an ignored steward result (`w.pause(1s);`) is a
// warning - an error in steward's own targets - whatever function returned it. It adds nothing
// else and converts both ways with tl::expected<T, error> (and_then / map chains).
template <class T>
class [[nodiscard]] result : public tl::expected<T, error> {
  using base = tl::expected<T, error>;

 public:
  using base::base;
  constexpr result() = default;
  constexpr result(const base& other) : base(other) {}                   // NOLINT(google-explicit-constructor)
  constexpr result(base&& other) noexcept : base(static_cast<base&&>(other)) {}  // NOLINT(google-explicit-constructor)
};

// Shorthand for returning an error: `return fail(errc::timeout, name);`
[[nodiscard]] constexpr tl::unexpected<error> fail(errc code, const char* subject = nullptr,
                                                   std::int32_t value = 0) noexcept {
  return tl::unexpected<error>(error{code, value, subject});
}
[[nodiscard]] constexpr tl::unexpected<error> fail(const error& e) noexcept {
  return tl::unexpected<error>(e);
}

}  // namespace steward

// Propagates the error of an expression that yields a steward::result<...>.
// NOLINTNEXTLINE(cppcoreguidelines-macro-usage): returns from the calling function
#define STEWARD_TRY(expr_)                                        \
  do {                                                            \
    if (auto steward_try_result_ = (expr_); !steward_try_result_) \
      return ::steward::fail(steward_try_result_.error());        \
  } while (false)
