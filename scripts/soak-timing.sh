#!/usr/bin/env bash
# Runs the fault and timing tests RUNS times in a row (default 20) beside two CPU hogs, the
# load their timing bounds are stated for, and stops at the first failure. Not part of the
# test command: it takes about half an hour on two cores.
#
#   bash scripts/soak-timing.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-20}"
tests=(-p panoptes-tests --test fanout_faults -p gateway --test engine_limits --test query_fuzz)

cargo build --quiet --bin panoptes
cargo nextest run --no-run "${tests[@]}" 2>/dev/null

hogs=()
stop_hogs() { kill "${hogs[@]}" 2>/dev/null || true; }
trap stop_hogs EXIT
for _ in 1 2; do
  (while :; do :; done) &
  hogs+=($!)
done

for run in $(seq 1 "$runs"); do
  started=$(date +%s)
  if ! cargo nextest run --no-fail-fast --status-level fail "${tests[@]}" >"target/soak-run.log" 2>&1; then
    echo "run $run of $runs FAILED after $(( $(date +%s) - started )) s; its output is in target/soak-run.log"
    grep -E "FAIL|panicked" target/soak-run.log | head -20
    exit 1
  fi
  echo "run $run of $runs passed in $(( $(date +%s) - started )) s: $(grep -E '^\s+Summary' target/soak-run.log)"
done
echo "$runs passed, 0 failed"
