// A fixed-capacity, lock-free ring of trivially copyable records for many producers and one
// consumer at a time: workers and a tree's runner push lifecycle reports, and the application
// drains them off the hot path (supervisors/reports.hpp). A push never blocks, never waits for
// the consumer and never allocates: when the ring is full the record is counted as dropped.
//
// Each cell carries a sequence number (D. Vyukov's bounded queue). A producer claims a position
// with one compare-and-swap on the tail, writes the record into the cell, and publishes it with
// a release store of the cell's sequence; the consumer's acquire load of that sequence makes the
// record visible. Every hand-off is an acquire/release pair on an atomic the two sides share (no
// stand-alone fences), which ThreadSanitizer follows exactly (NOTE-1).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace steward {

template <class T>
class report_ring_base {
 public:
  static_assert(std::is_trivially_copyable_v<T>, "records are copied byte-wise into the ring");

  report_ring_base(const report_ring_base&) = delete;
  report_ring_base& operator=(const report_ring_base&) = delete;

  // Appends a copy of `record`. Any thread, any number at once; lock-free.
  // Returns: the position it was given (0, 1, 2... in claim order), or -1 if the ring was full
  // (the record is counted in dropped() and discarded).
  std::int64_t try_push(const T& record) noexcept {
    std::uint64_t pos = m_tail.load(std::memory_order_relaxed);
    for (;;) {
      cell& c = m_cells[pos & m_mask];
      // acquire pairs with the consumer's release in try_pop(): the cell's old record was read.
      const std::uint64_t seq = c.seq.load(std::memory_order_acquire);
      const auto lag = static_cast<std::int64_t>(seq - pos);
      if (lag == 0) {
        if (m_tail.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          c.value = record;
          c.seq.store(pos + 1, std::memory_order_release);  // publish: pairs with try_pop()
          return static_cast<std::int64_t>(pos);
        }
        // pos was reloaded by the failed compare-and-swap
      } else if (lag < 0) {  // the cell still holds the record of the previous lap: full
        m_dropped.fetch_add(1, std::memory_order_relaxed);
        return -1;
      } else {  // another producer took pos meanwhile
        pos = m_tail.load(std::memory_order_relaxed);
      }
    }
  }

  // Takes the oldest published record into `out`. One consumer at a time is the intended use;
  // concurrent consumers are safe too (the head moves by compare-and-swap).
  // Returns: true with `out` set (and `*position`, if given, to the position try_push() gave
  // it); false if nothing is published at the head - the ring is empty, or the producer that
  // claimed the head has not finished writing it (it will soon).
  bool try_pop(T& out, std::uint64_t* position = nullptr) noexcept {
    std::uint64_t pos = m_head.load(std::memory_order_relaxed);
    for (;;) {
      cell& c = m_cells[pos & m_mask];
      const std::uint64_t seq = c.seq.load(std::memory_order_acquire);  // pairs with try_push()
      const auto lag = static_cast<std::int64_t>(seq - (pos + 1));
      if (lag == 0) {
        if (m_head.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          out = c.value;
          if (position != nullptr) *position = pos;
          // release pairs with the producer's acquire of the next lap: the cell may be reused.
          c.seq.store(pos + m_mask + 1, std::memory_order_release);
          return true;
        }
      } else if (lag < 0) {
        return false;
      } else {
        pos = m_head.load(std::memory_order_relaxed);
      }
    }
  }

  // Records discarded because the ring was full, since construction (or the last take_dropped()).
  [[nodiscard]] std::uint64_t dropped() const noexcept { return m_dropped.load(std::memory_order_relaxed); }
  // Returns the drop count and resets it (one read-modify-write: no drop is counted twice or lost).
  std::uint64_t take_dropped() noexcept { return m_dropped.exchange(0, std::memory_order_relaxed); }
  // Positions handed out so far: every try_push() that did not drop.
  [[nodiscard]] std::uint64_t pushed() const noexcept { return m_tail.load(std::memory_order_relaxed); }
  [[nodiscard]] std::size_t capacity() const noexcept { return static_cast<std::size_t>(m_mask) + 1; }

 protected:
  struct cell {
    std::atomic<std::uint64_t> seq{0};
    T value{};
  };
  // `cells` must be a power of two in number; the derived class owns them and calls
  // number_cells() from its constructor's body, once they exist (they are constructed after
  // this base).
  report_ring_base(cell* cells, std::size_t count) noexcept : m_cells(cells), m_mask(count - 1) {}
  ~report_ring_base() = default;
  // Cell i starts with sequence i: free for the producer that claims position i. Before any
  // other thread sees the ring, so relaxed stores suffice.
  void number_cells() noexcept {
    for (std::uint64_t i = 0; i <= m_mask; ++i) m_cells[i].seq.store(i, std::memory_order_relaxed);
  }

 private:
  // Producers and the consumer touch different words: each on its own cache line (the fixed
  // fields share the last one).
  alignas(64) std::atomic<std::uint64_t> m_tail{0};
  alignas(64) std::atomic<std::uint64_t> m_head{0};
  alignas(64) std::atomic<std::uint64_t> m_dropped{0};
  cell* m_cells;
  std::uint64_t m_mask;
};

// The ring with its storage inside: no allocation, ever.
template <class T, std::size_t Capacity>
class report_ring final : public report_ring_base<T> {
 public:
  static_assert(Capacity >= 2 && (Capacity & (Capacity - 1)) == 0,
                "Capacity must be a power of two, at least 2");
  report_ring() noexcept : report_ring_base<T>(m_storage, Capacity) { this->number_cells(); }

 private:
  typename report_ring_base<T>::cell m_storage[Capacity]{};
};

}  // namespace steward

// NOTE-1: why not a fence. The classic lock-free rings publish with a relaxed store after an
// atomic_thread_fence(release); ThreadSanitizer does not model fences and would report the
// record's bytes as a race. Here the cell's own sequence word carries the ordering, so the
// program is race-free in the model TSan checks, not just on x86. A producer that is preempted
// between its compare-and-swap and its publishing store holds back only the consumer (which
// sees "nothing yet" at that cell and tries again at its next drain), never another producer.
