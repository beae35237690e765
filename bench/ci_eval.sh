#!/usr/bin/env bash
# Labelled evaluation of cicd-detector on the real CI histories in
# ../shared/datasets/ci-history: injects labelled anomalies (bench/ci_eval.py),
# replays the clean and the injected histories through `cicd-detector replay`
# and prints precision, recall and F1 per kind and false alerts per 1,000
# normal runs, per data set and overall.
#
#   bench/ci_eval.sh [--config FILE]        BUILD_DIR=build-eval bench/ci_eval.sh
#
# Knobs (environment): BUILD_DIR (build), DATASETS (../shared/datasets),
# SEED (1), EXAMPLES (3 false alerts quoted per data set and kind).
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
CONFIG=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --config) CONFIG=(--config "$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"); shift 2 ;;
    *) echo "usage: $0 [--config FILE]" >&2; exit 2 ;;
  esac
done

if [[ ! -d $DATASETS/ci-history ]]; then
  echo "skipping: ../shared/datasets not found"
  exit 0
fi

log() { echo "== $*" >&2; }

if [[ ! -f $BUILD_DIR/CMakeCache.txt ]]; then
  log "configuring $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCICD_BUILD_BENCH=OFF -DCICD_BUILD_TESTS=OFF >/dev/null
fi
log "building cicd-detector"
cmake --build "$BUILD_DIR" -j2 --target cicd-detector >/dev/null
DETECTOR=$BUILD_DIR/bin/cicd-detector

OUT=$BUILD_DIR/ci-eval
mkdir -p "$OUT"
log "generating labelled histories (seed $SEED) into $OUT"
python3 "$ROOT/bench/ci_eval.py" generate --datasets "$DATASETS" --out "$OUT" --seed "$SEED"

replay() {  # replay IN OUT: exit 3 (skipped lines) would mean the generator wrote bad records
  local rc=0
  "$DETECTOR" replay --runs "$1" --out "$2" "${CONFIG[@]}" 2>"$2.log" || rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "cicd-detector replay $1 failed with exit code $rc:" >&2
    tail -5 "$2.log" >&2
    exit 1
  fi
  log "$(tail -1 "$2.log")"
}
log "replaying the clean and the injected histories"
replay "$OUT/clean.jsonl" "$OUT/clean_verdicts.jsonl"
replay "$OUT/runs.jsonl" "$OUT/verdicts.jsonl"

echo "# cicd-detector labelled evaluation (seed $SEED${CONFIG:+, config ${CONFIG[1]}})"
python3 "$ROOT/bench/ci_eval.py" report --out "$OUT" --examples "$EXAMPLES"
