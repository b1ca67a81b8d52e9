#!/usr/bin/env python3
"""How much do the smallest changes of order move a built-in workload's final losses, and do the
simulators see it? A diagnostic of what limits LDS and order-LDS (README, issue 17).

    scripts/order-sensitivity.py --log CF/random-log --workload lm --model lm-stack.simfluence
    scripts/order-sensitivity.py --log CF/random-log --workload digits --optimizer sgd-momentum

LOG is a log of random runs of a built-in workload (`simfluence counterfactuals --out CF` keeps
one as CF/random-log). The script retrains its first run's curriculum as it is (which must
reproduce the logged losses exactly: otherwise the workload flags do not match the log), then
with one change each: two adjacent batches swapped at several steps, one example exchanged
between two adjacent batches, and, as a control, the examples within every batch permuted (the
same updates up to floating-point rounding). For each it prints the real change of the final
losses, and with --model the change the simulator predicts, as the root mean square over test
examples of the change divided by the test example's standard deviation of the final loss across
the log's runs; and the correlation across test examples of predicted and real changes.
Needs numpy and the simfluence binary (--simfluence, $SIMFLUENCE_BIN or the PATH).
"""

import argparse
import csv
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

import numpy as np


def losses(run_folder):
    return np.load(os.path.join(run_folder, "losses.npy"))


def batches(run_folder):
    with open(os.path.join(run_folder, "curriculum.jsonl")) as f:
        return [json.loads(line)["batch"] for line in f if line.strip()]


def final_predicted(binary, model, curriculum_path, test_ids, steps):
    out = subprocess.run([binary, "simulate", "--model", model, "--curriculum", curriculum_path],
                         check=True, capture_output=True, text=True).stdout
    last = {row["test_id"]: float(row["loss"]) for row in csv.DictReader(io.StringIO(out)) if int(row["step"]) == steps}
    return np.array([last[str(t)] for t in test_ids])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", required=True, help="a log of random runs of a built-in workload (native layout)")
    parser.add_argument("--workload", default="digits", help="the workload that made the log (train --workload)")
    parser.add_argument("--optimizer", help="digits only: the optimizer that made the log (train --optimizer)")
    parser.add_argument("--seed", default="0", help="the seed that made the log (train --seed)")
    parser.add_argument("--model", help="a simulator fitted on other runs of the workload, to compare")
    parser.add_argument("--simfluence", help="the simfluence binary (default: $SIMFLUENCE_BIN, else the PATH)")
    args = parser.parse_args()
    binary = args.simfluence or os.environ.get("SIMFLUENCE_BIN") or shutil.which("simfluence")
    if not binary:
        sys.exit("no simfluence binary: pass --simfluence or set SIMFLUENCE_BIN")

    header = json.load(open(os.path.join(args.log, "simfluence-log.json")))
    runs_folder = os.path.join(args.log, "runs")
    names = sorted((n for n in os.listdir(runs_folder) if not n.startswith(".")),
                   key=lambda n: (len(n), n))
    spread = np.array([losses(os.path.join(runs_folder, n))[-1] for n in names]).std(axis=0)
    reference = os.path.join(runs_folder, names[0])
    base = batches(reference)
    steps = len(base)

    def swapped(s):
        c = [list(b) for b in base]
        c[s], c[s + 1] = c[s + 1], c[s]
        return c

    def exchanged(s):
        c = [list(b) for b in base]
        c[s][0], c[s + 1][0] = c[s + 1][0], c[s][0]
        return c

    def permuted():
        rng, c = random.Random(3), [list(b) for b in base]
        for b in c:
            rng.shuffle(b)
        return c

    changes = [("unchanged", [list(b) for b in base])]
    changes += [("swap batches %d, %d" % (s + 1, s + 2), swapped(s)) for s in (steps // 20, steps // 3, 2 * steps // 3, steps - 10)]
    changes += [("exchange one example, steps %d, %d" % (s + 1, s + 2), exchanged(s)) for s in (steps // 10, 2 * steps // 3)]
    changes += [("permute within every batch", permuted())]

    work = tempfile.mkdtemp()
    try:
        real_reference = losses(reference)
        predicted_reference = None
        print("%-36s %14s %14s %12s" % ("change", "real rms / sd", "pred. rms / sd", "correlation"))
        for k, (label, curriculum) in enumerate(changes):
            path = os.path.join(work, "c%d.jsonl" % k)
            with open(path, "w") as f:
                for t, batch in enumerate(curriculum, 1):
                    f.write(json.dumps({"step": t, "batch": batch}) + "\n")
            command = [binary, "train", "--workload", args.workload, "--seed", args.seed, "-o", os.path.join(work, "log%d" % k),
                       "--curriculum", path, "--name", "c", "--no-gradients"]
            if args.optimizer:
                command += ["--optimizer", args.optimizer]
            subprocess.run(command, check=True, capture_output=True)
            real = losses(os.path.join(work, "log%d" % k, "runs", "c"))
            if k == 0 and not np.array_equal(real, real_reference):
                sys.exit("retraining %s does not reproduce its logged losses: pass the --workload, --optimizer and "
                         "--seed that made %s" % (reference, args.log))
            change = (real[-1] - real_reference[-1]) / spread
            row = "%-36s %14.4f" % (label, np.sqrt(np.mean(change ** 2)))
            if args.model:
                predicted = final_predicted(binary, args.model, path, header["test_ids"], steps)
                if predicted_reference is None:
                    predicted_reference = predicted
                guess = (predicted - predicted_reference) / spread
                corr = np.corrcoef(guess, change)[0, 1] if guess.std() > 0 and change.std() > 0 else float("nan")
                row += " %14.4f %12.3f" % (np.sqrt(np.mean(guess ** 2)), corr)
            print(row, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
