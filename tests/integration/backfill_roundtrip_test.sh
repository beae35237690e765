#!/usr/bin/env bash
# Backfill round trip with the real promtool and Prometheus: every run written
# by `cicd-exporter backfill` comes back from Prometheus's HTTP API with the
# same duration at its finish time, and the runs counter ends at the run count.
source "$(dirname "$0")/lib.sh"
exp="$CICD_BIN/cicd-exporter"
runs="$CICD_SOURCE_DIR/tests/fixtures/edge_replay_runs.jsonl"

cat >"$WORK/cfg.yml" <<YAML
sources:
  - type: replay
    name: fixture
    file: $runs
YAML
"$exp" --config.file="$WORK/cfg.yml" export --since 30d --output "$WORK/runs.jsonl" 2>"$WORK/export.log"
"$exp" --config.file="$WORK/cfg.yml" backfill --since 30d --output "$WORK/backfill.om" 2>"$WORK/backfill.log"
tail -1 "$WORK/backfill.om" | grep -qx "# EOF" || fail "no # EOF"
mkdir -p "$WORK/tsdb"
promtool tsdb create-blocks-from openmetrics --max-block-duration=744h "$WORK/backfill.om" "$WORK/tsdb" >"$WORK/promtool.log" 2>&1 \
  || fail "promtool rejected the backfill: $(cat "$WORK/promtool.log")"

port=$(free_port)
printf 'global:\n  scrape_interval: 1m\n' >"$WORK/prometheus.yml"
run_prometheus "$port"

python3 - "$port" "$WORK/runs.jsonl" <<'PY'
import json, sys, urllib.parse, urllib.request
port, runs_file = sys.argv[1], sys.argv[2]
runs = [json.loads(l) for l in open(runs_file) if l.strip()]
assert len(runs) == 5, f"export wrote {len(runs)} runs, want 5"
def query(q):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": q})
    body = json.load(urllib.request.urlopen(url, timeout=10))
    assert body["status"] == "success", body
    return body["data"]["result"]
# export and backfill are two runs of the replay source, each anchored at its
# own "now" (and export prints whole seconds): finish times may differ by up
# to 2 s between them, so runs are matched in order per pipeline.
got = {}
for series in query('cicd_pipeline_last_run_duration_seconds[10y]'):
    p = series["metric"]["pipeline"]
    got[p] = [(float(ts), float(v)) for ts, v in series["values"]]
from datetime import datetime, timezone
want = {}
for r in runs:
    t = datetime.strptime(r["finished_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    want.setdefault(r["pipeline"], []).append((t, float(r["duration_seconds"])))
assert sorted(got) == sorted(want), f"pipelines differ: {sorted(got)} vs {sorted(want)}"
for p in want:
    w, g = sorted(want[p]), got[p]
    assert len(g) == len(w), f"{p}: {len(g)} runs in Prometheus, {len(w)} exported"
    for (wt, wv), (gt, gv) in zip(w, g):
        assert abs(wt - gt) <= 2 and wv == gv, f"{p}: got ({gt}, {gv}), want ({wt}, {wv})"
total = sum(float(s["value"][1]) for s in query('sum(last_over_time(cicd_pipeline_runs_total[10y]))'))
assert total == len(runs), f"runs_total {total}, want {len(runs)}"
# Test counts per run: the failed count of each run that reported tests.
failed = {}
for series in query('cicd_pipeline_last_run_tests{outcome="failed"}[10y]'):
    failed[series["metric"]["pipeline"]] = [float(v) for _, v in series["values"]]
want_failed = [float(r["tests_failed"]) for r in sorted(runs, key=lambda r: r["finished_at"])
               if r["pipeline"] == "org/app/build" and "tests_failed" in r]
assert failed == {"org/app/build": want_failed}, f"failed tests {failed}, want {want_failed}"
# The queue histogram and the tests counter hold every run, as the live
# exporter's would.
queued = sum(float(s["value"][1]) for s in query('sum(last_over_time(cicd_pipeline_run_queue_seconds_count[10y]))'))
want_queued = sum(1 for r in runs if r.get("queue_seconds") is not None)
assert queued == want_queued and want_queued > 0, f"queue histogram count {queued}, want {want_queued}"
failed_total = sum(float(s["value"][1]) for s in query('sum(last_over_time(cicd_pipeline_tests_total{outcome="failed"}[10y]))'))
assert failed_total == sum(want_failed), f"tests_total failed {failed_total}, want {sum(want_failed)}"
print(f"backfill_roundtrip_test: ok ({len(runs)} runs, failed-test counts {want_failed})")
PY
