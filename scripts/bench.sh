#!/usr/bin/env bash
# Builds the benchmarks (Release, C++20 for the std::jthread baselines) and runs every one of
# them: control latencies, supervision trees, steward beside Erlang/OTP (when erl is installed)
# and the periodic-worker jitter beside cyclictest. Each prints one machine-readable line per
# figure (bench/bench_common.hpp); they are collected, with a header line, into
# bench/results/latest.txt, and scripts/render-bench-tables.py regenerates the README's tables
# from that file. A run that started on a loaded machine (1-minute load average above 0.5) is
# not published: the renderer refuses it unless --mark-loaded, which marks every table.
#
# Header line: "# steward-bench date=... kernel=... nproc=... load_start=1m,5m,15m load_end=...
# commit=... command=..." (command is last and runs to the end of the line).
# Usage: scripts/bench.sh [--quick] [--wait-idle[=MINUTES]] [--mark-loaded] [--no-render]
#   --quick        short run (fewer samples) into build/bench-rel/results-quick.txt; the README
#                  is left alone
#   --wait-idle    first wait (polling every 60 s, up to MINUTES, default 20) for the 1-minute
#                  load average to fall below 0.5
#   --mark-loaded  publish a loaded run anyway, every table marked as such
#   --no-render    only write the results file
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0 wait_minutes=0 mark_loaded=0 render=1
for arg in "$@"; do
  case $arg in
    --quick) quick=1 ;;
    --wait-idle) wait_minutes=20 ;;
    --wait-idle=*) wait_minutes=${arg#--wait-idle=} ;;
    --mark-loaded) mark_loaded=1 ;;
    --no-render) render=0 ;;
    *) echo "usage: scripts/bench.sh [--quick] [--wait-idle[=MINUTES]] [--mark-loaded] [--no-render]" >&2; exit 2 ;;
  esac
done

scripts/deps.sh --bench
build=build/bench-rel
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTEWARD_CXX_STANDARD=20 \
  -DSTEWARD_BUILD_TESTS=OFF -DSTEWARD_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" --target steward_bench steward_tree_bench steward_otp_bench steward_pool_bench steward_jitter
otp_args=()
if command -v erl >/dev/null && command -v erlc >/dev/null; then
  mkdir -p "$build/otp"
  erlc -o "$build/otp" bench/otp/*.erl
  otp_args=(--otp "$build/otp")
else
  echo "note: erl/erlc not installed (Debian: erlang-base): the Erlang/OTP figures are skipped"
fi

load1() { cut -d' ' -f1 /proc/loadavg; }
idle() { awk -v l="$(load1)" 'BEGIN { exit !(l < 0.5) }'; }
if ((wait_minutes > 0)); then
  waited=0
  until idle || ((waited >= wait_minutes)); do
    echo "== load average $(load1) (waiting for < 0.5, ${waited}/${wait_minutes} min)"
    sleep 60
    waited=$((waited + 1))
  done
fi

args=()
loops=10000
if ((quick)); then
  args=(--quick)
  loops=2000
  results=$build/results-quick.txt
else
  results=bench/results/latest.txt
fi
raw=$build/bench-output.txt
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- . 2>/dev/null || commit="$commit-dirty"
command="scripts/bench.sh${*:+ $*}"
echo "== $date, load average at start: $load_start"
{
  "$build/bench/steward_bench" "${args[@]}"
  echo
  "$build/bench/steward_tree_bench" "${args[@]}"
  echo
  "$build/bench/steward_otp_bench" "${args[@]}" "${otp_args[@]}"
  echo
  "$build/bench/steward_pool_bench" "${args[@]}"
  echo
  "$build/bench/steward_jitter" --period-us 1000 --loops "$loops" --priority 80 --rounds 5 || true
} 2>&1 | tee "$raw"
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

mkdir -p "$(dirname "$results")"
{
  printf '# steward-bench date=%s kernel=%s nproc=%s load_start=%s load_end=%s commit=%s command=%s\n' \
    "$date" "$(uname -r)" "$(nproc)" "${load_start// /,}" "${load_end// /,}" "$commit" "$command"
  grep -E '^(BENCH|LOADAVG|NOTE|SIZE|OTPINFO) ' "$raw"
} >"$results"
echo "== results: $results (load average at start $load_start, at end $load_end)"

if ((render && !quick)); then
  render_args=()
  ((mark_loaded)) && render_args=(--mark-loaded)
  python3 scripts/render-bench-tables.py "${render_args[@]}" "$results" README.md
fi
