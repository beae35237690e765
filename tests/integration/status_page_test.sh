#!/usr/bin/env bash
# The detector's status page (GET /) in a real browser: headless Chromium
# (Debian's chromium package) renders the page served by a detector that
# trained from a backfilled history in a real Prometheus and then judged a
# slow run played live. The rendered DOM has the title, the pipeline, its
# inline SVG chart with the anomalous run marked, and the anomaly with its
# reason; the screenshot is kept as $CICD_BUILD_DIR/status_page.png (the
# test's artifact).
source "$(dirname "$0")/lib.sh"
det="$CICD_BIN/cicd-detector"
command -v chromium >/dev/null || fail "chromium not installed (scripts/install-deps.sh)"

# 80 normal hourly runs backfilled, one slow run played live (lib.sh).
slow_run_setup
run_prometheus "$prom_port"

cat >"$WORK/detector.yml" <<YAML
prometheus:
  url: http://127.0.0.1:$prom_port
  timeout: 2s
  max_attempts: 1
web:
  listen_address: 127.0.0.1:$det_port
schedule:
  detect_interval: 1s
  history: 30d
state_dir: $WORK/state
detection:
  min_runs: 20
YAML
D="http://127.0.0.1:$det_port"
start detector "$det" --config.file="$WORK/detector.yml"
wait_http "$D/health"
trained() { curl -fsS "$D/api/v1/status" | grep -q '"state":"ready"'; }
for ((i = 0; i < 60; i++)); do
  if trained; then break; fi
  sleep 0.5
done
trained || fail "the model did not train from the backfilled history: $(cat "$WORK/detector.log")"
start exporter "$CICD_BIN/cicd-exporter" --config.file="$WORK/exporter.yml"
slow_judged() { curl -fsS "$D/api/v1/anomalies?hours=1" | grep -q '"kind":"slow"'; }
wait_for 60 "the live slow run judged anomalous" slow_judged
curl -fsS "$D/" | grep -q "<svg" || fail "status page without a chart (before the browser)"

# Headless Chromium, offline: no background networking, a fresh profile per run.
browser() {  # browser NAME ARGS... (stdout to $WORK/NAME.out, stderr to $WORK/NAME.err)
  local name=$1
  shift
  local profile
  profile=$(mktemp -d "$WORK/chromium-profile.XXXXXX")
  timeout -k 5 60 env HOME="$WORK" chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$profile" \
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || fail "chromium $name exit $?: $(tail -n 20 "$WORK/$name.err")"
}

browser dom --dump-dom "$D/"
dom="$WORK/dom.out"
grep -q "<title>cicd-detector</title>" "$dom" || fail "rendered DOM has no title: $(head -c 2000 "$dom")"
grep -q "<h1>cicd-detector</h1>" "$dom" || fail "rendered DOM has no heading"
grep -q "<svg" "$dom" || fail "rendered DOM has no <svg>"
grep -q "<circle" "$dom" || fail "rendered chart has no points"
grep -q "org/app/ci" "$dom" || fail "rendered DOM does not name the pipeline"
grep -q '<circle[^>]*class="anomalous"' "$dom" || fail "the chart does not mark the anomalous run"
grep -q "duration 3000 s" "$dom" || fail "the page does not show the anomaly's reason"

shot="$CICD_BUILD_DIR/status_page.png"
rm -f "$shot"
browser screenshot --screenshot="$shot" --window-size=1280,900 --hide-scrollbars "$D/"
[[ -f $shot ]] || fail "no screenshot at $shot: $(tail -n 20 "$WORK/screenshot.err")"
size=$(stat -c %s "$shot")
((size > 5000)) || fail "screenshot only $size bytes"
[[ $(head -c 8 "$shot" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "screenshot is not a PNG"
echo "status_page_test: ok (screenshot $shot, $size bytes)"
