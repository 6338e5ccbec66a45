// Bounded multi-producer multi-consumer rings of 32-bit values (a pool's task indexes), with a
// capacity fixed at compile time and no allocation.
//  - mpmc_ring: lock-free. Each cell carries a sequence number that says whose turn it is (the
//    cell-sequence scheme published by D. Vyukov): a producer claims a position with one CAS on
//    the tail and publishes with one release store, a consumer likewise on the head. No thread
//    ever waits for another inside push or pop: a full or empty ring is reported at once.
//  - locked_ring: the same interface around a short priority-inheritance mutex section, kept as
//    the measured alternative (bench/steward_pool_bench.cpp compares both on the target; the
//    pool uses the faster one - docs/pool.md gives the figures).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "steward/platform/mutex.hpp"

namespace steward {

namespace detail {
[[nodiscard]] constexpr std::size_t ring_size_for(std::size_t capacity) noexcept {
  std::size_t size = 1;
  while (size < capacity) size <<= 1U;
  return size;
}
}  // namespace detail

// Capacity-erased algorithms; mpmc_ring<N> owns the cells.
class mpmc_ring_base {
 public:
  struct cell {
    std::atomic<std::size_t> sequence{0};
    std::uint32_t value{0};  // written before the release store of `sequence`, read after its acquire
  };

  mpmc_ring_base(const mpmc_ring_base&) = delete;
  mpmc_ring_base& operator=(const mpmc_ring_base&) = delete;

  // Returns: true if `value` was stored; false at once if the ring is full.
  [[nodiscard]] bool try_push(std::uint32_t value) noexcept {
    std::size_t pos = m_tail.load(std::memory_order_relaxed);
    for (;;) {
      cell& c = m_cells[pos & m_mask];
      const std::size_t seq = c.sequence.load(std::memory_order_acquire);
      const auto diff = static_cast<std::ptrdiff_t>(seq - pos);
      if (diff == 0) {
        if (m_tail.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          c.value = value;
          c.sequence.store(pos + 1, std::memory_order_release);  // pairs with acquire in try_pop
          return true;
        }
      } else if (diff < 0) {
        return false;  // the cell still holds a value a full lap ago: full
      } else {
        pos = m_tail.load(std::memory_order_relaxed);
      }
    }
  }

  // Returns: true with the oldest value in `out`; false at once if the ring is empty.
  [[nodiscard]] bool try_pop(std::uint32_t& out) noexcept {
    std::size_t pos = m_head.load(std::memory_order_relaxed);
    for (;;) {
      cell& c = m_cells[pos & m_mask];
      const std::size_t seq = c.sequence.load(std::memory_order_acquire);
      const auto diff = static_cast<std::ptrdiff_t>(seq - (pos + 1));
      if (diff == 0) {
        if (m_head.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          out = c.value;
          c.sequence.store(pos + m_mask + 1, std::memory_order_release);  // free for the next lap
          return true;
        }
      } else if (diff < 0) {
        return false;  // not yet published: empty
      } else {
        pos = m_head.load(std::memory_order_relaxed);
      }
    }
  }

  // A snapshot (exact only while nobody pushes or pops).
  [[nodiscard]] std::size_t size_approx() const noexcept {
    const std::size_t tail = m_tail.load(std::memory_order_relaxed);
    const std::size_t head = m_head.load(std::memory_order_relaxed);
    return tail >= head ? tail - head : 0;
  }
  [[nodiscard]] std::size_t capacity() const noexcept { return m_mask + 1; }

 protected:
  mpmc_ring_base(cell* cells, std::size_t size) noexcept : m_cells(cells), m_mask(size - 1) {}
  ~mpmc_ring_base() = default;
  // Called by the owner once its cells exist (they are constructed after this base).
  void init_cells() noexcept {
    for (std::size_t i = 0; i <= m_mask; ++i) m_cells[i].sequence.store(i, std::memory_order_relaxed);
  }

 private:
  // Producers' and consumers' words on their own cache lines; the read-only fields share the
  // producers' line.
  alignas(64) std::atomic<std::size_t> m_tail{0};
  cell* m_cells;
  std::size_t m_mask;
  alignas(64) std::atomic<std::size_t> m_head{0};
};

// Holds at least Capacity values (rounded up to a power of two, so positions may wrap freely).
template <std::size_t Capacity>
class mpmc_ring final : public mpmc_ring_base {
 public:
  static_assert(Capacity > 0, "a ring needs room for one value");
  static constexpr std::size_t k_size = detail::ring_size_for(Capacity);
  mpmc_ring() noexcept : mpmc_ring_base(m_storage, k_size) { init_cells(); }

 private:
  cell m_storage[k_size];
};

// The mutex alternative, same interface.
template <std::size_t Capacity>
class locked_ring {
 public:
  static_assert(Capacity > 0, "a ring needs room for one value");
  locked_ring() noexcept = default;
  locked_ring(const locked_ring&) = delete;
  locked_ring& operator=(const locked_ring&) = delete;
  ~locked_ring() = default;

  [[nodiscard]] bool try_push(std::uint32_t value) noexcept {
    const platform::lock_guard lock(m_mutex);
    if (m_count == Capacity) return false;
    m_values[(m_head + m_count) % Capacity] = value;
    ++m_count;
    return true;
  }
  [[nodiscard]] bool try_pop(std::uint32_t& out) noexcept {
    const platform::lock_guard lock(m_mutex);
    if (m_count == 0) return false;
    out = m_values[m_head];
    m_head = (m_head + 1) % Capacity;
    --m_count;
    return true;
  }

 private:
  platform::mutex m_mutex;
  std::uint32_t m_values[Capacity]{};
  std::size_t m_head{0};
  std::size_t m_count{0};
};

}  // namespace steward
