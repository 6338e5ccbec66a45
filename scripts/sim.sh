#!/usr/bin/env bash
# The deterministic simulation (docs/verification.md): builds the core on the sim port, runs
# its tests (STEWARD_SIM_SEEDS seeds x 200 steps, default 10,000), then rebuilds it with each
# seeded mutant of the core (scripts/sim-mutants.py) in a copy of the tree and fails if a mutant
# passes.
# Usage: scripts/sim.sh [build dir]   (default build/sim)
#        STEWARD_SIM_MUTANT_SEEDS: seeds of the worker driver per mutant run (default 2000);
#        STEWARD_SIM_MUTANT_POOL_SEEDS: seeds of the pool driver (default 300)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${1:-build/sim}
jobs=$(nproc)
mutant_seeds=${STEWARD_SIM_MUTANT_SEEDS:-2000}
start=$SECONDS

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTEWARD_PLATFORM=sim >/dev/null
cmake --build "$build" -j"$jobs"
ctest --test-dir "$build" -j"$jobs" --output-on-failure --no-tests=error
echo "-- sim: the real code passed in $((SECONDS - start)) s"

# The mutants: scripts/sim-mutants.py names them and applies one to a copy of its file.
mapfile -t mutants < <(python3 scripts/sim-mutants.py --list)

copy=$root/$build-mutants
rm -rf "$copy"
mkdir -p "$copy/src"
# The tree as it is (tracked and new files), without build output.
tar -C "$root" --exclude=./build --exclude=./.git -cf - . | tar -C "$copy/src" -xf -
cmake -S "$copy/src" -B "$copy/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTEWARD_PLATFORM=sim >/dev/null
mkdir -p "$copy/orig/core/src"
cp "$copy/src/core/src/"*.cpp "$copy/orig/core/src/"
passed=()
previous=""
for m in "${mutants[@]}"; do
  name=$m
  # Undo the previous mutant (a fresh copy, so the build sees it changed), then apply this one.
  [[ -n $previous ]] && cp "$copy/orig/$previous" "$copy/src/$previous"
  previous=$(python3 scripts/sim-mutants.py --file "$name")
  if ! python3 scripts/sim-mutants.py "$name" "$copy/src"; then
    echo "-- sim mutant $name: its text is no longer in $(python3 scripts/sim-mutants.py --file "$name") (update scripts/sim-mutants.py)"
    passed+=("$name")
    continue
  fi
  if ! cmake --build "$copy/build" -j"$jobs" --target steward_sim_tests >/dev/null; then
    echo "-- sim mutant $name: does not build"
    passed+=("$name")
    continue
  fi
  t0=$SECONDS
  set +e
  out=$(STEWARD_SIM_SEEDS=$mutant_seeds STEWARD_SIM_POOL_SEEDS=${STEWARD_SIM_MUTANT_POOL_SEEDS:-300} \
    "$copy/build/tests/sim/steward_sim_tests" -tc="*seeds x*,*a pool under*" 2>&1)
  rc=$?
  set -e
  if ((rc == 0)); then
    echo "-- sim mutant $name: PASSED (not caught) in $((SECONDS - t0)) s"
    passed+=("$name")
  else
    first=$(grep -m1 -E "violations, first|contract violation|deadlock|CRASHED" <<<"$out" || true)
    echo "-- sim mutant $name: caught in $((SECONDS - t0)) s: ${first:-exit $rc}"
  fi
done
echo "-- sim: stage took $((SECONDS - start)) s"
if ((${#passed[@]})); then
  echo "sim: mutants not caught: ${passed[*]}"
  exit 1
fi
echo "sim: every mutant caught"
