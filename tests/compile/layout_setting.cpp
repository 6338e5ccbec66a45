// Compile check: an application that sets a layout setting to another value than steward was
// built with gets an error naming the setting and both values (tests/compile_check.cmake builds it
// with the built value, which must compile, and with another, which must fail).
#define STEWARD_BODY_STORAGE_BYTES STEWARD_TEST_VALUE
#include <steward/core/worker.hpp>

int main() {
  return 0;
}
