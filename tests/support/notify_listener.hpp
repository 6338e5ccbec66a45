// Test helper: plays the service manager's part of the sd_notify protocol - an AF_UNIX
// datagram socket bound to a fresh filesystem path or abstract name, read without blocking.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace testutil {

class notify_listener {
 public:
  enum class kind { path, abstract };

  explicit notify_listener(kind k) {
    static std::atomic<int> counter{0};
    const std::string unique = std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    socklen_t length = 0;
    if (k == kind::path) {
      char dir[] = "/tmp/steward-notify-XXXXXX";
      if (::mkdtemp(dir) == nullptr) return;
      m_dir = dir;
      m_name = m_dir + "/notify-" + unique;
      std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", m_name.c_str());
      length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + m_name.size() + 1);
    } else {
      m_name = "@steward-test-notify-" + unique;
      addr.sun_path[0] = '\0';
      for (std::size_t i = 1; i < m_name.size(); ++i) addr.sun_path[i] = m_name[i];
      length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + m_name.size());
    }
    m_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    if (m_fd >= 0 && ::bind(m_fd, reinterpret_cast<const sockaddr*>(&addr), length) != 0) {
      ::close(m_fd);
      m_fd = -1;
    }
  }
  ~notify_listener() {
    if (m_fd >= 0) ::close(m_fd);
    if (!m_dir.empty()) {
      ::unlink(m_name.c_str());
      ::rmdir(m_dir.c_str());
    }
  }
  notify_listener(const notify_listener&) = delete;
  notify_listener& operator=(const notify_listener&) = delete;

  [[nodiscard]] bool is_open() const { return m_fd >= 0; }
  // What NOTIFY_SOCKET should say: the path, or "@name".
  [[nodiscard]] const std::string& name() const { return m_name; }
  [[nodiscard]] int fd() const { return m_fd; }

  // The next queued datagram, or "" when none is queued.
  std::string next() {
    char buffer[4096];
    const auto got = ::recv(m_fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (got <= 0) return {};
    return std::string(buffer, static_cast<std::size_t>(got));
  }
  // Reads one datagram into a fixed buffer (no allocation). Returns: whether one was queued.
  bool drain_one() {
    char buffer[1024];
    return ::recv(m_fd, buffer, sizeof buffer, MSG_DONTWAIT) > 0;
  }

 private:
  int m_fd{-1};
  std::string m_name;
  std::string m_dir;
};

}  // namespace testutil
