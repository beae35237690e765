#!/usr/bin/env bash
# Labelled evaluation of cicd-detector (bench/ci_eval.py): a synthetic base,
# clean by construction (bench/ci_synth.py), and the real CI histories in
# ../shared/datasets/ci-history, with injected labelled anomalies, replayed
# through `cicd-detector replay`. Prints per base (synthetic, each real
# history, overall) precision, recall and F1 per kind, false alerts per 1,000
# normal runs per kind, alerts per pipeline per week, and the calibration
# table (observed false-alarm rate at detection.false_alarm_rate 1e-2, 1e-3,
# 1e-4 on the clean synthetic base).
#
#   bench/ci_eval.sh [--config FILE]        BUILD_DIR=build-eval bench/ci_eval.sh
#
# Knobs (environment): BUILD_DIR (build), DATASETS (../shared/datasets; when
# absent only the synthetic base is evaluated), SEED (1), EXAMPLES (3 false
# alerts quoted per base and kind), SYNTHETIC_PIPELINES (48),
# CALIBRATION_PIPELINES (192; 0 skips the calibration replays).
# --config FILE is passed to replay (its detection: section); defaults otherwise.
# The data sets are read in place; everything derived from them is written
# under $BUILD_DIR/ci-eval, never into the repository.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
DATASETS=${DATASETS:-$ROOT/../shared/datasets}
SEED=${SEED:-1}
EXAMPLES=${EXAMPLES:-3}
SYNTHETIC_PIPELINES=${SYNTHETIC_PIPELINES:-48}
CALIBRATION_PIPELINES=${CALIBRATION_PIPELINES:-192}
CONFIG=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --config) CONFIG=(--config "$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"); shift 2 ;;
    *) echo "usage: $0 [--config FILE]" >&2; exit 2 ;;
  esac
done

log() { echo "== $*" >&2; }

if [[ ! -f $BUILD_DIR/CMakeCache.txt ]]; then
  log "configuring $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCICD_BUILD_BENCH=OFF -DCICD_BUILD_TESTS=OFF >/dev/null
fi
log "building cicd-detector"
cmake --build "$BUILD_DIR" -j2 --target cicd-detector >/dev/null

REAL=()
if [[ -d $DATASETS/ci-history ]]; then
  REAL=(--datasets "$DATASETS")
else
  log "real histories skipped: $DATASETS/ci-history not found (set DATASETS); synthetic base only"
fi
OUT=$BUILD_DIR/ci-eval
rm -rf "$OUT"
mkdir -p "$OUT"
exec python3 "$ROOT/bench/ci_eval.py" run --detector "$BUILD_DIR/bin/cicd-detector" --out "$OUT" \
  --seed "$SEED" --examples "$EXAMPLES" --synthetic-pipelines "$SYNTHETIC_PIPELINES" \
  --calibration-pipelines "$CALIBRATION_PIPELINES" "${REAL[@]}" "${CONFIG[@]}"
