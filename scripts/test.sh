#!/usr/bin/env bash
# The whole test suite: native build and tests (g++ and clang), clang-tidy on the library
# (scripts/tidy.sh, warnings are errors), ThreadSanitizer, the
# concurrency tests repeated (native, TSan, and native beside a CPU load), AddressSanitizer+UBSan,
# -fno-exceptions -fno-rtti, a consumer project built against the installed package, and the
# suite cross-compiled for aarch64, armhf and riscv64 under qemu, and the API reference
# (scripts/docs.sh: doxygen, warnings are errors; about 25 s with the install), and the
# Promela model of the lifecycle protocol with its seeded mutants (scripts/model.sh, spin), and
# the deterministic simulation: the core on the sim port, 10,000 seeds x 200 steps with faults,
# and its seeded mutants (scripts/sim.sh), and libFuzzer over control sequences on the sim port
# (scripts/fuzz.sh: the committed corpus replayed, then 10 CPU-minutes of fuzzing).
# Usage: scripts/test.sh            (everything)
#        STEWARD_STAGES="native tsan" scripts/test.sh   (a subset)
#        STEWARD_REPEAT_NATIVE / STEWARD_REPEAT_TSAN / STEWARD_REPEAT_LOADED: repeat counts of
#        the repeat stage (defaults 50, 25, 10)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
stages=${STEWARD_STAGES:-"native clang tidy docs model sim fuzz tsan repeat asan no-exceptions consumer cross"}
deps_args=()
[[ " $stages " == *" cross "* ]] && deps_args+=(--cross)
# tmux only for the steward_top_tmux test, which the native stage runs (skipped without it).
[[ " $stages " == *" native "* ]] && deps_args+=(--tmux)
[[ " $stages " == *" model "* ]] && deps_args+=(--model)
[[ " $stages " == *" sim "* ]] && deps_args+=(--sim)
[[ " $stages " == *" fuzz "* ]] && deps_args+=(--fuzz)
scripts/deps.sh "${deps_args[@]}"
jobs=$(nproc)
passed=0
failed=0
failed_stages=()

run_ctest() {  # build dir, extra env
  local dir=$1
  if ctest --test-dir "$dir" -j"$jobs" --output-on-failure --no-tests=error; then
    return 0
  fi
  return 1
}

native_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
# The stress tests with their ledger (tests/stress) run in the sanitizer stages: 2,000,000
# control calls under TSan (about 45 s), 100,000 lifecycles and 10,000 storms under ASan.
tsan_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTEWARD_BUILD_BENCH=OFF -DSTEWARD_BUILD_STRESS=ON
           "-DCMAKE_CXX_FLAGS=-fsanitize=thread -fno-omit-frame-pointer")

stage() {  # name, configure args...
  local name=$1
  shift
  local dir=build/ci-$name
  echo "== stage $name"
  local ok=1
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null || ok=0
  if ((ok)); then cmake --build "$dir" -j"$jobs" || ok=0; fi
  if ((ok)); then
    # TSan on kernels with mmap_rnd_bits=32 needs ASLR off (docs/platform.md, sanitizers); harmless elsewhere.
    if [[ $name == tsan ]]; then
      setarch "$(uname -m)" -R ctest --test-dir "$dir" -j"$jobs" --output-on-failure --no-tests=error || ok=0
    else
      run_ctest "$dir" || ok=0
    fi
  fi
  if ((ok)); then passed=$((passed + 1)); else failed=$((failed + 1)); failed_stages+=("$name"); fi
}

# The repeat stage: every doctest test case (core, supervisor, platform, regression suites:
# the concurrency tests) run again and again, so that a flaky test fails here and not later.
# It reuses the native and tsan stages' build directories (building them if needed).
concurrency_tests='^steward_[a-z_]+_tests:'
load_pids=()
loaded_pid=""

stop_load() {  # also stops the command run beside the load, if it still runs
  local pid
  [[ -n $loaded_pid ]] && kill "$loaded_pid" 2>/dev/null
  for pid in "${load_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${load_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  load_pids=()
}

start_load() {  # count: busy loops, one per CPU. Each also ends by itself when this script is
  local parent=$$ end=$((SECONDS + 1800)) i  # gone (even after SIGKILL), and after 30 minutes.
  for ((i = 0; i < $1; i++)); do
    (
      trap - EXIT INT TERM
      while kill -0 "$parent" 2>/dev/null && ((SECONDS < end)); do
        for ((j = 0; j < 20000; j++)); do :; done
      done
    ) &
    load_pids+=($!)
  done
}

beside_load() {  # command...: runs it in the background and waits, so a signal is handled at once
  local rc=0
  "$@" &
  loaded_pid=$!
  wait "$loaded_pid" || rc=$?
  loaded_pid=""
  return $rc
}

repeat_part() {  # label, command...: runs it, prints its duration; returns its status
  local label=$1
  shift
  local start=$SECONDS rc=0
  echo "-- repeat: $label"
  "$@" || rc=$?
  echo "-- repeat: $label: $((SECONDS - start)) s, $([[ $rc == 0 ]] && echo passed || echo FAILED)"
  return $rc
}

repeat_stage() {
  echo "== stage repeat"
  local ok=1 start=$SECONDS
  local n_native=${STEWARD_REPEAT_NATIVE:-50} n_tsan=${STEWARD_REPEAT_TSAN:-25}
  local n_loaded=${STEWARD_REPEAT_LOADED:-10}
  local native=build/ci-native tsan=build/ci-tsan
  echo "-- repeat: building $native and $tsan (no-ops when the native and tsan stages ran)"
  { cmake -S . -B "$native" -G Ninja "${native_args[@]}" >/dev/null &&
    cmake --build "$native" -j"$jobs" >/dev/null; } || ok=0
  { cmake -S . -B "$tsan" -G Ninja "${tsan_args[@]}" >/dev/null &&
    cmake --build "$tsan" -j"$jobs" >/dev/null; } || ok=0
  if ((ok)); then
    local ctest_args=(-j"$jobs" -R "$concurrency_tests" --output-on-failure --no-tests=error)
    repeat_part "native, every test case until-fail:$n_native" \
      ctest --test-dir "$native" "${ctest_args[@]}" --repeat until-fail:"$n_native" || ok=0
    repeat_part "tsan, every test case until-fail:$n_tsan" \
      setarch "$(uname -m)" -R ctest --test-dir "$tsan" "${ctest_args[@]}" --repeat until-fail:"$n_tsan" || ok=0
    echo "-- repeat: starting $jobs busy loops as CPU load"
    trap 'stop_load' EXIT
    trap 'stop_load; echo "-- repeat: interrupted, CPU load stopped"; exit 130' INT
    trap 'stop_load; echo "-- repeat: terminated, CPU load stopped"; exit 143' TERM
    start_load "$jobs"
    repeat_part "native beside $jobs busy loops, every test case until-fail:$n_loaded" \
      beside_load ctest --test-dir "$native" "${ctest_args[@]}" --repeat until-fail:"$n_loaded" || ok=0
    stop_load
    trap - EXIT INT TERM
    echo "-- repeat: CPU load stopped"
  fi
  echo "-- repeat: stage took $((SECONDS - start)) s"
  if ((ok)); then passed=$((passed + 1)); else failed=$((failed + 1)); failed_stages+=(repeat); fi
}

for s in $stages; do
  case $s in
    native) stage native "${native_args[@]}" ;;
    clang) stage clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DSTEWARD_BUILD_BENCH=OFF ;;
    tsan) stage tsan "${tsan_args[@]}" ;;
    repeat) repeat_stage ;;
    asan) ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
          stage asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTEWARD_BUILD_BENCH=OFF -DSTEWARD_BUILD_STRESS=ON \
            -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" ;;
    no-exceptions) stage no-exceptions -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTEWARD_NO_EXCEPTIONS=ON ;;
    consumer)
      echo "== stage consumer"
      ok=1
      cmake -S . -B build/ci-install -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTEWARD_BUILD_TESTS=OFF \
        -DSTEWARD_BUILD_EXAMPLES=OFF -DSTEWARD_BUILD_BENCH=OFF >/dev/null || ok=0
      ((ok)) && { cmake --build build/ci-install -j"$jobs" || ok=0; }
      ((ok)) && { cmake --install build/ci-install --prefix "$root/build/stage" >/dev/null || ok=0; }
      ((ok)) && { cmake -S tests/consumer -B build/ci-consumer -G Ninja \
                    -DCMAKE_PREFIX_PATH="$root/build/stage" >/dev/null || ok=0; }
      ((ok)) && { cmake --build build/ci-consumer -j"$jobs" || ok=0; }
      ((ok)) && { run_ctest build/ci-consumer || ok=0; }
      # The same consumer without CMake: the installed pkg-config file alone.
      if ((ok)); then
        pc_flags=$(PKG_CONFIG_PATH="$root/build/stage/lib/pkgconfig" pkg-config --cflags --libs steward) || ok=0
        # shellcheck disable=SC2086
        ((ok)) && { c++ tests/consumer/main.cpp $pc_flags -o build/ci-consumer/consumer-pkgconfig || ok=0; }
        ((ok)) && { build/ci-consumer/consumer-pkgconfig || ok=0; }
        ((ok)) && echo "-- consumer: built and ran with pkg-config alone"
      fi
      if ((ok)); then passed=$((passed + 1)); else failed=$((failed + 1)); failed_stages+=(consumer); fi
      ;;
    tidy)
      echo "== stage tidy"
      if scripts/tidy.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_stages+=(tidy); fi
      ;;
    model)
      echo "== stage model"
      if scripts/model.sh build/ci-model; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_stages+=(model); fi
      ;;
    fuzz)
      echo "== stage fuzz"
      if scripts/fuzz.sh build/ci-fuzz; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_stages+=(fuzz); fi
      ;;
    sim)
      echo "== stage sim"
      if scripts/sim.sh build/ci-sim; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_stages+=(sim); fi
      ;;
    docs)
      echo "== stage docs"
      if scripts/docs.sh build/ci-docs; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_stages+=(docs); fi
      ;;
    cross)
      echo "== stage cross"
      if scripts/cross.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_stages+=(cross); fi
      ;;
    *) echo "unknown stage $s"; exit 2 ;;
  esac
done

echo "== stages: $stages"
((failed)) && echo "== failed stages: ${failed_stages[*]}"
echo "stages: $passed passed, $failed failed"
((failed == 0))
