#!/usr/bin/python3
"""The Python reference of the /metrics exposition benchmark (bench/README.md).

Holds the same synthetic fleet as bench/exposition_bench.cc in a small store
with the same aggregation rules as cicd::exporter::RunStore, and exposes the
same families (names, label sets, bucket counts, values) through a custom
collector of Debian's python3-prometheus-client: the idiomatic shape of an
exporter whose store is filled by pollers and read at scrape time.

  serve    times generate_latest() in-process (--renders), and/or serves
           /metrics on 127.0.0.1 with prometheus_client.start_http_server
           until killed (--serve); prints one JSON line on stdout (once
           listening, with --serve). Same flags and JSON as exposition_bench.
  compare  checks that two scrapes hold the same series with the same values
           (label order and number formatting may differ).

Run it with /usr/bin/python3 (Debian's interpreter, which sees the package).
"""

import argparse
import bisect
import json
import math
import socket
import sys
import threading
import time

from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                    HistogramMetricFamily)
from prometheus_client.utils import floatToGoString

SOURCE = 'bench'
BRANCHES = ('main', 'master', 'release/1')
RESULTS = ('success', 'failure', 'error', 'timeout', 'cancellation', 'skip')
BASE_UNIX_SECONDS = 1_750_000_000
DURATION_BUCKETS = (30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200)
QUEUE_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class Histogram:
    __slots__ = ('bucket_counts', 'sum', 'count')

    def __init__(self, bounds):
        self.bucket_counts = [0] * (len(bounds) + 1)  # per bucket; last is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, bounds, v):
        self.bucket_counts[bisect.bisect_left(bounds, v)] += 1  # le semantics
        self.sum += v
        self.count += 1


class Pipeline:
    def __init__(self, name):
        self.name = name
        self.by_branch_result = {}  # (branch, result) -> [runs, Histogram]
        self.queue_by_branch = {}
        self.tests_passed = self.tests_failed = self.tests_skipped = 0
        self.has_tests = False
        self.last_run = None  # dict
        self.active = {'queued': [0, None], 'running': [0, None]}  # count, oldest


class Store:
    """The aggregation rules of RunStore::Count, for already-valid runs."""

    def __init__(self):
        self.pipelines = {}
        self.runs_counted = 0
        self.lock = threading.Lock()

    def count(self, run):
        p = self.pipelines.setdefault(run['pipeline'], Pipeline(run['pipeline']))
        agg = p.by_branch_result.get((run['branch'], run['result']))
        if agg is None:
            agg = p.by_branch_result[(run['branch'], run['result'])] = [0, Histogram(DURATION_BUCKETS)]
        agg[0] += 1
        agg[1].observe(DURATION_BUCKETS, run['duration'])
        q = p.queue_by_branch.get(run['branch'])
        if q is None:
            q = p.queue_by_branch[run['branch']] = Histogram(QUEUE_BUCKETS)
        q.observe(QUEUE_BUCKETS, run['queue'])
        p.has_tests = True
        p.tests_failed += run['tests_failed']
        p.tests_skipped += run['tests_skipped']
        p.tests_passed += max(0, run['tests_total'] - run['tests_failed'] - run['tests_skipped'])
        if p.last_run is None or run['finished'] >= p.last_run['finished']:
            p.last_run = run
        self.runs_counted += 1


def pipeline_name(i):
    return f'acme/service-{i:04d}/.github/workflows/ci.yml'


def fill(store, pipelines, runs_per_series):
    """Mirrors SyntheticPoll in exposition_bench.cc."""
    total_runs = pipelines * 18 * runs_per_series
    now = BASE_UNIX_SECONDS + total_runs + 60
    seq = 0
    for i in range(pipelines):
        name = pipeline_name(i)
        for b, branch in enumerate(BRANCHES):
            for r, result in enumerate(RESULTS):
                for k in range(runs_per_series):
                    store.count({
                        'pipeline': name, 'branch': branch, 'result': result, 'number': seq + 1,
                        'finished': float(BASE_UNIX_SECONDS + seq),
                        'duration': float(15 + ((i * 7 + b * 13 + r * 17 + k * 29) % 500) * 8),
                        'queue': ((i * 3 + b * 5 + r * 7 + k * 11) % 250) * 8 + 0.5,
                        'tests_total': 200 + i % 50,
                        'tests_failed': 1 + k if r == 1 else 0,
                        'tests_skipped': 3,
                    })
                    seq += 1
        p = store.pipelines[name]
        p.active['queued'] = [1, float(now - 30 - i % 60)]
        p.active['running'] = [1, float(now - 600 - i % 600)]
    return total_runs, now


def add_histogram(family, labels, bounds, h):
    buckets, cumulative = [], 0
    for bound, n in zip(bounds + (math.inf,), h.bucket_counts):
        cumulative += n
        buckets.append((floatToGoString(bound), cumulative))
    family.add_metric(labels, buckets, h.sum)


class StoreCollector:
    """Builds every family from the store at scrape time, like
    ExporterMetrics::Collect()."""

    def __init__(self, store, poll_seconds, last_success):
        self.store = store
        self.poll_seconds = poll_seconds
        self.last_success = last_success

    def collect(self):
        with self.store.lock:
            yield from self._pipeline_families()
            yield from self._source_families()
        yield self._counter('cicd_exporter_api_requests_total',
                            'Requests to CI APIs by HTTP status code (timeout/error for transport failures).',
                            ('source', 'code'), [((SOURCE, '200'), 1)])
        yield self._gauge('cicd_exporter_api_rate_limit_remaining',
                          "Requests left in the CI API's rate-limit window, as it last reported.",
                          ('source',), [((SOURCE,), 4000)])
        yield self._gauge('cicd_exporter_build_info',
                          'Build information of cicd-exporter; always 1.',
                          ('version',), [(('bench',), 1)])

    @staticmethod
    def _gauge(name, help_text, labels, values):
        g = GaugeMetricFamily(name, help_text, labels=labels)
        for label_values, v in values:
            g.add_metric(label_values, v)
        return g

    def _pipeline_families(self):
        runs = CounterMetricFamily(
            'cicd_pipeline_runs_total',
            'Finished pipeline runs, by branch and result (OpenTelemetry CI/CD vocabulary).',
            labels=('source', 'pipeline', 'branch', 'result'))
        duration = HistogramMetricFamily(
            'cicd_pipeline_run_duration_seconds',
            'Duration of finished pipeline runs, from start to finish.',
            labels=('source', 'pipeline', 'branch', 'result'))
        queue = HistogramMetricFamily(
            'cicd_pipeline_run_queue_seconds',
            'Time finished runs waited between creation and start.',
            labels=('source', 'pipeline', 'branch'))
        tests = CounterMetricFamily(
            'cicd_pipeline_tests_total', 'Tests of finished runs that reported tests, by outcome.',
            labels=('source', 'pipeline', 'outcome'))
        active = GaugeMetricFamily('cicd_pipeline_runs_active', 'Runs queued or running now.',
                                   labels=('source', 'pipeline', 'state'))
        oldest = GaugeMetricFamily(
            'cicd_pipeline_runs_active_oldest_timestamp_seconds',
            'When the oldest active run entered its state (queued: created, running: started).',
            labels=('source', 'pipeline', 'state'))
        last_duration = GaugeMetricFamily(
            'cicd_pipeline_last_run_duration_seconds',
            "Duration of the pipeline's most recently finished run.", labels=('source', 'pipeline'))
        last_queue = GaugeMetricFamily(
            'cicd_pipeline_last_run_queue_seconds',
            "Queue time of the pipeline's most recently finished run, when known.",
            labels=('source', 'pipeline'))
        last_finished = GaugeMetricFamily(
            'cicd_pipeline_last_run_finished_timestamp_seconds',
            "Finish time of the pipeline's most recently finished run; a change marks a new run.",
            labels=('source', 'pipeline'))
        last_number = GaugeMetricFamily(
            'cicd_pipeline_last_run_number',
            "Build or run number of the pipeline's most recently finished run, when the CI has one.",
            labels=('source', 'pipeline'))
        last_tests = GaugeMetricFamily(
            'cicd_pipeline_last_run_tests',
            'Tests of the most recently finished run by outcome, when it reported tests.',
            labels=('source', 'pipeline', 'outcome'))
        last_result = GaugeMetricFamily(
            'cicd_pipeline_last_run_result',
            '1 for the result of the most recently finished run, 0 for the others.',
            labels=('source', 'pipeline', 'result'))
        for name in sorted(self.store.pipelines):
            p = self.store.pipelines[name]
            for (branch, result) in sorted(p.by_branch_result):
                n, h = p.by_branch_result[(branch, result)]
                runs.add_metric((SOURCE, name, branch, result), n)
                add_histogram(duration, (SOURCE, name, branch, result), DURATION_BUCKETS, h)
            for branch in sorted(p.queue_by_branch):
                add_histogram(queue, (SOURCE, name, branch), QUEUE_BUCKETS, p.queue_by_branch[branch])
            if p.has_tests:
                for outcome, v in (('passed', p.tests_passed), ('failed', p.tests_failed),
                                   ('skipped', p.tests_skipped)):
                    tests.add_metric((SOURCE, name, outcome), v)
            for state in ('queued', 'running'):
                count, since = p.active[state]
                active.add_metric((SOURCE, name, state), count)
                if count > 0 and since is not None:
                    oldest.add_metric((SOURCE, name, state), since)
            last = p.last_run
            if last is None:
                continue
            last_duration.add_metric((SOURCE, name), last['duration'])
            last_queue.add_metric((SOURCE, name), last['queue'])
            last_finished.add_metric((SOURCE, name), last['finished'])
            if last.get('number') is not None:
                last_number.add_metric((SOURCE, name), last['number'])
            failed, skipped = last['tests_failed'], last['tests_skipped']
            passed = max(0, last['tests_total'] - failed - skipped)
            for outcome, v in (('passed', passed), ('failed', failed), ('skipped', skipped)):
                last_tests.add_metric((SOURCE, name, outcome), v)
            for result in RESULTS:
                last_result.add_metric((SOURCE, name, result), 1 if last['result'] == result else 0)
        return (runs, duration, queue, tests, active, oldest, last_duration, last_queue,
                last_finished, last_number, last_tests, last_result)

    def _source_families(self):
        labels = ('source',)
        return (
            self._gauge('cicd_exporter_source_up',
                        '1 when the last poll of the source fully succeeded, 0 otherwise.',
                        labels, [((SOURCE,), 1)]),
            self._gauge('cicd_exporter_source_last_success_timestamp_seconds',
                        'When the source was last polled successfully.',
                        labels, [((SOURCE,), self.last_success)]),
            self._gauge('cicd_exporter_poll_duration_seconds',
                        "Duration of the source's last poll, retries and waits included.",
                        labels, [((SOURCE,), self.poll_seconds)]),
            self._counter('cicd_exporter_poll_failures_total',
                          'Polls that failed in whole or in part.', labels, [((SOURCE,), 0)]),
            self._counter('cicd_exporter_runs_counted_total',
                          'Finished runs counted into the pipeline metrics since start.',
                          labels, [((SOURCE,), self.store.runs_counted)]),
            self._counter('cicd_exporter_runs_invalid_total',
                          'Runs a source returned that broke the run record contract and were skipped.',
                          labels, [((SOURCE,), 0)]),
        )

    @staticmethod
    def _counter(name, help_text, labels, values):
        c = CounterMetricFamily(name, help_text, labels=labels)
        for label_values, v in values:
            c.add_metric(label_values, v)
        return c


def proc_status_mb(key):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) / 1024.0
    return 0.0


def free_loopback_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def render_phase(args, registry, out):
    body = generate_latest(registry)  # warm-up
    render_ms = []
    for _ in range(args.renders):
        body = None  # a server holds one body at a time
        t = time.perf_counter()
        body = generate_latest(registry)
        render_ms.append((time.perf_counter() - t) * 1e3)
    out['render_ms'] = render_ms
    out['render_hwm_mb'] = proc_status_mb('VmHWM')
    out['bytes'] = len(body)
    out['samples'] = sum(1 for line in body.split(b'\n') if line and not line.startswith(b'#'))
    if args.dump:
        with open(args.dump, 'wb') as f:
            f.write(body)


def serve(args):
    t0 = time.perf_counter()
    store = Store()
    _, now = fill(store, args.pipelines, args.runs_per_series)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, poll_seconds=1.5, last_success=float(now)))
    out = {'side': 'python', 'pipelines': args.pipelines,
           'fill_ms': (time.perf_counter() - t0) * 1e3,
           'rss_after_fill_mb': proc_status_mb('VmRSS'),
           'hwm_after_fill_mb': proc_status_mb('VmHWM')}
    if args.renders > 0 or args.dump:
        render_phase(args, registry, out)
    if args.serve:
        out['port'] = free_loopback_port()
        start_http_server(out['port'], addr='127.0.0.1', registry=registry)
    print(json.dumps(out), flush=True)
    if args.serve:
        threading.Event().wait()  # until the script's SIGTERM


def parse_scrape(path):
    """{(name, sorted 'label="value' strings): value} of a text-format scrape.
    Label order and the formatting of le bounds may differ between sides."""
    series, lines = {}, 0
    with open(path, encoding='utf-8') as f:
        for line in f:
            if line.startswith('#') or not line.strip():
                continue
            lines += 1
            head, _, value = line.rstrip('\n').rpartition(' ')
            name, brace, rest = head.partition('{')
            labels = ()
            if brace:
                pairs = rest[:-1].split('",')  # values hold no '",' here
                pairs[-1] = pairs[-1][:-1]
                labels = tuple(sorted(f'le="{float(p[4:])!r}' if p.startswith('le="') else p
                                      for p in pairs))
            series[(name, labels)] = float(value)
    if len(series) != lines:
        raise ValueError(f'{path}: {lines - len(series)} duplicate series')
    return series


def compare(args):
    a, b = parse_scrape(args.a), parse_scrape(args.b)
    only_a, only_b = a.keys() - b.keys(), b.keys() - a.keys()
    differ = [k for k in a.keys() & b.keys() if not math.isclose(a[k], b[k], rel_tol=1e-12)]
    for label, keys in (('only in ' + args.a, only_a), ('only in ' + args.b, only_b),
                        ('values differ', differ)):
        for k in sorted(keys, key=str)[:5]:
            labels = ','.join(pair + '"' for pair in k[1])
            print(f'{label}: {k[0]}{{{labels}}}', file=sys.stderr)
    if only_a or only_b or differ:
        print(f'scrapes differ: {len(only_a)} + {len(only_b)} series unmatched, '
              f'{len(differ)} values differ', file=sys.stderr)
        return 1
    print(f'same {len(a)} series with the same values')
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    s = sub.add_parser('serve')
    s.add_argument('--pipelines', type=int, default=1000)
    s.add_argument('--runs-per-series', type=int, default=2)
    s.add_argument('--renders', type=int, default=5,
                   help='timed, after one warm-up; 0 = no render phase')
    s.add_argument('--dump', default='', help='write one scrape body here')
    s.add_argument('--serve', action='store_true')
    c = sub.add_parser('compare')
    c.add_argument('a')
    c.add_argument('b')
    args = parser.parse_args()
    return serve(args) if args.command == 'serve' else compare(args)


if __name__ == '__main__':
    sys.exit(main())
