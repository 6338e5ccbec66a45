// Programming errors (the second error channel; runtime failures are steward::result values).
// A violated contract calls the installed handler, which must not return; the default prints
// module and id to stderr and aborts. Checks that protect memory stay on in release builds.
#pragma once

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace steward {

using contract_handler = void (*)(const char* module, int id, const char* what) noexcept;

namespace detail {
[[noreturn]] inline void default_contract_handler(const char* module, int id, const char* what) noexcept {
  static_cast<void>(std::fprintf(stderr, "steward: contract violation %s/%d: %s\n", module, id, what));
  std::abort();
}
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables): process-wide, atomic
inline std::atomic<contract_handler> g_contract_handler{&default_contract_handler};
}  // namespace detail

// Installs a handler (null restores the default). Returns: the previous handler.
inline contract_handler set_contract_handler(contract_handler handler) noexcept {
  return detail::g_contract_handler.exchange(handler != nullptr ? handler
                                                                : &detail::default_contract_handler);
}

[[noreturn]] inline void contract_violation(const char* module, int id, const char* what) noexcept {
  detail::g_contract_handler.load()(module, id, what);
  std::abort();  // a handler that returns is itself a violation
}

}  // namespace steward

// NOLINTNEXTLINE(cppcoreguidelines-macro-usage): needs the condition's text (#expr_)
#define STEWARD_REQUIRE(module_, id_, expr_)                           \
  do {                                                                 \
    if (!(expr_)) ::steward::contract_violation(module_, id_, #expr_); \
  } while (false)
