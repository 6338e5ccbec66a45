// POSIX port (Linux): the control socket is an AF_UNIX SOCK_STREAM socket bound to a path. The
// path's protection is the file system's: a directory of mode 0700 owned by us (checked with
// lstat, so a symbolic link planted there is refused) holding a socket file of mode 0600. The
// bind happens inside that directory, so the moment between bind() and chmod() is not
// reachable by anyone else; umask() is not touched (it is process-wide). Abstract names are
// never used: they have no permissions at all. Every accepted connection carries the peer's
// credentials as the kernel recorded them at connect() (SO_PEERCRED); the server compares them.
// Descriptors are non-blocking and close-on-exec; writes use send(MSG_NOSIGNAL), so a client
// that went away is an error value, never a SIGPIPE. Opening and closing a listener are
// serialised per directory by an exclusive flock() on the directory (NOTE-1).
#include "steward/platform/local_socket.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
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

// Copies `path` into `out` without its trailing slashes ("/" stays "/"): a trailing slash would
// make lstat() and open(O_NOFOLLOW) follow a symbolic link in the last component. Returns the
// length, or 0 when the path is empty or does not fit.
std::size_t without_trailing_slashes(const char* path, char* out, std::size_t capacity) noexcept {
  std::size_t n = length_of(path);
  while (n > 1 && path[n - 1] == '/') --n;
  if (n == 0 || n >= capacity) return 0;
  for (std::size_t i = 0; i < n; ++i) out[i] = path[i];
  out[n] = '\0';
  return n;
}

// Creates `path` (already without trailing slashes) with mode 0700 if it is missing, opens it
// without following a symbolic link and checks the opened directory itself (fstat), so what is
// checked is what is locked. Returns the directory's descriptor (close-on-exec).
result<int> open_private_directory(const char* path) noexcept {
  if (::mkdir(path, 0700) != 0 && errno != EEXIST)
    return fail(errc::platform_error, "control directory", errno);
  int dir = -1;
  do {
    dir = ::open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  } while (dir < 0 && errno == EINTR);
  if (dir < 0) {
    const int e = errno;
    if (e == ELOOP || e == ENOTDIR)
      return fail(errc::invalid_argument, "control directory");  // a link, a file
    if (e == EACCES) return fail(errc::permission_denied, "control directory", e);
    return fail(errno_class(e), "control directory", e);
  }
  struct stat st {};
  if (::fstat(dir, &st) != 0) {
    const int e = errno;
    ::close(dir);
    return fail(errc::platform_error, "control directory", e);
  }
  if (st.st_uid != ::geteuid() || (st.st_mode & 077U) != 0) {
    ::close(dir);
    return fail(errc::permission_denied, "control directory", static_cast<std::int32_t>(st.st_mode & 0777U));
  }
  return dir;
}

// A non-blocking socket bound to `path` (mode 0600) and listening; `st` gets the file's identity.
// On failure nothing is left: no descriptor, no file.
result<int> bind_listening(const char* path, struct stat& st) noexcept {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return fail(errno_class(errno), "control socket", errno);
  sockaddr_un addr{};
  const socklen_t len = address_of(path, addr);
  if (::bind(fd, generic(addr), len) != 0) {
    const int e = errno;
    ::close(fd);
    return fail(e == EADDRINUSE ? errc::already_running : errc::platform_error, "control socket", e);
  }
  if (::chmod(path, 0600) != 0 || ::lstat(path, &st) != 0 || ::listen(fd, 8) != 0) {
    const int e = errno;
    ::unlink(path);
    ::close(fd);
    return fail(errc::platform_error, "control socket", e);
  }
  return fd;
}

// Holds the exclusive lock on a directory descriptor for one scope (NOTE-1).
class directory_lock {
 public:
  explicit directory_lock(int dir) noexcept : m_dir(dir) {
    int rc = 0;
    do {
      rc = ::flock(m_dir, LOCK_EX);
    } while (rc != 0 && errno == EINTR);
    m_error = rc == 0 ? 0 : errno;
  }
  ~directory_lock() {
    if (m_error == 0) ::flock(m_dir, LOCK_UN);
  }
  directory_lock(const directory_lock&) = delete;
  directory_lock& operator=(const directory_lock&) = delete;
  [[nodiscard]] int error() const noexcept { return m_error; }

 private:
  int m_dir;
  int m_error{0};
};

}  // namespace

std::uint32_t effective_uid() noexcept {
  return static_cast<std::uint32_t>(::geteuid());
}

result<void> make_private_directory(const char* path) noexcept {
  if (path == nullptr) return fail(errc::invalid_argument, "control directory");
  char trimmed[k_local_path_bytes + 1];
  if (without_trailing_slashes(path, trimmed, sizeof trimmed) == 0)
    return fail(errc::invalid_argument, "control directory");
  auto dir = open_private_directory(trimmed);
  if (!dir) return tl::make_unexpected(dir.error());
  ::close(*dir);
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
  {
    // Under the directory's lock: an open() that replaces this socket once it is stale cannot
    // run between the check and the unlink (NOTE-1). Without the lock (flock failed), the check
    // alone still keeps a later server's file in all but that window.
    const directory_lock lock(m_dir);
    struct stat st {};
    // Only the file this listener bound: a later server's socket at the same path stays.
    if (::lstat(m_path, &st) == 0 && static_cast<std::uint64_t>(st.st_dev) == m_device &&
        static_cast<std::uint64_t>(st.st_ino) == m_inode) {
      ::unlink(m_path);
    }
    ::close(m_fd);
    m_fd = -1;
  }
  ::close(m_dir);
  m_dir = -1;
  m_path[0] = '\0';
}

result<void> local_listener::open(const char* directory, const char* name) noexcept {
  if (m_fd >= 0) return fail(errc::already_running, "control socket");
  if (directory == nullptr || name == nullptr || *name == '\0')
    return fail(errc::invalid_argument, "control socket");
  const std::size_t name_len = length_of(name);
  for (std::size_t i = 0; i < name_len; ++i) {
    if (name[i] == '/') return fail(errc::invalid_argument, "control socket");
  }
  char path[k_local_path_bytes + 1]{};
  const std::size_t dir_len = without_trailing_slashes(directory, path, sizeof path);
  if (dir_len == 0 || dir_len + 1 + name_len > k_local_path_bytes) {
    return fail(errc::invalid_argument, "control socket",
                static_cast<std::int32_t>(length_of(directory) + 1 + name_len));
  }
  auto opened_dir = open_private_directory(path);  // path holds the directory so far
  if (!opened_dir) return tl::make_unexpected(opened_dir.error());
  const int dir = *opened_dir;
  std::size_t at = dir_len;
  path[at++] = '/';
  for (std::size_t i = 0; i < name_len; ++i) path[at++] = name[i];
  path[at] = '\0';

  struct stat st {};
  result<int> bound = fail(errc::platform_error, "control socket");
  {
    const directory_lock lock(dir);  // NOTE-1; released before `dir` is closed
    if (lock.error() != 0) {
      bound = fail(errc::platform_error, "control socket", lock.error());
    } else {
      auto cleared = clear_stale(path);
      if (cleared) {
        bound = bind_listening(path, st);
      } else {
        bound = tl::make_unexpected(cleared.error());
      }
    }
  }
  if (!bound) {
    ::close(dir);
    return tl::make_unexpected(bound.error());
  }
  const int fd = *bound;
  for (std::size_t i = 0; i <= at; ++i) m_path[i] = path[i];
  m_device = static_cast<std::uint64_t>(st.st_dev);
  m_inode = static_cast<std::uint64_t>(st.st_ino);
  m_fd = fd;
  m_dir = dir;  // kept open: close() takes the same lock
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

namespace {

// socket() and connect() for local_connect(); `timeout` > 0 sets both socket timeouts first
// (an AF_UNIX connect() waits for room in the server's queue at most SO_SNDTIMEO).
result<int> connect_to(const char* path, duration timeout) noexcept {
  if (path == nullptr || length_of(path) == 0 || length_of(path) > k_local_path_bytes) {
    return fail(errc::invalid_argument, "control socket");
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(errno_class(errno), "control socket", errno);
  if (timeout.count() > 0) {
    const auto us = (timeout.count() + 999) / 1000;
    timeval tv{};
    tv.tv_sec = static_cast<decltype(tv.tv_sec)>(us / 1000000);
    tv.tv_usec = static_cast<decltype(tv.tv_usec)>(us % 1000000);
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
      const int e = errno;
      ::close(fd);
      return fail(errc::platform_error, "control socket", e);
    }
  }
  sockaddr_un addr{};
  const socklen_t len = address_of(path, addr);
  int rc = 0;
  do {
    rc = ::connect(fd, generic(addr), len);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int e = errno;
    ::close(fd);
    if (e == EAGAIN && timeout.count() > 0) return fail(errc::timeout, "control socket", e);
    return fail(e == EACCES || e == EPERM ? errc::permission_denied : errc::platform_error, "control socket",
                e);
  }
  return fd;
}

}  // namespace

result<int> local_connect(const char* path) noexcept {
  return connect_to(path, duration::zero());
}

result<int> local_connect(const char* path, duration timeout) noexcept {
  if (timeout.count() <= 0) return fail(errc::invalid_argument, "control socket");
  return connect_to(path, timeout);
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

// NOTE-1: why open() takes a lock. Replacing a stale socket file is a check (connect() is
// refused) followed by an unlink() and a bind(); two openers can both see the file stale, or one
// can see the other's freshly bound but not yet listening file as stale and unlink it, and then
// both succeed, one of them on a file nobody can reach. Binding a temporary name and link()ing
// it into place only moves the problem to the stale-file removal. So every open() and close()
// holds an exclusive flock() on the socket directory (a descriptor of the directory itself,
// opened with O_NOFOLLOW and checked with fstat) from the check to the bind and listen: per
// directory, whether the openers are threads of one process or separate processes. The lock is
// held for a few system calls only and released before open() returns. It is advisory: it
// orders steward's listeners, not a foreign program that unlinks files in our 0700 directory
// (only our own uid can). The directory's descriptor stays open with the listener, so close()
// locks the same directory even if its path has since changed.
