// POSIX port: platform::mutex is a pthread mutex with PTHREAD_PRIO_INHERIT. If the protocol is
// refused (ENOTSUP on a libc without PI), it falls back to a default mutex and reports that.
#include <pthread.h>

#include <cerrno>
#include <new>

#include "steward/core/contract.hpp"
#include "steward/platform/mutex.hpp"

namespace steward::platform {
namespace {
constexpr const char* k_module = "platform.mutex";

pthread_mutex_t* native(unsigned char* storage) noexcept {
  // Through void*: m_storage is alignas(8), which this helper's parameter type cannot express.
  return std::launder(static_cast<pthread_mutex_t*>(static_cast<void*>(storage)));
}
}  // namespace

mutex::mutex() noexcept {  // NOLINT(cppcoreguidelines-pro-type-member-init): m_storage is set below
  static_assert(sizeof(pthread_mutex_t) <= sizeof(m_storage), "grow mutex storage");
  static_assert(alignof(pthread_mutex_t) <= 8, "mutex storage alignment");
  pthread_mutexattr_t attr;
  STEWARD_REQUIRE(k_module, 100, pthread_mutexattr_init(&attr) == 0);
  m_priority_inheritance = pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT) == 0;
  auto* m = ::new (static_cast<void*>(m_storage)) pthread_mutex_t;  // NOLINT(cppcoreguidelines-owning-memory)
  int rc = pthread_mutex_init(m, &attr);
  if (rc != 0 && m_priority_inheritance) {
    m_priority_inheritance = false;
    rc = pthread_mutex_init(m, nullptr);
  }
  pthread_mutexattr_destroy(&attr);
  STEWARD_REQUIRE(k_module, 110, rc == 0);
}

mutex::~mutex() {
  pthread_mutex_destroy(native(m_storage));
}

void mutex::lock() noexcept {
  STEWARD_REQUIRE(k_module, 120, pthread_mutex_lock(native(m_storage)) == 0);
}

bool mutex::try_lock() noexcept {
  const int rc = pthread_mutex_trylock(native(m_storage));
  STEWARD_REQUIRE(k_module, 125, rc == 0 || rc == EBUSY);
  return rc == 0;
}

void mutex::unlock() noexcept {
  STEWARD_REQUIRE(k_module, 130, pthread_mutex_unlock(native(m_storage)) == 0);
}

}  // namespace steward::platform
