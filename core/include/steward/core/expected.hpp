// The only way steward includes tl::expected. tl-expected 1.0.0 has no TL_ASSERT hook, so the
// project rule stands on its own: never call .value() (under -fno-exceptions it is undefined
// behaviour); test with `if (!r)` and use `*r`, or chain with and_then / map_error.
#pragma once

#include <tl/expected.hpp>

#include "steward/core/error.hpp"

namespace steward {

template <class T>
using result = tl::expected<T, error>;

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
#define STEWARD_TRY(expr_)                                        \
  do {                                                            \
    if (auto steward_try_result_ = (expr_); !steward_try_result_) \
      return ::steward::fail(steward_try_result_.error());        \
  } while (false)
