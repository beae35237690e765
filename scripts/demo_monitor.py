#!/usr/bin/python3
"""Follows the running demo stack and prints what happens (scripts/demo.sh).

Every second it reads the detector's REST API (training state, anomalies with
their reasons) and the notification sinks' folder (scripts/sinks.py); for each
alert delivered to the webhook sink it asks Prometheus when the pipeline's
last run finished and prints the delay from that finish to the delivery.
Prints a progress line every 10 s. Stops after --duration seconds (0 = until
interrupted) and prints a summary; exits 0. Loopback URLs only.

  demo_monitor.py --detector URL --prometheus URL --exporter URL --sinks DIR [--duration N]
"""

import argparse
import glob
import json
import os
import signal
import sys
import time
import urllib.parse
import urllib.request


def get_json(url, timeout=3):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.load(r)


def prom_value(prom, query, at):
    url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": query, "time": "%.3f" % at})
    try:
        res = get_json(url)["data"]["result"]
    except (OSError, ValueError, KeyError):
        return None
    return float(res[0]["value"][1]) if res else None


def metric_sum(exporter, name):
    try:
        with urllib.request.urlopen(exporter + "/metrics", timeout=3) as r:
            text = r.read().decode()
    except OSError:
        return 0
    return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith(name + " ") or l.startswith(name + "{"))


def say(line):
    print(line, flush=True)


class Monitor:
    def __init__(self, a):
        self.a = a
        self.start = time.time()
        self.trained = False
        self.anomalies = set()
        self.files = set()
        self.alerts = 0
        self.latencies = []

    def elapsed(self):
        return "[%4ds]" % (time.time() - self.start)

    def training(self):
        if self.trained:
            return
        try:
            st = get_json(self.a.detector + "/api/v1/status")
        except (OSError, ValueError):
            return
        pipelines = st.get("pipelines", [])
        ready = [p for p in pipelines if p.get("state") == "ready"]
        if ready and not st.get("training"):
            self.trained = True
            runs = sum(p.get("samples", 0) for p in ready)
            say("%s detector trained %d pipelines on %d runs from Prometheus" % (self.elapsed(), len(ready), runs))

    def new_anomalies(self):
        try:
            got = get_json(self.a.detector + "/api/v1/anomalies?hours=9600")
        except (OSError, ValueError):
            return
        for x in got.get("anomalies", []):
            key = (x.get("source"), x.get("pipeline"), x.get("run_id"), x.get("kind"))
            if key in self.anomalies:
                continue
            self.anomalies.add(key)
            say("%s ANOMALY %s run %s: %s (%s, score %.2f)" % (
                self.elapsed(), x.get("pipeline"), x.get("run_id"), x.get("kind"), x.get("severity"),
                x.get("score", 0)))
            for r in x.get("reasons", []):
                say("         why: " + r)

    def new_deliveries(self):
        for path in sorted(glob.glob(os.path.join(self.a.sinks, "*.json"))):
            if path in self.files:
                continue
            self.files.add(path)
            try:
                with open(path) as f:
                    d = json.load(f)
            except (OSError, ValueError):
                continue
            if d.get("kind") != "webhook":
                continue  # Slack and email carry the same alerts; counted below
            for alert in (d.get("payload") or {}).get("alerts", []):
                self.delivered(alert, d.get("received_at", time.time()))

    def delivered(self, alert, received_at):
        labels, ann = alert.get("labels", {}), alert.get("annotations", {})
        self.alerts += 1
        what = "%s %s" % (labels.get("alertname"), labels.get("pipeline", labels.get("source", "")))
        if alert.get("status") == "resolved":
            say("%s ALERT resolved: %s" % (self.elapsed(), what))
            return
        after = ""
        if labels.get("pipeline") and labels.get("alertname") != "CICDRunStuck":
            q = lambda v: '"%s"' % v.replace("\\", "\\\\").replace('"', '\\"')
            sel = "{source=%s,pipeline=%s}" % (q(labels.get("source", "")), q(labels["pipeline"]))
            finished = prom_value(self.a.prometheus, "max(cicd_pipeline_last_run_finished_timestamp_seconds%s)" % sel,
                                  received_at)
            if finished is not None and 0 <= received_at - finished < 3600:
                self.latencies.append(received_at - finished)
                after = ", %.1f s after the run finished" % (received_at - finished)
        say("%s ALERT delivered to the webhook sink: %s (%s%s)" % (
            self.elapsed(), what, labels.get("severity", ""), after))
        if ann.get("description"):
            say("         " + ann["description"].strip().replace("\n", " "))

    def progress(self):
        counted = metric_sum(self.a.exporter, "cicd_exporter_runs_counted_total")
        sinks = {}
        for path in self.files:
            kind = os.path.basename(path).split("-")[0]
            sinks[kind] = sinks.get(kind, 0) + 1
        say("%s runs replayed live: %d, anomalies: %d, deliveries: %s" % (
            self.elapsed(), counted, len(self.anomalies),
            ", ".join("%s %d" % kv for kv in sorted(sinks.items())) or "none yet"))

    def summary(self):
        lat = ""
        if self.latencies:
            s = sorted(self.latencies)
            lat = "; run finish -> alert delivered: min %.1f s, median %.1f s, max %.1f s" % (
                s[0], s[len(s) // 2], s[-1])
        say("summary: %d anomalies, %d alert notifications at the webhook sink%s" % (
            len(self.anomalies), self.alerts, lat))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--detector", required=True)
    ap.add_argument("--prometheus", required=True)
    ap.add_argument("--exporter", required=True)
    ap.add_argument("--sinks", required=True)
    ap.add_argument("--duration", type=float, default=0)
    a = ap.parse_args()
    m = Monitor(a)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    tick = 0
    while not stop and (a.duration <= 0 or time.time() - m.start < a.duration):
        m.training()
        m.new_anomalies()
        m.new_deliveries()
        tick += 1
        if tick % 10 == 0:
            m.progress()
        time.sleep(1)
    m.summary()


if __name__ == "__main__":
    sys.exit(main())
