#!/usr/bin/env bash
# steward-top in a real terminal: tmux runs the demo (--watch) in one window and steward-top in
# another; keys sent with send-keys pause and resume the acquisition subtree, and capture-pane
# must show it paused, then running. Then a second steward-top watches while the demo stops: it
# must exit with status 1 and a message (not die of SIGPIPE) and leave the terminal restored
# (main screen back). Skipped (exit 77) when tmux is not installed.
# Usage: test_top_tmux.sh STEWARD_DEMO STEWARD_TOP
# The screen is the only acknowledgement a terminal gives, so each step polls capture-pane,
# bounded by a 30 s watchdog (a hang fails the test; no step relies on a fixed delay).
set -euo pipefail
demo=$1
top=$2
if ! command -v tmux >/dev/null 2>&1; then
  echo "SKIPPED: tmux is not installed (scripts/deps.sh --tmux installs it)"
  exit 77
fi
work=$(mktemp -d /tmp/steward-tmux-XXXXXX)
tm=(tmux -S "$work/tmux.sock" -f /dev/null)  # a private tmux server, no user configuration
cleanup() {
  "${tm[@]}" kill-server >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# until NAME TARGET PATTERN: waits until the pane shows a line matching PATTERN (grep -E).
until_shown() {
  local what=$1 target=$2 pattern=$3 i
  for ((i = 0; i < 300; i++)); do
    if "${tm[@]}" capture-pane -p -t "$target" 2>/dev/null | grep -Eq -- "$pattern"; then
      echo "ok: $what"
      return 0
    fi
    sleep 0.1
  done
  echo "FAILED: $what (no line matching '$pattern'); the pane shows:"
  "${tm[@]}" capture-pane -p -t "$target" || true
  echo "demo output:"
  cat "$work/demo.out" 2>/dev/null || true
  return 1
}

"${tm[@]}" new-session -d -s steward -x 160 -y 30 -n demo \
  "'$demo' --watch --faults 0 --socket '$work/ctl' '$work/demo.log' 2>&1 | tee -i '$work/demo.out'"
until_shown "the demo opened its control socket" steward:demo "control socket .*/ctl/control"
"${tm[@]}" new-window -t steward -n top "'$top' '$work/ctl/control'"
until_shown "steward-top shows the tree running" steward:top "^root/acquisition/ +running"
until_shown "steward-top shows every worker" steward:top "^root/logger +running"

# The first line (root/acquisition) is selected; p pauses that subtree.
"${tm[@]}" send-keys -t steward:top p
until_shown "the pause was acknowledged" steward:top "^ok pause root/acquisition"
until_shown "the subtree shows paused" steward:top "^root/acquisition/ +paused"
until_shown "the sampler shows paused" steward:top "^root/acquisition/sampler +paused"
until_shown "the filter shows paused" steward:top "^root/acquisition/filter +paused"
until_shown "the logger was not paused" steward:top "^root/logger +running"
until_shown "the pause acknowledgement time is shown" steward:top "^root/acquisition/sampler +paused .*[0-9.]+(us|ms|s)$"

"${tm[@]}" send-keys -t steward:top r
until_shown "the resume was done" steward:top "^ok resume root/acquisition"
until_shown "the subtree runs again" steward:top "^root/acquisition/sampler +running"

# Down twice selects the filter; R restarts it (a new generation).
"${tm[@]}" send-keys -t steward:top j j R
until_shown "the restart was done" steward:top "^ok restart root/acquisition/filter"
until_shown "the filter runs its second generation" steward:top "^root/acquisition/filter +running +2 "

"${tm[@]}" send-keys -t steward:top q

# A second view, kept on screen after it exits (remain-on-exit), watches the server go away.
"${tm[@]}" new-window -d -t steward -n watch
"${tm[@]}" set-option -w -t steward:watch remain-on-exit on
"${tm[@]}" respawn-pane -k -t steward:watch \
  "'$top' '$work/ctl/control' 2>'$work/watch.err'; echo \$? >'$work/watch.rc.tmp'; mv '$work/watch.rc.tmp' '$work/watch.rc'"
until_shown "the second steward-top shows the tree" steward:watch "^root/logger +running"
"${tm[@]}" send-keys -t steward:demo C-c
# The shell around it records the exit status (141 would be SIGPIPE) and its message goes to a
# file (tmux draws "Pane is dead" over a dead pane's last line); tmux's alternate_on tells
# whether the main screen is back.
for ((i = 0; i < 300; i++)); do
  [[ -e $work/watch.rc ]] && break
  sleep 0.1
done
ended="status $(cat "$work/watch.rc" 2>/dev/null) alternate $("${tm[@]}" display-message -p -t steward:watch '#{alternate_on}')"
if [[ $ended != "status 1 alternate 0" ]]; then
  echo "FAILED: steward-top did not exit with status 1 on the main screen ($ended)"
  "${tm[@]}" capture-pane -p -t steward:watch || true
  exit 1
fi
if [[ $(cat "$work/watch.err") != "steward-top: the server closed the connection" ]]; then
  echo "FAILED: steward-top's message when the server went away:"
  cat "$work/watch.err"
  exit 1
fi
echo "ok: steward-top exited with status 1 and restored the terminal when the server went away"
# The demo's window closes with it: its output went to demo.out as well.
for ((i = 0; i < 300; i++)); do
  grep -q "^DEMO OK" "$work/demo.out" 2>/dev/null && break
  sleep 0.1
done
if ! grep -q "^DEMO OK" "$work/demo.out"; then
  echo "FAILED: the demo did not stop cleanly:"
  cat "$work/demo.out"
  exit 1
fi
echo "ok: the demo stopped cleanly (every resource released)"
echo "steward-top tmux test passed"
