#!/usr/bin/env python3
"""Seeded mutants of the core for the simulation (scripts/sim.sh).

Each mutant replaces one exact piece of text in one file, which must occur exactly once: when
the code moves on, the script fails instead of testing an unmutated copy.
Usage: sim-mutants.py --list | sim-mutants.py --file NAME | sim-mutants.py NAME TREE
"""
import sys

WORKER = "core/src/worker.cpp"
POOL = "core/src/pool.cpp"

MUTANTS = {
    # stop() on a paused or sleeping worker does not wake it.
    "STOP_NO_UNPARK": (
        WORKER,
        "    wake_worker();\n    wake_controllers();  // pause() callers still waiting get stopping",
        "    wake_controllers();  // pause() callers still waiting get stopping",
    ),
    # A handle of an ended incarnation acts on the current one.
    "STALE_GEN": (
        WORKER,
        "  if (gen != current) return fail(errc::stale_handle, name());\n",
        "",
    ),
    # A stopped incarnation skips its cleanup.
    "CLEANUP_SKIPPED_ON_STOP": (
        WORKER,
        "  report.cleanup = m_cleanup.unwind();",
        "  if (report.reason != exit_reason::stopped) report.cleanup = m_cleanup.unwind();",
    ),
    # Issue 7 bug 1 as it was: enter() treats every state but starting/pausing as "stop won",
    # so starting -> pausing -> running (a pause withdrawn before the body) never runs the body.
    "BUG_CANCELLED_PAUSE": (
        WORKER,
        "    if (row->to == worker_state::stopping || stop_flag_of(ctrl)) return false;",
        "    if ((state_of(ctrl) != worker_state::starting && state_of(ctrl) != worker_state::pausing) ||\n"
        "        stop_flag_of(ctrl))\n      return false;",
    ),
    # The break-it review's bug as it was: resume() not ordered against pause() posting its
    # requests, so it withdraws only those already posted.
    "POOL_RESUME_UNORDERED": (
        POOL,
        "  if (current_phase() != phase::open) return fail(errc::stopping, \"pool\");\n"
        "  platform::lock_guard lock(m_control);\n",
        "  if (current_phase() != phase::open) return fail(errc::stopping, \"pool\");\n",
    ),
}


def main() -> int:
    if sys.argv[1:] == ["--list"]:
        print("\n".join(MUTANTS))
        return 0
    if sys.argv[1] == "--file":
        print(MUTANTS[sys.argv[2]][0])
        return 0
    name, tree = sys.argv[1], sys.argv[2]
    rel, old, new = MUTANTS[name]
    path = f"{tree}/{rel}"
    text = open(path).read()
    if text.count(old) != 1:
        return 1
    open(path, "w").write(text.replace(old, new))
    return 0


if __name__ == "__main__":
    sys.exit(main())
