// Snapshot paths back to children: "root/acquisition/sampler" names the child `sampler` of the
// supervisor `acquisition`, itself a child of the root. Used by the control server
// (control_server.hpp) to turn a path an operator picked into the tree operation's arguments.
// Kept apart from supervisor.cpp: it only reads the tree's shape, under the state lock.
#include <cstddef>

#include "steward/supervisors/supervisor.hpp"

namespace steward {
namespace {

// True when the `length` bytes at `text` are exactly the string `name`.
bool same_name(const char* text, std::size_t length, const char* name) noexcept {
  std::size_t i = 0;
  for (; i < length; ++i) {
    if (name[i] == '\0' || name[i] != text[i]) return false;
  }
  return name[i] == '\0';
}

std::size_t segment_length(const char* text, std::size_t length) noexcept {
  std::size_t n = 0;
  while (n < length && text[n] != '/') ++n;
  return n;
}

}  // namespace

result<child_location> tree_base::locate(const char* path, std::size_t length) const noexcept {
  if (path == nullptr) return fail(errc::invalid_argument, m_root.name());
  std::size_t seg = segment_length(path, length);
  if (!same_name(path, seg, m_root.name())) return fail(errc::invalid_argument, m_root.name());
  child_location at;
  at.id = m_root.name();
  at.supervisor = &m_root;
  platform::lock_guard lock(m_state);  // delete_child() clears in_use under it
  while (seg < length) {
    // A '/' follows; the next segment names a child of the supervisor reached so far.
    if (at.supervisor == nullptr) return fail(errc::invalid_argument, m_root.name());  // a worker has none
    path += seg + 1;
    length -= seg + 1;
    seg = segment_length(path, length);
    supervisor_base& sup = *at.supervisor;
    const slot* found = nullptr;
    for (std::size_t i = 0; i < sup.m_count && found == nullptr; ++i) {
      const slot& s = sup.m_slots[i];
      if (s.in_use && same_name(path, seg, s.spec.id)) found = &s;
    }
    if (found == nullptr) return fail(errc::invalid_argument, m_root.name());
    at.parent = &sup;
    at.parent_paused = sup.m_paused;
    at.id = found->spec.id;
    at.supervisor = found->spec.supervisor;
  }
  return at;
}

}  // namespace steward
