#!/usr/bin/python3
"""scikit-learn's IsolationForest as the reference of bench/iforest_bench.sh.

Does what `cicd-detector iforest --csv FILE --label-column label --seed S`
does: reads a numeric CSV (gzip or not) with a header, fits on all rows,
scores all rows, and prints one JSON line per seed on stdout:

  {"seed": 0, "rows": ..., "features": ..., "load_seconds": ...,
   "fit_seconds": ..., "score_seconds": ..., "auc": ...}

IsolationForest(n_estimators=100, max_samples=256, random_state=seed,
n_jobs=1); the score is -score_samples(X) = 2^(-E(h)/c(psi)), the same scale
as ours; roc_auc_score handles ties with average ranks, as we do.

Run it with /usr/bin/python3 and the private scikit-learn that the bench
unpacks on PYTHONPATH / LD_LIBRARY_PATH.
"""

import argparse
import json
import sys
import time

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score


def load(path, label_column):
    with open(path, 'rb') as f:
        gzipped = f.read(2) == b'\x1f\x8b'
    if gzipped:
        import gzip
        opener = gzip.open(path, 'rt')
    else:
        opener = open(path, 'rt')
    with opener as f:
        header = f.readline().strip().split(',')
        data = np.loadtxt(f, delimiter=',', dtype=np.float64, ndmin=2)
    if label_column not in header:
        sys.exit(f'{path}: no column named "{label_column}"')
    label = header.index(label_column)
    y = data[:, label]
    x = np.ascontiguousarray(np.delete(data, label, axis=1))
    return x, y


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--csv', required=True)
    parser.add_argument('--label-column', default='label')
    parser.add_argument('--seeds', default='0', help='comma-separated, e.g. 0,1,2,3,4')
    parser.add_argument('--trees', type=int, default=100)
    parser.add_argument('--sample-size', type=int, default=256)
    args = parser.parse_args()

    start = time.perf_counter()
    x, y = load(args.csv, args.label_column)
    load_seconds = time.perf_counter() - start
    for seed in (int(s) for s in args.seeds.split(',')):
        forest = IsolationForest(n_estimators=args.trees, max_samples=min(args.sample_size, len(x)),
                                 random_state=seed, n_jobs=1)
        start = time.perf_counter()
        forest.fit(x)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        scores = -forest.score_samples(x)
        score_seconds = time.perf_counter() - start
        print(json.dumps({'seed': seed, 'rows': len(x), 'features': x.shape[1],
                          'load_seconds': load_seconds, 'fit_seconds': fit_seconds,
                          'score_seconds': score_seconds,
                          'auc': float(roc_auc_score(y, scores))}), flush=True)


if __name__ == '__main__':
    main()
