#!/usr/bin/env python3
"""Labelled evaluation of cicd-detector on real CI histories.

Reads the histories in shared/datasets/ci-history IN PLACE (never copied; the
ka0s history is GPL-3.0 and the azure one carries no licence, so derived files
go to a scratch directory under the build dir only), converts each into run
records (shared/DESIGN.md "The run record"), injects labelled anomalies into
the later part of each pipeline's history, and scores the verdicts of
`cicd-detector replay` against the labels.

  ci_eval.py generate --datasets DIR --out DIR [--seed N]
      writes DIR/clean.jsonl (the histories as they are), DIR/runs.jsonl (with
      injected anomalies) and DIR/labels.json.
  ci_eval.py report --out DIR [--examples N]
      reads DIR/labels.json, DIR/verdicts.jsonl and DIR/clean_verdicts.jsonl
      (replay of runs.jsonl and of clean.jsonl) and prints the tables.

Python standard library only. Deterministic for a given seed.
"""
import argparse
import collections
import csv
import datetime as dt
import gzip
import json
import os
import random
import sys

COLD_RUNS = 30       # no injection among a pipeline's first runs (cold start)
MIN_GAP = 15         # runs between the end of one injection and the next
EXTRA_GAP = 15       # plus a seeded 0..EXTRA_GAP so injections are not periodic
GRACE_RUNS = 3       # runs after an event that still count as its window
# Failure bursts go only into pipelines whose failure rate (executed runs,
# whole history) is at most this: at 15% four failures in a row happen by
# chance about once in 2,000 runs; at 40% (ka0s JSON Lint) every 40 runs.
MAX_BURST_BASE_RATE = 0.15

# The ABB history is one pipeline of 320 cycles, the only one reporting tests:
# it is injected this many times, each replica independently seeded and named
# "<pipeline>~rN", so tests_missing gets enough labels. Rates are unaffected;
# counts for that data set are over the replicas.
REPLICAS = {"abb": 10}
REPLICA_MARK = "~r"

KINDS = ["slow", "stuck", "regression", "queue", "tests_missing", "failure_burst"]
EVENT_KINDS = {"regression", "failure_burst"}

# source field -> data set name, licence (for the table header).
DATASETS = {
    "buildkite": ("julia-buildkite", "MIT"),
    "github": ("ka0s-github", "GPL-3.0, read in place"),
    "azure": ("rust-azure", "no licence, read in place"),
    "abb": ("abb-iofrol", "MIT"),
}


# ---------------------------------------------------------------- loading ----
# Each loader returns {pipeline: [run, ...]} in history order. A run is a dict
# with source, pipeline, run_id, started (epoch s), duration (s), result, and
# optionally queue (s), number, tests_total, tests_failed. Unknown = absent.

def _epoch(text, fmt):
    return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.timezone.utc).timestamp()


def load_julia(path):
    """Buildkite jobs of Julia's master pipeline: build, date, duration only.

    The timing tracker lists finished builds without their result; we take them
    as successes. Queue time and tests are unknown, so absent."""
    with gzip.open(path, "rt") as f:
        doc = json.load(f)
    out = {}
    for job, body in sorted(doc["jobs"].items()):
        runs = []
        for r in sorted(body["recent"], key=lambda r: r["build"]):
            if r.get("duration") is None or not r.get("date"):
                continue
            runs.append({"source": "buildkite", "pipeline": "julialang/julia-master/" + job,
                         "run_id": str(r["build"]), "number": r["build"],
                         "started": _epoch(r["date"], "%Y-%m-%d %H:%M"),
                         "duration": float(r["duration"]), "result": "success"})
        if runs:
            out[runs[0]["pipeline"]] = runs
    return out


GITHUB_RESULT = {"success": "success", "failure": "failure", "cancelled": "cancellation",
                 "timed_out": "timeout", "skipped": "skip", "startup_failure": "error",
                 "action_required": "error", "stale": "cancellation", "neutral": "success"}


def load_ka0s(path, min_runs=100):
    """GitHub Actions workflow runs; pipelines = workflows with >= min_runs runs.

    Runs not completed, or with conclusion "unknown" (no OTel equivalent), are
    left out: a completed run record needs a result. Queue time: in this data
    every first attempt starts in the second it is created; a run with
    run_started_at > created_at (493 of them, all by more than a minute, most
    by days) is a re-run, whose created_at is the first attempt's, so its own
    queue time is unknown and left absent (DESIGN: queue of that attempt)."""
    by_wf = collections.defaultdict(list)
    with gzip.open(path, "rt", newline="") as f:
        for row in csv.DictReader(f):
            by_wf[row["workflow_id"]].append(row)
    out = {}
    for wf, rows in sorted(by_wf.items()):
        if len(rows) < min_runs:
            continue
        name = collections.Counter(r["name"] for r in rows).most_common(1)[0][0]
        pipeline = "Ka0s-Klaus/ka0s/%s (%s)" % (name, wf)
        runs = []
        for r in sorted(rows, key=lambda r: (int(r["run_started_at"] or r["created_at"]), int(r["id"]))):
            result = GITHUB_RESULT.get(r["conclusion"])
            if r["status"] != "completed" or result is None:
                continue
            created, started, updated = (int(r[k]) for k in ("created_at", "run_started_at", "updated_at"))
            runs.append({"source": "github", "pipeline": pipeline, "run_id": r["id"],
                         "number": int(r["run_number"]), "branch": r["head_branch"],
                         "event": r["event"], "started": float(started),
                         "duration": float(max(0, updated - started)), "result": result})
            if started == created:
                runs[-1]["queue"] = 0.0
        if len(runs) >= min_runs:
            out[pipeline] = runs
    return out


def load_azure(path):
    """rust-lang/rust merge builds on Azure Pipelines: per job, the sum of its
    step times. Only merged (successful) builds are tracked; no queue, no tests."""
    by_job = collections.defaultdict(list)
    with gzip.open(path, "rt", newline="") as f:
        for row in csv.DictReader(f):
            if not row["sum_step_seconds"]:
                continue
            by_job[row["job"]].append({
                "source": "azure", "pipeline": "rust-lang/rust/auto/" + row["job"],
                "run_id": row["azure_build_id"], "number": int(row["azure_build_id"]),
                "started": dt.datetime.fromisoformat(row["commit_date"]).timestamp(),
                "duration": float(row["sum_step_seconds"]), "result": "success"})
    return {runs[0]["pipeline"]: sorted(runs, key=lambda r: r["number"])
            for _, runs in sorted(by_job.items())}


def load_abb(path):
    """ABB IOF/ROL test executions grouped by CI cycle into one pipeline.

    tests_total = executions in the cycle, tests_failed = failed verdicts,
    duration = total test time (Duration is in milliseconds: the per-test
    median is ~60 000, and the cycles' wall-clock spans rule out seconds),
    started = the earliest LastRun, result = failure when a test failed."""
    cycles = collections.defaultdict(list)
    with gzip.open(path, "rt", newline="") as f:
        for row in csv.DictReader(f, delimiter=";"):
            cycles[int(row["Cycle"])].append(row)
    runs = []
    for c in sorted(cycles):
        rows = cycles[c]
        failed = sum(1 for r in rows if r["Verdict"] == "1")
        runs.append({"source": "abb", "pipeline": "abb/iofrol", "run_id": str(c), "number": c,
                     "started": min(_epoch(r["LastRun"], "%Y-%m-%d %H:%M:%S") for r in rows),
                     "duration": sum(int(r["Duration"]) for r in rows) / 1000.0,
                     "tests_total": len(rows), "tests_failed": failed,
                     "result": "failure" if failed else "success"})
    return {"abb/iofrol": runs}


LOADERS = [("buildkite_julia_job_timings.json.gz", load_julia),
           ("github_actions_ka0s_runs.csv.gz", load_ka0s),
           ("azure_rust_job_totals.csv.gz", load_azure),
           ("abb_iofrol_test_executions.csv.gz", load_abb)]


# -------------------------------------------------------------- injection ----

def failure_rate(runs):
    judged = [r for r in runs if _executed(r)]
    return sum(r["result"] in ("failure", "error", "timeout") for r in judged) / max(1, len(judged))


def _first(runs, lo, hi, pred):
    for i in range(lo, min(hi, len(runs))):
        if pred(runs[i]):
            return i
    return None


def _executed(r):
    return r["result"] in ("success", "failure", "error")


def _success_with_duration(r):
    return r["result"] == "success" and r.get("duration") is not None and r["duration"] > 0


def try_inject(kind, runs, pos, rng, base_fail_rate):
    """Injects one anomaly of `kind` at or just after runs[pos]. Returns
    (labelled indices, window end index exclusive) or None when not realistic."""
    n = len(runs)
    if kind in ("slow", "stuck"):
        i = _first(runs, pos, pos + 4, _success_with_duration)
        if i is None:
            return None
        r = runs[i]
        if kind == "slow":
            r["duration"] = round(r["duration"] * rng.uniform(2.5, 5.0), 1)
        else:
            r["duration"] = round(r["duration"] * rng.uniform(8.0, 20.0), 1)
            r["result"] = rng.choice(["timeout", "cancellation"])
        return [i], i + 1
    if kind == "queue":
        i = _first(runs, pos, pos + 4, lambda r: r.get("queue") is not None)
        if i is None:
            return None
        runs[i]["queue"] = round(runs[i]["queue"] + rng.uniform(600, 1800), 1)
        return [i], i + 1
    if kind == "tests_missing":
        i = _first(runs, pos, pos + 6, lambda r: r.get("tests_total") and r["result"] == "success")
        if i is None:
            return None
        r = runs[i]
        if rng.random() < 0.5:
            # The report was lost: the tests ran (same time) but nothing was published.
            r.pop("tests_total", None)
            r.pop("tests_failed", None)
        else:
            # The test step silently ran nothing: zero tests, little test time.
            r["tests_total"], r["tests_failed"] = 0, 0
            r["duration"] = round(r["duration"] * rng.uniform(0.02, 0.2), 1)
        return [i], i + 1
    if kind == "regression":
        if n - pos < 10:
            return None
        length = rng.randint(10, 20)
        if n - (pos + length) < MIN_GAP + 10:
            length = n - pos  # sustained to the end of the history
        factor = rng.uniform(1.4, 1.8)
        idx = list(range(pos, pos + length))
        for i in idx:
            if runs[i].get("duration") is not None and _executed(runs[i]):
                runs[i]["duration"] = round(runs[i]["duration"] * factor, 1)
        return idx, pos + length
    if kind == "failure_burst":
        # 4-6 consecutive runs that executed fail (skipped runs in between
        # stay skipped: a workflow whose condition was false does not fail).
        length = rng.randint(4, 6)
        if base_fail_rate > MAX_BURST_BASE_RATE:
            return None
        hit = [i for i in range(pos, min(n, pos + 50)) if _executed(runs[i])][:length]
        if len(hit) < length or not _executed(runs[pos]):
            return None
        idx = list(range(pos, hit[-1] + 1))
        for i in hit:
            r = runs[i]
            r["result"] = "failure"
            if r.get("duration") is not None:
                # A failing build usually stops early.
                r["duration"] = round(r["duration"] * rng.uniform(0.2, 1.0), 1)
            if r.get("tests_total"):
                r["tests_failed"] = max(1, r.get("tests_failed") or 0)
        return idx, pos + length
    raise ValueError(kind)


def inject(pipelines, rng, counts):
    """Injects into every pipeline in place; returns the labels. `counts`
    (per kind, per data set) keeps the mix of kinds balanced: each slot takes
    the least-used kind that is realistic for that pipeline and run."""
    labels = []
    for name in sorted(pipelines):
        runs = pipelines[name]
        if len(runs) < COLD_RUNS + 10:
            continue
        base = failure_rate(runs)
        pos = COLD_RUNS + rng.randint(0, 5)
        while pos < len(runs):
            order = sorted(KINDS, key=lambda k: (counts[k], rng.random()))
            done = None
            for kind in order:
                done = try_inject(kind, runs, pos, rng, base)
                if done:
                    break
            if not done:
                pos += 1
                continue
            idx, end = done
            counts[kind] += 1
            event = kind in EVENT_KINDS
            window = list(range(idx[0], min(len(runs), end + GRACE_RUNS))) if event else idx
            labels.append({"source": runs[0]["source"], "pipeline": name, "kind": kind,
                           "runs": [runs[i]["run_id"] for i in idx],
                           "window": [runs[i]["run_id"] for i in window],
                           "to_end": end >= len(runs)})
            pos = end + MIN_GAP + rng.randint(0, EXTRA_GAP)
    return labels


def _rfc3339(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_record(r):
    """The DESIGN.md run record. finished_at is left to the reader
    (started_at + duration_seconds), so a stretched run also finishes later."""
    rec = {"source": r["source"], "pipeline": r["pipeline"], "run_id": r["run_id"]}
    for k in ("number", "branch", "event"):
        if r.get(k) not in (None, ""):
            rec[k] = r[k]
    rec["status"] = "completed"
    rec["result"] = r["result"]
    if r.get("queue") is not None:
        rec["created_at"] = _rfc3339(r["started"] - r["queue"])
        rec["queue_seconds"] = r["queue"]
    rec["started_at"] = _rfc3339(r["started"])
    rec["duration_seconds"] = r["duration"]
    for k in ("tests_total", "tests_failed"):
        if r.get(k) is not None:
            rec[k] = r[k]
    return json.dumps(rec, ensure_ascii=False, separators=(",", ":"))


def generate(args):
    os.makedirs(args.out, exist_ok=True)
    hist = os.path.join(args.datasets, "ci-history")
    rng = random.Random(args.seed)
    all_labels, summary = [], []
    with open(os.path.join(args.out, "clean.jsonl"), "w") as clean, \
            open(os.path.join(args.out, "runs.jsonl"), "w") as dirty:
        for file_name, loader in LOADERS:
            path = os.path.join(hist, file_name)
            if not os.path.exists(path):
                print("ci_eval: %s not found, skipped" % path, file=sys.stderr)
                continue
            pipelines = loader(path)
            for runs in pipelines.values():
                for r in runs:
                    clean.write(to_record(r) + "\n")
            counts = collections.Counter()
            source = next(iter(pipelines.values()))[0]["source"]
            n_labels = 0
            for rep in range(REPLICAS.get(source, 1)):
                suffix = REPLICA_MARK + str(rep) if rep else ""
                injected = {k + suffix: [dict(r, pipeline=k + suffix) for r in v]
                            for k, v in pipelines.items()}
                labels = inject(injected, rng, counts)
                all_labels += labels
                n_labels += len(labels)
                for runs in injected.values():
                    for r in runs:
                        dirty.write(to_record(r) + "\n")
            summary.append((file_name, len(pipelines), sum(map(len, pipelines.values())), n_labels,
                            REPLICAS.get(source, 1)))
    with open(os.path.join(args.out, "labels.json"), "w") as f:
        json.dump({"seed": args.seed, "labels": all_labels}, f)
    for file_name, n_pipes, n_runs, n_labels, reps in summary:
        print("ci_eval: %-38s %4d pipelines %6d runs %4d injected%s" % (
            file_name, n_pipes, n_runs, n_labels, " (over %d replicas)" % reps if reps > 1 else ""),
            file=sys.stderr)


# ------------------------------------------------------------- evaluation ----

GROSS_RATIO = 10  # a run >= 10x its pipeline's median successful duration is grossly abnormal


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def read_verdicts(path):
    return {(v["source"], v["pipeline"], v["run_id"]): v for v in read_jsonl(path)}


def gross_runs(clean_runs):
    """Runs of the clean history whose duration is >= GROSS_RATIO x their
    pipeline's whole-history median successful duration (hindsight, for
    judging false alerts only; the detector never sees this)."""
    ok = collections.defaultdict(list)
    for r in clean_runs:
        if r["result"] == "success" and r.get("duration_seconds") is not None:
            ok[(r["source"], r["pipeline"])].append(r["duration_seconds"])
    med = {k: sorted(v)[len(v) // 2] for k, v in ok.items()}
    return {(r["source"], r["pipeline"], r["run_id"]) for r in clean_runs
            if r.get("duration_seconds") is not None and (r["source"], r["pipeline"]) in med
            and r["duration_seconds"] >= GROSS_RATIO * max(1.0, med[(r["source"], r["pipeline"])])}


def prf(tp, fp, fn):
    nan = float("nan")
    p = tp / (tp + fp) if tp + fp else nan
    r = tp / (tp + fn) if tp + fn else nan
    f = 2 * p * r / (p + r) if tp else (0.0 if tp + fn else nan)
    return p, r, f


def fmt(x):
    return "-" if x != x else "%.2f" % x


def num(x):
    return "%d" % round(x) if abs(x - round(x)) < 1e-9 else "%.1f" % x


class Score:
    """Counts for one data set, or for all (where a replicated data set's
    counts are weighted 1/replicas, so every history counts once)."""

    def __init__(self):
        self.labels = collections.Counter()       # label kind -> labels
        self.detected = collections.Counter()     # label kind -> found (by a verdict of any kind)
        self.matched = collections.Counter()      # label kind -> found by a verdict of that kind
        self.confusion = collections.defaultdict(collections.Counter)  # label kind -> verdict kinds
        self.delay = collections.defaultdict(list)  # event kind -> runs from start to first alert
        self.fp = collections.Counter()           # verdict kind -> false alerts
        self.fp_natural = 0.0                     # ... also raised on the clean history
        self.fp_gross = 0.0                       # ... on grossly abnormal runs
        self.normal = 0.0                         # scored runs outside every label window
        self.clean_scored = 0.0
        self.clean_alerts = collections.Counter()
        self.unscored_labels = 0


def _strip_replica(pipeline):
    return pipeline.split(REPLICA_MARK)[0]


def evaluate(labels, verdicts, clean, gross):
    scores = collections.defaultdict(Score)

    def targets(source):
        return [(scores[source], 1.0), (scores["all"], 1.0 / REPLICAS.get(source, 1))]

    in_window = set()
    for lab in labels:
        key = (lab["source"], lab["pipeline"])
        in_window.update(key + (rid,) for rid in lab["window"])
        window = [verdicts.get(key + (rid,)) for rid in lab["window"]]
        hits = [(i, v) for i, v in enumerate(window) if v and v["anomalous"]]
        unscored = lab["kind"] not in EVENT_KINDS and window[0] is not None and not window[0]["scored"]
        kinds = [v["kind"] for _, v in hits]
        for s, w in targets(lab["source"]):
            s.labels[lab["kind"]] += w
            s.unscored_labels += unscored
            if not hits:
                continue
            s.detected[lab["kind"]] += w
            s.matched[lab["kind"]] += w * (lab["kind"] in kinds)
            s.confusion[lab["kind"]][lab["kind"] if lab["kind"] in kinds else kinds[0]] += 1
            if lab["kind"] in EVENT_KINDS:
                s.delay[lab["kind"]].append(hits[0][0])
    false_alerts = []
    for key, v in verdicts.items():
        if key in in_window or not v["scored"]:
            continue
        base = (key[0], _strip_replica(key[1]), key[2])
        natural = bool(clean.get(base, {}).get("anomalous"))
        for s, w in targets(key[0]):
            s.normal += w
            if v["anomalous"]:
                s.fp[v["kind"]] += w
                s.fp_natural += w * natural
                s.fp_gross += w * (base in gross)
        if v["anomalous"]:
            false_alerts.append((v, natural, base in gross))
    for key, v in clean.items():
        if v["scored"]:
            for s in (scores[key[0]], scores["all"]):
                s.clean_scored += 1
                if v["anomalous"]:
                    s.clean_alerts[v["kind"]] += 1
    return scores, false_alerts


def print_table(title, s):
    print("\n## %s" % title)
    print("Labels injected: %s; normal scored runs (outside every label window): %s"
          % (num(sum(s.labels.values())), num(s.normal)))
    row = "%-14s %7s %7s %7s %11s %7s %9s %6s %6s"
    hdr = row % ("kind", "labels", "found", "recall", "kind_ok", "FP", "precision", "F1", "delay")
    print(hdr)
    print("-" * len(hdr))
    tp_all = lab_all = 0.0
    for k in KINDS:
        tp, lab, fp = s.detected[k], s.labels[k], s.fp[k]
        if not lab and not fp:
            continue
        p, r, f = prf(tp, fp, lab - tp)
        tp_all += tp
        lab_all += lab
        d = s.delay.get(k)
        print(row % (k, num(lab), num(tp), fmt(r), "%s/%s" % (num(s.matched[k]), num(tp)) if tp else "-",
                     num(fp), fmt(p), fmt(f), "%.1f" % (sum(d) / len(d)) if d else "-"))
    fp_other = sum(v for k, v in s.fp.items() if k not in KINDS)
    if fp_other:
        print(row % ("(other kinds)", "", "", "", "", num(fp_other), "", "", ""))
    fp_all = sum(s.fp.values())
    p, r, f = prf(tp_all, fp_all, lab_all - tp_all)
    print(row % ("overall", num(lab_all), num(tp_all), fmt(r), "%s/%s" % (num(sum(s.matched.values())), num(tp_all)),
                 num(fp_all), fmt(p), fmt(f), ""))
    per_k = lambda x: 1000.0 * x / s.normal if s.normal else float("nan")
    rate = per_k(fp_all)
    print("False alerts: %s on %s normal runs = %.1f per 1,000 (goal <= 1)" % (num(fp_all), num(s.normal), rate))
    print("  natural (also raised on the clean history): %s = %.1f per 1,000; only after injections: %s"
          % (num(s.fp_natural), per_k(s.fp_natural), num(fp_all - s.fp_natural)))
    print("  on grossly abnormal runs (>= %dx the pipeline's median successful duration, in hindsight): %s; "
          "the rest: %.1f per 1,000" % (GROSS_RATIO, num(s.fp_gross), per_k(fp_all - s.fp_gross)))
    clean_all = sum(s.clean_alerts.values())
    print("Clean history (no injections): %d alerts on %d scored runs = %.1f per 1,000 (%s)" % (
        clean_all, s.clean_scored, 1000.0 * clean_all / max(1, s.clean_scored),
        ", ".join("%s %d" % kv for kv in s.clean_alerts.most_common()) or "none"))
    conf = ["%s->%s" % (k, ",".join("%s:%d" % kv for kv in s.confusion[k].most_common()))
            for k in KINDS if s.confusion.get(k)]
    if conf:
        print("Found as (label->verdict kinds): " + "; ".join(conf))
    if s.unscored_labels:
        print("WARNING: %d labelled runs fell in the cold start" % s.unscored_labels)
    return f, rate


DEFINITIONS = """\
Definitions
- A point label (slow, stuck, queue, tests_missing) is found when its run's
  verdict is anomalous; an event (regression, failure_burst) is found when any
  run of the event or of the %d runs after it is anomalous (one TP per event;
  other alerts inside that window are neither TP nor FP). found counts a hit by
  a verdict of any kind; kind_ok says how many hits carried the label's kind.
- FP of a kind = anomalous verdicts of that verdict kind on normal runs (scored
  runs outside every label window). precision(kind) = found / (found + FP of
  that kind); recall = found / labels; F1 from those; overall sums all kinds.
- delay: for events, runs from the event's first run to the first alert.
- natural: the same run is also anomalous when the clean (uninjected) history
  is replayed. The real histories contain real anomalies nobody labelled, so
  FP is an upper bound on truly false alerts.
- abb-iofrol is injected %d times (replicas): its counts are over the
  replicas; in the overall table they are weighted 1/%d.""" % (
    GRACE_RUNS, REPLICAS["abb"], REPLICAS["abb"])


def report(args):
    with open(os.path.join(args.out, "labels.json")) as f:
        labels = json.load(f)["labels"]
    verdicts = read_verdicts(os.path.join(args.out, "verdicts.jsonl"))
    clean = read_verdicts(os.path.join(args.out, "clean_verdicts.jsonl"))
    gross = gross_runs(read_jsonl(os.path.join(args.out, "clean.jsonl")))
    scores, false_alerts = evaluate(labels, verdicts, clean, gross)
    print(DEFINITIONS)
    for source, (name, licence) in DATASETS.items():
        if source in scores:
            print_table("%s (%s; source=%s)" % (name, licence, source), scores[source])
    f1, rate = print_table("overall", scores["all"])
    print("\nGoal: F1 >= 0.90 and <= 1 false alert per 1,000 normal runs: F1 %.2f %s, %.1f per 1,000 %s"
          % (f1, "met" if f1 >= 0.9 else "NOT met", rate, "met" if rate <= 1 else "NOT met"))
    if args.examples:
        print("\n## False alerts, examples (highest score per data set and kind; judge whether real)")
        groups = collections.defaultdict(dict)
        for v, natural, gross_run in false_alerts:
            base = (v["source"], _strip_replica(v["pipeline"]), v["run_id"])
            groups[(v["source"], v["kind"])].setdefault(base, (v, natural, gross_run))
        for (source, kind), items in sorted(groups.items()):
            ranked = sorted(items.values(), key=lambda x: -x[0]["score"])
            n_gross = sum(1 for x in ranked if x[2])
            print("- %s %s: %d distinct runs (%d grossly abnormal)" % (
                DATASETS.get(source, (source,))[0], kind, len(ranked), n_gross))
            # The highest scores, and the lowest: borderline alerts say more about the thresholds.
            picks = ranked[:args.examples] + ranked[args.examples:][-args.examples:]
            for v, natural, gross_run in picks:
                print("    %s #%s score %.2f%s%s: %s" % (
                    v["pipeline"], v["run_id"], v["score"], "" if natural else " after-injection",
                    " gross" if gross_run else "", " | ".join(v["reasons"])))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--datasets", required=True, help="shared/datasets (read in place)")
    g.add_argument("--out", required=True, help="scratch directory (under the build dir)")
    g.add_argument("--seed", type=int, default=1)
    r = sub.add_parser("report")
    r.add_argument("--out", required=True)
    r.add_argument("--examples", type=int, default=3, help="false alerts quoted per data set and kind")
    args = ap.parse_args()
    return generate(args) if args.cmd == "generate" else report(args)


if __name__ == "__main__":
    sys.exit(main() or 0)
