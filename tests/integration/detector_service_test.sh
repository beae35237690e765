#!/usr/bin/env bash
# The detector sidecar end to end with the real Prometheus: history
# backfilled by the exporter, the exporter (replay source) and the detector
# both scraped every second. An anomalous run played live shows up as
# cicd_anomaly_score >= 1 in Prometheus and in /api/v1/anomalies with its
# reasons; a restart loads the models (no retrain) with the history intact;
# with Prometheus stopped the detector keeps serving, says so, and recovers.
source "$(dirname "$0")/lib.sh"
exp="$CICD_BIN/cicd-exporter"
det="$CICD_BIN/cicd-detector"

# 80 normal hourly runs backfilled, one slow run played live (lib.sh).
slow_run_setup
start_prometheus() {
  start "prometheus$1" prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
    --storage.tsdb.retention.time=400d --web.listen-address="127.0.0.1:$prom_port"
  wait_http "http://127.0.0.1:$prom_port/-/ready" 30
}
start_prometheus 1
prom_pid=${PIDS[-1]}

export CICD_TEST_DETECTOR_TOKEN=it-secret-token-123
cat >"$WORK/detector.yml" <<YAML
prometheus:
  url: http://127.0.0.1:$prom_port
  timeout: 2s
  max_attempts: 1
web:
  listen_address: 127.0.0.1:$det_port
  max_body_bytes: 4096
schedule:
  detect_interval: 1s
  history: 30d
state_dir: $WORK/state
api_token: \${CICD_TEST_DETECTOR_TOKEN}
exporter_url: http://127.0.0.1:$exp_port
detection:
  min_runs: 20
YAML
D="http://127.0.0.1:$det_port"
P="http://127.0.0.1:$prom_port"
AUTH="Authorization: Bearer $CICD_TEST_DETECTOR_TOKEN"

# Bad config: the error names the key and line.
printf 'schedule:\n  retrain_at: "25:61"\n' >"$WORK/bad.yml"
set +e
"$det" --config.file="$WORK/bad.yml" >"$WORK/out" 2>&1; rc=$?
set -e
[[ $rc == 1 ]] || fail "bad config exit code $rc, want 1"
grep -q "schedule.retrain_at (line 2)" "$WORK/out" || fail "bad config message: $(cat "$WORK/out")"

start detector1 "$det" --config.file="$WORK/detector.yml" --log.level=debug
det_pid=${PIDS[-1]}
wait_http "$D/health"
start exporter "$exp" --config.file="$WORK/exporter.yml"
wait_http "http://127.0.0.1:$exp_port/-/ready"

trained() { curl -fsS "$D/api/v1/status" | grep -q '"state":"ready"'; }
wait_for 30 "the model trained from the backfilled history" trained
grep -q 'msg="training done" pipelines=1' "$WORK/detector1.log" || fail "no training log line"
# Every backfilled run is learnt once: the history query deduplicates in
# Prometheus (one point per finish time), however often it was scraped. The
# newest run may only show at the next history_step (then detection judges
# it), hence one less.
backfilled=$(grep -c '^cicd_pipeline_last_run_finished_timestamp_seconds{' "$WORK/backfill.om")
learnt=$(sed -n 's/.*msg="training done" pipelines=1 runs=\([0-9]*\).*/\1/p' "$WORK/detector1.log" | head -1)
[[ $learnt -ge $((backfilled - 1)) && $learnt -le $backfilled ]] \
  || fail "training learnt $learnt runs, the backfill holds $backfilled"
echo "training learnt $learnt of $backfilled backfilled runs"

anomaly_in_prometheus() { [[ $(prom_count 'cicd_anomaly_score{pipeline="org/app/ci",model="run"} >= 1') == 1 ]]; }
wait_for 60 "cicd_anomaly_score >= 1 in Prometheus" anomaly_in_prometheus
curl -fsS "$D/api/v1/anomalies?hours=1" >"$WORK/anomalies.json"
python3 - "$WORK/anomalies.json" <<'PY' || fail "anomalies: $(cat "$WORK/anomalies.json")"
import json, sys
a = json.load(open(sys.argv[1]))["anomalies"]
assert len(a) == 1, a
assert a[0]["pipeline"] == "org/app/ci" and a[0]["kind"] == "slow" and a[0]["run_id"] == "81", a
assert any("duration 3000 s" in r for r in a[0]["reasons"]), a
PY
[[ $(prom_count 'cicd_anomalies_total{pipeline="org/app/ci",kind="slow"}') == 1 ]] || fail "anomalies counter not scraped"
[[ $(prom_count 'cicd_anomaly_expected{pipeline="org/app/ci",feature="duration",bound="median"} > 580') == 1 ]] \
  || fail "expected band not scraped"

# Metrics lint clean; secrets nowhere.
curl -fsS "$D/metrics" >"$WORK/metrics.txt"
lint=$(promtool check metrics <"$WORK/metrics.txt" 2>&1 || true)
[[ -z $lint ]] || fail "promtool check metrics: $lint"
for url in "$D/metrics" "$D/api/v1/status" "$D/"; do
  curl -fsS "$url" >"$WORK/body.txt" || fail "GET $url failed"
  [[ -s $WORK/body.txt ]] || fail "GET $url returned nothing"
  if grep -qF "$CICD_TEST_DETECTOR_TOKEN" "$WORK/body.txt"; then fail "token leaked at $url"; fi
done
[[ -s $WORK/detector1.log ]] || fail "the detector wrote no log"
if grep -qF "$CICD_TEST_DETECTOR_TOKEN" "$WORK/detector1.log"; then fail "token in the log"; fi
curl -fsS "$D/" | grep -q "<svg" || fail "status page without a chart"

# API over HTTP.
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[[ $(code -X POST "$D/api/v1/detect") == 401 ]] || fail "POST without token"
[[ $(code -X POST -H "$AUTH" -d '{"threshold":1}' "$D/api/v1/detect") == 200 ]] || fail "detect"
[[ $(code -X POST -H "$AUTH" -d '{"threshold":"x"}' "$D/api/v1/detect") == 400 ]] || fail "detect bad type"
[[ $(code -X POST -H "$AUTH" -d '{' "$D/api/v1/train") == 400 ]] || fail "train bad json"
[[ $(code -X POST -H "$AUTH" --data-binary @"$WORK/backfill.om" "$D/api/v1/train") == 413 ]] || fail "413"
[[ $(code -X POST -H "$AUTH" "$D/api/v1/collect") == 202 ]] || fail "collect through the exporter"
[[ $(code "$D/api/v1/nope") == 404 ]] || fail "404"
[[ $(code "$D/api/v1/anomalies?hours=x") == 400 ]] || fail "bad hours"

# Restart: models loaded, no retrain, history intact.
trained_at=$(curl -fsS "$D/api/v1/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pipelines"][0]["model_trained_at"])')
kill "$det_pid"
wait "$det_pid" 2>/dev/null || true
start detector2 "$det" --config.file="$WORK/detector.yml"
det_pid=${PIDS[-1]}
wait_http "$D/health"
grep -q 'msg="state loaded" models=1 anomalies=1' "$WORK/detector2.log" || fail "state not loaded: $(cat "$WORK/detector2.log")"
sleep 2
if grep -q "training done" "$WORK/detector2.log"; then fail "retrained after restart"; fi
curl -fsS "$D/api/v1/status" | grep -q "\"model_trained_at\":\"$trained_at\"" || fail "trained_at changed"
curl -fsS "$D/api/v1/anomalies?hours=1" | grep -q '"run_id":"81"' || fail "anomaly history lost on restart"

# Prometheus down: the detector keeps serving and says so; then recovers.
kill "$prom_pid"
wait "$prom_pid" 2>/dev/null || true
down() { curl -fsS "$D/metrics" | grep -q '^cicd_detector_prometheus_up 0$'; }
wait_for 20 "cicd_detector_prometheus_up 0" down
curl -fsS "$D/api/v1/status" | grep -q '"prometheus_up":false' || fail "status does not report Prometheus down"
curl -fsS "$D/metrics" | grep -q '^cicd_anomaly_score{source="replay",pipeline="org/app/ci",model="run"}' \
  || fail "last scores not served while Prometheus is down"
start_prometheus 2
up() { curl -fsS "$D/metrics" | grep -q '^cicd_detector_prometheus_up 1$'; }
wait_for 20 "cicd_detector_prometheus_up back to 1" up
echo "detector_service_test: ok"
