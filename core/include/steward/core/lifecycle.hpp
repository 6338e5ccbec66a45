// The worker lifecycle: one transition table, read as `state + event [guard] / action = next`.
// worker.cpp takes every state change from lifecycle_next(); docs/lifecycle.md is generated
// from the same table and a test checks that the two agree.
#pragma once

#include <cstddef>
#include <cstdint>

namespace steward {

enum class worker_state : std::uint8_t {
  idle,      // configured, never started
  starting,  // a new incarnation was handed to the thread; the body has not been entered
  running,   // body running
  pausing,   // pause requested, worker not yet at a safe point
  paused,    // worker parked at a safe point (acknowledged)
  stopping,  // stop requested or body returned; cleanup runs
  stopped,   // body and cleanup done, exit was clean (returned, or stopped on request)
  failed,    // body and cleanup done, exit was a failure (error, exception, failed release)
};

enum class lifecycle_event : std::uint8_t {
  start,             // controller: start() or a restart
  entered,           // worker thread reached its entry point
  initialised,       // worker: the body declared itself initialised (or reached its first safe point)
  pause_request,     // controller: pause()
  parked,            // worker reached a safe point and parked
  resume,            // controller: resume()
  stop_request,      // controller: stop()
  body_returned,     // worker: the body returned (any way)
  exited_clean,      // worker: cleanup done, exit clean
  exited_failed,     // worker: cleanup done, exit failed
  restart_in_place,  // worker: its restart decider asked for the next incarnation at once
};

struct lifecycle_transition {
  worker_state from;
  lifecycle_event event;
  worker_state to;
  const char* guard_action;  // for the documentation table
};

// clang-format off
inline constexpr lifecycle_transition lifecycle_table[] = {
  {worker_state::idle,     lifecycle_event::start,         worker_state::starting, "/ new generation, create the worker thread"},
  {worker_state::stopped,  lifecycle_event::start,         worker_state::starting, "/ new generation, empty cleanup stack, wake the idle thread"},
  {worker_state::failed,   lifecycle_event::start,         worker_state::starting, "/ new generation, empty cleanup stack, wake the idle thread"},
  {worker_state::starting, lifecycle_event::entered,       worker_state::running,  "/ run body"},
  {worker_state::starting, lifecycle_event::pause_request, worker_state::pausing,  "/ the body runs to its first safe point and parks there"},
  {worker_state::starting, lifecycle_event::resume,        worker_state::starting, "/ no-op"},
  {worker_state::starting, lifecycle_event::stop_request,  worker_state::stopping, "/ body never runs (stopped_before_start)"},
  {worker_state::running,  lifecycle_event::entered,       worker_state::running,  "/ run body (a pause posted before it was cancelled)"},
  {worker_state::running,  lifecycle_event::initialised,   worker_state::running,  "/ mark initialised, wake start waiters"},
  {worker_state::running,  lifecycle_event::pause_request, worker_state::pausing,  "/ wake any steward wait"},
  {worker_state::running,  lifecycle_event::resume,        worker_state::running,  "/ no-op"},
  {worker_state::running,  lifecycle_event::stop_request,  worker_state::stopping, "/ wake any steward wait"},
  {worker_state::running,  lifecycle_event::body_returned, worker_state::stopping, "/ run cleanup"},
  {worker_state::pausing,  lifecycle_event::entered,       worker_state::pausing,  "/ run body; it parks at its first safe point"},
  {worker_state::pausing,  lifecycle_event::initialised,   worker_state::pausing,  "/ mark initialised, wake start waiters"},
  {worker_state::pausing,  lifecycle_event::pause_request, worker_state::pausing,  "/ wait for the same acknowledgement"},
  {worker_state::pausing,  lifecycle_event::parked,        worker_state::paused,   "/ acknowledge to pause() callers"},
  {worker_state::pausing,  lifecycle_event::resume,        worker_state::running,  "/ cancel the pending pause"},
  {worker_state::pausing,  lifecycle_event::stop_request,  worker_state::stopping, "/ pause() callers get stopping"},
  {worker_state::pausing,  lifecycle_event::body_returned, worker_state::stopping, "/ pause() callers get exited; run cleanup"},
  {worker_state::paused,   lifecycle_event::resume,        worker_state::running,  "/ unpark"},
  {worker_state::paused,   lifecycle_event::stop_request,  worker_state::stopping, "/ unpark; the wait returns stop_requested"},
  {worker_state::stopping, lifecycle_event::entered,       worker_state::stopping, "[stop requested] / body never runs (stopped_before_start)"},
  {worker_state::stopping, lifecycle_event::initialised,   worker_state::stopping, "/ no effect: the incarnation is ending"},
  {worker_state::stopping, lifecycle_event::stop_request,  worker_state::stopping, "/ join the same stop"},
  {worker_state::stopping, lifecycle_event::body_returned, worker_state::stopping, "/ run cleanup"},
  {worker_state::stopping, lifecycle_event::exited_clean,  worker_state::stopped,  "/ publish exit report"},
  {worker_state::stopping, lifecycle_event::exited_failed, worker_state::failed,   "/ publish exit report"},
  {worker_state::stopping, lifecycle_event::restart_in_place, worker_state::starting, "[no stop requested when decided] / new generation, same thread (an async stop landing meanwhile makes it stopping: the body never runs)"},
  {worker_state::idle,     lifecycle_event::stop_request,  worker_state::idle,     "/ no-op"},
  {worker_state::stopped,  lifecycle_event::stop_request,  worker_state::stopped,  "/ no-op, returns the last exit report"},
  {worker_state::failed,   lifecycle_event::stop_request,  worker_state::failed,   "/ no-op, returns the last exit report"},
};
// clang-format on

inline constexpr std::size_t lifecycle_table_size = sizeof(lifecycle_table) / sizeof(lifecycle_table[0]);

// Looks up the table. Returns: the row for (from, event), or null if the event is not allowed
// in that state (the caller turns that into a typed error and changes nothing).
[[nodiscard]] constexpr const lifecycle_transition* lifecycle_next(worker_state from,
                                                                   lifecycle_event event) noexcept {
  for (const auto& row : lifecycle_table) {
    if (row.from == from && row.event == event) return &row;
  }
  return nullptr;
}

[[nodiscard]] constexpr const char* to_string(worker_state s) noexcept {
  switch (s) {
    case worker_state::idle:
      return "idle";
    case worker_state::starting:
      return "starting";
    case worker_state::running:
      return "running";
    case worker_state::pausing:
      return "pausing";
    case worker_state::paused:
      return "paused";
    case worker_state::stopping:
      return "stopping";
    case worker_state::stopped:
      return "stopped";
    case worker_state::failed:
      return "failed";
  }
  return "?";
}

[[nodiscard]] constexpr const char* to_string(lifecycle_event e) noexcept {
  switch (e) {
    case lifecycle_event::start:
      return "start";
    case lifecycle_event::entered:
      return "entered";
    case lifecycle_event::initialised:
      return "initialised";
    case lifecycle_event::pause_request:
      return "pause_request";
    case lifecycle_event::parked:
      return "parked";
    case lifecycle_event::resume:
      return "resume";
    case lifecycle_event::stop_request:
      return "stop_request";
    case lifecycle_event::body_returned:
      return "body_returned";
    case lifecycle_event::exited_clean:
      return "exited_clean";
    case lifecycle_event::exited_failed:
      return "exited_failed";
    case lifecycle_event::restart_in_place:
      return "restart_in_place";
  }
  return "?";
}

[[nodiscard]] constexpr bool is_terminal(worker_state s) noexcept {
  return s == worker_state::idle || s == worker_state::stopped || s == worker_state::failed;
}

}  // namespace steward
