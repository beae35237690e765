#!/usr/bin/env bash
# README's first command: installs what is needed, builds, and runs the demo on
# the bundled history (data/demo-runs.jsonl) with no CI server or credentials:
# cicd-exporter replays the history as if live on 127.0.0.1 and shows what it
# serves. Ctrl-C stops everything it started.
#
#   scripts/demo.sh [--no-build] [--duration SECONDS] [--port PORT]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
build=1
duration=0
port=9801
while (($#)); do
  case $1 in
    --no-build) build=0 ;;
    --duration) duration=$2; shift ;;
    --port) port=$2; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

if ((build)); then
  echo "==> installing packages (only the missing ones)"
  "$root/scripts/install-deps.sh"
  echo "==> building into $build_dir"
  BUILD_DIR=$build_dir "$root/scripts/build.sh" >/dev/null
fi

work=$(mktemp -d)
pid=""
cleanup() {
  if [[ -n $pid ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

cd "$root"
runs=data/demo-runs.jsonl
url="http://127.0.0.1:$port"
echo "==> starting cicd-exporter on $url (replaying $(wc -l <"$runs") runs from $runs)"
"$build_dir/bin/cicd-exporter" --config.file="$root/config/demo.yaml" \
  --web.listen-address="127.0.0.1:$port" >"$work/exporter.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -fsS -o /dev/null "$url/-/ready" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/exporter.log" >&2; exit 1; }
  sleep 0.1
done
curl -fsS -o /dev/null "$url/-/ready" || { cat "$work/exporter.log" >&2; exit 1; }

echo
echo "cicd-exporter is serving:"
echo "  metrics:  $url/metrics"
echo "  status:   $url/"
echo "  poll now: curl -X POST $url/api/v1/collect"
echo
echo "The oldest 90% of the history is in the past; the rest plays live at 120x."
echo "Backfill it into Prometheus with:"
echo "  $build_dir/bin/cicd-exporter --config.file=config/demo.yaml backfill --since 400d > history.om   # from $root"
echo "  promtool tsdb create-blocks-from openmetrics --max-block-duration=744h history.om DATA_DIR"
echo
start=$SECONDS
while :; do
  metrics=$(curl -fsS "$url/metrics" || true)
  counted=$(awk '/^cicd_exporter_runs_counted_total/ {s+=$2} END {print s+0}' <<<"$metrics")
  running=$(awk '/^cicd_pipeline_runs_active\{.*state="running"/ {s+=$2} END {print s+0}' <<<"$metrics")
  pipelines=$(grep -c '^cicd_pipeline_last_run_finished_timestamp_seconds' <<<"$metrics" || true)
  printf '[%4ds] pipelines=%s runs counted since start=%s running now=%s\n' \
    $((SECONDS - start)) "$pipelines" "$counted" "$running"
  if ((duration > 0 && SECONDS - start >= duration)); then break; fi
  sleep 5
done
