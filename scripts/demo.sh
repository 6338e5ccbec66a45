#!/usr/bin/env bash
# Builds steward and runs the demo (a sampler, a filter and a logger under control).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build/demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTEWARD_BUILD_TESTS=OFF \
  -DSTEWARD_BUILD_BENCH=OFF >/dev/null
cmake --build build/demo --target steward_demo
if (($# == 0)); then set -- build/demo/steward-demo.log; fi  # where the logger writes
exec build/demo/examples/steward_demo "$@"
