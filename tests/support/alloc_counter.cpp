#include "alloc_counter.hpp"

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

#ifndef STEWARD_TEST_ALLOC_MODE
#define STEWARD_TEST_ALLOC_MODE 2
#endif

namespace {
std::atomic<std::uint64_t> g_all{0};
thread_local std::uint64_t t_count = 0;  // initial-exec TLS in the executable: no allocation

inline void count_one() noexcept {
  ++t_count;
  g_all.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

#if STEWARD_TEST_ALLOC_MODE == 2
extern "C" {
void* __libc_malloc(std::size_t);                 // NOLINT(cert-dcl51-cpp,bugprone-reserved-identifier)
void* __libc_calloc(std::size_t, std::size_t);    // NOLINT
void* __libc_realloc(void*, std::size_t);         // NOLINT
void* __libc_memalign(std::size_t, std::size_t);  // NOLINT
void __libc_free(void*);                          // NOLINT

void* malloc(std::size_t n) {
  count_one();
  return __libc_malloc(n);
}
void* calloc(std::size_t a, std::size_t b) {
  count_one();
  return __libc_calloc(a, b);
}
void* realloc(void* p, std::size_t n) {
  count_one();
  return __libc_realloc(p, n);
}
void free(void* p) {
  __libc_free(p);
}
void* aligned_alloc(std::size_t a, std::size_t n) {
  count_one();
  return __libc_memalign(a, n);
}
void* memalign(std::size_t a, std::size_t n) {
  count_one();
  return __libc_memalign(a, n);
}
int posix_memalign(void** out, std::size_t a, std::size_t n) {
  count_one();
  void* p = __libc_memalign(a, n);
  if (p == nullptr) return 12;  // ENOMEM
  *out = p;
  return 0;
}
}
#elif STEWARD_TEST_ALLOC_MODE == 1
namespace {
void* counted_new(std::size_t n) {
  count_one();
  if (n == 0) n = 1;
  void* p = std::malloc(n);
  if (p == nullptr) std::abort();
  return p;
}
void* counted_new_aligned(std::size_t n, std::align_val_t a) {
  count_one();
  const auto align = static_cast<std::size_t>(a);
  n = (n + align - 1) / align * align;
  void* p = std::aligned_alloc(align, n == 0 ? align : n);
  if (p == nullptr) std::abort();
  return p;
}
}  // namespace
void* operator new(std::size_t n) {
  return counted_new(n);
}
void* operator new[](std::size_t n) {
  return counted_new(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return counted_new(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return counted_new(n);
}
void* operator new(std::size_t n, std::align_val_t a) {
  return counted_new_aligned(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return counted_new_aligned(n, a);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
#endif

namespace testutil {

std::uint64_t allocs_this_thread() noexcept {
  return t_count;
}
std::uint64_t allocs_all_threads() noexcept {
  return g_all.load(std::memory_order_relaxed);
}

int alloc_counting_mode() noexcept {
  static const int mode = [] {
    if (STEWARD_TEST_ALLOC_MODE == 0) return 0;
    const auto before = allocs_this_thread();
    int* volatile p = new int(1);  // volatile: the pair must not be elided
    delete p;
    return allocs_this_thread() > before ? STEWARD_TEST_ALLOC_MODE : 0;
  }();
  return mode;
}

}  // namespace testutil
