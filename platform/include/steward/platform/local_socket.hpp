// Platform interface: a local control socket. A listening AF_UNIX stream socket whose file sits
// in a private directory (mode 0700, owned by us) with mode 0600, and the peer's credentials of
// each accepted connection (SO_PEERCRED), so that the server can refuse another user even when
// the file system would have let them in. No network address family is offered at all.
// Accepting, reading and writing never block: the server waits for readiness with steward's fd
// waits (worker_context::wait_any) and then calls these. Nothing here allocates.
#pragma once

#include <cstddef>
#include <cstdint>

#include "steward/core/expected.hpp"
#include "steward/core/time.hpp"

namespace steward::platform {

// Longest socket path (sockaddr_un::sun_path without its terminator).
inline constexpr std::size_t k_local_path_bytes = 107;

// The effective uid of this process: the only peer a control socket accepts by default.
[[nodiscard]] std::uint32_t effective_uid() noexcept;

// Makes `path` a private directory: creates it with mode 0700 if it is missing (its parent must
// exist), or checks that the existing one is a real directory (not a symbolic link) owned by
// effective_uid() with no group or other permission bits. Trailing slashes are dropped first
// ("ctl/" is "ctl"), so a symbolic link in the last component is refused, never followed; the
// directory is opened with O_NOFOLLOW and the opened directory is what is checked.
// Returns: ok; permission_denied (value = the mode found, or EACCES when we may not read it) if
// it exists but is not private to us; invalid_argument if it is not a directory (a symbolic
// link, a file), empty or longer than k_local_path_bytes; platform_error (value = errno).
[[nodiscard]] result<void> make_private_directory(const char* path) noexcept;

// What stat says about a path (for checks and tests): permission bits, owner, type.
struct path_status {
  std::uint32_t mode{0};  // permission bits only (0777 mask)
  std::uint32_t uid{0};
  bool is_socket{false};
  bool is_directory{false};
};
// Returns: the status (lstat: a link is not followed); platform_error (value = errno).
[[nodiscard]] result<path_status> stat_path(const char* path) noexcept;

struct peer_credentials {
  std::uint32_t uid{0};
  std::uint32_t gid{0};
  std::int32_t pid{0};
};

// One accepted connection: a non-blocking, close-on-exec stream descriptor (the caller closes it
// with close_fd()), and who connected. fd < 0: no connection was pending.
struct accepted_peer {
  int fd{-1};
  peer_credentials peer{};
};

class local_listener {
 public:
  local_listener() noexcept = default;
  ~local_listener();
  local_listener(const local_listener&) = delete;
  local_listener& operator=(const local_listener&) = delete;

  // Makes `directory` private (make_private_directory), binds `directory/name` (mode 0600) and
  // listens, non-blocking. A socket file left by a process that is gone is replaced; one a live
  // server answers on is not. The bind happens inside the 0700 directory, so nobody else can
  // reach the file between bind() and chmod(); the process umask is left alone (it is shared
  // by every thread). Opening is atomic per path: concurrent open()s of one path, from threads
  // or processes, hold an exclusive flock() on the directory from the stale check to listen(),
  // so exactly one succeeds and the others get already_running (close() takes the same lock).
  // The listener keeps a descriptor of the directory while it is open.
  // Returns: ok; invalid_argument (empty name, a '/' in it, a path longer than
  // k_local_path_bytes, something other than a socket at the path); already_running (a live
  // server answers there, or this listener is open); make_private_directory's errors;
  // resource_exhausted / platform_error (value = errno).
  [[nodiscard]] result<void> open(const char* directory, const char* name) noexcept;
  // Closes the socket and removes its file (if it is still the one bound here). Idempotent.
  void close() noexcept;

  [[nodiscard]] bool is_open() const noexcept { return m_fd >= 0; }
  [[nodiscard]] int native() const noexcept { return m_fd; }
  // The socket file's path ("" when closed).
  [[nodiscard]] const char* path() const noexcept { return m_path; }

  // Takes one pending connection with its credentials. Returns: the connection (fd < 0 when
  // none is pending); resource_exhausted (value = errno: out of descriptors or memory - the
  // connection stays queued); platform_error (value = errno).
  [[nodiscard]] result<accepted_peer> accept() const noexcept;

 private:
  int m_fd{-1};
  int m_dir{-1};              // the socket's directory, locked by open() and close()
  std::uint64_t m_device{0};  // the bound file's identity: close() removes only that file
  std::uint64_t m_inode{0};
  char m_path[k_local_path_bytes + 1]{};
};

// Connects to the stream socket at `path` (blocking; close-on-exec). For clients and tests.
// Returns: the descriptor (close it with close_fd()); invalid_argument (path too long);
// permission_denied / platform_error (value = errno: ENOENT, ECONNREFUSED, EACCES...).
[[nodiscard]] result<int> local_connect(const char* path) noexcept;
// Connects like local_connect(path), but no blocking call on the descriptor waits longer than
// `timeout` (a positive duration, rounded up to a microsecond): connect() (a server whose queue
// is full), every read() and every write() (SO_RCVTIMEO / SO_SNDTIMEO) then fail with EAGAIN.
// Returns: the descriptor; invalid_argument (path too long, timeout not positive); timeout
// (connect waited `timeout`); permission_denied / platform_error (value = errno).
[[nodiscard]] result<int> local_connect(const char* path, duration timeout) noexcept;

// What one read_some() / write_some() did.
struct io_transfer {
  std::size_t bytes{0};
  bool would_block{false};  // nothing now (non-blocking descriptor); try after the next wait
  bool closed{false};       // read: the peer closed its end; write: the peer is gone
};
// Reads what is there, up to `size` bytes (EINTR retried). Returns: the transfer; io_error
// (value = errno).
[[nodiscard]] result<io_transfer> read_some(int fd, char* data, std::size_t size) noexcept;
// Writes what fits, up to `size` bytes, without SIGPIPE (EINTR retried). Returns: the transfer
// (closed when the peer is gone); io_error (value = errno).
[[nodiscard]] result<io_transfer> write_some(int fd, const char* data, std::size_t size) noexcept;
// Closes a descriptor from accept() or local_connect(). Negative: nothing to do.
void close_fd(int fd) noexcept;
// True when the peer of a connected stream socket has closed and nothing is left to read (a
// non-blocking peek sees end of file); never blocks, never consumes data.
[[nodiscard]] bool peer_hung_up(int fd) noexcept;

}  // namespace steward::platform
