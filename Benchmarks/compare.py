#!/usr/bin/env python3
"""Accuracy check for Benchmarks/run.sh: compares a simfluence model file with the reference's
parameters (reference_fit.py output) on the reference's test rows, and recomputes, independently
of simfluence, the relative residual of the normal equations of simfluence's solution
||X^T y - (X^T X + lambda I) theta|| / ||X^T y|| on those rows.

    compare.py MODEL LOG REF_PREFIX LAMBDA     prints one JSON line
"""
import json, sys
import numpy as np
import scipy.sparse as sp

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from reference_fit import read_log, build_pattern, losses_of


def read_model(path):
    with open(path, "rb") as f:
        f.readline()
        header = json.loads(f.readline())
        rows, cols = header["payload"]["rows"], header["payload"]["columns"]
        payload = np.fromfile(f, dtype="<f8")
    a = payload[: rows * cols].reshape(rows, cols)
    b = payload[rows * cols :].reshape(rows, cols)
    return header, a, b


def main():
    model, log, ref, lam = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    header, a, b = read_model(model)
    info = json.load(open(ref + ".json"))
    lo, hi = info["tests"]
    ra, rb = np.load(ref + ".A.npy"), np.load(ref + ".B.npy")
    sa, sb = a[lo:hi], b[lo:hi]
    rel = max(np.abs(sa - ra).max() / np.abs(ra).max(), np.abs(sb - rb).max() / np.abs(rb).max())
    _, _, first, runs = read_log(log)
    P, active, row_run, row_prev = build_pattern(runs, first, a.shape[1])
    m = len(active)
    worst = 0.0
    for k, z in enumerate(range(lo, hi)):
        prev, y = losses_of(runs, row_run, row_prev, z)
        X = sp.hstack([P, sp.diags(prev) @ P], format="csr")
        theta = np.concatenate([sb[k, active], sa[k, active]])
        g = X.T @ y
        r = g - (X.T @ (X @ theta) + lam * theta)
        worst = max(worst, float(np.linalg.norm(r) / np.linalg.norm(g)))
    print(json.dumps({"max_rel_param_diff": float(rel), "simfluence_rel_residual": worst,
                      "reference_rel_residual": info["max_relative_residual"], "rows_checked": hi - lo}))


if __name__ == "__main__":
    main()
