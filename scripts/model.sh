#!/usr/bin/env bash
# Checks the Promela models of the lifecycle protocol (model/*.pml) exhaustively with spin, then
# every seeded mutant, which must be caught (docs/verification.md, "The model").
# Usage: scripts/model.sh [build dir]   (default build/model; spin's output stays there)
# Fails when a model run reports an error or an incomplete search, or when a mutant passes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${1:-build/model}
mkdir -p "$out"
out=$(cd "$out" && pwd)
command -v spin >/dev/null || { echo "spin not found: scripts/deps.sh --model"; exit 2; }
memlim=${STEWARD_MODEL_MEMLIM:-2048}  # MB per pan run: a search that needs more fails
cflags=(-DMEMLIM="$memlim" -DCOLLAPSE -w)
opt=-O2  # the real models' searches are long; a mutant's search is short, so it compiles with -O0
failures=0
total_start=$SECONDS

# pan_run dir model mode [spin -D defines...]: mode safety (assertions, invalid end states) or
# liveness (acceptance cycles under weak fairness). Prints one line; returns 0 when the search
# completed with no error, 1 when it found an error, 2 when it could not finish.
pan_run() {
  local dir=$1 model=$2 mode=$3
  shift 3
  mkdir -p "$dir"
  local start=$SECONDS
  (cd "$dir" && spin -a "$@" "$root/$model" >spin.log 2>&1) || { echo "spin -a failed in $dir"; cat "$dir/spin.log"; return 2; }
  local pan_args=(-m2000000)
  if [[ $mode == safety ]]; then
    (cd "$dir" && gcc "$opt" "${cflags[@]}" -DSAFETY -DNOCLAIM -o pan pan.c) || return 2
  else
    (cd "$dir" && gcc "$opt" "${cflags[@]}" -DNFAIR=3 -o pan pan.c) || return 2
    pan_args+=(-a -f)
  fi
  (cd "$dir" && ./pan "${pan_args[@]}" >pan.log 2>&1) || true
  local errors states
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$dir/pan.log" | tail -1)
  states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$dir/pan.log" | tail -1)
  local took=$((SECONDS - start))
  if [[ -z $errors ]] || grep -q "reached -DMEMLIM bound\|max search depth too small" "$dir/pan.log"; then
    echo "   $mode: incomplete search (${states:-?} states, ${took} s): $dir/pan.log"
    return 2
  fi
  local first
  first=$(grep -m1 -E "^pan:[0-9]+:|^pan: .*(violated|invalid end|acceptance cycle)" "$dir/pan.log" || true)
  echo "   $mode: errors $errors, $states states, ${took} s${first:+ - $first}"
  ((errors == 0))
}

# check name model defines...: the real model must pass both searches.
check_now() {
  local name=$1 model=$2
  shift 2
  echo "-- model $name ($model $*)"
  local rc=0
  pan_run "$out/$name/safety" "$model" safety "$@" || rc=$?
  if ((rc == 0)); then pan_run "$out/$name/liveness" "$model" liveness "$@" || rc=$?; fi
  if ((rc != 0)); then
    echo "FAIL: model $name"
    return 1
  fi
}

# mutant name model defines...: a mutant is caught when a search reports an error; a search
# that cannot finish does not count as caught.
mutant_now() {
  local name=$1 model=$2
  shift 2
  echo "-- mutant $name ($model $*)"
  local rc=0 opt=-O0
  pan_run "$out/mutant-$name/safety" "$model" safety "$@" || rc=$?
  if ((rc == 0)); then pan_run "$out/mutant-$name/liveness" "$model" liveness "$@" || rc=$?; fi
  if ((rc == 1)); then
    echo "   caught"
  else
    echo "FAIL: mutant $name was not caught"
    return 1
  fi
}

# mutant_live_now name model defines...: the liveness search alone must catch the mutant (so
# that the LTL formula is shown to bite, not only the end-state check).
mutant_live_now() {
  local name=$1 model=$2
  shift 2
  echo "-- mutant $name, liveness search only ($model $*)"
  local rc=0 opt=-O0
  pan_run "$out/mutant-$name/liveness-only" "$model" liveness "$@" || rc=$?
  if ((rc == 1)); then
    echo "   caught"
  else
    echo "FAIL: mutant $name was not caught by the liveness search"
    return 1
  fi
}

# Runs check_now / mutant_now / mutant_live_now as background jobs, one per CPU; their reports are printed in
# the order the jobs were given.
jobs_max=$(nproc)
reports=()
spawn() {  # kind name model defines...
  local kind=$1 name=$2
  shift
  while (($(jobs -rp | wc -l) >= jobs_max)); do wait -n || true; done
  mkdir -p "$out/reports"
  local report="$out/reports/$kind-$name.txt"
  ( if "${kind}_now" "$@" >"$report.tmp" 2>&1; then echo ok >>"$report.tmp"; else echo failed >>"$report.tmp"; fi
    mv "$report.tmp" "$report" ) &
  reports+=("$report")
}
check() { spawn check "$@"; }
mutant() { spawn mutant "$@"; }
mutant_live() { spawn mutant_live "$@"; }

# The worker slot, in two bounded scenarios: one controller using handles, the async stop and
# a restart in place; two controllers racing each other.
solo=(-DCTRL0_OPS=2 -DCTRL1_OPS=0 -DASYNC_STOP=1 -DMAX_RESTARTS=1)
pair=(-DCTRL0_OPS=1 -DCTRL1_OPS=1 -DASYNC_STOP=0 -DMAX_RESTARTS=0)
check worker-solo model/worker.pml "${solo[@]}"
check worker-pair model/worker.pml "${pair[@]}"

mutant flag-outside-lock model/worker.pml "${solo[@]}" -DFLAG_OUTSIDE_LOCK
mutant notify-before-set model/worker.pml "${solo[@]}" -DNOTIFY_BEFORE_SET
mutant stop-no-unpark model/worker.pml "${solo[@]}" -DSTOP_NO_UNPARK
mutant_live stop-no-unpark model/worker.pml "${solo[@]}" -DSTOP_NO_UNPARK
mutant stale-generation model/worker.pml "${solo[@]}" -DSTALE_GEN
mutant cleanup-twice model/worker.pml "${solo[@]}" -DCLEANUP_TWICE
# four incarnations while a handle to the first is held: a 2-bit counter comes back to it
mutant generation-wrap model/worker.pml -DCTRL0_OPS=3 -DCTRL1_OPS=0 -DASYNC_STOP=0 -DMAX_RESTARTS=2 -DGEN_WRAP
mutant issue7-cancelled-pause model/worker.pml "${solo[@]}" -DBUG_CANCELLED_PAUSE
mutant issue7-plain-store model/worker.pml "${solo[@]}" -DBUG_PLAIN_STORE

# One supervisor: restart intensity, a subtree pause racing a resume and a tree stop.
check supervisor model/supervisor.pml
mutant pause-flag-outside-lock model/supervisor.pml -DPAUSE_FLAG_OUTSIDE_LOCK
mutant intensity-off-by-one model/supervisor.pml -DINTENSITY_OFF_BY_ONE
mutant issue7-pause-holds-op-lock model/supervisor.pml -DPAUSE_HOLDS_OP_LOCK

wait
for report in "${reports[@]}"; do
  sed '$d' "$report"
  [[ $(tail -1 "$report") == ok ]] || failures=$((failures + 1))
done
echo "-- model: took $((SECONDS - total_start)) s"
if ((failures)); then
  echo "model: $failures failure(s)"
  exit 1
fi
echo "model: every model passed and every mutant was caught"
