#!/usr/bin/env bash
# The Grafana dashboards (dashboards/*.json) without Grafana:
# (a) every panel query and templating query runs against a real Prometheus
#     holding the demo history (backfilled) and scraping a live cicd-exporter
#     (the demo history replayed, plus a GitHub source against a local stub
#     API so the API-health panels have data) and a live cicd-detector that
#     trained on that history. Each query must succeed and return data, once
#     with "All" selected and once for one pipeline
#     (tests/dashboards/check_queries.py);
# (b) every dashboard type-checks against Grafana's published schema
#     (npm @grafana/schema + typescript, tests/dashboards/).
# The replayed history is cut right after the demo's injected queue spike
# (julialang/julia/doctest, run 52946), so that verdict stays the newest one
# and the current-anomaly panels have a row to show.
source "$(dirname "$0")/lib.sh"
exp="$CICD_BIN/cicd-exporter"
det="$CICD_BIN/cicd-detector"
src=$CICD_SOURCE_DIR
PY=/usr/bin/python3

# --- (b) first: fast, and independent of the servers -----------------------
dash_dir="$src/tests/dashboards"
skip_types=0
if [[ ! -d $dash_dir/node_modules/@grafana/schema ]]; then
  if command -v npm >/dev/null && command -v node >/dev/null; then
    (cd "$dash_dir" && npm ci --no-audit --no-fund >"$WORK/npm.log" 2>&1) || fail "npm ci in tests/dashboards:
$(tail -20 "$WORK/npm.log")"
  else
    echo "SKIP (type check): tests/dashboards/node_modules is missing and npm is not installed (the queries are still checked)"
    skip_types=1
  fi
fi
if [[ $skip_types == 0 ]]; then
  command -v node >/dev/null || fail "node is not installed but tests/dashboards/node_modules exists"
  node "$dash_dir/typecheck.mjs" >"$WORK/tsc.log" 2>&1 || fail "dashboards do not type-check:
$(cat "$WORK/tsc.log")"
  cat "$WORK/tsc.log"
fi

# --- (a) the stack -------------------------------------------------------------
# The demo history up to the queue spike; its last 24 h play live at 3600x
# (~24 s), the rest is backfilled.
$PY - "$src/data/demo-runs.jsonl" "$WORK/runs.jsonl" >"$WORK/live_from" <<'PY'
import json, sys
from datetime import datetime, timedelta
runs = sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda r: r["finished_at"])
last = next(r for r in runs if r["pipeline"] == "julialang/julia/doctest" and r["run_id"] == "52946")
kept = [r for r in runs if r["finished_at"] <= last["finished_at"]]
t = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
cut = t(last["finished_at"]) - timedelta(hours=24)
with open(sys.argv[2], "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in kept)
history = sum(1 for r in kept if t(r["finished_at"]) <= cut)
print((history - 0.5) / len(kept))
PY
live_from=$(cat "$WORK/live_from")

exp_port=$(free_port)
prom_port=$(free_port)
det_port=$(free_port)
gh_port=$(free_port)
replay_source="  - type: replay
    name: demo
    file: $WORK/runs.jsonl
    live_from: $live_from
    speed: 3600
    poll_interval: 1s
    initial_lookback: 1m"
cat >"$WORK/backfill.yml" <<YAML
state_file: ""
branches: {keep: [main, master]}
sources:
$replay_source
YAML
backfill_tsdb "$WORK/backfill.yml"
cat >"$WORK/exporter.yml" <<YAML
web:
  listen_address: 127.0.0.1:$exp_port
state_file: ""
branches: {keep: [main, master]}
sources:
$replay_source
  - type: github
    name: github
    api_url: http://127.0.0.1:$gh_port
    token: stub-token
    repositories: [octo-org/app]
    poll_interval: 1s
    initial_lookback: 1m
YAML

# A GitHub API that has no runs but reports its rate limit, like the real one.
cat >"$WORK/github_stub.py" <<'PY'
import http.server, json, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"total_count": 0, "workflow_runs": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-RateLimit-Limit", "5000")
        self.send_header("X-RateLimit-Remaining", "4321")
        self.send_header("X-RateLimit-Reset", str(int(time.time()) + 3600))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
start github_stub $PY "$WORK/github_stub.py" "$gh_port"

cat >"$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: cicd-exporter
    static_configs: [{targets: ["127.0.0.1:$exp_port"]}]
  - job_name: cicd-detector
    static_configs: [{targets: ["127.0.0.1:$det_port"]}]
YAML
run_prometheus "$prom_port"
P="http://127.0.0.1:$prom_port"

cat >"$WORK/detector.yml" <<YAML
prometheus:
  url: $P
  timeout: 5s
web:
  listen_address: 127.0.0.1:$det_port
schedule:
  detect_interval: 1s
  history: 30d
state_dir: ""
exporter_url: http://127.0.0.1:$exp_port
YAML
wait_http "http://127.0.0.1:$gh_port/" 10
start exporter "$exp" --config.file="$WORK/exporter.yml"
wait_http "http://127.0.0.1:$exp_port/-/ready"
start detector "$det" --config.file="$WORK/detector.yml"
D="http://127.0.0.1:$det_port"
wait_http "$D/health"

trained() { curl -fsS "$D/api/v1/status" | grep -q '"state":"ready"'; }
wait_for 30 "the detector to train on the backfilled history" trained
queue_spike() {
  [[ $(prom_count 'cicd_anomaly_info{pipeline="julialang/julia/doctest",kind="queue"}') == 1 ]]
}
wait_for 60 "the replayed queue spike as cicd_anomaly_info in Prometheus" queue_spike
github_scraped() { [[ $(prom_count 'cicd_exporter_api_rate_limit_remaining{source="github"} == 4321') == 1 ]]; }
wait_for 20 "the stub GitHub API's rate limit in Prometheus" github_scraped
# Counters need two scrapes inside a rate window after they changed.
sleep 3

# Target "panel title/refId" that may legitimately return nothing here:
# the age of the oldest active run exists only while a run is active, and the
# replay has finished. On a clean history the anomaly panels (Current
# anomalies, Current anomaly, Anomaly rate by kind, Anomalies in range,
# Anomalies by kind) would be empty too; here they must show the queue spike.
may_be_empty=(--may-be-empty "Active runs/B")
dashboards=("$src"/dashboards/*.json)
[[ ${#dashboards[@]} -ge 2 ]] || fail "expected the overview and pipeline dashboards, found ${dashboards[*]}"
echo "--- all sources and pipelines"
$PY "$src/tests/dashboards/check_queries.py" "$P" "${dashboards[@]}" --var 'source=.*' --var 'pipeline=.*' \
  --expect-value source=buildkite --expect-value pipeline=julialang/julia/doctest \
  --range-window 6h "${may_be_empty[@]}" >"$WORK/all.out" 2>&1 || fail "queries (All):
$(grep -v '^ok' "$WORK/all.out")"
tail -1 "$WORK/all.out"
echo "--- one pipeline: buildkite julialang/julia/doctest"
$PY "$src/tests/dashboards/check_queries.py" "$P" "${dashboards[@]}" --var 'source=buildkite' \
  --var 'pipeline=julialang/julia/doctest' --range-window 6h "${may_be_empty[@]}" \
  >"$WORK/one.out" 2>&1 || fail "queries (one pipeline):
$(grep -v '^ok' "$WORK/one.out")"
tail -1 "$WORK/one.out"

# The current-anomalies table carries the detector's reason, in words.
reason=$(curl -fsS -G "$P/api/v1/query" --data-urlencode \
  'query=cicd_anomaly_info{pipeline="julialang/julia/doctest"}' \
  | $PY -c 'import json,sys; print(json.load(sys.stdin)["data"]["result"][0]["metric"]["reason"])')
[[ $reason == *queue* ]] || fail "queue spike reason without the queue time: $reason"

# Provisioning: the data source uid the dashboards default to is provisioned.
grep -Eq '^\s+uid:\s*"?prometheus"?\s*$' "$src/dashboards/provisioning/datasources/prometheus.yml" \
  || fail "datasource provisioning without uid prometheus"
grep -q '"value": "prometheus"' "$src/dashboards/cicd-overview.json" || fail "overview's datasource default is not uid prometheus"
grep -q 'path: /var/lib/grafana/dashboards' "$src/dashboards/provisioning/dashboards/cicd.yml" \
  || fail "dashboard provider does not read /var/lib/grafana/dashboards"
echo "dashboards_test: ok"
