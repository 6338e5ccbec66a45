#!/usr/bin/env bash
# Builds the benchmarks (C++20, for the std::jthread baseline) and runs them.
# Usage: scripts/bench.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTEWARD_CXX_STANDARD=20 \
  -DSTEWARD_BUILD_TESTS=OFF -DSTEWARD_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/bench --target steward_bench
exec build/bench/bench/steward_bench "$@"
