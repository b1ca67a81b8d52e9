#!/usr/bin/env bash
# Prints the SHA-256 of every model file the given simfluence binary writes for a fixed set of
# fits: the demo's models (`demo --out`), every ridge-family method on Examples/tiny-gptdynamics
# (lambda cross-validated, as by default) and every classic method on the demo's log with its
# gradient features. Used to check that a refactoring leaves every model byte-identical:
#   scripts/model-hashes.sh OLD-BINARY > old.txt; scripts/model-hashes.sh NEW-BINARY > new.txt; diff old.txt new.txt
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:?usage: model-hashes.sh PATH-TO-simfluence}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Relative paths only: models record the log path they were fitted from.
ln -s "$repo/Examples" "$work/Examples"
cd "$work"
"$bin" demo --out "$work/demo" > /dev/null 2>&1
for m in "$work"/demo/*.simfluence; do echo "$(sha256sum < "$m" | cut -c1-64)  demo/$(basename "$m")"; done
for method in linear additive multiplicative linear-pooled linear-time linear-rollout linear-carry; do
    "$bin" fit Examples/tiny-gptdynamics --method "$method" -o "$work/tiny-$method.simfluence" > /dev/null 2>&1
    echo "$(sha256sum < "$work/tiny-$method.simfluence" | cut -c1-64)  tiny-gptdynamics/$method"
done
for method in tracin-cp tracin-cp-scaled grad-dot grad-dot-scaled influence influence-scaled; do
    "$bin" fit demo/log --method "$method" -o "$work/digits-$method.simfluence" > /dev/null 2>&1
    echo "$(sha256sum < "$work/digits-$method.simfluence" | cut -c1-64)  demo-log/$method"
done
"$bin" fit Examples/tiny-gptdynamics --method linear --solver cg --lambda 0.1 -o "$work/tiny-linear-cg.simfluence" > /dev/null 2>&1
echo "$(sha256sum < "$work/tiny-linear-cg.simfluence" | cut -c1-64)  tiny-gptdynamics/linear --solver cg --lambda 0.1"
for k in 1 2; do
    "$bin" fit Examples/tiny-gptdynamics --method linear-carry --shard "$k/2" -o "$work/part$k.simfluence" > /dev/null 2>&1
done
"$bin" merge "$work/part1.simfluence" "$work/part2.simfluence" -o "$work/merged.simfluence" > /dev/null 2>&1
echo "$(sha256sum < "$work/merged.simfluence" | cut -c1-64)  tiny-gptdynamics/linear-carry sharded 2 ways and merged"
# Simulations of every tiny-gptdynamics model on a held-in curriculum (the rollout's output).
for method in linear additive multiplicative linear-pooled linear-time linear-rollout linear-carry; do
    out="$("$bin" simulate --model "$work/tiny-$method.simfluence" --curriculum Examples/tiny-gptdynamics/runs/run12/train_samples_id.json | sha256sum | cut -c1-64)"
    echo "$out  simulate tiny-gptdynamics/$method on run12"
done
