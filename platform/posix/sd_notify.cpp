// POSIX port (Linux): the service manager's notification socket is an AF_UNIX datagram socket.
// The notifier keeps one unconnected SOCK_DGRAM socket and the manager's address; each message
// is one sendto() with MSG_DONTWAIT (a full queue is reported, never waited for) and
// MSG_NOSIGNAL. The kernel attaches our credentials for the manager (it sets SO_PASSCRED), so
// nothing else travels with the datagram. An abstract name ("@name") is sun_path[0] == '\0'
// followed by the name's bytes, its length counted exactly (no terminator), as systemd does.
#include "steward/platform/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace steward::platform {
namespace {

static_assert(sizeof(sockaddr_un::sun_path) == k_notify_socket_name_bytes + 1,
              "k_notify_socket_name_bytes follows sockaddr_un");

std::size_t length_of(const char* s) noexcept {
  std::size_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

// A positive decimal number without sign, spaces or suffix, at most `max`.
bool parse_positive(const char* text, std::uint64_t max, std::uint64_t& out) noexcept {
  if (text == nullptr || *text == '\0') return false;
  std::uint64_t v = 0;
  for (const char* p = text; *p != '\0'; ++p) {
    if (*p < '0' || *p > '9') return false;
    const auto digit = static_cast<std::uint64_t>(*p - '0');
    if (v > (max - digit) / 10) return false;
    v = v * 10 + digit;
  }
  if (v == 0) return false;
  out = v;
  return true;
}

// Appends to a fixed buffer; whatever does not fit is dropped (the caller checks `full`).
struct message {
  char text[k_notify_message_bytes]{};
  std::size_t length{0};
  bool full{false};
  void append(const char* s, bool one_line) noexcept {
    for (; *s != '\0' && !(one_line && (*s == '\n' || *s == '\r')); ++s) {
      if (length == sizeof text) {
        full = true;
        return;
      }
      text[length++] = *s;
    }
  }
};

}  // namespace

notify_environment read_notify_environment() noexcept {
  notify_environment env;
  // Read once, at initialisation (see the header): nothing here runs concurrently with setenv().
  env.notify_socket = std::getenv("NOTIFY_SOCKET");  // NOLINT(concurrency-mt-unsafe)
  env.watchdog_usec = std::getenv("WATCHDOG_USEC");  // NOLINT(concurrency-mt-unsafe)
  env.watchdog_pid = std::getenv("WATCHDOG_PID");    // NOLINT(concurrency-mt-unsafe)
  return env;
}

sd_notifier::~sd_notifier() {
  close();
}

void sd_notifier::close() noexcept {
  if (m_fd >= 0) ::close(m_fd);
  m_fd = -1;
  m_watchdog = duration::zero();
  m_name_length = 0;
}

result<void> sd_notifier::open(const notify_environment& env) noexcept {
  if (m_fd >= 0) return fail(errc::already_running, "NOTIFY_SOCKET");
  const char* name = env.notify_socket;
  if (name == nullptr || *name == '\0') return {};  // no manager: every message is a no-op

  // The watchdog first: a malformed setting refuses the whole configuration.
  duration watchdog{};
  if (env.watchdog_usec != nullptr) {
    std::uint64_t usec = 0;
    constexpr auto k_max_usec = static_cast<std::uint64_t>(duration::max().count() / 1000);
    if (!parse_positive(env.watchdog_usec, k_max_usec, usec))
      return fail(errc::invalid_argument, "WATCHDOG_USEC");
    watchdog = std::chrono::microseconds(static_cast<std::int64_t>(usec));
    if (env.watchdog_pid != nullptr) {
      std::uint64_t pid = 0;
      if (!parse_positive(env.watchdog_pid, INT32_MAX, pid))
        return fail(errc::invalid_argument, "WATCHDOG_PID");
      if (pid != static_cast<std::uint64_t>(::getpid())) watchdog = duration::zero();  // another process's
    }
  }

  const std::size_t length = length_of(name);
  if (name[0] != '/' && name[0] != '@') return fail(errc::invalid_argument, "NOTIFY_SOCKET");
  if (length > k_notify_socket_name_bytes || (name[0] == '@' && length == 1)) {
    return fail(errc::invalid_argument, "NOTIFY_SOCKET", static_cast<std::int32_t>(length));
  }

  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const errc code = (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                          ? errc::resource_exhausted
                          : errc::platform_error;
    return fail(code, "NOTIFY_SOCKET", errno);
  }
  for (std::size_t i = 0; i < length; ++i) m_name[i] = name[i];
  if (name[0] == '@') m_name[0] = '\0';  // abstract namespace
  m_name[length] = '\0';
  // A path is passed with its terminator (as systemd does); an abstract name without one.
  m_name_length = name[0] == '@' ? length : length + 1;
  m_watchdog = watchdog;
  m_fd = fd;
  return {};
}

result<void> sd_notifier::notify(notify_flags flags, const char* status) const noexcept {
  if (m_fd < 0) return {};
  message msg;
  if (has_flag(flags, notify_flags::ready)) msg.append("READY=1\n", false);
  if (has_flag(flags, notify_flags::stopping)) msg.append("STOPPING=1\n", false);
  if (has_flag(flags, notify_flags::watchdog) && watchdog_enabled()) msg.append("WATCHDOG=1\n", false);
  if (status != nullptr) {
    msg.append("STATUS=", false);
    msg.append(status, true);
    if (msg.full) msg.length = sizeof msg.text - 1;  // keep room for the closing newline
    msg.text[msg.length++] = '\n';
  }
  if (msg.length == 0) return {};  // only WATCHDOG=1 was asked, and it does not apply

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  for (std::size_t i = 0; i < m_name_length; ++i) addr.sun_path[i] = m_name[i];
  const auto addr_length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + m_name_length);
  // sockaddr_un is passed as the generic sockaddr, as the socket API defines it.
  const auto* target =
      reinterpret_cast<const sockaddr*>(&addr);  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
  for (;;) {
    const auto sent = ::sendto(m_fd, msg.text, msg.length, MSG_DONTWAIT | MSG_NOSIGNAL, target, addr_length);
    if (sent >= 0) return {};
    if (errno == EINTR) continue;
    // EAGAIN (== EWOULDBLOCK on Linux): the manager's receive queue is full.
    const errc code = (errno == EAGAIN || errno == ENOBUFS) ? errc::resource_exhausted : errc::platform_error;
    return fail(code, "NOTIFY_SOCKET", errno);
  }
}

}  // namespace steward::platform
