// Compile-time configuration. An application may supply <steward_config.hpp> on its include
// path to override any STEWARD_* value below before it is used (ETL's etl_profile.h pattern).
#pragma once

#include <cstddef>

#if defined(__has_include)
#if __has_include(<steward_config.hpp>)
#include <steward_config.hpp>
#endif
#endif

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#define STEWARD_USING_EXCEPTIONS 1
#define STEWARD_NOT_USING_EXCEPTIONS 0
#else
#define STEWARD_USING_EXCEPTIONS 0
#define STEWARD_NOT_USING_EXCEPTIONS 1
#endif

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
#define STEWARD_DEFAULT_CLEANUP_CAPACITY 16U
#endif

// Bytes of inline storage for a worker body's captures and for one cleanup callable's captures.
#ifndef STEWARD_BODY_STORAGE_BYTES
#define STEWARD_BODY_STORAGE_BYTES 64U
#endif
#ifndef STEWARD_CLEANUP_STORAGE_BYTES
#define STEWARD_CLEANUP_STORAGE_BYTES 32U
#endif

// Longest text kept from an exception's what() in an exit report (including the NUL).
#ifndef STEWARD_EXIT_DETAIL_BYTES
#define STEWARD_EXIT_DETAIL_BYTES 48U
#endif

namespace steward::config {
inline constexpr std::size_t default_stack_bytes = STEWARD_DEFAULT_STACK_BYTES;
inline constexpr std::size_t default_cleanup_capacity = STEWARD_DEFAULT_CLEANUP_CAPACITY;
inline constexpr std::size_t body_storage_bytes = STEWARD_BODY_STORAGE_BYTES;
inline constexpr std::size_t cleanup_storage_bytes = STEWARD_CLEANUP_STORAGE_BYTES;
inline constexpr std::size_t exit_detail_bytes = STEWARD_EXIT_DETAIL_BYTES;
}  // namespace steward::config
