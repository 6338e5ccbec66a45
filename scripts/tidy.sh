#!/usr/bin/env bash
# clang-tidy over the library's sources (core/src, platform/posix, supervisors/src and the
# public headers they include), with the repository's .clang-tidy. Any warning is an error.
# Usage: scripts/tidy.sh [file.cpp...]     (default: every library .cpp; not tests/bench/examples)
#   STEWARD_TIDY_JOBS=n   parallel clang-tidy processes (default: nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=build/tidy
jobs=${STEWARD_TIDY_JOBS:-$(nproc)}

scripts/deps.sh
if ! command -v clang-tidy >/dev/null 2>&1; then
  echo "== installing: clang-tidy"
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq clang-tidy >/dev/null
fi
echo "== $(clang-tidy --version | grep -i version | head -1 | sed 's/^ *//')"

# Configuring is enough: compile_commands.json and the generated build_config.hpp are written then.
cmake -S . -B "$build" -G Ninja -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DSTEWARD_BUILD_TESTS=OFF \
  -DSTEWARD_BUILD_EXAMPLES=OFF -DSTEWARD_BUILD_BENCH=OFF >/dev/null

if (($#)); then
  files=("$@")
else
  # Largest first, so the two big translation units do not end up last on one core.
  mapfile -t files < <(ls -S core/src/*.cpp platform/posix/*.cpp supervisors/src/*.cpp)
fi
# Diagnostics in headers only for the project's own: the include directories and the private
# headers beside the sources (the root is escaped for the regex; the generated build_config.hpp,
# tests and dependencies are left out).
root_re=$(printf '%s' "$root" | sed 's/[][\.*^$+?(){}|]/\\&/g')
header_filter="^${root_re}/(core|platform|supervisors)/(include|src|posix)/"

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
echo "== clang-tidy: ${#files[@]} files, $jobs jobs"
start=$SECONDS
status=0
# One log per file, so parallel runs do not interleave; kept only when clang-tidy failed.
# shellcheck disable=SC2016  # the inner script's $1..$4 are its own arguments
printf '%s\n' "${files[@]}" | xargs -P "$jobs" -I{} sh -c '
  log="$1/$(printf "%s" "$2" | tr / _).log"
  if clang-tidy -p "$3" --quiet --warnings-as-errors="*" --header-filter="$4" "$2" >"$log" 2>&1; then
    rm -f "$log"
  else
    exit 1
  fi' sh "$logs" {} "$build" "$header_filter" || status=1
for log in "$logs"/*.log; do
  [[ -e $log ]] || continue
  grep -v -e '^[0-9]* warnings\? generated\.$' -e '^[0-9]* warnings\? and [0-9]* errors\? generated\.$' \
    -e '^Suppressed [0-9]* warnings' -e '^Use -header-filter=' "$log" || true
done
echo "== clang-tidy: $((SECONDS - start)) s"
if ((status)); then
  echo "clang-tidy: warnings (errors) above"
  exit 1
fi
echo "clang-tidy: clean"
