#!/usr/bin/env bash
# `cicd-detector replay` as scripts call it: on the bundled demo history every
# labelled anomaly (data/demo-anomalies.json) gets an anomalous verdict of its
# kind; malformed lines are reported with their line number, skipped, counted,
# and the exit code says so.
source "$(dirname "$0")/lib.sh"
det="$CICD_BIN/cicd-detector"
"$det" replay --runs "$CICD_SOURCE_DIR/data/demo-runs.jsonl" --out "$WORK/verdicts.jsonl" 2>"$WORK/replay.log" \
  || fail "replay exit code $? on clean input: $(cat "$WORK/replay.log")"
grep -q "840 runs judged" "$WORK/replay.log" || fail "summary: $(cat "$WORK/replay.log")"
python3 - "$WORK/verdicts.jsonl" "$CICD_SOURCE_DIR/data/demo-anomalies.json" <<'PY'
import json, sys
verdicts = [json.loads(l) for l in open(sys.argv[1])]
assert len(verdicts) == 840, len(verdicts)
keys = {"source", "pipeline", "run_id", "scored", "anomalous", "score", "severity", "kind", "reasons"}
for v in verdicts:
    assert keys <= set(v), v
    assert v["anomalous"] == (v["score"] >= 1), v
    if v["anomalous"]:
        assert v["reasons"] and v["severity"] in ("warning", "critical"), v
by_run = {(v["pipeline"], v["run_id"]): v for v in verdicts}
labels = json.load(open(sys.argv[2]))
labels = labels["anomalies"] if isinstance(labels, dict) else labels
for a in labels:
    kind = a["kind"].replace("-", "_")
    hits = [by_run[(a["pipeline"], r)] for r in a["run_ids"] if by_run[(a["pipeline"], r)]["anomalous"]]
    assert hits, f"no alert for {a['kind']} on {a['pipeline']} runs {a['run_ids']}"
    assert any(h["kind"] == kind for h in hits), f"{a['kind']}: alerts of kinds {[h['kind'] for h in hits]}"
print(f"detector_replay_test: all {len(labels)} labelled anomalies found")
PY
# Malformed input: two bad lines among good ones.
{ head -40 "$CICD_SOURCE_DIR/data/demo-runs.jsonl"; echo '{not json'; echo '{"source":"x","pipeline":"p","run_id":"1","status":"completed","result":"success","started_at":"2025-01-01T00:00:00Z","duration_seconds":"NaN"}'; } >"$WORK/bad.jsonl"
set +e
"$det" replay --runs "$WORK/bad.jsonl" --out "$WORK/bad-verdicts.jsonl" 2>"$WORK/bad.log"; rc=$?
set -e
[[ $rc == 3 ]] || fail "exit code $rc with skipped lines, want 3"
grep -q "line 41:" "$WORK/bad.log" || fail "line number of the bad line: $(cat "$WORK/bad.log")"
grep -q "line 42: field \"duration_seconds\" must be a number" "$WORK/bad.log" || fail "NaN rejection: $(cat "$WORK/bad.log")"
grep -q "40 runs judged, .* 2 lines skipped" "$WORK/bad.log" || fail "count: $(tail -1 "$WORK/bad.log")"
[[ $(wc -l <"$WORK/bad-verdicts.jsonl") == 40 ]] || fail "verdict count"
set +e
"$det" replay >/dev/null 2>&1; rc=$?
set -e
[[ $rc == 2 ]] || fail "missing --runs exit code $rc, want 2"
echo "detector_replay_test: ok"
