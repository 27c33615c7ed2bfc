#!/usr/bin/env bash
# Instructions per benchmark query, counted by callgrind: stable to a fraction of a percent on
# a noisy machine, where wall time varies by ±25 %. One valgrind run evaluates every query once
# (ENGINE_BENCH_ONCE) and dumps a profile before and after each, so the data set is generated
# once and each query's part holds every thread's work (evaluation runs on a blocking thread).
# Needs valgrind (`apt-get install valgrind`).
#   scripts/callgrind-engine.sh [--bench engine|sharded] [--stages] [query-name-filter]
# --stages also splits each query's instructions into the stages of the read path (STAGES in
# scripts/callgrind-stages.py): a run of the setup alone and one per query, compared function
# by function.
set -euo pipefail
cd "$(dirname "$0")/.."

bench=engine stages=
while [ $# -gt 0 ]; do
  case "$1" in
    --bench) bench=$2; shift 2 ;;
    --stages) stages=1; shift ;;
    *) break ;;
  esac
done

binary=$(cargo bench -p gateway --bench "$bench" --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == sys.argv[1] and m.get("executable"):
        print(m["executable"])' "$bench")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ENGINE_BENCH_ONCE=1 ENGINE_BENCH_QUERY="${1:-}" valgrind --tool=callgrind \
  --dump-before="$bench::run" --dump-after="$bench::run" \
  --callgrind-out-file="$out/callgrind.%p" "$binary" 2>"$out/log" || { cat "$out/log"; exit 1; }
mapfile -t names < <(grep -o '^[a-z_0-9]*: done' "$out/log" | cut -d: -f1)
# Parts: 1 before the first query, then each query and the gap after it.
mapfile -t parts < <(ls "$out"/callgrind.*.* | awk -F. '{print $NF "\t" $0}' | sort -n | cut -f2)
printf '%-22s %16s\n' query instructions
for i in "${!names[@]}"; do
  printf '%-22s %16s\n' "${names[$i]}" "$(awk '/^summary:/ {print $2}' "${parts[$((2 * i + 1))]}")"
done
[ -n "$stages" ] || exit 0

profile() {
  ENGINE_BENCH_ONCE=1 ENGINE_BENCH_EXACT=1 ENGINE_BENCH_QUERY="$1" valgrind --tool=callgrind \
    --callgrind-out-file="$2" "$binary" 2>/dev/null
  callgrind_annotate --auto=no --threshold=100 "$2" >"$2.txt"
}
profile '' "$out/setup"
for name in "${names[@]}"; do
  profile "$name" "$out/$name"
  python3 scripts/callgrind-stages.py "$out/setup.txt" "$out/$name.txt" "$name"
done
