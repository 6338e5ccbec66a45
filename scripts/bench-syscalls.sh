#!/usr/bin/env bash
# Where the time of a whole-tree operation goes: futex calls and context switches per worker,
# counted by `perf stat` only while the operation runs (bench/steward_syscalls.cpp), for
# steward's two child orders and the hand-rolled baseline of steward_tree_bench.
# Needs perf (Debian: linux-perf) and tracepoint access (root). Diagnostics: not in the README.
# Usage: scripts/bench-syscalls.sh [N...]   (worker counts, default 8 256 1024)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v perf >/dev/null || { echo "perf not installed (apt-get install linux-perf)"; exit 2; }
build=build/bench-rel
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTEWARD_CXX_STANDARD=20 \
  -DSTEWARD_BUILD_TESTS=OFF -DSTEWARD_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" --target steward_syscalls >/dev/null
sizes=("$@")
((${#sizes[@]})) || sizes=(8 256 1024)
k=10
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkfifo "$dir/ctl" "$dir/ack"
exec {ctl}<>"$dir/ctl" {ack}<>"$dir/ack"
printf '| %-7s | %-19s | %7s | %15s | %17s | %15s |\n' operation implementation workers "futex / worker" "switches / worker" "CPU us / worker"
printf '|---|---|---|---|---|---|\n'
for n in "${sizes[@]}"; do
  for op in start pause resume stop; do
    for impl in hand-rolled steward-sequential steward-parallel; do
      CTL=$ctl ACK=$ack perf stat -x, -D -1 --control "fd:$ctl,$ack" \
        -e syscalls:sys_enter_futex,context-switches,task-clock -- \
        "$build/bench/steward_syscalls" "$op" "$impl" "$n" "$k" 2>&1 >/dev/null |
        awk -F, -v k="$k" -v n="$n" -v op="$op" -v impl="$impl" '
          /sys_enter_futex/ { f = $1 } /context-switches/ { c = $1 } /task-clock/ { t = $1 }
          END { printf "| %-7s | %-19s | %7d | %15.2f | %17.2f | %15.2f |\n", op, impl, n, f / k / n, c / k / n, t * 1000 / k / n }'
    done
  done
done
echo "(context switches of threads that exit - the hand-rolled stop - are not all counted)"
