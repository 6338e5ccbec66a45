// Compile check: a task whose captures exceed the pool's TaskBytes does not compile (it is never
// moved to the heap). Built twice by tests/compile_check.cmake: as is (must fail, naming
// TaskBytes) and with STEWARD_CONTROL (a capture that fits: must compile).
#include <steward/core/pool.hpp>

struct big {
#if defined(STEWARD_CONTROL)
  char bytes[32];
#else
  char bytes[128];
#endif
};

steward::result<steward::task_handle> submit_big(steward::pool<1, 4, 64>& p, const big& b) {
  return p.submit([b] { static_cast<void>(b.bytes[0]); });
}
