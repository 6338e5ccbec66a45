#!/usr/bin/env bash
# libFuzzer over control-command sequences on the simulation port (tests/sim/fuzz_control.cpp,
# docs/verification.md): builds it with clang (ASan + UBSan, coverage of the core), replays the
# committed corpus (tests/sim/fuzz_corpus), then fuzzes for STEWARD_FUZZ_SECONDS (default 300)
# in one job per CPU: 10 CPU-minutes on the 2-core CI machine. A crash or a violation fails the
# script and leaves the input in the build directory (crash-*), with the command to replay it.
# Usage: scripts/fuzz.sh [build dir]          (default build/fuzz)
#        scripts/fuzz.sh --merge [build dir]  (fuzz, then merge what is new into the corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
merge=0
if [[ ${1:-} == --merge ]]; then
  merge=1
  shift
fi
build=${1:-build/fuzz}
seconds=${STEWARD_FUZZ_SECONDS:-300}
jobs=$(nproc)
scripts/deps.sh --fuzz

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTEWARD_PLATFORM=sim \
  -DCMAKE_CXX_COMPILER=clang++ -DSTEWARD_BUILD_FUZZ=ON \
  "-DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" >/dev/null
cmake --build "$build" -j"$jobs" --target steward_sim_fuzz
fuzzer=$build/tests/sim/steward_sim_fuzz
corpus=tests/sim/fuzz_corpus

echo "-- fuzz: replaying the committed corpus ($(ls "$corpus" | wc -l) inputs)"
"$fuzzer" -runs=0 "$corpus" 2>&1 | tail -1

work=$build/corpus
rm -rf "$work"
mkdir -p "$work"
cp "$corpus"/* "$work"/
echo "-- fuzz: $jobs jobs x $seconds s"
set +e
(cd "$build" && "$OLDPWD/$fuzzer" -max_total_time="$seconds" -jobs="$jobs" -workers="$jobs" \
  -print_final_stats=1 "$OLDPWD/$work" >fuzz.log 2>&1)
rc=$?
set -e
grep -hE "stat::number_of_executed_units|Done [0-9]+ runs" "$build"/fuzz-*.log 2>/dev/null | tail -n "$((2 * jobs))" || true
crashes=$(ls "$build"/crash-* "$build"/timeout-* "$build"/oom-* 2>/dev/null || true)
if ((rc != 0)) || [[ -n $crashes ]]; then
  grep -hE "sim fuzz:|sim: |ERROR|SUMMARY" "$build"/fuzz-*.log 2>/dev/null | head -20 || true
  for c in $crashes; do echo "fuzz: replay with: $fuzzer $c"; done
  echo "fuzz: FAILED"
  exit 1
fi
if ((merge)); then
  "$fuzzer" -merge=1 "$corpus" "$work" 2>&1 | tail -1
  echo "-- fuzz: corpus now $(ls "$corpus" | wc -l) inputs"
fi
echo "fuzz: no crash, no violation"
