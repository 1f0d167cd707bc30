#!/usr/bin/env python3
"""The Python pipeline that does what `mlsecops data check` does, on one
Parquet table, timed step by step:

  1. read          pyarrow -> pandas
  2. contract      dtypes, nulls, ranges, label set, unique id (pandas)
  3. label noise   5-fold cross_val_predict(StandardScaler + LogisticRegression,
                   predict_proba) + cleanlab.filter.find_label_issues
  4. outliers      sklearn IsolationForest (default settings)
  5. duplicates    exact: pandas.duplicated on the features; near: sklearn
                   NearestNeighbors(k=2) on standardized features, pairs closer
                   than 1e-3 (standard units) that are not exact copies

Every step that can use both cores does (n_jobs=-1). The near-duplicate
search runs in a child process stopped after --step-timeout seconds (default
900): in 14 dimensions the tree search degrades towards brute force, and at 1M
rows it can run for an hour; a stopped step counts its timeout, so the total is
then a lower bound (printed with "≥"). Prints a table and, when
<table>.truth.json exists (written by generate.py --scale), the precision and
recall of each step against the planted rows.

    python scale.py TABLE.parquet [--label label] [--id id]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("table", type=Path)
    ap.add_argument("--label", default="label")
    ap.add_argument("--id", default="id")
    ap.add_argument("--near-eps", type=float, default=1e-3)
    ap.add_argument("--step-timeout", type=float, default=900.0)
    a = ap.parse_args()
    times, flagged = {}, {}

    class Times(dict):  # progress on stderr: the whole run takes minutes
        def __setitem__(self, k, v):
            print(f"  {k}: {v:.1f} s", file=sys.stderr, flush=True)
            super().__setitem__(k, v)
    times = Times()

    t0 = time.perf_counter()
    import pyarrow.parquet as pq
    df = pq.read_table(a.table).to_pandas()
    times["read (pyarrow -> pandas)"] = time.perf_counter() - t0
    feats = [c for c in df.columns if c not in (a.label, a.id)]

    t = time.perf_counter()
    problems = 0
    for c in df.columns:
        want = "int64" if c in (a.id, a.label) else "float64"
        problems += int(str(df[c].dtype) != want)
        problems += int(df[c].isna().sum())
    x = df[feats].to_numpy(dtype=np.float64)
    lo, hi = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
    problems += int(((x < -1e6) | (x > 1e6)).sum())
    problems += int((~df[a.label].isin(range(5))).sum())
    problems += int(df[a.id].duplicated().sum())
    times["contract (dtypes, nulls, ranges, labels, unique id)"] = time.perf_counter() - t

    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    y = df[a.label].to_numpy()
    t = time.perf_counter()
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    pp = cross_val_predict(clf, x, y, cv=StratifiedKFold(5, shuffle=True, random_state=0),
                           method="predict_proba", n_jobs=-1)
    times["label: 5-fold LogisticRegression cross_val_predict"] = time.perf_counter() - t
    from cleanlab.filter import find_label_issues
    t = time.perf_counter()
    issues = find_label_issues(labels=y, pred_probs=pp, n_jobs=2)
    times["label: cleanlab find_label_issues"] = time.perf_counter() - t
    flagged["label_flips"] = set(np.flatnonzero(issues).tolist())

    from sklearn.ensemble import IsolationForest
    t = time.perf_counter()
    iso = IsolationForest(random_state=0, n_jobs=-1).fit(x)
    out = iso.predict(x) == -1
    times["outliers: IsolationForest fit + predict"] = time.perf_counter() - t
    flagged["outliers"] = set(np.flatnonzero(out).tolist())

    t = time.perf_counter()
    exact = df.duplicated(subset=feats, keep="first").to_numpy()
    times["duplicates: exact (pandas.duplicated)"] = time.perf_counter() - t
    flagged["exact_duplicates"] = set(np.flatnonzero(exact).tolist())

    import multiprocessing as mp
    t = time.perf_counter()
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=near_duplicates, args=(x, a.near_eps, send))
    child.start()
    send.close()
    lower_bound = not recv.poll(a.step_timeout)
    step = "duplicates: near (NearestNeighbors k=2, standardized)"
    if lower_bound:
        child.kill()
        times[step] = a.step_timeout
        stopped = f"{step}: stopped after {a.step_timeout:.0f} s"
    else:
        flagged["near_duplicates"] = set(recv.recv())
        times[step] = time.perf_counter() - t
        stopped = None
    child.join()

    total = sum(times.values())
    print(f"Python pipeline on {a.table.name}: {len(df):,} rows x {len(df.columns)} columns "
          f"({problems} contract problems)")
    print()
    print("| step | seconds |")
    print("|---|---:|")
    ge = "≥ " if lower_bound else ""
    for k, v in times.items():
        print(f"| {k} | {ge if stopped and k in stopped else ''}{v:.1f} |")
    print(f"| **total** | **{ge}{total:.1f}** |")
    if stopped:
        print()
        print(f"({stopped}; the total is a lower bound)")
    print()
    tp = Path(str(a.table) + ".truth.json")
    if tp.is_file():
        truth = json.loads(tp.read_text())
        print("| step | precision | recall | flagged | planted |")
        print("|---|---:|---:|---:|---:|")
        for k, got in flagged.items():
            want = set(truth[k])
            hit = len(got & want)
            p = hit / len(got) if got else 0.0
            r = hit / len(want) if want else 0.0
            print(f"| {k} | {p:.3f} | {r:.3f} | {len(got)} | {len(want)} |")
        print()
    print(f"PYTHON_PIPELINE_SECONDS={total:.2f}")
    print(f"PYTHON_PIPELINE_LOWER_BOUND={int(lower_bound)}")


def near_duplicates(x, eps, send):
    from sklearn.neighbors import NearestNeighbors
    from sklearn.preprocessing import StandardScaler
    xs = StandardScaler().fit_transform(x)
    nn = NearestNeighbors(n_neighbors=2, n_jobs=-1).fit(xs)
    dist, idx = nn.kneighbors(xs)
    d1, j1 = dist[:, 1], idx[:, 1]
    near = (d1 < eps) & (d1 > 0) & (j1 < np.arange(len(xs)))
    send.send(np.flatnonzero(near).tolist())


if __name__ == "__main__":
    main()
