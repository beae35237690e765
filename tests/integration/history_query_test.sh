#!/usr/bin/env bash
# The detector's history query against a real Prometheus (cicd-detector
# history prints what training reads):
#  - org/sparse/ci, backfilled one sample per run: run 2 finishes 2 min after
#    run 1 and reports no tests and no queue time; it must not inherit run
#    1's (the instant selector's 5 min lookback would hand them over);
#  - org/scraped/ci, stored as scrapes store it (every gauge every 15 s for 2
#    hours, a run every 10 min, two consecutive runs with the same duration):
#    every run exactly once, with its own values.
source "$(dirname "$0")/lib.sh"
now=$(date +%s)
python3 - "$WORK/history.om" "$WORK/want.json" "$now" <<'PY'
import json, sys
om, want_path, now = sys.argv[1], sys.argv[2], int(sys.argv[3])
results = ["success", "failure", "error", "timeout", "cancellation", "skip"]
G = "cicd_pipeline_last_run_"
samples = {}  # (metric, labels) -> [(t, v)]
def put(metric, labels, t, v):
    samples.setdefault((G + metric, labels), []).append((t, v))
def emit(p, t, run):
    base = 'source="it",pipeline="%s"' % p
    put("finished_timestamp_seconds", base, t, run["finished"])
    put("duration_seconds", base, t, run["duration"])
    put("number", base, t, run["number"])
    if "queue" in run:
        put("queue_seconds", base, t, run["queue"])
    if "failed" in run:
        for outcome in ("passed", "failed", "skipped"):
            put("tests", base + ',outcome="%s"' % outcome, t, run[outcome])
    for r in results:
        put("result", base + ',result="%s"' % r, t, 1 if run["result"] == r else 0)
want = {}
# Sparse: one sample per run at its finish.
t1 = now - 3600
sparse = [dict(finished=t1, duration=100, number=1, queue=5, passed=10, failed=7, skipped=0, result="success"),
          dict(finished=t1 + 120, duration=200, number=2, result="failure")]
for run in sparse:
    emit("org/sparse/ci", run["finished"], run)
want["org/sparse/ci"] = sparse
# Scraped: the last finished run's values every 15 s.
start = now - 7200 - now % 15
runs = []
for i in range(12):
    runs.append(dict(finished=start + 300 + 600 * i, duration=300 if i in (4, 5) else 250 + i, number=10 + i,
                     queue=2 + i, passed=100, failed=i % 2, skipped=1, result="success" if i % 3 else "failure"))
for t in range(start, now - 60, 15):
    done = [r for r in runs if r["finished"] <= t]
    if done:
        emit("org/scraped/ci", t, done[-1])
want["org/scraped/ci"] = [r for r in runs if r["finished"] <= now - 75]
with open(om, "w") as f:
    for metric in sorted({m for m, _ in samples}):
        f.write("# TYPE %s gauge\n" % metric)
        for (m, labels), pts in sorted(samples.items()):
            if m == metric:
                f.writelines("%s{%s} %r %d\n" % (m, labels, v, t) for t, v in pts)
    f.write("# EOF\n")
json.dump(want, open(want_path, "w"))
PY
mkdir -p "$WORK/tsdb"
promtool tsdb create-blocks-from openmetrics "$WORK/history.om" "$WORK/tsdb" >"$WORK/promtool.log" 2>&1 \
  || fail "promtool: $(cat "$WORK/promtool.log")"
port=$(free_port)
printf 'global:\n  scrape_interval: 1m\n' >"$WORK/prometheus.yml"
run_prometheus "$port"
cat >"$WORK/detector.yml" <<YAML
prometheus:
  url: http://127.0.0.1:$port
  history_step: 15s
  history_window: 1h
YAML
"$CICD_BIN/cicd-detector" history --config.file="$WORK/detector.yml" --range 1d --out "$WORK/got.jsonl" \
  2>"$WORK/history.err" || fail "cicd-detector history: $(cat "$WORK/history.err")"
python3 - "$WORK/got.jsonl" "$WORK/want.json" <<'PY' || fail "history differs (stderr: $(cat "$WORK/history.err"))"
import json, sys
from datetime import datetime
got = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    got.setdefault(r["pipeline"], []).append(r)
want = json.load(open(sys.argv[2]))
assert sorted(got) == sorted(want), "pipelines %s, want %s" % (sorted(got), sorted(want))
for p, runs in want.items():
    g = got[p]
    assert len(g) == len(runs), "%s: %d runs, want %d: %s" % (p, len(g), len(runs), [r["number"] for r in g])
    for r, w in zip(g, runs):
        fin = datetime.fromisoformat(r["finished_at"].replace("Z", "+00:00")).timestamp()
        assert abs(fin - w["finished"]) < 1, (p, r, w)
        assert r["number"] == w["number"] and r["duration_seconds"] == w["duration"], (p, r, w)
        assert r["result"] == w["result"], (p, r, w)
        assert r.get("queue_seconds") == w.get("queue"), ("queue", p, r, w)
        if "failed" in w:
            assert r["tests_failed"] == w["failed"] and r["tests_total"] == w["passed"] + w["failed"] + w["skipped"], (p, r, w)
        else:
            assert "tests_total" not in r, ("a run without tests got the previous run's", p, r)
print("history_query_test: %s" % {p: len(v) for p, v in got.items()})
PY
echo "history_query_test: ok"
