#!/usr/bin/env bash
# The exporter binary as a user runs it: flags, config errors, a live
# /metrics that `promtool check metrics` accepts without a word, and a
# restart that does not count runs twice.
source "$(dirname "$0")/lib.sh"
exp="$CICD_BIN/cicd-exporter"

"$exp" --help | grep -q -- "--config.file" || fail "--help lacks --config.file"
"$exp" --version | grep -q "cicd-exporter, version" || fail "--version"
set +e
"$exp" --no-such-flag >"$WORK/out" 2>&1; rc=$?
set -e
[[ $rc == 2 ]] || fail "unknown flag exit code $rc, want 2"
grep -q "unknown flag --no-such-flag" "$WORK/out" || fail "unknown flag message"

printf 'sources:\n  - type: replay\n    file: x.jsonl\n    speeed: 2\n' >"$WORK/bad.yml"
set +e
"$exp" --config.file="$WORK/bad.yml" >"$WORK/out" 2>&1; rc=$?
set -e
[[ $rc == 1 ]] || fail "bad config exit code $rc, want 1"
grep -q "sources\[0\].speeed (line 4): unknown key" "$WORK/out" || fail "bad config message: $(cat "$WORK/out")"

port=$(free_port)
cat >"$WORK/cfg.yml" <<YAML
web:
  listen_address: 127.0.0.1:$port
state_file: $WORK/cursor.state
sources:
  - type: replay
    name: fixture
    file: $CICD_SOURCE_DIR/tests/fixtures/edge_replay_runs.jsonl
    initial_lookback: 1d
    poll_interval: 1s
YAML
start exporter "$exp" --config.file="$WORK/cfg.yml" --log.level=debug
wait_http "http://127.0.0.1:$port/-/ready"
curl -fsS "http://127.0.0.1:$port/metrics" >"$WORK/metrics.txt"
lint=$(promtool check metrics <"$WORK/metrics.txt" 2>&1 || true)
[[ -z $lint ]] || fail "promtool check metrics: $lint"
grep -q '^cicd_exporter_runs_counted_total{source="fixture"} 5$' "$WORK/metrics.txt" || fail "5 runs counted"
grep -q '^cicd_exporter_build_info{version="' "$WORK/metrics.txt" || fail "build_info"
[[ -s $WORK/cursor.state ]] || fail "cursor state not written"

# Restart: the cursor says all 5 were counted, so none are counted again.
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
start exporter2 "$exp" --config.file="$WORK/cfg.yml"
wait_http "http://127.0.0.1:$port/-/ready"
curl -fsS "http://127.0.0.1:$port/metrics" >"$WORK/metrics2.txt"
grep -q '^cicd_exporter_runs_counted_total{source="fixture"} 0$' "$WORK/metrics2.txt" || fail "runs counted twice after restart"
grep -q '^cicd_pipeline_last_run_duration_seconds{source="buildkite",pipeline="org/app/build"} 2400$' "$WORK/metrics2.txt" \
  || fail "last run not restored after restart"
echo "exporter_cli_test: ok"
