#!/usr/bin/env bash
# README's first command, run non-interactively (scripts/demo.sh --no-build on
# free ports): on the bundled history it must train the detector, print the
# injected queue anomaly of julialang/julia/doctest with its reasons and the
# alert Alertmanager delivered for it, with the URLs; then Ctrl-C (SIGINT to
# its process group, as a terminal sends) must stop every process it started
# and remove its files.
source "$(dirname "$0")/lib.sh"

# A background job of a non-interactive shell starts with SIGINT ignored,
# which a bash trap cannot undo: restore the default first, as a terminal
# session has it, then run the demo as its own process group's leader.
BUILD_DIR=$CICD_BUILD_DIR python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.setsid()
os.execvp(sys.argv[1], sys.argv[1:])' "$CICD_SOURCE_DIR/scripts/demo.sh" --no-build --free-ports \
  >"$WORK/demo.out" 2>&1 &
demo=$!
PIDS+=("$demo")
alerted() { grep -q "ALERT delivered to the webhook sink: CICDRunAnomalous julialang/julia/doctest" "$WORK/demo.out"; }
wait_for 150 "the doctest queue alert in the demo's output" alerted
kill -INT -- "-$demo"
for ((i = 0; i < 100; i++)); do kill -0 "$demo" 2>/dev/null || break; sleep 0.2; done
kill -0 "$demo" 2>/dev/null && fail "the demo did not stop on SIGINT"
out=$(cat "$WORK/demo.out")

grep -q "detector trained 8 pipelines" <<<"$out" || fail "no training line: $out"
grep -Eq "ANOMALY julialang/julia/doctest run 52946: queue \((critical|warning)" <<<"$out" || fail "no queue anomaly: $out"
grep -Eq "why: queued 360 s, usual .* \(median [0-9.]+ s\)" <<<"$out" || fail "no reasons: $out"
grep -Eq "doctest \((critical|warning), [0-9.]+ s after the run finished\)" <<<"$out" || fail "no delivery delay: $out"
for url in "detector status page  http://127.0.0.1:" "Prometheus            http://127.0.0.1:" \
  "Alertmanager          http://127.0.0.1:"; do
  grep -qF "$url" <<<"$out" || fail "URL not printed: $url"
done
grep -q "stopped everything the demo started" <<<"$out" || fail "no cleanup: $out"
work=$(sed -n 's/^==> writing configs into //p' <<<"$out")
[[ -n $work && ! -e $work ]] || fail "the demo left $work behind"
for port in $(grep -Eo '127\.0\.0\.1:[0-9]+' <<<"$out" | sort -u | cut -d: -f2); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then fail "port $port still answers"; fi
done
if pgrep -f -- "$work" >/dev/null; then fail "processes of the demo still run: $(pgrep -af -- "$work")"; fi
echo "demo_test: ok"
