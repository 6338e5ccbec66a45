// Compile check: an ignored steward result does not compile in a -Werror=unused-result build.
// Built twice by tests/compile_check.cmake: as is (must fail, naming nodiscard) and with
// STEWARD_CONTROL (the result used: must compile, so the failure is not an include error).
#include <steward/steward.hpp>

steward::static_worker<> g_worker;

void pause_it() {
#if defined(STEWARD_CONTROL)
  static_cast<void>(g_worker.pause(std::chrono::seconds(1)));
#else
  g_worker.pause(std::chrono::seconds(1));
#endif
}
