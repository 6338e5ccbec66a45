#!/usr/bin/env bash
# Builds steward and runs the demo (a sampler, a filter and a logger under control).
# Usage: scripts/demo.sh [LOG_FILE]        the scripted run (exit code 0 if every check held)
#        scripts/demo.sh --watch           the live view: the demo with its control socket open
#                                          and steward-top attached (in tmux when it is installed;
#                                          otherwise the demo runs here and prints the command)
set -euo pipefail
cd "$(dirname "$0")/.."
watch=0
if [[ ${1:-} == --watch ]]; then
  watch=1
  shift
fi
scripts/deps.sh
cmake -S . -B build/demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTEWARD_BUILD_TESTS=OFF \
  -DSTEWARD_BUILD_BENCH=OFF >/dev/null
if ((watch == 0)); then
  cmake --build build/demo --target steward_demo
  if (($# == 0)); then set -- build/demo/steward-demo.log; fi  # where the logger writes
  exec build/demo/examples/steward_demo "$@"
fi

cmake --build build/demo --target steward_demo steward_top
demo=$PWD/build/demo/examples/steward_demo
top=$PWD/build/demo/tools/steward-top
# The socket's directory: private to this user (the demo creates it 0700, or refuses one that is not).
dir=${XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/steward-demo}
dir=${dir:-/tmp/steward-demo-$(id -u)}
log=$PWD/build/demo/steward-demo.log
if command -v tmux >/dev/null 2>&1; then
  session=steward-demo-$$
  # The demo on the left, steward-top on the right (it waits for the socket to appear).
  tmux new-session -d -s "$session" -x "$(tput cols 2>/dev/null || echo 200)" -y "$(tput lines 2>/dev/null || echo 50)" \
    "'$demo' --watch --socket '$dir' '$log'; echo; echo 'demo ended; press Enter'; read -r"
  tmux split-window -h -t "$session" \
    "for i in \$(seq 100); do [ -S '$dir/control' ] && break; sleep 0.1; done; '$top' '$dir/control'"
  tmux select-pane -t "$session" -R
  echo "steward-top: keys up/down, p pause, r resume, s stop, R restart, q quit; Ctrl-C in the demo's pane stops it"
  if [[ -n ${TMUX:-} ]]; then exec tmux switch-client -t "$session"; fi
  exec tmux attach -t "$session"
fi
echo "tmux is not installed: the demo runs here. In another terminal, run:"
echo "  $top $dir/control"
echo "(scripts/deps.sh --tmux installs tmux, then scripts/demo.sh --watch starts both side by side)"
exec "$demo" --watch --socket "$dir" "$log"
