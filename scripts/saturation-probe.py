#!/usr/bin/env python3
"""Would lag-kernel predict curricula better if an example's effect shrank as its own loss falls?
A NumPy reference of the candidate simulator (README, issue 17), scored the way the tool scores.

    scripts/saturation-probe.py --fit CF/fit-log --model lag-kernel.simfluence \
        --heldout CF/random-log --heldout CF/order-log

The model: lag-kernel's (its kernel and loss scale tau read from MODEL, step terms v_t, ridge
lambda on B), with every batch entry's count multiplied by

    psi_i(s) = g_i(s) / mean_j g_j(s),   g_i(s) = 1 - exp(-l_i(s)),   l_i(s) = sum_z w_iz L_z(s - 1),

an estimate of the training example's own loss before step s: the mean of the test losses it
helps, weighted by its effects (w_iz proportional to max(0, -B_iz), all alike for an example that
helps none; from a fit without psi, then
from the fitted B itself, which is what a model holding only B would simulate with). Exponent 0
(psi = 1) is lag-kernel. Teacher-forced fits per test example on the step-demeaned design;
rollouts simulate every test example together (l_i comes from the simulated losses). For each
exponent and lambda it prints the K-fold cross-validated all-steps MSE of rollouts over the fit
runs (folds: runs at positions i % K == k) and, for the pair with the lowest, the held-out logs'
LDS (Spearman across runs of the final loss, mean over test examples) and, where runs are named
GROUP-ORDER (counterfactuals' order-log), the order-LDS. Needs numpy.
"""

import argparse
import json
import os
import sys

import numpy as np


def spearman(x, y):
    """Spearman's rank correlation (ties get their mean rank); nan when either side is constant."""
    def ranks(a):
        _, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
        ends = np.cumsum(counts)
        return ((ends - counts + ends - 1) / 2.0)[inverse]
    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def read_log(folder, ids=None):
    """(train ids, test ids, runs): each run (name, losses (steps + 1) x tests, batches as indices
    into `ids` (the fit log's training ids; unseen ids dropped))."""
    with open(os.path.join(folder, "simfluence-log.json")) as f:
        meta = json.load(f)
    train = [str(x) for x in meta["train_ids"]]
    index = {x: k for k, x in enumerate(ids or train)}
    runs = []
    for name in sorted(os.listdir(os.path.join(folder, "runs"))):
        run = os.path.join(folder, "runs", name)
        losses = np.load(os.path.join(run, "losses.npy"))
        with open(os.path.join(run, "curriculum.jsonl")) as f:
            batches = [[index[str(i)] for i in json.loads(line)["batch"] if str(i) in index] for line in f if line.strip()]
        if losses.shape[0] != len(batches) + 1:
            sys.exit(f"{run}: {losses.shape[0]} loss rows for {len(batches)} steps (a step-0 loss and one per step expected)")
        runs.append((name, losses, batches))
    return train, [str(x) for x in meta["test_ids"]], runs


def read_kernel(model_path):
    data = open(model_path, "rb").read()
    at = data.find(b'"lag_kernel":')
    if at < 0:
        sys.exit(f"{model_path}: not a lag-kernel model (no \"lag_kernel\" in its header)")
    start = at + len(b'"lag_kernel":')
    return json.loads(data[start:data.index(b"}", start) + 1])


class Probe:
    def __init__(self, kernel, steps, n):
        lag = np.zeros(steps)
        starts, weights = kernel["starts"], kernel["weights"]
        for m, s in enumerate(starts):
            lag[s:starts[m + 1] if m + 1 < len(starts) else steps] = weights[m]
        self.K = np.array([[lag[k - s] if k >= s else 0.0 for s in range(steps)] for k in range(steps)])
        self.tau, self.n, self.steps = kernel.get("loss_scale", 0.0), n, steps

    def phi(self, loss):
        return 1 - np.exp(-np.maximum(loss, 0) / self.tau) if self.tau > 0 else np.ones_like(loss)

    def psi(self, w, loss, exponent):
        if exponent == 0:
            return np.ones(self.n)
        g = 1 - np.exp(-np.maximum(w @ loss, 0))
        return (g / g.mean()) ** exponent if g.mean() > 0 else np.ones(self.n)

    @staticmethod
    def weights(b):
        """w (examples x tests): each row the negative parts of the example's effects, summing to
        1 (every test example alike for an example that helps none), as the tool's Saturation."""
        h = np.maximum(0, -b)
        total = h.sum(1, keepdims=True)
        return np.where(total > 0, h / np.where(total > 0, total, 1), 1.0 / b.shape[1])

    def counts(self, batches, losses, w, exponent):
        c = np.zeros((self.steps, self.n))
        for s, batch in enumerate(batches):
            p = self.psi(w, losses[s], exponent)
            for i in batch:
                c[s, i] += p[i]
        return c

    def solve(self, runs, lam, w, exponent):
        """B (examples x tests) and v (steps x tests) of the step-demeaned ridge fit."""
        tests = runs[0][1].shape[1]
        cs = [self.counts(b, l, w, exponent) for _, l, b in runs]
        b_out, v_out = np.zeros((self.n, tests)), np.zeros((self.steps, tests))
        for z in range(tests):
            x = np.array([self.K @ (c * self.phi(l[:-1, z])[:, None]) for c, (_, l, _) in zip(cs, runs)])
            y = np.array([l[1:, z] - l[:-1, z] for _, l, _ in runs])
            xm, ym = x.mean(0), y.mean(0)
            xd, yd = (x - xm).reshape(-1, self.n), (y - ym).reshape(-1)
            b = np.linalg.solve(xd.T @ xd + lam * np.eye(self.n), xd.T @ yd)
            b_out[:, z], v_out[:, z] = b, ym - xm @ b
        return b_out, v_out

    def fit(self, runs, lam, exponent):
        """(B, v, w): with an exponent, w from a fit without psi, B refitted, w from that B."""
        b, v = self.solve(runs, lam, None, 0)
        if exponent == 0:
            return b, v, None
        b, v = self.solve(runs, lam, self.weights(b), exponent)
        return b, v, self.weights(b)

    def rollout(self, batches, start, b, v, w, exponent):
        loss, g, out = start.copy(), np.zeros((self.steps, len(start))), []
        for s, batch in enumerate(batches):
            p = self.psi(w, loss, exponent)
            g[s] = self.phi(loss) * sum((p[i] * b[i] for i in batch), np.zeros(len(start)))
            loss = loss + self.K[s, :s + 1] @ g[:s + 1] + v[min(s, len(v) - 1)]
            out.append(loss.copy())
        return np.array(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fit", required=True, help="the fit runs (native layout; counterfactuals --out keeps CF/fit-log)")
    parser.add_argument("--model", help="a lag-kernel model fitted on them, for its kernel and loss scale")
    parser.add_argument("--kernel", help='instead of --model, the kernel as JSON, e.g. {"starts":[0,1],"weights":[1,0],"loss_scale":0} '
                        "(an effect on its own step only: the last bin is open-ended)")
    parser.add_argument("--heldout", action="append", default=[], help="held-out runs to score (repeatable)")
    parser.add_argument("--exponents", default="0,1", help="psi exponents to compare (default 0,1)")
    parser.add_argument("--lambdas", default="0.1,0.3,1,3,10", help="ridge penalties to compare")
    parser.add_argument("--folds", type=int, default=4, help="cross-validation folds over the fit runs")
    args = parser.parse_args()
    if bool(args.model) == bool(args.kernel):
        sys.exit("give one of --model and --kernel")
    kernel = read_kernel(args.model) if args.model else json.loads(args.kernel)
    train, tests, runs = read_log(args.fit)
    steps = len(runs[0][2])
    if any(len(b) != steps for _, _, b in runs) or len(runs) < args.folds:
        sys.exit(f"{args.fit}: the probe needs runs of one length and at least --folds ({args.folds}) of them")
    # Each held-out log read and checked once, before the cross-validation: (folder, runs, real
    # final losses, run indices per order group; one group "" for runs not named GROUP-ORDER).
    heldout = []
    for folder in args.heldout:
        _, held_tests, held = read_log(folder, train)
        if held_tests != tests or any(len(bt) != steps for _, _, bt in held):
            sys.exit(f"{folder}: other test examples or run lengths than {args.fit}")
        groups = {}
        for k, (name, _, _) in enumerate(held):
            groups.setdefault(name.split("-")[0] if "-" in name else "", []).append(k)
        heldout.append((folder, held, np.array([l[-1] for _, l, _ in held]), groups))
    probe = Probe(kernel, steps, len(train))
    exponents = [float(x) for x in args.exponents.split(",")]
    lambdas = [float(x) for x in args.lambdas.split(",")]
    scores = {}
    print("exponent  lambda  cross-validated all-steps MSE")
    for e in exponents:
        for lam in lambdas:
            total, count = 0.0, 0
            for k in range(args.folds):
                train_runs = [r for j, r in enumerate(runs) if j % args.folds != k]
                b, v, w = probe.fit(train_runs, lam, e)
                for _, l, batches in (r for j, r in enumerate(runs) if j % args.folds == k):
                    total += ((probe.rollout(batches, l[0], b, v, w, e) - l[1:]) ** 2).mean()
                    count += 1
            scores[(e, lam)] = total / count
            print(f"{e:8g}  {lam:6g}  {scores[(e, lam)]:.6g}", flush=True)
    for e in exponents:
        lam = min((l for (x, l) in scores if x == e), key=lambda l: scores[(e, l)])
        b, v, w = probe.fit(runs, lam, e)
        line = f"exponent {e:g}: lambda {lam:g} chosen (cross-validated all-steps MSE {scores[(e, lam)]:.6g})"
        for folder, held, real, groups in heldout:
            final = np.array([probe.rollout(bt, l[0], b, v, w, e)[-1] for _, l, bt in held])
            rho = [c for ks in groups.values() if len(ks) > 2 for z in range(len(tests))
                   for c in [spearman(final[ks, z], real[ks, z])] if np.isfinite(c)]
            kind = "order-LDS" if "" not in groups else "LDS"
            line += f"; {os.path.basename(folder.rstrip('/'))} {kind} {np.mean(rho) if rho else float('nan'):.3f}"
        print(line)


if __name__ == "__main__":
    main()
