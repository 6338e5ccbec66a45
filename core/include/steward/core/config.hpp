// Compile-time configuration. An application may supply <steward_config.hpp> on its include
// path to set the STEWARD_* values below before they are used (ETL's etl_profile.h pattern).
// Two kinds of setting:
//  - free ones (STEWARD_DEFAULT_STACK_BYTES, STEWARD_DEFAULT_CLEANUP_CAPACITY) are template
//    defaults that only the application's own objects use;
//  - layout ones (STEWARD_BODY_STORAGE_BYTES, STEWARD_CLEANUP_STORAGE_BYTES,
//    STEWARD_EXIT_DETAIL_BYTES, STEWARD_MAX_INTENSITY) fix the size of types that the compiled
//    libraries share, so they are chosen when steward is built (CMake cache variables of the same
//    names, written into the installed steward/core/build_config.hpp). An application that sets
//    one to a different value gets a compile error naming the setting and both values.
#pragma once

#include <cstddef>

#include "steward/core/build_config.hpp"

#if defined(__has_include)
#if __has_include(<steward_config.hpp>)
#include <steward_config.hpp>
#endif
#endif

namespace steward::detail {
// Instantiated with (value the application set, value steward was built with): the compiler's
// diagnostic shows both numbers next to the setting's name, which is why the names spell macros.
// NOLINTBEGIN(readability-identifier-naming)
template <unsigned long long Set, unsigned long long Built>
struct STEWARD_BODY_STORAGE_BYTES_must_match_the_built_library {
  static_assert(Set == Built, "STEWARD_BODY_STORAGE_BYTES differs from the value steward was built with "
                              "(see steward/core/build_config.hpp): rebuild steward with -DSTEWARD_BODY_STORAGE_BYTES=<value>");
  static constexpr bool ok = true;
};
template <unsigned long long Set, unsigned long long Built>
struct STEWARD_CLEANUP_STORAGE_BYTES_must_match_the_built_library {
  static_assert(Set == Built, "STEWARD_CLEANUP_STORAGE_BYTES differs from the value steward was built with "
                              "(see steward/core/build_config.hpp): rebuild steward with -DSTEWARD_CLEANUP_STORAGE_BYTES=<value>");
  static constexpr bool ok = true;
};
template <unsigned long long Set, unsigned long long Built>
struct STEWARD_EXIT_DETAIL_BYTES_must_match_the_built_library {
  static_assert(Set == Built, "STEWARD_EXIT_DETAIL_BYTES differs from the value steward was built with "
                              "(see steward/core/build_config.hpp): rebuild steward with -DSTEWARD_EXIT_DETAIL_BYTES=<value>");
  static constexpr bool ok = true;
};
template <unsigned long long Set, unsigned long long Built>
struct STEWARD_MAX_INTENSITY_must_match_the_built_library {
  static_assert(Set == Built, "STEWARD_MAX_INTENSITY differs from the value steward was built with "
                              "(see steward/core/build_config.hpp): rebuild steward with -DSTEWARD_MAX_INTENSITY=<value>");
  static constexpr bool ok = true;
};
// NOLINTEND(readability-identifier-naming)
}  // namespace steward::detail

#if defined(STEWARD_BODY_STORAGE_BYTES)
static_assert(steward::detail::STEWARD_BODY_STORAGE_BYTES_must_match_the_built_library<
              STEWARD_BODY_STORAGE_BYTES, STEWARD_BUILT_BODY_STORAGE_BYTES>::ok);
#else
#define STEWARD_BODY_STORAGE_BYTES STEWARD_BUILT_BODY_STORAGE_BYTES
#endif
#if defined(STEWARD_CLEANUP_STORAGE_BYTES)
static_assert(steward::detail::STEWARD_CLEANUP_STORAGE_BYTES_must_match_the_built_library<
              STEWARD_CLEANUP_STORAGE_BYTES, STEWARD_BUILT_CLEANUP_STORAGE_BYTES>::ok);
#else
#define STEWARD_CLEANUP_STORAGE_BYTES STEWARD_BUILT_CLEANUP_STORAGE_BYTES
#endif
#if defined(STEWARD_EXIT_DETAIL_BYTES)
static_assert(steward::detail::STEWARD_EXIT_DETAIL_BYTES_must_match_the_built_library<
              STEWARD_EXIT_DETAIL_BYTES, STEWARD_BUILT_EXIT_DETAIL_BYTES>::ok);
#else
#define STEWARD_EXIT_DETAIL_BYTES STEWARD_BUILT_EXIT_DETAIL_BYTES
#endif
#if defined(STEWARD_MAX_INTENSITY)
static_assert(steward::detail::STEWARD_MAX_INTENSITY_must_match_the_built_library<
              STEWARD_MAX_INTENSITY, STEWARD_BUILT_MAX_INTENSITY>::ok);
#else
#define STEWARD_MAX_INTENSITY STEWARD_BUILT_MAX_INTENSITY
#endif

// Macros, not constants: code selects exception handling with #if on them.
// NOLINTBEGIN(cppcoreguidelines-macro-usage)
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#define STEWARD_USING_EXCEPTIONS 1
#define STEWARD_NOT_USING_EXCEPTIONS 0
#else
#define STEWARD_USING_EXCEPTIONS 0
#define STEWARD_NOT_USING_EXCEPTIONS 1
#endif
// NOLINTEND(cppcoreguidelines-macro-usage)

// Default stack of a static_worker. 256 KiB clears every target's minimum (aarch64's is 128 KiB);
// GCC's ThreadSanitizer needs about 900 KiB, see docs/platform.md.
#ifndef STEWARD_DEFAULT_STACK_BYTES
#if defined(__SANITIZE_THREAD__)
#define STEWARD_DEFAULT_STACK_BYTES (1024U * 1024U)  // GCC's TSan rejects smaller user stacks
#else
#define STEWARD_DEFAULT_STACK_BYTES (256U * 1024U)
#endif
#endif

// Cleanup entries a static_worker can hold at once.
#ifndef STEWARD_DEFAULT_CLEANUP_CAPACITY
#define STEWARD_DEFAULT_CLEANUP_CAPACITY 16U  // NOLINT(cppcoreguidelines-macro-usage): overridable setting
#endif

// Bytes of inline storage for a worker body's captures and for one cleanup callable's captures,
// and the longest text kept from an exception's what() (including the NUL): layout settings,
// defined above from the built library's values.

namespace steward::config {
inline constexpr std::size_t default_stack_bytes = static_cast<std::size_t>(STEWARD_DEFAULT_STACK_BYTES);
inline constexpr std::size_t default_cleanup_capacity = STEWARD_DEFAULT_CLEANUP_CAPACITY;
inline constexpr std::size_t body_storage_bytes = STEWARD_BODY_STORAGE_BYTES;
inline constexpr std::size_t cleanup_storage_bytes = STEWARD_CLEANUP_STORAGE_BYTES;
inline constexpr std::size_t exit_detail_bytes = STEWARD_EXIT_DETAIL_BYTES;
}  // namespace steward::config
