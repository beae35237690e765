#!/usr/bin/env bash
# README's second command: installs what is needed, builds, and runs every
# test (unit, component and integration with the real Prometheus/promtool).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
"$root/scripts/install-deps.sh"
BUILD_DIR=$build_dir "$root/scripts/build.sh"
cd "$build_dir"
ctest --output-on-failure --timeout 600 -j2 "$@"
