#!/usr/bin/env bash
# Builds the benchmarks (C++20, for the std::jthread baseline) and runs them: the control
# latencies, the supervision-tree figures, then the periodic-worker jitter beside cyclictest.
# Usage: scripts/bench.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --bench
cmake -S . -B build/bench-cxx20 -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTEWARD_CXX_STANDARD=20 \
  -DSTEWARD_BUILD_TESTS=OFF -DSTEWARD_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/bench-cxx20 --target steward_bench steward_jitter steward_tree_bench
build/bench-cxx20/bench/steward_bench "$@"
echo
build/bench-cxx20/bench/steward_tree_bench "$@"
echo
loops=10000
[[ "${1:-}" == "--quick" ]] && loops=1000
build/bench-cxx20/bench/steward_jitter --period-us 1000 --loops "$loops" --priority 80
