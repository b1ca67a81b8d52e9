#!/usr/bin/env python3
"""Reference implementation of the Simfluence-Linear ridge fit in NumPy/SciPy.

This is the fit a researcher would write with the standard Python stack, used by
Benchmarks/run.sh as the peer simfluence is compared against (same files, same machine, same
benchmark run). Written for this benchmark; it is not part of simfluence.

Objective, per test example z independently (Guu et al. 2023, teacher forcing):

    minimise  sum over runs, steps t>=1 ( L_t - sum_{i in c_t} (A_i L_{t-1} + B_i) )^2
              + lambda (|A|^2 + |B|^2)

over the training examples that occur in some row (the others are 0). The design X has one row
per (run, step) and columns [B_0..B_{m-1}, A_0..A_{m-1}]: the multiplicity of i in c_t in the
B-column, times L_{t-1}(z) in the A-column. Only the A-values depend on z.

Solvers (--solver):
  spsolve  sparse direct solve of the normal equations (X^T X + lambda I) theta = X^T y with
           scipy.sparse.linalg.spsolve (SuperLU); exact to rounding. Default for up to 5,000
           unknowns per test example.
  lsqr     scipy.sparse.linalg.lsqr(X, y, damp=sqrt(lambda)) with atol = btol = --tol
           (default 1e-10): the standard sparse least-squares route when the normal equations
           are too large to factor (the large workload: 200,000 unknowns per test example).
           run.sh runs it twice: at 1e-10 as the accuracy reference, and at 1e-7, where its
           residual of the normal equations (~8e-8) matches simfluence's CG tolerance, for the
           time at equal accuracy.

Input: a log in simfluence's native layout (simfluence-log.json, runs/<run>/curriculum.jsonl,
runs/<run>/losses.npy), or in the GPTDynamics JSON layout (runs/<run>/train_samples_id.json,
runs/<run>/all_loss_trajectory.out; read with Python's json module, one line at a time; steps
count from 1; training ids sorted numerically, as simfluence orders them). Output (--out PREFIX): PREFIX.A.npy, PREFIX.B.npy (tests x train, the
fitted rows only, zeros for unseen examples), PREFIX.json (timings, iterations, residuals).
"""
import argparse, json, os, re, sys, time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla


def natural_key(s):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def read_gptdynamics(root):
    names = sorted((n for n in os.listdir(os.path.join(root, "runs")) if not n.startswith(".")), key=natural_key)
    raw, test_ids, seen = [], None, set()
    for name in names:
        d = os.path.join(root, "runs", name)
        batches = {}
        with open(os.path.join(d, "train_samples_id.json")) as f:
            for line in f:
                if line.strip():
                    o = json.loads(line)
                    batches[int(o["step"])] = [str(x) for x in o["samples_id"]]
        batches = [batches[s] for s in sorted(batches)]
        for b in batches:
            seen.update(b)
        ids, columns = [], []
        with open(os.path.join(d, "all_loss_trajectory.out")) as f:
            for line in f:
                if line.strip():
                    o = json.loads(line)
                    ids.append(str(o["id"]))
                    columns.append([p["loss"] for p in sorted(o["loss_trajectory"], key=lambda p: p["step"])])
        if test_ids is None:
            test_ids = ids
        order = {t: k for k, t in enumerate(ids)}
        losses = np.array([columns[order[t]] for t in test_ids], dtype=np.float64).T   # steps x tests
        raw.append((name, batches, losses))
    train_ids = sorted(seen, key=natural_key)
    index = {t: i for i, t in enumerate(train_ids)}
    runs = [(name, [[index[x] for x in b] for b in batches], losses) for name, batches, losses in raw]
    return {"train_ids": train_ids, "test_ids": test_ids}, train_ids, 1, runs


def read_log(root):
    if not os.path.exists(os.path.join(root, "simfluence-log.json")):
        return read_gptdynamics(root)
    with open(os.path.join(root, "simfluence-log.json")) as f:
        header = json.load(f)
    train_ids = [str(x) for x in header["train_ids"]]
    index = {t: i for i, t in enumerate(train_ids)}
    first = header.get("first_loss_step", 0)
    runs = []
    for name in sorted(os.listdir(os.path.join(root, "runs")), key=natural_key):
        if name.startswith("."):
            continue
        d = os.path.join(root, "runs", name)
        batches = []
        with open(os.path.join(d, "curriculum.jsonl")) as f:
            for line in f:
                if line.strip():
                    o = json.loads(line)
                    batches.append([index[str(x)] for x in o.get("batch", o.get("samples_id"))])
        losses = np.load(os.path.join(d, "losses.npy"), mmap_mode="r")
        runs.append((name, batches, losses))
    return header, train_ids, first, runs


def build_pattern(runs, first, n_train):
    """Rows (run, step) with L_{t-1} and L_t recorded: the shared B-part P (rows x active, CSR),
    and for every row the run index and loss-row index of L_{t-1}."""
    row_run, row_prev, indptr, indices, data = [], [], [0], [], []
    for ri, (_, batches, losses) in enumerate(runs):
        for r in range(1, losses.shape[0]):
            t = first + r
            counts = {}
            for i in batches[t - 1]:
                counts[i] = counts.get(i, 0) + 1
            for i, c in counts.items():
                indices.append(i)
                data.append(float(c))
            indptr.append(len(indices))
            row_run.append(ri)
            row_prev.append(r - 1)
    P = sp.csr_matrix((np.array(data), np.array(indices), np.array(indptr)), shape=(len(row_run), n_train))
    active = np.flatnonzero(np.asarray(P.getnnz(axis=0)) > 0)
    P = P[:, active].tocsr()
    return P, active, np.array(row_run), np.array(row_prev)


def losses_of(runs, row_run, row_prev, z):
    prev = np.empty(len(row_run))
    cur = np.empty(len(row_run))
    for ri, (_, _, losses) in enumerate(runs):
        sel = row_run == ri
        col = np.asarray(losses[:, z], dtype=np.float64)
        prev[sel] = col[row_prev[sel]]
        cur[sel] = col[row_prev[sel] + 1]
    return prev, cur


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log")
    ap.add_argument("--lambda", dest="lam", type=float, required=True)
    ap.add_argument("--solver", choices=["auto", "spsolve", "lsqr"], default="auto")
    ap.add_argument("--tests", default=None, help="test columns to fit, 'a:b' (default all)")
    ap.add_argument("--tol", type=float, default=1e-10, help="lsqr's atol and btol (default 1e-10)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    t0 = time.perf_counter()
    header, train_ids, first, runs = read_log(args.log)
    n_tests = len(header["test_ids"])
    lo, hi = (0, n_tests) if args.tests is None else map(int, args.tests.split(":"))
    P, active, row_run, row_prev = build_pattern(runs, first, len(train_ids))
    m = len(active)
    solver = args.solver if args.solver != "auto" else ("spsolve" if 2 * m <= 5000 else "lsqr")
    t_setup = time.perf_counter() - t0

    A = np.zeros((hi - lo, len(train_ids)))
    B = np.zeros((hi - lo, len(train_ids)))
    iterations, residuals = [], []
    lam = args.lam
    t1 = time.perf_counter()
    for k, z in enumerate(range(lo, hi)):
        prev, y = losses_of(runs, row_run, row_prev, z)
        X = sp.hstack([P, sp.diags(prev) @ P], format="csr")
        if solver == "spsolve":
            N = (X.T @ X + lam * sp.identity(2 * m)).tocsc()
            theta = spla.spsolve(N, X.T @ y)
            iterations.append(0)
        else:
            res = spla.lsqr(X, y, damp=np.sqrt(lam), atol=args.tol, btol=args.tol, iter_lim=100000)
            theta = res[0]
            iterations.append(int(res[2]))
        g = X.T @ y
        r = g - (X.T @ (X @ theta) + lam * theta)
        residuals.append(float(np.linalg.norm(r) / np.linalg.norm(g)))
        B[k, active] = theta[:m]
        A[k, active] = theta[m:]
    t_solve = time.perf_counter() - t1

    np.save(args.out + ".A.npy", A)
    np.save(args.out + ".B.npy", B)
    info = {"solver": solver, "tol": args.tol if solver == "lsqr" else None,
            "tests": [lo, hi], "total_tests": n_tests, "active": int(m),
            "setup_seconds": t_setup, "solve_seconds": t_solve,
            "seconds": time.perf_counter() - t0,
            "max_iterations": max(iterations) if iterations else 0,
            "max_relative_residual": max(residuals) if residuals else 0.0}
    with open(args.out + ".json", "w") as f:
        json.dump(info, f)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
