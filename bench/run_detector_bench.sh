#!/usr/bin/env bash
# Detection cycle of the sidecar: Train() and Detect() of cicd::detector::Service
# for 1,000 pipelines x 30 days of hourly runs, served through its QueryFunc
# seam (direct PromQueryResult, and through Prometheus's JSON +
# ParseQueryResponse). Prints one table (bench/README.md, "Detector cycle").
#
#   bench/run_detector_bench.sh        BUILD_DIR=build-bench bench/run_detector_bench.sh
#
# Knobs (environment): BUILD_DIR (build), PIPELINES (1000), DAYS (30),
# CYCLES (5 steady detect cycles), NEW_RUNS (3 new runs per pipeline per cycle).
# About 45 s on the 2-core dev machine (plus the build).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
PIPELINES=${PIPELINES:-1000}
DAYS=${DAYS:-30}
CYCLES=${CYCLES:-5}
NEW_RUNS=${NEW_RUNS:-3}

if [[ ! -f $BUILD_DIR/CMakeCache.txt ]]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCICD_BUILD_BENCH=ON >&2
fi
cmake --build "$BUILD_DIR" -j2 --target detector_bench >&2
BENCH=$BUILD_DIR/bin/detector_bench

"$BENCH" --header
# One process per variant: each has its own peak RSS.
for mode in direct json; do
  "$BENCH" --mode "$mode" --pipelines "$PIPELINES" --days "$DAYS" --cycles "$CYCLES" --new-runs "$NEW_RUNS"
done
