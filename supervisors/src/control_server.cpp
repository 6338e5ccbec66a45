// The control server: lines in, lines out, over the platform's local stream socket. Each client
// has a fixed input buffer of one request line and a reply buffer that holds one whole snapshot;
// a client's next request is read only once its last reply has been written out, so a client
// that stops reading stops being served (its data stays in the kernel's socket buffer) and
// costs the server nothing. Everything the server keeps is in the object.
#include "steward/supervisors/control_server.hpp"

#include <cstdio>

#include "steward/platform/clock.hpp"
#include "steward/supervisors/reports.hpp"

namespace steward {
namespace {

bool is_blank(char c) noexcept {
  return c == ' ' || c == '\t';
}

bool same_word(const char* text, std::size_t length, const char* word) noexcept {
  std::size_t i = 0;
  for (; i < length; ++i) {
    if (word[i] == '\0' || word[i] != text[i]) return false;
  }
  return word[i] == '\0';
}

// Writes with snprintf semantics into out[at..capacity); returns the new length, never past
// capacity - 1 (a cut reply stays terminated).
std::size_t advance(std::size_t at, int written, std::size_t capacity) noexcept {
  if (written < 0 || capacity == 0) return at;
  const std::size_t end = at + static_cast<std::size_t>(written);
  return end < capacity ? end : capacity - 1;
}

std::uint64_t to_ns(duration d) noexcept {
  return d.count() > 0 ? static_cast<std::uint64_t>(d.count()) : 0;
}

const char* kind_word(child_kind k) noexcept {
  return k == child_kind::supervisor ? "supervisor" : "worker";
}

// Copies `text` into out[0, capacity), terminated, with bytes outside printable ASCII and spaces
// written as '?': a name can then neither end a reply line nor add a field to it.
void copy_printable(const char* text, char* out, std::size_t capacity) noexcept {
  std::size_t i = 0;
  for (; text != nullptr && i + 1 < capacity && text[i] != '\0'; ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    out[i] = (b > 0x20 && b < 0x7f) ? text[i] : '?';
  }
  out[i] = '\0';
}

void count(std::atomic<std::uint64_t>& counter) noexcept {
  counter.fetch_add(1, std::memory_order_relaxed);  // statistics only: no ordering needed
}

// Closes a client's connection and frees its slot.
void drop(detail::control_client& c) noexcept {
  if (c.fd < 0) return;
  platform::close_fd(c.fd);
  c.fd = -1;
  c.in_used = 0;
  c.out_used = 0;
  c.out_sent = 0;
  c.discarding = false;
  c.closing = false;
}

}  // namespace

const char* to_string(control_verb v) noexcept {
  switch (v) {
    case control_verb::hello:
      return "hello";
    case control_verb::snapshot:
      return "snapshot";
    case control_verb::pause:
      return "pause";
    case control_verb::resume:
      return "resume";
    case control_verb::stop:
      return "stop";
    case control_verb::restart:
      return "restart";
  }
  return "unknown";
}

result<control_request> parse_control_request(const char* line, std::size_t length) noexcept {
  if (line == nullptr) return fail(errc::invalid_argument, control_word::bad_request);
  if (length >= k_control_line_bytes)
    return fail(errc::capacity_exceeded, control_word::too_long, static_cast<std::int32_t>(length));
  if (length > 0 && line[length - 1] == '\r') --length;
  for (std::size_t i = 0; i < length; ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    if ((c < 0x20 && c != '\t') || c > 0x7e) return fail(errc::invalid_argument, control_word::bad_request);
  }
  // Split into at most two words; a third (or a separator run) is refused.
  const char* words[2]{};
  std::size_t lengths[2]{};
  std::size_t count = 0;
  std::size_t i = 0;
  while (i < length) {
    if (count == 2) return fail(errc::invalid_argument, control_word::bad_request);
    const std::size_t start = i;
    while (i < length && !is_blank(line[i])) ++i;
    if (i == start)
      return fail(errc::invalid_argument, control_word::bad_request);  // leading or doubled blank
    words[count] = line + start;
    lengths[count] = i - start;
    ++count;
    if (i < length) {
      ++i;                                                                              // one separator
      if (i == length) return fail(errc::invalid_argument, control_word::bad_request);  // trailing blank
    }
  }
  if (count == 0) return fail(errc::invalid_argument, control_word::bad_request);

  control_request r;
  const char* verb = words[0];
  const std::size_t verb_length = lengths[0];
  if (same_word(verb, verb_length, "snapshot")) {
    if (count != 1) return fail(errc::invalid_argument, control_word::bad_request);
    r.verb = control_verb::snapshot;
    return r;
  }
  if (same_word(verb, verb_length, "hello")) {
    if (count != 2) return fail(errc::invalid_argument, control_word::bad_request);
    // Any decimal number is a version; one too large to hold is reported as INT32_MAX.
    constexpr std::uint64_t k_largest = 0x7fffffff;
    std::uint64_t v = 0;
    for (std::size_t k = 0; k < lengths[1]; ++k) {
      const char c = words[1][k];
      if (c < '0' || c > '9') return fail(errc::invalid_argument, control_word::bad_request);
      v = v * 10 + static_cast<std::uint64_t>(c - '0');
      if (v > k_largest) v = k_largest;
    }
    if (v != k_control_protocol_version) {
      return fail(errc::invalid_argument, control_word::unsupported_version, static_cast<std::int32_t>(v));
    }
    r.verb = control_verb::hello;
    r.version = static_cast<std::uint32_t>(v);
    return r;
  }
  const control_verb with_path[] = {control_verb::pause, control_verb::resume, control_verb::stop,
                                    control_verb::restart};
  for (const control_verb v : with_path) {
    if (!same_word(verb, verb_length, to_string(v))) continue;
    if (count != 2) return fail(errc::invalid_argument, control_word::bad_request);
    r.verb = v;
    r.path = words[1];
    r.path_length = lengths[1];
    return r;
  }
  return fail(errc::invalid_argument, control_word::bad_request);
}

std::size_t format_control_error(const error& e, char* out, std::size_t capacity) noexcept {
  if (capacity == 0) return 0;
  // The protocol's own refusals carry their word as the subject; the tree's errors name a child.
  struct refusal {
    const char* word;
    const char* text;
  };
  static constexpr refusal k_refusals[] = {
      {control_word::bad_request,
       "requests are: hello <version> | snapshot | pause|resume|stop|restart <path>"},
      {control_word::read_only, "control is not enabled by the application"},
      {control_word::rate_limited, "too many requests; wait for the next interval"},
      {control_word::not_found, "no child has that path"},
      {control_word::not_a_subtree, "pause and resume take a supervisor's path"},
      {control_word::root, "the root stops with the application, not from here"},
  };
  int n = 0;
  const char* subject = e.subject;
  const refusal* known = nullptr;
  for (const refusal& r : k_refusals) {
    if (subject == r.word) known = &r;
  }
  if (known != nullptr) {
    n = std::snprintf(out, capacity, "err %s %s\n", known->word, known->text);
  } else if (subject == control_word::too_long) {
    n = std::snprintf(out, capacity, "err too_long a request line holds at most %zu bytes\n",
                      k_control_line_bytes - 1);
  } else if (subject == control_word::unsupported_version) {
    n = std::snprintf(out, capacity, "err unsupported_version asked %d, this server speaks %u\n",
                      static_cast<int>(e.value), k_control_protocol_version);
  } else {
    n = std::snprintf(out, capacity, "err %s %s: %s\n", errc_name(e.code), subject != nullptr ? subject : "-",
                      describe(e.code));
  }
  return advance(0, n, capacity);
}

std::size_t format_child_line(const child_snapshot& c, char* out, std::size_t capacity) noexcept {
  if (capacity == 0) return 0;
  char path[sizeof c.path];
  copy_printable(c.path, path, sizeof path);
  char flags[64];
  std::size_t f = 0;
  auto flag = [&](bool on, const char* word) {
    if (!on) return;
    const int n = std::snprintf(flags + f, sizeof flags - f, "%s%s", f == 0 ? "" : ",", word);
    f = advance(f, n, sizeof flags);
  };
  flag(c.has_exited, "exited");
  flag(c.quarantined, "quarantined");
  flag(c.restart_pending, "restart_pending");
  flag(c.unresponsive, "unresponsive");
  flag(c.path_cut, "path_cut");
  if (f == 0) flags[f++] = '-';
  flags[f] = '\0';
  const bool failed_once = c.has_exited && is_failure(c.last_reason);
  const int n = std::snprintf(
      out, capacity,
      "child path=%s kind=%s state=%s generation=%u restarts=%u reason=%s error=%s flags=%s in_state_ns=%llu "
      "parked_ns=%llu pause_ack_ns=%llu\n",
      path, kind_word(c.kind), to_string(c.state), c.generation, c.restarts,
      c.has_exited ? to_string(c.last_reason) : "-", failed_once ? errc_name(c.last_error.code) : "-", flags,
      static_cast<unsigned long long>(to_ns(c.time_in_state)),
      static_cast<unsigned long long>(to_ns(c.time_parked)),
      static_cast<unsigned long long>(to_ns(c.last_pause_ack)));
  std::size_t at = advance(0, n, capacity);
  if (c.has_pool && at > 0 && out[at - 1] == '\n') {
    const pool_counters& p = c.pool;
    const int more = std::snprintf(
        out + at - 1, capacity - (at - 1),
        " pool_queued=%llu pool_running=%llu pool_completed=%llu pool_failed=%llu pool_cancelled=%llu "
        "pool_stopped=%llu pool_high_water=%llu\n",
        static_cast<unsigned long long>(p.queued), static_cast<unsigned long long>(p.running),
        static_cast<unsigned long long>(p.completed), static_cast<unsigned long long>(p.failed),
        static_cast<unsigned long long>(p.cancelled), static_cast<unsigned long long>(p.stopped),
        static_cast<unsigned long long>(p.queue_high_water));
    at = advance(at - 1, more, capacity);
  }
  return at;
}

bool control_field(const char* line, const char* key, char* out, std::size_t capacity) noexcept {
  if (line == nullptr || key == nullptr || out == nullptr || capacity == 0) return false;
  std::size_t key_length = 0;
  while (key[key_length] != '\0') ++key_length;
  for (const char* p = line; *p != '\0' && *p != '\n'; ++p) {
    const bool at_word = p == line || p[-1] == ' ';
    if (!at_word) continue;
    std::size_t k = 0;
    while (k < key_length && p[k] == key[k]) ++k;
    if (k != key_length || p[k] != '=') continue;
    const char* v = p + k + 1;
    std::size_t n = 0;
    for (; v[n] != '\0' && v[n] != ' ' && v[n] != '\n' && n + 1 < capacity; ++n) out[n] = v[n];
    out[n] = '\0';
    return true;
  }
  return false;
}

bool control_number(const char* line, const char* key, std::uint64_t& out) noexcept {
  char text[24];
  if (!control_field(line, key, text, sizeof text) || text[0] == '\0') return false;
  std::uint64_t v = 0;
  for (const char* p = text; *p != '\0'; ++p) {
    if (*p < '0' || *p > '9') return false;
    const auto digit = static_cast<std::uint64_t>(*p - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  out = v;
  return true;
}

// ---------------------------------------------------------------- the server

control_server_base::control_server_base(tree_base& tree, const control_options& options,
                                         child_snapshot* records, std::size_t record_capacity,
                                         detail::control_client* clients, std::size_t client_capacity,
                                         char* replies, std::size_t reply_bytes) noexcept
    : m_tree(tree),
      m_options(options),
      m_records(records),
      m_record_capacity(record_capacity),
      m_clients(clients),
      m_client_capacity(client_capacity),
      m_replies(replies),
      m_reply_bytes(reply_bytes) {
  // Only addresses are kept here: the derived class's arrays are initialised after this runs.
  if (m_options.burst == 0) m_options.burst = 1;
}

char* control_server_base::out_of(const detail::control_client& c) const noexcept {
  return m_replies + static_cast<std::size_t>(&c - m_clients) * m_reply_bytes;
}

result<void> control_server_base::open(const char* directory, const char* name) noexcept {
  return m_listener.open(directory, name);
}

control_stats control_server_base::stats() const noexcept {
  control_stats out;
  out.accepted = m_stats.accepted.load(std::memory_order_relaxed);
  out.refused_peer = m_stats.refused_peer.load(std::memory_order_relaxed);
  out.refused_busy = m_stats.refused_busy.load(std::memory_order_relaxed);
  out.requests = m_stats.requests.load(std::memory_order_relaxed);
  out.errors = m_stats.errors.load(std::memory_order_relaxed);
  out.commands = m_stats.commands.load(std::memory_order_relaxed);
  return out;
}

void control_server_base::close() noexcept {
  for (std::size_t i = 0; i < m_client_capacity; ++i) drop(m_clients[i]);
  m_listener.close();
}

std::size_t control_server_base::clients() const noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < m_client_capacity; ++i) n += m_clients[i].fd >= 0 ? 1 : 0;
  return n;
}

std::size_t control_server_base::answer_snapshot(char* out, std::size_t capacity) noexcept {
  const tree_state state = m_tree.state();
  auto count = m_tree.snapshot(m_records, m_record_capacity);
  if (!count) return format_control_error(count.error(), out, capacity);
  char root[sizeof m_records[0].path];
  copy_printable(m_tree.root().name(), root, sizeof root);
  std::size_t at = advance(0,
                           std::snprintf(out, capacity, "ok snapshot tree=%s root=%s children=%zu\n",
                                         to_string(state), root, *count),
                           capacity);
  for (std::size_t i = 0; i < *count; ++i) at += format_child_line(m_records[i], out + at, capacity - at);
  at = advance(at, std::snprintf(out + at, capacity - at, "end\n"), capacity);
  return at;
}

result<void> control_server_base::execute(const control_request& r) noexcept {
  if (!m_options.allow_control) return fail(errc::permission_denied, control_word::read_only);
  auto found = m_tree.locate(r.path, r.path_length);
  if (!found) return fail(errc::invalid_argument, control_word::not_found);
  const child_location at = *found;
  // pause, stop and restart may wait (a pause timeout, a shutdown deadline): the poll that ran
  // one ends after it, so serve() reaches its safe point between any two such waits.
  m_waited = r.verb != control_verb::resume;
  switch (r.verb) {
    case control_verb::pause:
      if (at.supervisor == nullptr) return fail(errc::invalid_argument, control_word::not_a_subtree);
      return m_tree.pause(*at.supervisor, m_options.pause_timeout);
    case control_verb::resume:
      if (at.supervisor == nullptr) return fail(errc::invalid_argument, control_word::not_a_subtree);
      return m_tree.resume(*at.supervisor);
    case control_verb::stop:
      if (at.parent == nullptr) return fail(errc::invalid_argument, control_word::root);
      return m_tree.terminate_child(*at.parent, at.id);
    case control_verb::restart: {
      if (at.parent == nullptr) return fail(errc::invalid_argument, control_word::root);
      // One tree operation: checked before anything is stopped, with no pause in between.
      return m_tree.cycle_child(*at.parent, at.id);
    }
    case control_verb::hello:
    case control_verb::snapshot:
      break;
  }
  return fail(errc::invalid_argument, control_word::bad_request);
}

std::size_t control_server_base::answer(const char* line, std::size_t length, char* out,
                                        std::size_t capacity) noexcept {
  if (capacity == 0) return 0;
  out[0] = '\0';
  auto parsed = parse_control_request(line, length);
  if (!parsed) {
    count(m_stats.errors);
    return format_control_error(parsed.error(), out, capacity);
  }
  const control_request& r = *parsed;
  switch (r.verb) {
    case control_verb::hello:
      return advance(0,
                     std::snprintf(out, capacity, "ok hello %u %s\n", k_control_protocol_version,
                                   m_options.allow_control ? "control" : "read-only"),
                     capacity);
    case control_verb::snapshot:
      return answer_snapshot(out, capacity);
    case control_verb::pause:
    case control_verb::resume:
    case control_verb::stop:
    case control_verb::restart:
      break;
  }
  auto done = execute(r);
  if (!done) {
    count(m_stats.errors);
    return format_control_error(done.error(), out, capacity);
  }
  count(m_stats.commands);
  return advance(0,
                 std::snprintf(out, capacity, "ok %s %.*s\n", to_string(r.verb),
                               static_cast<int>(r.path_length), r.path),
                 capacity);
}

bool control_server_base::flush(detail::control_client& c) noexcept {
  while (c.out_sent < c.out_used) {
    auto wrote = platform::write_some(c.fd, out_of(c) + c.out_sent, c.out_used - c.out_sent);
    if (!wrote || wrote->closed) return false;
    if (wrote->would_block) return true;  // the rest after the next writable wait
    c.out_sent += wrote->bytes;
  }
  c.out_used = 0;
  c.out_sent = 0;
  return true;
}

void control_server_base::reply(detail::control_client& c, const char* line, std::size_t length) noexcept {
  const std::size_t n = answer(line, length, out_of(c), m_reply_bytes);
  c.out_used = n;
  c.out_sent = 0;
}

// Handles the line in[0, end) and removes it, with its '\n', from the input buffer.
void control_server_base::take_line(detail::control_client& c, std::size_t end, time_point now) noexcept {
  if (c.discarding) {
    c.discarding = false;  // the tail of an oversized line, already answered
  } else {
    count(m_stats.requests);
    if (c.limiter.check(now).allowed) {
      reply(c, c.in, end);
    } else {
      count(m_stats.errors);
      c.out_used = format_control_error(error{errc::resource_exhausted, 0, control_word::rate_limited},
                                        out_of(c), m_reply_bytes);
      c.out_sent = 0;
    }
  }
  const std::size_t rest = c.in_used - (end + 1);
  for (std::size_t i = 0; i < rest; ++i) c.in[i] = c.in[end + 1 + i];
  c.in_used = rest;
}

void control_server_base::service(detail::control_client& c, time_point now) noexcept {
  for (std::size_t served = 0; served < k_control_requests_per_poll;) {
    if (!flush(c)) {
      drop(c);
      return;
    }
    if (c.out_used != 0) return;  // its last reply is not out yet: read nothing more now
    std::size_t end = 0;
    while (end < c.in_used && c.in[end] != '\n') ++end;
    if (end < c.in_used) {
      take_line(c, end, now);
      ++served;
      if (m_waited) {  // its answer now, the rest after serve()'s safe point
        if (!flush(c)) drop(c);
        break;
      }
      continue;
    }
    if (c.in_used == sizeof c.in) {
      // A line longer than a request may be: answered once, then skipped up to its newline.
      if (!c.discarding) {
        count(m_stats.requests);
        count(m_stats.errors);
        c.out_used = format_control_error(error{errc::capacity_exceeded, 0, control_word::too_long},
                                          out_of(c), m_reply_bytes);
        c.out_sent = 0;
        c.discarding = true;
      }
      c.in_used = 0;
      ++served;  // each skipped buffer counts: a line without end must not hold the server
      continue;
    }
    if (c.closing) {
      drop(c);  // everything it sent has been answered (a last line without '\n' is not a request)
      return;
    }
    auto got = platform::read_some(c.fd, c.in + c.in_used, sizeof c.in - c.in_used);
    if (!got) {
      drop(c);
      return;
    }
    if (got->would_block) return;
    if (got->closed) {
      c.closing = true;
      continue;
    }
    c.in_used += got->bytes;
  }
  m_backlog = true;  // served its share (or ran a command that waited); the rest next time
}

result<void> control_server_base::accept_pending() noexcept {
  for (;;) {
    auto taken = m_listener.accept();
    if (!taken) return fail(taken.error());
    const platform::accepted_peer peer = *taken;
    if (peer.fd < 0) return {};
    const std::uint32_t allowed = m_options.allowed_uid < 0
                                      ? platform::effective_uid()
                                      : static_cast<std::uint32_t>(m_options.allowed_uid);
    char line[96];
    if (peer.peer.uid != allowed) {
      // Told why, best effort (one non-blocking write into an empty socket buffer), and closed.
      count(m_stats.refused_peer);
      const int n =
          std::snprintf(line, sizeof line, "err refused uid %u is not allowed here\n", peer.peer.uid);
      static_cast<void>(platform::write_some(peer.fd, line, advance(0, n, sizeof line)));
      platform::close_fd(peer.fd);
      continue;
    }
    detail::control_client* free_slot = nullptr;
    for (std::size_t i = 0; i < m_client_capacity && free_slot == nullptr; ++i) {
      if (m_clients[i].fd < 0) free_slot = &m_clients[i];
    }
    // Full: a client that has hung up since the last service pass gives its slot back first,
    // so `busy` means as many live clients as MaxClients, not a pass that has not run yet.
    for (std::size_t i = 0; i < m_client_capacity && free_slot == nullptr; ++i) {
      if (platform::peer_hung_up(m_clients[i].fd)) {
        drop(m_clients[i]);
        free_slot = &m_clients[i];
      }
    }
    if (free_slot == nullptr) {
      count(m_stats.refused_busy);
      const int n =
          std::snprintf(line, sizeof line, "err busy at most %zu clients at once\n", m_client_capacity);
      static_cast<void>(platform::write_some(peer.fd, line, advance(0, n, sizeof line)));
      platform::close_fd(peer.fd);
      continue;
    }
    count(m_stats.accepted);
    detail::control_client& c = *free_slot;
    c.fd = peer.fd;
    c.limiter = rate_limiter(m_options.burst, m_options.interval);
    c.out_used =
        advance(0,
                std::snprintf(out_of(c), m_reply_bytes, "steward-control %u %s\n", k_control_protocol_version,
                              m_options.allow_control ? "control" : "read-only"),
                m_reply_bytes);
    c.out_sent = 0;
    if (!flush(c)) drop(c);
  }
}

result<void> control_server_base::poll(time_point now) noexcept {
  if (!m_listener.is_open()) return fail(errc::not_running, "control socket");
  m_backlog = false;
  m_waited = false;
  // Clients first: one that has hung up frees its slot for a connection accepted below. After
  // a command that waited, the others are served on the next poll, which starts after this
  // client, so that one client's commands cannot starve the rest.
  for (std::size_t k = 0; k < m_client_capacity; ++k) {
    const std::size_t i = (m_first_client + k) % m_client_capacity;
    if (m_clients[i].fd >= 0) service(m_clients[i], now);
    if (m_waited) {
      m_first_client = (i + 1) % m_client_capacity;
      m_backlog = true;
      break;
    }
  }
  return accept_pending();
}

result<void> control_server_base::serve(worker_context& ctx) noexcept {
  for (;;) {
    auto now = platform::monotonic_now();
    if (!now) return fail(now.error());
    STEWARD_TRY(poll(*now));
    wait_source sources[k_max_wait_sources] = {wait_source::readable(-1), wait_source::readable(-1),
                                               wait_source::readable(-1), wait_source::readable(-1),
                                               wait_source::readable(-1), wait_source::readable(-1),
                                               wait_source::readable(-1), wait_source::readable(-1)};
    std::size_t count = 0;
    sources[count++] = wait_source::readable(m_listener.native());
    for (std::size_t i = 0; i < m_client_capacity; ++i) {
      const detail::control_client& c = m_clients[i];
      if (c.fd < 0) continue;
      sources[count++] = c.out_used != 0 ? wait_source::writable(c.fd) : wait_source::readable(c.fd);
    }
    // Lines left over from a busy client: look again at once (still a safe point).
    const time_point deadline = m_backlog ? *now : never;
    auto woke = ctx.wait_any(sources, count, deadline);
    if (woke || woke.error() == errc::timeout) continue;
    if (woke.error() != errc::io_error) return fail(woke.error());
    // A client's descriptor in error (POLLERR): drop it; the listener's is the server's error.
    bool dropped = false;
    for (std::size_t i = 0; i < m_client_capacity; ++i) {
      if (m_clients[i].fd >= 0 && m_clients[i].fd == woke.error().value) {
        drop(m_clients[i]);
        dropped = true;
      }
    }
    if (!dropped) return fail(woke.error());
  }
}

}  // namespace steward
