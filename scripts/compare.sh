#!/usr/bin/env bash
# The side-by-side benchmark (see docs/benchmarks.md): installs Debian's `prometheus`
# (2.42, with promtool) and `victoria-metrics` (1.79) packages if missing, builds `panoptes`
# and the harness in release mode, then runs the harness, which writes its tables into
# docs/benchmarks.md and prints them.
#
#   bash scripts/compare.sh [--preset small|large] [--rounds N] [--systems LIST] [--output FILE|-]
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v prometheus >/dev/null && command -v promtool >/dev/null || missing+=(prometheus)
command -v victoria-metrics >/dev/null || missing+=(victoria-metrics)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing Debian's ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus victoria-metrics 2>/dev/null; then
  echo "note: the packages' own prometheus/victoria-metrics services are running and share the"
  echo "      CPU with the benchmark (sudo systemctl stop prometheus victoria-metrics)"
fi

echo "== cargo build --release"
cargo build --release --quiet --bin panoptes
cargo build --release --quiet -p panoptes-tests --bin compare

echo "== compare $*"
exec "${CARGO_TARGET_DIR:-target}/release/compare" "$@"
