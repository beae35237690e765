#!/usr/bin/python3
"""Runs every query of every Grafana dashboard against a real Prometheus.

    check_queries.py PROMETHEUS_URL DASHBOARD.json... [--var NAME=REGEX]... [--may-be-empty TITLE/REFID]...

Each panel target (rows and repeated panels included) and each templating
query is sent with Grafana's variables substituted the way Grafana would:
$source/$pipeline by --var (regex, as for a multi-value variable), $__range
by --range (the dashboard's default time range), $__interval by the panel's
min interval (default 1m) and $__rate_interval by max($__interval + scrape
interval, 4 x scrape interval); custom variables (e.g. $window) by their
saved current value. Any other "$" left in an expression fails.

Checks per target: instant query at now succeeds, has no warnings and returns
at least one series with a finite value; a time-series target ("range": true)
also runs as a range query over the last --range-window with step
$__interval and must return data. Targets listed in --may-be-empty (by
"panel title/refId") may return nothing, but must still succeed.
Templating label_values(METRIC, LABEL) queries must return values, and every
value given with --expect-value NAME=VALUE must be among them.
Prints one line per query; exit status 1 if any check failed.
"""
import argparse
import json
import math
import re
import sys
import time
import urllib.parse
import urllib.request

SCRAPE_INTERVAL_S = 15  # Grafana's default for a Prometheus data source


def seconds(d):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    total, pos = 0.0, 0
    for m in re.finditer(r"(\d+)(ms|s|m|h|d|w|y)", d):
        if m.start() != pos:
            break
        total += int(m.group(1)) * units[m.group(2)]
        pos = m.end()
    if pos != len(d) or not d:
        raise ValueError(f"bad duration {d!r}")
    return total


def get(base, path, params):
    url = f"{base}{path}?{urllib.parse.urlencode(params, doseq=True)}"
    try:
        with urllib.request.urlopen(url, timeout=20) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        body = e.read().decode(errors="replace")
        try:
            return json.loads(body)
        except ValueError:
            return {"status": "error", "error": f"HTTP {e.code}: {body[:300]}"}


def panels_of(dashboard):
    for p in dashboard.get("panels", []):
        yield p
        for inner in p.get("panels", []) or []:  # collapsed rows keep their panels inside
            yield inner


def substitute(expr, variables, interval_s, range_s):
    rate_interval = max(interval_s + SCRAPE_INTERVAL_S, 4 * SCRAPE_INTERVAL_S)
    values = dict(variables)
    values.update({
        "__rate_interval": f"{int(rate_interval)}s",
        "__interval": f"{int(interval_s)}s",
        "__interval_ms": str(int(interval_s * 1000)),
        "__range": f"{int(range_s)}s",
        "__range_s": str(int(range_s)),
        "__range_ms": str(int(range_s * 1000)),
    })

    def repl(m):
        name = m.group(1) or m.group(2)
        if name not in values:
            raise KeyError(name)
        return values[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", repl, expr)


def finite_values(result):
    for s in result:
        vals = [s["value"]] if "value" in s else s.get("values", [])
        for _, v in vals:
            if math.isfinite(float(v)):
                yield float(v)


class Checker:
    def __init__(self, args):
        self.args = args
        self.failures = 0
        self.checked = 0
        self.now = time.time()

    def report(self, ok, what, detail=""):
        self.checked += 1
        if not ok:
            self.failures += 1
        print(f"{'ok  ' if ok else 'FAIL'} {what}{(': ' + detail) if detail else ''}")

    def query(self, label, expr, may_be_empty, instant_only, interval_s):
        r = get(self.args.prometheus, "/api/v1/query", {"query": expr, "time": f"{self.now:.3f}"})
        if r.get("status") != "success" or r.get("warnings"):
            self.report(False, label, f"{r.get('error') or r.get('warnings')} in: {expr}")
            return
        result = r["data"]["result"]
        if r["data"]["resultType"] == "scalar":
            result = [{"value": result}]
        n_finite = len(list(finite_values(result)))
        if not may_be_empty and n_finite == 0:
            self.report(False, label, f"instant query returned {len(result)} series, none finite: {expr}")
            return
        detail = f"{len(result)} series" + (" (may be empty)" if may_be_empty else "")
        if not instant_only:
            window = seconds(self.args.range_window)
            step = max(interval_s, 15)
            rr = get(self.args.prometheus, "/api/v1/query_range",
                     {"query": expr, "start": f"{self.now - window:.3f}", "end": f"{self.now:.3f}", "step": f"{step}"})
            if rr.get("status") != "success" or rr.get("warnings"):
                self.report(False, label + " [range]", f"{rr.get('error') or rr.get('warnings')} in: {expr}")
                return
            n_range = len(list(finite_values(rr["data"]["result"])))
            if not may_be_empty and n_range == 0:
                self.report(False, label + " [range]", f"range query returned no finite point: {expr}")
                return
            detail += f", {n_range} points over {self.args.range_window}"
        self.report(True, label, detail)

    def templating(self, fname, var, variables):
        q = var.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\)\s*", q or "")
        if not m:
            self.report(False, f"{fname} variable {var['name']}", f"unsupported query {q!r}")
            return
        try:
            selector = substitute(m.group(1), variables, 60, seconds(self.args.range))
        except KeyError as e:
            self.report(False, f"{fname} variable {var['name']}", f"unknown variable ${e.args[0]}")
            return
        r = get(self.args.prometheus, f"/api/v1/label/{m.group(2)}/values",
                {"match[]": selector, "start": f"{self.now - seconds(self.args.range):.3f}", "end": f"{self.now:.3f}"})
        values = r.get("data") or []
        missing = [v for n, v in self.args.expect_value if n == var["name"] and v not in values]
        ok = r.get("status") == "success" and values and not missing
        self.report(ok, f"{fname} variable {var['name']}",
                    f"{len(values)} values {values[:4]}" + (f", missing {missing}" if missing else ""))

    def dashboard(self, path):
        d = json.load(open(path))
        fname = path.rsplit("/", 1)[-1]
        variables = {"datasource": "prometheus"}
        for v in d.get("templating", {}).get("list", []):
            if v.get("type") in ("custom", "constant", "interval", "textbox"):
                variables[v["name"]] = str((v.get("current") or {}).get("value") or v.get("query", ""))
        variables.update(dict(self.args.var))
        for v in d.get("templating", {}).get("list", []):
            if v.get("type") == "query":
                self.templating(fname, v, variables)
        seen_exempt = set()
        for p in panels_of(d):
            if p.get("type") == "row":
                continue
            interval_s = seconds(p["interval"]) if p.get("interval") else 60
            for t in p.get("targets", []):
                key = f"{p.get('title')}/{t.get('refId')}"
                label = f"{fname} | {key}"
                may_be_empty = key in self.args.may_be_empty
                if may_be_empty:
                    seen_exempt.add(key)
                try:
                    expr = substitute(t["expr"], variables, interval_s, seconds(self.args.range))
                except KeyError as e:
                    self.report(False, label, f"unknown variable ${e.args[0]} in {t['expr']}")
                    continue
                self.query(label, expr, may_be_empty, instant_only=not t.get("range", True), interval_s=interval_s)
        return seen_exempt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("prometheus")
    ap.add_argument("dashboards", nargs="+")
    ap.add_argument("--var", action="append", default=[], type=lambda s: tuple(s.split("=", 1)))
    ap.add_argument("--expect-value", action="append", default=[], type=lambda s: tuple(s.split("=", 1)))
    ap.add_argument("--may-be-empty", action="append", default=[])
    ap.add_argument("--range", default="24h", help="$__range: the dashboards' default time range")
    ap.add_argument("--range-window", default="1h", help="span of the range queries")
    args = ap.parse_args()
    c = Checker(args)
    seen = set()
    for path in args.dashboards:
        seen |= c.dashboard(path)
    for key in set(args.may_be_empty) - seen:
        c.report(False, f"--may-be-empty {key}", "no such panel target (stale exemption)")
    print(f"{c.checked} checks, {c.failures} failed")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
