#!/usr/bin/env python3
"""ci_eval_synthetic_smoke: invariants of bench/ci_synth.py's clean synthetic
base and of bench/ci_eval.py's injection and scoring, on a small base, and
one end-to-end run of `ci_eval.py run` with the built cicd-detector.

  python3 tests/bench/ci_eval_test.py        (CICD_BIN=build/bin for the end-to-end part)
"""
import collections
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import unittest

SOURCE_DIR = os.environ.get("CICD_SOURCE_DIR",
                            os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SOURCE_DIR, "bench"))

import ci_eval  # noqa: E402
import ci_synth  # noqa: E402

SEED = 7
PIPELINES = 6
TRIGGERS = {"push", "pull_request", "schedule", "manual", "other"}


def _epoch(text):
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp()


def setUpModule():
    global TMP, BASE, CLEAN, RUNS, LABELS, SHAPES, TRUTH
    TMP = tempfile.TemporaryDirectory(prefix="ci_eval_test.")
    ci_eval.write_synthetic(TMP.name, SEED, PIPELINES)
    BASE = os.path.join(TMP.name, ci_eval.SYNTHETIC)
    CLEAN = ci_eval.read_jsonl(os.path.join(BASE, "clean.jsonl"))
    RUNS = ci_eval.read_jsonl(os.path.join(BASE, "runs.jsonl"))
    with open(os.path.join(BASE, "labels.json")) as f:
        LABELS = json.load(f)["labels"]
    with open(os.path.join(BASE, "pipelines.json")) as f:
        SHAPES = {p["pipeline"]: ci_synth.Shape(**p) for p in json.load(f)}
    TRUTH = {(t["pipeline"], t["run_id"]): t for t in ci_eval.read_jsonl(os.path.join(BASE, "truth.jsonl"))}


def tearDownModule():
    TMP.cleanup()


def by_pipeline(records):
    out = collections.defaultdict(list)
    for r in records:
        out[r["pipeline"]].append(r)
    return out


def median_duration(records, **where):
    xs = [r["duration_seconds"] for r in records if all(r.get(k) == v for k, v in where.items())]
    return statistics.median(xs) if xs else None


class CleanBaseTest(unittest.TestCase):
    def test_same_seed_same_base_other_seed_other_base(self):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            ci_eval.write_synthetic(a, SEED, PIPELINES)
            ci_eval.write_synthetic(b, SEED + 1, PIPELINES)
            with open(os.path.join(a, "synthetic", "runs.jsonl")) as fa, \
                    open(os.path.join(BASE, "runs.jsonl")) as fbase, \
                    open(os.path.join(b, "synthetic", "runs.jsonl")) as fb:
                mine, again, other = fbase.read(), fa.read(), fb.read()
        self.assertEqual(mine, again)
        self.assertNotEqual(mine, other)

    def test_records_are_run_records_without_ground_truth(self):
        for r in CLEAN:
            self.assertLessEqual({"source", "pipeline", "run_id", "status", "started_at", "result",
                                  "duration_seconds", "trigger", "event", "branch"}, set(r), r)
            self.assertFalse([k for k in r if k.startswith("_") or "label" in k], r)
            self.assertIn(r["trigger"], TRIGGERS)
            self.assertGreater(r["duration_seconds"], 0)
            if "queue_seconds" in r:
                self.assertGreaterEqual(r["queue_seconds"], 0)
                self.assertAlmostEqual(_epoch(r["started_at"]) - _epoch(r["created_at"]), r["queue_seconds"],
                                       delta=1.0)
            if "tests_total" in r:
                self.assertLessEqual(r["tests_failed"], r["tests_total"])
                self.assertEqual(r["tests_failed"] > 0, r["result"] == "failure", r)
        self.assertEqual(len({(r["pipeline"], r["run_id"]) for r in CLEAN}), len(CLEAN), "run ids unique")

    def test_clean_base_has_no_label_and_injections_change_only_labelled_runs(self):
        clean = {(r["pipeline"], r["run_id"]): r for r in CLEAN}
        dirty = {(r["pipeline"], r["run_id"]): r for r in RUNS}
        self.assertEqual(set(clean), set(dirty))
        labelled = {(lab["pipeline"], rid) for lab in LABELS for rid in lab["runs"]}
        self.assertLessEqual(labelled, set(clean))
        for key in set(clean) - labelled:
            self.assertEqual(clean[key], dirty[key], key)
        for lab in LABELS:
            if lab["kind"] not in ci_eval.EVENT_KINDS:
                key = (lab["pipeline"], lab["runs"][0])
                self.assertNotEqual(clean[key], dirty[key], lab)

    def test_every_kind_is_injected(self):
        self.assertEqual(set(ci_eval.KINDS), {lab["kind"] for lab in LABELS})

    def test_fast_empty_runs_are_green_short_and_mostly_without_tests(self):
        clean = {(r["pipeline"], r["run_id"]): r for r in CLEAN}
        dirty = {(r["pipeline"], r["run_id"]): r for r in RUNS}
        for lab in (lab for lab in LABELS if lab["kind"] == "fast_empty"):
            before, after = clean[(lab["pipeline"], lab["runs"][0])], dirty[(lab["pipeline"], lab["runs"][0])]
            self.assertEqual(after["result"], "success")
            self.assertLessEqual(after["tests_total"], 0.3 * before["tests_total"] + 1)
            self.assertGreaterEqual(after["tests_total"], 1)
            self.assertLess(after["duration_seconds"], 0.31 * before["duration_seconds"])

    def test_shapes_vary_per_pipeline(self):
        shapes = list(SHAPES.values())
        durations = [s.base_duration for s in shapes]
        self.assertGreater(max(durations) / min(durations), 10)
        self.assertGreaterEqual(max(s.spread for s in shapes), 0.2)
        self.assertLessEqual(min(s.spread for s in shapes), 0.12)
        for feature in ("tests", "queue_mean", "nightly_hour"):
            present = [getattr(s, feature) is not None for s in shapes]
            self.assertTrue(any(present) and not all(present), feature)
        self.assertGreater(len({s.utc_offset_h for s in shapes}), 1)
        self.assertGreater(len({s.source for s in shapes}), 1)


class NormalPatternsTest(unittest.TestCase):
    def test_nightly_runs_are_longer_than_push_runs(self):
        checked = 0
        for name, runs in by_pipeline(CLEAN).items():
            nightly = median_duration(runs, trigger="schedule", result="success")
            push = median_duration(runs, trigger="push", result="success")
            if nightly is None:
                continue
            checked += 1
            self.assertGreater(nightly, 1.3 * push, name)
        self.assertGreater(checked, 0)

    def test_pull_requests_run_off_the_default_branch_and_differ_from_main(self):
        pr_fail = push_fail = pr_n = push_n = 0
        for name, runs in by_pipeline(CLEAN).items():
            shape = SHAPES[name]
            for r in runs:
                on_default = r["branch"] == shape.default_branch
                self.assertEqual(on_default, r["trigger"] != "pull_request", r)
                if r["trigger"] == "pull_request":
                    pr_n += 1
                    pr_fail += r["result"] == "failure"
                elif r["trigger"] == "push":
                    push_n += 1
                    push_fail += r["result"] == "failure"
            pr = median_duration(runs, trigger="pull_request", result="success")
            if pr is not None:
                ratio = pr / median_duration(runs, trigger="push", result="success")
                self.assertGreater(abs(ratio - 1), 0.05, name)
        self.assertGreater(pr_n, 0)
        self.assertGreater(pr_fail / pr_n, 1.2 * push_fail / push_n)

    def test_fewer_runs_at_weekends(self):
        weekend = total = 0
        for r in CLEAN:
            if r["trigger"] in ("push", "pull_request"):
                total += 1
                weekend += ci_synth.is_weekend(SHAPES[r["pipeline"]], _epoch(r["started_at"]))
        self.assertLess(weekend / total, 0.5 * 2 / 7)

    def test_queue_longer_in_the_pipelines_own_office_hours(self):
        ratios = []
        for name, runs in by_pipeline(CLEAN).items():
            shape = SHAPES[name]
            office = [r["queue_seconds"] for r in runs
                      if "queue_seconds" in r and ci_synth.is_office_hours(shape, _epoch(r["created_at"]))]
            rest = [r["queue_seconds"] for r in runs
                    if "queue_seconds" in r and not ci_synth.is_office_hours(shape, _epoch(r["created_at"]))]
            self.assertEqual(bool(office), shape.queue_mean is not None, name)
            if office and rest:
                ratios.append(statistics.median(office) / statistics.median(rest))
        self.assertTrue(ratios)
        self.assertGreater(min(ratios), 1.1)
        self.assertGreater(statistics.median(ratios), 1.4)

    def test_cache_misses_are_one_in_ten_and_longer(self):
        misses = [t["cache_miss"] for t in TRUTH.values()]
        self.assertTrue(0.05 < sum(misses) / len(misses) < 0.15)
        for name, runs in by_pipeline(CLEAN).items():
            push = [r for r in runs if r["trigger"] == "push" and r["result"] == "success"]
            hit = [r["duration_seconds"] for r in push if not TRUTH[(name, r["run_id"])]["cache_miss"]]
            miss = [r["duration_seconds"] for r in push if TRUTH[(name, r["run_id"])]["cache_miss"]]
            if len(miss) >= 10:
                self.assertTrue(1.2 < statistics.median(miss) / statistics.median(hit) < 2.0, name)

    def test_failed_runs_stop_early(self):
        for name, runs in by_pipeline(CLEAN).items():
            failed = median_duration(runs, trigger="push", result="failure")
            if failed is not None and sum(r["result"] == "failure" for r in runs) >= 10:
                self.assertLess(failed, 0.8 * median_duration(runs, trigger="push", result="success"), name)

    def test_tests_grow_a_few_at_a_time_on_the_default_branch(self):
        grown = 0
        for name, runs in by_pipeline(CLEAN).items():
            counts = [r["tests_total"] for r in runs
                      if r["trigger"] in ("push", "manual") and r["result"] == "success" and "tests_total" in r]
            self.assertEqual(bool(counts), SHAPES[name].tests is not None, name)
            steps = [b - a for a, b in zip(counts, counts[1:])]
            self.assertTrue(all(0 <= s <= 4 for s in steps), name)
            grown += bool(counts) and counts[-1] > counts[0]
        self.assertGreater(grown, 0)


class ScoringTest(unittest.TestCase):
    """The scorer on verdicts made up from the labels: a perfect detector
    scores 1, a false alert counts once."""

    def write_verdicts(self, d, name, flagged):
        with open(os.path.join(d, name), "w") as f:
            for r in RUNS:
                kind = flagged.get((r["pipeline"], r["run_id"]))
                f.write(json.dumps({"source": r["source"], "pipeline": r["pipeline"], "run_id": r["run_id"],
                                    "scored": True, "anomalous": kind is not None, "score": 2.0 if kind else 0.1,
                                    "kind": kind or "", "reasons": []}) + "\n")

    def test_perfect_detector_and_one_false_alert(self):
        with tempfile.TemporaryDirectory() as d:
            for f in ("clean.jsonl", "labels.json", "pipelines.json"):
                os.symlink(os.path.join(BASE, f), os.path.join(d, f))
            perfect = {(lab["pipeline"], lab["runs"][0]): lab["kind"] for lab in LABELS}
            windows = {(lab["pipeline"], rid) for lab in LABELS for rid in lab["window"]}
            normal = next((r["pipeline"], r["run_id"]) for r in RUNS if (r["pipeline"], r["run_id"]) not in windows)
            self.write_verdicts(d, "clean_verdicts.jsonl", {})
            self.write_verdicts(d, "verdicts.jsonl", perfect)
            s, _ = ci_eval.evaluate_base(d, ci_eval.SYNTHETIC)
            self.assertEqual(s.detected, s.labels)
            self.assertEqual(sum(s.fp.values()), 0)
            self.assertEqual(s.normal, len(RUNS) - len(windows))
            one_false = dict(perfect)
            one_false[normal] = "slow"
            self.write_verdicts(d, "verdicts.jsonl", one_false)
            s, _ = ci_eval.evaluate_base(d, ci_eval.SYNTHETIC)
            self.assertEqual(s.fp, collections.Counter(slow=1))


class CalibrationHelpersTest(unittest.TestCase):
    def test_false_alarm_rate_merged_into_a_block_detection_mapping(self):
        text = "web:\n  listen_address: ':1'\ndetection:\n    min_runs: 5\n    false_alarm_rate: 0.5\n" \
               "    # comment\nschedule:\n  retrain_at: '03:00'\n"
        self.assertEqual(ci_eval.with_false_alarm_rate(text, 1e-3),
                         "web:\n  listen_address: ':1'\ndetection:\n    false_alarm_rate: 0.001\n"
                         "    min_runs: 5\n    # comment\nschedule:\n  retrain_at: '03:00'\n")
        self.assertEqual(ci_eval.with_false_alarm_rate("", 1e-4), "detection:\n  false_alarm_rate: 0.0001\n")
        self.assertEqual(ci_eval.with_false_alarm_rate("web: {}\n", 0.01),
                         "web: {}\ndetection:\n  false_alarm_rate: 0.01\n")
        with self.assertRaisesRegex(ValueError, "line 1"):
            ci_eval.with_false_alarm_rate("detection: {min_runs: 5}\n", 0.01)

    def test_poisson_interval(self):
        lo, hi = ci_eval.poisson_interval(0)
        self.assertEqual(lo, 0.0)
        self.assertAlmostEqual(hi, 3.689, places=3)
        lo, hi = ci_eval.poisson_interval(10)
        self.assertAlmostEqual(lo, 4.795, places=3)
        self.assertAlmostEqual(hi, 18.390, places=3)


# A stand-in for a detector that knows detection.false_alarm_rate: drops the
# key from the config and runs the real one, so the calibration path that
# prints one row per rate is exercised before the real detector has the key.
FAR_SHIM = """#!/usr/bin/env python3
import os, re, sys, tempfile
args = sys.argv[1:]
if "--config" in args:
    i = args.index("--config") + 1
    text = open(args[i]).read()
    f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    f.write(re.sub(r"(?m)^ +false_alarm_rate:.*\\n", "", text))
    f.close()
    args[i] = f.name
os.execv(%r, [%r] + args)
"""


class EndToEndTest(unittest.TestCase):
    detector = os.path.join(os.environ.get("CICD_BIN", os.path.join(SOURCE_DIR, "build", "bin")), "cicd-detector")

    def run_eval(self, detector, out):
        self.assertTrue(os.access(self.detector, os.X_OK), "build cicd-detector first: %s" % self.detector)
        p = subprocess.run([sys.executable, os.path.join(SOURCE_DIR, "bench", "ci_eval.py"), "run",
                            "--detector", detector, "--out", out, "--seed", "3", "--synthetic-pipelines", "4",
                            "--calibration-pipelines", "4", "--examples", "1"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("real histories skipped", p.stderr)
        return p.stdout

    def test_run_prints_every_table_without_shared_data(self):
        with tempfile.TemporaryDirectory() as out:
            text = self.run_eval(self.detector, out)
            with open(os.path.join(out, "synthetic", "labels.json")) as f:
                n_labels = len(json.load(f)["labels"])
        self.assertIn("## synthetic", text)
        self.assertIn("Labels injected: %d;" % n_labels, text)
        self.assertIn("Alerts per pipeline per week (clean replay):", text)
        self.assertIn("## Calibration", text)
        self.assertRegex(text, r"\ndefault +\d+ ")
        # Before the detector knows the key the calibration says so; after, it prints the three rates.
        if "rejects detection.false_alarm_rate" not in text:
            for rate in ("0.01", "0.001", "0.0001"):
                self.assertRegex(text, r"\n%s +\d+ " % re.escape(rate))

    def test_calibration_prints_one_row_per_rate_when_the_key_is_accepted(self):
        with tempfile.TemporaryDirectory() as out:
            shim = os.path.join(out, "detector-shim")
            with open(shim, "w") as f:
                f.write(FAR_SHIM % (self.detector, self.detector))
            os.chmod(shim, 0o755)
            text = self.run_eval(shim, os.path.join(out, "eval"))
            with open(os.path.join(out, "eval", "calibration", "far_0.001.yaml")) as f:
                self.assertEqual(f.read(), "detection:\n  false_alarm_rate: 0.001\n")
        self.assertNotIn("rejects detection.false_alarm_rate", text)
        for rate in ("0.01", "0.001", "0.0001"):
            self.assertRegex(text, r"\n%s +\d+ +\S+ +\S+ +\d+\.\d\d\b" % re.escape(rate))


if __name__ == "__main__":
    unittest.main(verbosity=2)
