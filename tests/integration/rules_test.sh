#!/usr/bin/env bash
# The Prometheus rules and their runbooks: `promtool check rules` is clean
# (SUCCESS, no lint warning) on every rules file, `promtool test rules`
# passes every unit test in rules/tests, the real Prometheus loads all three
# files together, every alert of the alert contract is defined, and every
# runbook_url points at an existing section of docs/runbooks.md named after
# its alert.
source "$(dirname "$0")/lib.sh"
src="$CICD_SOURCE_DIR"
rule_files=("$src"/rules/*.rules.yml)
(( ${#rule_files[@]} == 3 )) || fail "expected 3 rules files, found: ${rule_files[*]}"

# 1. promtool check rules: every file SUCCESS, nothing else printed.
for f in "${rule_files[@]}"; do
  out=$(promtool check rules "$f" 2>&1) || fail "promtool check rules $f:"$'\n'"$out"
  unexpected=$(grep -vE '^(Checking .*|  SUCCESS: [0-9]+ rules found|)$' <<<"$out" || true)
  [[ -z $unexpected ]] || fail "promtool check rules $f printed warnings:"$'\n'"$out"
  grep -q '^  SUCCESS: [1-9][0-9]* rules found$' <<<"$out" || fail "no SUCCESS for $f:"$'\n'"$out"
done
echo "promtool check rules: ${#rule_files[@]} files clean"

# 2. promtool test rules on every unit test file.
tests=("$src"/rules/tests/*.yml)
(( ${#tests[@]} >= 4 )) || fail "expected rule unit tests in rules/tests, found: ${tests[*]}"
out=$(promtool test rules "${tests[@]}" 2>&1) || fail "promtool test rules:"$'\n'"$out"
[[ $(grep -c '^  SUCCESS$' <<<"$out") == "${#tests[@]}" ]] || fail "not every test file passed:"$'\n'"$out"
echo "promtool test rules: ${#tests[@]} files pass"

# 3. The real Prometheus loads the three files together (no duplicate
# series names across files, templates parse); its rules API lists them.
port=$(free_port)
mkdir -p "$WORK/prom"
{
  echo "global: {scrape_interval: 15s, evaluation_interval: 15s}"
  echo "rule_files:"
  for f in "${rule_files[@]}"; do echo "  - $f"; done
} >"$WORK/prometheus.yml"
promtool check config "$WORK/prometheus.yml" >"$WORK/check_config.log" 2>&1 ||
  fail "promtool check config: $(cat "$WORK/check_config.log")"
start prometheus prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" \
  --web.listen-address="127.0.0.1:$port"
prom_pid=${PIDS[-1]}
for ((i = 0; i < 300; i++)); do
  curl -fsS -o /dev/null "http://127.0.0.1:$port/-/ready" 2>/dev/null && break
  kill -0 "$prom_pid" 2>/dev/null || fail "Prometheus exited:"$'\n'"$(tail -5 "$WORK/prometheus.log")"
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/api/v1/rules" >"$WORK/rules.json" ||
  fail "Prometheus did not serve its rules: $(tail -5 "$WORK/prometheus.log")"
if grep -qE 'level=error|level=warn.*(rule|group|template)' "$WORK/prometheus.log"; then
  fail "Prometheus logged problems with the rules:"$'\n'"$(grep -E 'level=(error|warn)' "$WORK/prometheus.log")"
fi

# 4. Contract and runbooks, checked on what Prometheus loaded.
/usr/bin/python3 - "$WORK/rules.json" "$src/docs/runbooks.md" <<'PY' || fail "alert contract or runbooks check failed"
import json, re, sys

rules_json, runbooks = sys.argv[1], sys.argv[2]
groups = json.load(open(rules_json))["data"]["groups"]
rules = [r for g in groups for r in g["rules"]]
alerts = [r for r in rules if r["type"] == "alerting"]
records = [r for r in rules if r["type"] == "recording"]

def slug(heading):
    h = heading.strip().lower()
    h = re.sub(r"[^\w\- ]", "", h)
    return h.replace(" ", "-")

anchors = {slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", open(runbooks).read(), re.M)}
errors = []

contract = {"CICDRunAnomalous", "CICDRunStuck", "CICDPipelineRegression", "CICDFailureBurst",
            "CICDExporterSourceDown", "CICDExporterRateLimited", "CICDDetectorDown", "CICDDetectorNoData"}
pipeline_alerts = {"CICDRunAnomalous", "CICDRunStuck", "CICDPipelineRegression", "CICDFailureBurst"}
names = {a["name"] for a in alerts}
for missing in sorted(contract - names):
    errors.append(f"alert {missing} of the contract is not defined")
for name in sorted(names - contract):
    if not name.startswith("CICDFallback"):
        errors.append(f"alert {name} is neither in the contract nor a CICDFallback* alert")

for a in alerts:
    name, ann, labels = a["name"], a.get("annotations", {}), a.get("labels", {})
    for key in ("summary", "description", "runbook_url"):
        if not ann.get(key):
            errors.append(f"{name}: annotation {key} missing")
    url = ann.get("runbook_url", "")
    want = "docs/runbooks.md#" + name.lower()
    if url != want:
        errors.append(f"{name}: runbook_url {url!r}, want {want!r}")
    elif name.lower() not in anchors:
        errors.append(f"{name}: docs/runbooks.md has no section #{name.lower()}")
    if name in pipeline_alerts:
        if ann.get("status_page") != "http://{{ $labels.instance }}/":
            errors.append(f"{name}: status_page annotation missing or wrong")
        if "cicd_anomaly_info" not in a["query"]:
            errors.append(f"{name}: not built on cicd_anomaly_info")
    elif labels.get("severity") not in ("warning", "critical"):
        errors.append(f"{name}: static severity label warning|critical missing")
    if name.startswith("CICDFallback") and not labels.get("kind"):
        errors.append(f"{name}: kind label missing")

for r in records:
    if len(r["name"].split(":")) != 3:
        errors.append(f"recording rule {r['name']} does not follow level:metric:operations")

print(f"{len(groups)} groups, {len(alerts)} alerting rules ({len(names)} alerts), {len(records)} recording rules loaded")
for e in errors:
    print("ERROR:", e)
sys.exit(1 if errors else 0)
PY
echo "PASS: rules"
