#!/usr/bin/env bash
# How the detector reads run history from a real Prometheus, old way against
# new way, on series stored the way scrapes store them (one sample of every
# last-run gauge per scrape interval, not one per run):
#   raw:     the six range selectors `cicd_pipeline_last_run_*[RANGE]` through
#            /api/v1/query (what the detector did first): every scraped sample
#            comes back and is parsed, then deduplicated in the detector;
#   history: the detector's HistoryQuery (detector/src/history.cc), one
#            subquery per 1-day window that keeps only the steps where the
#            finish time changed: one point per run comes back.
# Prints a table: runs rebuilt, samples and bytes returned, wall time.
#
#   bench/history_read_bench.sh        PIPELINES=10 DAYS=3 SCRAPE=15 bench/history_read_bench.sh
#
# Knobs: PIPELINES (10), DAYS (3), SCRAPE (scrape interval, s; 15), PERIOD
# (seconds between runs of a pipeline; 3600), BUILD_DIR (build). About 30 s.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
PIPELINES=${PIPELINES:-10} DAYS=${DAYS:-3} SCRAPE=${SCRAPE:-15} PERIOD=${PERIOD:-3600}
work=$(mktemp -d "${TMPDIR:-/tmp}/history-bench.XXXXXX")
prom_pid=""
cleanup() {
  if [[ -n $prom_pid ]]; then kill "$prom_pid" 2>/dev/null || true; wait "$prom_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

now=$(date +%s)
echo "generating $PIPELINES pipelines x $DAYS days scraped every ${SCRAPE}s ..." >&2
/usr/bin/python3 - "$work/scraped.om" "$PIPELINES" "$DAYS" "$SCRAPE" "$PERIOD" "$now" <<'PY'
import random, sys
path, n, days, scrape, period, now = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
start = now - int(days * 86400)
results = ["success", "failure", "error", "timeout", "cancellation", "skip"]
rng = random.Random(7)
# Runs per pipeline: (finish time, duration, queue, number, passed, failed, skipped, result).
runs = {}
for p in range(n):
    rs, t, num = [], start - period + rng.uniform(0, period), 1
    while t < now:
        d = 600 * rng.lognormvariate(0, 0.1)
        failed = rng.random() < 0.05
        rs.append((t + d, d, rng.expovariate(1 / 10), num, 1400, 3 if failed else 0, 12, "failure" if failed else "success"))
        t += period
        num += 1
    runs[p] = [r for r in rs if r[0] < now]
ticks = list(range(start - start % scrape + scrape, now, scrape))
def state_at(rs, t, i):  # index of the last run finished at or before t
    while i + 1 < len(rs) and rs[i + 1][0] <= t:
        i += 1
    return i
families = [
    ("cicd_pipeline_last_run_finished_timestamp_seconds", lambda r: [("", r[0])]),
    ("cicd_pipeline_last_run_duration_seconds", lambda r: [("", r[1])]),
    ("cicd_pipeline_last_run_queue_seconds", lambda r: [("", r[2])]),
    ("cicd_pipeline_last_run_number", lambda r: [("", r[3])]),
    ("cicd_pipeline_last_run_tests", lambda r: [(',outcome="passed"', r[4]), (',outcome="failed"', r[5]), (',outcome="skipped"', r[6])]),
    ("cicd_pipeline_last_run_result", lambda r: [(',result="%s"' % x, 1 if r[7] == x else 0) for x in results]),
]
with open(path, "w") as f:
    for name, values in families:
        f.write("# TYPE %s gauge\n" % name)
        for p in range(n):
            rs = runs[p]
            base = 'source="bench",pipeline="org/repo%d/ci.yml"' % p
            per_series = {}
            i = -1
            for t in ticks:
                i = state_at(rs, t, i)
                if i < 0:
                    continue
                for extra, v in values(rs[i]):
                    per_series.setdefault(extra, []).append("%s{%s%s} %r %d\n" % (name, base, extra, v, t))
            for lines in per_series.values():
                f.writelines(lines)
    f.write("# EOF\n")
PY
promtool tsdb create-blocks-from openmetrics --max-block-duration=744h "$work/scraped.om" "$work/tsdb" >"$work/promtool.log" 2>&1 \
  || { cat "$work/promtool.log" >&2; exit 1; }
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
printf 'global:\n  scrape_interval: 1m\n' >"$work/prometheus.yml"
setsid prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --storage.tsdb.retention.time=400d --web.listen-address="127.0.0.1:$port" >"$work/prometheus.log" 2>&1 &
prom_pid=$!
for _ in $(seq 300); do curl -fsS -o /dev/null "http://127.0.0.1:$port/-/ready" 2>/dev/null && break; sleep 0.1; done

/usr/bin/python3 - "$port" "$now" "$DAYS" "$SCRAPE" "$PIPELINES" <<'PY'
import json, sys, time, urllib.parse, urllib.request
port, now, days, scrape, n = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rng_s = int(days * 86400)
def query(q, at):
    url = "http://127.0.0.1:%s/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": q, "time": at}))
    t0 = time.perf_counter()
    body = urllib.request.urlopen(url, timeout=600).read()
    dt = time.perf_counter() - t0
    doc = json.loads(body)
    assert doc["status"] == "success", doc
    return doc["data"]["result"], len(body), dt
F = "cicd_pipeline_last_run_finished_timestamp_seconds"
names = [F, "cicd_pipeline_last_run_duration_seconds", "cicd_pipeline_last_run_queue_seconds",
         "cicd_pipeline_last_run_number", "cicd_pipeline_last_run_tests", "cicd_pipeline_last_run_result"]
rows = []
# raw: the six range selectors.
samples = size = 0; wall = 0.0; runs = set()
for name in names:
    res, b, dt = query("%s[%ds]" % (name, rng_s), now)
    size += b; wall += dt
    for s in res:
        samples += len(s["values"])
        if name == F:
            runs.update((s["metric"]["pipeline"], v) for _, v in s["values"])
rows.append(("raw range selectors", 6, len(runs), samples, size, wall))
# history: the detector's query, 1-day windows at the scrape interval.
def history_query(window_ms, step_ms):  # the text HistoryQuery builds (history.cc)
    f = F + "{}"
    ch = "(%s unless %s == %s offset %dms)" % (f, f, f, step_ms)
    def fresh(x): return "(%s{} and last_over_time(%s{}[%dms]))" % (x, x, step_ms)
    def fld(e, n): return 'label_replace(%s, "cicd_field", "%s", "__name__", ".*")' % (e, n)
    parts = [fld(ch, "finished"),
             fld(fresh("cicd_pipeline_last_run_duration_seconds") + " and " + ch, "duration"),
             fld(fresh("cicd_pipeline_last_run_queue_seconds") + " and " + ch, "queue"),
             fld(fresh("cicd_pipeline_last_run_number") + " and " + ch, "number"),
             fld(fresh("cicd_pipeline_last_run_tests") + " and ignoring(outcome) " + ch, "tests"),
             fld("(" + fresh("cicd_pipeline_last_run_result") + " == 1) and ignoring(result) " + ch, "result")]
    return "(" + " or ".join(parts) + ")[%dms:%dms]" % (window_ms, step_ms)
samples = size = 0; wall = 0.0; runs = set(); queries = 0
t = now - rng_s
while t < now:
    end = min(now, t + 86400)
    res, b, dt = query(history_query((end - t) * 1000, scrape * 1000), end)
    size += b; wall += dt; queries += 1
    for s in res:
        samples += len(s["values"])
        if s["metric"].get("cicd_field") == "finished":
            runs.update((s["metric"]["pipeline"], v) for _, v in s["values"])
    t = end
rows.append(("history query (step %ds)" % scrape, queries, len(runs), samples, size, wall))
print("| %d pipelines x %g days, scraped every %d s | queries | runs rebuilt | samples returned | bytes returned | wall s |" % (n, days, scrape))
print("|---|---:|---:|---:|---:|---:|")
for name, q, r, s, b, w in rows:
    print("| %s | %d | %d | %d | %d | %.2f |" % (name, q, r, s, b, w))
raw, new = rows
print("| ratio raw / history | | | %.0fx | %.0fx | %.1fx |" % (raw[3] / max(new[3], 1), raw[4] / max(new[4], 1), raw[5] / max(new[5], 1e-9)))
PY
