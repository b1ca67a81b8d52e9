"""Train a PyTorch MLP on the digits in many runs on CPU, log them for simfluence, then score
simulators of held-out runs against the curriculum-blind mean-run baseline.

    pip install "./python[torch]"                           # torch: the CPU build is enough
    python python/examples/digits_mlp_torch.py --out digits-torch-log
    python python/examples/digits_mlp_torch.py --out digits-torch-adam --optimizer adam --lr 0.003

A trainer the simulators were not written against: a 64-64-10 ReLU network (simfluence's built-in
digits workload is a 64-32-10 tanh network in Swift), pre-trained with Adam on 300 images, then
fine-tuned in every run from that same checkpoint on a random half of a pool of 200 other images,
in a random order, for two epochs of batches of 8, with torch's SGD with momentum 0.9 (or Adam).
After every step it records the loss of each of 100 test images (simfluence_log.torch.
evaluate_losses). The last --holdout runs are held out: `simfluence evaluate` fits each method on
the others and simulates the held-out ones from their own curricula; Spearman across runs says
how well it ranks which curriculum helps each test image. The data is the repository's copy of
the UCI digits (Sources/DigitsWorkload/Resources, CC BY 4.0).
The `simfluence` binary comes from --simfluence, $SIMFLUENCE_BIN or the PATH.
"""

import argparse
import json
import os
import random
import subprocess
import sys

import numpy as np
import torch

from simfluence_log import LogWriter
from simfluence_log.cli import find_binary
from simfluence_log.torch import evaluate_losses

DIGITS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Sources", "DigitsWorkload", "Resources",
                      "digits.csv")


def splits(seed, pool_size, test_size):
    """Pixels scaled to [0, 1], labels, and disjoint warm-up, pool and test rows."""
    table = np.loadtxt(DIGITS, delimiter=",")
    pixels = torch.tensor(table[:, :64] / 16.0, dtype=torch.float32)
    labels = torch.tensor(table[:, 64], dtype=torch.long)
    rows = list(range(len(table)))
    random.Random(seed).shuffle(rows)
    warmup, pool, test = rows[:300], rows[300:300 + pool_size], rows[300 + pool_size:300 + pool_size + test_size]
    return pixels, labels, warmup, pool, test


def pretrained(seed, pixels, labels, warmup):
    """The shared starting point of every run: five epochs of Adam on the warm-up rows."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = random.Random(seed)
    rows = warmup[:]
    for _ in range(5):
        rng.shuffle(rows)
        for k in range(0, len(rows), 32):
            batch = rows[k:k + 32]
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(pixels[batch]), labels[batch]).backward()
            optimizer.step()
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="digits-torch-log", help="the log folder (replaced if it holds a log)")
    parser.add_argument("--runs", type=int, default=80)
    parser.add_argument("--holdout", type=int, default=48, help="runs held out by evaluate (the last ones)")
    parser.add_argument("--pool", type=int, default=200, help="training images; each run uses half")
    parser.add_argument("--test", type=int, default=100, help="test images")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd", help="sgd: SGD with momentum 0.9")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--simfluence", help="the simfluence binary (default: $SIMFLUENCE_BIN, else the PATH)")
    args = parser.parse_args()
    torch.set_num_threads(1)            # one thread: the same losses on every machine and run

    pixels, labels, warmup, pool, test = splits(args.seed, args.pool, args.test)
    model = pretrained(args.seed, pixels, labels, warmup)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    test_batches = [(pixels[test[k:k + 50]], labels[test[k:k + 50]]) for k in range(0, len(test), 50)]
    metadata = {"model": "mlp 64-64-10 relu (torch)", "optimizer": args.optimizer, "lr": str(args.lr),
                "batch_size": str(args.batch)}
    with LogWriter(args.out, test, train_ids=pool, metadata=metadata, if_exists="overwrite") as log:
        for r in range(args.runs):
            rng = random.Random(1000 + r)
            subset = rng.sample(pool, len(pool) // 2)
            model.load_state_dict(start)
            if args.optimizer == "sgd":
                optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
            else:
                optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
            batches = []
            for _ in range(args.epochs):
                order = subset[:]
                rng.shuffle(order)
                batches += [order[k:k + args.batch] for k in range(0, len(order), args.batch)]
            with log.run("run%d" % (r + 1), evaluate_losses(model, test_batches, "classification")) as run:
                for batch in batches:
                    model.train()
                    optimizer.zero_grad()
                    torch.nn.functional.cross_entropy(model(pixels[batch]), labels[batch]).backward()
                    optimizer.step()
                    run.step(batch, evaluate_losses(model, test_batches, "classification"))
    print("wrote %d runs to %s" % (args.runs, args.out), file=sys.stderr)

    try:
        binary = find_binary(args.simfluence)
    except FileNotFoundError as e:
        sys.exit("%s\nThe log is written; score it later with: simfluence evaluate %s" % (e, args.out))
    # A held-out run may use a pool image no training run saw: --unseen mean.
    command = ["evaluate", args.out, "--method", "linear", "--method", "stack", "--holdout", str(args.holdout),
               "--unseen", "mean", "--quiet", "--json"]
    print("$ simfluence " + " ".join(command), flush=True)
    done = subprocess.run([binary] + command, check=True, capture_output=True, text=True)
    print("%-10s %14s %16s" % ("method", "all-steps MSE", "Spearman (runs)"))
    for row in json.loads(done.stdout)["results"]:
        runs = row["spearman_across_runs"]
        print("%-10s %14.5f %16s" % (row["method"], row["all_steps_mse"], "-" if runs is None else "%.3f" % runs))


if __name__ == "__main__":
    main()
