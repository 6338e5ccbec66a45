#!/usr/bin/env bash
# Installs the Debian packages steward's scripts need, only those missing.
# Usage: scripts/deps.sh [--cross] [--bench] [--docs] [--tmux] [--model] [--sim] [--fuzz]
#   --cross adds the cross compilers and qemu-user; --bench adds rt-tests (cyclictest, the
#   baseline of the jitter benchmark), erlang-base (erl and erlc, for the Erlang/OTP supervisor
#   figures measured beside steward's) and python3 (renders the README's benchmark tables);
#   --docs adds doxygen and graphviz (scripts/docs.sh: the API reference and its diagrams);
#   --tmux adds tmux (the steward_top_tmux test drives steward-top in a real terminal, and
#   scripts/demo.sh --watch shows the demo beside it; without tmux the test is skipped).
#   --model adds spin (scripts/model.sh: the Promela model of the lifecycle protocol, checked
#   exhaustively, and its seeded mutants).
#   --sim adds python3 (scripts/sim.sh applies its seeded mutants with scripts/sim-mutants.py);
#   --fuzz adds libclang-rt-dev (clang's libFuzzer runtime, for scripts/fuzz.sh).
set -euo pipefail
need=(cmake ninja-build g++ clang doctest-dev libexpected-dev pkg-config)
for arg in "$@"; do
  case $arg in
    --cross) need+=(g++-aarch64-linux-gnu g++-arm-linux-gnueabihf g++-riscv64-linux-gnu qemu-user) ;;
    --bench) need+=(rt-tests erlang-base python3) ;;
    --docs) need+=(doxygen graphviz) ;;
    --tmux) need+=(tmux) ;;
    --model) need+=(spin) ;;
    --sim) need+=(python3) ;;
    --fuzz) need+=(libclang-rt-dev) ;;
  esac
done
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
