#!/usr/bin/env bash
# README's first command, run non-interactively on a free port: it must start
# the exporter on the bundled history, say where /metrics is, report progress
# and stop everything it started.
source "$(dirname "$0")/lib.sh"
port=$(free_port)
BUILD_DIR=$CICD_BUILD_DIR timeout 60 "$CICD_SOURCE_DIR/scripts/demo.sh" --no-build --duration 3 --port "$port" >"$WORK/demo.out" 2>&1 \
  || fail "demo failed: $(cat "$WORK/demo.out")"
grep -q "metrics:  http://127.0.0.1:$port/metrics" "$WORK/demo.out" || fail "no metrics URL printed"
grep -Eq 'pipelines=[1-9][0-9]* runs counted since start=[1-9]' "$WORK/demo.out" || fail "no progress: $(cat "$WORK/demo.out")"
if curl -fsS -o /dev/null "http://127.0.0.1:$port/-/healthy" 2>/dev/null; then
  fail "the demo left its exporter running"
fi
echo "demo_test: ok"
