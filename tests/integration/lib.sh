# Shared helpers for integration tests (sourced). Loopback only; everything a
# test starts is killed by the EXIT trap.
set -euo pipefail

: "${CICD_BIN:?set by ctest}" "${CICD_SOURCE_DIR:?set by ctest}" "${CICD_BUILD_DIR:?set by ctest}"
WORK=$(mktemp -d "${CICD_BUILD_DIR}/Testing/it.XXXXXX")
PIDS=()

cleanup() {
  local pid
  # Started with setsid, each is its process group's leader: the group goes,
  # with any children it started.
  for pid in "${PIDS[@]}"; do
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ ${KEEP_WORK:-0} != 1 ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Starts a command in its own session, logs to $WORK/<name>.log, remembers its PID.
start() {
  local name=$1
  shift
  setsid "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
}

# Waits until URL answers 200 (max $2 seconds, default 20).
wait_http() {
  local url=$1 limit=${2:-20} i
  for ((i = 0; i < limit * 10; i++)); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  fail "timed out waiting for $url"
}

# Starts the real Prometheus on 127.0.0.1:PORT with $WORK/prometheus.yml over
# $WORK/tsdb (retention longer than any test history, so backfilled blocks
# stay) and waits until it is ready.
#   run_prometheus PORT [FLAG...]
run_prometheus() {
  local port=$1
  shift
  start prometheus prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
    --storage.tsdb.retention.time=400d --web.listen-address="127.0.0.1:$port" "$@"
  wait_http "http://127.0.0.1:$port/-/ready" 30
}

# Number of series an instant query returns from the Prometheus at $P.
prom_count() {
  curl -fsS -G "$P/api/v1/query" --data-urlencode "query=$1" \
    | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]["result"]))'
}

# Polls COMMAND every 0.5 s until it succeeds, or fails the test.
#   wait_for SECONDS DESCRIPTION COMMAND...
wait_for() {
  local limit=$1 what=$2 i
  shift 2
  for ((i = 0; i < limit * 2; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  fail "timed out ($limit s) waiting for $what"
}

# Writes N normal hourly runs (~600 s) of pipeline org/app/ci to FILE as run
# records; with SLOW, one more run of SLOW seconds starts 10 min after the
# last one finished (the run a test expects to be judged anomalous).
#   write_hourly_runs FILE N [SLOW]
write_hourly_runs() {
  python3 - "$@" <<'PY'
import json, sys
from datetime import datetime, timedelta, timezone
path, n = sys.argv[1], int(sys.argv[2])
slow = int(sys.argv[3]) if len(sys.argv) > 3 else None
t0 = datetime(2025, 3, 1, tzinfo=timezone.utc)
fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
normal = lambda i: 600 + (i * 7) % 21 - 10
runs = [(t0 + timedelta(hours=i), normal(i)) for i in range(n)]
if slow is not None:
    runs.append((t0 + timedelta(hours=n - 1, seconds=normal(n - 1) + 600), slow))
with open(path, "w") as f:
    for i, (start, dur) in enumerate(runs):
        f.write(json.dumps({"source": "replay", "pipeline": "org/app/ci", "run_id": str(i + 1), "number": i + 1,
                            "status": "completed", "result": "success", "created_at": fmt(start - timedelta(seconds=5)),
                            "started_at": fmt(start), "finished_at": fmt(start + timedelta(seconds=dur)),
                            "tests_total": 1500, "tests_failed": 0, "tests_skipped": 2}) + "\n")
PY
}

# Backfills the runs an exporter config replays into a fresh TSDB at
# $WORK/tsdb (cicd-exporter backfill, then promtool).
#   backfill_tsdb EXPORTER_CONFIG
backfill_tsdb() {
  "$CICD_BIN/cicd-exporter" --config.file="$1" backfill --since 30d --output "$WORK/backfill.om" \
    2>"$WORK/backfill.log" || fail "backfill: $(cat "$WORK/backfill.log")"
  mkdir -p "$WORK/tsdb"
  promtool tsdb create-blocks-from openmetrics --max-block-duration=744h "$WORK/backfill.om" "$WORK/tsdb" \
    >"$WORK/promtool.log" 2>&1 || fail "promtool: $(cat "$WORK/promtool.log")"
}

# The sidecar tests' setup: 40 normal hourly runs of org/app/ci backfilled
# into $WORK/tsdb, then one run of 3000 s that the exporter ($WORK/exporter.yml,
# replay source) plays live seconds after it starts; $WORK/prometheus.yml
# scrapes the exporter and the detector every second. Sets exp_port,
# prom_port and det_port (free ports); starts nothing.
slow_run_setup() {
  write_hourly_runs "$WORK/runs.jsonl" 80 3000
  exp_port=$(free_port)
  prom_port=$(free_port)
  det_port=$(free_port)
  cat >"$WORK/exporter.yml" <<YAML
web:
  listen_address: 127.0.0.1:$exp_port
sources:
  - type: replay
    name: replay
    file: $WORK/runs.jsonl
    live_from: 0.985
    speed: 200
    initial_lookback: 4d
    poll_interval: 1s
YAML
  backfill_tsdb "$WORK/exporter.yml"
  cat >"$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: exporter
    static_configs: [{targets: ["127.0.0.1:$exp_port"]}]
  - job_name: detector
    static_configs: [{targets: ["127.0.0.1:$det_port"]}]
YAML
}
