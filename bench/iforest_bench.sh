#!/usr/bin/env bash
# Isolation forest: quality (ROC AUC) and single-thread speed of
# `cicd-detector iforest` against scikit-learn's IsolationForest, side by side
# in the same run, on the ODDS sets of ../shared/datasets/odds
# (shared/datasets/README.md). Prints one table; no network servers.
#
#   bench/iforest_bench.sh            all 13 sets, seeds 0-4, then the speed runs
#   bench/iforest_bench.sh --quick    4 small sets, no speed runs (about a minute)
#
# Knobs (environment): BUILD_DIR (build), SEEDS (0,1,2,3,4), SPEED_REPS (2:
# the best of this many processes per side). scikit-learn 1.2.1 comes from
# Debian's .deb files unpacked into $BUILD_DIR/iforest-reference (fetched once
# with apt-get download; python3-sklearn cannot be installed beside
# libboost1.81-dev).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
SEEDS=${SEEDS:-0,1,2,3,4}
SPEED_REPS=${SPEED_REPS:-2}
DATA=$ROOT/../shared/datasets/odds
PY=/usr/bin/python3  # Debian's 3.11, which the unpacked packages are built for
REFERENCE=$ROOT/bench/iforest_reference.py
REF_DIR=$BUILD_DIR/iforest-reference
DETECTOR=$BUILD_DIR/bin/cicd-detector

QUICK=0
for arg in "$@"; do
  case $arg in
    --quick) QUICK=1 ;;
    -h | --help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "iforest_bench.sh: unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done

if [[ ! -d $DATA ]]; then
  echo "skipping: ../shared/datasets not found (looked for $DATA)"
  exit 0
fi

# Largest first, so the slow reference runs start early in the log.
if ((QUICK)); then
  SETS=(cardio breastw pima ionosphere)
else
  SETS=(http cover smtp shuttle mammography annthyroid satellite thyroid cardio pima breastw
        arrhythmia ionosphere)
fi

WORK=$(mktemp -d)
cleanup() { rm -rf "$WORK" "$REF_DIR.partial"; }
trap cleanup EXIT

log() { echo "== $*" >&2; }

build_detector() {
  if [[ ! -f $BUILD_DIR/CMakeCache.txt ]]; then
    log "configuring $BUILD_DIR"
    cmake -S "$ROOT" -B "$BUILD_DIR" >/dev/null
  fi
  log "building cicd-detector in $BUILD_DIR"
  cmake --build "$BUILD_DIR" -j2 --target cicd-detector >/dev/null
  local build_type
  build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")
  case $build_type in
    "" | Release | RelWithDebInfo | MinSizeRel) ;;  # "": the top CMakeLists picks RelWithDebInfo
    *) log "WARNING: CMAKE_BUILD_TYPE=$build_type in $BUILD_DIR: C++ figures are not optimized" ;;
  esac
}

# scikit-learn and what it needs beyond a Debian 12 base with python3
# (apt-cache depends python3-sklearn python3-sklearn-lib python3-scipy
# python3-numpy ...). Libraries already installed are fetched anyway: the
# folder must not depend on what this machine happens to have.
REF_PACKAGES=(python3-sklearn python3-sklearn-lib python3-scipy python3-numpy python3-joblib
              python3-threadpoolctl python3-decorator python3-pkg-resources liblbfgsb0
              libblas3 liblapack3 libgfortran5 libquadmath0 libgomp1)

install_reference() {
  if [[ -f $REF_DIR/.complete ]]; then return; fi
  log "fetching scikit-learn into $REF_DIR (apt-get download, dpkg -x)"
  rm -rf "$REF_DIR.partial"
  mkdir -p "$REF_DIR.partial/debs"
  # _apt cannot write into root-owned build folders; download as ourselves.
  if ! (cd "$REF_DIR.partial/debs" && apt-get download "${REF_PACKAGES[@]}" >/dev/null 2>&1); then
    log "apt-get download failed; refreshing the package lists"
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo=sudo
    $sudo apt-get update -qq
    (cd "$REF_DIR.partial/debs" && apt-get download "${REF_PACKAGES[@]}" >/dev/null)
  fi
  for deb in "$REF_DIR.partial"/debs/*.deb; do
    dpkg -x "$deb" "$REF_DIR.partial/root"
  done
  rm -rf "$REF_DIR.partial/debs"
  touch "$REF_DIR.partial/.complete"
  rm -rf "$REF_DIR"
  mv "$REF_DIR.partial" "$REF_DIR"
}

# Runs the reference with the private packages; one thread everywhere.
reference() {
  local lib=$REF_DIR/root/usr/lib/x86_64-linux-gnu
  PYTHONPATH=$REF_DIR/root/usr/lib/python3/dist-packages \
    LD_LIBRARY_PATH=$lib:$lib/blas:$lib/lapack${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
    "$PY" "$REFERENCE" "$@"
}

now() { date +%s%N; }  # nanoseconds

# Wraps each JSON line of stdin as {"set":…,"side":…,<extra>,"r":<line>}.
tag() {
  local line
  while IFS= read -r line; do
    printf '{"set":"%s","side":"%s"%s,"r":%s}\n' "$1" "$2" "${3:-}" "$line"
  done
}

# Quality: every seed of every set, both sides. Our scores do not depend on
# the thread count, so this part may use both cores.
run_quality() {
  local set csv seed
  for set in "${SETS[@]}"; do
    csv=$DATA/$set.csv.gz
    log "AUC: $set (seeds $SEEDS)"
    for seed in ${SEEDS//,/ }; do
      "$DETECTOR" iforest --csv "$csv" --label-column label --seed "$seed" --threads 0 \
        >"$WORK/out.json"
      tag "$set" ours <"$WORK/out.json" >>"$WORK/quality.jsonl"
    done
    reference --csv "$csv" --seeds "$SEEDS" >"$WORK/out.json"
    tag "$set" sklearn <"$WORK/out.json" >>"$WORK/quality.jsonl"
  done
}

# Speed: one thread, whole processes timed from outside (start-up, reading
# the CSV, fit, score), the best of SPEED_REPS per side.
run_speed() {
  local set csv rep start
  for set in http cover; do
    csv=$DATA/$set.csv.gz
    for ((rep = 1; rep <= SPEED_REPS; rep++)); do
      log "speed: $set, run $rep/$SPEED_REPS"
      start=$(now)
      "$DETECTOR" iforest --csv "$csv" --label-column label --seed 0 --threads 1 \
        --model-out "$WORK/$set.model" >"$WORK/out.json"
      tag "$set" ours ",\"e2e_ns\":$(($(now) - start)),\"model_bytes\":$(stat -c %s "$WORK/$set.model")" \
        <"$WORK/out.json" >>"$WORK/speed.jsonl"
      start=$(now)
      reference --csv "$csv" --seeds 0 >"$WORK/out.json"
      tag "$set" sklearn ",\"e2e_ns\":$(($(now) - start))" <"$WORK/out.json" >>"$WORK/speed.jsonl"
    done
  done
}

build_detector
install_reference
reference --help >/dev/null  # fails early when the unpacked packages do not import
: >"$WORK/quality.jsonl"
: >"$WORK/speed.jsonl"
run_quality
((QUICK)) || run_speed

"$PY" - "$WORK" "$SEEDS" "$QUICK" <<'PY'
import collections, json, os, statistics, sys

work, seeds, quick = sys.argv[1], sys.argv[2], sys.argv[3] == '1'
# Liu, Ting & Zhou (ICDM 2008), Table 2, t = 100, psi = 256 (shared/datasets/README.md).
PAPER = dict(http=1.00, cover=0.88, smtp=0.88, shuttle=1.00, mammography=0.86, annthyroid=0.82,
             satellite=0.71, pima=0.67, breastw=0.99, arrhythmia=0.80, ionosphere=0.85)

def read(name):
    """The tagged lines of the shell side, flattened."""
    rows = []
    with open(os.path.join(work, name)) as f:
        for line in f:
            tagged = json.loads(line)
            row = dict(tagged.pop('r'), **tagged)
            if 'e2e_ns' in row:
                row['e2e'] = row['e2e_ns'] / 1e9
            rows.append(row)
    return rows

auc = collections.defaultdict(list)
shape = {}
for r in read('quality.jsonl'):
    auc[r['set'], r['side']].append(r['auc'])
    shape[r['set']] = (r['rows'], r['features'])
sets = list(dict.fromkeys(r['set'] for r in read('quality.jsonl')))

n_seeds = len(seeds.split(','))
print(f'Isolation forest ROC AUC, mean (sd) over seeds {seeds}: 100 trees, psi 256, fit and '
      f'score on all rows.')
print(f'{"set":12} {"rows":>7} {"feat":>4}   {"cicd-detector":>15}   {"scikit-learn":>15}'
      f'   {"diff":>7} {"se":>6}  {"paper":>5}  goal |diff| <= 0.02')
worst = 0.0
for s in sets:
    ours, ref = auc[s, 'ours'], auc[s, 'sklearn']
    if len(ours) != n_seeds or len(ref) != n_seeds:
        sys.exit(f'{s}: expected {n_seeds} runs per side, got {len(ours)} and {len(ref)}')
    mo, mr = statistics.mean(ours), statistics.mean(ref)
    so = statistics.stdev(ours) if len(ours) > 1 else 0.0
    sr = statistics.stdev(ref) if len(ref) > 1 else 0.0
    diff = mo - mr
    worst = max(worst, abs(diff))
    paper = f'{PAPER[s]:.2f}' if s in PAPER else '-'
    rows, feat = shape[s]
    se = ((so ** 2 + sr ** 2) / n_seeds) ** 0.5
    print(f'{s:12} {rows:7d} {feat:4d}   {mo:.4f} ({so:.3f})   {mr:.4f} ({sr:.3f})'
          f'   {diff:+.4f} {se:6.4f}  {paper:>5}  {"met" if abs(diff) <= 0.02 else "MISSED"}')
print(f'largest |diff|: {worst:.4f}. sd = spread over the seeds of one side; se = standard error '
      f'of diff: the two sides grow different random trees, so diff is noisy at about this '
      f'size.')
if quick:
    print('--quick: 4 small sets, no speed runs.')
    sys.exit(0)

best = {}
for r in read('speed.jsonl'):
    key = r['set'], r['side']
    if key not in best or r['e2e'] < best[key]['e2e']:
        best[key] = r
print()
print('Speed, one thread (scikit-learn n_jobs=1, OMP_NUM_THREADS=1; ours --threads 1), '
      'best of the runs by end-to-end time.')
print('end to end = the whole process timed from outside: start-up (and imports), reading the '
      'gzip CSV, fit, score.')
print(f'{"set":6} {"side":14} {"rows":>7} {"fit s":>7} {"score s":>8} {"rows/s scored":>14}'
      f' {"end to end s":>13}')
for s in ('http', 'cover'):
    for side, name in (('ours', 'cicd-detector'), ('sklearn', 'scikit-learn')):
        r = best[s, side]
        print(f'{s:6} {name:14} {r["rows"]:7d} {r["fit_seconds"]:7.3f} {r["score_seconds"]:8.3f}'
              f' {r["rows"] / r["score_seconds"]:14,.0f} {r["e2e"]:13.2f}')
print()
print(f'{"set":6} {"speed-up end to end":>20} {"speed-up scoring":>17} {"our rows/s":>12}'
      f' {"model bytes":>12}')
for s in ('http', 'cover'):
    o, r = best[s, 'ours'], best[s, 'sklearn']
    print(f'{s:6} {r["e2e"] / o["e2e"]:19.1f}x {r["score_seconds"] / o["score_seconds"]:16.1f}x'
          f' {o["rows"] / o["score_seconds"]:12,.0f} {o["model_bytes"]:12,d}')
e2e = min(best[s, 'sklearn']['e2e'] / best[s, 'ours']['e2e'] for s in ('http', 'cover'))
rate = min(best[s, 'ours']['rows'] / best[s, 'ours']['score_seconds'] for s in ('http', 'cover'))
size = max(best[s, 'ours']['model_bytes'] for s in ('http', 'cover'))
print(f'goals: end to end >= 10x: {"met" if e2e >= 10 else "MISSED"} ({e2e:.1f}x); '
      f'scoring >= 2 M rows/s on one thread: {"met" if rate >= 2e6 else "MISSED"} '
      f'({rate / 1e6:.2f} M); model < 1 MB: {"met" if size < 1 << 20 else "MISSED"} '
      f'({size:,d} bytes, 100 trees)')
PY
