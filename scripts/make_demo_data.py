#!/usr/bin/env python3
"""Generates the bundled demo history: data/demo-runs.jsonl and its labels.

Inputs (both MIT, see data/NOTICE.md), read from --datasets
(default: ../shared/datasets/ci-history next to the repository):
  buildkite_julia_job_timings.json.gz  per-job durations of Julia's Buildkite
                                       master pipeline (IanButterworth/julia-ci-timing)
  abb_iofrol_test_executions.csv.gz    per-test verdicts per CI cycle (RETECS, ABB)

Outputs (in --out, default data/ of the repository):
  demo-runs.jsonl       one run record per line (shared/DESIGN.md, "The run record")
  demo-anomalies.json   the injected anomalies, machine-readable, for tests
  README.md             what is in the file, generated from the same values

What is real and what is synthetic is listed in data/NOTICE.md and data/README.md.
Deterministic: a fixed seed, streams seeded by name, standard library only.

  python3 scripts/make_demo_data.py            # regenerate and validate
  python3 scripts/make_demo_data.py --check    # validate the committed files only
"""

import argparse
import csv
import datetime as dt
import gzip
import json
import math
import os
import random
import re
import statistics
import sys

SEED = 20251227
LIVE_FROM = 0.9  # the replay source's default cut: newest 10% of finish times plays live
MAX_RUNS = 1500
MAX_RUNS_PER_PIPELINE = 200
SOURCE = "buildkite"
PIPELINE_PREFIX = "julialang/julia/"
BUILD_URL = "https://buildkite.com/julialang/julia-master/builds/{}"

JULIA_FILE = "buildkite_julia_job_timings.json.gz"
ABB_FILE = "abb_iofrol_test_executions.csv.gz"

# The pipelines. stage: when a job starts relative to its build's creation
# ("launch" right after the pipeline upload, "build" once agents pick up the
# first wave, "test" after the job named in `after` has finished).
# queue: median synthetic queue seconds. fail: synthetic baseline failure rate.
# tests: (scale applied to the ABB suite size, fraction skipped) or None for
# jobs that run no test suite (their records carry no tests_* fields).
PIPELINES = [
    {"job": ":linux: build x86_64-linux-gnu", "stage": "build", "queue": 10, "fail": 0.02, "tests": None},
    {"job": ":linux: test x86_64-linux-gnu", "stage": "test", "after": ":linux: build x86_64-linux-gnu",
     "queue": 16, "fail": 0.03, "tests": (8.13, 0.004)},
    {"job": ":macos: test aarch64-apple-darwin", "stage": "test", "after": ":macos: build aarch64-apple-darwin",
     "queue": 35, "fail": 0.02, "tests": (8.07, 0.009)},
    {"job": ":windows: test x86_64-w64-mingw32", "stage": "test", "after": ":windows: build x86_64-w64-mingw32",
     "queue": 28, "fail": 0.04, "tests": (7.91, 0.021)},
    {"job": "doctest", "stage": "build", "queue": 12, "fail": 0.02, "tests": (0.61, 0.005)},
    {"job": "asan", "stage": "build", "queue": 14, "fail": 0.03, "tests": (2.37, 0.012)},
    {"job": "analyzegc", "stage": "build", "queue": 10, "fail": 0.02, "tests": None},
    {"job": "Launch test jobs", "stage": "launch", "queue": 6, "fail": 0.02, "tests": None},
]
# Jobs read only to time the "test" jobs that wait for them (not emitted).
DEPENDENCY_JOBS = [":macos: build aarch64-apple-darwin", ":windows: build x86_64-w64-mingw32"]

# The injected anomalies, placed in the live part (finish time after the
# LIVE_FROM cut). `at` is the position within that pipeline's live runs as a
# fraction of their count, chosen so that the single-run anomalies fall on
# different builds. Kinds use the detector's vocabulary (DESIGN.md).
ANOMALIES = [
    {"job": "doctest", "kind": "queue", "at": 0.1, "factor": 30.0},
    {"job": ":windows: test x86_64-w64-mingw32", "kind": "failure-burst", "at": 0.27, "length": 5},
    {"job": ":linux: test x86_64-linux-gnu", "kind": "tests-missing", "at": 0.36},
    {"job": ":macos: test aarch64-apple-darwin", "kind": "regression", "at": 0.45, "factor": 1.4},
    {"job": ":linux: build x86_64-linux-gnu", "kind": "slow", "at": 0.8, "factor": 3.0},
]

QUEUE_SIGMA = 0.55  # lognormal spread of synthetic queue times
QUEUE_MIN = 2
QUEUE_MAX_FACTOR = 4.0  # natural queue times stay below 4x the median
BASELINE_FAIL_GAP = 8  # baseline failures are isolated: at least this many runs apart
MAX_FAILED_TESTS = 12
RESULTS = {"success", "failure", "error", "timeout", "cancellation", "skip"}
FIELD_ORDER = ["source", "pipeline", "branch", "run_id", "number", "attempt", "event", "status",
               "result", "created_at", "started_at", "finished_at", "queue_seconds",
               "duration_seconds", "tests_total", "tests_failed", "tests_skipped", "url"]
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def rng(name):
    """A random stream of its own per purpose, so adding one does not shift others."""
    return random.Random(f"{SEED}/{name}")


def slug(job):
    s = job.lower().replace(":", " ")
    s = re.sub(r"[^a-z0-9._]+", "-", s)
    return s.strip("-")


def pipeline_name(job):
    return PIPELINE_PREFIX + slug(job)


def fmt_time(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(s):
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


# ---------------------------------------------------------------- reading

def read_julia(path, jobs):
    """{job: [(build, created minute, recorded duration s)] sorted by build}."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        data = json.load(f)["jobs"]
    out = {}
    for job in jobs:
        if job not in data:
            sys.exit(f"job {job!r} not in {path}")
        rows = []
        for r in data[job]["recent"]:
            when = dt.datetime.strptime(r["date"], "%Y-%m-%d %H:%M").replace(tzinfo=dt.timezone.utc)
            rows.append((int(r["build"]), when, int(round(float(r["duration"])))))
        rows.sort()
        out[job] = rows[-MAX_RUNS_PER_PIPELINE:]
    return out


def read_abb(path):
    """Per CI cycle, in order: (registered suite size, newly failing tests).

    Suite size = distinct tests seen in any cycle so far (a suite that grows as
    tests are added). Newly failing = tests failing now that passed (or had not
    run) in their previous execution.
    """
    by_cycle = {}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter=";"):
            by_cycle.setdefault(int(row["Cycle"]), []).append((row["Name"], row["Verdict"] == "1"))
    seen, last_failed, out = set(), {}, []
    for cycle in sorted(by_cycle):
        new_failures = 0
        for name, failed in by_cycle[cycle]:
            if failed and not last_failed.get(name, False):
                new_failures += 1
            last_failed[name] = failed
            seen.add(name)
        out.append((cycle, len(seen), new_failures))
    return out


# ---------------------------------------------------------------- building

def base_runs(julia, abb):
    """Per pipeline: run dicts with recorded durations and synthetic queue/result/tests."""
    builds = sorted({b for job in julia for b, _, _ in julia[job]})
    if len(builds) > len(abb):
        sys.exit("more builds than ABB cycles to map them onto")
    cycles = abb[-len(builds):]  # builds in order onto the newest cycles, one to one
    cycle_of = dict(zip(builds, cycles))
    build_second = {b: rng(f"build-second/{b}").randint(0, 59) for b in builds}

    runs = {}
    for spec in PIPELINES:
        job = spec["job"]
        q = rng(f"queue/{job}")
        lst = []
        for build, minute, duration in julia[job]:
            queue = spec["queue"] * math.exp(q.gauss(0.0, QUEUE_SIGMA))
            queue = int(round(min(max(queue, QUEUE_MIN), QUEUE_MAX_FACTOR * spec["queue"])))
            cycle, suite, new_failures = cycle_of[build]
            run = {"job": job, "build": build, "created_build": minute + dt.timedelta(seconds=build_second[build]),
                   "duration": duration, "queue": queue, "result": "success",
                   "abb_cycle": cycle, "abb_new_failures": new_failures}
            if spec["tests"]:
                scale, skipped = spec["tests"]
                total = int(round(suite * scale))
                run.update(tests_total=total, tests_failed=0, tests_skipped=int(round(total * skipped)))
            lst.append(run)
        runs[job] = lst
    deps = {}
    for job in DEPENDENCY_JOBS:
        deps[job] = {b: d for b, _, d in julia[job]}
    return runs, deps


def assign_times(runs, deps):
    """started/finished/created per run from stage offsets; strictly increasing per pipeline."""
    started_of = {}  # (job, build) -> start, for jobs other jobs wait on
    jobs_in_order = [s["job"] for s in PIPELINES if s["stage"] != "test"] + \
                    [s["job"] for s in PIPELINES if s["stage"] == "test"]
    spec_of = {s["job"]: s for s in PIPELINES}
    duration_of = {(j, r["build"]): r["duration"] for j in runs for r in runs[j]}
    for job, d in deps.items():
        for build, duration in d.items():
            duration_of.setdefault((job, build), duration)

    def stage_start(job, build, created):
        r = rng(f"offset/{job}/{build}")
        return created + dt.timedelta(seconds=r.randint(90, 240))

    for job in jobs_in_order:
        spec = spec_of[job]
        prev = None
        for run in runs[job]:
            created = run["created_build"]
            r = rng(f"offset/{job}/{run['build']}")
            if spec["stage"] == "launch":
                start = created + dt.timedelta(seconds=r.randint(40, 100))
            elif spec["stage"] == "build":
                start = stage_start(job, run["build"], created)
            else:
                dep = spec["after"]
                dep_start = started_of.get((dep, run["build"])) or stage_start(dep, run["build"], created)
                dep_duration = duration_of[(dep, run["build"])]
                start = dep_start + dt.timedelta(seconds=dep_duration + r.randint(40, 160))
            if prev is not None and start <= prev:
                start = prev + dt.timedelta(seconds=60)  # the agent was still busy
            prev = start
            started_of[(job, run["build"])] = start
            run["started"] = start
            run["finished"] = start + dt.timedelta(seconds=run["duration"])
            run["created"] = start - dt.timedelta(seconds=run["queue"])


def live_split(all_runs):
    """The replay source's cut: finish time of the ceil(LIVE_FROM*n)-th run."""
    finishes = sorted(r["finished"] for r in all_runs)
    idx = max(math.ceil(LIVE_FROM * len(finishes)) - 1, 0)
    return finishes[min(idx, len(finishes) - 1)]


def add_baseline_failures(runs, split):
    """Isolated synthetic failures in the backfilled history only."""
    for spec in PIPELINES:
        job = spec["job"]
        history = [i for i, r in enumerate(runs[job]) if r["finished"] <= split]
        k = max(1, round(spec["fail"] * len(runs[job])))
        r = rng(f"fail/{job}")
        chosen = []
        while len(chosen) < k:
            i = r.choice(history)
            if all(abs(i - j) >= BASELINE_FAIL_GAP for j in chosen):
                chosen.append(i)
        for i in sorted(chosen):
            run = runs[job][i]
            run["result"] = "failure"
            run["baseline_failure"] = True
            if "tests_total" in run:
                run["tests_failed"] = min(max(run["abb_new_failures"], 1), MAX_FAILED_TESTS)


def inject_anomalies(runs, split):
    """Applies ANOMALIES to runs finishing after the cut; returns their labels."""
    labels = []
    for a in ANOMALIES:
        job = a["job"]
        lst = runs[job]
        live = [i for i, r in enumerate(lst) if r["finished"] > split]
        hist = [lst[i] for i in range(len(lst)) if lst[i]["finished"] <= split]
        med_duration = float(statistics.median(r["duration"] for r in hist))
        med_queue = float(statistics.median(r["queue"] for r in hist))
        pos = min(max(int(round(a["at"] * len(live))), 0), len(live) - 1)
        first = live[pos]
        r = rng(f"anomaly/{job}/{a['kind']}")
        label = {"pipeline": pipeline_name(job), "source": SOURCE, "kind": a["kind"]}
        if a["kind"] == "slow":
            run = lst[first]
            new = int(round(a["factor"] * med_duration))
            label.update(run_ids=[str(run["build"])], field="duration_seconds",
                         original=run["duration"], injected=new, baseline_median=med_duration,
                         description=f"one run takes {a['factor']:g}x the pipeline's median duration "
                                     f"({new} s vs median {med_duration:g} s)")
            run["duration"] = new
            idx = [first]
        elif a["kind"] == "queue":
            run = lst[first]
            new = int(round(a["factor"] * med_queue))
            label.update(run_ids=[str(run["build"])], field="queue_seconds",
                         original=run["queue"], injected=new, baseline_median=med_queue,
                         description=f"one run waits {a['factor']:g}x the usual queue time "
                                     f"({new} s vs median {med_queue:g} s): agent shortage")
            run["queue"] = new
            idx = [first]
        elif a["kind"] == "tests-missing":
            run = lst[first]
            setup = r.randint(130, 170)
            label.update(run_ids=[str(run["build"])], field="tests_total",
                         original=run["tests_total"], injected=0,
                         original_duration=run["duration"], injected_duration=setup,
                         description="the test suite silently did not run: result success, "
                                     f"tests_total 0 (usual ~{run['tests_total']}), "
                                     f"duration {setup} s of setup only")
            run.update(tests_total=0, tests_failed=0, tests_skipped=0, duration=setup)
            idx = [first]
        elif a["kind"] == "failure-burst":
            n = a["length"]
            start = min(first, live[-1] - n)  # keep one recovered run after the burst
            idx = list(range(start, start + n))
            failed = [r.randint(2, 4) for _ in idx]
            for i, f in zip(idx, failed):
                lst[i]["result"] = "failure"
                if "tests_total" in lst[i]:
                    lst[i]["tests_failed"] = f
            label.update(run_ids=[str(lst[i]["build"]) for i in idx], field="result",
                         injected="failure", tests_failed=failed,
                         description=f"{n} consecutive failures (the same few tests fail, "
                                     "then a fix lands); the pipeline otherwise fails ~"
                                     f"{next(s['fail'] for s in PIPELINES if s['job'] == job):.0%} of runs")
        elif a["kind"] == "regression":
            idx = list(range(first, len(lst)))
            original = [lst[i]["duration"] for i in idx]
            for i in idx:
                lst[i]["duration"] = int(round(lst[i]["duration"] * a["factor"]))
            label.update(run_ids=[str(lst[i]["build"]) for i in idx], first_run_id=str(lst[first]["build"]),
                         field="duration_seconds", factor=a["factor"], baseline_median=med_duration,
                         original=original, injected=[lst[i]["duration"] for i in idx],
                         description=f"sustained slowdown: every run from build {lst[first]['build']} "
                                     f"on takes {a['factor']:g}x its recorded duration "
                                     f"(+{a['factor'] - 1:.0%}) until the end of the history")
        else:
            sys.exit(f"unknown anomaly kind {a['kind']}")
        for i in idx:
            lst[i]["anomaly"] = a["kind"]
        labels.append(label)
    return labels


def to_record(run):
    rec = {
        "source": SOURCE, "pipeline": pipeline_name(run["job"]), "branch": "master",
        "run_id": str(run["build"]), "number": run["build"], "attempt": 1, "event": "push",
        "status": "completed", "result": run["result"],
        "created_at": fmt_time(run["created"]), "started_at": fmt_time(run["started"]),
        "finished_at": fmt_time(run["finished"]),
        "queue_seconds": float(run["queue"]), "duration_seconds": float(run["duration"]),
    }
    if "tests_total" in run:
        rec.update(tests_total=run["tests_total"], tests_failed=run["tests_failed"],
                   tests_skipped=run["tests_skipped"])
    rec["url"] = BUILD_URL.format(run["build"])
    return rec


# ---------------------------------------------------------------- validation

def validate(records, labels):
    """Returns a list of problems (empty when the files are consistent)."""
    problems = []
    missing_ok = {(l["pipeline"], rid) for l in labels if l["kind"] == "tests-missing" for rid in l["run_ids"]}
    by_pipeline = {}
    for n, rec in enumerate(records, 1):
        where = f"line {n}"
        if not isinstance(rec, dict):
            problems.append(f"{where}: not a JSON object")
            continue
        for key in ("source", "pipeline", "run_id", "status", "started_at", "result", "finished_at"):
            if not isinstance(rec.get(key), str) or not rec[key]:
                problems.append(f"{where}: required field {key} missing or not a non-empty string")
        unknown = set(rec) - set(FIELD_ORDER)
        if unknown:
            problems.append(f"{where}: unknown fields {sorted(unknown)}")
        for key, v in rec.items():
            if v is None:
                problems.append(f"{where}: {key} is null (omit unknown values)")
            elif isinstance(v, bool):
                problems.append(f"{where}: {key} is a boolean")
            elif isinstance(v, (int, float)) and (v < 0 or not math.isfinite(v)):
                problems.append(f"{where}: {key} = {v} is negative or not finite")
        if rec.get("status") != "completed" or rec.get("result") not in RESULTS:
            problems.append(f"{where}: status/result {rec.get('status')}/{rec.get('result')}")
        times = {}
        for key in ("created_at", "started_at", "finished_at"):
            if not TIME_RE.match(str(rec.get(key, ""))):
                problems.append(f"{where}: {key} {rec.get(key)!r} is not RFC 3339 UTC 'Z' seconds")
            else:
                times[key] = parse_time(rec[key])
        if len(times) == 3:
            queue = (times["started_at"] - times["created_at"]).total_seconds()
            duration = (times["finished_at"] - times["started_at"]).total_seconds()
            if rec.get("queue_seconds") != queue or queue <= 0:
                problems.append(f"{where}: queue_seconds {rec.get('queue_seconds')} vs times {queue}")
            if rec.get("duration_seconds") != duration or duration <= 0:
                problems.append(f"{where}: duration_seconds {rec.get('duration_seconds')} vs times {duration}")
        if not isinstance(rec.get("number"), int) or str(rec.get("number")) != rec.get("run_id"):
            problems.append(f"{where}: number/run_id mismatch")
        if rec.get("attempt") != 1:
            problems.append(f"{where}: attempt {rec.get('attempt')}")
        tests = [k for k in ("tests_total", "tests_failed", "tests_skipped") if k in rec]
        if tests:
            if len(tests) != 3 or not all(isinstance(rec[k], int) for k in tests):
                problems.append(f"{where}: tests_* must be all three integers or absent")
            else:
                if rec["tests_failed"] + rec["tests_skipped"] > rec["tests_total"]:
                    problems.append(f"{where}: failed+skipped > total")
                if rec["tests_total"] == 0 and (rec["pipeline"], rec["run_id"]) not in missing_ok:
                    problems.append(f"{where}: tests_total 0 outside a labelled tests-missing anomaly")
                if rec["result"] == "success" and rec["tests_failed"] != 0:
                    problems.append(f"{where}: success with failed tests")
                if rec["result"] == "failure" and rec["tests_failed"] < 1:
                    problems.append(f"{where}: failure without failed tests")
        by_pipeline.setdefault(rec.get("pipeline"), []).append(rec)

    if len(records) > MAX_RUNS:
        problems.append(f"{len(records)} runs, more than {MAX_RUNS}")
    for p, recs in by_pipeline.items():
        ids = [r["run_id"] for r in recs]
        if len(set(ids)) != len(ids):
            problems.append(f"{p}: duplicate run_id")
        recs = sorted(recs, key=lambda r: r["number"])
        starts = [r["started_at"] for r in recs]
        if any(a >= b for a, b in zip(starts, starts[1:])):
            problems.append(f"{p}: started_at not strictly increasing with the build number")

    finishes = sorted(r["finished_at"] for r in records)
    split = finishes[max(math.ceil(LIVE_FROM * len(finishes)) - 1, 0)] if finishes else ""
    index = {(r["pipeline"], r["run_id"]): r for r in records}
    per_pipeline = {}
    for l in labels:
        per_pipeline[l["pipeline"]] = per_pipeline.get(l["pipeline"], 0) + 1
        for rid in l["run_ids"]:
            rec = index.get((l["pipeline"], rid))
            if rec is None:
                problems.append(f"anomaly {l['kind']}: run {l['pipeline']} {rid} not in the file")
            elif rec["finished_at"] <= split:
                problems.append(f"anomaly {l['kind']}: run {rid} finishes before the live cut {split}")
    if any(v > 2 for v in per_pipeline.values()):
        problems.append("more than two anomalies in one pipeline")
    if len(set(by_pipeline) - set(per_pipeline)) < 2:
        problems.append("fewer than two clean pipelines")
    return problems


# ---------------------------------------------------------------- reporting

def robust(values):
    med = statistics.median(values)
    mad = statistics.median(abs(v - med) for v in values)
    return med, mad


def summarize(records, split):
    pipelines = {}
    for r in records:
        pipelines.setdefault(r["pipeline"], []).append(r)
    rows = []
    for p in sorted(pipelines):
        recs = sorted(pipelines[p], key=lambda r: r["number"])
        hist = [r for r in recs if r["finished_at"] <= split]
        med, mad = robust([r["duration_seconds"] for r in hist])
        qmed, _ = robust([r["queue_seconds"] for r in hist])
        tests = [r["tests_total"] for r in hist if "tests_total" in r]
        rows.append({"pipeline": p, "runs": len(recs), "live": len(recs) - len(hist),
                     "median": med, "mad": mad, "queue_median": qmed,
                     "failures": sum(r["result"] != "success" for r in hist),
                     "tests": (min(tests), max(tests)) if tests else None,
                     "first": recs[0]["run_id"], "last": recs[-1]["run_id"]})
    return rows


def natural_outliers(records, labels, split, z_min=4.0):
    """Unlabelled live runs whose recorded duration is far from their history."""
    labelled = {(l["pipeline"], rid) for l in labels for rid in l["run_ids"]}
    out = []
    for row_p in sorted({r["pipeline"] for r in records}):
        recs = [r for r in records if r["pipeline"] == row_p]
        hist = [r["duration_seconds"] for r in recs if r["finished_at"] <= split]
        med, mad = robust(hist)
        sigma = max(1.4826 * mad, 0.01 * med, 1.0)
        for r in recs:
            if r["finished_at"] > split and (row_p, r["run_id"]) not in labelled:
                z = (r["duration_seconds"] - med) / sigma
                if abs(z) >= z_min:
                    out.append((row_p, r["run_id"], r["duration_seconds"], med, z))
    return out


def write_readme(path, records, labels, split):
    rows = summarize(records, split)
    first = min(r["created_at"] for r in records)
    last = max(r["finished_at"] for r in records)
    clean = sorted({r["pipeline"] for r in records} - {l["pipeline"] for l in labels})
    tested = [r for r in rows if r["tests"]]
    lines = [
        "# Demo data",
        "",
        "Generated by `python3 scripts/make_demo_data.py` (deterministic, seed "
        f"{SEED}); do not edit by hand. Sources, licences and what is synthetic: "
        "[NOTICE.md](NOTICE.md).",
        "",
        "| file | contents |",
        "|---|---|",
        f"| `demo-runs.jsonl` | {len(records)} run records (format: shared/DESIGN.md, \"The run record\"), "
        "sorted by `finished_at` |",
        "| `demo-anomalies.json` | the injected anomalies below, machine-readable (pipeline, kind, run_ids, "
        "original and injected values) |",
        "",
        "## What is in the file",
        "",
        f"{len(rows)} pipelines of Julia's Buildkite master pipeline, one per job, "
        f"`source` \"buildkite\", `branch` \"master\", `event` \"push\", `attempt` 1. "
        "`run_id` and `number` are the Buildkite build number (the same build number appears "
        "once in each pipeline); `url` is the build's page.",
        "",
        f"Time span: first `created_at` {first}, last `finished_at` {last} "
        "(the original dates; the replay source shifts them to the present).",
        "",
        f"Live cut at `live_from: {LIVE_FROM}`: runs finishing after **{split}** "
        f"({sum(r['live'] for r in rows)} runs) play live; the rest is history to backfill. "
        "All injected anomalies finish after the cut.",
        "",
        "| pipeline | runs (live) | median duration s (MAD) | median queue s | history failures | tests_total | anomaly |",
        "|---|---|---|---|---|---|---|",
    ]
    kinds = {}
    for l in labels:
        kinds.setdefault(l["pipeline"], []).append(l["kind"])
    for r in rows:
        tests = f"{r['tests'][0]}-{r['tests'][1]}" if r["tests"] else "absent"
        lines.append(f"| `{r['pipeline']}` | {r['runs']} ({r['live']}) | {r['median']:g} ({r['mad']:g}) | "
                     f"{r['queue_median']:g} | {r['failures']} | {tests} | "
                     f"{', '.join(kinds.get(r['pipeline'], [])) or 'clean'} |")
    lines += [
        "",
        "Medians are over the history part (before the cut). Pipelines whose job runs no test "
        "suite have no `tests_*` fields (unknown, not zero). "
        f"{len(tested)} pipelines carry test counts.",
        "",
        "## Injected anomalies",
        "",
        "| # | pipeline | kind | run_id(s) | what |",
        "|---|---|---|---|---|",
    ]
    for n, l in enumerate(labels, 1):
        ids = ", ".join(l["run_ids"])
        lines.append(f"| {n} | `{l['pipeline']}` | `{l['kind']}` | {ids} | {l['description']} |")
    lines += [
        "",
        f"Clean pipelines (no injected anomaly): {', '.join(f'`{p}`' for p in clean)}.",
        "",
        "Everything else is unlabelled: the recorded durations are real and carry their own "
        "natural variation and outliers, and isolated synthetic baseline failures occur only in "
        "the history part. Tests should assert that the labelled runs are found, not that nothing "
        "else ever is.",
    ]
    nat = natural_outliers(records, labels, split)
    if nat:
        lines += ["", "Unlabelled live runs with a recorded duration at least 4 robust sigmas "
                      "(1.4826 MAD) from their pipeline's history median:", ""]
        for p, rid, d, med, z in nat:
            lines.append(f"- `{p}` run {rid}: {d:g} s (median {med:g} s, {z:+.1f} sigma)")
    else:
        lines += ["", "No unlabelled live run has a recorded duration 4 or more robust sigmas "
                      "(1.4826 MAD) from its pipeline's history median."]
    lines += [
        "",
        "## Regenerating",
        "",
        "```",
        "python3 scripts/make_demo_data.py            # needs ../shared/datasets/ci-history",
        "python3 scripts/make_demo_data.py --check    # validates the committed files only",
        "```",
        "",
    ]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


# ---------------------------------------------------------------- main

def load_outputs(out_dir):
    with open(os.path.join(out_dir, "demo-runs.jsonl"), encoding="utf-8") as f:
        records = []
        for line in f:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                records.append(f"bad JSON: {e}")
    with open(os.path.join(out_dir, "demo-anomalies.json"), encoding="utf-8") as f:
        labels = json.load(f)["anomalies"]
    return records, labels


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default=os.path.join(root, "..", "shared", "datasets", "ci-history"))
    ap.add_argument("--out", default=os.path.join(root, "data"))
    ap.add_argument("--check", action="store_true", help="only validate the files in --out")
    args = ap.parse_args()

    if args.check:
        records, labels = load_outputs(args.out)
        problems = validate(records, labels)
        for p in problems:
            print("error:", p, file=sys.stderr)
        print(f"{len(records)} runs, {len(labels)} anomalies: {'OK' if not problems else 'INVALID'}")
        return 1 if problems else 0

    julia = read_julia(os.path.join(args.datasets, JULIA_FILE),
                       [s["job"] for s in PIPELINES] + DEPENDENCY_JOBS)
    abb = read_abb(os.path.join(args.datasets, ABB_FILE))
    runs, deps = base_runs(julia, abb)
    assign_times(runs, deps)
    split = live_split([r for lst in runs.values() for r in lst])
    add_baseline_failures(runs, split)
    labels = inject_anomalies(runs, split)
    assign_times(runs, deps)  # injected durations move finish times and dependent starts

    all_runs = [r for lst in runs.values() for r in lst]
    records = [to_record(r) for r in sorted(all_runs, key=lambda r: (r["finished"], r["job"]))]
    final_split = fmt_time(live_split(all_runs))
    problems = validate(records, labels)
    if problems:
        for p in problems:
            print("error:", p, file=sys.stderr)
        return 1

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "demo-runs.jsonl"), "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")
    doc = {
        "generator": "scripts/make_demo_data.py",
        "seed": SEED,
        "runs_file": "demo-runs.jsonl",
        "live_from": LIVE_FROM,
        "live_cut_finished_at": final_split,
        "clean_pipelines": sorted({r["pipeline"] for r in records} - {l["pipeline"] for l in labels}),
        "anomalies": labels,
    }
    with open(os.path.join(args.out, "demo-anomalies.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    write_readme(os.path.join(args.out, "README.md"), records, labels, final_split)
    print(f"{len(records)} runs in {len(runs)} pipelines, {len(labels)} anomalies, live cut {final_split}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
