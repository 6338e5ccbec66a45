// Shared pieces of the stress and fuzz suites (issue 9, parts 4 and 5): settings from the
// environment, a seeded PRNG, thread and descriptor counts from /proc, and the resource ledger.
#pragma once

#include <dirent.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "test_support.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define STEWARD_STRESS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STEWARD_STRESS_ASAN 1
#endif
#endif

namespace stress {

// A positive integer from the environment, or `fallback` (unset, empty or not a number).
inline std::uint64_t env_u64(const char* name, std::uint64_t fallback) noexcept {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 0);
  if (end == text || *end != '\0') return fallback;
  return static_cast<std::uint64_t>(v);
}

// STEWARD_STRESS_SEED, else a fresh one (printed by every test, so any run can be replayed).
inline std::uint64_t seed_from_env() noexcept {
  const auto now = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  const std::uint64_t fresh = (now ^ (static_cast<std::uint64_t>(::getpid()) << 32U)) | 1U;
  return env_u64("STEWARD_STRESS_SEED", fresh);
}

// splitmix64: small, seedable, good enough to pick operations.
struct rng {
  std::uint64_t state;
  explicit rng(std::uint64_t seed) noexcept : state(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31U);
  }
  std::uint32_t below(std::uint32_t n) noexcept { return static_cast<std::uint32_t>(next() % n); }
  bool one_in(std::uint32_t n) noexcept { return below(n) == 0; }
};

// Entries of a /proc directory (threads: /proc/self/task, descriptors: /proc/self/fd), not
// counting "." and "..", nor the descriptor the listing itself holds open.
inline int count_proc_entries(const char* dir) noexcept {
  DIR* d = ::opendir(dir);
  if (d == nullptr) return -1;
  int n = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n;
}
inline int thread_count() noexcept { return count_proc_entries("/proc/self/task"); }
// The baseline thread count: ThreadSanitizer starts a background thread of its own at the
// first thread creation, so one thread is created and joined before counting.
inline int baseline_thread_count() {
  std::thread([] {}).join();
  return thread_count();
}
inline int fd_count() noexcept { return count_proc_entries("/proc/self/fd") - 1; }

// The resource ledger of one worker slot. Every registration gets the next record; its
// release must find it acquired and leave it released: anything else is a double or a
// phantom release. A slot runs one incarnation at a time and an incarnation holds only a
// handful of registrations, so the record reused after k_ring registrations must have been
// released long ago: finding it still held is a leak.
struct slot_ledger {
  static constexpr std::uint32_t k_ring = 4096;
  static constexpr std::uint8_t k_free = 0, k_held = 1, k_released = 2;
  std::atomic<std::uint64_t> acquired{0};
  std::atomic<std::uint64_t> released{0};
  std::atomic<std::uint64_t> next{0};
  std::atomic<std::uint64_t> double_releases{0};
  std::atomic<std::uint64_t> leaks{0};
  std::atomic<std::uint8_t> record[k_ring]{};

  std::uint32_t acquire() noexcept {
    const auto idx = static_cast<std::uint32_t>(next.fetch_add(1, std::memory_order_relaxed) % k_ring);
    if (record[idx].exchange(k_held, std::memory_order_acq_rel) == k_held) leaks.fetch_add(1);
    acquired.fetch_add(1, std::memory_order_acq_rel);
    return idx;
  }
  void release(std::uint32_t idx) noexcept {
    if (record[idx].exchange(k_released, std::memory_order_acq_rel) != k_held) double_releases.fetch_add(1);
    released.fetch_add(1, std::memory_order_acq_rel);
  }
  // Registrations still held (acquired minus released); 0 once the slot's incarnation ended.
  [[nodiscard]] std::int64_t live() const noexcept {
    const auto r = released.load(std::memory_order_acquire);
    const auto a = acquired.load(std::memory_order_acquire);
    return static_cast<std::int64_t>(a) - static_cast<std::int64_t>(r);
  }
  [[nodiscard]] std::uint64_t held_records() const noexcept {
    std::uint64_t n = 0;
    for (const auto& r : record) n += r.load() == k_held ? 1U : 0U;
    return n;
  }
};

}  // namespace stress
