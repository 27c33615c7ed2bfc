#!/usr/bin/env bash
# Instructions per engine benchmark query (gateway/benches/engine.rs), counted by callgrind:
# stable to a fraction of a percent on a noisy machine, where wall time varies by ±25 %.
# One valgrind run evaluates every query once (ENGINE_BENCH_ONCE) and dumps a profile after
# each, so the data set is generated once. Needs valgrind (`apt-get install valgrind`).
#   scripts/callgrind-engine.sh [query-name-filter]
set -euo pipefail
cd "$(dirname "$0")/.."

binary=$(cargo bench -p gateway --bench engine --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "engine" and m.get("executable"):
        print(m["executable"])')
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ENGINE_BENCH_ONCE=1 ENGINE_BENCH_QUERY="${1:-}" valgrind --tool=callgrind --collect-atstart=no \
  --toggle-collect='engine::run' --dump-after='engine::run' \
  --callgrind-out-file="$out/callgrind.%p" "$binary" 2>"$out/log" || { cat "$out/log"; exit 1; }

# The queries in the order they ran, and one dump (its `summary:` total) per query.
mapfile -t names < <(grep -o '^[a-z_]*: done' "$out/log" | cut -d: -f1)
mapfile -t dumps < <(ls "$out"/callgrind.*.* | sort -t. -k3 -n)
printf '%-22s %16s\n' query instructions
for i in "${!names[@]}"; do
  printf '%-22s %16s\n' "${names[$i]}" "$(awk '/^summary:/ {print $2}' "${dumps[$i]}")"
done
