#!/usr/bin/env bash
# Unpacks the reference systems that Debian's bookworm does not have from Debian's unstable
# (sid) suite: Prometheus 3.5 and its promtool. The system stays bookworm: the sid package
# lists live in a private apt directory and the .debs are unpacked with `dpkg -x` under
# target/reference/sid (binaries in target/reference/sid/usr/bin), where the tests look.
#
#   bash scripts/reference-systems.sh            # prometheus and promtool
#   bash scripts/reference-systems.sh PKG ...    # other sid packages (e.g. victoria-metrics)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=("$@")
[ ${#packages[@]} -gt 0 ] || packages=(prometheus promtool)

cache="${CARGO_TARGET_DIR:-$PWD/target}/reference"
root="$cache/sid"
apt_dir="$cache/apt"
mkdir -p "$root" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs"

# Already unpacked: nothing to fetch (a package's version is in its unpacked copyright path).
missing=()
for pkg in "${packages[@]}"; do
  [ -e "$root/usr/share/doc/$pkg" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main" \
    >"$apt_dir/sources.list"
  apt_opts=(
    -o "Dir::Etc::sourcelist=$apt_dir/sources.list"
    -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache=$apt_dir/cache"
    -o "APT::Get::List-Cleanup=0"
    -o "APT::Sandbox::User=$(id -un)"
  )
  echo "== fetching ${missing[*]} from Debian sid"
  apt-get -qq "${apt_opts[@]}" update
  (cd "$apt_dir/debs" && apt-get -qq "${apt_opts[@]}" download "${missing[@]}")
  for deb in "$apt_dir"/debs/*.deb; do
    dpkg -x "$deb" "$root"
  done
  rm -f "$apt_dir"/debs/*.deb
fi
if [ -x "$root/usr/bin/prometheus" ]; then "$root/usr/bin/prometheus" --version 2>&1 | head -1; fi
