#!/usr/bin/env bash
# The whole chain on loopback, as README's demo runs it (scripts/demo.sh):
# replayed CI history -> cicd-exporter -> Prometheus -> cicd-detector ->
# Prometheus rules -> Alertmanager -> Slack/webhook/email sinks.
#
# Three pipelines with 60 hourly runs each; one run of org/app/ci, in the live
# part of the replay, takes 3000 s instead of ~600 s. That run must arrive at
# the webhook sink as CICDRunAnomalous with the detector's reasons, and no
# pipeline alert may arrive for the two clean pipelines. Prints the delay from
# the anomalous run's finish to the alert's arrival (README figure).
source "$(dirname "$0")/lib.sh"

python3 - "$WORK/runs.jsonl" >"$WORK/live_from" <<'PY'
import json, sys
from datetime import datetime, timedelta, timezone
t0 = datetime(2025, 3, 1, tzinfo=timezone.utc)
fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
runs = []
for k, pipeline in enumerate(["org/app/ci", "org/lib/ci", "org/web/ci"]):
    for i in range(60):
        start = t0 + timedelta(hours=i, minutes=10 * k)
        duration = 600 + (i * 7 + k * 5) % 21 - 10
        if pipeline == "org/app/ci" and i == 57:
            duration = 3000  # the injected anomaly
        runs.append({"source": "replay", "pipeline": pipeline, "branch": "main", "run_id": str(i + 1),
                     "number": i + 1, "status": "completed", "result": "success",
                     "created_at": fmt(start - timedelta(seconds=5)), "started_at": fmt(start),
                     "finished_at": fmt(start + timedelta(seconds=duration)),
                     "tests_total": 1500, "tests_failed": 0, "tests_skipped": 2})
runs.sort(key=lambda r: r["finished_at"])
with open(sys.argv[1], "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in runs)
# The replay's live part starts 20 min (of CI time) before the slow run ends.
slow_end = next(r["finished_at"] for r in runs if r["pipeline"] == "org/app/ci" and r["run_id"] == "58")
cut = fmt(datetime.fromisoformat(slow_end.replace("Z", "+00:00")) - timedelta(minutes=20))
past = sum(1 for r in runs if r["finished_at"] <= cut)
print((past - 0.5) / len(runs))  # ReplayTimeline: cut = finish of run ceil(q * n) - 1
PY

# 60x: the slow run finishes ~20 s after the exporter starts; the clean
# pipelines' next runs follow within the minute. history_step 1s, as the
# scrape interval: a run is seen at the first detection after its scrape.
BUILD_DIR=$CICD_BUILD_DIR timeout 240 "$CICD_SOURCE_DIR/scripts/demo.sh" --no-build --free-ports \
  --duration 75 --work "$WORK/stack" --runs "$WORK/runs.jsonl" --speed 60 \
  --live-from "$(cat "$WORK/live_from")" --history 7d --step 1s >"$WORK/demo.out" 2>&1 \
  || fail "demo.sh failed: $(tail -30 "$WORK/demo.out")"

grep -q "detector trained 3 pipelines" "$WORK/demo.out" || fail "no training: $(cat "$WORK/demo.out")"
grep -q "ANOMALY org/app/ci run 58: slow" "$WORK/demo.out" || fail "anomaly not found: $(cat "$WORK/demo.out")"

python3 - "$WORK/stack/sinks" <<'PY' || fail "sinks: $(cat "$WORK/demo.out")"
import glob, json, os, sys
alerts = []
for path in sorted(glob.glob(os.path.join(sys.argv[1], "webhook-*.json"))):
    d = json.load(open(path))
    for a in d["payload"]["alerts"]:
        alerts.append(a)
pipeline_alerts = [a for a in alerts if "pipeline" in a["labels"]]
hit = [a for a in pipeline_alerts if a["labels"]["pipeline"] == "org/app/ci" and a["status"] == "firing"
       and a["labels"]["alertname"] == "CICDRunAnomalous" and a["labels"]["kind"] == "slow"]
assert hit, "no CICDRunAnomalous for org/app/ci at the webhook sink: %s" % alerts
desc = hit[0]["annotations"]["description"]
assert "duration 3000 s" in desc and "Detector:" in desc, "reasons missing from the description: %r" % desc
clean = [a for a in pipeline_alerts if a["labels"]["pipeline"] != "org/app/ci"]
assert not clean, "alerts for clean pipelines: %s" % [(a["labels"]["alertname"], a["labels"]["pipeline"]) for a in clean]
assert glob.glob(os.path.join(sys.argv[1], "slack-*.json")), "nothing at the Slack sink"
print("webhook: %d alert(s), reasons: %s" % (len(hit), desc))
PY

line=$(grep "ALERT delivered to the webhook sink: CICDRunAnomalous org/app/ci" "$WORK/demo.out" | head -1)
[[ $line =~ ([0-9.]+)\ s\ after\ the\ run\ finished ]] || fail "no latency printed: $line"
echo "e2e: anomalous run finished -> alert at the webhook sink in ${BASH_REMATCH[1]} s"
grep -q "stopped everything the demo started" "$WORK/demo.out" || fail "no cleanup message"
for port in $(grep -Eo '127\.0\.0\.1:[0-9]+' "$WORK/demo.out" | sort -u | cut -d: -f2); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then fail "port $port still answers after the demo"; fi
done
echo "e2e_test: ok"
