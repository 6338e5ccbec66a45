#!/usr/bin/env bash
# Installs the Debian packages steward's scripts need, only those missing.
# Usage: scripts/deps.sh [--cross]   (--cross adds the cross compilers and qemu-user)
set -euo pipefail
need=(cmake ninja-build g++ doctest-dev libexpected-dev)
if [[ "${1:-}" == "--cross" ]]; then
  need+=(g++-aarch64-linux-gnu g++-arm-linux-gnueabihf g++-riscv64-linux-gnu qemu-user)
fi
missing=()
for p in "${need[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
