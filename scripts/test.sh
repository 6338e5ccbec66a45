#!/usr/bin/env bash
# The whole test suite: native build and tests (g++ and clang), ThreadSanitizer,
# AddressSanitizer+UBSan, -fno-exceptions -fno-rtti, a consumer project built against the
# installed package, and the suite cross-compiled for aarch64, armhf and riscv64 under qemu.
# Usage: scripts/test.sh            (everything)
#        STEWARD_STAGES="native tsan" scripts/test.sh   (a subset)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
stages=${STEWARD_STAGES:-"native clang tsan asan no-exceptions consumer cross"}
if [[ " $stages " == *" cross "* ]]; then scripts/deps.sh --cross; else scripts/deps.sh; fi
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

for s in $stages; do
  case $s in
    native) stage native -DCMAKE_BUILD_TYPE=RelWithDebInfo ;;
    clang) stage clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DSTEWARD_BUILD_BENCH=OFF ;;
    tsan) stage tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTEWARD_BUILD_BENCH=OFF \
            -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" ;;
    asan) ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
          stage asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTEWARD_BUILD_BENCH=OFF \
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
      if ((ok)); then passed=$((passed + 1)); else failed=$((failed + 1)); failed_stages+=(consumer); fi
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
