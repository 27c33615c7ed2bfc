#!/usr/bin/env bash
# Runs every check and test of the project on a fresh Debian machine: installs what the tests
# need (Debian's `prometheus` package: prometheus 2.42 and promtool; Prometheus 3.5 and
# VictoriaMetrics' vmalert unpacked from Debian's unstable suite by scripts/reference-systems.sh;
# `s3s-fs` from crates.io, an S3-compatible server), then formatting, lints, and the whole test
# suite (unit, gRPC round trips, real Prometheus, vmalert and S3 end to end).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  echo "== installing Debian's prometheus package"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
prometheus --version 2>&1 | head -1

# Prometheus 3.5 (the reference semantics) from Debian's unstable suite, beside the system's 2.42,
# and the `victoria-metrics` package for its vmalert (a rule evaluator the fault tests run
# against the gateway). Already unpacked: nothing is fetched.
bash scripts/reference-systems.sh prometheus promtool victoria-metrics

# The S3-compatible server the object-storage end-to-end tests read blocks from.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if ! command -v s3s-fs >/dev/null; then
  echo "== installing s3s-fs"
  cargo install --quiet s3s-fs --version 0.14.1 --features binary --locked
fi
s3s-fs --version

# The web UI's browser test: Debian's Chromium, driven by playwright-core from npm.
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing Debian's chromium package"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if ! command -v npm >/dev/null; then
  echo "== installing Debian's nodejs and npm packages"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
(cd tests/ui && npm ci --no-audit --no-fund)

# A fresh clone builds once: incremental caches would only double the disk the build takes.
export CARGO_INCREMENTAL=0

echo "== deploy/ manifests"
bash scripts/validate-deploy.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== tests"
# End-to-end tests start the real `panoptes` binary.
cargo build --quiet --bin panoptes
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
