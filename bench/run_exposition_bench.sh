#!/usr/bin/env bash
# /metrics exposition: cicd-exporter (C++) against Debian's
# python3-prometheus-client exposing the same families, in the same run.
# Prints one table; figures are ratios against the reference (bench/README.md).
#
#   bench/run_exposition_bench.sh        BUILD_DIR=build-bench bench/run_exposition_bench.sh
#
# Knobs (environment): BUILD_DIR (build), REPS (3 rounds of processes),
# RENDERS (3 timed in-process renders per process), GETS (3 HTTP GETs per
# serving process), STEADY_GETS (12: GETs of round 1's serving processes, enough
# for every civetweb worker to have served), PIPELINES (1000), RUNS_PER_SERIES (2).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
REPS=${REPS:-3}
RENDERS=${RENDERS:-3}
GETS=${GETS:-3}
STEADY_GETS=${STEADY_GETS:-12}
PIPELINES=${PIPELINES:-1000}
RUNS_PER_SERIES=${RUNS_PER_SERIES:-2}
PY=/usr/bin/python3  # Debian's interpreter: the pyenv python3 on PATH lacks the package
BENCH=$BUILD_DIR/bin/exposition_bench
REFERENCE=$ROOT/bench/exposition_reference.py

WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [[ -n $SERVER_PID ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "== $*" >&2; }

install_reference() {
  if dpkg-query -W -f='${Status}' python3-prometheus-client 2>/dev/null | grep -q 'ok installed'; then
    return
  fi
  log "installing python3-prometheus-client"
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y --no-install-recommends python3-prometheus-client >/dev/null ||
    { $sudo apt-get update >/dev/null &&
      $sudo apt-get install -y --no-install-recommends python3-prometheus-client >/dev/null; }
}

build_bench() {
  if ! grep -qs '^CICD_BUILD_BENCH:BOOL=ON' "$BUILD_DIR/CMakeCache.txt"; then
    log "configuring $BUILD_DIR"
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCICD_BUILD_BENCH=ON >/dev/null
  fi
  log "building exposition_bench in $BUILD_DIR"
  cmake --build "$BUILD_DIR" -j2 --target exposition_bench >/dev/null
  local build_type
  build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")
  case $build_type in
    "" | Release | RelWithDebInfo | MinSizeRel) ;;  # "": the top CMakeLists picks RelWithDebInfo
    *) log "WARNING: CMAKE_BUILD_TYPE=$build_type in $BUILD_DIR: C++ figures are not optimized" ;;
  esac
}

# Sides: the exporter's own code path (ExporterMetrics::Stream, served by
# cicd::WebServer as Exporter::Handle does) and the Python reference.
SIDES=(cpp py)
CMD=()
set_command() {
  case $1 in
    cpp) CMD=("$BENCH") ;;
    py) CMD=("$PY" "$REFERENCE" serve) ;;
  esac
}

# One process timing in-process renders. $1 = side, $2 = tag, $3 = extra flag.
run_render() {
  set_command "$1"
  "${CMD[@]}" --pipelines="$PIPELINES" --runs-per-series="$RUNS_PER_SERIES" \
    --renders="$RENDERS" ${3:+"$3"} >"$WORK/$2.render.json" 2>"$WORK/$2.render.err" ||
    { echo "$2: render process failed:" >&2; cat "$WORK/$2.render.err" >&2; exit 1; }
}

# Round 1 dumped one in-process scrape per side and kept the body of its first
# GET: each side's HTTP body must be byte-identical to its in-process scrape,
# and Python must hold the same series with the same values as the exporter.
check_same_series() {
  log "checking that both sides expose the same series and values"
  for side in "${SIDES[@]}"; do
    cmp "$WORK/$side.prom" "$WORK/$side.http.prom"
  done
  "$PY" "$REFERENCE" compare "$WORK/cpp.prom" "$WORK/py.prom" >&2
  rm -f "$WORK"/*.prom
}

# One serving process without in-process renders: waits for its JSON line,
# runs $3 GETs (the body of the first one kept in $4 when given), reads the
# process's peak and current RSS, stops it.
# $1 = side, $2 = tag, $3 = number of GETs, $4 = file for the first body.
run_serve() {
  set_command "$1"
  "${CMD[@]}" --serve --renders=0 --pipelines="$PIPELINES" \
    --runs-per-series="$RUNS_PER_SERIES" >"$WORK/$2.serve.json" 2>"$WORK/$2.serve.err" &
  SERVER_PID=$!
  local waited=0
  until [[ -s $WORK/$2.serve.json ]]; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "$2: server exited early:" >&2
      cat "$WORK/$2.serve.err" >&2
      exit 1
    fi
    ((waited++ < 600)) || { echo "$2: no JSON line after 60 s" >&2; exit 1; }
    sleep 0.1
  done
  local port
  port=$(sed -n 's/.*"port": *\([0-9]*\).*/\1/p' "$WORK/$2.serve.json")
  local out
  for ((i = 0; i < $3; i++)); do
    out=/dev/null
    ((i > 0)) || out=${4:-/dev/null}
    curl -sS --fail --noproxy '*' -o "$out" -w '%{time_total} %{size_download}\n' \
      "http://127.0.0.1:$port/metrics" >>"$WORK/$2.http"
  done
  awk '/^(VmHWM|VmRSS):/ {print $2}' "/proc/$SERVER_PID/status" >"$WORK/$2.rss"
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

install_reference
build_bench

for ((rep = 1; rep <= REPS; rep++)); do
  for side in "${SIDES[@]}"; do
    log "round $rep/$REPS: $side"
    dump="" gets=$GETS body=""
    ((rep > 1)) || { dump=--dump=$WORK/$side.prom; gets=$STEADY_GETS; body=$WORK/$side.http.prom; }
    run_render "$side" "$side.$rep" "$dump"
    run_serve "$side" "$side.$rep" "$gets" "$body"
  done
  ((rep > 1)) || check_same_series
done

"$PY" - "$WORK" "$REPS" "$RENDERS" "$GETS" "$STEADY_GETS" <<'PY'
import json, os, statistics, sys

work, reps, renders, gets, steady_gets = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6]

def load(side):
    render, http, serve_hwm, serve_rss, render_hwm, fill_hwm, info = [], [], [], [], [], [], None
    for rep in range(1, reps + 1):
        tag = os.path.join(work, f'{side}.{rep}')
        with open(tag + '.render.json') as f:
            info = json.loads(f.readline())
        render += info['render_ms']
        render_hwm.append(info['render_hwm_mb'])
        fill_hwm.append(info['hwm_after_fill_mb'])
        with open(tag + '.http') as f:
            for line in f:
                seconds, size = line.split()
                http.append(float(seconds) * 1e3)
                if int(size) != info['bytes']:
                    sys.exit(f'{side}: HTTP body of {size} bytes, render gave {info["bytes"]}')
        with open(tag + '.rss') as f:
            hwm_kb, rss_kb = (int(v) for v in f.read().split())  # /proc order: VmHWM, VmRSS
        serve_hwm.append(hwm_kb / 1024.0)
        serve_rss.append(rss_kb / 1024.0)
    return dict(render=statistics.median(render), http=statistics.median(http),
                bytes=info['bytes'], samples=info['samples'], render_rss=max(render_hwm),
                rss=max(serve_hwm), rss_after=serve_rss[0], fill_hwm=max(fill_hwm))

sides = {name: load(name) for name in ('cpp', 'py')}
cpp, py = sides['cpp'], sides['py']
if cpp['samples'] != py['samples']:
    sys.exit(f'sample counts differ: C++ {cpp["samples"]}, Python {py["samples"]}')

LABELS = {'cpp': 'C++ cicd-exporter', 'py': 'Python prometheus_client'}

print(f'/metrics exposition, {py["samples"]} samples per scrape; {reps} rounds of processes per side. '
      f'Times: medians of {renders} in-process renders per round and of the HTTP GETs (curl, 127.0.0.1; '
      f'{steady_gets} in round 1, {gets} after). Memory: peak RSS (VmHWM) of the render processes and of '
      f'the serving processes (max over rounds), RSS left after round 1\'s {steady_gets} GETs.')
print(f'{"":26} {"render":>8} {"HTTP":>8} {"bytes":>10} {"peak RSS":>10} {"peak RSS":>10} {"RSS after":>10}')
print(f'{"":26} {"ms":>8} {"ms":>8} {"":>10} {"render MB":>10} {"serve MB":>10} {"GETs MB":>10}')
for name in ('cpp', 'py'):
    s = sides[name]
    print(f'{LABELS[name]:26} {s["render"]:8.1f} {s["http"]:8.1f} {s["bytes"]:10d} '
          f'{s["render_rss"]:10.1f} {s["rss"]:10.1f} {s["rss_after"]:10.1f}')
print(f'peak RSS after filling the store, before any scrape: C++ {cpp["fill_hwm"]:.1f} MB, '
      f'Python {py["fill_hwm"]:.1f} MB.')
print()
render, http, mem = py['render'] / cpp['render'], py['http'] / cpp['http'], cpp['rss'] / py['rss']
print(f'C++ against Python: render {render:.2f}x faster, HTTP {http:.2f}x faster per scrape '
      f'(goal >= 5x): speed ' + ('meets' if min(render, http) >= 5 else 'MISSES'))
print(f'C++ against Python: memory {mem:.2f} of Python\'s (peak RSS of the serving process; '
      f'goal <= 0.33): memory ' + ('meets' if mem <= 1 / 3 else 'MISSES'))
PY
