#!/usr/bin/env bash
# README's first command: installs what is needed, builds, and runs the whole
# stack on 127.0.0.1 with no CI server or credentials:
#   the bundled history (data/demo-runs.jsonl) backfilled into a real
#   Prometheus, cicd-exporter replaying its recent part as if live,
#   cicd-detector training on the history and judging the live runs,
#   Prometheus evaluating rules/ and sending alerts to a real Alertmanager,
#   which delivers them to local Slack, webhook and email sinks.
# It prints the anomalies found with their reasons and the alerts delivered,
# with the delay from each run's finish to its alert. Ctrl-C (or the end of
# --duration) stops every process it started and removes its files.
#
#   scripts/demo.sh [--no-build] [--duration SECONDS] [--free-ports] [--work DIR]
#                   [--runs FILE] [--speed N] [--live-from F] [--history DUR] [--step DUR]
#
#   --duration   stop after this many seconds (default: run until Ctrl-C)
#   --free-ports pick free ports instead of 9090 (Prometheus), 9093
#                (Alertmanager), 9801 (exporter), 9802 (detector)
#   --work DIR   keep configs, data, logs and sink deliveries in DIR
#   --runs, --speed, --live-from: the replayed history (defaults
#                data/demo-runs.jsonl, 600x, 0.9); --history: how much of it
#                the detector trains on (default 30d); --step: the detector's
#                history_step (default 5s)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
build=1 duration=0 free_ports=0 work="" keep=0
runs=$root/data/demo-runs.jsonl speed=600 live_from=0.9 history=30d step=5s
while (($#)); do
  case $1 in
    --no-build) build=0 ;;
    --duration) duration=$2; shift ;;
    --free-ports) free_ports=1 ;;
    --work) work=$2; keep=1; shift ;;
    --runs) runs=$(realpath "$2"); shift ;;
    --speed) speed=$2; shift ;;
    --live-from) live_from=$2; shift ;;
    --history) history=$2; shift ;;
    --step) step=$2; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
PY=/usr/bin/python3

if ((build)); then
  echo "==> installing packages (only the missing ones)"
  "$root/scripts/install-deps.sh"
  echo "==> building into $build_dir"
  BUILD_DIR=$build_dir "$root/scripts/build.sh" >/dev/null
fi
bin=$build_dir/bin

if [[ -z $work ]]; then work=$(mktemp -d /tmp/cicd-demo.XXXXXX); fi
mkdir -p "$work"
work=$(realpath "$work")
pids=()
cleanup() {
  trap - EXIT INT TERM
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if ((!keep)); then rm -rf "$work"; fi
  echo "==> stopped everything the demo started"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
port_free() { "$PY" -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1])))' "$1" 2>/dev/null; }
pick() {  # pick DEFAULT: the default port, or a free one with --free-ports
  if ((free_ports)); then free_port; return; fi
  port_free "$1" || { echo "demo.sh: port $1 on 127.0.0.1 is in use; rerun with --free-ports" >&2; exit 1; }
  echo "$1"
}
# One assignment per line: set -e sees only the last substitution of a line.
prom_port=$(pick 9090)
am_port=$(pick 9093)
exp_port=$(pick 9801)
det_port=$(pick 9802)
P=http://127.0.0.1:$prom_port AM=http://127.0.0.1:$am_port
E=http://127.0.0.1:$exp_port D=http://127.0.0.1:$det_port

# Starts a server in its own session, logging to $work/NAME.log.
start() {
  local name=$1
  shift
  setsid "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
}
wait_http() {  # wait_http NAME URL
  local i
  for ((i = 0; i < 300; i++)); do
    curl -fsS -o /dev/null "$2" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "demo.sh: $1 did not start; its log ($work/$1.log):" >&2
  tail -20 "$work/$1.log" >&2
  exit 1
}

echo "==> writing configs into $work"
# One anchor for backfill and serve: both place every run at the same time.
anchor=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cat >"$work/exporter.yml" <<EOF
web:
  listen_address: "127.0.0.1:$exp_port"
state_file: ""
branches:
  keep: [main, master]
sources:
  - type: replay
    name: demo
    file: $runs
    speed: $speed
    live_from: $live_from
    anchor: $anchor
    poll_interval: 1s
    initial_lookback: 1m
EOF
# history_step 5s at 600x: runs of one pipeline finishing within 50 minutes
# of CI time are read as one (a 1 s step would match the scrape interval but
# makes the first training ~5x longer).
cat >"$work/detector.yml" <<EOF
prometheus:
  url: $P
  history_step: $step
web:
  listen_address: "127.0.0.1:$det_port"
schedule:
  detect_interval: 1s
  history: $history
state_dir: $work/detector-state
exporter_url: $E
EOF
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $root/rules/cicd-recording.rules.yml
  - $root/rules/cicd-alerts.rules.yml
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:$am_port"]
scrape_configs:
  - job_name: cicd-exporter
    static_configs:
      - targets: ["127.0.0.1:$exp_port"]
  - job_name: cicd-detector
    static_configs:
      - targets: ["127.0.0.1:$det_port"]
EOF
slack_port=$(free_port)
webhook_port=$(free_port)
smtp_port=$(free_port)
mkdir -p "$work/secrets" "$work/sinks"
echo "http://127.0.0.1:$slack_port/services/DEMO/DEMO/demo" >"$work/secrets/slack_webhook_url"
echo "demo-smtp-password" >"$work/secrets/smtp_password"
echo "demo-webhook-token" >"$work/secrets/webhook_token"
"$PY" "$root/scripts/local_alertmanager.py" "$root/config/alertmanager.yml" "$work/alertmanager" \
  --secrets "$work/secrets" --smtp-port "$smtp_port" --webhook-port "$webhook_port" --fast

echo "==> backfilling the history into Prometheus's storage (cicd-exporter backfill + promtool)"
"$bin/cicd-exporter" --config.file="$work/exporter.yml" backfill --since 400d --output "$work/history.om" \
  2>"$work/backfill.log" || { cat "$work/backfill.log" >&2; exit 1; }
promtool tsdb create-blocks-from openmetrics --max-block-duration=744h "$work/history.om" "$work/prometheus-data" \
  >"$work/promtool.log" 2>&1 || { cat "$work/promtool.log" >&2; exit 1; }
echo "    $(grep -c '^cicd_pipeline_last_run_finished_timestamp_seconds{' "$work/history.om") past runs backfilled"

echo "==> starting the notification sinks, Alertmanager and Prometheus"
start sinks "$PY" "$root/scripts/sinks.py" --dir "$work/sinks" \
  --slack-port "$slack_port" --webhook-port "$webhook_port" --smtp-port "$smtp_port"
start alertmanager prometheus-alertmanager --config.file="$work/alertmanager/alertmanager.yml" \
  --storage.path="$work/alertmanager-data" --web.listen-address="127.0.0.1:$am_port" \
  --cluster.listen-address= --web.external-url="$AM"
start prometheus prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus-data" \
  --storage.tsdb.retention.time=400d --web.listen-address="127.0.0.1:$prom_port" --web.external-url="$P"
wait_http alertmanager "$AM/-/ready"
wait_http prometheus "$P/-/ready"

echo "==> starting cicd-exporter (replaying the recent history at ${speed}x) and cicd-detector"
start exporter "$bin/cicd-exporter" --config.file="$work/exporter.yml"
start detector "$bin/cicd-detector" --config.file="$work/detector.yml"
wait_http exporter "$E/-/ready"
wait_http detector "$D/health"

cat <<EOF

The stack is running on 127.0.0.1:
  detector status page  $D/
  anomalies (REST)      $D/api/v1/anomalies?hours=24
  Prometheus            $P/classic/alerts
  Alertmanager          $AM/
  exporter metrics      $E/metrics
Anomalies and delivered alerts appear below as the history plays
(Ctrl-C stops everything).

EOF
# In the background: bash runs the INT/TERM trap (and so the cleanup) at
# once while it waits, not after a foreground child ends.
"$PY" "$root/scripts/demo_monitor.py" --detector "$D" --prometheus "$P" --exporter "$E" \
  --sinks "$work/sinks" --duration "$duration" &
monitor=$!
pids+=("$monitor")
wait "$monitor" || true
