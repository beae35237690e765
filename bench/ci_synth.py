"""Synthetic CI histories, clean by construction, for bench/ci_eval.py.

Every run is drawn from its pipeline's normal behaviour and never from an
anomaly, so on the clean base every alert is a false alert and the observed
false-alarm rate can be compared with the configured one.

The normal patterns (issue 9), one function each:
- scheduled (nightly) runs 1.5-3x longer than push runs       context_factor
- PR branches (pull_request, not the default branch) that are
  shorter or longer than main and fail more often              context_factor, failure_probability
- cache-miss runs, about one in ten, 1.3-1.8x longer           cache_factor
- per-pipeline noise, 5%-30% spread                           noise_factor
- durations drifting slowly over weeks                        drift_series
- far fewer runs at weekends, most in office hours            activity_weight, arrival_times
- queue times with an exponential tail, about doubled during
  the pipeline's own office hours on weekdays                 queue_seconds
- failed runs that stop early                                 outcome
- test counts that grow by a few tests at a time              TestSuite
Each pipeline draws its own parameters (its shape) from the seed: base
duration 1 min to 2 h, its own time zone and office hours, its own pattern
strengths, with or without tests, with or without queue data. Continuous
parameters are Latin-hypercube sampled and flags stratified, so even a small
base covers every range (a noisy pipeline, one with tests, one with a nightly)
and no single constant fits every pipeline.

Python standard library only; deterministic for a seed.
"""
import dataclasses
import datetime as dt
import math
import random

HOUR = 3600.0
DAY = 24 * HOUR
WEEK = 7 * DAY
# The histories start on a Monday, 00:00 UTC.
START = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc).timestamp()

# Source -> the CI system's own event word per trigger (DESIGN.md run record).
EVENT_WORDS = {
    "github": {"push": "push", "pull_request": "pull_request", "schedule": "schedule",
               "manual": "workflow_dispatch"},
    "gitlab": {"push": "push", "pull_request": "merge_request_event", "schedule": "schedule",
               "manual": "web"},
    "jenkins": {"push": "SCMTrigger", "pull_request": "BranchEventCause", "schedule": "TimerTrigger",
                "manual": "UserIdCause"},
}
SOURCES = sorted(EVENT_WORDS)
UTC_OFFSETS = [-8, -7, -6, -5, -3, 0, 1, 2, 3, 5.5, 8, 9, 10]

# Share of pipelines with each optional feature (stratified: exactly this
# share, rounded, of any base).
SHARE_TESTS = 0.6
SHARE_QUEUE = 0.7
SHARE_NIGHTLY = 0.7
SHARE_PULL_REQUESTS = 0.8
SHARE_LOW_FAILURE = 0.4


@dataclasses.dataclass(frozen=True)
class Shape:
    """One pipeline's normal behaviour. Durations in seconds, rates per weekday."""
    index: int
    source: str
    pipeline: str
    default_branch: str
    weeks: int
    utc_offset_h: float
    office_start_h: float          # local time
    office_end_h: float
    off_hours_weight: float        # activity outside office hours, relative to inside
    weekend_factor: float          # activity at weekends, relative to weekdays
    push_rate: float
    pr_rate: float                 # 0: no pull requests
    manual_rate: float
    nightly_hour: float | None     # local time; None: no schedule
    nightly_weekdays_only: bool
    base_duration: float           # push on the default branch, cache hit, week 0
    spread: float                  # sd of log duration
    schedule_factor: float
    pr_factor: float
    cache_miss_p: float
    cache_miss_factor: float
    drift_per_week: float          # log duration per week
    drift_walk_sd: float           # log duration per day
    fail_p: float                  # push and manual runs on the default branch
    fail_pr_factor: float
    fail_schedule_factor: float
    cancel_pr_p: float             # superseded pull-request runs, cancelled early
    tests: int | None              # initial test count; None: reports no tests
    test_growth_p: float           # per default-branch run: a few tests added
    test_stage: float              # fraction of the run before tests report
    schedule_tests_factor: float   # nightly suites may run more tests
    queue_mean: float | None       # exponential mean off-peak; None: no queue data
    queue_office_factor: float

    def as_json(self):
        return dataclasses.asdict(self)


# ---------------------------------------------------------------- shapes ----

def _latin(rng, n):
    """n stratified uniforms in [0, 1): one per stratum, in random order."""
    cells = [(i + rng.random()) / n for i in range(n)]
    rng.shuffle(cells)
    return cells


def _flags(rng, n, share):
    """Exactly round(n * share) of n flags set, in random order."""
    k = round(n * share)
    flags = [i < k for i in range(n)]
    rng.shuffle(flags)
    return flags


def _log_uniform(u, lo, hi):
    return lo * (hi / lo) ** u


def draw_shapes(rng, n):
    """n pipeline shapes: continuous parameters Latin-hypercube sampled."""
    lhs = {k: _latin(rng, n) for k in ("duration", "spread", "rate", "queue", "fail")}
    has = {k: _flags(rng, n, s) for k, s in (("tests", SHARE_TESTS), ("queue", SHARE_QUEUE),
                                             ("nightly", SHARE_NIGHTLY), ("pr", SHARE_PULL_REQUESTS),
                                             ("low_fail", SHARE_LOW_FAILURE))}
    shapes = []
    for i in range(n):
        source = SOURCES[i % len(SOURCES)]
        office_start = rng.choice([7, 8, 8.5, 9, 9.5, 10])
        push_rate = _log_uniform(lhs["rate"][i], 3, 40)
        shapes.append(Shape(
            index=i, source=source, pipeline=_pipeline_name(source, i, rng),
            default_branch="master" if rng.random() < 0.2 else "main",
            weeks=rng.randint(3, 8),
            utc_offset_h=rng.choice(UTC_OFFSETS),
            office_start_h=office_start,
            office_end_h=office_start + rng.uniform(7.5, 10),
            off_hours_weight=rng.uniform(0.05, 0.25),
            weekend_factor=rng.uniform(0.03, 0.25),
            push_rate=push_rate,
            pr_rate=push_rate * rng.uniform(0.3, 1.5) if has["pr"][i] else 0.0,
            manual_rate=rng.uniform(0.0, 0.5),
            nightly_hour=rng.uniform(0, 5) if has["nightly"][i] else None,
            nightly_weekdays_only=rng.random() < 0.3,
            base_duration=_log_uniform(lhs["duration"][i], 60, 7200),
            spread=0.05 + 0.25 * lhs["spread"][i],
            schedule_factor=rng.uniform(1.5, 3.0),
            pr_factor=rng.choice([rng.uniform(0.6, 0.9), rng.uniform(1.1, 1.4)]),
            cache_miss_p=rng.uniform(0.07, 0.13),
            cache_miss_factor=rng.uniform(1.3, 1.8),
            drift_per_week=rng.uniform(-0.03, 0.05),
            drift_walk_sd=rng.uniform(0.003, 0.012),
            fail_p=(0.01 + 0.04 * lhs["fail"][i]) if has["low_fail"][i] else (0.05 + 0.15 * lhs["fail"][i]),
            fail_pr_factor=rng.uniform(1.5, 3.0),
            fail_schedule_factor=rng.uniform(1.0, 2.0),
            cancel_pr_p=rng.uniform(0.0, 0.05),
            tests=round(_log_uniform(rng.random(), 50, 5000)) if has["tests"][i] else None,
            test_growth_p=rng.uniform(0.05, 0.3),
            test_stage=rng.uniform(0.3, 0.8),
            schedule_tests_factor=1.0 if rng.random() < 0.5 else rng.uniform(1.1, 1.6),
            queue_mean=_log_uniform(lhs["queue"][i], 2, 25) if has["queue"][i] else None,
            queue_office_factor=rng.uniform(1.5, 3.0)))
    return shapes


def _pipeline_name(source, i, rng):
    if source == "github":
        return "synth-org/app%02d/.github/workflows/%s.yml" % (i, rng.choice(["ci", "build", "test"]))
    if source == "gitlab":
        return "synth-group/service%02d" % i
    return "synth/team%d/job%02d" % (i % 5, i)


# ------------------------------------------------------- calendar patterns ----

def local_time(shape, t):
    """The pipeline's local wall-clock time at epoch t."""
    return dt.datetime.fromtimestamp(t + shape.utc_offset_h * HOUR, dt.timezone.utc)


def is_weekend(shape, t):
    return local_time(shape, t).weekday() >= 5


def is_office_hours(shape, t):
    """A weekday, inside the pipeline's own office hours (its local time)."""
    lt = local_time(shape, t)
    hour = lt.hour + lt.minute / 60.0
    return lt.weekday() < 5 and shape.office_start_h <= hour < shape.office_end_h


def activity_weight(shape, t):
    """How busy developers are at t, relative to a weekday office hour."""
    if is_weekend(shape, t):
        return shape.weekend_factor
    return 1.0 if is_office_hours(shape, t) else shape.off_hours_weight


def _poisson(rng, lam):
    """Knuth's method; lam is at most a few runs per hour here."""
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def arrival_times(shape, rate, rng):
    """Creation times of runs started by people (push, pull_request, manual):
    `rate` runs per weekday, spread over hours by activity_weight."""
    office_hours = shape.office_end_h - shape.office_start_h
    weekday_weight = office_hours + (24 - office_hours) * shape.off_hours_weight
    per_unit = rate / weekday_weight
    out = []
    t = START
    end = START + shape.weeks * WEEK
    while t < end:
        for _ in range(_poisson(rng, per_unit * activity_weight(shape, t))):
            out.append(t + rng.random() * HOUR)
        t += HOUR
    return out


def nightly_times(shape, rng):
    """A timer at the pipeline's local nightly hour; GitHub-like start jitter."""
    if shape.nightly_hour is None:
        return []
    out = []
    for day in range(shape.weeks * 7):
        t = START + day * DAY + (shape.nightly_hour - shape.utc_offset_h) * HOUR
        if shape.nightly_weekdays_only and is_weekend(shape, t):
            continue
        out.append(t + rng.uniform(0, 600))
    return out


# ------------------------------------------------------- duration patterns ----

def drift_series(shape, rng):
    """Per-day multiplicative drift: a slow trend plus a small random walk."""
    walk, out = 0.0, []
    for day in range(shape.weeks * 7 + 2):
        walk += rng.gauss(0, shape.drift_walk_sd)
        out.append(math.exp(shape.drift_per_week * day / 7.0 + walk))
    return out


def context_factor(shape, trigger):
    """Nightly runs are longer; pull-request runs differ from main."""
    if trigger == "schedule":
        return shape.schedule_factor
    if trigger == "pull_request":
        return shape.pr_factor
    return 1.0


def cache_factor(shape, rng):
    """About one run in ten misses its cache and is 1.3-1.8x longer."""
    if rng.random() < shape.cache_miss_p:
        return shape.cache_miss_factor * rng.uniform(0.95, 1.05), True
    return 1.0, False


def noise_factor(shape, rng):
    return math.exp(rng.gauss(0, shape.spread))


def failure_probability(shape, trigger):
    if trigger == "pull_request":
        return min(0.45, shape.fail_p * shape.fail_pr_factor)
    if trigger == "schedule":
        return min(0.45, shape.fail_p * shape.fail_schedule_factor)
    return shape.fail_p


def outcome(shape, trigger, rng):
    """(result, fraction of the full duration it ran). Failed runs stop
    early at the failing step; superseded PR runs are cancelled early."""
    if trigger == "pull_request" and rng.random() < shape.cancel_pr_p:
        return "cancellation", rng.uniform(0.05, 0.6)
    if rng.random() < failure_probability(shape, trigger):
        return "failure", rng.uniform(0.05, 0.95)
    return "success", 1.0


# ------------------------------------------------------------ queue times ----

def queue_seconds(shape, t, rng):
    """Exponential waiting time, its mean about doubled (the pipeline's own
    factor) during its office hours on weekdays; None without queue data."""
    if shape.queue_mean is None:
        return None
    mean = shape.queue_mean * (shape.queue_office_factor if is_office_hours(shape, t) else 1.0)
    return round(rng.expovariate(1.0 / mean), 1)


# ------------------------------------------------------------------- tests ----

class TestSuite:
    """The default branch's test count, growing by a few tests at a time;
    pull requests add or drop a few of their own; nightlies may run more."""

    def __init__(self, shape):
        self.shape = shape
        self.count = shape.tests

    def counts(self, trigger, result, ran, rng):
        """(tests_total, tests_failed) for one run, or None when no report."""
        if self.count is None:
            return None
        if trigger in ("push", "manual") and result == "success" and rng.random() < self.shape.test_growth_p:
            self.count += rng.randint(1, 4)
        if ran < self.shape.test_stage or result == "cancellation":
            return None  # stopped before the test step reported
        total = self.count
        if trigger == "pull_request":
            total = max(1, total + rng.randint(-2, 6))
        elif trigger == "schedule":
            total = round(total * self.shape.schedule_tests_factor)
        failed = rng.randint(1, min(5, total)) if result == "failure" else 0
        return total, failed


# ---------------------------------------------------------------- history ----

def branch_for(shape, trigger, rng):
    if trigger != "pull_request":
        return shape.default_branch
    if shape.source == "jenkins":
        return "PR-%d" % rng.randint(100, 999)
    return "%s/%s-%d" % (rng.choice(["feature", "fix", "deps"]), rng.choice(["api", "ui", "build", "docs"]),
                         rng.randint(1, 400))


def history(shape, rng):
    """The pipeline's runs in creation order, as bench/ci_eval.py's internal
    run dicts; `_cache_miss` and `_office` are ground truth for tests only
    (never written into run records)."""
    starts = [(t, "push") for t in arrival_times(shape, shape.push_rate, rng)]
    starts += [(t, "pull_request") for t in arrival_times(shape, shape.pr_rate, rng)] if shape.pr_rate else []
    starts += [(t, "manual") for t in arrival_times(shape, shape.manual_rate, rng)]
    starts += [(t, "schedule") for t in nightly_times(shape, rng)]
    starts.sort()
    drift = drift_series(shape, rng)
    suite = TestSuite(shape)
    first_number = rng.randint(1, 3000)
    runs = []
    for n, (created, trigger) in enumerate(starts):
        number = first_number + n
        queue = queue_seconds(shape, created, rng)
        started = created + (queue or 0.0)
        cache, miss = cache_factor(shape, rng)
        result, ran = outcome(shape, trigger, rng)
        full = (shape.base_duration * drift[int((created - START) // DAY)] * context_factor(shape, trigger)
                * cache * noise_factor(shape, rng))
        run = {"source": shape.source, "pipeline": shape.pipeline,
               "run_id": str(10_000_000 * (shape.index + 1) + number), "number": number,
               "branch": branch_for(shape, trigger, rng), "event": EVENT_WORDS[shape.source][trigger],
               "trigger": trigger, "started": round(started, 1),
               "duration": round(max(5.0, full * ran), 1), "result": result,
               "_cache_miss": miss, "_office": is_office_hours(shape, created)}
        if queue is not None:
            run["queue"] = queue
        tests = suite.counts(trigger, result, ran, rng)
        if tests:
            run["tests_total"], run["tests_failed"] = tests
        runs.append(run)
    return runs


def generate(seed, n_pipelines, stream="synthetic"):
    """[(shape, runs)] of a synthetic base; the same seed and stream give the
    same base, another stream an independent one."""
    rng = random.Random("ci_synth:%s:%d" % (stream, seed))
    shapes = draw_shapes(rng, n_pipelines)
    return [(s, history(s, random.Random("ci_synth:%s:%d:%d" % (stream, seed, s.index)))) for s in shapes]
