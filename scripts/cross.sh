#!/usr/bin/env bash
# Cross builds with the Debian cross compilers; tests run under qemu-user.
# For each target: configure with its CMake preset, build, run ctest (every test runs under
# qemu through CMAKE_CROSSCOMPILING_EMULATOR), install to build/stage-<target>, then build and
# test tests/consumer against that staged package with the same toolchain file.
#
# Usage: scripts/cross.sh [aarch64|armhf|riscv64 ...]    (default: all three)
# Each target counts two checks, "<target>" (build + ctest) and "<target>-consumer".
# Last line: "cross: N passed, N failed"; the exit status is non-zero if any check failed.
# Logs of configure steps go to build/cross-logs/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

all_targets=(aarch64 armhf riscv64)
if (($# == 0)); then set -- "${all_targets[@]}"; fi
for t in "$@"; do
  case $t in
    aarch64 | armhf | riscv64) ;;
    *) echo "usage: scripts/cross.sh [aarch64|armhf|riscv64 ...]  (unknown target '$t')" >&2; exit 2 ;;
  esac
done

scripts/deps.sh --cross

toolchain_of() {
  case $1 in
    aarch64) echo "$root/toolchains/aarch64-linux-gnu.cmake" ;;
    armhf) echo "$root/toolchains/arm-linux-gnueabihf.cmake" ;;
    riscv64) echo "$root/toolchains/riscv64-linux-gnu.cmake" ;;
  esac
}

jobs=2
logs=$root/build/cross-logs
mkdir -p "$logs"
passed=0
failed=0
summary=()

check() {  # name, ok(0/1)
  if (($2)); then
    passed=$((passed + 1)); summary+=("  ok    $1")
  else
    failed=$((failed + 1)); summary+=("  FAIL  $1")
  fi
}

quiet() {  # log file, command...: run, keep the output in the log, show it on failure
  local log=$1
  shift
  if "$@" >"$log" 2>&1; then return 0; fi
  echo "-- failed: $* (log: ${log#"$root"/})"
  tail -n 40 "$log"
  return 1
}

for t in "$@"; do
  start=$(date +%s)
  bdir=build/preset-$t
  stage=$root/build/stage-$t
  cdir=build/cross-consumer-$t
  echo "== $t: configure, build, test (under $(basename "$(toolchain_of "$t")"))"

  ok=1
  built=0
  quiet "$logs/$t-configure.log" cmake --preset "$t" --fresh || ok=0
  ((ok)) && { cmake --build --preset "$t" || ok=0; }
  ((ok)) && built=1
  ((ok)) && { ctest --preset "$t" || ok=0; }
  check "$t" "$ok"
  t_tests=$(date +%s)

  rm -rf "$stage"
  if ((built)); then
    echo "== $t: install to ${stage#"$root"/}, consumer project"
    ok=1
    quiet "$logs/$t-install.log" cmake --install "$bdir" --prefix "$stage" || ok=0
  else
    echo "== $t: build failed, consumer check not run (counted as failed)"
    ok=0
  fi
  config_dir=""
  if ((ok)); then
    config_dir=$(find "$stage" -name stewardConfig.cmake -printf '%h\n' -quit)
    [[ -n $config_dir ]] || { echo "-- no stewardConfig.cmake under $stage"; ok=0; }
  fi
  ((ok)) && { quiet "$logs/$t-consumer-configure.log" \
      cmake -S tests/consumer -B "$cdir" -G Ninja --fresh \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_TOOLCHAIN_FILE="$(toolchain_of "$t")" \
        -Dsteward_DIR="$config_dir" \
        -Dtl-expected_DIR=/usr/share/cmake/tl-expected || ok=0; }
  ((ok)) && { cmake --build "$cdir" -j"$jobs" || ok=0; }
  ((ok)) && { ctest --test-dir "$cdir" -j"$jobs" --output-on-failure --no-tests=error || ok=0; }
  check "$t-consumer" "$ok"
  end=$(date +%s)
  summary+=("        $t wall time $((end - start)) s: build+ctest $((t_tests - start)) s, install+consumer $((end - t_tests)) s")
done

echo "== summary"
printf '%s\n' "${summary[@]}"
echo "cross: $passed passed, $failed failed"
((failed == 0))
