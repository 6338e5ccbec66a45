// POSIX port (Linux): the control socket is an AF_UNIX SOCK_STREAM socket bound to a path. The
// path's protection is the file system's: a directory of mode 0700 owned by us (checked with
// lstat, so a symbolic link planted there is refused) holding a socket file of mode 0600. The
// bind happens inside that directory, so the moment between bind() and chmod() is not
// reachable by anyone else; umask() is not touched (it is process-wide). Abstract names are
// never used: they have no permissions at all. Every accepted connection carries the peer's
// credentials as the kernel recorded them at connect() (SO_PEERCRED); the server compares them.
// Descriptors are non-blocking and close-on-exec; writes use send(MSG_NOSIGNAL), so a client
// that went away is an error value, never a SIGPIPE.
#include "steward/platform/local_socket.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace steward::platform {
namespace {

static_assert(sizeof(sockaddr_un::sun_path) == k_local_path_bytes + 1,
              "k_local_path_bytes follows sockaddr_un");

std::size_t length_of(const char* s) noexcept {
  std::size_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

errc errno_class(int e) noexcept {
  return (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) ? errc::resource_exhausted
                                                                     : errc::platform_error;
}

// The sockaddr for `path` (which fits: checked by the callers) and its length.
socklen_t address_of(const char* path, sockaddr_un& addr) noexcept {
  addr = sockaddr_un{};
  addr.sun_family = AF_UNIX;
  const std::size_t n = length_of(path);
  for (std::size_t i = 0; i < n; ++i) addr.sun_path[i] = path[i];
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n + 1);
}

// sockaddr_un is passed as the generic sockaddr, as the socket API defines it.
const sockaddr* generic(const sockaddr_un& addr) noexcept {
  return reinterpret_cast<const sockaddr*>(&addr);  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
}

// What is at `path` now: nothing (ok), a stale socket (removed, ok), a live server
// (already_running) or another kind of file (invalid_argument).
result<void> clear_stale(const char* path) noexcept {
  struct stat st {};
  if (::lstat(path, &st) != 0) {
    if (errno == ENOENT) return {};
    return fail(errc::platform_error, "control socket", errno);
  }
  if (!S_ISSOCK(st.st_mode)) return fail(errc::invalid_argument, "control socket");
  const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (probe < 0) return fail(errno_class(errno), "control socket", errno);
  sockaddr_un addr{};
  const socklen_t len = address_of(path, addr);
  int rc = 0;
  do {
    rc = ::connect(probe, generic(addr), len);
  } while (rc != 0 && errno == EINTR);
  const int e = errno;
  ::close(probe);
  // Connected, or a backlog that is full (EAGAIN): somebody serves there.
  if (rc == 0 || e == EAGAIN) return fail(errc::already_running, "control socket");
  if (e != ECONNREFUSED) return fail(errc::platform_error, "control socket", e);
  if (::unlink(path) != 0 && errno != ENOENT) return fail(errc::platform_error, "control socket", errno);
  return {};
}

}  // namespace

std::uint32_t effective_uid() noexcept {
  return static_cast<std::uint32_t>(::geteuid());
}

result<void> make_private_directory(const char* path) noexcept {
  if (path == nullptr || *path == '\0') return fail(errc::invalid_argument, "control directory");
  if (::mkdir(path, 0700) != 0 && errno != EEXIST)
    return fail(errc::platform_error, "control directory", errno);
  struct stat st {};
  if (::lstat(path, &st) != 0) return fail(errc::platform_error, "control directory", errno);
  if (!S_ISDIR(st.st_mode)) return fail(errc::invalid_argument, "control directory");
  const auto bits = static_cast<std::int32_t>(st.st_mode & 0777U);
  if (st.st_uid != ::geteuid() || (st.st_mode & 077U) != 0) {
    return fail(errc::permission_denied, "control directory", bits);
  }
  return {};
}

result<path_status> stat_path(const char* path) noexcept {
  struct stat st {};
  if (::lstat(path, &st) != 0) return fail(errc::platform_error, "stat", errno);
  path_status out;
  out.mode = static_cast<std::uint32_t>(st.st_mode & 0777U);
  out.uid = static_cast<std::uint32_t>(st.st_uid);
  out.is_socket = S_ISSOCK(st.st_mode);
  out.is_directory = S_ISDIR(st.st_mode);
  return out;
}

local_listener::~local_listener() {
  close();
}

void local_listener::close() noexcept {
  if (m_fd < 0) return;
  ::close(m_fd);
  m_fd = -1;
  struct stat st {};
  // Only the file this listener bound: a later server's socket at the same path stays.
  if (::lstat(m_path, &st) == 0 && static_cast<std::uint64_t>(st.st_dev) == m_device &&
      static_cast<std::uint64_t>(st.st_ino) == m_inode) {
    ::unlink(m_path);
  }
  m_path[0] = '\0';
}

result<void> local_listener::open(const char* directory, const char* name) noexcept {
  if (m_fd >= 0) return fail(errc::already_running, "control socket");
  if (directory == nullptr || name == nullptr || *name == '\0')
    return fail(errc::invalid_argument, "control socket");
  const std::size_t dir_len = length_of(directory);
  const std::size_t name_len = length_of(name);
  for (std::size_t i = 0; i < name_len; ++i) {
    if (name[i] == '/') return fail(errc::invalid_argument, "control socket");
  }
  if (dir_len == 0 || dir_len + 1 + name_len > k_local_path_bytes) {
    return fail(errc::invalid_argument, "control socket", static_cast<std::int32_t>(dir_len + 1 + name_len));
  }
  STEWARD_TRY(make_private_directory(directory));
  char path[k_local_path_bytes + 1]{};
  std::size_t at = 0;
  for (std::size_t i = 0; i < dir_len; ++i) path[at++] = directory[i];
  path[at++] = '/';
  for (std::size_t i = 0; i < name_len; ++i) path[at++] = name[i];
  path[at] = '\0';
  STEWARD_TRY(clear_stale(path));

  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return fail(errno_class(errno), "control socket", errno);
  sockaddr_un addr{};
  const socklen_t len = address_of(path, addr);
  auto give_up = [&](errc code, int e) {
    ::close(fd);
    return fail(code, "control socket", e);
  };
  if (::bind(fd, generic(addr), len) != 0) {
    return give_up(errno == EADDRINUSE ? errc::already_running : errc::platform_error, errno);
  }
  struct stat st {};
  if (::chmod(path, 0600) != 0 || ::lstat(path, &st) != 0) {
    const int e = errno;
    ::unlink(path);
    return give_up(errc::platform_error, e);
  }
  if (::listen(fd, 8) != 0) {
    const int e = errno;
    ::unlink(path);
    return give_up(errc::platform_error, e);
  }
  for (std::size_t i = 0; i <= at; ++i) m_path[i] = path[i];
  m_device = static_cast<std::uint64_t>(st.st_dev);
  m_inode = static_cast<std::uint64_t>(st.st_ino);
  m_fd = fd;
  return {};
}

result<accepted_peer> local_listener::accept() const noexcept {
  if (m_fd < 0) return fail(errc::not_running, "control socket");
  int fd = -1;
  do {
    fd = ::accept4(m_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    // ECONNABORTED: the client left before we took it; as good as nothing pending.
    if (errno == EAGAIN || errno == ECONNABORTED) return accepted_peer{};
    return fail(errno_class(errno), "control socket", errno);
  }
  ucred cred{};
  socklen_t cred_len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) != 0 || cred_len != sizeof cred) {
    const int e = errno;
    ::close(fd);
    return fail(errc::platform_error, "SO_PEERCRED", e);
  }
  accepted_peer out;
  out.fd = fd;
  out.peer.uid = static_cast<std::uint32_t>(cred.uid);
  out.peer.gid = static_cast<std::uint32_t>(cred.gid);
  out.peer.pid = static_cast<std::int32_t>(cred.pid);
  return out;
}

result<int> local_connect(const char* path) noexcept {
  if (path == nullptr || length_of(path) == 0 || length_of(path) > k_local_path_bytes) {
    return fail(errc::invalid_argument, "control socket");
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(errno_class(errno), "control socket", errno);
  sockaddr_un addr{};
  const socklen_t len = address_of(path, addr);
  int rc = 0;
  do {
    rc = ::connect(fd, generic(addr), len);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int e = errno;
    ::close(fd);
    return fail(e == EACCES || e == EPERM ? errc::permission_denied : errc::platform_error, "control socket",
                e);
  }
  return fd;
}

bool peer_hung_up(int fd) noexcept {
  char byte = 0;
  ssize_t n = 0;
  do {
    n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);  // EOF, or a reset
}

result<io_transfer> read_some(int fd, char* data, std::size_t size) noexcept {
  io_transfer out;
  if (size == 0) return out;
  for (;;) {
    const auto got = ::read(fd, data, size);
    if (got > 0) {
      out.bytes = static_cast<std::size_t>(got);
      return out;
    }
    if (got == 0) {
      out.closed = true;
      return out;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      out.would_block = true;
      return out;
    }
    if (errno == ECONNRESET) {
      out.closed = true;
      return out;
    }
    return fail(errc::io_error, "control socket", errno);
  }
}

result<io_transfer> write_some(int fd, const char* data, std::size_t size) noexcept {
  io_transfer out;
  if (size == 0) return out;
  for (;;) {
    const auto sent = ::send(fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent >= 0) {
      out.bytes = static_cast<std::size_t>(sent);
      return out;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      out.would_block = true;
      return out;
    }
    if (errno == EPIPE || errno == ECONNRESET) {
      out.closed = true;
      return out;
    }
    return fail(errc::io_error, "control socket", errno);
  }
}

void close_fd(int fd) noexcept {
  if (fd >= 0) ::close(fd);
}

}  // namespace steward::platform
