#!/usr/bin/env python3
"""Measures what the last-run gauges lose at a given scrape interval.

The exporter publishes each pipeline's most recently finished run as gauges
(cicd_pipeline_last_run_*). Prometheus sees a run only if it is still the
newest run of its pipeline at the next scrape, so a run is lost when the next
run of the same pipeline finishes before that scrape. Scrape phase is uniform,
so the chance a run is lost is max(0, 1 - gap / interval), where gap is the
time to the next finish of the same pipeline. The counters and histograms are not
affected: they count every run.

usage: last_run_loss.py RUNS.jsonl|ka0s.csv.gz [...]   (prints a table)
"""
import csv
import gzip
import json
import sys
from collections import defaultdict
from datetime import datetime, timezone


def ka0s_csv(path, by_pipeline):
    """shared/datasets/ci-history/github_actions_ka0s_runs.csv.gz (read in place, never copied)."""
    with gzip.open(path, "rt", newline="") as f:
        for row in csv.DictReader(f):
            if row["status"] == "completed" and row["updated_at"]:
                by_pipeline[("github", row["workflow_id"])].append(float(row["updated_at"]))


def finish_times(paths):
    by_pipeline = defaultdict(list)
    for path in paths:
        if path.endswith(".csv.gz"):
            ka0s_csv(path, by_pipeline)
            continue
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if r.get("status") != "completed" or not r.get("finished_at"):
                    continue
                t = datetime.strptime(r["finished_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
                by_pipeline[(r["source"], r["pipeline"])].append(t.timestamp())
    return by_pipeline


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    by_pipeline = finish_times(sys.argv[1:])
    runs = sum(len(v) for v in by_pipeline.values())
    print(f"{runs} runs of {len(by_pipeline)} pipelines from {', '.join(sys.argv[1:])}")
    print(f"{'scrape interval':>16} | {'expected runs lost':>18} | {'share':>7}")
    print(f"{'-' * 16}-+-{'-' * 18}-+-{'-' * 7}")
    for interval in (5, 15, 30, 60, 120):
        lost = 0.0
        for times in by_pipeline.values():
            times.sort()
            for a, b in zip(times, times[1:]):
                lost += max(0.0, 1.0 - max(0.0, b - a) / interval)
        print(f"{interval:>15}s | {lost:>18.1f} | {100 * lost / max(runs, 1):>6.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
