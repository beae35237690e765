#!/usr/bin/env bash
# The detector reads a real Prometheus served over TLS with basic auth
# (Prometheus's --web.config.file): with the right CA and password it trains
# on the backfilled history; with a wrong password, or without trusting the
# self-signed certificate, it stays up, reports Prometheus down with the
# reason, and never writes the password to its log, /metrics or status.
source "$(dirname "$0")/lib.sh"
det="$CICD_BIN/cicd-detector"

write_hourly_runs "$WORK/runs.jsonl" 40
cat >"$WORK/exporter.yml" <<YAML
sources:
  - type: replay
    name: replay
    file: $WORK/runs.jsonl
    live_from: 1
YAML
backfill_tsdb "$WORK/exporter.yml"

# A certificate for 127.0.0.1 and a bcrypt hash of the password.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" >"$WORK/openssl.log" 2>&1 || fail "openssl: $(cat "$WORK/openssl.log")"
export CICD_TEST_PROM_PASSWORD=tls-it-pw-91c3e7
hash=$(python3 -W ignore -c 'import crypt,os; print(crypt.crypt(os.environ["CICD_TEST_PROM_PASSWORD"], crypt.mksalt(crypt.METHOD_BLOWFISH)))')
[[ $hash == \$2* ]] || fail "no bcrypt hash: $hash"
cat >"$WORK/web.yml" <<YAML
tls_server_config:
  cert_file: $WORK/cert.pem
  key_file: $WORK/key.pem
basic_auth_users:
  detector: '$hash'
YAML
printf 'global:\n  scrape_interval: 1m\n' >"$WORK/prometheus.yml"
prom_port=$(free_port)
start prometheus prometheus --config.file="$WORK/prometheus.yml" --web.config.file="$WORK/web.yml" \
  --storage.tsdb.path="$WORK/tsdb" --storage.tsdb.retention.time=400d --web.listen-address="127.0.0.1:$prom_port"
P="https://127.0.0.1:$prom_port"
ready() { curl -fsS --cacert "$WORK/cert.pem" -u "detector:$CICD_TEST_PROM_PASSWORD" "$P/-/ready"; }
wait_for 30 "Prometheus over TLS" ready

# Starts the detector NAME with the given basic_auth password reference and
# tls block; sets $url to its address. (Not called in $(...): the PID must
# reach lib.sh's cleanup list.)
run_detector() {
  local name=$1 password=$2 tls=$3 port
  port=$(free_port)
  cat >"$WORK/$name.yml" <<YAML
prometheus:
  url: $P
  basic_auth: {username: detector, password: "$password"}
  $tls
  timeout: 2s
  max_attempts: 1
web:
  listen_address: 127.0.0.1:$port
schedule:
  detect_interval: 1s
  history: 30d
detection:
  min_runs: 20
YAML
  start "$name" "$det" --config.file="$WORK/$name.yml" --log.level=debug
  url="http://127.0.0.1:$port"
  wait_http "$url/health"
}

run_detector good '${CICD_TEST_PROM_PASSWORD}' "tls: {ca_file: $WORK/cert.pem}"
good=$url
trained() { curl -fsS "$good/api/v1/status" | grep -q '"state":"ready"'; }
wait_for 30 "training over TLS with basic auth" trained
curl -fsS "$good/metrics" | grep -q '^cicd_detector_prometheus_up 1' || fail "prometheus_up not 1"
grep -Eq 'msg="training done" pipelines=1 runs=(39|40)' "$WORK/good.log" || fail "training: $(cat "$WORK/good.log")"

export CICD_TEST_WRONG_PASSWORD=not-the-password-5d1
run_detector wrong '${CICD_TEST_WRONG_PASSWORD}' "tls: {ca_file: $WORK/cert.pem}"
wrong=$url
refused() { curl -fsS "$wrong/api/v1/status" | grep -q 'refused the credentials'; }
wait_for 20 "the wrong password reported in status" refused
curl -fsS "$wrong/metrics" | grep -q '^cicd_detector_prometheus_up 0' || fail "prometheus_up not 0 with a wrong password"

run_detector untrusted '${CICD_TEST_PROM_PASSWORD}' ""
untrusted=$url
down() { curl -fsS "$untrusted/api/v1/status" | grep -q '"prometheus_up":false'; }
wait_for 20 "an untrusted certificate reported" down
curl -fsS "$untrusted/api/v1/status" | grep -q '"state":"ready"' && fail "trained despite an untrusted certificate"

# The passwords, and the Authorization header values that would carry them.
secrets=("$CICD_TEST_PROM_PASSWORD" "$CICD_TEST_WRONG_PASSWORD"
  "$(printf 'detector:%s' "$CICD_TEST_PROM_PASSWORD" | base64 -w0)"
  "$(printf 'detector:%s' "$CICD_TEST_WRONG_PASSWORD" | base64 -w0)")
for name in good wrong untrusted; do
  for secret in "${secrets[@]}"; do
    if grep -qF "$secret" "$WORK/$name.log"; then fail "password in the $name detector's log"; fi
  done
done
for url in "$good" "$wrong" "$untrusted"; do
  for path in /metrics /api/v1/status /; do
    curl -fsS "$url$path" >"$WORK/page.txt"
    for secret in "${secrets[@]}"; do
      if grep -qF "$secret" "$WORK/page.txt"; then fail "password served at $url$path"; fi
    done
  done
done
echo "detector_tls_test: ok"
