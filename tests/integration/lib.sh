# Shared helpers for integration tests (sourced). Loopback only; everything a
# test starts is killed by the EXIT trap.
set -euo pipefail

: "${CICD_BIN:?set by ctest}" "${CICD_SOURCE_DIR:?set by ctest}" "${CICD_BUILD_DIR:?set by ctest}"
WORK=$(mktemp -d "${CICD_BUILD_DIR}/Testing/it.XXXXXX")
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ ${KEEP_WORK:-0} != 1 ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Starts a command in its own session, logs to $WORK/<name>.log, remembers its PID.
start() {
  local name=$1
  shift
  setsid "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
}

# Waits until URL answers 200 (max $2 seconds, default 20).
wait_http() {
  local url=$1 limit=${2:-20} i
  for ((i = 0; i < limit * 10; i++)); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  fail "timed out waiting for $url"
}
