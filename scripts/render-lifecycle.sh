#!/usr/bin/env bash
# Prints the lifecycle table rows as docs/lifecycle.md shows them (paste between the headers).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/render.cpp" <<'CPP'
#include <cstdio>
#include "steward/core/lifecycle.hpp"
int main() {
  for (const auto& r : steward::lifecycle_table)
    std::printf("| %s | %s | %s | %s |\n", to_string(r.from), to_string(r.event), r.guard_action, to_string(r.to));
}
CPP
"${CXX:-c++}" -std=c++17 -I"$here/core/include" "$tmp/render.cpp" -o "$tmp/render"
"$tmp/render"
