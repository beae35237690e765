#!/usr/bin/env bash
# config/alertmanager.yml and its templates with the real Alertmanager 0.25:
# amtool accepts them; alerts shaped like rules/cicd-alerts.rules.yml produces
# reach a Slack-shaped sink, a generic webhook sink and an SMTP sink
# (scripts/sinks.py) with the pipeline, kind, severity, reasons and
# links; warnings send no email; the inhibition rules hold; resolved alerts
# are announced; the secrets read from files never show in Alertmanager's
# log or API.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
CONF="$CICD_SOURCE_DIR/config/alertmanager.yml"

# 1. The repository's config checks clean, from another working directory:
# its relative templates glob resolves against the config file's folder.
(cd / && amtool check-config "$CONF") >"$WORK/check.out" 2>&1 || fail "amtool check-config: $(cat "$WORK/check.out")"
grep -q "2 templates" "$WORK/check.out" || fail "templates not found: $(cat "$WORK/check.out")"
grep -q "4 inhibit rules" "$WORK/check.out" || fail "inhibit rules: $(cat "$WORK/check.out")"

# Static routing of the alert contract.
route_of() { amtool config routes test --config.file="$CONF" --verify.receivers="$1" "${@:2}" >/dev/null 2>&1; }
route_of cicd-critical alertname=CICDRunStuck severity=critical source=s pipeline=p kind=stuck || fail "critical route"
route_of cicd-warning alertname=CICDRunAnomalous severity=warning source=s pipeline=p kind=slow || fail "warning route"
route_of cicd-critical alertname=CICDDetectorDown severity=critical || fail "infra critical route"
route_of cicd-warning alertname=CICDExporterRateLimited severity=warning source=s || fail "infra warning route"

# 2. Local sinks and the secrets Alertmanager reads from files.
slack_port=$(free_port)
webhook_port=$(free_port)
smtp_port=$(free_port)
am_port=$(free_port)
SLACK_TOKEN=slk-it-secret-7f3a9c1e
SMTP_SECRET=smtp-it-secret-52d8b0aa
WEBHOOK_TOKEN=whk-it-secret-c4e19f6d
mkdir -p "$WORK/secrets" "$WORK/out"
printf 'http://127.0.0.1:%s/services/T0CICD/B0CICD/%s\n' "$slack_port" "$SLACK_TOKEN" >"$WORK/secrets/slack_webhook_url"
printf '%s\n' "$SMTP_SECRET" >"$WORK/secrets/smtp_password"
printf '%s\n' "$WEBHOOK_TOKEN" >"$WORK/secrets/webhook_token"

start sinks "$PY" "$CICD_SOURCE_DIR/scripts/sinks.py" --dir "$WORK/out" \
  --slack-port "$slack_port" --webhook-port "$webhook_port" --smtp-port "$smtp_port"
sinks_pid=${PIDS[-1]}
for ((i = 0; i < 100; i++)); do
  grep -q '^ready ' "$WORK/sinks.log" 2>/dev/null && break
  sleep 0.1
done
grep -q "^ready slack=$slack_port webhook=$webhook_port smtp=$smtp_port" "$WORK/sinks.log" \
  || fail "sinks not ready: $(cat "$WORK/sinks.log")"

# 3. A copy of the repository's config that differs only where the world
# differs: secret file paths, SMTP smarthost (and no STARTTLS: the sink has
# none), webhook URL; group_wait/group_interval shortened to 1s for the test
# only. Routing, receivers, templates and inhibition stay the repository's:
# every other line must be identical, and the routing trees must match.
"$PY" "$CICD_SOURCE_DIR/scripts/local_alertmanager.py" "$CONF" "$WORK/am" --secrets "$WORK/secrets" \
  --smtp-port "$smtp_port" --webhook-port "$webhook_port" --fast 2>"$WORK/render.err" \
  || fail "could not rewrite the config: $(cat "$WORK/render.err")"
amtool config routes --config.file="$CONF" >"$WORK/routes.repo" 2>/dev/null
amtool config routes --config.file="$WORK/am/alertmanager.yml" >"$WORK/routes.test" 2>/dev/null
diff -u "$WORK/routes.repo" "$WORK/routes.test" >/dev/null || fail "the test copy routes differently"
amtool check-config "$WORK/am/alertmanager.yml" >"$WORK/check2.out" 2>&1 || fail "test copy: $(cat "$WORK/check2.out")"

# 4. The real Alertmanager, loopback only, no gossip, started from another
# working directory (templates are found relative to the config file).
start alertmanager env -C / prometheus-alertmanager --config.file="$WORK/am/alertmanager.yml" \
  --storage.path="$WORK/am-data" --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= \
  --web.external-url="http://127.0.0.1:$am_port" --log.level=debug
AM="http://127.0.0.1:$am_port"
wait_http "$AM/-/ready" 20

# Posts alerts to /api/v2/alerts. Each argument: alertname,severity,source,pipeline,kind[,resolved].
post_alerts() {
  "$PY" - "$@" >"$WORK/alerts.json" <<'PY'
import json, sys
from datetime import datetime, timedelta, timezone
now = datetime.now(timezone.utc)
iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
reasons = {
    "slow": "duration 1840 s, usual 560-650 s (median 610 s), +7.3 MAD",
    "regression": "duration median 1250 s over the last 6 runs, usual 610 s; level shift since run 118",
    "queue": "queue 930 s, usual 2-40 s (median 6 s), +11.2 MAD; runners busy & p99 < 60 s",
    "stuck": "running for 2h 10m, usual at most 14m (p99)",
}
alerts = []
for arg in sys.argv[1:]:
    name, severity, source, pipeline, kind, *rest = arg.split(",")
    # Extra labels as the rules' expressions leave them (targets of the
    # compose world; nothing connects to them).
    job = "cicd-exporter" if name.startswith("CICDExporter") else "cicd-detector"
    instance = "127.0.0.1:9801" if job == "cicd-exporter" else "127.0.0.1:9802"
    labels = {"alertname": name, "severity": severity, "instance": instance, "job": job}
    ann = {"runbook_url": "docs/runbooks.md#" + name.lower()}
    if pipeline:
        labels.update(source=source, pipeline=pipeline, kind=kind)
        ann["summary"] = "%s: %s run of %s (%s)" % (name, kind, pipeline, source)
        ann["description"] = "%s. Detector: %s" % (pipeline, reasons.get(kind, kind))
        ann["status_page"] = "http://%s/" % instance
    else:
        if source:
            labels["source"] = source
        ann["summary"] = "%s for source %s" % (name, source or "-")
        ann["description"] = "%s: no scrape or poll succeeded for 5m, last success 12m ago" % name
    # startsAt now, as Prometheus sends a newly firing alert: Alertmanager
    # flushes a new group at once, without group_wait, when its alert started
    # more than group_wait ago, and then an inhibiting alert posted in the
    # same request may not be registered yet.
    resolved = rest == ["resolved"]
    alert = {"labels": labels, "annotations": ann, "startsAt": iso(now - timedelta(minutes=1) if resolved else now),
             "endsAt": iso(now - timedelta(seconds=1) if resolved else now + timedelta(minutes=10)),
             "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=cicd_anomaly_score"}
    alerts.append(alert)
print(json.dumps(alerts))
PY
  curl -fsS -X POST -H 'Content-Type: application/json' --data-binary @"$WORK/alerts.json" "$AM/api/v2/alerts" \
    >"$WORK/post.out" 2>&1 || fail "POST /api/v2/alerts: $(cat "$WORK/post.out")"
}

# 5. Alerts as the rules produce them, all in one request.
#  octo/api/ci    regression (critical) + slow (warning): the slow one is inhibited
#  team/web/build slow (warning), no regression: delivered, Slack + webhook, no email
#  org/app/ci     queue critical + queue warning: only the critical one
#  octo/lib/ci    stuck (critical) while its source github is down: inhibited
#  CICDExporterSourceDown{source=github} (critical, infra)
#  CICDDetectorDown (critical) + CICDDetectorNoData (warning) of one instance: NoData inhibited
post_alerts \
  CICDPipelineRegression,critical,github,octo/api/ci,regression \
  CICDRunAnomalous,warning,github,octo/api/ci,slow \
  CICDRunAnomalous,warning,jenkins,team/web/build,slow \
  CICDRunAnomalous,critical,gitlab,org/app/ci,queue \
  CICDRunAnomalous,warning,gitlab,org/app/ci,queue \
  CICDRunStuck,critical,github,octo/lib/ci,stuck \
  CICDExporterSourceDown,critical,github,, \
  CICDDetectorDown,critical,,, \
  CICDDetectorNoData,warning,,,

count() { find "$WORK/out" -name "$1-*.json" | wc -l; }
wait_count() {  # wait_count KIND N SECONDS
  local i
  for ((i = 0; i < $3 * 5; i++)); do
    (($(count "$1") >= $2)) && return 0
    sleep 0.2
  done
  fail "timed out waiting for $2 $1 deliveries (have $(count "$1")): $(ls "$WORK/out")"
}
# Five groups: octo/api/ci, team/web/build, org/app/ci and the two infra ones; four are critical.
wait_count slack 5 20
wait_count webhook 5 20
wait_count email 4 20
sleep 3 # anything inhibited or misrouted would have arrived by now (group_wait 1s)

"$PY" - "$WORK/out" "$WEBHOOK_TOKEN" "$SLACK_TOKEN" <<'PY' || fail "deliveries: see above"
import glob, json, sys
out, webhook_token, slack_token = sys.argv[1:]
load = lambda kind: [json.load(open(p)) for p in sorted(glob.glob("%s/%s-*.json" % (out, kind)))]
slack, webhook, email = load("slack"), load("webhook"), load("email")

def check(cond, msg, obj=None):
    if not cond:
        print("FAIL:", msg, json.dumps(obj, indent=1)[:3000] if obj is not None else "", file=sys.stderr)
        sys.exit(1)

check(len(slack) == 5 and len(webhook) == 5 and len(email) == 4,
      "want 5 slack, 5 webhook, 4 email deliveries, got %d/%d/%d" % (len(slack), len(webhook), len(email)),
      [s["payload"] for s in slack])

# Generic webhook: Alertmanager's standard JSON, the token from the file as bearer.
delivered = []
for w in webhook:
    p = w["payload"]
    check(p.get("version") == "4" and p.get("status") == "firing" and w["path"] == "/alertmanager", "webhook shape", w)
    check(w["headers"].get("Authorization") == "Bearer " + webhook_token, "webhook bearer token from file", w["headers"])
    check(p["receiver"] in ("cicd-critical", "cicd-warning"), "webhook receiver", p)
    for a in p["alerts"]:
        delivered.append(a["labels"])
        check(a["annotations"].get("runbook_url", "").startswith("docs/runbooks.md#"), "runbook_url in webhook", a)
key = lambda l: (l["alertname"], l.get("pipeline", ""), l.get("kind", ""), l["severity"])
want = {
    ("CICDPipelineRegression", "octo/api/ci", "regression", "critical"),
    ("CICDRunAnomalous", "team/web/build", "slow", "warning"),
    ("CICDRunAnomalous", "org/app/ci", "queue", "critical"),
    ("CICDExporterSourceDown", "", "", "critical"),
    ("CICDDetectorDown", "", "", "critical"),
}
check(sorted(map(key, delivered)) == sorted(want), "delivered alerts (inhibition)", sorted(map(key, delivered)))
reg = next(l for l in delivered if l["alertname"] == "CICDPipelineRegression")
check(reg == {"alertname": "CICDPipelineRegression", "severity": "critical", "source": "github",
              "pipeline": "octo/api/ci", "kind": "regression", "instance": "127.0.0.1:9802",
              "job": "cicd-detector"}, "webhook labels", reg)
by_group = {w["payload"]["groupLabels"].get("pipeline") or w["payload"]["groupLabels"].get("alertname"): w["payload"]
            for w in webhook}
check(by_group["octo/api/ci"]["groupLabels"] == {"source": "github", "pipeline": "octo/api/ci"}, "group by source, pipeline", by_group)
check(by_group["CICDExporterSourceDown"]["groupLabels"] == {"alertname": "CICDExporterSourceDown", "source": "github"},
      "infra grouped by alertname", by_group)
check(by_group["team/web/build"]["receiver"] == "cicd-warning" and by_group["org/app/ci"]["receiver"] == "cicd-critical",
      "receivers by severity", by_group)

# Slack: sent to the URL from the secret file; pipeline, kind, severity, reasons, links.
for s in slack:
    check(s["path"] == "/services/T0CICD/B0CICD/" + slack_token, "slack URL from the secret file", s["path"])
def slack_for(needle):
    hits = [s["payload"] for s in slack if needle in s["payload"]["attachments"][0]["title"]]
    check(len(hits) == 1, "one slack message titled with %r" % needle, [s["payload"] for s in slack])
    return hits[0]
m = slack_for("octo/api/ci")
att = m["attachments"][0]
check(att["title"] == "[FIRING:1] octo/api/ci (github)", "slack title", att)
check(att["title_link"] == "http://127.0.0.1:9802/" and att["color"] == "danger", "slack title link / color", att)
text = att["text"]
for needle in ("CICDPipelineRegression", "pipeline `octo/api/ci`", "kind `regression`", "severity critical",
               "*Summary:* CICDPipelineRegression: regression run of octo/api/ci (github)",
               "duration median 1250 s over the last 6 runs, usual 610 s; level shift since run 118",
               "<http://127.0.0.1:9802/|Status page>", "<docs/runbooks.md#cicdpipelineregression|Runbook>"):
    check(needle in text, "slack text lacks %r" % needle, text)
check("slow" not in text and "CICDRunAnomalous" not in text, "inhibited slow alert in the slack text", text)
w = slack_for("team/web/build")["attachments"][0]
check(w["color"] == "warning" and "kind `slow`" in w["text"] and "+7.3 MAD" in w["text"], "warning slack message", w)
check(m["channel"] == "#ci-alerts" and m["username"] == "cicd-anomaly", "slack channel/username", m)
q = slack_for("org/app/ci")["attachments"][0]["text"]
check("runners busy &amp; p99 &lt; 60 s" in q, "slack text not escaped for mrkdwn", q)
infra = slack_for("CICDExporterSourceDown")["attachments"][0]
check(infra["title"] == "[FIRING:1] CICDExporterSourceDown (github)", "infra slack title", infra)

# Email: only the critical groups; subject, text and HTML carry the content.
subjects = sorted(e["subject"] for e in email)
check(all("team/web/build" not in e["raw"] for e in email), "a warning produced an email", subjects)
e = next((e for e in email if "octo/api/ci" in e["subject"]), None)
check(e is not None, "no email for the critical regression", subjects)
check(e["subject"] == "[cicd-anomaly] [FIRING:1] octo/api/ci (github) critical", "email subject", e["subject"])
check(e["rcpt_tos"] == ["<ci-oncall@example.com>"] and e["mail_from"] == "<cicd-anomaly@example.com>", "email envelope", e)
for part in ("text", "html"):
    body = e.get(part) or ""
    for needle in ("CICDPipelineRegression", "octo/api/ci", "regression", "critical",
                   "duration median 1250 s over the last 6 runs, usual 610 s; level shift since run 118",
                   "http://127.0.0.1:9802/", "docs/runbooks.md#cicdpipelineregression"):
        check(needle in body, "email %s lacks %r" % (part, needle), body)
check('<a href="http://127.0.0.1:9802/">Status page</a>' in e["html"], "email html link", e["html"])
check("Alertmanager: http://127.0.0.1:" in e["text"], "email footer: Alertmanager's external URL", e["text"])
q = next(x for x in email if "org/app/ci" in x["subject"])
check("runners busy & p99 < 60 s" in q["text"] and "runners busy &amp; p99 &lt; 60 s" in q["html"], "email escaping", q)
check(any("CICDExporterSourceDown" in x["subject"] for x in email), "no email for the critical infra alert", subjects)
PY

# 6. Resolved: the warning of team/web/build ends; Slack and the webhook say so.
post_alerts CICDRunAnomalous,warning,jenkins,team/web/build,slow,resolved
wait_count slack 6 20
wait_count webhook 6 20
"$PY" - "$WORK/out" <<'PY' || fail "resolved notifications"
import glob, json, sys
out = sys.argv[1]
last = lambda kind: json.load(open(sorted(glob.glob("%s/%s-*.json" % (out, kind)))[-1]))["payload"]
s, w = last("slack")["attachments"][0], last("webhook")  # deliveries are numbered in arrival order
assert s["title"] == "[RESOLVED] team/web/build (jenkins)", s
assert s["color"] == "good" and "*RESOLVED*" in s["text"] and "*Resolved at:*" in s["text"], s
assert "kind `slow`" in s["text"] and "+7.3 MAD" in s["text"], s
assert w["status"] == "resolved" and w["alerts"][0]["labels"]["pipeline"] == "team/web/build", w
PY
(($(count email) == 4)) || fail "a resolved warning produced an email"

# 7. Secrets: not in the API, not in the log, also when deliveries fail.
kill "$sinks_pid"
wait "$sinks_pid" 2>/dev/null || true
post_alerts CICDRunStuck,critical,gitlab,org/other/ci,stuck
failed_attempts() { grep 'Notify attempt failed' "$WORK/alertmanager.log" | grep -c -E 'integration=(slack|webhook|email)' || true; }
for ((i = 0; i < 100; i++)); do
  (($(failed_attempts) >= 3)) && break
  sleep 0.2
done
(($(failed_attempts) >= 3)) || fail "no failed deliveries logged: $(cat "$WORK/alertmanager.log")"
curl -fsS "$AM/api/v2/status" >"$WORK/status.json" || fail "GET /api/v2/status"
grep -q "credentials_file: $WORK/secrets/webhook_token" "$WORK/status.json" || fail "status lacks the config"
grep -q 'Notify success' "$WORK/alertmanager.log" || fail "no successful delivery logged"
for secret in "$SLACK_TOKEN" "$SMTP_SECRET" "$WEBHOOK_TOKEN"; do
  if grep -qF "$secret" "$WORK/status.json"; then fail "secret in /api/v2/status"; fi
  if grep -qF "$secret" "$WORK/alertmanager.log"; then fail "secret in the Alertmanager log"; fi
done
echo "alertmanager_test: ok"
