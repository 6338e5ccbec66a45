// The lifecycle table: each row, each refused event, and the docs generated from it.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "steward/core/lifecycle.hpp"

using steward::lifecycle_event;
using steward::lifecycle_next;
using steward::worker_state;

namespace {
constexpr worker_state k_states[] = {worker_state::idle,    worker_state::starting, worker_state::running,
                                     worker_state::pausing, worker_state::paused,   worker_state::stopping,
                                     worker_state::stopped, worker_state::failed};
constexpr lifecycle_event k_events[] = {lifecycle_event::start,         lifecycle_event::entered,
                                        lifecycle_event::pause_request, lifecycle_event::parked,
                                        lifecycle_event::resume,        lifecycle_event::stop_request,
                                        lifecycle_event::body_returned, lifecycle_event::exited_clean,
                                        lifecycle_event::exited_failed, lifecycle_event::restart_in_place};

std::string render_row(const steward::lifecycle_transition& row) {
  return std::string("| ") + to_string(row.from) + " | " + to_string(row.event) + " | " + row.guard_action +
         " | " + to_string(row.to) + " |";
}
}  // namespace

TEST_CASE("lifecycle: every (state, event) pair has at most one row") {
  for (auto s : k_states) {
    for (auto e : k_events) {
      int rows = 0;
      for (const auto& row : steward::lifecycle_table) rows += (row.from == s && row.event == e) ? 1 : 0;
      CHECK_MESSAGE(rows <= 1, to_string(s), " + ", to_string(e));
    }
  }
}

TEST_CASE("lifecycle: stop is accepted in every state") {
  for (auto s : k_states) {
    CHECK_MESSAGE(lifecycle_next(s, lifecycle_event::stop_request) != nullptr, to_string(s));
  }
}

TEST_CASE("lifecycle: the rows that define pause, resume and stop") {
  struct expect {
    worker_state from;
    lifecycle_event event;
    worker_state to;
  };
  constexpr expect rows[] = {
      {worker_state::idle, lifecycle_event::start, worker_state::starting},
      {worker_state::stopped, lifecycle_event::start, worker_state::starting},
      {worker_state::failed, lifecycle_event::start, worker_state::starting},
      {worker_state::starting, lifecycle_event::entered, worker_state::running},
      {worker_state::starting, lifecycle_event::stop_request, worker_state::stopping},
      {worker_state::starting, lifecycle_event::pause_request, worker_state::pausing},
      {worker_state::running, lifecycle_event::pause_request, worker_state::pausing},
      {worker_state::pausing, lifecycle_event::parked, worker_state::paused},
      {worker_state::pausing, lifecycle_event::resume, worker_state::running},
      {worker_state::paused, lifecycle_event::resume, worker_state::running},
      {worker_state::running, lifecycle_event::resume, worker_state::running},
      {worker_state::paused, lifecycle_event::stop_request, worker_state::stopping},
      {worker_state::running, lifecycle_event::body_returned, worker_state::stopping},
      {worker_state::stopping, lifecycle_event::exited_clean, worker_state::stopped},
      {worker_state::stopping, lifecycle_event::exited_failed, worker_state::failed},
  };
  for (const auto& r : rows) {
    const auto* row = lifecycle_next(r.from, r.event);
    REQUIRE(row != nullptr);
    CHECK_MESSAGE(row->to == r.to, to_string(r.from), " + ", to_string(r.event));
  }
}

TEST_CASE("lifecycle: refused events have no row") {
  CHECK(lifecycle_next(worker_state::paused, lifecycle_event::pause_request) == nullptr);
  CHECK(lifecycle_next(worker_state::stopping, lifecycle_event::pause_request) == nullptr);
  CHECK(lifecycle_next(worker_state::stopping, lifecycle_event::resume) == nullptr);
  CHECK(lifecycle_next(worker_state::idle, lifecycle_event::pause_request) == nullptr);
  CHECK(lifecycle_next(worker_state::stopped, lifecycle_event::resume) == nullptr);
  CHECK(lifecycle_next(worker_state::running, lifecycle_event::start) == nullptr);
  CHECK(lifecycle_next(worker_state::stopping, lifecycle_event::start) == nullptr);
  CHECK(lifecycle_next(worker_state::paused, lifecycle_event::body_returned) == nullptr);
}

TEST_CASE("lifecycle: docs/lifecycle.md shows exactly the code's table") {
  std::ifstream in(STEWARD_SOURCE_DIR "/docs/lifecycle.md");
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  int table_lines = 0;  // rows of the transition table: after its header, up to a blank line
  bool in_table = false;
  std::istringstream lines(doc);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("| from | event |", 0) == 0) {
      in_table = true;
    } else if (in_table && line.empty()) {
      break;
    } else if (in_table && line.rfind("| ", 0) == 0) {
      ++table_lines;
    }
  }
  for (const auto& row : steward::lifecycle_table) {
    const std::string rendered = render_row(row);
    CHECK_MESSAGE(doc.find(rendered + "\n") != std::string::npos, "missing in docs: ", rendered);
  }
  CHECK(table_lines == static_cast<int>(steward::lifecycle_table_size));
}
